package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.Checkpoint;
import io.deepshard.core.train.CheckpointException;
import io.deepshard.core.train.CheckpointStore;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.spark.data.Holdout;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.data.Sharder;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.spark.train.TrainingListener;
import org.apache.spark.api.java.JavaRDD;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Checkpoint and resume through the real trainer on local Spark: a run that crashes and continues from its newest
 * checkpoint ends with exactly the parameters, updater state and metrics of a run that never stopped — with dropout,
 * batch norm, Adam, augmentation and early stopping in play, resumed both inside an epoch and at an epoch boundary.
 */
class ResumeIT extends SparkTestBase {
    @TempDir static Path dir;
    static LoadedSplit train;
    static JavaRDD<Shard> validation, test;
    static Normalizer normalizer;
    static DistributedTrainer.Result reference;

    static DeepshardConfig config(String... overrides) {
        // 560 training examples / 2 workers / batch 16 = 18 steps = 9 rounds per epoch; a checkpoint every 3 rounds
        return ConfigLoader.parse("""
                model: {name: mlp, hidden: [32, 16], batchNorm: true, dropout: 0.3}
                data: {train: /unused, inputShape: [1, 8, 8], numClasses: 4, validationFraction: 0.2,
                       augment: [{type: translate, pixels: 1}]}
                training: {workers: 2, batchSize: 16, averagingFrequency: 2, epochs: 3, seed: 11, checkpointEvery: 3,
                           optimizer: {type: adam, learningRate: 0.01}, schedule: {type: cosine},
                           earlyStopping: {patience: 5, minDelta: 0.02}}
                """, "resume", List.of(overrides));
    }

    @BeforeAll
    static void data() {
        var all = bands(700, 8, 4, 3);
        LoadedSplit whole = new LoadedSplit(sc.parallelize(all, 2).cache(), all.size(), List.of("a", "b", "c", "d"), Map.of(), NO_BAD);
        LoadedSplit[] parts = Holdout.split(sc, whole, 0.2, 11);
        train = parts[0];
        normalizer = Normalization.fit(train.records(), "standardize", 1);
        validation = Sharder.inOrder(parts[1].records(), 64);
        test = Sharder.inOrder(sc.parallelize(bands(200, 8, 4, 4), 2), 64);
        var store = new CheckpointStore(sc.hadoopConfiguration(), dir.resolve("reference").toString());
        reference = new DistributedTrainer(sc, config()).fit(train, validation, test, normalizer, TrainingListener.NONE,
                new DistributedTrainer.Checkpointing(store, null));
    }

    /** Crashes (like a killed driver) when round {@code round} of epoch {@code epoch} (both 1-based) has been averaged. */
    static TrainingListener crashAt(int epoch, int round) {
        return new TrainingListener() {
            @Override public void onRound(int e, int r, int rounds, double loss) {
                if (e + 1 == epoch && r == round) throw new IllegalStateException("simulated crash");
            }
        };
    }

    /** Runs until the crash, then resumes from the newest checkpoint in a fresh trainer; returns the resumed result. */
    static DistributedTrainer.Result crashAndResume(String name, int epoch, int round, String expectedCheckpoint) {
        var store = new CheckpointStore(sc.hadoopConfiguration(), dir.resolve(name).toString());
        assertThatThrownBy(() -> new DistributedTrainer(sc, config()).fit(train, validation, test, normalizer,
                crashAt(epoch, round), new DistributedTrainer.Checkpointing(store, null))).hasMessageContaining("simulated crash");
        CheckpointStore.Found found = store.latest();
        assertThat(found.name()).isEqualTo(expectedCheckpoint);
        assertThat(store.names()).hasSize(2);                     // checkpointKeep defaults to 2
        var positions = new ArrayList<String>();
        TrainingListener track = new TrainingListener() {
            @Override public void onCheckpoint(String position, String path) { positions.add(position); }
        };
        var resumed = new DistributedTrainer(sc, config()).fit(train, validation, test, found.checkpoint().normalizer(), track,
                new DistributedTrainer.Checkpointing(store, found.checkpoint()));
        assertThat(positions).isNotEmpty();                       // the resumed run goes on checkpointing
        return resumed;
    }

    static void assertSameRun(DistributedTrainer.Result resumed) {
        assertThat(resumed.state().params()).isEqualTo(reference.state().params());
        assertThat(resumed.state().updaterState()).isEqualTo(reference.state().updaterState());
        assertThat(resumed.state().iteration()).isEqualTo(reference.state().iteration());
        assertThat(resumed.history()).hasSameSizeAs(reference.history());
        for (int i = 0; i < reference.history().size(); i++) {
            EpochMetrics a = reference.history().get(i), b = resumed.history().get(i);
            assertThat(b.trainLoss()).as("epoch %d train loss", i + 1).isEqualTo(a.trainLoss());
            assertThat(b.validationLoss()).as("epoch %d validation loss", i + 1).isEqualTo(a.validationLoss());
            assertThat(b.testAccuracy()).as("epoch %d test accuracy", i + 1).isEqualTo(a.testAccuracy());
            assertThat(b.examples()).isEqualTo(a.examples());
            assertThat(b.best()).isEqualTo(a.best());
        }
        assertThat(resumed.bestEpoch()).isEqualTo(reference.bestEpoch());
        assertThat(resumed.finalTest().loss()).isEqualTo(reference.finalTest().loss());
        assertThat(resumed.finalValidation().loss()).isEqualTo(reference.finalValidation().loss());
    }

    @Test
    void referenceRunLearnsAndCheckpoints() {
        assertThat(reference.history()).hasSize(3);
        assertThat(reference.finalTest().accuracy()).isGreaterThan(0.8);
        // the last epoch end and the mid-epoch checkpoint before it (global round 24 = epoch 3 after round 6)
        assertThat(new CheckpointStore(sc.hadoopConfiguration(), dir.resolve("reference").toString()).names())
                .containsExactly("ckpt-e0002-r000006", "ckpt-e0003-r000000");
    }

    @Test
    void resumingInsideAnEpochGivesTheUninterruptedResult() {
        // crash after round 6 of epoch 2; the newest checkpoint is global round 12 = epoch 2 after round 3
        assertSameRun(crashAndResume("mid-epoch", 2, 6, "ckpt-e0001-r000003"));
    }

    @Test
    void resumingAtAnEpochBoundaryGivesTheUninterruptedResult() {
        // crash after round 1 of epoch 3: global round 19 is no multiple of 3, so the newest is epoch 2's end
        assertSameRun(crashAndResume("boundary", 3, 1, "ckpt-e0002-r000000"));
    }

    @Test
    void aCheckpointOfADifferentRunIsRefusedNamingTheDifference() {
        var store = new CheckpointStore(sc.hadoopConfiguration(), dir.resolve("reference").toString());
        Checkpoint c = store.latest().checkpoint();
        assertThatThrownBy(() -> new DistributedTrainer(sc, config("training.l2=0.001")).fit(train, validation, test, normalizer,
                TrainingListener.NONE, new DistributedTrainer.Checkpointing(store, c)))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("training.l2: checkpoint 0.0, now 0.001");
        assertThatThrownBy(() -> new DistributedTrainer(sc, config("training.workers=1")).fit(train, validation, test, normalizer,
                TrainingListener.NONE, new DistributedTrainer.Checkpointing(store, c)))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("training.workers: checkpoint 2, now 1");
    }
}
