package io.deepshard.core.tracking;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * A training run logged to an MLflow tracking server, next to its run directory (which stays a complete MLflow
 * file-store run whatever the server does). The failure policy:
 * <ul>
 *   <li>{@link #connect} runs before Spark starts: a server that cannot be reached or rejects the credentials, or an
 *       experiment that is deleted there, is an error then ({@link MlflowServerException}, {@link IllegalStateException}).</li>
 *   <li>Afterwards nothing the server does stops training. Each call is retried with backoff (I/O errors, 429, 5xx);
 *       when one still fails, a warning is printed and no more calls are made while training runs. At the end,
 *       {@link #finish} tries again to send what is missing (the run itself, params, every epoch not yet
 *       acknowledged, final metrics, the status); {@link #summary} says whether the server run is complete.</li>
 *   <li>Resuming a run directory ({@code <run>/mlflow-server.json} names the server run) continues the same server
 *       run on the same server, sending only the epochs that server has not acknowledged yet.</li>
 * </ul>
 */
public final class MlflowHttpRun {
    /** Which server run this run directory is, and which epochs that server acknowledged. */
    public static final String STATE_FILE = "mlflow-server.json";
    /** Tag of the server run: the run directory's URI. */
    public static final String RUN_DIR_TAG = "deepshard.runDirectory";
    /** Tags of the file-store run: the server run's id and the server. */
    public static final String SERVER_RUN_ID_TAG = "deepshard.mlflowServer.runId", SERVER_URI_TAG = "deepshard.mlflowServer.uri";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final MlflowRestClient client;
    private final Configuration conf;
    private final Path runDir;
    private final Consumer<String> warn;
    private final Experiment experiment;
    private final Map<String, String> loggedParams;   // what the server run already holds (resumed), else empty
    private final TreeSet<Integer> loggedEpochs;
    private final boolean continued;
    private final List<String> problems = new ArrayList<>();
    private volatile String runId;
    private String artifactUri;
    private long startTime;
    private boolean paramsLogged;
    private boolean live = true;
    private boolean finishing;
    private volatile boolean ended;
    private Map<String, String> params = Map.of(), tags = Map.of();
    private String runName;
    private Thread shutdownHook;

    private record Experiment(String id, String name) {}

    private MlflowHttpRun(MlflowRestClient client, Configuration conf, Path runDir, Consumer<String> warn, Experiment experiment,
                          MlflowRestClient.Run resumed, TreeSet<Integer> loggedEpochs) {
        this.client = client;
        this.conf = conf;
        this.runDir = runDir;
        this.warn = warn;
        // a continued run stays in its experiment, whatever tracking.experiment names now
        this.experiment = resumed == null || resumed.info().experimentId().equals(experiment.id()) ? experiment
                : new Experiment(resumed.info().experimentId(), "id " + resumed.info().experimentId());
        this.loggedEpochs = loggedEpochs;
        this.loggedParams = resumed == null ? Map.of() : resumed.params();
        this.continued = resumed != null;
        if (resumed != null) {
            runId = resumed.info().runId();
            artifactUri = resumed.info().artifactUri();
            startTime = resumed.info().startTime();
        }
    }

    /**
     * Before training: checks that the server answers and accepts the credentials, finds or creates the experiment, and
     * finds the server run of an earlier session of this run directory to continue.
     *
     * @throws MlflowServerException the server cannot be reached, rejects the credentials or fails
     * @throws IllegalStateException the experiment exists but is deleted on the server
     */
    public static MlflowHttpRun connect(MlflowRestClient client, String experimentName, Configuration conf, String runDir,
                                        Consumer<String> warn) {
        MlflowRestClient.Experiment e = client.experimentByName(experimentName).orElse(null);
        if (e == null) {
            try {
                e = new MlflowRestClient.Experiment(client.createExperiment(experimentName), experimentName, "active", null);
            } catch (MlflowServerException ex) {
                if (!"RESOURCE_ALREADY_EXISTS".equals(ex.errorCode())) throw ex;
                e = client.experimentByName(experimentName).orElseThrow(() -> ex); // another client created it just now
            }
        }
        if (!"active".equals(e.lifecycleStage())) {
            throw new IllegalStateException("the experiment '" + experimentName + "' (id " + e.id() + ") is " + e.lifecycleStage()
                    + " on the MLflow tracking server " + client.trackingUri() + ": restore it there (mlflow experiments restore) or "
                    + "choose another tracking.experiment");
        }
        Path dir = Fs.path(runDir);
        MlflowRestClient.Run resumed = null;
        var acked = new TreeSet<Integer>();
        Path state = new Path(dir, STATE_FILE);
        try {
            if (Fs.fs(state, conf).exists(state)) {
                JsonNode s = JSON.readTree(Fs.readString(conf, state));
                String id = s.path("runId").asText(""), uri = s.path("trackingUri").asText("");
                if (!uri.equals(client.trackingUri())) {
                    warn.accept("this run directory was logged to the MLflow server " + uri + " (run " + id + "); a new run is created on "
                            + client.trackingUri());
                } else {
                    resumed = client.getRun(id).filter(r -> "active".equals(r.info().lifecycleStage())).orElse(null);
                    if (resumed == null) warn.accept("the MLflow server " + uri + " no longer has run " + id + " of this run directory: a new run is created");
                    else s.path("loggedEpochs").forEach(n -> acked.add(n.asInt()));
                }
            }
        } catch (IOException | java.io.UncheckedIOException ex) {
            warn.accept(state + " does not read (" + ex.getMessage() + "): a new MLflow server run is created");
        }
        return new MlflowHttpRun(client, conf, dir, warn, new Experiment(e.id(), experimentName), resumed, acked);
    }

    /** The server run's id, or null while there is none. */
    public String runId() { return runId; }

    public String trackingUri() { return client.trackingUri(); }

    /** Whether this continues the server run of an earlier session of the run directory. */
    public boolean continued() { return continued; }

    /**
     * Creates the server run (or sets the continued one running again) with the run directory's tags, and logs the
     * params (the flattened resolved config). Never throws: a failure is a warning, retried by {@link #finish}.
     */
    public void start(String runName, Map<String, String> params, Map<String, String> tags) {
        this.runName = runName;
        this.params = new LinkedHashMap<>(params);
        var t = new LinkedHashMap<>(tags);
        t.put(RUN_DIR_TAG, Fs.fs(runDir, conf).makeQualified(runDir).toString());
        this.tags = t;
        attempt("start the run", () -> {
            if (runId != null) client.updateRun(runId, "RUNNING", null);
            ensureRunAndParams();
        });
        if (runId != null && shutdownHook == null) {
            shutdownHook = new Thread(this::killed, "mlflow-server-run-killed");
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        }
    }

    /** Logs one epoch's metrics as it ends (step = epoch). Never throws. */
    public void logEpoch(EpochMetrics m) {
        if (!live || runId == null || !paramsLogged) return;
        attempt("log epoch " + m.epoch(), () -> {
            client.logBatch(runId, metrics(m), Map.of(), Map.of());
            loggedEpochs.add(m.epoch());
            saveState();
        });
    }

    /**
     * Completes the server run: whatever is still missing (the run, params, epochs of {@code history} the server has not
     * acknowledged), the final metrics, the artifacts (when the server proxies artifacts; skipped with a warning
     * otherwise) and the status with the end time. Never throws.
     *
     * @param artifacts paths relative to the run directory
     */
    public void finish(String status, List<EpochMetrics> history, Map<String, Double> finalMetrics, List<String> artifacts) {
        // one more try, with retries, whatever happened during training; the run is complete if this succeeds
        live = true;
        finishing = true;
        problems.clear();
        boolean sent = attempt("complete the run", () -> {
            ensureRunAndParams();
            var metrics = new ArrayList<MlflowRestClient.Metric>();
            for (EpochMetrics m : history) if (!loggedEpochs.contains(m.epoch())) metrics.addAll(metrics(m));
            long now = System.currentTimeMillis();
            int lastEpoch = history.isEmpty() ? 0 : history.get(history.size() - 1).epoch();
            finalMetrics.forEach((k, v) -> {
                if (v != null && Double.isFinite(v)) metrics.add(new MlflowRestClient.Metric(MlflowRunDir.safe(k), v, now, lastEpoch));
            });
            client.logBatch(runId, metrics, Map.of(), Map.of());
            history.forEach(m -> loggedEpochs.add(m.epoch()));
            saveState();
        });
        if (sent) {
            uploadArtifacts(artifacts);
            attempt("set its status " + status, () -> client.updateRun(runId, status, System.currentTimeMillis()));
        }
        end();
    }

    /** The training threw: the server run ends FAILED (one try with retries). Never throws. */
    public void failed() {
        live = true;
        finishing = true;
        if (runId != null && !ended) attempt("set its status FAILED", () -> client.updateRun(runId, "FAILED", System.currentTimeMillis()));
        end();
    }

    /** The JVM is shutting down before the run ended (SIGTERM, Ctrl-C): the server run ends KILLED, one try without retries. */
    void killed() {
        if (runId == null || ended) return;
        ended = true;
        try {
            client.withRetry(MlflowRestClient.Retry.NONE).updateRun(runId, "KILLED", System.currentTimeMillis());
        } catch (RuntimeException ignored) {
            // shutting down: nothing left to tell
        }
    }

    /** After {@link #finish}: whether the server run holds everything (the run, params, every epoch, artifacts, status). */
    public boolean complete() { return finishing && problems.isEmpty() && runId != null; }

    public List<String> problems() { return List.copyOf(problems); }

    /** One line for the end of the job: where the server run is, or that it is incomplete and why. */
    public String summary() {
        String where = client.trackingUri() + "/#/experiments/" + experiment.id() + "/runs/" + runId;
        if (complete()) return "MLflow server: run " + runId + " of experiment '" + experiment.name() + "': " + where;
        return "warning: the MLflow server run " + (runId == null ? "(not created)" : runId) + " on " + client.trackingUri()
                + " is incomplete (could not " + String.join("; ", problems) + "); the run directory holds everything";
    }

    private void ensureRunAndParams() {
        if (runId == null) {
            startTime = System.currentTimeMillis();
            MlflowRestClient.RunInfo info = client.createRun(experiment.id(), runName, startTime, tags);
            runId = info.runId();
            artifactUri = info.artifactUri();
            saveState();
        }
        if (!paramsLogged) {
            var toLog = new LinkedHashMap<String, String>();
            var changed = new ArrayList<String>();
            params.forEach((k, v) -> {
                String key = MlflowRunDir.safe(k), value = MlflowRunDir.paramValue(v), before = loggedParams.get(key);
                if (before == null) toLog.put(key, value);
                else if (!before.equals(value)) changed.add(key);
            });
            if (!changed.isEmpty()) {
                warn.accept("MLflow keeps a run's first parameter values: " + String.join(", ", changed) + " changed since the server run "
                        + runId + " was started and keep their earlier values there (the run directory's params/ has the new ones)");
            }
            var tagsToLog = new LinkedHashMap<String, String>();
            tags.forEach((k, v) -> tagsToLog.put(MlflowRunDir.safe(k), v));
            client.logBatch(runId, List.of(), toLog, tagsToLog);
            paramsLogged = true;
        }
    }

    private List<MlflowRestClient.Metric> metrics(EpochMetrics m) {
        var out = new ArrayList<MlflowRestClient.Metric>();
        long at = startTime + Math.round(m.elapsedSeconds() * 1000);
        MlflowRunDir.EPOCH_METRICS.forEach((name, f) -> {
            double v = f.applyAsDouble(m);
            if (Double.isFinite(v)) out.add(new MlflowRestClient.Metric(name, v, at, m.epoch()));
        });
        return out;
    }

    private void uploadArtifacts(List<String> artifacts) {
        Optional<String> url = client.artifactsUrl(artifactUri);
        if (url.isEmpty()) {
            warn.accept("the MLflow server stores run " + runId + "'s artifacts at " + artifactUri + ", which this client cannot write (it "
                    + "uploads through a server that proxies artifacts, mlflow server --serve-artifacts): " + String.join(", ", artifacts)
                    + " not uploaded; they are in " + Fs.display(new Path(runDir, "artifacts")));
            return;
        }
        for (String a : artifacts) {
            Path src = new Path(runDir, a);
            try {
                FileSystem fs = Fs.fs(src, conf);
                if (!fs.exists(src)) continue;
                byte[] bytes;
                try (InputStream in = fs.open(src)) {
                    bytes = in.readAllBytes();
                }
                client.uploadArtifact(url.get(), a, bytes);
            } catch (MlflowServerException | IOException e) {
                problems.add("upload " + a);  // the run's status is still set
                warn.accept("the MLflow server could not take the artifact " + a + ": " + e.getMessage());
            }
        }
    }

    private void saveState() {
        ObjectNode s = JSON.createObjectNode().put("trackingUri", client.trackingUri()).put("experimentId", experiment.id())
                .put("experiment", experiment.name()).put("runId", runId);
        loggedEpochs.forEach(s.putArray("loggedEpochs")::add);
        Fs.writeString(conf, new Path(runDir, STATE_FILE), s.toPrettyString());
    }

    private void end() {
        ended = true;
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs or has run; it finds the run ended
            }
            shutdownHook = null;
        }
    }

    @FunctionalInterface
    private interface Call { void run() throws IOException; }

    /**
     * Runs a call while the server is live; a failure becomes a warning and a problem, and stops the calls (during
     * training: until {@link #finish} tries again).
     */
    private boolean attempt(String what, Call call) {
        if (!live) return false;
        try {
            call.run();
            return true;
        } catch (MlflowServerException | IOException | java.io.UncheckedIOException e) {
            live = false;
            problems.add(what);
            warn.accept(String.format(Locale.ROOT, "the MLflow server could not %s: %s%s", what, e.getMessage(), finishing ? ""
                    : ". Training goes on: the run directory has every metric, and what the server misses is sent again at the end"));
            return false;
        }
    }
}
