package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A Spark standalone cluster started by the project's own script ({@code bin/standalone}: a Master and two Worker
 * JVMs on 127.0.0.1), and the train job submitted to it with Spark's {@code SparkSubmit} in client mode: the
 * Workers launch the executors, the job trains and writes its run directory, and the script stops the cluster.
 */
class StandaloneClusterIT {
    @TempDir Path dir;

    record Result(int exit, String output) {}

    Result script(Map<String, String> env, long timeoutSeconds, String... args) throws Exception {
        var cmd = new java.util.ArrayList<String>(List.of(Path.of("..", "bin", "standalone").toAbsolutePath().normalize().toString()));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(dir, "standalone", ".log");
        var pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        assertThat(p.waitFor(timeoutSeconds, TimeUnit.SECONDS)).as(Files.readString(log)).isTrue();
        return new Result(p.exitValue(), Files.readString(log));
    }

    @Test
    void trainsOnAStandaloneClusterThroughSparkSubmit() throws Exception {
        int port;
        try (var s = new ServerSocket(0)) { port = s.getLocalPort(); }
        String jar = JobFixtures.jobsJar().toString();
        var env = Map.of("DEEPSHARD_STANDALONE_DIR", dir.resolve("cluster").toString(),
                "DEEPSHARD_STANDALONE_PORT", Integer.toString(port),
                "DEEPSHARD_CLASSPATH", jar + File.pathSeparator + System.getProperty("java.class.path"));
        Path conf = JobFixtures.tinyFolderJob(dir, 30, 2, dir.resolve("run"));
        try {
            Result start = script(env, 120, "start", "2", "1", "1g");
            assertThat(start.exit()).as(start.output()).isZero();
            assertThat(start.output()).contains("spark://127.0.0.1:" + port);
            assertThat(script(env, 10, "status").output()).contains("running: spark://127.0.0.1:" + port + " (2 worker(s))");

            Result submit = script(env, 240, "submit", "train", conf.toString());
            assertThat(submit.exit()).as(submit.output()).isZero();
            assertThat(submit.output()).contains("on 60 training images (no test split), 2 classes")
                    .contains("Spark 3.5.5 (spark://127.0.0.1:" + port + "): 2 worker(s)")
                    .contains("run directory: " + dir.resolve("run"));
            JsonNode m = new ObjectMapper().readTree(dir.resolve("run/metrics.json").toFile());
            assertThat(m.get("history")).hasSize(2);
            assertThat(m.get("testAccuracy").isNull()).isTrue();   // no test split in this config
            // each executor's native memory, read by its training tasks through JavaCPP, at each epoch end
            var nativeRows = new java.util.ArrayList<JsonNode>();
            m.get("executorMemory").forEach(r -> { if (r.has("nativeMb")) nativeRows.add(r); });
            assertThat(nativeRows).as(m.get("executorMemory").toString()).hasSize(4)
                    .allSatisfy(r -> assertThat(r.get("nativeMb").asDouble()).isPositive())
                    .allSatisfy(r -> assertThat(r.get("physicalMb").asDouble()).isGreaterThan(100));
            assertThat(nativeRows.stream().map(r -> r.get("executor").asText()).distinct()).hasSize(2);
            // both Workers launched an executor for the application
            for (int w = 1; w <= 2; w++) {
                assertThat(Files.readString(dir.resolve("cluster/logs/worker-" + w + ".log"))).contains("Asked to launch executor app-");
            }
        } finally {
            Result stop = script(env, 30, "stop");
            assertThat(stop.output()).contains("stopped");
        }
        assertThat(script(env, 10, "status").exit()).isEqualTo(3);
    }
}
