package io.deepshard.core.tracking;

import io.deepshard.core.train.EpochMetrics;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import java.util.regex.Pattern;

/**
 * Makes a run directory also an entry of an MLflow file store (the layout of MLflow's {@code FileStore}), so that
 * {@code mlflow ui --backend-store-uri <folder above the runs folder>} lists Deepshard runs with their parameters and
 * per-epoch metrics: the runs folder is the experiment ({@code <runs>/meta.yaml}, experiment id = its name) and each run
 * directory a run (run id = its name):
 * <pre>
 *   meta.yaml            run_id, run_name, experiment_id, status (1 running, 3 finished, 4 failed), start/end time (ms), artifact_uri
 *   params/&lt;key&gt;         one file per flattened config key (training.optimizer.learningRate), holding the value
 *   metrics/&lt;name&gt;       one line per epoch: "&lt;timestamp ms&gt; &lt;value&gt; &lt;epoch&gt;"
 *   tags/&lt;name&gt;          mlflow.runName, mlflow.source.name, mlflow.user, deepshard.* (config hash, Spark master)
 *   artifacts/           report.html, metrics.json and config.yaml (the model bundle stays in model/)
 * </pre>
 */
public final class MlflowRunDir {
    public static final int RUNNING = 1, FINISHED = 3, FAILED = 4;
    /** MLflow's rules for run and experiment ids. */
    static final Pattern ID = Pattern.compile("^[a-zA-Z0-9][\\w\\-]{0,63}$");
    /**
     * Longest parameter value written (MLflow 2.x accepts 6000 characters, earlier versions 500): the same cut for the
     * file store and a tracking server, so both hold the same values.
     */
    public static final int MAX_PARAM = 500;

    /** The per-epoch metrics (step = epoch) by MLflow name; a NaN value (no such split) is not logged. */
    public static final Map<String, ToDoubleFunction<EpochMetrics>> EPOCH_METRICS = epochMetrics();

    private final Configuration conf;
    private final Path run;

    private static Map<String, ToDoubleFunction<EpochMetrics>> epochMetrics() {
        Map<String, ToDoubleFunction<EpochMetrics>> m = new LinkedHashMap<>();
        m.put("train_loss", EpochMetrics::trainLoss);
        m.put("validation_loss", EpochMetrics::validationLoss);
        m.put("validation_accuracy", EpochMetrics::validationAccuracy);
        m.put("test_loss", EpochMetrics::testLoss);
        m.put("test_accuracy", EpochMetrics::testAccuracy);
        m.put("test_mean_iou", e -> e.meanIoU() == null ? Double.NaN : e.meanIoU());
        m.put("learning_rate", e -> e.learningRate() == null ? Double.NaN : e.learningRate());
        m.put("images_per_second", EpochMetrics::imagesPerSecond);
        return java.util.Collections.unmodifiableMap(m);
    }

    public MlflowRunDir(Configuration conf, String runDir) {
        this.conf = conf;
        this.run = Fs.path(runDir);
    }

    /** The run id (the directory's name) and whether MLflow accepts it and the experiment id (the parent's name). */
    public boolean usable() {
        return run.getParent() != null && !run.getParent().isRoot() && ID.matcher(run.getName()).matches()
                && ID.matcher(run.getParent().getName()).matches();
    }

