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
import io.deepshard.core.train.Checkpoint;
import io.deepshard.core.train.CheckpointException;
import io.deepshard.core.train.CheckpointStore;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.core.train.OneDnnHelpers;
import io.deepshard.core.tracking.MlflowHttpRun;
import io.deepshard.core.tracking.MlflowRunDir;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
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

    @Option(names = "--resume", arity = "0..1", fallbackValue = "", paramLabel = "RUN_DIR",
            description = "Continue an interrupted run from its newest valid checkpoint: the given run directory, else "
                    + "the config's output (with {timestamp}: the newest unfinished run). Starts a new run when there is "
                    + "no checkpoint yet; does nothing when the run already finished.")
    String resume;

    @Option(names = "--live-view", arity = "0..1", fallbackValue = "4050", paramLabel = "PORT",
            description = "Serve a live view of the training (curves so far, progress) from the driver on PORT (default 4050; "
                    + "0: any free port) while it runs.")
    Integer liveViewPort;

    @Option(names = "--live-view-host", paramLabel = "ADDRESS", defaultValue = "127.0.0.1",
            description = "Address the live view binds to (default ${DEFAULT-VALUE}: this machine only; 0.0.0.0 exposes it).")
    String liveViewHost;

    public static void main(String[] args) {
        Cli.exit(Cli.run(new TrainJob(), args));
    }

    @Override public Integer call() {
        Console console = Console.system();
        String job = otherJobSection(configFile);
        if (job != null) {
            throw new io.deepshard.core.config.ConfigException(configFile.toString(), List.of(job + ": this config has a " + job
                    + " section; run it with `deepshard " + job + " " + configFile + "`, or remove the section to train"));
        }
        DeepshardConfig config = ConfigLoader.load(configFile, overrides);
        List<String> fromEnvironment = TrackingServer.environmentOverrides(config, System.getenv(), console);
        if (!fromEnvironment.isEmpty()) {
            var all = new ArrayList<>(overrides);
            all.addAll(fromEnvironment);
            config = ConfigLoader.load(configFile, all);
        }
        Configuration hadoop = new Configuration();
        RunDirectory.Target target = RunDirectory.resolve(config, hadoop, resume);
        if (target.finished()) {
            console.info("run " + Fs.display(Fs.path(target.dir())) + " already finished (it holds a trained model): nothing to resume");
            return 0;
        }
        String runDir = target.dir();
        MlflowHttpRun server = TrackingServer.connect(config, hadoop, runDir, System.getenv(), console);
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> console.info("data: " + msg));
        // Built-in datasets are fetched before Spark starts: a missing dataset fails in seconds, not after start-up.
        if (config.data().train().isBuiltIn()) fetcher.split(config.data().train().builtIn());
        if (config.data().test() != null && config.data().test().isBuiltIn()) fetcher.split(config.data().test().builtIn());

        LiveView live = liveViewPort == null ? null : liveView(liveViewHost, liveViewPort, "Deepshard train: " + Fs.path(runDir).getName());
        if (live != null) console.info("live view: " + live.url());
        SparkSession spark = Spark.session("deepshard-train");
        try {
            return train(JavaSparkContext.fromSparkContext(spark.sparkContext()), config, runDir, fetcher, console,
                    new Setup(null, null, Map.of(), true, live, server));
        } finally {
            spark.stop();
            if (live != null) live.close();
        }
    }
    static LiveView liveView(String host, int port, String title) {
        try {
            return new LiveView(host, port, title, 5);
        } catch (java.io.IOException | RuntimeException e) {
            throw new io.deepshard.core.config.ConfigException("--live-view", List.of("cannot serve on " + host + ":" + port + " ("
                    + e.getMessage() + "); choose another port (0: any free one) or --live-view-host"));
        }
    }

    /** "transfer" or "tune" when the config file has that section (another job's config), else null. */
    static String otherJobSection(java.nio.file.Path file) {
        try {
            var tree = TransferJob.YAML.readTree(java.nio.file.Files.readString(file));
            if (tree != null && tree.has("transfer")) return "transfer";
            if (tree != null && tree.has("tune")) return "tune";
        } catch (java.io.IOException e) {
            // unreadable or not YAML: ConfigLoader reports it with the details
        }
        return null;
    }

    /**
     * How a run starts when it does not start from scratch (the {@code transfer} job), and who else hears of it.
     *
     * @param network    builds the initial network given the optimizer steps per epoch; null: a new network of the model
     * @param normalizer the normalization to use instead of fitting one on the training split; null: fit
     * @param provenance entries added to the model's provenance
     * @param tracking   whether the run directory is also an MLflow run
     * @param observer   also told of every round and epoch (the live view), or null
     * @param server     the run on an MLflow tracking server, or null
     */
    record Setup(java.util.function.IntFunction<org.deeplearning4j.nn.graph.ComputationGraph> network, Normalizer normalizer,
                 Map<String, Object> provenance, boolean tracking, io.deepshard.spark.train.TrainingListener observer, MlflowHttpRun server) {
        static final Setup SCRATCH = new Setup(null, null, Map.of(), true, null, null);

        Setup(java.util.function.IntFunction<org.deeplearning4j.nn.graph.ComputationGraph> network, Normalizer normalizer,
              Map<String, Object> provenance, boolean tracking) {
            this(network, normalizer, provenance, tracking, null, null);
        }
    }

    static int train(JavaSparkContext sc, DeepshardConfig config, String runDir, DatasetFetcher fetcher, Console console) {
        return train(sc, config, runDir, fetcher, console, Setup.SCRATCH);
    }

    static int train(JavaSparkContext sc, DeepshardConfig config, String runDir, DatasetFetcher fetcher, Console console, Setup setup) {
        MlflowHttpRun server = setup.tracking() ? setup.server() : null;
        var trainer = new DistributedTrainer(sc, config, setup.network());
        int workers = trainer.workers();
        SparkDatasets.Splits splits = SparkDatasets.load(sc, config.data(), workers, fetcher, config.training().seed());
        LoadedSplit train = splits.train(), validation = splits.validation(), test = splits.test();
        var t = config.training();
        console.info(String.format(Locale.ROOT, "Deepshard train: %s on %,d training%s%s images%s, %d classes",
                config.model().describe().toString().replaceAll("[{}]", ""), train.count(),
                validation == null ? "" : String.format(Locale.ROOT, " / %,d validation", validation.count()),
                test == null ? "" : String.format(Locale.ROOT, " / %,d test", test.count()),
                test == null ? " (no test split)" : "", config.data().numClasses()));
        console.info(String.format(Locale.ROOT, "Spark %s (%s): %d worker(s) x batch %d, averaging every %d steps, strategy %s, %s lr %s, seed %d, engine %s",
                sc.version(), sc.master(), workers, t.batchSize(), t.averagingFrequency(), t.strategy(), t.optimizer().type(),
                t.optimizer().learningRate(), t.seed(), OneDnnHelpers.resolve(t.engine())));
        var store = new CheckpointStore(sc.hadoopConfiguration(), runDir);
        Checkpoint resumeFrom = resumePoint(store, config, runDir, console);
        Normalizer normalizer;
        if (resumeFrom != null) {
            normalizer = resumeFrom.normalizer();
            console.info("normalization (from the checkpoint): " + normalizer);
        } else if (setup.normalizer() != null) {
            normalizer = setup.normalizer();
            console.info("normalization (the source model's): " + normalizer);
        } else {
            normalizer = Normalization.fit(train.records(), config.data().normalization(), config.data().channels());
            console.info("normalization (fitted on the training split): " + normalizer);
        }
        if (t.checkpointKeep() > 0) {
            console.info(String.format(Locale.ROOT, "checkpoints: %s at every epoch end%s, keeping the last %d", Fs.display(store.directory()),
                    t.checkpointEvery() > 0 ? " and every " + t.checkpointEvery() + " rounds" : "", t.checkpointKeep()));
        }
        JavaRDD<Shard> testShards = test == null ? null : Sharder.inOrder(test.records(), config.data().inputShape());
        JavaRDD<Shard> validationShards = validation == null ? null : Sharder.inOrder(validation.records(), config.data().inputShape());

        var events = new io.deepshard.spark.train.ClusterEvents();
        sc.sc().addSparkListener(events);
        var listener = new BestModelCheckpoint(console, sc, config, splits, normalizer, train.classNames(), runDir, events, server,
                setup.observer());
        var mlflow = new MlflowRunDir(sc.hadoopConfiguration(), runDir);
        boolean fileStore = setup.tracking() && mlflow.usable();
        Map<String, String> params = mlflowParams(config), tags = mlflowTags(sc, config, runDir);
        if (server != null) {
            server.start(Fs.path(runDir).getName(), params, tags);
            tags.putAll(serverTags(server));
        }
        if (fileStore) mlflow.start(params, tags);
        try {
            DistributedTrainer.Result result = trainer.fit(train, validationShards, testShards, normalizer, listener,
                    new DistributedTrainer.Checkpointing(store, resumeFrom));

            Map<String, Object> provenance = provenance(sc, config, splits.describe(), result, resumeFrom);
            provenance.putAll(setup.provenance());
            sc.sc().removeSparkListener(events);
            Map<String, Object> metrics = metrics(config, result, splits, events.events(), listener.executorMemory);
            Fs.writeString(sc.hadoopConfiguration(), new Path(Fs.path(runDir), "metrics.json"), json(metrics));
            if (!listener.rounds.isEmpty()) Fs.writeString(sc.hadoopConfiguration(), new Path(Fs.path(runDir), "rounds.jsonl"), listener.rounds.toString());
            // the bundle last: a run directory with model/ is a finished run (resume does nothing), so its metrics exist
            var bundle = new ModelBundle(result.network(), normalizer, train.classNames(), config.resolved(), provenance);
            bundle.save(sc.hadoopConfiguration(), runDir);
            store.deleteAll();
            writeReport(sc, config, runDir, result, metrics, bundle, test != null ? test : validation, console);
            var last = new LinkedHashMap<String, Double>();
            if (result.finalTest() != null) {
                last.put("final_test_accuracy", result.finalTest().accuracy());
                last.put("final_test_loss", result.finalTest().loss());
            }
            if (result.finalValidation() != null) last.put("final_validation_accuracy", result.finalValidation().accuracy());
            last.put("images_per_second_overall", result.imagesPerSecond());
            if (fileStore) mlflow.finish(MlflowRunDir.FINISHED, result.history(), last, ARTIFACTS);
            if (server != null) {
                server.finish("FINISHED", result.history(), last, ARTIFACTS);
                if (fileStore) serverTags(server).forEach(mlflow::tag); // the server run may only exist since finish
            }
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
            io.deepshard.core.train.RoundTiming total = result.history().stream().map(EpochMetrics::roundTiming)
                    .filter(java.util.Objects::nonNull).reduce(io.deepshard.core.train.RoundTiming.ZERO, io.deepshard.core.train.RoundTiming::plus);
            if (total.rounds() > 0) {
                console.info(String.format(Locale.ROOT, "rounds: %d, %.3f s each on average: compute %.3f s (slowest worker), "
                        + "broadcast %.3f s, overhead %.3f s (scheduling, results, averaging)", total.rounds(), total.seconds() / total.rounds(),
                        total.compute() / total.rounds(), total.broadcast() / total.rounds(), total.overhead() / total.rounds()));
            }
            console.info("run directory: " + Fs.display(Fs.path(runDir)));
            if (server != null) console.info(server.summary());
            return 0;
        } catch (RuntimeException | Error e) {
            if (fileStore) mlflow.failed();
            if (server != null) server.failed();
            throw e;
        }
    }

    /** The artifacts of a run (paths in the run directory), in the file store's artifacts/ and on a tracking server. */
    static final List<String> ARTIFACTS = List.of("report.html", "metrics.json", "model/config.yaml", "model/provenance.json");

    /** Tags of the file-store run naming its server run (none while there is none). */
    static Map<String, String> serverTags(MlflowHttpRun server) {
        if (server.runId() == null) return Map.of();
        return Map.of(MlflowHttpRun.SERVER_RUN_ID_TAG, server.runId(), MlflowHttpRun.SERVER_URI_TAG, server.trackingUri());
    }

    /** The resolved config as flat MLflow parameters (model.name, training.optimizer.learningRate, ...). */
    @SuppressWarnings("unchecked")
    static Map<String, String> mlflowParams(DeepshardConfig config) {
        try {
            Map<String, Object> tree = new com.fasterxml.jackson.databind.ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
                    .readValue(config.resolved(), Map.class);
            return MlflowRunDir.flatten(tree);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static Map<String, String> mlflowTags(JavaSparkContext sc, DeepshardConfig config, String runDir) {
        var t = new LinkedHashMap<String, String>();
        t.put("mlflow.runName", Fs.path(runDir).getName());
        t.put("mlflow.source.name", "deepshard train " + config.source());
        t.put("mlflow.source.type", "LOCAL");
        t.put("mlflow.user", System.getProperty("user.name", "unknown"));
        t.put("deepshard.configSha256", sha256(config.resolved()));
        t.put("deepshard.sparkMaster", sc.master());
        t.put("deepshard.applicationId", sc.sc().applicationId());
        return t;
    }

    /** {@code <run>/report.html}; a failure to write it is reported, not fatal (the model is saved by then). */
    static void writeReport(JavaSparkContext sc, DeepshardConfig config, String runDir, DistributedTrainer.Result result,
                            Map<String, Object> metrics, ModelBundle bundle, LoadedSplit sampleSplit, Console console) {
        Path report = new Path(Fs.path(runDir), "report.html");
        try {
            var samples = RunReports.samples(sampleSplit == null ? null : sampleSplit.records(), bundle, config.data());
            Fs.writeString(sc.hadoopConfiguration(), report, RunReports.train(runDir, metrics, result.history(), result.finalTest(), bundle, samples));
            console.info("report: " + Fs.display(report));
        } catch (RuntimeException e) {
            console.info("warning: " + report + " not written: " + e);
        }
    }

    /**
     * The checkpoint to continue from: null for a new run (no checkpoints), the newest readable one otherwise. Damaged
     * newer checkpoints are passed over with a warning; checkpoints none of which reads back are an error, never a
     * silent restart.
     */
    static Checkpoint resumePoint(CheckpointStore store, DeepshardConfig config, String runDir, Console console) {
        if (store.names().isEmpty()) return null;
        CheckpointStore.Found found = store.latest();
        for (CheckpointStore.Rejected r : found.rejected()) {
            console.info("warning: checkpoint " + r.name() + " is unusable (" + r.reason() + ")"
                    + (found.checkpoint() == null ? "" : "; falling back to " + found.name()));
        }
        if (found.checkpoint() == null) {
            throw new CheckpointException("cannot resume " + Fs.display(Fs.path(runDir)) + ": none of its " + found.rejected().size()
                    + " checkpoint(s) in " + Fs.display(store.directory()) + " reads back whole; remove that directory to start the run anew");
        }
        List<String> diff = CheckpointStore.differences(found.checkpoint().progress().settings(), config.trainingSettings());
        if (!diff.isEmpty()) {
            throw new CheckpointException("cannot resume " + Fs.display(Fs.path(runDir)) + " with this config: its checkpoint "
                    + found.name() + " was written with other settings (" + String.join("; ", diff) + "). Only "
                    + String.join(", ", DeepshardConfig.RESUMABLE_KEYS) + " may change when resuming; use the run's "
                    + "config.yaml or start a new run with another output");
        }
        console.info("resuming from checkpoint " + found.name() + " (" + found.checkpoint().progress().describe() + ", iteration "
                + found.checkpoint().state().iteration() + ")");
        return found.checkpoint();
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
        private final io.deepshard.spark.train.ClusterEvents events;
        private final MlflowHttpRun server;
        private final io.deepshard.spark.train.TrainingListener observer;
        /** Each executor's latest memory reading at each epoch end. */
        final List<Map<String, Object>> executorMemory = new ArrayList<>();

        BestModelCheckpoint(Console console, JavaSparkContext sc, DeepshardConfig config, SparkDatasets.Splits splits,
                            Normalizer normalizer, List<String> classNames, String runDir, io.deepshard.spark.train.ClusterEvents events,
                            MlflowHttpRun server, io.deepshard.spark.train.TrainingListener observer) {
            this.observer = observer == null ? new io.deepshard.spark.train.TrainingListener() {} : observer;
            this.console = console;
            this.sc = sc;
            this.config = config;
            this.splits = splits;
            this.normalizer = normalizer;
            this.classNames = classNames;
            this.runDir = runDir;
            this.events = events;
            this.server = server;
        }

        @Override public void onRound(int epoch, int round, int rounds, double loss) {
            console.onRound(epoch, round, rounds, loss);
            observer.onRound(epoch, round, rounds, loss);
        }

        /** Every round's timing, one JSON object per line, for {@code <run>/rounds.jsonl}. */
        final StringBuilder rounds = new StringBuilder();
        private static final com.fasterxml.jackson.databind.ObjectWriter ONE_LINE_JSON =
                ModelBundle.JSON.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);

        @Override public void onRoundTiming(int epoch, int round, double loss, long examples, io.deepshard.core.train.RoundTiming t) {
            var line = new LinkedHashMap<String, Object>();
            line.put("epoch", epoch + 1);
            line.put("round", round);
            line.put("loss", Double.isFinite(loss) ? loss : null);
            line.put("examples", examples);
            line.put("seconds", t.seconds());
            line.put("compute", t.compute());
            line.put("broadcast", t.broadcast());
            line.put("overhead", t.overhead());
            try {
                rounds.append(ONE_LINE_JSON.writeValueAsString(line)).append('\n');
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }

        /** The epoch's line, executor memory, and the epoch's metrics on the tracking server as it ends. */
        @Override public void onEpoch(EpochMetrics m) {
            console.onEpoch(m);
            observer.onEpoch(m);
            if (server != null) server.logEpoch(m);
            for (Map<String, Object> e : events.latestMemory()) {
                var row = new LinkedHashMap<String, Object>();
                row.put("epoch", m.epoch());
                row.putAll(e);
                executorMemory.add(row);
            }
        }

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
                                          DistributedTrainer.Result result, Checkpoint resumedFrom) {
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
        if (resumedFrom != null) run.put("resumedAt", resumedFrom.progress().describe());
        run.put("onednnLayerHelpers", OneDnnHelpers.enable().describe());
        run.put("engine", OneDnnHelpers.describe(OneDnnHelpers.resolve(config.training().engine()), result.network()));
        p.put("training", run);
        p.put("machine", MachineInfo.describe());
        return p;
    }

    static Map<String, Object> metrics(DeepshardConfig config, DistributedTrainer.Result result, SparkDatasets.Splits splits,
                                       List<Map<String, Object>> clusterEvents, List<Map<String, Object>> executorMemory) {
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
        m.put("clusterEvents", clusterEvents);
        m.put("executorMemory", executorMemory);
        m.put("history", result.history());
        return m;
    }

    static String json(Object value) {
        try {
            return ModelBundle.JSON.writeValueAsString(value);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
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

    /**
     * The run directory: {@code output} with {model} and {timestamp} filled in. A new run never overwrites another:
     * a directory with a model is finished, one with checkpoints is an unfinished run that only a resume may continue.
     * When resuming ({@code --resume}, {@code training.resume: auto}) with {timestamp} in {@code output}, the newest
     * matching directory of an unfinished run is continued; without one, a new run starts.
     */
    static final class RunDirectory {
        private RunDirectory() {}

        /** @param finished the directory holds a finished run (only returned when resuming) */
        record Target(String dir, boolean finished) {}

        /** @param resumeArg null without {@code --resume}, "" with it and no value, else the run directory given */
        static Target resolve(DeepshardConfig config, Configuration hadoop, String resumeArg) {
            boolean resume = resumeArg != null || "auto".equals(config.training().resume());
            String pattern = config.output().replace("{model}", config.model().name());
            try {
                Path p;
                if (resumeArg != null && !resumeArg.isEmpty()) {
                    p = Fs.path(resumeArg);
                    if (!Fs.fs(p, hadoop).exists(p)) {
                        throw new io.deepshard.core.config.ConfigException(config.source(), List.of("--resume: no run directory at " + p));
                    }
                } else if (resume && pattern.contains("{timestamp}")) {
                    Path newest = newestUnfinished(Fs.path(pattern.replace("{timestamp}", "*")), hadoop);
                    p = newest != null ? newest : Fs.path(pattern.replace("{timestamp}", timestamp()));
                } else {
                    p = Fs.path(pattern.replace("{timestamp}", timestamp()));
                }
                FileSystem fs = Fs.fs(p, hadoop);
                if (fs.exists(new Path(p, ModelBundle.DIR))) {
                    if (resume) return new Target(p.toString(), true);
                    throw new io.deepshard.core.config.ConfigException(config.source(), List.of("output: " + p
                            + " already holds a trained model; choose another output (e.g. with {timestamp} in it) or remove it"));
                }
                if (!resume && !new CheckpointStore(hadoop, p.toString()).names().isEmpty()) {
                    throw new io.deepshard.core.config.ConfigException(config.source(), List.of("output: " + p + " holds the "
                            + "checkpoints of an unfinished run: add --resume (or training.resume: auto) to continue it, or choose "
                            + "another output"));
                }
                return new Target(p.toString(), false);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot check the run directory " + pattern + ": " + e.getMessage(), e);
            }
        }

        static String timestamp() {
            return DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now());
        }

        /** The newest (by name: timestamps sort) directory matching {@code glob} with checkpoints and no model. */
        private static Path newestUnfinished(Path glob, Configuration hadoop) throws java.io.IOException {
            FileStatus[] matches = Fs.fs(glob, hadoop).globStatus(glob);
            if (matches == null) return null;
            Path best = null;
            for (FileStatus st : matches) {
                Path d = st.getPath();
                if (!st.isDirectory() || Fs.fs(d, hadoop).exists(new Path(d, ModelBundle.DIR))) continue;
                if (new CheckpointStore(hadoop, d.toString()).names().isEmpty()) continue;
                if (best == null || d.getName().compareTo(best.getName()) > 0) best = d;
            }
            return best;
        }
    }
}
