package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.bundle.ModelBundle;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Executor loss on a real cluster: the train job runs on {@code local-cluster[2,1,1024]} (a standalone Master and two
 * Workers inside the driver JVM, and two executor JVMs they launch), and one executor JVM is killed with SIGKILL while
 * rounds are running. Spark re-runs the lost tasks (and recomputes the lost cached shards from their lineage) on the
 * surviving or a replacement executor; because a round is a pure function of (state, shards, round) and the averaged
 * sum does not depend on the order results arrive in, the run ends with the same parameters, bit for bit, as an
 * undisturbed run on the same cluster shape.
 */
class ExecutorLossIT {
    @TempDir static Path dir;

    /** A SPARK_HOME for the standalone Workers: they launch executors with its jars/ (empty here) plus extraClassPath. */
    static Path sparkHome() throws IOException {
        Path home = dir.resolve("spark-home");
        Files.createDirectories(home.resolve("jars"));
        return home;
    }

    static Process start(Path config, Path log, String... sets) throws IOException {
        var cmd = JobFixtures.javaCommand();
        String cp = System.getProperty("java.class.path");
        cmd.addAll(List.of("-Dspark.master=local-cluster[2,1,1024]", "-Dspark.ui.enabled=false",
                "-Dspark.executor.extraClassPath=" + cp, "-cp", cp, "io.deepshard.jobs.TrainJob", config.toString()));
        for (String s : sets) cmd.addAll(List.of("--set", s));
        var pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("SPARK_HOME", sparkHome().toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.12");
        return pb.start();
    }

    /** The executor JVMs the driver's standalone Workers launched (its child processes running the executor backend). */
    static List<ProcessHandle> executors(Process driver) {
        return driver.descendants().filter(p -> commandLine(p).contains("CoarseGrainedExecutorBackend")).toList();
    }

    /** From /proc: ProcessHandle.Info leaves the arguments out for some processes. */
    static String commandLine(ProcessHandle p) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline")).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    @Test
    void killingAnExecutorMidRoundChangesNothing() throws Exception {
        Path config = ResumeAfterKillIT.writeConfig(dir.resolve("data"));
        Path clean = dir.resolve("clean"), disturbed = dir.resolve("disturbed");
        Process reference = start(config, dir.resolve("clean.log"), "output=" + clean, "training.checkpointKeep=0");
        Process victim = start(config, dir.resolve("disturbed.log"), "output=" + disturbed, "training.checkpointKeep=0");

        // wait until the second epoch's rounds run, then kill one executor of the victim (rounds run back to back:
        // its task is almost surely in the middle of one)
        Path log = dir.resolve("disturbed.log");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (victim.isAlive() && System.nanoTime() < deadline && !Files.readString(log).contains("epoch 2: 25%")) {
            Thread.sleep(20);
        }
        List<ProcessHandle> executors = executors(victim);
        assertThat(executors).as(Files.readString(log)).hasSize(2);
        ProcessHandle killed = executors.get(0);
        assertThat(killed.destroyForcibly()).isTrue();

        assertThat(victim.waitFor(300, TimeUnit.SECONDS)).isTrue();
        String victimLog = Files.readString(log);
        assertThat(victim.exitValue()).as(victimLog).isZero();
        assertThat(reference.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(reference.exitValue()).as(Files.readString(dir.resolve("clean.log"))).isZero();

        // the loss was seen and recorded, and training went on
        assertThat(victimLog).containsPattern("executor \\d+ lost");
        JsonNode events = new ObjectMapper().readTree(disturbed.resolve("metrics.json").toFile()).get("clusterEvents");
        assertThat(events.findValuesAsText("type")).contains("executorLost");
        assertThat(new ObjectMapper().readTree(clean.resolve("metrics.json").toFile()).get("clusterEvents")).isEmpty();

        JsonNode a = new ObjectMapper().readTree(clean.resolve("metrics.json").toFile());
        JsonNode b = new ObjectMapper().readTree(disturbed.resolve("metrics.json").toFile());
        for (String key : List.of("testAccuracy", "testLoss", "validationLoss", "trainLoss")) {
            assertThat(b.get(key)).as(key).isEqualTo(a.get(key));
        }
        var conf = new Configuration();
        assertThat(ModelBundle.load(conf, disturbed.toString()).network().params().toFloatVector())
                .isEqualTo(ModelBundle.load(conf, clean.toString()).network().params().toFloatVector());
        assertThat(ModelBundle.load(conf, clean.toString()).provenance().get("training")).asString()
                .contains("sparkMaster=local-cluster[2,1,1024]");
    }
}
