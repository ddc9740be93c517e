package io.deepshard.core.tracking;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * An MLflow tracking server on 127.0.0.1 for tests: the REST calls {@link MlflowRestClient} makes, with the checks of
 * MLflow's {@code handlers.py}, {@code validation.py} and tracking stores (required fields and their types, name rules,
 * length and batch limits, params that must not change, runs and experiments that must exist and be active), answering
 * errors as MLflow does ({@code {"error_code": ..., "message": ...}} with the status of MLflow's
 * {@code ERROR_CODE_TO_HTTP_STATUS}). It records every request and what was logged, can demand credentials (401 as
 * MLflow's basic-auth app) and can be told to fail calls.
 */
public final class FakeMlflowServer implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Pattern NAME = Pattern.compile("^[/\\w.\\- ]*$");
    static final Pattern RUN_ID = Pattern.compile("^[a-zA-Z0-9][\\w\\-]{0,255}$");
    static final Set<String> STATUSES = Set.of("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED");
    static final Map<String, Integer> HTTP_STATUS = Map.of("INVALID_PARAMETER_VALUE", 400, "RESOURCE_ALREADY_EXISTS", 400, "BAD_REQUEST", 400,
            "RESOURCE_DOES_NOT_EXIST", 404, "ENDPOINT_NOT_FOUND", 404, "UNAUTHENTICATED", 401, "PERMISSION_DENIED", 403,
            "REQUEST_LIMIT_EXCEEDED", 429, "INTERNAL_ERROR", 500, "TEMPORARILY_UNAVAILABLE", 503);

    public record Request(String method, String path, String query, String contentType, String authorization, String body) {
        public JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    public record Point(double value, long timestamp, long step) {}

    public record Experiment(String id, String name, String lifecycleStage, String artifactLocation) {}

    /** A run as the server holds it. */
    public static final class Run {
        public final String id, experimentId, runName, artifactUri;
        public final long startTime;
        public String status = "RUNNING", lifecycleStage = "active";
        public Long endTime;
        public final Map<String, String> params = new LinkedHashMap<>(), tags = new LinkedHashMap<>();
        public final Map<String, List<Point>> metrics = new LinkedHashMap<>();

        Run(String id, String experimentId, String runName, long startTime, String artifactUri) {
            this.id = id;
            this.experimentId = experimentId;
            this.runName = runName;
            this.startTime = startTime;
            this.artifactUri = artifactUri;
        }
    }

    private static final class MlflowError extends RuntimeException {
        final String code;
        MlflowError(String code, String message) {
            super(message);
            this.code = code;
        }
    }

    private record Failure(String endpoint, int status, int skip, int times) {}

    private final HttpServer server;
    private final List<Request> requests = new ArrayList<>();
    private final Map<String, Experiment> experiments = new LinkedHashMap<>();
    private final Map<String, Run> runs = new LinkedHashMap<>();
    private final Map<String, byte[]> artifacts = new LinkedHashMap<>();
    private final List<Failure> failures = new ArrayList<>();
    private final Map<String, Integer> calls = new HashMap<>();
    private String requiredAuthorization;
    private boolean serveArtifacts = true;
    private int maxParamValue = 6000;

    private FakeMlflowServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        experiments.put("0", new Experiment("0", "Default", "active", "mlflow-artifacts:/0"));
        server.start();
    }

    public static FakeMlflowServer start() {
        try {
            return new FakeMlflowServer();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public String uri() { return "http://127.0.0.1:" + server.getAddress().getPort(); }

    /** Answers 401 to requests without this {@code Authorization} header value. */
    public synchronized FakeMlflowServer requireAuthorization(String headerValue) { requiredAuthorization = headerValue; return this; }

    /** false: runs get a local artifact root and the artifacts API answers 503, as {@code mlflow server --no-serve-artifacts}. */
    public synchronized FakeMlflowServer serveArtifacts(boolean on) { serveArtifacts = on; return this; }

    /** The longest parameter value accepted: 6000 in MLflow 2.x, 500 in 1.x. */
    public synchronized FakeMlflowServer maxParamValue(int n) { maxParamValue = n; return this; }

    /** Calls of {@code endpoint} (e.g. {@code runs/log-batch}) after the first {@code skip} fail with {@code status}, {@code times} times. */
    public synchronized void fail(String endpoint, int skip, int times, int status) {
        failures.add(new Failure(endpoint, status, calls.getOrDefault(endpoint, 0) + skip, times));
    }

    public synchronized void addExperiment(String name, String lifecycleStage) {
        String id = Integer.toString(experiments.size());
        experiments.put(id, new Experiment(id, name, lifecycleStage, "mlflow-artifacts:/" + id));
    }

    public synchronized List<Request> requests() { return List.copyOf(requests); }

    public synchronized List<Request> requests(String endpoint) {
        return requests.stream().filter(r -> r.path().endsWith("/" + endpoint)).toList();
    }

    public synchronized List<Experiment> experiments() { return List.copyOf(experiments.values()); }

    public synchronized List<Run> runs() { return List.copyOf(runs.values()); }

    public synchronized Map<String, byte[]> artifacts() { return Map.copyOf(artifacts); }

    @Override public void close() { server.stop(0); }

    private void handle(HttpExchange ex) throws IOException {
        byte[] in = ex.getRequestBody().readAllBytes();
        String path = ex.getRequestURI().getRawPath(), query = ex.getRequestURI().getRawQuery();
        String method = ex.getRequestMethod();
        int status;
        String answer, type = "application/json";
        synchronized (this) {
            requests.add(new Request(method, path, query, ex.getRequestHeaders().getFirst("Content-Type"),
                    ex.getRequestHeaders().getFirst("Authorization"), new String(in, StandardCharsets.UTF_8)));
            String endpoint = path.startsWith("/api/2.0/mlflow/") ? path.substring("/api/2.0/mlflow/".length())
                    : path.startsWith(MlflowRestClient.ARTIFACTS_API + "/") ? "mlflow-artifacts" : path;
            int n = calls.merge(endpoint, 1, Integer::sum);
            Failure injected = failures.stream().filter(f -> f.endpoint().equals(endpoint) && n > f.skip() && n <= (long) f.skip() + f.times())
                    .findFirst().orElse(null);
            if (requiredAuthorization != null && !requiredAuthorization.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                status = 401;
                type = "text/plain";
                answer = "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow "
                        + "on how to authenticate.";
                ex.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"mlflow\"");
            } else if (injected != null) {
                status = injected.status();
                answer = error(status == 429 ? "REQUEST_LIMIT_EXCEEDED" : status == 503 ? "TEMPORARILY_UNAVAILABLE" : "INTERNAL_ERROR",
                        "injected failure").toString();
            } else if (endpoint.equals("mlflow-artifacts") && !serveArtifacts) {
                status = 503;
                type = "text/plain";
                answer = "Endpoint: " + path + " disabled due to the mlflow server running with `--no-serve-artifacts`.";
            } else {
                try {
                    answer = dispatch(method, endpoint, path, query, in, ex.getRequestHeaders().getFirst("Content-Type")).toString();
                    status = 200;
                } catch (MlflowError e) {
                    status = HTTP_STATUS.getOrDefault(e.code, 500);
                    answer = error(e.code, e.getMessage()).toString();
                }
            }
        }
        byte[] out = answer.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", type);
        ex.sendResponseHeaders(status, out.length);
        ex.getResponseBody().write(out);
        ex.close();
    }

    private static ObjectNode error(String code, String message) {
        return JSON.createObjectNode().put("error_code", code).put("message", message);
    }

    private JsonNode dispatch(String method, String endpoint, String path, String query, byte[] body, String contentType) {
        if (endpoint.equals("mlflow-artifacts") && method.equals("PUT")) return uploadArtifact(path.substring(MlflowRestClient.ARTIFACTS_API.length() + 1), body);
        if (method.equals("POST") && (contentType == null || !contentType.split(";")[0].trim().equals("application/json"))) {
            throw invalid("Bad Request. Content-Type must be one of [application/json]." + (contentType == null ? "" : " Got '" + contentType + "'."));
        }
        JsonNode req = method.equals("GET") ? queryJson(query) : parse(body);
        return switch (method + " " + endpoint) {
            case "GET experiments/get-by-name" -> getExperimentByName(req);
            case "POST experiments/create" -> createExperiment(req);
            case "POST runs/create" -> createRun(req);
            case "GET runs/get" -> JSON.createObjectNode().set("run", runJson(run(required(req, "run_id", "string").asText())));
            case "POST runs/update" -> updateRun(req);
            case "POST runs/log-batch" -> logBatch(req, body.length);
            default -> throw new MlflowError("ENDPOINT_NOT_FOUND", "No endpoint " + method + " " + path);
        };
    }

    private JsonNode getExperimentByName(JsonNode req) {
        String name = required(req, "experiment_name", "string").asText();
        return experiments.values().stream().filter(e -> e.name().equals(name)).findFirst()
                .map(e -> (JsonNode) JSON.createObjectNode().set("experiment", JSON.createObjectNode().put("experiment_id", e.id()).put("name", e.name())
                        .put("artifact_location", e.artifactLocation()).put("lifecycle_stage", e.lifecycleStage())))
                .orElseThrow(() -> new MlflowError("RESOURCE_DOES_NOT_EXIST", "Could not find experiment with name '" + name + "'"));
    }

    private JsonNode createExperiment(JsonNode req) {
        String name = required(req, "name", "string").asText();
        if (name.length() > 500) throw invalid("Experiment name exceeds the maximum length of 500 characters");
        if (experiments.values().stream().anyMatch(e -> e.name().equals(name))) {
            throw new MlflowError("RESOURCE_ALREADY_EXISTS", "Experiment(name=" + name + ") already exists.");
        }
        String id = Integer.toString(experiments.size());
        experiments.put(id, new Experiment(id, name, "active", "mlflow-artifacts:/" + id));
        return JSON.createObjectNode().put("experiment_id", id);
    }

    private JsonNode createRun(JsonNode req) {
        String expId = optional(req, "experiment_id", "string", "");
        long start = optional(req, "start_time", "int", 0L);
        String name = optional(req, "run_name", "string", "");
        Experiment e = experiments.get(expId);
        if (e == null) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", "No Experiment with id=" + expId + " exists");
        if (!e.lifecycleStage().equals("active")) {
            throw invalid("The experiment " + expId + " must be in the 'active' state. Current state is " + e.lifecycleStage() + ".");
        }
        Map<String, String> tags = keyValues(req, "tags", 5000);
        String id = UUID.randomUUID().toString().replace("-", "");
        String artifactUri = serveArtifacts ? "mlflow-artifacts:/" + expId + "/" + id + "/artifacts" : "/srv/mlruns/" + expId + "/" + id + "/artifacts";
        Run r = new Run(id, expId, name.isEmpty() ? "generated-name" : name, start, artifactUri);
        r.tags.putAll(tags);
        r.tags.put("mlflow.runName", r.runName);
        runs.put(id, r);
        return JSON.createObjectNode().set("run", runJson(r));
    }

    private JsonNode updateRun(JsonNode req) {
        Run r = activeRun(required(req, "run_id", "string").asText());
        if (req.has("status")) {
            String s = optional(req, "status", "string", "");
            if (!STATUSES.contains(s)) throw invalid("Invalid value \"" + s + "\" for parameter 'status' supplied.");
            r.status = s;
        }
        if (req.has("end_time")) r.endTime = optional(req, "end_time", "int", 0L);
        return JSON.createObjectNode().set("run_info", runJson(r).get("info"));
    }

    private JsonNode logBatch(JsonNode req, int bytes) {
        if (bytes > 1_000_000) throw invalid("Batched logging API requests must be at most 1000000 bytes, got a request of size " + bytes + ".");
        Run r = activeRun(required(req, "run_id", "string").asText());
        JsonNode metrics = array(req, "metrics"), params = array(req, "params"), tags = array(req, "tags");
        limit("metrics", 1000, metrics.size());
        limit("params", 100, params.size());
        limit("tags", 100, tags.size());
        limit("metrics, params, and tags", 1000, metrics.size() + params.size() + tags.size());
        var points = new ArrayList<Map.Entry<String, Point>>();
        for (int i = 0; i < metrics.size(); i++) {
            JsonNode m = metrics.get(i);
            String key = name("metric", required(m, "key", "metrics[" + i + "].key", "string").asText());
            JsonNode v = required(m, "value", "metrics[" + i + "].value", "float"), t = required(m, "timestamp", "metrics[" + i + "].timestamp", "int");
            if (t.asLong() < 0) throw invalid("Got invalid timestamp " + t.asLong() + " for metric '" + key + "'. Timestamp must be a nonnegative long");
            long step = m.has("step") ? typed(m.get("step"), "metrics[" + i + "].step", "int").asLong() : 0;
            points.add(Map.entry(key, new Point(v.asDouble(), t.asLong(), step)));
        }
        Map<String, String> p = keyValues(req, "params", maxParamValue), tg = keyValues(req, "tags", 5000);
        for (var e : p.entrySet()) {
            String before = r.params.get(e.getKey());
            if (before != null && !before.equals(e.getValue())) {
                throw invalid("Changing param values is not allowed. Param with key='" + e.getKey() + "' was already logged with value='"
                        + before + "' for run ID='" + r.id + "'. Attempted logging new value '" + e.getValue() + "'.");
            }
        }
        r.params.putAll(p);
        r.tags.putAll(tg);
        for (var e : points) r.metrics.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue());
        return JSON.createObjectNode();
    }

    private JsonNode uploadArtifact(String rawPath, byte[] body) {
        String p = URLDecoder.decode(rawPath, StandardCharsets.UTF_8);
        if (p.contains("..") || p.startsWith("/")) throw invalid("Invalid path");
        artifacts.put(p, body);
        return JSON.createObjectNode();
    }

    private Run run(String id) {
        if (!RUN_ID.matcher(id).matches()) throw invalid("Invalid run ID: '" + id + "'");
        Run r = runs.get(id);
        if (r == null) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", "Run with id=" + id + " not found");
        return r;
    }

    private Run activeRun(String id) {
        Run r = run(id);
        if (!r.lifecycleStage.equals("active")) {
            throw invalid("The run " + id + " must be in the 'active' state. Current state is " + r.lifecycleStage + ".");
        }
        return r;
    }

    /** A key/value list ({@code params}, {@code tags}): keys required, valid and unique (params), values within {@code maxValue}. */
    private Map<String, String> keyValues(JsonNode req, String field, int maxValue) {
        JsonNode list = array(req, field);
        var out = new LinkedHashMap<String, String>();
        String entity = field.equals("params") ? "Param" : "Tag";
        for (int i = 0; i < list.size(); i++) {
            JsonNode e = list.get(i);
            String key = name(entity.toLowerCase(java.util.Locale.ROOT), required(e, "key", field + "[" + i + "].key", "string").asText());
            String value = e.has("value") ? typed(e.get("value"), field + "[" + i + "].value", "string").asText() : "";
            if (value.length() > maxValue) {
                throw invalid(entity + " value '" + value.substring(0, 250) + "' had length " + value.length() + ", which exceeded length limit of " + maxValue);
            }
            if (field.equals("params") && out.containsKey(key)) {
                throw invalid("Duplicate parameter keys have been submitted: ['" + key + "']. Please ensure the request contains only one param value per param key.");
            }
            out.put(key, value);
        }
        return out;
    }

    private static String name(String entity, String key) {
        if (!NAME.matcher(key).matches()) {
            throw invalid("Invalid " + entity + " name: '" + key + "'. Names may only contain alphanumerics, underscores (_), dashes (-), "
                    + "periods (.), spaces ( ), and slashes (/).");
        }
        if (key.length() > 250) throw invalid(entity + " name '" + key.substring(0, 250) + "' had length " + key.length() + ", which exceeded length limit of 250");
        return key;
    }

    private static void limit(String what, int max, int n) {
        if (n > max) {
            throw invalid("A batch logging request can contain at most " + max + " " + what + ". Got " + n + " " + what
                    + ". Please split up " + what + " across multiple requests and try again.");
        }
    }

    private static JsonNode array(JsonNode req, String field) {
        JsonNode v = req.get(field);
        if (v == null || v.isNull()) return JSON.createArrayNode();
        if (!v.isArray()) throw invalid("Invalid value " + v + " for parameter '" + field + "' supplied. Hint: Value was of type '" + kind(v) + "'.");
        return v;
    }

    private static JsonNode required(JsonNode req, String field, String type) { return required(req, field, field, type); }

    private static JsonNode required(JsonNode req, String field, String path, String type) {
        JsonNode v = req.get(field);
        if (v == null || v.isNull() || v.isTextual() && v.asText().isEmpty()) {
            throw invalid("Missing value for required parameter '" + path + "'. See the API docs for more information about request parameters.");
        }
        return typed(v, path, type);
    }

    @SuppressWarnings("unchecked")
    private static <T> T optional(JsonNode req, String field, String type, T dflt) {
        JsonNode v = req.get(field);
        if (v == null || v.isNull()) return dflt;
        JsonNode t = typed(v, field, type);
        return (T) (type.equals("int") ? (Object) t.asLong() : t.asText());
    }

    /** MLflow's {@code _assert_string}, {@code _assert_intlike}, {@code _assert_floatlike}. */
    private static JsonNode typed(JsonNode v, String path, String type) {
        boolean ok = switch (type) {
            case "string" -> v.isTextual();
            case "int" -> v.isIntegralNumber() || v.isTextual() && v.asText().matches("-?\\d+");
            case "float" -> v.isNumber() || v.isTextual() && v.asText().matches("-?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?|NaN|-?Infinity");
            default -> throw new IllegalArgumentException(type);
        };
        if (!ok) throw invalid("Invalid value " + v + " for parameter '" + path + "' supplied. Hint: Value was of type '" + kind(v) + "'.");
        return v;
    }

    private static String kind(JsonNode v) {
        return v.isTextual() ? "str" : v.isIntegralNumber() ? "int" : v.isNumber() ? "float" : v.isBoolean() ? "bool" : v.isArray() ? "list" : "dict";
    }

    private static MlflowError invalid(String message) { return new MlflowError("INVALID_PARAMETER_VALUE", message); }

    private static JsonNode parse(byte[] body) {
        try {
            JsonNode n = JSON.readTree(body);
            return n == null || !n.isObject() ? JSON.createObjectNode() : n;  // MLflow: get_json(silent=True) -> {}
        } catch (IOException e) {
            return JSON.createObjectNode();
        }
    }

    private static JsonNode queryJson(String query) {
        ObjectNode n = JSON.createObjectNode();
        if (query == null) return n;
        for (String kv : query.split("&")) {
            int eq = kv.indexOf('=');
            if (eq > 0) n.put(URLDecoder.decode(kv.substring(0, eq), StandardCharsets.UTF_8), URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return n;
    }

    private static ObjectNode runJson(Run r) {
        ObjectNode run = JSON.createObjectNode();
        ObjectNode info = run.putObject("info").put("run_id", r.id).put("run_uuid", r.id).put("run_name", r.runName)
                .put("experiment_id", r.experimentId).put("user_id", "").put("status", r.status).put("start_time", r.startTime)
                .put("artifact_uri", r.artifactUri).put("lifecycle_stage", r.lifecycleStage);
        if (r.endTime != null) info.put("end_time", r.endTime);
        ObjectNode data = run.putObject("data");
        ArrayNode metrics = data.putArray("metrics");
        r.metrics.forEach((k, pts) -> {
            Point last = pts.get(pts.size() - 1);
            metrics.addObject().put("key", k).put("value", last.value()).put("timestamp", last.timestamp()).put("step", last.step());
        });
        ArrayNode params = data.putArray("params");
        r.params.forEach((k, v) -> params.addObject().put("key", k).put("value", v));
        ArrayNode tags = data.putArray("tags");
        r.tags.forEach((k, v) -> tags.addObject().put("key", k).put("value", v));
        return run;
    }
}
