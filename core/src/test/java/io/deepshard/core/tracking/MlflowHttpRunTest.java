package io.deepshard.core.tracking;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.train.EpochMetrics;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The failure policy of a server run: start, live epochs, catching up at the end, resuming, failing and being killed. */
class MlflowHttpRunTest {
    @TempDir Path dir;
    final FakeMlflowServer server = FakeMlflowServer.start();
    final MlflowRestClient client = new MlflowRestClient(server.uri(), MlflowRestClient.Credentials.NONE, MlflowRestClientTest.FAST);
    final Configuration conf = new Configuration();
    final List<String> warnings = new ArrayList<>();

    @AfterEach
    void stop() { server.close(); }

    static EpochMetrics epoch(int e) {
        return new EpochMetrics(e, 1.0 / e, Double.NaN, Double.NaN, 0.9 / e, 0.5 + e / 10.0, 100, 4, 2.0, 50.0 * e, 3.0 * e, false,
                null, null, 0.01);
    }

    MlflowHttpRun connect(Path run) {
        return MlflowHttpRun.connect(client, "deepshard", conf, run.toString(), warnings::add);
    }

    @Test
    void aRunFromStartToFinish() throws Exception {
        Path run = dir.resolve("run");
        Files.createDirectories(run);
        Files.writeString(run.resolve("metrics.json"), "{\"testAccuracy\": 0.8}");
        var r = connect(run);
        assertThat(server.experiments()).extracting(FakeMlflowServer.Experiment::name).containsExactly("Default", "deepshard");
        r.start("run", Map.of("training.seed", "5", "model.name", "mlp"), Map.of("mlflow.user", "me"));
        r.logEpoch(epoch(1));
        r.logEpoch(epoch(2));
        r.finish("FINISHED", List.of(epoch(1), epoch(2)), Map.of("final_test_accuracy", 0.7), List.of("metrics.json", "report.html"));

        assertThat(warnings).isEmpty();
        assertThat(r.complete()).isTrue();
        var held = server.runs().get(0);
        assertThat(r.runId()).isEqualTo(held.id);
        assertThat(held.experimentId).isEqualTo(server.experiments().get(1).id());
        assertThat(held.status).isEqualTo("FINISHED");
        assertThat(held.endTime).isGreaterThanOrEqualTo(held.startTime);
        assertThat(held.params).containsOnly(Map.entry("training.seed", "5"), Map.entry("model.name", "mlp"));
        assertThat(held.tags).containsEntry("mlflow.user", "me").containsEntry(MlflowHttpRun.RUN_DIR_TAG, "file:" + run);
        // per epoch, step = epoch; NaN metrics (no validation split) are not sent; the final value at the last epoch
        assertThat(held.metrics.get("test_accuracy")).extracting(FakeMlflowServer.Point::step, FakeMlflowServer.Point::value)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(1L, 0.6), org.assertj.core.groups.Tuple.tuple(2L, 0.7));
        assertThat(held.metrics.get("test_accuracy").get(1).timestamp()).isEqualTo(held.startTime + 6000);
        assertThat(held.metrics).doesNotContainKey("validation_loss").containsKey("learning_rate");
        assertThat(held.metrics.get("final_test_accuracy")).containsExactly(new FakeMlflowServer.Point(0.7,
                held.metrics.get("final_test_accuracy").get(0).timestamp(), 2));
        // the epochs went live, one request each; the end sent only the final metric
        assertThat(server.requests("runs/log-batch")).hasSize(4);
        assertThat(server.artifacts()).containsOnlyKeys(held.experimentId + "/" + held.id + "/artifacts/metrics.json"); // no report.html here
        assertThat(r.summary()).isEqualTo("MLflow server: run " + held.id + " of experiment 'deepshard': " + server.uri() + "/#/experiments/"
                + held.experimentId + "/runs/" + held.id);
        var state = new ObjectMapper().readTree(run.resolve(MlflowHttpRun.STATE_FILE).toFile());
        assertThat(state.get("runId").asText()).isEqualTo(held.id);
        assertThat(state.get("trackingUri").asText()).isEqualTo(server.uri());
        assertThat(state.get("loggedEpochs").toString()).isEqualTo("[1,2]");
    }

    @Test
    void aServerFailingDuringTrainingIsAWarningAndIsCaughtUpAtTheEnd() {
        var r = connect(dir);
        r.start("run", Map.of("a", "1"), Map.of());
        r.logEpoch(epoch(1));
        server.fail("runs/log-batch", 0, 3, 503); // epoch 2 fails all 3 attempts
        r.logEpoch(epoch(2));
        r.logEpoch(epoch(3));                     // not tried: the server failed, training goes on without it
        assertThat(server.requests("runs/log-batch")).hasSize(2 + 3);
        assertThat(warnings).singleElement().asString().startsWith("the MLflow server could not log epoch 2: MLflow tracking server "
                + server.uri() + ": POST /api/2.0/mlflow/runs/log-batch: HTTP 503 TEMPORARILY_UNAVAILABLE: injected failure (3 attempts). "
                + "Training goes on");
        r.finish("FINISHED", List.of(epoch(1), epoch(2), epoch(3)), Map.of(), List.of());
        assertThat(r.complete()).isTrue();
        var held = server.runs().get(0);
        assertThat(held.metrics.get("train_loss")).extracting(FakeMlflowServer.Point::step).containsExactly(1L, 2L, 3L);
        assertThat(held.status).isEqualTo("FINISHED");
    }

    @Test
    void aServerThatStaysDownLeavesTheRunIncompleteAndSaysSo() {
        var r = connect(dir);
        r.start("run", Map.of(), Map.of());
        r.logEpoch(epoch(1));
        server.fail("runs/log-batch", 0, Integer.MAX_VALUE, 500);
        r.logEpoch(epoch(2));
        r.finish("FINISHED", List.of(epoch(1), epoch(2)), Map.of(), List.of());
        assertThat(r.complete()).isFalse();
        assertThat(server.runs().get(0).status).isEqualTo("RUNNING");
        assertThat(r.summary()).isEqualTo("warning: the MLflow server run " + r.runId() + " on " + server.uri()
                + " is incomplete (could not complete the run); the run directory holds everything");
        assertThat(warnings).hasSize(2);
    }

    @Test
    void aRunThatCouldNotBeCreatedIsCreatedAtTheEnd() {
        var r = connect(dir);
        server.fail("runs/create", 0, 3, 502);
        r.start("run", Map.of("a", "1"), Map.of());
        assertThat(r.runId()).isNull();
        r.logEpoch(epoch(1));
        r.finish("FINISHED", List.of(epoch(1)), Map.of(), List.of());
        assertThat(r.complete()).isTrue();
        assertThat(server.runs()).singleElement().satisfies(h -> {
            assertThat(h.params).containsEntry("a", "1");
            assertThat(h.metrics.get("train_loss")).hasSize(1);
        });
    }

    @Test
    void resumingContinuesTheSameServerRunAndSendsOnlyWhatItLacks() {
        var first = connect(dir);
        first.start("run", Map.of("training.seed", "5", "training.checkpointKeep", "2"), Map.of());
        first.logEpoch(epoch(1));
        first.logEpoch(epoch(2));
        // killed here (SIGKILL: no status); a later session resumes from the checkpoint of epoch 1
        var second = connect(dir);
        assertThat(second.continued()).isTrue();
        assertThat(second.runId()).isEqualTo(first.runId());
        second.start("run", Map.of("training.seed", "5", "training.checkpointKeep", "3"), Map.of("deepshard.applicationId", "app-2"));
        assertThat(warnings).singleElement().asString().contains("training.checkpointKeep changed since the server run");
        second.logEpoch(epoch(2)); // trained again after the resume: logged again, the newer point wins in MLflow's latest value
        second.finish("FINISHED", List.of(epoch(1), epoch(2), epoch(3)), Map.of(), List.of());
        assertThat(server.runs()).hasSize(1);
        var held = server.runs().get(0);
        assertThat(held.params).containsEntry("training.checkpointKeep", "2");
        assertThat(held.tags).containsEntry("deepshard.applicationId", "app-2");
        assertThat(held.metrics.get("train_loss")).extracting(FakeMlflowServer.Point::step).containsExactly(1L, 2L, 2L, 3L);
        assertThat(held.status).isEqualTo("FINISHED");
        assertThat(server.requests("runs/update").get(0).json().get("status").asText()).isEqualTo("RUNNING");
    }

    @Test
    void anotherServerOrAVanishedRunStartsANewRun() throws Exception {
        var first = connect(dir);
        first.start("run", Map.of(), Map.of());
        Path state = dir.resolve(MlflowHttpRun.STATE_FILE);
        Files.writeString(state, Files.readString(state).replace(first.runId(), "feedbeef"));
        var second = connect(dir);
        assertThat(second.continued()).isFalse();
        assertThat(warnings).singleElement().isEqualTo("the MLflow server " + server.uri() + " no longer has run feedbeef of this run "
                + "directory: a new run is created");
        second.start("run", Map.of(), Map.of());
        assertThat(server.runs()).hasSize(2);
    }

    @Test
    void failedKilledAndADeletedExperiment() {
        var r = connect(dir.resolve("a"));
        r.start("a", Map.of(), Map.of());
        r.failed();
        assertThat(server.runs().get(0).status).isEqualTo("FAILED");
        assertThat(server.runs().get(0).endTime).isNotNull();

        var k = connect(dir.resolve("b"));
        k.start("b", Map.of(), Map.of());
        k.killed();
        assertThat(server.runs().get(1).status).isEqualTo("KILLED");

        server.addExperiment("gone", "deleted");
        assertThatThrownBy(() -> MlflowHttpRun.connect(client, "gone", conf, dir.toString(), warnings::add))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the experiment 'gone' (id 2) is deleted on the MLflow tracking server " + server.uri());
    }

    @Test
    void artifactsAreSkippedWithAWarningWhenTheServerDoesNotProxyThem() throws Exception {
        server.serveArtifacts(false);
        Files.writeString(dir.resolve("metrics.json"), "{}");
        var r = connect(dir);
        r.start("run", Map.of(), Map.of());
        r.finish("FINISHED", List.of(epoch(1)), Map.of(), List.of("metrics.json"));
        assertThat(r.complete()).isTrue();
        assertThat(warnings).singleElement().asString().contains("stores run " + r.runId() + "'s artifacts at /srv/mlruns/")
                .contains("metrics.json not uploaded");
        assertThat(server.requests()).noneMatch(q -> q.method().equals("PUT"));
    }
}
