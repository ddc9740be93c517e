package io.deepshard.core.tracking;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The calls of MLflow's REST API 2.0 that a training run needs, over {@code java.net.http} with Jackson (the Java
 * client {@code org.mlflow:mlflow-client} is not on the Maven mirror this project builds from). Requests follow
 * {@code mlflow/protos/service.proto} and the server's checks in {@code mlflow/server/handlers.py}: JSON bodies with
 * {@code Content-Type: application/json}, run ids as {@code run_id}, 64-bit integers as JSON numbers, run statuses by
 * name; errors come back as {@code {"error_code": ..., "message": ...}} with the matching HTTP status.
 *
 * <p>{@link #logBatch} splits what it is given into requests within MLflow's limits ({@code mlflow/utils/validation.py}:
 * at most 1000 metrics, 100 params, 100 tags and 1000 entities per request) and cuts parameter and tag values to
 * {@link MlflowRunDir#MAX_PARAM} and {@link #MAX_TAG} characters. Calls that fail with an I/O error, 429 or a 5xx status
 * are retried with exponential backoff (honouring {@code Retry-After}); other errors fail at once.
 */
public final class MlflowRestClient {
    public static final int MAX_METRICS_PER_BATCH = 1000, MAX_PARAMS_TAGS_PER_BATCH = 100, MAX_ENTITIES_PER_BATCH = 1000;
    /** MLflow's {@code MAX_TAG_VAL_LENGTH}. */
    public static final int MAX_TAG = 5000;
    static final String ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30), MAX_RETRY_DELAY = Duration.ofSeconds(30);

    /** A metric point: {@code step} is the epoch, {@code timestamp} milliseconds since the epoch. */
    public record Metric(String key, double value, long timestamp, long step) {}

    public record Experiment(String id, String name, String lifecycleStage, String artifactLocation) {}

    public record RunInfo(String runId, String experimentId, String runName, String status, long startTime, Long endTime,
                          String artifactUri, String lifecycleStage) {}

    public record Run(RunInfo info, Map<String, String> params, Map<String, String> tags) {}

    /** One {@code runs/log-batch} request's content. */
    record Batch(List<Metric> metrics, List<Map.Entry<String, String>> params, List<Map.Entry<String, String>> tags) {}

    /**
     * How failed calls are retried: {@code attempts} in all, waiting {@code firstDelay}, then twice as long each time.
     * The default, 4 attempts from 0.5 s, gives a server about 3.5 s to come back.
     */
    public record Retry(int attempts, Duration firstDelay) {
        public static final Retry DEFAULT = new Retry(4, Duration.ofMillis(500));
        public static final Retry NONE = new Retry(1, Duration.ZERO);
    }

    /**
     * How requests authenticate, as MLflow's clients do: HTTP Basic with {@code MLFLOW_TRACKING_USERNAME} and
     * {@code MLFLOW_TRACKING_PASSWORD}, else a bearer token {@code MLFLOW_TRACKING_TOKEN}, else nothing. {@link #toString}
     * names the variables, never their values.
     */
    public static final class Credentials {
        public static final Credentials NONE = new Credentials(null, "no credentials");
        private final String header;
        private final String description;

        private Credentials(String header, String description) {
            this.header = header;
            this.description = description;
        }

        public static Credentials basic(String user, String password) {
            String token = Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
            return new Credentials("Basic " + token, "HTTP Basic authentication (MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD)");
        }

        public static Credentials bearer(String token) { return new Credentials("Bearer " + token, "a bearer token (MLFLOW_TRACKING_TOKEN)"); }

        /** From the environment; one of username and password without the other is an error naming both variables. */
        public static Credentials fromEnvironment(Map<String, String> env) {
            String user = blankToNull(env.get("MLFLOW_TRACKING_USERNAME")), password = blankToNull(env.get("MLFLOW_TRACKING_PASSWORD"));
            String token = blankToNull(env.get("MLFLOW_TRACKING_TOKEN"));
            if ((user == null) != (password == null)) {
                throw new IllegalArgumentException((user == null ? "MLFLOW_TRACKING_PASSWORD" : "MLFLOW_TRACKING_USERNAME")
                        + " is set but " + (user == null ? "MLFLOW_TRACKING_USERNAME" : "MLFLOW_TRACKING_PASSWORD")
                        + " is not: set both for HTTP Basic authentication, or neither");
            }
            if (user != null) return basic(user, password);
            return token != null ? bearer(token) : NONE;
        }

        private static String blankToNull(String s) { return s == null || s.isBlank() ? null : s; }

        @Override public String toString() { return description; }
    }

    private final String base;
    private final Credentials credentials;
    private final Retry retry;
    private final HttpClient http;

    /** @param trackingUri the server's {@code http(s)://host:port[/prefix]} URL */
    public MlflowRestClient(String trackingUri, Credentials credentials, Retry retry) {
        this.base = trackingUri.replaceAll("/+$", "");
        this.credentials = credentials;
        this.retry = retry;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).followRedirects(HttpClient.Redirect.NORMAL).build();
    }

    public String trackingUri() { return base; }

    /** The same server and credentials with another retry policy. */
    public MlflowRestClient withRetry(Retry other) { return new MlflowRestClient(base, credentials, other); }

    public Credentials credentials() { return credentials; }

    /** The experiment of that name (active or deleted), or empty when the server has none. */
    public Optional<Experiment> experimentByName(String name) {
        try {
            JsonNode e = call("GET", "experiments/get-by-name?experiment_name=" + encode(name), null).path("experiment");
            return Optional.of(new Experiment(e.path("experiment_id").asText(), e.path("name").asText(), e.path("lifecycle_stage").asText("active"),
                    e.path("artifact_location").asText(null)));
        } catch (MlflowServerException ex) {
            if (ex.notFound()) return Optional.empty();
            throw ex;
        }
    }

    /** Creates an experiment and returns its id. */
    public String createExperiment(String name) {
        ObjectNode body = JSON.createObjectNode().put("name", name);
        return call("POST", "experiments/create", body).path("experiment_id").asText();
    }

    public RunInfo createRun(String experimentId, String runName, long startTime, Map<String, String> tags) {
        ObjectNode body = JSON.createObjectNode().put("experiment_id", experimentId).put("run_name", runName).put("start_time", startTime);
        ArrayNode t = body.putArray("tags");
        for (var e : cutTags(tags).entrySet()) t.addObject().put("key", e.getKey()).put("value", e.getValue());
        return run(call("POST", "runs/create", body).path("run")).info();
    }

    /** The run with its params and tags, or empty when the server has no run of that id. */
    public Optional<Run> getRun(String runId) {
        try {
            return Optional.of(run(call("GET", "runs/get?run_id=" + encode(runId), null).path("run")));
        } catch (MlflowServerException ex) {
            if (ex.notFound()) return Optional.empty();
            throw ex;
        }
    }

    /** Sets the run's status ({@code RUNNING}, {@code FINISHED}, {@code FAILED}, {@code KILLED}) and, if not null, end time. */
    public void updateRun(String runId, String status, Long endTime) {
        ObjectNode body = JSON.createObjectNode().put("run_id", runId).put("status", status);
        if (endTime != null) body.put("end_time", endTime);
        call("POST", "runs/update", body);
    }

    /** Logs metrics, params and tags in as many {@code runs/log-batch} requests as MLflow's limits need (none if all are empty). */
    public void logBatch(String runId, List<Metric> metrics, Map<String, String> params, Map<String, String> tags) {
        var p = new LinkedHashMap<String, String>();
        params.forEach((k, v) -> p.put(k, MlflowRunDir.paramValue(v)));
        for (Batch b : chunks(metrics, new ArrayList<>(p.entrySet()), new ArrayList<>(cutTags(tags).entrySet()))) {
            ObjectNode body = JSON.createObjectNode().put("run_id", runId);
            ArrayNode m = body.putArray("metrics");
            for (Metric x : b.metrics()) m.addObject().put("key", x.key()).put("value", x.value()).put("timestamp", x.timestamp()).put("step", x.step());
            ArrayNode pa = body.putArray("params");
            for (var e : b.params()) pa.addObject().put("key", e.getKey()).put("value", e.getValue());
            ArrayNode ta = body.putArray("tags");
            for (var e : b.tags()) ta.addObject().put("key", e.getKey()).put("value", e.getValue());
            call("POST", "runs/log-batch", body);
        }
    }

    /**
     * Splits into requests of at most 100 params, 100 tags and 1000 metrics, 1000 entities in all (params and tags
     * first, metrics filling the rest). With values cut to 500 (params) and 5000 (tags) characters a request stays well
     * under MLflow's 1 MB request limit.
     */
    static List<Batch> chunks(List<Metric> metrics, List<Map.Entry<String, String>> params, List<Map.Entry<String, String>> tags) {
        var out = new ArrayList<Batch>();
        int m = 0, p = 0, t = 0;
        while (m < metrics.size() || p < params.size() || t < tags.size()) {
            int np = Math.min(MAX_PARAMS_TAGS_PER_BATCH, params.size() - p), nt = Math.min(MAX_PARAMS_TAGS_PER_BATCH, tags.size() - t);
            int nm = Math.min(Math.min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - np - nt), metrics.size() - m);
            out.add(new Batch(List.copyOf(metrics.subList(m, m + nm)), List.copyOf(params.subList(p, p + np)), List.copyOf(tags.subList(t, t + nt))));
            m += nm;
            p += np;
            t += nt;
        }
        return out;
    }

    private static Map<String, String> cutTags(Map<String, String> tags) {
        var out = new LinkedHashMap<String, String>();
        tags.forEach((k, v) -> out.put(k, v.length() > MAX_TAG ? v.substring(0, MAX_TAG - 1) + "…" : v));
        return out;
    }

    /**
     * The HTTP URL of a run's artifact root when the server proxies artifacts ({@code mlflow server --serve-artifacts},
     * the default since MLflow 2.0): artifact URIs {@code mlflow-artifacts:/path} and
     * {@code mlflow-artifacts://host:port/path} resolve, as in MLflow's {@code MlflowArtifactsRepository}, to
     * {@code <tracking URI>/api/2.0/mlflow-artifacts/artifacts/path}; an http(s) root already under that API is used as it
     * is. Empty for artifact stores this client cannot write (a local path, s3://, ...).
     */
    public Optional<String> artifactsUrl(String artifactUri) {
        if (artifactUri == null) return Optional.empty();
        if (artifactUri.startsWith("http://") || artifactUri.startsWith("https://")) {
            return artifactUri.contains(ARTIFACTS_API) ? Optional.of(artifactUri.replaceAll("/+$", "")) : Optional.empty();
        }
        if (!artifactUri.startsWith("mlflow-artifacts:")) return Optional.empty();
        URI a = URI.create(artifactUri), t = URI.create(base);
        String authority = a.getHost() != null ? a.getHost() + (a.getPort() > 0 ? ":" + a.getPort() : "") : t.getRawAuthority();
        String prefix = t.getRawPath() == null ? "" : t.getRawPath().replaceAll("/+$", "");
        String path = a.getRawPath() == null ? "" : a.getRawPath().replaceAll("^/+|/+$", "");
        return Optional.of(t.getScheme() + "://" + authority + prefix + ARTIFACTS_API + (path.isEmpty() ? "" : "/" + path));
    }

    /** Uploads one file under a run's artifact root ({@code PUT}, as MLflow's {@code HttpArtifactRepository.log_artifact}). */
    public void uploadArtifact(String artifactsUrl, String relativePath, byte[] content) {
        var url = new StringBuilder(artifactsUrl);
        for (String segment : relativePath.split("/")) url.append('/').append(encode(segment).replace("+", "%20"));
        send("PUT", url.toString(), HttpRequest.BodyPublishers.ofByteArray(content), contentType(relativePath));
    }

    private static String contentType(String path) {
        String p = path.toLowerCase(Locale.ROOT);
        if (p.endsWith(".html")) return "text/html";
        if (p.endsWith(".json")) return "application/json";
        if (p.endsWith(".yaml") || p.endsWith(".yml")) return "application/x-yaml";
        return "application/octet-stream";
    }

    private static Run run(JsonNode r) {
        JsonNode i = r.path("info");
        String id = i.hasNonNull("run_id") ? i.path("run_id").asText() : i.path("run_uuid").asText();
        JsonNode end = i.get("end_time");
        var info = new RunInfo(id, i.path("experiment_id").asText(), i.path("run_name").asText(null), i.path("status").asText(null),
                i.path("start_time").asLong(), end == null || end.isNull() ? null : end.asLong(), i.path("artifact_uri").asText(null),
                i.path("lifecycle_stage").asText("active"));
        return new Run(info, keyValues(r.path("data").path("params")), keyValues(r.path("data").path("tags")));
    }

    private static Map<String, String> keyValues(JsonNode list) {
        var out = new LinkedHashMap<String, String>();
        for (JsonNode e : list) out.put(e.path("key").asText(), e.path("value").asText(""));
        return out;
    }

    private JsonNode call(String method, String endpoint, ObjectNode body) {
        String url = base + "/api/2.0/mlflow/" + endpoint;
        String text;
        try {
            text = body == null ? null : JSON.writeValueAsString(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String answer = send(method, url, text == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(text),
                text == null ? null : "application/json");
        try {
            return answer.isBlank() ? JSON.createObjectNode() : JSON.readTree(answer);
        } catch (IOException e) {
            throw new MlflowServerException(describe(method, url) + ": the answer is not JSON: " + excerpt(answer), 200, null, e);
        }
    }

    /** Sends with retries; returns the body of a 2xx answer, else throws {@link MlflowServerException}. */
    private String send(String method, String url, HttpRequest.BodyPublisher body, String contentType) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(REQUEST_TIMEOUT).method(method, body)
                .header("Accept", "application/json").header("User-Agent", "deepshard");
        if (contentType != null) b.header("Content-Type", contentType);
        if (credentials.header != null) b.header("Authorization", credentials.header);
        HttpRequest request = b.build();
        MlflowServerException last = null;
        for (int attempt = 1; attempt <= Math.max(1, retry.attempts()); attempt++) {
            Duration wait = retry.firstDelay().multipliedBy(1L << Math.min(20, attempt - 1));
            try {
                HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                if (r.statusCode() / 100 == 2) return r.body();
                last = error(method, url, r);
                boolean retryable = r.statusCode() == 429 || r.statusCode() == 500 || r.statusCode() == 502 || r.statusCode() == 503
                        || r.statusCode() == 504;
                if (!retryable) throw last;
                Optional<String> after = r.headers().firstValue("Retry-After");
                if (after.isPresent() && after.get().trim().matches("\\d{1,6}")) wait = Duration.ofSeconds(Long.parseLong(after.get().trim()));
            } catch (IOException e) {
                last = new MlflowServerException(describe(method, url) + ": no answer (" + e + ")", 0, null, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new MlflowServerException(describe(method, url) + ": interrupted", 0, null, e);
            }
            if (attempt < retry.attempts()) {
                try {
                    Thread.sleep(Math.min(wait.toMillis(), MAX_RETRY_DELAY.toMillis()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw last;
                }
            }
        }
        throw retry.attempts() <= 1 ? last
                : new MlflowServerException(last.getMessage() + " (" + retry.attempts() + " attempts)", last.status(), last.errorCode(), last.getCause());
    }

    private MlflowServerException error(String method, String url, HttpResponse<String> r) {
        String body = r.body() == null ? "" : r.body();
        String code = null, message = excerpt(body);
        try {
            JsonNode j = JSON.readTree(body);
            if (j != null && j.hasNonNull("error_code")) {
                code = j.get("error_code").asText();
                message = code + ": " + excerpt(j.path("message").asText(""));
            }
        } catch (IOException notJson) {
            // a proxy's or an authentication layer's page: its text is the message
        }
        return new MlflowServerException(describe(method, url) + ": HTTP " + r.statusCode() + (message.isEmpty() ? "" : " " + message),
                r.statusCode(), code, null);
    }

    private String describe(String method, String url) {
        String where = url.startsWith(base + "/") ? url.substring(base.length()) : url;
        return "MLflow tracking server " + base + ": " + method + " " + where.replaceAll("\\?.*", "");
    }

    private static String excerpt(String s) {
        String one = s.replaceAll("\\s+", " ").trim();
        return one.length() > 500 ? one.substring(0, 500) + "…" : one;
    }

    private static String encode(String s) { return URLEncoder.encode(s, StandardCharsets.UTF_8); }
}
