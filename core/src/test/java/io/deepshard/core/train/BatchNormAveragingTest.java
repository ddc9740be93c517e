package io.deepshard.core.train;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.Shard;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Batch-norm running statistics travel with the parameters, so a round averages them like weights: two workers
 * that saw differently distributed data end in one set of statistics, their example-weighted mean.
 */
class BatchNormAveragingTest {

    static List<ImageRecord> records(int n, int base, long seed) {
        Random r = new Random(seed);
        var out = new ArrayList<ImageRecord>();
        for (int i = 0; i < n; i++) {
            byte[] px = new byte[20];
            for (int p = 0; p < 20; p++) px[p] = (byte) (base + r.nextInt(40));
            out.add(new ImageRecord(i, r.nextInt(3), px));
        }
        return out;
    }

    @Test
    void runningStatisticsAreTheExampleWeightedMeanOfTheWorkers() {
        DeepshardConfig c = ConfigLoader.parse("""
                model: {name: mlp, hidden: [6], batchNorm: true}
                data: {train: fashion-mnist:train, inputShape: [1, 4, 5], numClasses: 3}
                training: {seed: 2, batchSize: 8, averagingFrequency: 3, optimizer: {type: sgd, learningRate: 0.01}}
                """, "bn", List.of());
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        NetworkState start = NetworkState.of(net);
        // worker 0: 24 bright images (3 steps), worker 1: 16 dark ones (2 steps) -> different batch statistics
        Shard bright = Shard.of(0, records(24, 180, 1), 20), dark = Shard.of(1, records(16, 10, 2), 20);
        var recipe = new TrainingRecipe(net.getConfiguration().toJson(), Normalizer.fixed("scale", 1), 3, new BatchPlan(48, 2, 8, 3), 7L);

        ComputationGraph a = NetworkFactory.create(c.model(), c.data(), c.training()), b = NetworkFactory.create(c.model(), c.data(), c.training());
        start.loadInto(a);
        start.loadInto(b);
        RoundResult ra = Worker.train(a, recipe, bright, 0), rb = Worker.train(b, recipe, dark, 0);
        float[] meanA = a.getLayer("dense1_bn").getParam("mean").toFloatVector();
        float[] meanB = b.getLayer("dense1_bn").getParam("mean").toFloatVector();
        float[] stdA = a.getLayer("dense1_bn").getParam("log10stdev").toFloatVector();
        float[] stdB = b.getLayer("dense1_bn").getParam("log10stdev").toFloatVector();
        assertThat(ra.examples()).isEqualTo(24);
        assertThat(rb.examples()).isEqualTo(16);

        NetworkState avg = ra.merge(rb).average(start, 3, 0);
        avg.loadInto(net);
        float[] mean = net.getLayer("dense1_bn").getParam("mean").toFloatVector();
        float[] std = net.getLayer("dense1_bn").getParam("log10stdev").toFloatVector();
        for (int k = 0; k < 6; k++) {
            assertThat(meanA[k]).isNotCloseTo(meanB[k], within(1e-3f));        // the workers really disagree
            assertThat(mean[k]).isCloseTo((24 * meanA[k] + 16 * meanB[k]) / 40, within(1e-5f));
            assertThat(std[k]).isCloseTo((24 * stdA[k] + 16 * stdB[k]) / 40, within(1e-5f));
        }
        // and inference uses the averaged statistics: a different mean changes the output
        var x = bright.batch(0, 4, Normalizer.fixed("scale", 1), 3).getFeatures();
        var out = net.output(false, x)[0].dup();
        net.getLayer("dense1_bn").setParam("mean", net.getLayer("dense1_bn").getParam("mean").add(1));
        assertThat(net.output(false, x)[0]).isNotEqualTo(out);
    }
}
