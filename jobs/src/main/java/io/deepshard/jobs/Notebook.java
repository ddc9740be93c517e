package io.deepshard.jobs;

import com.fasterxml.jackson.core.type.TypeReference;
import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Deepshard from a notebook (Jupyter with a Java kernel, Zeppelin's {@code %spark}): the jobs as methods on the
 * notebook's live SparkSession (which they never stop), results as objects a cell can show. Configs are YAML text,
 * checked exactly as {@code bin/deepshard} checks a file; outputs are ordinary run directories.
 * <pre>
 * SparkSession spark = Notebook.localSpark("local[2]");
 * Notebook.Run run = Notebook.train(spark, Files.readString(Path.of("conf/lenet5-fashion.yaml")), "training.epochs=1");
 * display("text/html", run.reportHtml());                  // learning curves, confusion matrix, samples
 * Notebook.Evaluation e = Notebook.evaluate(spark, run.dir(), "fashion-mnist:test");
 * display(Notebook.filters(run.dir()));                   // what the first layer learned
 * </pre>
 */
public final class Notebook {
    private Notebook() {}

    /** An embedded Spark with the launcher's settings (use the notebook's own session on a cluster). */
    public static SparkSession localSpark(String master) {
        System.setProperty("spark.master", master);
        if (System.getenv("SPARK_LOCAL_IP") == null) System.setProperty("spark.driver.host", "127.0.0.1");
        return Spark.session("deepshard-notebook");
    }

    /** A finished training's run directory, and what is in it. */
    public record Run(String dir) {
        public ModelBundle bundle() { return ModelBundle.load(new org.apache.hadoop.conf.Configuration(), dir); }

        public Map<String, Object> metrics() { return readJson("metrics.json", new TypeReference<>() {}); }

        public List<EpochMetrics> history() {
            return ModelBundle.JSON.convertValue(metrics().get("history"), new TypeReference<List<EpochMetrics>>() {});
        }

        public Double testAccuracy() { return (Double) metrics().get("testAccuracy"); }

        /** The run's report.html: learning curves, learning rate, throughput, confusion matrix, sample predictions. */
        public String reportHtml() { return read("report.html"); }

        private String read(String name) {
            return Fs.readString(new org.apache.hadoop.conf.Configuration(), new Path(Fs.path(dir), name));
        }

        private <T> T readJson(String name, TypeReference<T> type) {
            try {
                return ModelBundle.JSON.readValue(read(name), type);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(dir + "/" + name + " does not parse: " + e.getOriginalMessage(), e);
            }
        }
    }

    /**
     * Trains a config given as YAML text ({@code overrides} as {@code --set} takes them, e.g. {@code "training.epochs=1"})
     * into its {@code output} run directory; progress and the per-epoch table go to the cell's output.
     */
    public static Run train(SparkSession spark, String configYaml, String... overrides) {
        DeepshardConfig config = ConfigLoader.parse(configYaml, "notebook config", Arrays.asList(overrides));
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        TrainJob.RunDirectory.Target target = TrainJob.RunDirectory.resolve(config, sc.hadoopConfiguration(), null);
        Console console = Console.system();
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> console.info("data: " + msg));
        TrainJob.train(sc, config, target.dir(), fetcher, console, TrainJob.Setup.SCRATCH);
        return new Run(target.dir());
    }

    /**
     * What the first layer learned: its filters (a first convolution's kernels, RGB for colour input; an MLP's first
     * dense layer's weights as images), one tile each, as {@code visualize} draws them into {@code filters.png}.
     */
    public static java.awt.image.BufferedImage filters(String runDir) {
        ModelBundle bundle = new Run(runDir).bundle();
        DeepshardConfig config = ConfigLoader.parse(bundle.configYaml(), runDir + "/model/config.yaml", List.of());
        var f = io.deepshard.core.viz.Filters.of(bundle.network(), config.data().inputShape())
                .orElseThrow(() -> new IllegalArgumentException(runDir + ": the model's first layer has no weights to draw"));
        try {
            return javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(f.grid().png()));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** An evaluation: its numbers (as {@code evaluation.json} holds them) and its report. */
    public record Evaluation(Map<String, Object> json, String reportHtml, String summary) {
        public double accuracy() { return ((Number) json.get("accuracy")).doubleValue(); }
    }

    /** Evaluates a run's model on labelled data (any training format), exactly as {@code evaluate} does. */
    public static Evaluation evaluate(SparkSession spark, String runDir, String data, String... dataOverrides) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        ModelInput input = ModelInput.open(runDir, data, Arrays.asList(dataOverrides), sc.hadoopConfiguration());
        Console console = Console.system();
        EvaluateJob.Result r = EvaluateJob.evaluate(sc, input, DatasetFetcher.fromEnvironment(msg -> console.info("data: " + msg)),
                io.deepshard.core.train.EvalStats.DEFAULT_TOP_K);
        return new Evaluation(r.json(), RunReports.evaluation(r.json(), r.stats(), input.bundle(), r.samples()),
                EvaluateJob.describe(r.stats(), input.bundle().labels()));
    }
}
