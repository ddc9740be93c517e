package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The application jar ({@code deepshard-jobs-<version>-app.jar}) is all spark-submit needs besides Spark: SparkSubmit
 * runs in a JVM whose classpath is exactly a Spark 3.5 / Hadoop 3.3 installation's (resolved from
 * {@code src/test/spark-dist/pom.xml}, nothing of Deepshard, DL4J or ND4J), with the app jar alone as the application,
 * and trains and evaluates. The jar holds the linux-x86_64 natives and no Spark, Hadoop or Scala classes.
 */
class AppJarIT {
    @TempDir Path dir;

    static Path appJar() throws Exception {
        try (var s = Files.list(Path.of("target"))) {
            return s.filter(p -> p.getFileName().toString().matches("deepshard-jobs-.*-app\\.jar")).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no target/deepshard-jobs-*-app.jar: run mvn package first")).toAbsolutePath();
        }
    }

    String exec(List<String> cmd, String log, int minutes) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(log).toFile()).start();
        assertThat(p.waitFor(minutes, TimeUnit.MINUTES)).as("%s finished in time", log).isTrue();
        String out = Files.readString(dir.resolve(log));
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    @Test
    void theAppJarTrainsUnderSparkSubmitWithOnlySparksClasspath() throws Exception {
        Path jar = appJar();
        try (var zip = new ZipFile(jar.toFile())) {
            var names = zip.stream().map(java.util.zip.ZipEntry::getName).toList();
            assertThat(names).contains("io/deepshard/jobs/TrainJob.class", "org/deeplearning4j/nn/graph/ComputationGraph.class",
                    "org/nd4j/linalg/cpu/nativecpu/bindings/linux-x86_64-onednn/libnd4jcpu.so",
                    "org/bytedeco/openblas/linux-x86_64/libopenblas.so.0");
            assertThat(names).noneMatch(n -> n.startsWith("org/apache/hadoop/") || n.startsWith("scala/")
                    || n.startsWith("org/apache/spark/sql/") || n.startsWith("org/apache/spark/rdd/"));
            // ND4J's and JavaCPP's natives for linux-x86_64 only (JNA's small multi-platform jnidispatch aside)
            assertThat(names.stream().filter(n -> (n.startsWith("org/nd4j/") || n.startsWith("org/bytedeco/"))
                    && n.matches(".*\\.(so(\\.\\d+)*|dll|dylib)$"))).isNotEmpty()
                    .allMatch(n -> n.contains("/linux-x86_64"));
        }
        Path cpFile = dir.resolve("spark.classpath");
        exec(List.of("mvn", "-q", "-B", "-f", Path.of("src", "test", "spark-dist", "pom.xml").toAbsolutePath().toString(),
                "dependency:build-classpath", "-Dmdep.outputFile=" + cpFile), "mvn.log", 5);
        String sparkCp = Files.readString(cpFile).trim();
        assertThat(sparkCp).doesNotContain("deeplearning4j", "nd4j", "bytedeco", "deepshard", "picocli").contains("spark-core_2.12-3.5.5.jar");

        Path conf = JobFixtures.tinyFolderJob(dir, 20, 1, dir.resolve("run"));
        var cmd = new ArrayList<>(JobFixtures.javaCommand());
        cmd.addAll(List.of("-cp", sparkCp, "org.apache.spark.deploy.SparkSubmit", "--master", "local[2]",
                "--class", "io.deepshard.jobs.TrainJob", "--conf", "spark.ui.enabled=false",
                jar.toString(), conf.toString(), "--set", "training.epochs=2", "--set", "data.test=" + dir.resolve("data/test")));
        String log = exec(cmd, "train.log", 5);
        assertThat(log).contains("Spark 3.5.5 (local[2]): 2 worker(s)", "run directory: " + dir.resolve("run"));
        JsonNode m = new ObjectMapper().readTree(dir.resolve("run/metrics.json").toFile());
        assertThat(m.get("history")).hasSize(2);

        cmd = new ArrayList<>(JobFixtures.javaCommand());
        cmd.addAll(List.of("-cp", sparkCp, "org.apache.spark.deploy.SparkSubmit", "--master", "local[2]",
                "--class", "io.deepshard.jobs.EvaluateJob", "--conf", "spark.ui.enabled=false", jar.toString(),
                "--model", dir.resolve("run").toString(), "--data", dir.resolve("data/test").toString(), "--out", dir.resolve("eval").toString()));
        exec(cmd, "evaluate.log", 5);
        JsonNode ev = new ObjectMapper().readTree(dir.resolve("eval/evaluation.json").toFile());
        assertThat(ev.get("accuracy").asDouble()).isEqualTo(m.get("testAccuracy").asDouble());
    }
}
