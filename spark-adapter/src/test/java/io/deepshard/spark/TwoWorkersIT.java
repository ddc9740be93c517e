package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DataSource;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.EvalStats;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.TrainingRecipe;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.data.Sharder;
import io.deepshard.spark.data.SparkDatasets;
import io.deepshard.spark.train.DistributedEvaluator;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.spark.train.TrainingListener;
import org.apache.spark.api.java.JavaRDD;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Two workers on local[2] learn from a real Fashion-MNIST subset, with our averaging and with the stock DL4J trainer. */
class TwoWorkersIT extends SparkTestBase {

    @ParameterizedTest
    @ValueSource(strings = {"averaging", "dl4j-paramavg"})
    void twoWorkersLowerTheLossOnAFashionMnistSubset(String strategy) {
        DeepshardConfig config = ConfigLoader.parse("""
                model: lenet5
                data: {train: fashion-mnist:train, test: fashion-mnist:test, inputShape: [1, 28, 28], numClasses: 10}
                training: {strategy: %s, workers: 2, batchSize: 32, averagingFrequency: 5, epochs: 2, seed: 3,
                           optimizer: {type: nesterov, learningRate: 0.01, momentum: 0.9}}
                """.formatted(strategy), "two-workers", List.of());
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(System.out::println);
        LoadedSplit full = SparkDatasets.load(sc, DataSource.builtIn("fashion-mnist:train"), config.data(), 2, fetcher, "train", null);
        LoadedSplit fullTest = SparkDatasets.load(sc, DataSource.builtIn("fashion-mnist:test"), config.data(), 2, fetcher, "test", null);
        assertThat(full.count()).isEqualTo(60_000);
        // subsets keep ids 0..n-1
        var train = new LoadedSplit(full.records().filter(r -> r.id() < 3000).cache(), 3000, full.classNames(), full.description(), full.badRecords());
        JavaRDD<Shard> test = Sharder.inOrder(fullTest.records().filter(r -> r.id() < 1000), 784);
        Normalizer norm = Normalization.fit(train.records(), "standardize", 1);

        var recipe = new TrainingRecipe(NetworkFactory.configuration(config.model(), config.data(), config.training()).toJson(),
                norm, 10, new BatchPlan(3000, 2, 32, 5), config.training().seed());
        EvalStats before = DistributedEvaluator.evaluate(sc, test,
                recipe, NetworkState.of(NetworkFactory.create(config.model(), config.data(), config.training())));

        List<Integer> rounds = new ArrayList<>();
        DistributedTrainer.Result result = new DistributedTrainer(sc, config).fit(train, test, norm, new TrainingListener() {
            @Override public void onRound(int epoch, int round, int total, double loss) { rounds.add(round); }
        });

        assertThat(result.workers()).isEqualTo(2);
        List<EpochMetrics> h = result.history();
        assertThat(h).hasSize(2);
        assertThat(before.loss()).isGreaterThan(2.0);
        assertThat(h.get(1).testLoss()).isLessThan(before.loss() * 0.5);
        assertThat(h.get(1).testAccuracy()).isGreaterThan(0.65);
        assertThat(h.get(0).examples()).isEqualTo(3000);
        // ours: 1500 per worker / 32 = 47 steps, every 5 -> 10 rounds; DL4J's: 3000 / (2 x 32 x 5) -> 10 chunks
        assertThat(h.get(0).rounds()).isEqualTo(10);
        if (strategy.equals("averaging")) {
            // our train loss is the mean over every mini-batch of the epoch (dl4j-paramavg reports only its last score)
            assertThat(h.get(1).trainLoss()).isLessThan(h.get(0).trainLoss());
            assertThat(rounds).hasSize(20);
            assertThat(result.state().iteration()).isEqualTo(94);
        }
    }
}
