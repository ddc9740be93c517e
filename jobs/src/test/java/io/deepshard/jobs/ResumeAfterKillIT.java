package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.data.IdxWriter;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Driver loss: the train job runs in its own JVM and is killed with SIGKILL in the middle of training (no shutdown
 * hook, no chance to clean up), as a scheduler or the OOM killer would. {@code train --resume} then continues from
 * the newest checkpoint, and the run ends with the same metrics and the same parameters as a run that was never
 * killed. Also the CLI's guards: an unfinished run is not overwritten, a changed config is not resumed, a finished run
 * is not trained again.
 */
class ResumeAfterKillIT {
    @TempDir static Path dir;

    static Path writeConfig(Path data) throws IOException {
        Random r = new Random(8);
        int[] trainLabels = new int[1000];
        byte[][] train = TrainJobIT.images(r, trainLabels);
        int[] testLabels = new int[200];
        byte[][] test = TrainJobIT.images(r, testLabels);
        Files.createDirectories(data);
        IdxWriter.write(data.resolve("train-images-idx3-ubyte"), data.resolve("train-labels-idx1-ubyte"), train, trainLabels, 12, 12, false);
        IdxWriter.write(data.resolve("t10k-images-idx3-ubyte"), data.resolve("t10k-labels-idx1-ubyte"), test, testLabels, 12, 12, false);
        Path config = data.resolve("job.yaml");
        // dropout and Adam: the resumed run must redraw the same masks and continue the same moments
        Files.writeString(config, """
                model: {name: mlp, hidden: [64, 32], dropout: 0.3}
                data:
                  train: %s
                  test: %s
                  inputShape: [1, 12, 12]
                  numClasses: 3
                  validationFraction: 0.2
                training: {workers: 2, batchSize: 16, averagingFrequency: 3, epochs: 4, seed: 5, checkpointEvery: 4,
                           optimizer: {type: adam, learningRate: 0.003}, schedule: {type: cosine}}
                """.formatted(data.resolve("train-images-idx3-ubyte"), data.resolve("t10k-images-idx3-ubyte")));
        return config;
    }

    static Process start(Path config, Path log, String... extra) throws IOException {
        var cmd = JobFixtures.javaCommand();
        cmd.addAll(List.of("-Dspark.master=local[2]", "-Dspark.ui.enabled=false", "-cp", System.getProperty("java.class.path"),
                "io.deepshard.jobs.TrainJob", config.toString()));
        cmd.addAll(List.of(extra));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    static List<String> checkpoints(Path run) throws IOException {
        Path d = run.resolve("checkpoints");
        if (!Files.isDirectory(d)) return List.of();
        try (var s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ckpt-")).sorted().toList();
        }
    }

    @Test
    void aKilledDriverResumesToTheSameResult() throws Exception {
        Path config = writeConfig(dir.resolve("data"));
        Path clean = dir.resolve("clean"), killed = dir.resolve("killed");
        Process reference = start(config, dir.resolve("clean.log"), "--set", "output=" + clean);
        Process victim = start(config, dir.resolve("killed.log"), "--set", "output=" + killed);

        // kill the victim as soon as it has written a checkpoint inside epoch 2 or later
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (victim.isAlive() && System.nanoTime() < deadline
                && checkpoints(killed).stream().noneMatch(n -> n.compareTo("ckpt-e0001-r000001") >= 0)) {
            Thread.sleep(20);
        }
        assertThat(victim.isAlive()).as(Files.readString(dir.resolve("killed.log"))).isTrue();
        victim.destroyForcibly();                       // SIGKILL
        assertThat(victim.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(victim.exitValue()).isEqualTo(137);
        assertThat(killed.resolve("model")).doesNotExist();
        List<String> left = checkpoints(killed);
        assertThat(left).isNotEmpty();

        // the same command without --resume refuses to touch the unfinished run
        Process refused = start(config, dir.resolve("refused.log"), "--set", "output=" + killed);
        assertThat(refused.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(refused.exitValue()).isEqualTo(2);
        assertThat(Files.readString(dir.resolve("refused.log"))).contains("holds the checkpoints of an unfinished run: add --resume");

        // resuming with settings that would train differently is refused, naming them
        Process changed = start(config, dir.resolve("changed.log"), "--set", "output=" + killed, "--resume",
                "--set", "training.optimizer.learningRate=0.01");
        assertThat(changed.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(changed.exitValue()).isEqualTo(2);
        assertThat(Files.readString(dir.resolve("changed.log")))
                .contains("was written with other settings (training.optimizer.learningRate: checkpoint 0.003, now 0.01)");

        Process resumed = start(config, dir.resolve("resumed.log"), "--set", "output=" + killed, "--resume");
        assertThat(resumed.waitFor(240, TimeUnit.SECONDS)).isTrue();
        String resumedLog = Files.readString(dir.resolve("resumed.log"));
        assertThat(resumed.exitValue()).as(resumedLog).isZero();
        assertThat(resumedLog).contains("resuming from checkpoint " + left.get(left.size() - 1));
        assertThat(reference.waitFor(240, TimeUnit.SECONDS)).isTrue();
        assertThat(reference.exitValue()).as(Files.readString(dir.resolve("clean.log"))).isZero();

        JsonNode a = new ObjectMapper().readTree(clean.resolve("metrics.json").toFile());
        JsonNode b = new ObjectMapper().readTree(killed.resolve("metrics.json").toFile());
        for (String key : List.of("testAccuracy", "testLoss", "validationAccuracy", "validationLoss", "trainLoss", "epochs")) {
            assertThat(b.get(key)).as(key).isEqualTo(a.get(key));
        }
        for (int e = 0; e < 4; e++) {
            for (String key : List.of("trainLoss", "validationLoss", "testAccuracy", "examples")) {
                assertThat(b.at("/history/" + e + "/" + key)).as("epoch %d %s", e + 1, key).isEqualTo(a.at("/history/" + e + "/" + key));
            }
        }
        assertThat(a.get("testAccuracy").asDouble()).isGreaterThan(0.9);
        var conf = new Configuration();
        assertThat(ModelBundle.load(conf, killed.toString()).network().params().toFloatVector())
                .isEqualTo(ModelBundle.load(conf, clean.toString()).network().params().toFloatVector());
        assertThat(ModelBundle.load(conf, killed.toString()).provenance().get("training")).asString().contains("resumedAt=epoch ");
        // a finished run keeps no checkpoints, and resuming it again is a no-op
        assertThat(killed.resolve("checkpoints")).doesNotExist();
        Process again = start(config, dir.resolve("again.log"), "--set", "output=" + killed, "--resume");
        assertThat(again.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(again.exitValue()).isZero();
        assertThat(Files.readString(dir.resolve("again.log"))).contains("already finished (it holds a trained model): nothing to resume");
    }
}
