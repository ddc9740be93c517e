package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.train.RoundTiming;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.spark.train.TrainingListener;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Data that does not divide evenly: shards of different sizes, workers with nothing to do in a round, and datasets
 * smaller than workers × batch. Every example is trained on once per epoch, empty workers add nothing to the
 * example-weighted average, and nothing turns into NaN.
 */
class UnevenDataIT extends SparkTestBase {

    static DeepshardConfig config(int workers, int batch, int frequency, int epochs) {
        return ConfigLoader.parse("""
                model: {name: mlp, hidden: [8]}
                data: {train: /unused, inputShape: [1, 8, 8], numClasses: 4}
                training: {workers: %d, batchSize: %d, averagingFrequency: %d, epochs: %d, seed: 3,
                           optimizer: {type: adam, learningRate: 0.01}}
                """.formatted(workers, batch, frequency, epochs), "uneven", List.of());
    }

    static LoadedSplit split(List<ImageRecord> records) {
        return new LoadedSplit(sc.parallelize(records, 2).cache(), records.size(), List.of("a", "b", "c", "d"), Map.of(), NO_BAD);
    }

    record Rounds(DistributedTrainer.Result result, List<Long> examples) {}

    static Rounds train(DeepshardConfig config, List<ImageRecord> records) {
        var examples = new ArrayList<Long>();
        var result = new DistributedTrainer(sc, config).fit(split(records), null, Normalizer.fixed("scale", 1), new TrainingListener() {
            @Override public void onRoundTiming(int epoch, int round, double loss, long n, RoundTiming t) { examples.add(n); }
        });
        return new Rounds(result, examples);
    }

    @Test
    void aWorkerWithoutExamplesInARoundAddsNothing() {
        // 7 examples on 2 workers, batch 1: shards of 4 and 3, so 4 steps each; the 3-example shard's first step is
        // empty (mini-batches of 0, 1, 1, 1): round 1 averages worker 0 alone, the others both workers
        Rounds r = train(config(2, 1, 1, 2), bands(7, 8, 4, 1));
        assertThat(r.examples()).containsExactly(1L, 2L, 2L, 2L, 1L, 2L, 2L, 2L);
        assertThat(r.result().history()).allSatisfy(m -> {
            assertThat(m.examples()).isEqualTo(7);
            assertThat(m.trainLoss()).isFinite();
        });
        float[] p = r.result().state().params();
        assertThat(p).doesNotContain(Float.NaN);
    }

    @Test
    void aDatasetSmallerThanWorkersTimesBatchTrains() {
        // 3 examples, 4 workers, batch 16: one example for three workers, nothing for the fourth, one step per epoch
        Rounds r = train(config(4, 16, 5, 3), bands(3, 8, 4, 2));
        assertThat(r.result().workers()).isEqualTo(4);
        assertThat(r.examples()).containsExactly(3L, 3L, 3L);
        assertThat(r.result().history()).allSatisfy(m -> assertThat(m.trainLoss()).isFinite());
        assertThat(r.result().state().iteration()).isEqualTo(3);   // one step per epoch, all workers in step
        float[] p = r.result().state().params();
        for (float v : p) assertThat(Float.isFinite(v)).isTrue();
        // training moved the parameters away from the initialization
        float[] init = io.deepshard.core.train.NetworkState.of(io.deepshard.core.zoo.NetworkFactory.create(
                config(4, 16, 5, 3).model(), config(4, 16, 5, 3).data(), config(4, 16, 5, 3).training())).params();
        assertThat(Arrays.equals(p, init)).isFalse();
    }

    @Test
    void unevenShardsUseEveryExampleOncePerEpoch() {
        // 101 examples on 3 workers (34/34/33), batch 8: 5 steps, rounds of 2, 2 and 1 steps
        Rounds r = train(config(3, 8, 2, 1), bands(101, 8, 4, 3));
        assertThat(r.examples()).hasSize(3);
        assertThat(r.examples().stream().mapToLong(Long::longValue).sum()).isEqualTo(101);
        assertThat(r.result().history().get(0).examples()).isEqualTo(101);
    }
}
