package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.data.IdxWriter;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.OutputStream;
import java.nio.file.Files;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code spark-submit --properties-file conf/spark-defaults-yarn.conf} (master yarn, client mode) against a real {@code MiniYARNCluster} (ResourceManager and a
 * NodeManager in this JVM, containers as real processes), with the data, the run directory and the checkpoints on a
 * {@code MiniDFSCluster}: the ApplicationMaster and two executors start in YARN containers and the train job trains
 * one epoch.
 */
class YarnSubmitIT {
    @TempDir static java.nio.file.Path dir;
    static MiniDFSCluster hdfs;
    static MiniYARNCluster yarn;
    static String hdfsUri;
    static java.nio.file.Path confDir;

    @BeforeAll
    static void startClusters() throws Exception {
        Configuration conf = new YarnConfiguration();
        hdfs = JobFixtures.miniDfs(conf, dir.resolve("hdfs"));
        hdfsUri = "hdfs://127.0.0.1:" + hdfs.getNameNodePort();
        conf.set("fs.defaultFS", hdfsUri);

        conf.set("yarn.scheduler.capacity.root.queues", "default");
        conf.set("yarn.scheduler.capacity.root.default.capacity", "100");
        conf.setBoolean("yarn.nodemanager.vmem-check-enabled", false);
        conf.setBoolean("yarn.nodemanager.pmem-check-enabled", false);
        conf.set("yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage", "100");
        conf.setInt("yarn.nodemanager.resource.memory-mb", 8192);
        conf.setInt("yarn.nodemanager.resource.cpu-vcores", 4);
        conf.setInt("yarn.scheduler.minimum-allocation-mb", 256);
        conf.setInt("yarn.scheduler.maximum-allocation-mb", 4096);
        conf.set("yarn.resourcemanager.hostname", "127.0.0.1");
        conf.set("yarn.nodemanager.hostname", "127.0.0.1");
        yarn = new MiniYARNCluster("deepshard", 1, 1, 1);
        yarn.init(conf);
        yarn.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (yarn.getConfig().get(YarnConfiguration.RM_ADDRESS).endsWith(":0") && System.nanoTime() < deadline) Thread.sleep(100);
        assertThat(yarn.getConfig().get(YarnConfiguration.RM_ADDRESS)).doesNotEndWith(":0");

        // the client's HADOOP_CONF_DIR: where the RM and HDFS are
        confDir = Files.createDirectories(dir.resolve("hadoop-conf"));
        Configuration client = new Configuration(yarn.getConfig());
        client.set("fs.defaultFS", hdfsUri);
        // MiniYARNCluster publishes its addresses as localhost:port but binds 127.0.0.1; a client resolving localhost
        // to ::1 first retries for ever
        for (var e : yarn.getConfig()) {
            if (e.getKey().startsWith("yarn.") && e.getValue().startsWith("localhost:")) {
                client.set(e.getKey(), "127.0.0.1:" + e.getValue().substring("localhost:".length()));
            }
        }
        try (OutputStream out = Files.newOutputStream(confDir.resolve("yarn-site.xml"))) { client.writeXml(out); }
        try (OutputStream out = Files.newOutputStream(confDir.resolve("core-site.xml"))) { client.writeXml(out); }
    }

    @AfterAll
    static void stopClusters() {
        if (yarn != null) yarn.stop();
        if (hdfs != null) hdfs.shutdown(true);
    }

    /** The applications and nodes as the ResourceManager sees them (for failure messages). */
    static String yarnState() {
        try (var client = org.apache.hadoop.yarn.client.api.YarnClient.createYarnClient()) {
            client.init(yarn.getConfig());
            client.start();
            var sb = new StringBuilder();
            for (var app : client.getApplications()) {
                sb.append(app.getApplicationId()).append(' ').append(app.getYarnApplicationState()).append(' ')
                        .append(app.getDiagnostics()).append("; ");
            }
            for (var node : client.getNodeReports()) {
                sb.append("node ").append(node.getNodeId()).append(' ').append(node.getNodeState()).append(' ')
                        .append(node.getHealthReport()).append("; ");
            }
            return sb.toString();
        } catch (Exception e) {
            return "cannot ask YARN: " + e;
        }
    }

