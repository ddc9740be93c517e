package io.deepshard.core.train;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.transform.Normalizer;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Checkpoints on the local Hadoop file system: exact round trip, atomic directories, retention, damage detection. */
class CheckpointStoreTest {
    @TempDir Path run;
    final Configuration conf = new Configuration();

    static float[] floats(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        a[0] = Float.MIN_VALUE;     // bit patterns that must survive: denormal, -0, extremes
        if (n > 3) { a[1] = -0.0f; a[2] = Float.MAX_VALUE; }
        return a;
    }

    static Checkpoint checkpoint(int epoch, int roundsDone, boolean best) {
        Random r = new Random(epoch * 100L + roundsDone);
        var state = new NetworkState(floats(r, 70_001), floats(r, 140_002), 1234L + roundsDone, epoch);
        var bestState = best ? new NetworkState(floats(r, 70_001), floats(r, 140_002), 99, 1) : null;
        var history = List.of(new EpochMetrics(1, 0.5, Double.NaN, Double.NaN, 0.4, 0.8, 600, 13, 1.5, 400, 2.5, false, null, null, 0.01),
                new EpochMetrics(2, 0.3, 0.35, 0.85, Double.NaN, Double.NaN, 600, 13, 1.4, 430, 4.1, true, 0.75,
                        new RoundTiming(13, 1.3, 1.0, 0.1, 0.2), null));
        SortedMap<String, String> settings = new TreeMap<>(java.util.Map.of("training.seed", "5", "model.name", "mlp"));
        return new Checkpoint(state, bestState, new Normalizer("standardize", new float[] {0.25f}, new float[] {0.5f}),
                new Checkpoint.Progress(epoch, roundsDone, 320, 123.25, 0.75, new RoundTiming(3, 0.7, 0.5, 0.1, 0.1), 2, 600,
                        history, settings));
    }