    /**
     * Writes or updates the run's {@code meta.yaml} (keeping the start time of an earlier start, e.g. before a resume),
     * parameters and tags, and the experiment's {@code meta.yaml} when there is none.
     */
    public void start(Map<String, String> params, Map<String, String> tags) {
        long now = System.currentTimeMillis();
        Path exp = run.getParent();
        try {
            FileSystem fs = Fs.fs(run, conf);
            Path expMeta = new Path(exp, "meta.yaml");
            if (!fs.exists(expMeta)) {
                Fs.writeString(conf, expMeta, yaml(ordered("artifact_location", uri(exp), "creation_time", now, "experiment_id", exp.getName(),
                        "last_update_time", now, "lifecycle_stage", "active", "name", exp.getName())));
            }
            for (var e : params.entrySet()) Fs.writeString(conf, new Path(run, "params/" + safe(e.getKey())), paramValue(e.getValue()));
            for (var e : tags.entrySet()) Fs.writeString(conf, new Path(run, "tags/" + safe(e.getKey())), e.getValue());
            fs.mkdirs(new Path(run, "metrics"));
            fs.mkdirs(new Path(run, "artifacts"));
            Long started = startTime(fs);
            writeMeta(RUNNING, started != null ? started : now, null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the MLflow layout of " + run + ": " + e.getMessage(), e);
        }
    }

    /** Per-epoch metrics (timestamps: the start time plus each epoch's elapsed seconds), then the final status. */
    public void finish(int status, List<EpochMetrics> history, Map<String, Double> finalMetrics, List<String> artifacts) {
        try {
            FileSystem fs = Fs.fs(run, conf);
            Long started = startTime(fs);
            long start = started != null ? started : System.currentTimeMillis();
            for (var e : EPOCH_METRICS.entrySet()) {
                var lines = new StringBuilder();
                for (EpochMetrics m : history) {
                    double v = e.getValue().applyAsDouble(m);
                    if (Double.isFinite(v)) lines.append(start + Math.round(m.elapsedSeconds() * 1000)).append(' ').append(v).append(' ').append(m.epoch()).append('\n');
                }
                if (lines.length() > 0) Fs.writeString(conf, new Path(run, "metrics/" + e.getKey()), lines.toString());
            }
            long end = System.currentTimeMillis();
            int lastEpoch = history.isEmpty() ? 0 : history.get(history.size() - 1).epoch();
            for (var e : finalMetrics.entrySet()) {
                if (e.getValue() != null && Double.isFinite(e.getValue())) {
                    Fs.writeString(conf, new Path(run, "metrics/" + safe(e.getKey())), end + " " + e.getValue() + " " + lastEpoch + "\n");
                }
            }
            for (String a : artifacts) {
                Path src = new Path(run, a);
                if (fs.exists(src)) Fs.writeString(conf, new Path(run, "artifacts/" + a), Fs.readString(conf, src));
            }
            writeMeta(status, start, end);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the MLflow layout of " + run + ": " + e.getMessage(), e);
        }
    }

    /** Sets one tag of the run (e.g. the id of the same run on a tracking server). */
    public void tag(String key, String value) {
        Fs.writeString(conf, new Path(run, "tags/" + safe(key)), value);
    }

    /** Marks the run failed (the training threw); never throws itself. */
    public void failed() {
        try {
            Long started = startTime(Fs.fs(run, conf));
            writeMeta(FAILED, started != null ? started : System.currentTimeMillis(), System.currentTimeMillis());
        } catch (RuntimeException | IOException ignored) {
            // the training's own error is what the user needs to see
        }
    }

    private void writeMeta(int status, long start, Long end) {
        Fs.writeString(conf, new Path(run, "meta.yaml"), yaml(ordered("artifact_uri", uri(new Path(run, "artifacts")), "end_time", end,
                "entry_point_name", "", "experiment_id", run.getParent().getName(), "lifecycle_stage", "active", "run_id", run.getName(),
                "run_name", run.getName(), "run_uuid", run.getName(), "source_name", "", "source_type", 4, "source_version", "",
                "start_time", start, "status", status, "tags", List.of(), "user_id", System.getProperty("user.name", "unknown"))));
    }

    private Long startTime(FileSystem fs) throws IOException {
        Path meta = new Path(run, "meta.yaml");
        if (!fs.exists(meta)) return null;
        for (String line : Fs.readString(conf, meta).split("\n")) {
            if (line.startsWith("start_time: ")) {
                try {
                    return Long.parseLong(line.substring(12).trim());
                } catch (NumberFormatException e) {
                    return null;
                }
            }
        }
        return null;
    }

    /** Flattens nested maps into dotted keys: {training: {seed: 1}} -> training.seed = 1; lists as their text. */
    public static Map<String, String> flatten(Map<String, Object> tree) {
        var out = new LinkedHashMap<String, String>();
        flatten("", tree, out);
        return out;
    }

    @SuppressWarnings("unchecked")
    private static void flatten(String prefix, Map<String, Object> m, Map<String, String> out) {
        for (var e : m.entrySet()) {
            String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            if (e.getValue() instanceof Map<?, ?> sub) flatten(key, (Map<String, Object>) sub, out);
            else if (e.getValue() != null) out.put(key, String.valueOf(e.getValue()));
        }
    }

    /** A key MLflow accepts as a param, metric or tag name and as a file name: other characters become {@code _}. */
    public static String safe(String key) { return key.replaceAll("[^A-Za-z0-9_\\-. ]", "_"); }

    /** A parameter value within {@link #MAX_PARAM} characters (a longer one is cut, ending in {@code …}). */
    public static String paramValue(String v) { return v.length() > MAX_PARAM ? v.substring(0, MAX_PARAM - 1) + "…" : v; }

    private String uri(Path p) {
        try {
            return Fs.fs(p, conf).makeQualified(p).toUri().toString();
        } catch (RuntimeException e) {
            return p.toUri().toString();
        }
    }

    private static Map<String, Object> ordered(Object... kv) {
        var m = new LinkedHashMap<String, Object>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** The small YAML MLflow writes (keys in order, scalars plain or single-quoted, null, [] for empty lists). */
    static String yaml(Map<String, Object> m) {
        var sb = new StringBuilder();
        for (var e : m.entrySet()) {
            Object v = e.getValue();
            String text;
            if (v == null) text = "null";
            else if (v instanceof Number) text = v.toString();
            else if (v instanceof List<?> l && l.isEmpty()) text = "[]";
            else {
                String s = v.toString();
                text = s.isEmpty() || !s.matches("[A-Za-z0-9_./:@+\\-]+") || s.matches("[0-9.eE+\\-]+|true|false|null|yes|no|on|off")
                        ? "'" + s.replace("'", "''") + "'" : s;
            }
            sb.append(e.getKey()).append(": ").append(text).append('\n');
        }
        return sb.toString();
    }
}