    /** spark.yarn.jars: the runtime jars, linked into one local directory every container can read. */
    static java.nio.file.Path sparkJars() throws Exception {
        java.nio.file.Path jars = Files.createDirectories(dir.resolve("spark-jars"));
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            java.nio.file.Path p = java.nio.file.Path.of(e);
            if (e.endsWith(".jar") && Files.isRegularFile(p) && !Files.exists(jars.resolve(p.getFileName()))) {
                Files.createSymbolicLink(jars.resolve(p.getFileName()), p.toAbsolutePath());
            }
        }
        return jars;
    }

    /** Small IDX training data on HDFS (once for both tests). */
    static synchronized String trainData() throws Exception {
        FileSystem fs = hdfs.getFileSystem();
        if (!fs.exists(new Path("/data/train-images-idx3-ubyte"))) {
            Random r = new Random(8);
            int[] labels = new int[400];
            byte[][] images = TrainJobIT.images(r, labels);
            java.nio.file.Path local = Files.createDirectories(dir.resolve("idx"));
            IdxWriter.write(local.resolve("train-images-idx3-ubyte"), local.resolve("train-labels-idx1-ubyte"), images, labels, 12, 12, false);
            fs.copyFromLocalFile(new Path(local.resolve("train-images-idx3-ubyte").toUri()), new Path("/data/train-images-idx3-ubyte"));
            fs.copyFromLocalFile(new Path(local.resolve("train-labels-idx1-ubyte").toUri()), new Path("/data/train-labels-idx1-ubyte"));
        }
        return hdfsUri + "/data/train-images-idx3-ubyte";
    }

    /**
     * spark-submit with conf/spark-defaults-yarn.conf in the given deploy mode, training one epoch into
     * {@code <hdfs>/runs/<name>}; returns spark-submit's output (in cluster mode the driver's output is in the AM's
     * container log, not here).
     */
    static String submit(String deployMode, String name) throws Exception {
        java.nio.file.Path config = dir.resolve(name + ".yaml");
        Files.writeString(config, """
                model: {name: mlp, hidden: [32]}
                data: {train: %s, inputShape: [1, 12, 12], numClasses: 3, validationFraction: 0.2}
                training: {workers: 2, batchSize: 16, epochs: 1, seed: 5, checkpointEvery: 2}
                output: %s/runs/%s
                """.formatted(trainData(), hdfsUri, name));
        String jobsJar = JobFixtures.jobsJar().toString();

        var cmd = JobFixtures.javaCommand();
        // HADOOP_CONF_DIR goes on the classpath, as Spark's launcher scripts put it there (java -cp ... SparkSubmit alone
        // would ignore it and look for a ResourceManager at 0.0.0.0:8032)
        cmd.addAll(List.of("-cp", confDir + File.pathSeparator + System.getProperty("java.class.path"), "org.apache.spark.deploy.SparkSubmit",
                "--properties-file", java.nio.file.Path.of("..", "conf", "spark-defaults-yarn.conf").toAbsolutePath().normalize().toString(),
                "--deploy-mode", deployMode,
                "--class", "io.deepshard.jobs.TrainJob",
                "--conf", "spark.yarn.jars=local:" + sparkJars() + "/*",
                // the example's sizes, scaled down to the MiniYARNCluster (command-line settings win over the file)
                "--conf", "spark.executor.instances=2", "--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=1g",
                "--conf", "spark.executor.memoryOverhead=512m", "--conf", "spark.driver.memory=1g",
                "--conf", "spark.yarn.am.memory=512m", "--conf", "spark.ui.enabled=false",
                "--conf", "spark.executorEnv.JAVA_HOME=" + System.getProperty("java.home"),
                "--conf", "spark.yarn.appMasterEnv.JAVA_HOME=" + System.getProperty("java.home")));
        if (deployMode.equals("cluster")) {
            // the driver runs in the ApplicationMaster's container: the config travels with --files into its
            // working directory and is named relative to it
            cmd.addAll(List.of("--files", config.toString(), jobsJar, config.getFileName().toString()));
        } else {
            cmd.addAll(List.of(jobsJar, config.toString()));
        }
        java.nio.file.Path log = dir.resolve(name + "-submit.log");
        var pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("HADOOP_CONF_DIR", confDir.toString());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        boolean finished = p.waitFor(180, TimeUnit.SECONDS);
        if (!finished) p.destroyForcibly().waitFor();
        String out = Files.readString(log);
        Files.copy(log, java.nio.file.Path.of("target", "yarn-submit-" + name + ".log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThat(finished).as("spark-submit did not finish in 180 s (log in target/yarn-submit-%s.log); YARN: %s", name, yarnState()).isTrue();
        assertThat(p.exitValue()).as("%s\nYARN: %s", out, yarnState()).isZero();
        return out;
    }

    /** The finished run on HDFS: one epoch of metrics, provenance from YARN, no checkpoints left. */
    static void assertTrainedOnYarn(String name) throws Exception {
        Configuration c = new Configuration();
        c.set("fs.defaultFS", hdfsUri);
        JsonNode m = new ObjectMapper().readTree(Fs.readString(c, new Path(hdfsUri + "/runs/" + name + "/metrics.json")));
        assertThat(m.get("history")).hasSize(1);
        assertThat(m.get("validationAccuracy").asDouble()).isGreaterThan(0.5);
        JsonNode prov = new ObjectMapper().readTree(Fs.readString(c, new Path(hdfsUri + "/runs/" + name + "/model/provenance.json")));
        assertThat(prov.at("/training/sparkMaster").asText()).isEqualTo("yarn");
        assertThat(prov.at("/training/applicationId").asText()).startsWith("application_");
        // the run finished, so its checkpoints were removed from HDFS
        assertThat(hdfs.getFileSystem().exists(new Path("/runs/" + name + "/checkpoints"))).isFalse();
    }

    @Test
    void trainJobRunsOnYarnWithDataAndOutputOnHdfs() throws Exception {
        String out = submit("client", "yarn");
        assertThat(out).contains("Spark 3.5.5 (yarn): 2 worker(s)").contains("run directory: " + hdfsUri + "/runs/yarn");
        assertTrainedOnYarn("yarn");
    }

    /** Cluster mode: the driver itself runs in a YARN container (the ApplicationMaster's); spark-submit only waits. */
    @Test
    void trainJobRunsOnYarnInClusterMode() throws Exception {
        String out = submit("cluster", "yarn-cluster");
        assertThat(out).as("the driver's output is in the AM's container, not here").doesNotContain("Spark 3.5.5 (yarn)");
        assertTrainedOnYarn("yarn-cluster");
        // YARN's own verdict (any System.exit in the AM, 0 included, would make it FAILED)
        Configuration c = new Configuration();
        c.set("fs.defaultFS", hdfsUri);
        String appId = new ObjectMapper().readTree(Fs.readString(c, new Path(hdfsUri + "/runs/yarn-cluster/model/provenance.json")))
                .at("/training/applicationId").asText();
        try (var client = org.apache.hadoop.yarn.client.api.YarnClient.createYarnClient()) {
            client.init(yarn.getConfig());
            client.start();
            var report = client.getApplicationReport(org.apache.hadoop.yarn.api.records.ApplicationId.fromString(appId));
            assertThat(report.getFinalApplicationStatus()).as(report.getDiagnostics())
                    .isEqualTo(org.apache.hadoop.yarn.api.records.FinalApplicationStatus.SUCCEEDED);
        }
    }
}
