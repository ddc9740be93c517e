package io.deepshard.core.tracking;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The REST client against {@link FakeMlflowServer}: the calls, batch limits, value cuts, retries, errors and credentials. */
class MlflowRestClientTest {
    static final MlflowRestClient.Retry FAST = new MlflowRestClient.Retry(3, Duration.ofMillis(1));
    final FakeMlflowServer server = FakeMlflowServer.start();
    final MlflowRestClient client = new MlflowRestClient(server.uri() + "/", MlflowRestClient.Credentials.NONE, FAST);

    @AfterEach
    void stop() { server.close(); }

    @Test
    void experimentAndRunCalls() {
        assertThat(client.trackingUri()).isEqualTo(server.uri());
        assertThat(client.experimentByName("deepshard")).isEmpty();
        String id = client.createExperiment("deepshard");
        assertThat(client.experimentByName("deepshard")).get().extracting(MlflowRestClient.Experiment::id, MlflowRestClient.Experiment::lifecycleStage)
                .containsExactly(id, "active");
        // a second create of the same name is MLflow's RESOURCE_ALREADY_EXISTS, 400, not retried
        var dup = catchThrowableOfType(MlflowServerException.class, () -> client.createExperiment("deepshard"));
        assertThat(dup.status()).isEqualTo(400);
        assertThat(dup.errorCode()).isEqualTo("RESOURCE_ALREADY_EXISTS");
        assertThat(dup).hasMessage("MLflow tracking server " + server.uri() + ": POST /api/2.0/mlflow/experiments/create: HTTP 400 "
                + "RESOURCE_ALREADY_EXISTS: Experiment(name=deepshard) already exists.");
        assertThat(server.requests("experiments/create")).hasSize(2);

        var info = client.createRun(id, "run-1", 1_700_000_000_123L, Map.of("mlflow.user", "me"));
        assertThat(info.runName()).isEqualTo("run-1");
        assertThat(info.startTime()).isEqualTo(1_700_000_000_123L);
        assertThat(info.status()).isEqualTo("RUNNING");
        assertThat(info.artifactUri()).isEqualTo("mlflow-artifacts:/" + id + "/" + info.runId() + "/artifacts");
        client.updateRun(info.runId(), "FINISHED", 1_700_000_009_000L);
        var run = client.getRun(info.runId()).orElseThrow();
        assertThat(run.info().status()).isEqualTo("FINISHED");
        assertThat(run.info().endTime()).isEqualTo(1_700_000_009_000L);
        assertThat(run.tags()).containsEntry("mlflow.user", "me");
        assertThat(client.getRun("0123456789abcdef")).isEmpty();
        // what went over the wire: JSON with MLflow's field names, start_time as a number
        var create = server.requests("runs/create").get(0);
        assertThat(create.contentType()).isEqualTo("application/json");
        assertThat(create.json().get("start_time").isIntegralNumber()).isTrue();
        assertThat(create.json().get("tags").get(0).get("key").asText()).isEqualTo("mlflow.user");
        assertThat(server.requests("runs/update").get(0).json().get("status").asText()).isEqualTo("FINISHED");
    }

