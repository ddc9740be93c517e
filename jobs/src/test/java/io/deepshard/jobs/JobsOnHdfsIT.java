package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.bundle.ModelBundle;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The jobs with everything on a real HDFS ({@code MiniDFSCluster} on loopback): training data, run directory, model,
 * evaluation, predictions and a transfer's source and output are all {@code hdfs://} URIs.
 */
class JobsOnHdfsIT {
    @TempDir static java.nio.file.Path dir;
    static MiniDFSCluster hdfs;
    static String uri;
    static FileSystem fs;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void start() throws Exception {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        hdfs = JobFixtures.miniDfs(new Configuration(), dir.resolve("minidfs"));
        uri = "hdfs://127.0.0.1:" + hdfs.getNameNodePort();
        fs = hdfs.getFileSystem();
        JobFixtures.tintedColours(dir.resolve("data"), 30, 10, 5);
        fs.copyFromLocalFile(new Path(dir.resolve("data").toUri()), new Path(uri + "/data"));
    }

    @AfterAll
    static void stop() {
        System.clearProperty("spark.master");
        if (hdfs != null) hdfs.shutdown(true);
    }

    static String read(String path) throws Exception {
        try (var in = fs.open(new Path(path))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void trainEvaluatePredictAndTransferOnHdfs() throws Exception {
        String run = uri + "/runs/mlp", data = uri + "/data";
        java.nio.file.Path conf = dir.resolve("c.yaml");
        Files.writeString(conf, """
                model: {name: mlp, hidden: [16]}
                data: {train: '%s/train', test: '%s/test', imageSize: [8, 8], channels: 3, numClasses: 3}
                training: {workers: 2, batchSize: 8, epochs: 6, seed: 3, optimizer: {type: adam, learningRate: 0.01}}
                output: '%s'
                """.formatted(data, data, run));
        TrainJobIT.Run t = TrainJobIT.run("train", conf.toString());
        assertThat(t.exit()).as(t.err()).isEqualTo(0);
        assertThat(fs.exists(new Path(run + "/model/network.zip"))).isTrue();
        JsonNode trained = JSON.readTree(read(run + "/metrics.json"));
        // a model with margins: evaluate and predict batch differently, and a near-chance model's near-ties can flip
        assertThat(trained.get("testAccuracy").asDouble()).isGreaterThan(0.6);

        TrainJobIT.Run e = TrainJobIT.run("evaluate", "--model", run, "--data", data + "/test", "--out", uri + "/eval");
        assertThat(e.exit()).as(e.err()).isEqualTo(0);
        assertThat(JSON.readTree(read(uri + "/eval/evaluation.json")).get("accuracy").asDouble()).isEqualTo(trained.get("testAccuracy").asDouble());
        assertThat(read(uri + "/eval/report.html")).contains("confusion-matrix");

        TrainJobIT.Run p = TrainJobIT.run("predict", "--model", run, "--data", data + "/test", "--out", uri + "/preds");
        assertThat(p.exit()).as(p.err()).isEqualTo(0);
        JsonNode meta = JSON.readTree(read(uri + "/preds/_deepshard.json"));
        assertThat(meta.get("rows").asLong()).isEqualTo(30);
        assertThat(meta.get("accuracy").asDouble()).isEqualTo(trained.get("testAccuracy").asDouble());
        assertThat(fs.listStatus(new Path(uri + "/preds"), f -> f.getName().endsWith(".parquet"))).isNotEmpty();

        java.nio.file.Path tconf = dir.resolve("t.yaml");
        Files.writeString(tconf, """
                transfer: {from: '%s'}
                data: {train: '%s/train', imageSize: [8, 8], channels: 3, numClasses: 3}
                training: {workers: 2, batchSize: 8, epochs: 1, seed: 4, optimizer: {type: adam, learningRate: 0.005}}
                output: '%s/runs/transferred'
                """.formatted(run, data, uri));
        TrainJobIT.Run tr = TrainJobIT.run("transfer", tconf.toString());
        assertThat(tr.exit()).as(tr.err()).isEqualTo(0);
        var c = new Configuration();
        ModelBundle src = ModelBundle.load(c, run), out = ModelBundle.load(c, uri + "/runs/transferred");
        assertThat(out.network().getLayer("dense1").params().toFloatVector()).isEqualTo(src.network().getLayer("dense1").params().toFloatVector());
    }

    /**
     * {@code fetch-data --to hdfs://...}: the built-in dataset lands where executors on other machines can read it,
     * byte for byte as verified in the local cache; a second run writes nothing.
     */
    @Test
    void fetchDataCopiesABuiltInDatasetToHdfs() throws Exception {
        java.nio.file.Path cache = io.deepshard.core.data.DatasetFetcher.fromEnvironment(m -> { })
                .ensure(io.deepshard.core.data.BuiltInDatasets.BY_NAME.get("fashion-mnist"));
        List<java.nio.file.Path> local;
        try (var files = Files.list(cache)) {
            local = files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith(".")).sorted().toList();
        }
        assertThat(local).hasSize(4);
        var out = new java.io.ByteArrayOutputStream();
        var stdout = System.out;
        System.setOut(new java.io.PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            assertThat(Cli.run(new FetchDataJob(), new String[] {"fashion-mnist", "--to", uri + "/shared/datasets/"})).isZero();
        } finally {
            System.setOut(stdout);
        }
        String target = uri + "/shared/datasets/fashion-mnist/";
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("4 file(s) written, 0 already there")
                .contains("use: data.train: " + target + "train-images-idx3-ubyte");
        java.util.Map<String, Long> times = new java.util.HashMap<>();
        for (java.nio.file.Path f : local) {
            var status = fs.getFileStatus(new Path(target + f.getFileName()));
            assertThat(status.getLen()).as("%s", f.getFileName()).isEqualTo(Files.size(f));
            times.put(f.getFileName().toString(), status.getModificationTime());
        }
        java.nio.file.Path labels = local.stream().filter(f -> f.getFileName().toString().startsWith("t10k-labels")).findFirst().orElseThrow();
        try (var in = fs.open(new Path(target + labels.getFileName()))) {
            assertThat(in.readAllBytes()).isEqualTo(Files.readAllBytes(labels));
        }
        assertThat(fs.listStatus(new Path(target))).as("no temporary files left").hasSize(4)
                .allMatch(st -> !st.getPath().getName().startsWith("."));
        // a second run keeps what is there
        assertThat(Cli.run(new FetchDataJob(), new String[] {"fashion-mnist", "--to", uri + "/shared/datasets"})).isZero();
        for (java.nio.file.Path f : local) {
            assertThat(fs.getFileStatus(new Path(target + f.getFileName())).getModificationTime())
                    .as("%s kept", f.getFileName()).isEqualTo(times.get(f.getFileName().toString()));
        }
    }
}