    @Test
    void roundTripIsBitExactIncludingHistoryAndBestState() throws Exception {
        var store = new CheckpointStore(conf, run.toString());
        Checkpoint c = checkpoint(2, 7, true);
        store.save(c, 3);
        Checkpoint back = store.read("ckpt-e0002-r000007");
        assertThat(back.state().params()).isEqualTo(c.state().params());
        assertThat(back.state().updaterState()).isEqualTo(c.state().updaterState());
        assertThat(back.state().iteration()).isEqualTo(1241L);
        assertThat(back.state().epoch()).isEqualTo(2);
        assertThat(back.best().params()).isEqualTo(c.best().params());
        assertThat(back.best().updaterState()).isEqualTo(c.best().updaterState());
        assertThat(back.best().iteration()).isEqualTo(99L);
        assertThat(back.progress()).isEqualTo(c.progress());            // NaNs and the null meanIoU included
        assertThat(back.normalizer().mean()).containsExactly(0.25f);
        // no temporary directory left behind
        try (var files = Files.list(run.resolve("checkpoints"))) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("ckpt-e0002-r000007");
        }
    }

    @Test
    void keepsTheNewestNAndLatestSkipsDamagedOnes() throws Exception {
        var store = new CheckpointStore(conf, run.toString());
        store.save(checkpoint(1, 0, false), 2);
        store.save(checkpoint(1, 20, false), 2);
        store.save(checkpoint(2, 0, false), 2);
        store.save(checkpoint(2, 10, false), 2);
        assertThat(store.names()).containsExactly("ckpt-e0002-r000000", "ckpt-e0002-r000010");
        assertThat(store.latest().checkpoint().progress().roundsDone()).isEqualTo(10);

        // flip one byte in the middle of the newest state file: the checksum catches it, the previous one is used
        Path state = run.resolve("checkpoints/ckpt-e0002-r000010/state.bin");
        try (var f = new RandomAccessFile(state.toFile(), "rw")) {
            f.seek(f.length() / 2);
            int b = f.read();
            f.seek(f.length() / 2);
            f.write(b ^ 0x10);
        }
        CheckpointStore.Found found = store.latest();
        assertThat(found.name()).isEqualTo("ckpt-e0002-r000000");
        assertThat(found.rejected()).singleElement().satisfies(r -> {
            assertThat(r.name()).isEqualTo("ckpt-e0002-r000010");
            assertThat(r.reason()).contains("state.bin is damaged: SHA-256");
        });

        // truncate the other one too: nothing usable, every reason reported
        Path other = run.resolve("checkpoints/ckpt-e0002-r000000/state.bin");
        try (var f = new RandomAccessFile(other.toFile(), "rw")) { f.setLength(f.length() - 100); }
        found = store.latest();
        assertThat(found.checkpoint()).isNull();
        assertThat(found.rejected()).extracting(CheckpointStore.Rejected::reason)
                .anySatisfy(reason -> assertThat(reason).contains("truncated"));
    }

    @Test
    void anInterruptedWriteIsInvisibleAndCleanedUp() throws Exception {
        var store = new CheckpointStore(conf, run.toString());
        store.save(checkpoint(1, 0, false), 2);
        // what a crash in the middle of a write leaves: a hidden temporary directory with part of the files
        Path tmp = Files.createDirectories(run.resolve("checkpoints/.ckpt-e0001-r000005.tmp-dead"));
        Files.write(tmp.resolve("state.bin"), new byte[] {1, 2, 3});
        // and a checkpoint directory without meta.json (a file system without atomic rename, say)
        Files.createDirectories(run.resolve("checkpoints/ckpt-e0001-r000009"));
        assertThat(store.names()).containsExactly("ckpt-e0001-r000000", "ckpt-e0001-r000009");
        CheckpointStore.Found found = store.latest();
        assertThat(found.name()).isEqualTo("ckpt-e0001-r000000");
        assertThat(found.rejected()).singleElement().extracting(CheckpointStore.Rejected::reason).asString().contains("meta.json is missing");
        store.save(checkpoint(2, 0, false), 2);
        assertThat(Files.exists(tmp)).isFalse();
    }

    @Test
    void differencesNameEveryChangedKey() {
        DeepshardConfig a = ConfigLoader.parse("""
                model: {name: mlp, hidden: [16]}
                data: {train: /d, inputShape: [1, 8, 8], numClasses: 2}
                training: {epochs: 3, optimizer: {type: adam, learningRate: 0.01}}
                output: /runs/a
                """, "a.yaml", List.of());
        DeepshardConfig b = ConfigLoader.parse("""
                model: {name: mlp, hidden: [16]}
                data: {train: /d, inputShape: [1, 8, 8], numClasses: 2}
                training: {epochs: 3, optimizer: {type: adam, learningRate: 0.02}, checkpointEvery: 7, resume: auto}
                output: /runs/b
                """, "b.yaml", List.of());
        // output, checkpointEvery and resume may change; the learning rate may not
        assertThat(CheckpointStore.differences(a.trainingSettings(), b.trainingSettings()))
                .containsExactly("training.optimizer.learningRate: checkpoint 0.01, now 0.02");
        assertThat(CheckpointStore.differences(a.trainingSettings(), a.trainingSettings())).isEmpty();
    }

    @Test
    void aCheckpointFromBeforeASettingExistedTrainedWithItsOldBehaviour() {
        String yaml = """
                model: {name: mlp, hidden: [16]}
                data: {train: /d, inputShape: [1, 8, 8], numClasses: 2}
                training: {epochs: 3, shuffle: %s}
                """;
        DeepshardConfig global = ConfigLoader.parse(yaml.formatted("global"), "g.yaml", List.of());
        DeepshardConfig local = ConfigLoader.parse(yaml.formatted("local"), "l.yaml", List.of());
        assertThat(global.trainingSettings()).containsEntry("training.shuffle", "global");
        var older = new java.util.TreeMap<>(global.trainingSettings());
        older.remove("training.shuffle");          // written before training.shuffle existed: it dealt globally
        assertThat(CheckpointStore.differences(older, global.trainingSettings())).isEmpty();
        assertThat(CheckpointStore.differences(older, local.trainingSettings()))
                .containsExactly("training.shuffle: checkpoint global, now local");
        assertThat(CheckpointStore.differences(global.trainingSettings(), local.trainingSettings()))
                .containsExactly("training.shuffle: checkpoint global, now local");
    }

    @Test
    void aFileThatIsNotACheckpointIsRejectedWithItsName() throws Exception {
        var store = new CheckpointStore(conf, run.toString());
        store.save(checkpoint(1, 0, false), 1);
        Path state = run.resolve("checkpoints/ckpt-e0001-r000000/state.bin");
        Files.writeString(state, "hello, not floats");
        assertThatThrownBy(() -> store.read("ckpt-e0001-r000000")).hasMessageContaining(state.getFileName().toString())
                .hasMessageContaining("not a Deepshard checkpoint");
    }
}
