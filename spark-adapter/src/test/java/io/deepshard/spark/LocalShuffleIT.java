package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DataSource;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.CheckpointStore;
import io.deepshard.core.transform.Augmentation;
import io.deepshard.core.transform.Augmenter;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.data.Sharder;
import io.deepshard.spark.data.SparkDatasets;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.spark.train.TrainingListener;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code training.shuffle: local} on real Spark: one deal per run, then each worker re-orders its own examples; it
 * learns about as well as the global re-deal on Fashion-MNIST, moves no data after the first deal, and resumes exactly.
 */
class LocalShuffleIT extends SparkTestBase {
    @TempDir static Path dir;

    @Test
    void laterEpochsKeepTheFirstDealsExamplesPerShardInNewOrders() {
        List<ImageRecord> records = bands(301, 8, 4, 5);
        Sharder sharder = new Sharder(sc.parallelize(records, 3), 4, 64);
        BatchPlan plan = new BatchPlan(301, 3, 8, 2);
        JavaRDD<Shard> dealt = sharder.shard(plan, 42, 0);
        Augmenter flip = new Augmenter(List.of(new Augmentation.Flip(0.5)), 42, 1, 8, 8);
        assertThat(sharder.shuffleLocally(dealt, 42, 0, null)).isSameAs(dealt);
        List<List<Long>> e0 = ShardingIT.idsPerShard(dealt);
        List<List<Long>> e0aug = ShardingIT.idsPerShard(sharder.shuffleLocally(dealt, 42, 0, flip));
        List<List<Long>> e1 = ShardingIT.idsPerShard(sharder.shuffleLocally(dealt, 42, 1, null));
        List<List<Long>> e2 = ShardingIT.idsPerShard(sharder.shuffleLocally(dealt, 42, 2, flip));
        assertThat(e0aug).isEqualTo(e0);                                  // epoch 0 is the global deal's epoch 0
        for (int s = 0; s < 3; s++) {
            assertThat(new HashSet<>(e1.get(s))).isEqualTo(new HashSet<>(e0.get(s)));
            assertThat(new HashSet<>(e2.get(s))).isEqualTo(new HashSet<>(e0.get(s)));
            assertThat(e1.get(s)).isNotEqualTo(e0.get(s));
            assertThat(e2.get(s)).isNotEqualTo(e1.get(s));
        }
        // the global re-deal of epoch 1 moves examples between shards; the local shuffle does not
        assertThat(new HashSet<>(ShardingIT.idsPerShard(sharder.shard(plan, 42, 1)).get(0))).isNotEqualTo(new HashSet<>(e0.get(0)));
        // augmented for its epoch, as the global deal augments: a flipped example's pixels follow from its id and epoch
        for (Shard s : sharder.shuffleLocally(dealt, 42, 2, flip).collect()) {
            for (int i = 0; i < s.size(); i++) {
                assertThat(s.record(i).pixels()).isEqualTo(flip.apply(records.get((int) s.id(i)), 2).pixels());
            }
        }
    }

    @Test
    void withOneWorkerTheLocalShuffleIsTheGlobalDealItself() throws Exception {
        List<ImageRecord> records = bands(157, 8, 4, 6);
        Sharder sharder = new Sharder(sc.parallelize(records, 3), 4, 64);
        BatchPlan plan = new BatchPlan(157, 1, 8, 2);
        JavaRDD<Shard> dealt = sharder.shard(plan, 7, 0);
        Augmenter flip = new Augmenter(List.of(new Augmentation.Flip(0.5)), 7, 1, 8, 8);
        for (int epoch = 1; epoch <= 3; epoch++) {
            Shard local = sharder.shuffleLocally(dealt, 7, epoch, flip).first(), global = sharder.shard(plan, 7, epoch, flip).first();
            assertThat(local.size()).isEqualTo(157);
            var key = new io.deepshard.core.data.SeededPermutation(157, 7, epoch);   // the deal's within-shard order
            assertThat(ShardingIT.idsPerShard(sharder.shard(plan, 7, epoch)).get(0))
                    .isEqualTo(records.stream().map(ImageRecord::id).sorted(java.util.Comparator.comparingLong(key::apply)).toList());
            for (int i = 0; i < 157; i++) {
                assertThat(local.id(i)).isEqualTo(global.id(i));
                assertThat(local.record(i).pixels()).isEqualTo(global.record(i).pixels());
            }
        }
        // so a one-worker run deals once, whatever training.shuffle says, and without a Spark shuffle (one task
        // reads the input partitions and sorts them)
        DeepshardConfig config = ConfigLoader.parse("""
                model: {name: mlp, hidden: [16]}
                data: {train: /unused, inputShape: [1, 8, 8], numClasses: 4}
                training: {workers: 1, batchSize: 16, epochs: 3, seed: 7}
                """, "one-worker", List.of());
        assertThat(config.training().shuffle()).isEqualTo("global");
        var train = new LoadedSplit(sc.parallelize(records, 3).cache(), records.size(), List.of("a", "b", "c", "d"), Map.of(), NO_BAD);
        Normalizer norm = Normalization.fit(train.records(), "standardize", 1);
        assertThat(shuffleStages(() -> new DistributedTrainer(sc, config).fit(train, null, norm, TrainingListener.NONE))).isZero();
    }

    /** Counts stages that wrote shuffle data while {@code run} runs. */
    private static int shuffleStages(Runnable run) throws java.util.concurrent.TimeoutException {
        AtomicInteger stages = new AtomicInteger();
        SparkListener listener = new SparkListener() {
            @Override public void onStageCompleted(SparkListenerStageCompleted e) {
                if (e.stageInfo().taskMetrics().shuffleWriteMetrics().bytesWritten() > 0) stages.incrementAndGet();
            }
        };
        sc.sc().addSparkListener(listener);
        try {
            run.run();
            sc.sc().listenerBus().waitUntilEmpty(60_000);
        } finally {
            sc.sc().removeSparkListener(listener);
        }
        return stages.get();
    }