    @Test
    void logBatchSplitsWithinMlflowsLimitsAndCutsLongValues() {
        String run = client.createRun(client.createExperiment("e"), "r", 1, Map.of()).runId();
        var params = new LinkedHashMap<String, String>();
        for (int i = 0; i < 250; i++) params.put("p" + i, "v" + i);
        params.put("long", "x".repeat(2000));
        var tags = new LinkedHashMap<String, String>();
        for (int i = 0; i < 120; i++) tags.put("t" + i, "w" + i);
        tags.put("longTag", "y".repeat(6000));
        var metrics = new ArrayList<MlflowRestClient.Metric>();
        for (int i = 0; i < 2500; i++) metrics.add(new MlflowRestClient.Metric("m" + (i % 7), i * 0.5, 1000L + i, i / 7));
        server.maxParamValue(500); // MLflow 1.x's limit: values are cut to 500 characters, like the file store's
        client.logBatch(run, metrics, params, tags);

        // 251 params, 121 tags, 2500 metrics: 100/100/800, 100/21/879, 51/0/821 entities
        var batches = server.requests("runs/log-batch");
        assertThat(batches).hasSize(3);
        for (var b : batches) {
            var j = b.json();
            assertThat(j.get("params").size()).isLessThanOrEqualTo(100);
            assertThat(j.get("tags").size()).isLessThanOrEqualTo(100);
            assertThat(j.get("metrics").size() + j.get("params").size() + j.get("tags").size()).isLessThanOrEqualTo(1000);
        }
        assertThat(batches.get(2).json().get("params").size()).isEqualTo(51);
        var held = server.runs().get(0);
        assertThat(held.params).hasSize(251).containsEntry("p249", "v249");
        assertThat(held.params.get("long")).hasSize(500).isEqualTo("x".repeat(499) + "…");
        assertThat(held.tags.get("longTag")).hasSize(5000).endsWith("y…");
        assertThat(held.tags).containsEntry("t119", "w119");
        assertThat(held.metrics.values().stream().mapToInt(List::size).sum()).isEqualTo(2500);
        assertThat(held.metrics.get("m3").get(1)).isEqualTo(new FakeMlflowServer.Point(5.0, 1010, 1));
        // within the limits a call is one request
        assertThat(MlflowRestClient.chunks(metrics.subList(0, 900), List.copyOf(params.entrySet()).subList(0, 100), List.of())).hasSize(1);
    }

    @Test
    void transientErrorsAreRetriedThenSucceed() {
        String run = client.createRun(client.createExperiment("e"), "r", 1, Map.of()).runId();
        server.fail("runs/log-batch", 0, 2, 503);
        client.logBatch(run, List.of(new MlflowRestClient.Metric("loss", 0.25, 5, 1)), Map.of(), Map.of());
        assertThat(server.requests("runs/log-batch")).hasSize(3);
        assertThat(server.runs().get(0).metrics.get("loss")).containsExactly(new FakeMlflowServer.Point(0.25, 5, 1));

        server.fail("runs/update", 0, 1, 429);
        client.updateRun(run, "FINISHED", 9L);
        assertThat(server.requests("runs/update")).hasSize(2);
    }

    @Test
    void errorsNameTheServerTheCallTheStatusAndMlflowsMessage() {
        String run = client.createRun(client.createExperiment("e"), "r", 1, Map.of()).runId();
        server.fail("runs/log-batch", 0, 3, 503); // as many failures as attempts
        var down = catchThrowableOfType(MlflowServerException.class,
                () -> client.logBatch(run, List.of(new MlflowRestClient.Metric("loss", 1, 1, 1)), Map.of(), Map.of()));
        assertThat(down).hasMessage("MLflow tracking server " + server.uri() + ": POST /api/2.0/mlflow/runs/log-batch: HTTP 503 "
                + "TEMPORARILY_UNAVAILABLE: injected failure (3 attempts)");
        assertThat(server.requests("runs/log-batch")).hasSize(3);

        // a rejected request is not retried: a param logged again with another value (MLflow keeps the first)
        client.logBatch(client.createRun("1", "r2", 1, Map.of()).runId(), List.of(), Map.of(), Map.of());
        String other = server.runs().get(1).id;
        client.logBatch(other, List.of(), Map.of("lr", "0.1"), Map.of());
        var changed = catchThrowableOfType(MlflowServerException.class, () -> client.logBatch(other, List.of(), Map.of("lr", "0.2"), Map.of()));
        assertThat(changed.status()).isEqualTo(400);
        assertThat(changed.getMessage()).contains("runs/log-batch: HTTP 400 INVALID_PARAMETER_VALUE: Changing param values is not allowed. "
                + "Param with key='lr' was already logged with value='0.1'");
        assertThat(catchThrowableOfType(MlflowServerException.class, () -> client.updateRun("0123abc", "FINISHED", 1L)).notFound()).isTrue();
    }

