package io.deepshard.jobs;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.Shard;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.util.Fs;
import io.deepshard.core.util.MachineInfo;
import io.deepshard.core.util.Versions;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.data.Sharder;
import io.deepshard.spark.data.SparkDatasets;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.spark.train.EpochMetrics;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code train}: config → data → normalization → distributed training → evaluation → run directory.
 * Runs the same through {@code bin/deepshard train conf.yaml} (embedded local Spark) and
 * {@code spark-submit --class io.deepshard.jobs.TrainJob app.jar conf.yaml [--set k=v ...]}.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a model with data-parallel parameter averaging on Spark.")
public final class TrainJob implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML config file (see conf/).")
    java.nio.file.Path configFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key, value in YAML: "
            + "--set training.epochs=2 --set data.inputShape=[1,28,28]")
    List<String> overrides = new ArrayList<>();

    public static void main(String[] args) {
        System.exit(Cli.run(new TrainJob(), args));
    }

    @Override public Integer call() {
        Console console = Console.system();
        DeepshardConfig config = ConfigLoader.load(configFile, overrides);
        Configuration hadoop = new Configuration();
        String runDir = RunDirectory.resolve(config, hadoop);
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> console.info("data: " + msg));
        // Built-in datasets are fetched before Spark starts: a missing dataset fails in seconds, not after start-up.
        if (config.data().train().isBuiltIn()) fetcher.split(config.data().train().builtIn());
        if (config.data().test() != null && config.data().test().isBuiltIn()) fetcher.split(config.data().test().builtIn());

        SparkSession spark = Spark.session("deepshard-train");
        try {
            return train(JavaSparkContext.fromSparkContext(spark.sparkContext()), config, runDir, fetcher, console);
        } finally {
            spark.stop();
        }
    }

    static int train(JavaSparkContext sc, DeepshardConfig config, String runDir, DatasetFetcher fetcher, Console console) {
        var trainer = new DistributedTrainer(sc, config);
        int workers = trainer.workers();
        SparkDatasets.Splits splits = SparkDatasets.load(sc, config.data(), workers, fetcher, config.training().seed());
        LoadedSplit train = splits.train(), validation = splits.validation(), test = splits.test();
        var t = config.training();
        console.info(String.format(Locale.ROOT, "Deepshard train: %s on %,d training%s / %,d test images, %d classes",
                config.model().describe().toString().replaceAll("[{}]", ""), train.count(),
                validation == null ? "" : String.format(Locale.ROOT, " / %,d validation", validation.count()),
                test == null ? 0 : test.count(), config.data().numClasses()));
        console.info(String.format(Locale.ROOT, "Spark %s (%s): %d worker(s) x batch %d, averaging every %d steps, strategy %s, %s lr %s, seed %d",
                sc.version(), sc.master(), workers, t.batchSize(), t.averagingFrequency(), t.strategy(), t.optimizer().type(),
                t.optimizer().learningRate(), t.seed()));
        Normalizer normalizer = Normalization.fit(train.records(), config.data().normalization(), config.data().channels());
        console.info("normalization (fitted on the training split): " + normalizer);
        JavaRDD<Shard> testShards = test == null ? null : Sharder.inOrder(test.records(), config.data().inputShape());
        JavaRDD<Shard> validationShards = validation == null ? null : Sharder.inOrder(validation.records(), config.data().inputShape());

        var listener = new BestModelCheckpoint(console, sc, config, splits, normalizer, train.classNames(), runDir);
        DistributedTrainer.Result result = trainer.fit(train, validationShards, testShards, normalizer, listener);

        Map<String, Object> provenance = provenance(sc, config, splits.describe(), result);
        new ModelBundle(result.network(), normalizer, train.classNames(), config.resolved(), provenance).save(sc.hadoopConfiguration(), runDir);
        Fs.writeString(sc.hadoopConfiguration(), new Path(Fs.path(runDir), "metrics.json"), metricsJson(config, result, splits));
        if (result.finalTest() != null && result.finalTest().isPerPixel()) {
            console.info(Console.perClass(result.finalTest(), train.classNames()));
        }
        var done = new StringBuilder("done");
        if (result.finalValidation() != null) {
            done.append(String.format(Locale.ROOT, ": validation accuracy %.4f", result.finalValidation().accuracy()));
        }
        if (result.finalTest() != null) {
            done.append(result.finalTest().isPerPixel()
                    ? String.format(Locale.ROOT, "%s test mean IoU %.4f, pixel accuracy %.4f, test loss %.4f", done.length() > 4 ? "," : ":",
                            result.finalTest().meanIoU(), result.finalTest().accuracy(), result.finalTest().loss())
                    : String.format(Locale.ROOT, "%s test accuracy %.4f, test loss %.4f", done.length() > 4 ? "," : ":",
                            result.finalTest().accuracy(), result.finalTest().loss()));
        }
        done.append(String.format(Locale.ROOT, ", %.0f images/s over %d epochs", result.imagesPerSecond(), result.history().size()));
        if (result.bestEpoch() != result.history().size()) done.append(" (model of epoch ").append(result.bestEpoch()).append(")");
        console.info(done.toString());
        console.info("run directory: " + Fs.display(Fs.path(runDir)));
        return 0;
    }

    /**
     * With early stopping, writes each new best model (atomically, replacing the previous one) to {@code <run>/best/},
     * a complete bundle whose provenance names the epoch; prints the epochs through the console.
     */
    static final class BestModelCheckpoint implements io.deepshard.spark.train.TrainingListener {
        private final Console console;
        private final JavaSparkContext sc;
        private final DeepshardConfig config;
        private final SparkDatasets.Splits splits;
        private final Normalizer normalizer;
        private final List<String> classNames;
        private final String runDir;

        BestModelCheckpoint(Console console, JavaSparkContext sc, DeepshardConfig config, SparkDatasets.Splits splits,
                            Normalizer normalizer, List<String> classNames, String runDir) {
            this.console = console;
            this.sc = sc;
            this.config = config;
            this.splits = splits;
            this.normalizer = normalizer;
            this.classNames = classNames;
            this.runDir = runDir;
        }

        @Override public void onRound(int epoch, int round, int rounds, double loss) { console.onRound(epoch, round, rounds, loss); }

        @Override public void onEpoch(EpochMetrics m) { console.onEpoch(m); }

        @Override public void onEarlyStop(int epoch, int bestEpoch, double bestValue, io.deepshard.core.config.EarlyStoppingSpec spec) {
            console.onEarlyStop(epoch, bestEpoch, bestValue, spec);
        }

        @Override public void onBest(EpochMetrics m, org.deeplearning4j.nn.graph.ComputationGraph network) {
            var p = new LinkedHashMap<String, Object>();
            p.put("createdAt", Instant.now().toString());
            var versions = new LinkedHashMap<String, Object>(Versions.core());
            versions.put("spark", sc.version());
            p.put("versions", versions);
            p.put("seed", config.training().seed());
            p.put("configSha256", sha256(config.resolved()));
            p.put("model", config.model().describe());
            p.put("data", splits.describe());
            p.put("checkpoint", Map.of("epoch", m.epoch(), "validationLoss", m.validationLoss(),
                    "validationAccuracy", m.validationAccuracy(), "monitor", config.training().earlyStopping().monitor()));
            p.put("machine", MachineInfo.describe());
            String dir = new Path(Fs.path(runDir), "best").toString();
            new ModelBundle(network, normalizer, classNames, config.resolved(), p).save(sc.hadoopConfiguration(), dir);
        }
    }

    static Map<String, Object> provenance(JavaSparkContext sc, DeepshardConfig config, Map<String, Object> data,
                                          DistributedTrainer.Result result) {
        var p = new LinkedHashMap<String, Object>();
        p.put("createdAt", Instant.now().toString());
        var versions = new LinkedHashMap<String, Object>(Versions.core());
        versions.put("spark", sc.version());
        versions.put("scala", scala.util.Properties.versionNumberString());
        p.put("versions", versions);
        p.put("seed", config.training().seed());
        p.put("configSha256", sha256(config.resolved()));
        p.put("model", config.model().describe());
        p.put("parameters", result.network().numParams());
        p.put("data", data);
        var run = new LinkedHashMap<String, Object>();
        run.put("strategy", config.training().strategy());
        run.put("sparkMaster", sc.master());
        run.put("applicationId", sc.sc().applicationId());
        run.put("workers", result.workers());
        run.put("epochs", result.history().size());
        run.put("iterations", result.state().iteration());
        run.put("modelEpoch", result.bestEpoch());
        run.put("stoppedEarly", result.stoppedEarly());
        p.put("training", run);
        p.put("machine", MachineInfo.describe());
        return p;
    }

    static String metricsJson(DeepshardConfig config, DistributedTrainer.Result result, SparkDatasets.Splits splits) {
        EpochMetrics modelEpoch = result.history().get(result.bestEpoch() - 1);
        var m = new LinkedHashMap<String, Object>();
        m.put("testAccuracy", result.finalTest() == null ? null : result.finalTest().accuracy());
        m.put("testLoss", result.finalTest() == null ? null : result.finalTest().loss());
        if (result.finalValidation() != null) {
            m.put("validationAccuracy", result.finalValidation().accuracy());
            m.put("validationLoss", result.finalValidation().loss());
        }
        m.put("trainLoss", modelEpoch.trainLoss());
        m.put("epochs", result.history().size());
        m.put("modelEpoch", result.bestEpoch());
        m.put("stoppedEarly", result.stoppedEarly());
        m.put("imagesPerSecond", result.imagesPerSecond());
        m.put("workers", result.workers());
        m.put("strategy", config.training().strategy());
        m.put("elapsedSeconds", result.history().get(result.history().size() - 1).elapsedSeconds());
        if (result.finalTest() != null && result.finalTest().isPerPixel()) segmentationJson(m, result.finalTest(), splits.train().classNames());
        if (result.finalTest() != null) m.put("confusionMatrix", result.finalTest().confusion());
        m.put("badRecords", splits.badRecordsJson());
        m.put("history", result.history());
        try {
            return ModelBundle.JSON.writeValueAsString(m);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Segmentation: pixel accuracy (= testAccuracy), mean IoU and Dice, and both per class by name (null: class absent). */
    static void segmentationJson(Map<String, Object> m, io.deepshard.core.train.EvalStats test, List<String> classNames) {
        m.put("pixelAccuracy", test.accuracy());
        m.put("meanIoU", test.meanIoU());
        m.put("meanDice", test.meanDice());
        var iou = new LinkedHashMap<String, Object>();
        var dice = new LinkedHashMap<String, Object>();
        for (int k = 0; k < test.numClasses(); k++) {
            String name = k < classNames.size() ? classNames.get(k) : Integer.toString(k);
            iou.put(name, Double.isNaN(test.iou(k)) ? null : test.iou(k));
            dice.put(name, Double.isNaN(test.dice(k)) ? null : test.dice(k));
        }
        m.put("perClassIoU", iou);
        m.put("perClassDice", dice);
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The run directory: {@code output} with {model} and {timestamp} filled in; refuses to overwrite a finished run. */
    static final class RunDirectory {
        private RunDirectory() {}

        static String resolve(DeepshardConfig config, Configuration hadoop) {
            String ts = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now());
            String out = config.output().replace("{model}", config.model().name()).replace("{timestamp}", ts);
            Path p = Fs.path(out);
            try {
                if (Fs.fs(p, hadoop).exists(new Path(p, ModelBundle.DIR))) {
                    throw new io.deepshard.core.config.ConfigException(config.source(), List.of("output: " + p
                            + " already holds a trained model; choose another output (e.g. with {timestamp} in it) or remove it"));
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot check the run directory " + p + ": " + e.getMessage(), e);
            }
            return p.toString();
        }
    }
}
