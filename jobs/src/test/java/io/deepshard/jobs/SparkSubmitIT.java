package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The train job through Spark's own {@code SparkSubmit} (what {@code spark-submit} runs), in a separate JVM, with the
 * packaged jobs jar as the application: the job class gets its master from spark-submit, never from its own code.
 */
class SparkSubmitIT {
    @TempDir Path dir;

    @Test
    void trainJobRunsUnderSparkSubmit() throws Exception {
        Path conf = JobFixtures.tinyFolderJob(dir, 20, 1, dir.resolve("run"));
        File jar = JobFixtures.jobsJar().toFile();
        var cmd = JobFixtures.javaCommand();
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "org.apache.spark.deploy.SparkSubmit",
                "--master", "local[2]", "--class", "io.deepshard.jobs.TrainJob",
                "--conf", "spark.ui.enabled=false", jar.getAbsolutePath(), conf.toString(), "--set", "training.epochs=2"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("submit.log").toFile()).start();
        assertThat(p.waitFor(180, TimeUnit.SECONDS)).isTrue();
        String log = Files.readString(dir.resolve("submit.log"));
        assertThat(p.exitValue()).as(log).isZero();
        assertThat(log).contains("Spark 3.5.5 (local[2]): 2 worker(s)").contains("run directory: " + dir.resolve("run"));
        JsonNode m = new ObjectMapper().readTree(dir.resolve("run/metrics.json").toFile());
        assertThat(m.get("epochs").asInt()).isEqualTo(2);
        assertThat(m.get("history")).hasSize(2);
    }
}