    @Test
    void credentialsGoInTheAuthorizationHeaderAndNeverIntoMessages() {
        server.requireAuthorization("Bearer s3cret-token");
        var none = catchThrowableOfType(MlflowServerException.class, () -> client.experimentByName("e"));
        assertThat(none.authentication()).isTrue();
        assertThat(none).hasMessageStartingWith("MLflow tracking server " + server.uri() + ": GET /api/2.0/mlflow/experiments/get-by-name: "
                + "HTTP 401 You are not authenticated.");
        assertThat(server.requests()).hasSize(1); // 401 is not retried

        var bearer = MlflowRestClient.Credentials.fromEnvironment(Map.of("MLFLOW_TRACKING_TOKEN", "s3cret-token"));
        assertThat(new MlflowRestClient(server.uri(), bearer, FAST).experimentByName("e")).isEmpty();
        assertThat(bearer.toString()).doesNotContain("s3cret").contains("MLFLOW_TRACKING_TOKEN");

        server.requireAuthorization("Basic " + java.util.Base64.getEncoder().encodeToString("ann:pw:x".getBytes(StandardCharsets.UTF_8)));
        var basic = MlflowRestClient.Credentials.fromEnvironment(Map.of("MLFLOW_TRACKING_USERNAME", "ann", "MLFLOW_TRACKING_PASSWORD", "pw:x",
                "MLFLOW_TRACKING_TOKEN", "ignored")); // as MLflow's clients: username and password win over a token
        assertThat(new MlflowRestClient(server.uri(), basic, FAST).experimentByName("e")).isEmpty();
        var wrong = catchThrowableOfType(MlflowServerException.class,
                () -> new MlflowRestClient(server.uri(), MlflowRestClient.Credentials.basic("ann", "bad-pw"), FAST).experimentByName("e"));
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(wrong.getMessage()).doesNotContain("bad-pw").doesNotContain("ann");

        assertThatThrownBy(() -> MlflowRestClient.Credentials.fromEnvironment(Map.of("MLFLOW_TRACKING_USERNAME", "ann")))
                .hasMessage("MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not: set both for HTTP Basic authentication, or neither");
        assertThat(MlflowRestClient.Credentials.fromEnvironment(Map.of())).isSameAs(MlflowRestClient.Credentials.NONE);
    }

    @Test
    void aServerThatIsNotThereIsStatusZeroAfterTheRetries() throws Exception {
        int port;
        try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        var c = new MlflowRestClient("http://127.0.0.1:" + port, MlflowRestClient.Credentials.NONE, FAST);
        var e = catchThrowableOfType(MlflowServerException.class, () -> c.experimentByName("e"));
        assertThat(e.status()).isZero();
        assertThat(e.getMessage()).startsWith("MLflow tracking server http://127.0.0.1:" + port + ": GET /api/2.0/mlflow/experiments/get-by-name: "
                + "no answer (java.net.ConnectException").endsWith("(3 attempts)");
    }

    @Test
    void artifactsGoToTheProxiedArtifactsApi() {
        var c = new MlflowRestClient("https://mlflow.example:8443/prefix", MlflowRestClient.Credentials.NONE, FAST);
        assertThat(c.artifactsUrl("mlflow-artifacts:/3/abc/artifacts")).hasValue("https://mlflow.example:8443/prefix/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts");
        assertThat(c.artifactsUrl("mlflow-artifacts://other:5000/3/abc/artifacts")).hasValue("https://other:5000/prefix/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts");
        assertThat(c.artifactsUrl("http://h/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/")).hasValue("http://h/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts");
        assertThat(c.artifactsUrl("s3://bucket/3/abc/artifacts")).isEmpty();
        assertThat(c.artifactsUrl("/srv/mlruns/3/abc/artifacts")).isEmpty();

        var info = client.createRun(client.createExperiment("e"), "r", 1, Map.of());
        String url = client.artifactsUrl(info.artifactUri()).orElseThrow();
        client.uploadArtifact(url, "model/my report.html", "<html>".getBytes(StandardCharsets.UTF_8));
        assertThat(server.artifacts()).containsOnlyKeys(info.experimentId() + "/" + info.runId() + "/artifacts/model/my report.html");
        assertThat(server.requests().get(server.requests().size() - 1).method()).isEqualTo("PUT");
        assertThat(server.requests().get(server.requests().size() - 1).contentType()).isEqualTo("text/html");
    }
}
