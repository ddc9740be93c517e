package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.spark.train.TrainingListener;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every zoo model, built from its config, learns in one distributed round: 2 workers × 5 Adam steps of 8 images,
 * averaged, lower the loss on those 80 images. The loss is measured in training mode (batch statistics, the same
 * dropout masks before and after) so that batch-norm models are judged by what the round optimized.
 */
class EveryModelLearnsIT extends SparkTestBase {

    /** Learnable images: class k brightens row band k, in every channel; ids 0..n-1. */
    static List<ImageRecord> images(int n, int channels, int size, long seed) {
        List<ImageRecord> gray = bands(n, size, 4, seed), out = new ArrayList<>();
        for (ImageRecord r : gray) {
            byte[] px = new byte[channels * size * size];
            for (int c = 0; c < channels; c++) System.arraycopy(r.pixels(), 0, px, c * size * size, size * size);
            out.add(new ImageRecord(r.id(), r.label(), px));
        }
        return out;
    }

    static double trainingModeLoss(ComputationGraph net, DataSet batch) {
        Nd4j.getRandom().setSeed(11); // same dropout masks for both measurements
        return net.score(batch, true);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource(delimiter = ';', value = {
            "{name: mlp, hidden: [32]}; [1, 28, 28]",
            "{name: mlp, hidden: [32, 16], batchNorm: true, dropout: 0.2, activation: {type: leakyrelu, alpha: 0.1}}; [1, 28, 28]",
            "lenet5; [1, 28, 28]",
            "{name: lenet5, variant: classic}; [1, 28, 28]",
            "{name: lenet5, batchNorm: true, dropout: 0.5}; [1, 28, 28]",
            "{name: resnet, depth: 18, small: true}; [3, 8, 8]",      // 8 px keeps the 11M-parameter net quick
            "{name: resnet, depth: 20}; [3, 32, 32]",
            "{name: resnet, depth: 50, small: true}; [3, 8, 8]",
            "{name: vgg, depth: 16, small: true}; [3, 16, 16]",
            "{name: vgg, depth: 11, small: true, batchNorm: true}; [1, 28, 28]",
            "{name: inception, small: true}; [3, 16, 16]"})
            // (unet learns per pixel: SegmentationIT trains it through the same trainer)
    void oneDistributedRoundLowersTheLoss(String model, String shape) {
        DeepshardConfig config = ConfigLoader.parse("""
                model: %s
                data: {train: /unused, inputShape: %s, numClasses: 4}
                training: {workers: 2, batchSize: 8, averagingFrequency: 5, epochs: 1, seed: 3,
                           optimizer: {type: adam, learningRate: 0.001}}
                """.formatted(model, shape), "every-model", List.of());
        int[] s = config.data().inputShape();
        List<ImageRecord> records = images(80, s[0], s[1], 4);
        var split = new LoadedSplit(sc.parallelize(records, 2).cache(), 80, List.of("a", "b", "c", "d"), Map.of(), NO_BAD);
        Normalizer norm = Normalization.fit(split.records(), "standardize", s[0]);
        DataSet all = Shard.of(0, records, config.data().exampleSize()).batch(0, 80, norm, 4);

        List<Integer> rounds = new ArrayList<>();
        DistributedTrainer.Result r = new DistributedTrainer(sc, config).fit(split, null, null, norm, new TrainingListener() {
            @Override public void onRound(int epoch, int round, int total, double loss) { rounds.add(round); }
        });
        assertThat(rounds).containsExactly(1);
        assertThat(r.history().get(0).examples()).isEqualTo(80);

        ComputationGraph initial = NetworkFactory.create(config.model(), config.data(), config.training());
        double before = trainingModeLoss(initial, all);
        ComputationGraph trained = NetworkFactory.create(config.model(), config.data(), config.training());
        r.state().loadInto(trained);
        double after = trainingModeLoss(trained, all);
        assertThat(after).as("loss before %s, after %s", before, after).isLessThan(before);
        assertThat(NetworkState.of(trained).params()).isNotEqualTo(NetworkState.of(initial).params());
    }
}
