package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.SeededPermutation;
import io.deepshard.core.data.Shard;
import io.deepshard.core.engine.OneDnnNet;
import io.deepshard.core.train.NetworkPool;
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

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The field's best test (from DL4J's scale-out suite): one worker averaging after every mini-batch on Spark must give the
 * same parameters <em>and updater state</em> as plain single-machine DL4J training on the same mini-batches.
 * Anything lost in the round trip (updater state, iteration counter for Adam's bias correction, normalization,
 * batch order) breaks it.
 */
class EquivalenceIT extends SparkTestBase {

    @ParameterizedTest(name = "{0} {1}, executor network pool {2}")
    @CsvSource({"lenet5, nesterov, off", "lenet5, adam, off", "'{name: mlp, hidden: [32, 16]}', adam, off",
                "'{name: mlp, hidden: [32]}', sgd, off", "lenet5, nesterov, on"})
    void oneWorkerAveragingEveryStepEqualsSingleMachineTraining(String model, String optimizer, String pool) {
        // pool off: every task builds a fresh network, so the whole state must arrive with the broadcast
        System.setProperty("deepshard.networkPool.disabled", String.valueOf(pool.equals("off")));
        try {
            check(model, optimizer);
        } finally {
            System.clearProperty("deepshard.networkPool.disabled");
        }
    }

    void check(String model, String optimizer) {
        DeepshardConfig config = ConfigLoader.parse("""
                model: %s
                data: {train: /x/train-images-idx3-ubyte, inputShape: [1, 28, 28], numClasses: 4}
                training: {workers: 1, averagingFrequency: 1, batchSize: 16, epochs: 2, seed: 11, l2: 1.0e-4,
                           optimizer: {type: %s, learningRate: 0.02}}
                """.formatted(model, optimizer), "equivalence", List.of());
        List<ImageRecord> records = bands(150, 28, 4, 5);
        var split = new LoadedSplit(sc.parallelize(records, 3).cache(), records.size(), List.of("a", "b", "c", "d"), Map.of(), NO_BAD);
        Normalizer norm = Normalization.fit(split.records(), "standardize", 1);

        DistributedTrainer.Result distributed = new DistributedTrainer(sc, config).fit(split, null, norm, TrainingListener.NONE);

        // Reference: one network, fit on the same mini-batches in the same order, no Spark, with the training step
        // the workers use (DL4J's fit, or the direct oneDNN engine for the networks it runs: the engines agree only
        // to float rounding, which Adam amplifies to 1e-4 in 20 steps, as much as a 1e-7 change of the start moves
        // DL4J itself; OneDnnNetTest and EngineTest hold the engines to each other)
        ComputationGraph net = NetworkFactory.create(config.model(), config.data(), config.training());
        OneDnnNet direct = NetworkPool.directEngine(net, config.training().engine());
        BatchPlan plan = new BatchPlan(records.size(), 1, 16, 1);
        for (int epoch = 0; epoch < 2; epoch++) {
            SeededPermutation perm = new SeededPermutation(records.size(), 11, epoch);
            List<ImageRecord> order = new ArrayList<>(records);
            order.sort(Comparator.comparingLong(r -> perm.apply(r.id())));
            Shard shard = Shard.of(0, order, 784);
            for (int step = 0; step < plan.stepsPerEpoch(); step++) {
                DataSet batch = shard.batch(plan.batchStart(shard.size(), step), plan.batchStart(shard.size(), step + 1), norm, 4);
                if (direct != null) direct.fit(net, batch.getFeatures(), batch.getLabels());
                else net.fit(batch);
            }
        }
        NetworkPool.forget(net);
        NetworkState expected = NetworkState.of(net);
        NetworkState actual = distributed.state();

        assertThat(actual.iteration()).isEqualTo(expected.iteration()).isEqualTo(2L * plan.stepsPerEpoch());
        assertThat(maxAbsDiff(actual.params(), expected.params())).isLessThan(1e-5);
        assertThat(maxAbsDiff(actual.updaterState(), expected.updaterState())).isLessThan(1e-5);
        // and training moved the parameters well beyond that tolerance (the comparison is not vacuous)
        NetworkState initial = NetworkState.of(NetworkFactory.create(config.model(), config.data(), config.training()));
        assertThat(maxAbsDiff(initial.params(), expected.params())).isGreaterThan(1e-2);
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
