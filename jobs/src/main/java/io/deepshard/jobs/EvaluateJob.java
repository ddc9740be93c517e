package io.deepshard.jobs;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.EvalStats;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.TrainingRecipe;
import io.deepshard.core.util.Fs;
import io.deepshard.spark.data.Sharder;
import io.deepshard.spark.train.DistributedEvaluator;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code evaluate --model RUN_DIR --data URI}: the trained model on labelled data, in Spark, exactly as training
 * evaluated its test split: accuracy, top-k accuracy, loss, per-class precision/recall/F1 and the confusion matrix
 * (segmentation: per pixel, with IoU and Dice) into {@code evaluation.json} of an evaluation directory.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Evaluate a trained model on labelled data: accuracy, top-k, loss, per-class precision/recall/F1, "
                + "confusion matrix (segmentation: IoU, Dice, pixel accuracy).")
public final class EvaluateJob implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "RUN_DIR", description = "A run directory (or its model/ folder).")
    String model;

    @Option(names = "--data", required = true, paramLabel = "URI",
            description = "Labelled data in any training format: a built-in name (fashion-mnist:test), an IDX images file, "
                    + "class folders, Parquet, a segmentation folder.")
    String data;

    @Option(names = "--out", paramLabel = "DIR", description = "Where evaluation.json goes (default: RUN_DIR/evaluations/<UTC time>).")
    String out;

    @Option(names = "--overwrite", description = "Replace an earlier evaluation in --out (schedulers re-running a task).")
    boolean overwrite;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "5", description = "k of the top-k accuracy (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a data option of the model's config, e.g. "
            + "--set data.badRecords=skip")
    List<String> overrides = new ArrayList<>();

    public static void main(String[] args) { Cli.exit(Cli.run(new EvaluateJob(), args)); }

    @Override public Integer call() {
        if (topK < 1) throw new io.deepshard.core.config.ConfigException("--top-k", List.of("must be at least 1, found " + topK));
        Console console = Console.system();
        Configuration hadoop = new Configuration();
        ModelInput input = ModelInput.open(model, data, overrides, hadoop);
        String dir = out != null ? out : new Path(Fs.path(model).getName().equals(ModelBundle.DIR) ? Fs.path(model).getParent()
                : Fs.path(model), "evaluations/" + TrainJob.RunDirectory.timestamp()).toString();
        Path json = new Path(Fs.path(dir), "evaluation.json");
        try {
            if (!overwrite && Fs.fs(json, hadoop).exists(json)) {
                throw new io.deepshard.core.config.ConfigException("--out", List.of(json + " exists; choose another --out or add --overwrite"));
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> console.info("data: " + msg));
        if (input.config().data().test().isBuiltIn()) fetcher.split(input.config().data().test().builtIn());
        SparkSession spark = Spark.session("deepshard-evaluate");
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            Result r = evaluate(sc, input, fetcher, topK);
            Fs.writeString(sc.hadoopConfiguration(), json, ModelBundle.JSON.writeValueAsString(r.json()));
            Path report = new Path(Fs.path(dir), "report.html");
            Fs.writeString(sc.hadoopConfiguration(), report, RunReports.evaluation(r.json(), r.stats(), input.bundle(), r.samples()));
            console.info(describe(r.stats(), input.bundle().labels()));
            console.info("evaluation: " + Fs.display(json));
            console.info("report: " + Fs.display(report));
            return 0;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        } finally {
            spark.stop();
        }
    }

    record Result(EvalStats stats, Map<String, Object> json, List<io.deepshard.core.report.HtmlReport.Sample> samples) {}

    static Result evaluate(JavaSparkContext sc, ModelInput input, DatasetFetcher fetcher, int topK) {
        var d = input.read(sc, sc.defaultParallelism(), fetcher, false);
        var c = input.config();
        JavaRDD<Shard> shards = Sharder.inOrder(d.split().records(), c.data().inputShape());
        var net = input.bundle().network();
        var recipe = new TrainingRecipe(net.getConfiguration().toJson(), input.bundle().normalizer(), input.bundle().labels().size(), null,
                c.training().seed(), new int[0], c.training().engine());
        EvalStats stats = DistributedEvaluator.evaluate(sc, shards, recipe, NetworkState.of(net), topK);
        var samples = RunReports.samples(d.split().records(), input.bundle(), c.data());
        shards.unpersist(false);
        d.split().records().unpersist(false);
        var m = new LinkedHashMap<String, Object>();
        m.put("createdAt", Instant.now().toString());
        m.put("model", Fs.display(Fs.path(input.modelUri())));
        m.put("modelProvenance", Map.of("createdAt", String.valueOf(input.bundle().provenance().get("createdAt")),
                "configSha256", String.valueOf(input.bundle().provenance().get("configSha256")),
                "model", input.bundle().provenance().getOrDefault("model", Map.of())));
        m.put("data", d.split().description());
        m.put("badRecords", d.split().badRecords().toJson());
        m.putAll(stats.toJson(input.bundle().labels()));
        return new Result(stats, m, samples);
    }

    /** The console summary: headline numbers, then one line per class, then the confusion matrix (classification). */
    static String describe(EvalStats s, List<String> labels) {
        var sb = new StringBuilder();
        if (s.isPerPixel()) {
            sb.append(String.format(Locale.ROOT, "%,d pixels: pixel accuracy %.4f, mean IoU %.4f, mean Dice %.4f, loss %.4f%n",
                    s.count(), s.accuracy(), s.meanIoU(), s.meanDice(), s.loss()));
            sb.append(Console.perClass(s, labels));
            return sb.toString();
        }
        sb.append(String.format(Locale.ROOT, "%,d images: accuracy %.4f, top-%d accuracy %.4f, loss %.4f, macro F1 %.4f%n",
                s.count(), s.accuracy(), s.topK(), s.topKAccuracy(), s.loss(), s.macroF1()));
        int w = Math.max(8, labels.stream().mapToInt(String::length).max().orElse(5) + 4);
        sb.append(String.format(Locale.ROOT, "%-" + w + "s %9s %9s %9s %9s%n", "class", "precision", "recall", "F1", "support"));
        for (int k = 0; k < s.numClasses(); k++) {
            sb.append(String.format(Locale.ROOT, "%-" + w + "s %9s %9s %9s %9d%n", k + " " + labels.get(k), fmt(s.precision(k)),
                    fmt(s.recall(k)), fmt(s.f1(k)), s.support(k)));
        }
        sb.append("confusion matrix (rows: true class, columns: predicted class)\n");
        long[][] cm = s.confusion();
        long max = 1;
        for (long[] row : cm) for (long v : row) max = Math.max(max, v);
        int cw = Math.max(3, Long.toString(max).length() + 1);
        sb.append(" ".repeat(4));
        for (int k = 0; k < cm.length; k++) sb.append(String.format(Locale.ROOT, "%" + cw + "d", k));
        for (int t = 0; t < cm.length; t++) {
            sb.append(String.format(Locale.ROOT, "%n%4d", t));
            for (long v : cm[t]) sb.append(String.format(Locale.ROOT, "%" + cw + "d", v));
        }
        return sb.toString();
    }

    private static String fmt(double v) { return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.4f", v); }
}