    @Test
    void learnsFashionMnistAsWellAsTheGlobalDealWithOneShuffleInsteadOfOnePerEpoch() throws Exception {
        String yaml = """
                model: {name: mlp, hidden: [128]}
                data: {train: fashion-mnist:train, test: fashion-mnist:test, inputShape: [1, 28, 28], numClasses: 10}
                training: {workers: 2, batchSize: 32, averagingFrequency: 10, epochs: 4, seed: 8, shuffle: %s,
                           optimizer: {type: adam, learningRate: 0.002}}
                """;
        DeepshardConfig global = ConfigLoader.parse(yaml.formatted("global"), "global", List.of());
        DeepshardConfig local = ConfigLoader.parse(yaml.formatted("local"), "local", List.of());
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(System.out::println);
        LoadedSplit full = SparkDatasets.load(sc, DataSource.builtIn("fashion-mnist:train"), global.data(), 2, fetcher, "train", null);
        LoadedSplit fullTest = SparkDatasets.load(sc, DataSource.builtIn("fashion-mnist:test"), global.data(), 2, fetcher, "test", null);
        var train = new LoadedSplit(full.records().filter(r -> r.id() < 6000).cache(), 6000, full.classNames(), full.description(), full.badRecords());
        JavaRDD<Shard> test = Sharder.inOrder(fullTest.records().filter(r -> r.id() < 2000), 784);
        Normalizer norm = Normalization.fit(train.records(), "standardize", 1);
        test.count();

        DistributedTrainer.Result[] results = new DistributedTrainer.Result[2];
        int globalShuffles = shuffleStages(() -> results[0] = new DistributedTrainer(sc, global).fit(train, test, norm, TrainingListener.NONE));
        int localShuffles = shuffleStages(() -> results[1] = new DistributedTrainer(sc, local).fit(train, test, norm, TrainingListener.NONE));
        assertThat(globalShuffles).isEqualTo(4);                          // one deal per epoch
        assertThat(localShuffles).isEqualTo(1);                           // one deal per run
        double g = results[0].finalTest().accuracy(), l = results[1].finalTest().accuracy();
        System.out.printf("MLP, 6,000 Fashion-MNIST images, 2 workers, 4 epochs: test accuracy global %.4f, local %.4f%n", g, l);
        assertThat(g).isGreaterThan(0.78);
        assertThat(l).isGreaterThan(0.78);
        assertThat(Math.abs(g - l)).isLessThan(0.03);
        // epoch 1 is the same deal in the same order: the same first epoch, bit for bit
        assertThat(results[1].history().get(0).trainLoss()).isEqualTo(results[0].history().get(0).trainLoss());
        assertThat(results[1].history().get(1).trainLoss()).isNotEqualTo(results[0].history().get(1).trainLoss());
        assertThat(results[1].history()).allSatisfy(m -> assertThat(m.examples()).isEqualTo(6000));
    }

    @Test
    void aResumedRunEndsExactlyAsAnUninterruptedOne() {
        DeepshardConfig config = ConfigLoader.parse("""
                model: {name: mlp, hidden: [32, 16], dropout: 0.3}
                data: {train: /unused, inputShape: [1, 8, 8], numClasses: 4, augment: [{type: translate, pixels: 1}]}
                training: {workers: 2, batchSize: 16, averagingFrequency: 2, epochs: 3, seed: 11, checkpointEvery: 3,
                           shuffle: local, optimizer: {type: adam, learningRate: 0.01}}
                """, "resume-local", List.of());
        var all = bands(560, 8, 4, 3);
        LoadedSplit train = new LoadedSplit(sc.parallelize(all, 2).cache(), all.size(), List.of("a", "b", "c", "d"), Map.of(), NO_BAD);
        Normalizer norm = Normalization.fit(train.records(), "standardize", 1);
        JavaRDD<Shard> test = Sharder.inOrder(sc.parallelize(bands(200, 8, 4, 4), 2), 64);
        var reference = new DistributedTrainer(sc, config).fit(train, test, norm, TrainingListener.NONE);

        var store = new CheckpointStore(sc.hadoopConfiguration(), dir.resolve("local").toString());
        TrainingListener crash = new TrainingListener() {
            @Override public void onRound(int e, int r, int rounds, double loss) {
                if (e == 1 && r == 7) throw new IllegalStateException("simulated crash");   // inside epoch 2
            }
        };
        assertThatThrownBy(() -> new DistributedTrainer(sc, config).fit(train, null, test, norm, crash,
                new DistributedTrainer.Checkpointing(store, null))).hasMessageContaining("simulated crash");
        var found = store.latest();
        assertThat(found.checkpoint().progress().epoch()).isEqualTo(1);
        assertThat(found.checkpoint().progress().roundsDone()).isEqualTo(6);
        var resumed = new DistributedTrainer(sc, config).fit(train, null, test, found.checkpoint().normalizer(), TrainingListener.NONE,
                new DistributedTrainer.Checkpointing(store, found.checkpoint()));
        assertThat(resumed.state().params()).isEqualTo(reference.state().params());
        assertThat(resumed.state().updaterState()).isEqualTo(reference.state().updaterState());
        assertThat(resumed.finalTest().loss()).isEqualTo(reference.finalTest().loss());
        List<Double> a = new ArrayList<>(), b = new ArrayList<>();
        reference.history().forEach(m -> a.add(m.trainLoss()));
        resumed.history().forEach(m -> b.add(m.trainLoss()));
        assertThat(b).isEqualTo(a);
    }
}
