package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.core.tracking.FakeMlflowServer;
import io.deepshard.core.tracking.MlflowHttpRun;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code train} with {@code tracking.uri} pointing to a fake MLflow tracking server (MLflow's REST calls and checks):
 * the run is logged there too, equal to the run directory's file-store run; a server that is down or rejects the
 * credentials fails the job before Spark starts (exit code 2); a server failing mid-run costs a warning, not the run.
 */
class MlflowHttpIT {
    @TempDir static Path dir;
    static Path config;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void data() throws Exception {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        SyntheticImages.write(new Configuration(), dir.resolve("data").toString(), "split", new SyntheticImages.Spec(3, 16, 16, 7), 30, 10);
        config = dir.resolve("c.yaml");
        Files.writeString(config, """
                model: {name: mlp, hidden: [16]}
                data: {train: %s, test: %s, imageSize: [16, 16], channels: 3, numClasses: 3}
                training: {workers: 2, batchSize: 8, epochs: 3, seed: 3, optimizer: {type: adam, learningRate: 0.003}}
                tracking: {experiment: deepshard-it}
                """.formatted(dir.resolve("data/train"), dir.resolve("data/test")));
    }

    @AfterAll
    static void clear() {
        System.clearProperty("spark.master");
    }

    @Test
    void eachTuneTrialIsARunOnTheServer() throws Exception {
        Path tune = dir.resolve("tune.yaml");
        Files.writeString(tune, Files.readString(config).replace("epochs: 3", "epochs: 1")
                + "tune: {space: {training.optimizer.learningRate: [0.001, 0.01]}}\n");
        try (FakeMlflowServer server = FakeMlflowServer.start()) {
            TrainJobIT.Run r = TrainJobIT.run("tune", tune.toString(), "--set", "tracking.uri=" + server.uri(),
                    "--set", "data.validationFraction=0.2", "--set", "output=" + dir.resolve("search"));
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(server.runs()).extracting(x -> x.runName + " " + x.status).containsExactlyInAnyOrder("trial-001 FINISHED", "trial-002 FINISHED");
            assertThat(server.runs()).extracting(x -> x.params.get("training.optimizer.learningRate")).containsExactlyInAnyOrder("0.001", "0.01");
        }
    }

    @Test
    void theRunIsLoggedToTheServerAsInItsRunDirectory() throws Exception {
        Path run = dir.resolve("run");
        try (FakeMlflowServer server = FakeMlflowServer.start()) {
            TrainJobIT.Run r = TrainJobIT.run("train", config.toString(), "--set", "tracking.uri=" + server.uri(), "--set", "output=" + run);
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(server.experiments()).extracting(FakeMlflowServer.Experiment::name).containsExactly("Default", "deepshard-it");
            assertThat(server.runs()).hasSize(1);
            FakeMlflowServer.Run held = server.runs().get(0);
            assertThat(held.experimentId).isEqualTo(server.experiments().get(1).id());
            assertThat(r.out()).contains("MLflow tracking server " + server.uri() + " (no credentials): experiment 'deepshard-it'")
                    .contains("MLflow server: run " + held.id + " of experiment 'deepshard-it': " + server.uri() + "/#/experiments/"
                            + held.experimentId + "/runs/" + held.id)
                    .doesNotContain("warning");
            assertThat(held.status).isEqualTo("FINISHED");
            assertThat(held.endTime).isNotNull().isGreaterThanOrEqualTo(held.startTime);
            assertThat(held.runName).isEqualTo("run");

            // every flattened config parameter, as in the file store's params/
            Map<String, String> fileParams = new HashMap<>();
            try (Stream<Path> files = Files.list(run.resolve("params"))) {
                for (Path f : files.toList()) fileParams.put(f.getFileName().toString(), Files.readString(f));
            }
            assertThat(fileParams).containsEntry("tracking.uri", server.uri()).containsEntry("tracking.experiment", "deepshard-it")
                    .containsEntry("training.optimizer.learningRate", "0.003").hasSizeGreaterThan(40);
            assertThat(held.params).isEqualTo(fileParams);

            // per epoch, steps 1..3, the values of metrics.json's history; sent live, one request per epoch
            JsonNode history = JSON.readTree(run.resolve("metrics.json").toFile()).get("history");
            assertThat(history).hasSize(3);
            Map<String, String> names = Map.of("train_loss", "trainLoss", "test_loss", "testLoss", "test_accuracy", "testAccuracy",
                    "images_per_second", "imagesPerSecond", "learning_rate", "learningRate");
            names.forEach((metric, field) -> {
                List<FakeMlflowServer.Point> points = held.metrics.get(metric);
                assertThat(points).as(metric).hasSize(3);
                for (int i = 0; i < 3; i++) {
                    assertThat(points.get(i).step()).isEqualTo(i + 1);
                    assertThat(points.get(i).value()).as(metric + " epoch " + (i + 1)).isEqualTo(history.get(i).get(field).asDouble());
                    assertThat(points.get(i).timestamp()).isGreaterThanOrEqualTo(held.startTime);
                }
            });
            assertThat(held.metrics).doesNotContainKey("validation_loss"); // no validation split
            assertThat(held.metrics.get("final_test_accuracy")).singleElement()
                    .satisfies(p -> assertThat(p.value()).isEqualTo(JSON.readTree(run.resolve("metrics.json").toFile()).get("testAccuracy").asDouble()));
            List<JsonNode> withMetrics = server.requests("runs/log-batch").stream().map(FakeMlflowServer.Request::json)
                    .filter(j -> !j.get("metrics").isEmpty()).toList();
            assertThat(withMetrics).hasSize(4); // epochs 1, 2, 3 as they ended, then the final values
            for (int e = 1; e <= 3; e++) {
                int epoch = e;
                assertThat(withMetrics.get(e - 1).get("metrics")).allSatisfy(m -> assertThat(m.get("step").asInt()).isEqualTo(epoch));
            }

            // each run names the other
            assertThat(held.tags).containsEntry(MlflowHttpRun.RUN_DIR_TAG, "file:" + run).containsEntry("mlflow.runName", "run")
                    .containsKey("deepshard.configSha256");
            assertThat(Files.readString(run.resolve("tags/" + MlflowHttpRun.SERVER_RUN_ID_TAG))).isEqualTo(held.id);
            assertThat(Files.readString(run.resolve("tags/" + MlflowHttpRun.SERVER_URI_TAG))).isEqualTo(server.uri());
            assertThat(JSON.readTree(run.resolve(MlflowHttpRun.STATE_FILE).toFile()).get("runId").asText()).isEqualTo(held.id);

            // the server proxies artifacts: the report, metrics, config and provenance are uploaded
            String root = held.experimentId + "/" + held.id + "/artifacts/";
            assertThat(server.artifacts()).containsOnlyKeys(root + "report.html", root + "metrics.json", root + "model/config.yaml",
                    root + "model/provenance.json");
            assertThat(server.artifacts().get(root + "metrics.json")).isEqualTo(Files.readAllBytes(run.resolve("metrics.json")));
        }
    }

    @Test
    void aServerThatIsDownOrRejectsTheCredentialsFailsBeforeTraining() throws Exception {
        int port;
        try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path run = dir.resolve("never");
        TrainJobIT.Run down = TrainJobIT.run("train", config.toString(), "--set", "tracking.uri=http://127.0.0.1:" + port, "--set", "output=" + run);
        assertThat(down.exit()).isEqualTo(2);
        assertThat(down.err()).contains("error: " + config + ": 1 problem")
                .contains("tracking.uri: MLflow tracking server http://127.0.0.1:" + port + ": GET /api/2.0/mlflow/experiments/get-by-name: "
                        + "no answer (java.net.ConnectException")
                .contains("(4 attempts) — start the server or correct tracking.uri");
        assertThat(down.out()).doesNotContain("Deepshard train:"); // printed once Spark has started
        assertThat(run).doesNotExist();

        try (FakeMlflowServer server = FakeMlflowServer.start().requireAuthorization("Bearer right")) {
            TrainJobIT.Run rejected = TrainJobIT.run("train", config.toString(), "--set", "tracking.uri=" + server.uri(), "--set", "output=" + run);
            assertThat(rejected.exit()).isEqualTo(2);
            assertThat(rejected.err()).contains("tracking.uri: MLflow tracking server " + server.uri()
                    + ": GET /api/2.0/mlflow/experiments/get-by-name: HTTP 401 You are not authenticated.")
                    .contains("the server rejected no credentials");
            assertThat(server.requests()).hasSize(1);
            assertThat(run).doesNotExist();
        }

        TrainJobIT.Run bad = TrainJobIT.run("train", config.toString(), "--set", "tracking.uri=ftp://h/x", "--set", "output=" + run);
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err()).contains("tracking.uri: must be the http:// or https:// URL of an MLflow tracking server");
    }

    @Test
    void aServerFailingMidRunCostsAWarningNotTheRun() throws Exception {
        Path run = dir.resolve("flaky");
        try (FakeMlflowServer server = FakeMlflowServer.start()) {
            server.fail("runs/log-batch", 2, Integer.MAX_VALUE, 503); // params and tags, epoch 1, then down for good
            TrainJobIT.Run r = TrainJobIT.run("train", config.toString(), "--set", "tracking.uri=" + server.uri(), "--set", "output=" + run,
                    "--set", "training.epochs=2");
            assertThat(r.exit()).as(r.err()).isZero();
            FakeMlflowServer.Run held = server.runs().get(0);
            assertThat(r.out()).contains("warning: the MLflow server could not log epoch 2: MLflow tracking server " + server.uri()
                            + ": POST /api/2.0/mlflow/runs/log-batch: HTTP 503 TEMPORARILY_UNAVAILABLE: injected failure (4 attempts). Training goes on")
                    .contains("warning: the MLflow server run " + held.id + " on " + server.uri()
                            + " is incomplete (could not complete the run); the run directory holds everything");
            // training completed: the model, both epochs in metrics.json, a finished file-store run
            assertThat(run.resolve("model/network.zip")).exists();
            assertThat(JSON.readTree(run.resolve("metrics.json").toFile()).get("history")).hasSize(2);
            assertThat(Files.readString(run.resolve("meta.yaml"))).contains("status: 3");
            assertThat(Files.readAllLines(run.resolve("metrics/train_loss"))).hasSize(2);
            // the server has what it took before it failed
            assertThat(held.status).isEqualTo("RUNNING");
            assertThat(held.metrics.get("train_loss")).extracting(FakeMlflowServer.Point::step).containsExactly(1L);
        }
    }
}
