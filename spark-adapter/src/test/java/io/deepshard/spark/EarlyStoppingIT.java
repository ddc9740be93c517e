package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.spark.data.Holdout;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.data.Sharder;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.spark.train.TrainingListener;
import org.apache.spark.api.java.JavaRDD;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** The validation hold-out and early stopping, through the real trainer on local Spark. */
class EarlyStoppingIT extends SparkTestBase {

    static LoadedSplit split(List<ImageRecord> records) {
        return new LoadedSplit(sc.parallelize(records, 2).cache(), records.size(), List.of("a", "b", "c", "d"), Map.of(), NO_BAD);
    }

    static Map<Integer, Long> perClass(LoadedSplit s) {
        return new TreeMap<>(s.records().map(ImageRecord::label).countByValue());
    }

    @Test
    void holdoutIsStratifiedDisjointAndSeeded() {
        List<ImageRecord> all = bands(1000, 8, 4, 1);
        Map<Integer, Long> whole = perClass(split(all));
        LoadedSplit[] a = Holdout.split(sc, split(all), 0.2, 7);
        assertThat(a[0].count() + a[1].count()).isEqualTo(1000);
        Map<Integer, Long> val = perClass(a[1]);
        whole.forEach((c, n) -> assertThat(val.get(c)).as("class %d", c).isEqualTo(Math.round(0.2 * n)));
        Set<Long> trainIds = new HashSet<>(a[0].records().map(ImageRecord::id).collect());
        List<Long> valIds = a[1].records().map(ImageRecord::id).collect();
        assertThat(valIds).doesNotContainAnyElementsOf(trainIds);
        assertThat(Holdout.split(sc, split(all), 0.2, 7)[1].records().map(ImageRecord::id).collect()).isEqualTo(valIds);
        assertThat(Holdout.split(sc, split(all), 0.2, 8)[1].records().map(ImageRecord::id).collect()).isNotEqualTo(valIds);
    }

    DeepshardConfig config(String earlyStopping, int epochs) {
        return ConfigLoader.parse("""
                model: {name: mlp, hidden: [16]}
                data: {train: /unused, inputShape: [1, 8, 8], numClasses: 4, validationFraction: 0.2}
                training: {workers: 2, batchSize: 16, averagingFrequency: 4, epochs: %d, seed: 5,
                           optimizer: {type: adam, learningRate: 0.01}, earlyStopping: %s}
                """.formatted(epochs, earlyStopping), "early", List.of());
    }

    record Run(DistributedTrainer.Result result, List<Integer> bestEpochs, List<float[]> bestParams, List<String> stops) {}

    Run train(DeepshardConfig config) {
        LoadedSplit[] parts = Holdout.split(sc, split(bands(600, 8, 4, 2)), 0.2, 5);
        Normalizer norm = Normalization.fit(parts[0].records(), "standardize", 1);
        JavaRDD<Shard> val = Sharder.inOrder(parts[1].records(), 64);
        var best = new ArrayList<Integer>();
        var params = new ArrayList<float[]>();
        var stops = new ArrayList<String>();
        var result = new DistributedTrainer(sc, config).fit(parts[0], val, null, norm, new TrainingListener() {
            @Override public void onBest(EpochMetrics m, ComputationGraph net) {
                best.add(m.epoch());
                params.add(net.params().toFloatVector());
            }

            @Override public void onEarlyStop(int epoch, int bestEpoch, double bestValue, io.deepshard.core.config.EarlyStoppingSpec spec) {
                stops.add(epoch + "/" + bestEpoch);
            }
        });
        return new Run(result, best, params, stops);
    }

    @Test
    void stopsAfterPatienceAndRestoresTheCheckpointedBest() {
        // minDelta 10 on a loss near 1: only the first epoch counts as an improvement -> stop after epoch 1 + 2
        Run run = train(config("{patience: 2, minDelta: 10}", 10));
        DistributedTrainer.Result r = run.result();
        assertThat(r.history()).hasSize(3);
        assertThat(r.stoppedEarly()).isTrue();
        assertThat(r.bestEpoch()).isEqualTo(1);
        assertThat(run.bestEpochs()).containsExactly(1);
        assertThat(run.stops()).containsExactly("3/1");
        assertThat(r.history().get(0).best()).isTrue();
        assertThat(r.history().get(2).best()).isFalse();
        // the returned model is epoch 1's, exactly as checkpointed, and its validation numbers are epoch 1's
        assertThat(r.state().params()).isEqualTo(run.bestParams().get(0));
        assertThat(r.network().params().toFloatVector()).isEqualTo(run.bestParams().get(0));
        assertThat(r.finalValidation().loss()).isEqualTo(r.history().get(0).validationLoss());
    }

    @Test
    void withoutRestoreTheLastEpochIsKeptAndAnImprovingRunIsNotStopped() {
        Run last = train(config("{patience: 1, minDelta: 10, restoreBest: false}", 10));
        assertThat(last.result().history()).hasSize(2);
        assertThat(last.result().bestEpoch()).isEqualTo(2);
        assertThat(last.result().state().params()).isNotEqualTo(last.bestParams().get(0));
        NetworkState s = last.result().state();
        assertThat(s.epoch()).isEqualTo(2);

        // on learnable data with a modest rate the validation loss falls every epoch: no stop, every epoch a best
        Run improving = train(config("{patience: 1}", 3));
        assertThat(improving.result().stoppedEarly()).isFalse();
        assertThat(improving.result().history()).hasSize(3);
        assertThat(improving.bestEpochs()).containsExactly(1, 2, 3);
        assertThat(improving.result().history().get(2).validationAccuracy()).isGreaterThan(0.9);
    }
}
