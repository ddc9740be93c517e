package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.config.TuneSpec;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.report.HtmlReport;
import io.deepshard.core.train.TrainingDivergedException;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code tune CONFIG}: hyper-parameter search. The config is a training config with a {@code tune} section
 * ({@link TuneSpec}); every trial is that config with the trial's values, trained exactly as {@code train} trains
 * (early stopping included) into {@code <tune dir>/trial-NNN}, a complete run directory. Trials run one after another or
 * {@code tune.parallel} at a time, each in its own Spark scheduler pool (FAIR mode), and are ranked on the validation
 * split — never on the test split. Writes {@code tune.json} (every trial, its values, metrics and status; the ranking),
 * {@code best-config.yaml} (the winner's config, ready for {@code train}) and {@code report.html}. With {@code --resume},
 * finished trials are read back, interrupted ones continue from their checkpoints.
 */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = "Hyper-parameter search: grid or random trials of a training config, ranked on the validation split.")
public final class TuneJob implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML training config with a tune section (see conf/).")
    java.nio.file.Path configFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key (of every trial), value in YAML.")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--resume", arity = "0..1", fallbackValue = "", paramLabel = "TUNE_DIR",
            description = "Continue an interrupted search: the given directory, else the newest one of the config's output without "
                    + "tune.json. Finished trials are not trained again.")
    String resume;

    public static void main(String[] args) { Cli.exit(Cli.run(new TuneJob(), args)); }

    /** One trial: its number (1-based), the values it sets, its config and run directory. */
    record Trial(int number, Map<String, String> values, DeepshardConfig config, String dir) {}

    /** A trial with its run on an MLflow tracking server (null without {@code tracking.uri}). */
    record Tracked(Trial trial, io.deepshard.core.tracking.MlflowHttpRun server) {}

    /** What became of a trial. */
    record Result(Trial trial, String status, Double validationAccuracy, Double validationLoss, Double testAccuracy, Integer epochs,
                  String message, String startedAt, String finishedAt) {
        Double metric(TuneSpec spec) { return spec.higherIsBetter() ? validationAccuracy : validationLoss; }
    }

    @Override public Integer call() throws Exception {
        Console console = Console.system();
        DeepshardConfig config = ConfigLoader.load(configFile, overrides);
        List<String> fromEnvironment = TrackingServer.environmentOverrides(config, System.getenv(), console);
        var allOverrides = new ArrayList<>(overrides);
        allOverrides.addAll(fromEnvironment);
        if (!fromEnvironment.isEmpty()) config = ConfigLoader.load(configFile, allOverrides);
        TuneSpec spec = config.tune();
        if (spec == null) {
            throw new ConfigException(config.source(), List.of("tune: is required: the keys to search and their values, e.g. tune: {space: "
                    + "{training.optimizer.learningRate: {min: 0.0001, max: 1, scale: log, points: 5}}}"));
        }
        if (config.data().validationFraction() == 0) {
            throw new ConfigException(config.source(), List.of("data.validationFraction: tune ranks trials on the validation split (never on "
                    + "the test split): set it, e.g. 0.1, found 0"));
        }
        Configuration hadoop = new Configuration();
        String tuneDir = directory(config, hadoop, resume);
        List<Trial> trials = trials(Files.readString(configFile), config, allOverrides, tuneDir);
        checkPlan(hadoop, tuneDir, trials);
        // with tracking.uri, each trial is also a run on the tracking server, checked before Spark starts
        List<Tracked> tracked = new ArrayList<>();
        for (Trial t : trials) tracked.add(new Tracked(t, TrackingServer.connect(t.config(), hadoop, t.dir(), System.getenv(), console)));
        console.info(String.format(Locale.ROOT, "Deepshard tune: %s search over %s: %d trial(s), %d at a time, ranked on %s -> %s",
                spec.method(), String.join(", ", spec.space().keySet()), trials.size(), spec.parallel(), spec.metric(), Fs.display(Fs.path(tuneDir))));

        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> console.info("data: " + msg));
        if (config.data().train().isBuiltIn()) fetcher.split(config.data().train().builtIn());
        if (config.data().test() != null && config.data().test().isBuiltIn()) fetcher.split(config.data().test().builtIn());
        SparkSession spark = Spark.session("deepshard-tune", spec.parallel() > 1
                ? Map.of("spark.scheduler.mode", "FAIR", "spark.scheduler.allocation.file", pools(trials.size()).toString()) : Map.of());
        List<Result> results;
        try {
            results = run(JavaSparkContext.fromSparkContext(spark.sparkContext()), spec, tracked, fetcher, console);
        } finally {
            spark.stop();
        }
        return report(hadoop, config, spec, tuneDir, results, console);
    }

    /** A FAIR scheduler allocation file with one equal pool per trial (Spark warns about every pool it has to invent). */
    static java.nio.file.Path pools(int trials) throws IOException {
        var xml = new StringBuilder("<?xml version=\"1.0\"?>\n<allocations>\n");
        for (int i = 1; i <= trials; i++) {
            xml.append("  <pool name=\"trial-").append(i).append("\"><schedulingMode>FIFO</schedulingMode><weight>1</weight>")
                    .append("<minShare>0</minShare></pool>\n");
        }
        java.nio.file.Path f = Files.createTempFile("deepshard-tune-pools", ".xml");
        f.toFile().deleteOnExit();
        return Files.writeString(f, xml.append("</allocations>\n").toString());
    }

    /** The search's directory: {@code output} with {model} and {timestamp}; with --resume the given or newest unfinished one. */
    static String directory(DeepshardConfig config, Configuration hadoop, String resume) throws IOException {
        String pattern = config.output().replace("{model}", config.model().name());
        if (resume != null && !resume.isEmpty()) {
            Path p = Fs.path(resume);
            if (!Fs.fs(p, hadoop).exists(new Path(p, "trials.json"))) {
                throw new ConfigException("--resume", List.of("no search to resume at " + p + " (it has no trials.json)"));
            }
            return p.toString();
        }
        if ((resume != null || "auto".equals(config.training().resume())) && pattern.contains("{timestamp}")) {
            Path glob = Fs.path(pattern.replace("{timestamp}", "*"));
            FileStatus[] matches = Fs.fs(glob, hadoop).globStatus(glob);
            Path best = null;
            if (matches != null) {
                for (FileStatus st : matches) {
                    Path d = st.getPath();
                    boolean unfinished = Fs.fs(d, hadoop).exists(new Path(d, "trials.json")) && !Fs.fs(d, hadoop).exists(new Path(d, "tune.json"));
                    if (unfinished && (best == null || d.getName().compareTo(best.getName()) > 0)) best = d;
                }
            }
            if (best != null) return best.toString();
        }
        Path p = Fs.path(pattern.replace("{timestamp}", TrainJob.RunDirectory.timestamp()));
        if (resume == null && Fs.fs(p, hadoop).exists(new Path(p, "trials.json"))) {
            throw new ConfigException(config.source(), List.of("output: " + p + " already holds a search: add --resume to continue it, or "
                    + "choose another output (e.g. with {timestamp} in it)"));
        }
        return p.toString();
    }

    /**
     * Every trial's config, parsed and checked now, so that a value that does not fit (a key that does not exist, a
     * learning rate of -1) fails before any training.
     */
    static List<Trial> trials(String yamlText, DeepshardConfig config, List<String> overrides, String tuneDir) throws IOException {
        JsonNode tree = TransferJob.YAML.readTree(yamlText);
        ((ObjectNode) tree).remove("tune");
        String base = TransferJob.YAML.writeValueAsString(tree);
        List<Map<String, String>> values = config.tune().expand(config.training().seed());
        var out = new ArrayList<Trial>();
        for (int i = 0; i < values.size(); i++) {
            String dir = new Path(Fs.path(tuneDir), String.format(Locale.ROOT, "trial-%03d", i + 1)).toString();
            var all = new ArrayList<>(overrides);
            values.get(i).forEach((k, v) -> all.add(k + "=" + v));
            all.add("output=" + dir);
            out.add(new Trial(i + 1, values.get(i), ConfigLoader.parse(base, config.source() + " (trial " + (i + 1) + ": " + values.get(i) + ")", all), dir));
        }
        return out;
    }

    /** Writes the trials' plan at the start of a search; a resumed search must have the same trials (values and whole configs). */
    static void checkPlan(Configuration hadoop, String tuneDir, List<Trial> trials) throws IOException {
        Path plan = new Path(Fs.path(tuneDir), "trials.json");
        var rows = new ArrayList<Map<String, Object>>();
        for (Trial t : trials) rows.add(Map.of("trial", t.number(), "values", t.values(), "configSha256", TrainJob.sha256(t.config().resolved())));
        String json = TrainJob.json(rows);
        if (Fs.fs(plan, hadoop).exists(plan)) {
            String before = Fs.readString(hadoop, plan);
            if (!ModelBundle.JSON.readTree(before).equals(ModelBundle.JSON.readTree(json))) {
                throw new ConfigException(plan.toString(), List.of("the search in " + tuneDir + " was started with other trials (tune section or "
                        + "--set values changed): resume it with the config it started with, or start a new search"));
            }
            return;
        }
        Fs.writeString(hadoop, plan, json);
    }

    static List<Result> run(JavaSparkContext sc, TuneSpec spec, List<Tracked> trials, DatasetFetcher fetcher, Console console) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(spec.parallel(), r -> {
            Thread t = new Thread(r, "deepshard-trial");
            t.setDaemon(true);
            return t;
        });
        try {
            var futures = new ArrayList<Future<Result>>();
            for (Tracked t : trials) futures.add(pool.submit(() -> runTrial(sc, spec, t.trial(), t.server(), fetcher, console)));
            var out = new ArrayList<Result>();
            for (Future<Result> f : futures) out.add(f.get());
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static Result runTrial(JavaSparkContext sc, TuneSpec spec, Trial t, io.deepshard.core.tracking.MlflowHttpRun server,
                                   DatasetFetcher fetcher, Console console) throws IOException {
        Configuration conf = sc.hadoopConfiguration();
        Path dir = Fs.path(t.dir());
        if (Fs.fs(dir, conf).exists(new Path(dir, ModelBundle.DIR)) && Fs.fs(dir, conf).exists(new Path(dir, "metrics.json"))) {
            console.info(String.format(Locale.ROOT, "trial %d %s: trained earlier, read back from %s", t.number(), t.values(), Fs.display(dir)));
            return finished(conf, t, null, null);
        }
        Console c = console.prefixed(String.format(Locale.ROOT, "[trial %d] ", t.number()));
        c.info("start: " + t.values());
        String started = Instant.now().toString();
        sc.setLocalProperty("spark.scheduler.pool", "trial-" + t.number());
        try {
            TrainJob.train(sc, t.config(), t.dir(), fetcher, c, new TrainJob.Setup(null, null, Map.of(), true, null, server));
            return finished(conf, t, started, Instant.now().toString());
        } catch (Exception e) {   // SparkException is checked, yet thrown undeclared through the Java API
            // a worker's divergence reaches the driver inside Spark's task failure
            boolean diverged = false;
            for (Throwable x = e; x != null && !diverged; x = x.getCause()) diverged = x instanceof TrainingDivergedException;
            String status = diverged ? "diverged" : "failed";
            c.info(status + ": " + Errors.userMessage(e));
            return new Result(t, status, null, null, null, null, Errors.userMessage(e), started, Instant.now().toString());
        } finally {
            sc.setLocalProperty("spark.scheduler.pool", null);
        }
    }

    private static Result finished(Configuration conf, Trial t, String started, String ended) throws IOException {
        JsonNode m = ModelBundle.JSON.readTree(Fs.readString(conf, new Path(Fs.path(t.dir()), "metrics.json")));
        return new Result(t, "finished", num(m, "validationAccuracy"), num(m, "validationLoss"), num(m, "testAccuracy"),
                m.path("epochs").asInt(), null, started, ended);
    }

    private static Double num(JsonNode m, String key) {
        JsonNode v = m.get(key);
        return v == null || v.isNull() ? null : v.asDouble();
    }

    /** Ranks the trials (best first; failed and diverged last), writes tune.json, best-config.yaml and report.html. */
    static int report(Configuration hadoop, DeepshardConfig config, TuneSpec spec, String tuneDir, List<Result> results, Console console)
            throws IOException {
        Comparator<Result> byMetric = Comparator.comparing((Result r) -> r.metric(spec) == null)
                .thenComparing(r -> r.metric(spec) == null ? 0 : (spec.higherIsBetter() ? -r.metric(spec) : r.metric(spec)))
                // equal accuracy (small validation splits): the lower validation loss first
                .thenComparing(r -> spec.higherIsBetter() && r.validationLoss() != null ? r.validationLoss() : 0.0)
                .thenComparing(r -> r.trial().number());
        List<Result> ranked = results.stream().sorted(byMetric).toList();
        Result best = ranked.get(0).metric(spec) == null ? null : ranked.get(0);
        List<String> keys = new ArrayList<>(spec.space().keySet());

        var header = new ArrayList<>(List.of("rank", "trial"));
        header.addAll(keys);
        header.addAll(List.of("val-acc", "val-loss", "test-acc", "epochs", "status"));
        var rows = new ArrayList<List<String>>();
        for (int i = 0; i < ranked.size(); i++) {
            Result r = ranked.get(i);
            var row = new ArrayList<>(List.of(r.metric(spec) == null ? "-" : Integer.toString(i + 1), Integer.toString(r.trial().number())));
            keys.forEach(k -> row.add(r.trial().values().get(k)));
            row.addAll(List.of(fmt(r.validationAccuracy()), fmt(r.validationLoss()), fmt(r.testAccuracy()),
                    r.epochs() == null ? "-" : r.epochs().toString(), r.status()));
            rows.add(row);
        }
        console.info(table(header, rows));

        var json = new LinkedHashMap<String, Object>();
        json.put("method", spec.method());
        json.put("metric", spec.metric());
        json.put("space", keys);
        json.put("bestTrial", best == null ? null : best.trial().number());
        json.put("best", best == null ? null : best.trial().values());
        var trials = new ArrayList<Map<String, Object>>();
        for (int i = 0; i < ranked.size(); i++) {
            Result r = ranked.get(i);
            var t = new LinkedHashMap<String, Object>();
            t.put("rank", r.metric(spec) == null ? null : i + 1);
            t.put("trial", r.trial().number());
            t.put("values", r.trial().values());
            t.put("status", r.status());
            t.put("validationAccuracy", r.validationAccuracy());
            t.put("validationLoss", r.validationLoss());
            t.put("testAccuracy", r.testAccuracy());
            t.put("epochs", r.epochs());
            t.put("runDirectory", r.trial().dir());
            t.put("startedAt", r.startedAt());
            t.put("finishedAt", r.finishedAt());
            if (r.message() != null) t.put("message", r.message());
            trials.add(t);
        }
        json.put("trials", trials);
        Path dir = Fs.path(tuneDir);
        if (best != null) {
            ObjectNode tree = (ObjectNode) TransferJob.YAML.readTree(best.trial().config().resolved());
            tree.remove("output");   // the default again: runs/{model}-{timestamp}
            Fs.writeString(hadoop, new Path(dir, "best-config.yaml"), "# the best trial (" + best.trial().number() + " of " + results.size()
                    + ", " + spec.metric() + " " + fmt(best.metric(spec)) + ") of the search in " + tuneDir + "\n"
                    + TransferJob.YAML.writeValueAsString(tree).replaceFirst("^---\\s*\\n", ""));
        }
        Fs.writeString(hadoop, new Path(dir, "report.html"), html(config, spec, ranked, header, rows, best));
        Fs.writeString(hadoop, new Path(dir, "tune.json"), TrainJob.json(json));   // last: a tune directory with tune.json is finished
        if (best == null) {
            console.info("no trial finished with a " + spec.metric() + ": see the messages above and " + Fs.display(new Path(dir, "tune.json")));
            return 1;
        }
        console.info(String.format(Locale.ROOT, "best: trial %d %s, %s %s; its config: %s", best.trial().number(), best.trial().values(),
                spec.metric(), fmt(best.metric(spec)), Fs.display(new Path(dir, "best-config.yaml"))));
        console.info("report: " + Fs.display(new Path(dir, "report.html")));
        return 0;
    }

    private static String html(DeepshardConfig config, TuneSpec spec, List<Result> ranked, List<String> header, List<List<String>> rows, Result best) {
        // the chart's x axis: the first searched key whose values are all numbers (the learning rate, typically)
        String param = null;
        for (String k : spec.space().keySet()) {
            if (ranked.stream().allMatch(r -> isNumber(r.trial().values().get(k)))) { param = k; break; }
        }
        var report = new HtmlReport("Deepshard tune: " + config.model().name());
        var summary = new LinkedHashMap<String, String>();
        summary.put("trials", Integer.toString(ranked.size()));
        summary.put("finished", Long.toString(ranked.stream().filter(r -> r.status().equals("finished")).count()));
        summary.put("best " + spec.metric(), best == null ? "-" : fmt(best.metric(spec)));
        if (best != null) summary.put("best trial", best.trial().number() + " " + best.trial().values());
        report.summary(summary);
        var points = new ArrayList<double[]>();
        if (param != null) {
            final String p = param;
            ranked.stream().filter(r -> r.metric(spec) != null)
                    .map(r -> new double[] {Double.parseDouble(r.trial().values().get(p)), r.metric(spec)})
                    .sorted(Comparator.comparingDouble(a -> a[0])).forEach(points::add);
        }
        boolean logX = param != null && (spec.space().get(param).log() || points.stream().allMatch(a -> a[0] > 0)
                && points.stream().mapToDouble(a -> a[0]).max().orElse(1) / points.stream().mapToDouble(a -> a[0]).min().orElse(1) >= 100);
        report.trials(param == null ? "trial" : param, logX, spec.metric(), points, header, rows);
        report.text("Config", config.resolved());
        return report.html();
    }

    private static boolean isNumber(String s) {
        try {
            Double.parseDouble(s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static String fmt(Double v) { return v == null ? "-" : String.format(Locale.ROOT, "%.4f", v); }

    static String table(List<String> header, List<List<String>> rows) {
        int[] w = new int[header.size()];
        for (int i = 0; i < w.length; i++) w[i] = header.get(i).length();
        for (List<String> r : rows) for (int i = 0; i < w.length; i++) w[i] = Math.max(w[i], r.get(i).length());
        var sb = new StringBuilder();
        for (List<String> r : concat(header, rows)) {
            for (int i = 0; i < w.length; i++) sb.append(i == 0 ? "" : "  ").append(String.format(Locale.ROOT, "%" + w[i] + "s", r.get(i)));
            sb.append('\n');
        }
        return sb.substring(0, sb.length() - 1);
    }

    private static List<List<String>> concat(List<String> header, List<List<String>> rows) {
        var all = new ArrayList<List<String>>();
        all.add(header);
        all.addAll(rows);
        return all;
    }
}
