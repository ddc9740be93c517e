package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.ConfigOverrides;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.config.TransferSpec;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.util.Fs;
import io.deepshard.core.zoo.Transfer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code transfer CONFIG}: fine-tunes a trained model on new data. The config is a training config with a {@code
 * transfer} section ({@link TransferSpec}); {@code model} may be left out (the source's is used). The source's layers
 * and normalization are kept, its first layers frozen, its output head replaced by one for the new classes; with {@code
 * transfer.unfreeze}, a second phase trains every layer at a lower learning rate. The first phase then is a complete
 * run directory of its own, {@code <run>/frozen}, and {@code --resume} after it skips it.
 */
@Command(name = "transfer", mixinStandardHelpOptions = true,
        description = "Fine-tune a trained model on new data: freeze its first layers, replace its output head for the new classes, "
                + "train (and optionally unfreeze everything at a lower learning rate).")
public final class TransferJob implements Callable<Integer> {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    /** The first phase's run directory inside the run, when there is a second phase. */
    static final String FROZEN_PHASE = "frozen";

    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML config with a transfer section (see conf/).")
    java.nio.file.Path configFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key, value in YAML.")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--resume", arity = "0..1", fallbackValue = "", paramLabel = "RUN_DIR",
            description = "Continue an interrupted transfer (as train --resume; a finished first phase is not trained again).")
    String resume;

    public static void main(String[] args) { Cli.exit(Cli.run(new TransferJob(), args)); }

    /** The config, the source model and what the transfer does to it, all checked before Spark starts. */
    record Plan(DeepshardConfig config, ModelBundle source, TransferSpec spec, List<String> frozen, String head) {}

    @Override public Integer call() {
        Console console = Console.system();
        Configuration hadoop = new Configuration();
        Plan plan = plan(configFile, overrides, hadoop);
        DeepshardConfig config = plan.config();
        TrainJob.RunDirectory.Target target = TrainJob.RunDirectory.resolve(config, hadoop, resume);
        if (target.finished()) {
            console.info("run " + Fs.display(Fs.path(target.dir())) + " already finished (it holds a trained model): nothing to resume");
            return 0;
        }
        Path frozenPhase = new Path(Fs.path(target.dir()), FROZEN_PHASE);
        if (resume == null && !"auto".equals(config.training().resume()) && exists(hadoop, frozenPhase)) {
            throw new ConfigException(config.source(), List.of("output: " + Fs.display(Fs.path(target.dir())) + " holds the first phase of "
                    + "an unfinished transfer (" + FROZEN_PHASE + "/): add --resume to continue it, or choose another output"));
        }
        // with tracking.uri, the transfer's run (the second phase's, with one) is also a run on the tracking server
        io.deepshard.core.tracking.MlflowHttpRun server = TrackingServer.connect(config, hadoop, target.dir(), System.getenv(), console);
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> console.info("data: " + msg));
        if (config.data().train().isBuiltIn()) fetcher.split(config.data().train().builtIn());
        if (config.data().test() != null && config.data().test().isBuiltIn()) fetcher.split(config.data().test().builtIn());
        SparkSession spark = Spark.session("deepshard-transfer");
        try {
            return transfer(JavaSparkContext.fromSparkContext(spark.sparkContext()), plan, target.dir(), fetcher, console, server);
        } finally {
            spark.stop();
        }
    }

    static Plan plan(java.nio.file.Path configFile, List<String> overrides, Configuration hadoop) {
        String where = configFile.toString();
        ObjectNode tree;
        try {
            JsonNode n = YAML.readTree(Files.readString(configFile));
            if (!(n instanceof ObjectNode o)) throw new ConfigException(where, List.of("(top level): must be a mapping of keys to values"));
            tree = o;
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ConfigException(where, List.of("config file not found (looked at " + configFile.toAbsolutePath() + ")"));
        } catch (IOException e) {
            throw new ConfigException(where, List.of("cannot read the config file: " + e.getMessage()));
        }
        ConfigOverrides.apply(tree, overrides);
        JsonNode from = tree.path("transfer").path("from");
        if (!from.isTextual() || from.asText().isBlank()) {
            throw new ConfigException(where, List.of("transfer.from: is required: the run directory (or model/ folder) of the model to "
                    + "start from, found " + (from.isMissingNode() ? "nothing" : from.toString())));
        }
        ModelBundle source;
        try {
            source = ModelBundle.load(hadoop, from.asText());
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
            throw new ConfigException(where, List.of("transfer.from: " + e.getMessage()));
        }
        JsonNode sourceTree;
        try {
            sourceTree = YAML.readTree(source.configYaml());
        } catch (IOException e) {
            throw new ConfigException(where, List.of("transfer.from: the source's config.yaml does not parse: " + e.getMessage()));
        }
        boolean modelGiven = tree.has("model");
        if (!modelGiven) tree.set("model", sourceTree.get("model"));
        DeepshardConfig config;
        try {
            config = ConfigLoader.parse(YAML.writeValueAsString(tree), where, List.of());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        var problems = new ArrayList<String>();
        DeepshardConfig sourceConfig = ConfigLoader.parse(source.configYaml(), from.asText() + "/model/config.yaml", List.of());
        if (modelGiven && !config.model().describe().equals(sourceConfig.model().describe())) {
            problems.add("model: " + config.model().describe() + " is not the source model " + sourceConfig.model().describe()
                    + "; leave model out to use the source's");
        }
        if (!Arrays.equals(config.data().inputShape(), sourceConfig.data().inputShape())) {
            problems.add("data.inputShape: the source model takes " + Arrays.toString(sourceConfig.data().inputShape()) + ", found "
                    + Arrays.toString(config.data().inputShape()) + " (set data.imageSize/channels or data.resize to match)");
        }
        if (!config.training().strategy().equals("averaging")) {
            problems.add("training.strategy: transfer learning needs averaging (frozen layers), found " + config.training().strategy());
        }
        List<String> frozen = List.of();
        String head = null;
        try {
            frozen = Transfer.layersToFreeze(source.network(), config.transfer());
            head = Transfer.head(source.network());
        } catch (IllegalArgumentException e) {
            problems.add(e.getMessage());
        }
        if (!problems.isEmpty()) throw new ConfigException(where, problems);
        return new Plan(config, source, config.transfer(), frozen, head);
    }

    static int transfer(JavaSparkContext sc, Plan plan, String runDir, DatasetFetcher fetcher, Console console,
                        io.deepshard.core.tracking.MlflowHttpRun server) {
        DeepshardConfig config = plan.config();
        TransferSpec spec = plan.spec();
        ComputationGraph src = plan.source().network();
        long frozenParams = plan.frozen().stream().mapToLong(n -> src.getLayer(n).numParams()).sum();
        console.info(String.format(Locale.ROOT, "transfer from %s: %s, %d classes -> %d classes; frozen: %s (%,d of %,d parameters); "
                        + "head '%s' new with %d outputs%s", Fs.display(Fs.path(spec.from())), config.model().name(),
                plan.source().labels().size(), config.data().numClasses(),
                plan.frozen().isEmpty() ? "nothing" : String.join(", ", plan.frozen()), frozenParams, src.numParams(), plan.head(),
                config.data().numClasses(), spec.unfreezes() ? String.format(Locale.ROOT, "; then %d epoch(s) with every layer trainable at "
                        + "learning rate x %s", spec.unfreezeEpochs(), spec.unfreezeLearningRateFactor()) : ""));
        var provenance = new LinkedHashMap<String, Object>();
        provenance.put("from", spec.from());
        provenance.put("sourceLabels", plan.source().labels());
        provenance.put("sourceProvenance", sourceSummary(plan.source().provenance()));
        provenance.put("frozenLayers", plan.frozen());
        provenance.put("head", plan.head());
        provenance.put("frozenParameters", frozenParams);
        String phase1 = spec.unfreezes() ? new Path(Fs.path(runDir), FROZEN_PHASE).toString() : runDir;
        TrainJob.Setup first = new TrainJob.Setup(steps -> Transfer.prepare(src, spec, config.data().numClasses(), config.training(), steps).network(),
                plan.source().normalizer(), Map.of("transfer", withPhase(provenance, "frozen")), !spec.unfreezes(), null,
                spec.unfreezes() ? null : server);
        if (!spec.unfreezes()) return TrainJob.train(sc, config, runDir, fetcher, console, first);

        if (exists(sc.hadoopConfiguration(), new Path(Fs.path(phase1), ModelBundle.DIR))) {
            console.info("phase 1 (frozen layers) already trained: " + Fs.display(new Path(Fs.path(phase1), ModelBundle.DIR)) + ", not trained again");
        } else {
            console.info("phase 1: train the new head" + (plan.frozen().isEmpty() ? "" : " and the layers after " + plan.frozen().get(plan.frozen().size() - 1))
                    + " -> " + Fs.display(Fs.path(phase1)));
            int exit = TrainJob.train(sc, config, phase1, fetcher, console, first);
            if (exit != 0) return exit;
        }
        double lr = config.training().optimizer().learningRate() * spec.unfreezeLearningRateFactor();
        DeepshardConfig second = ConfigLoader.parse(config.resolved(), config.source() + " (phase 2)", List.of(
                "training.epochs=" + spec.unfreezeEpochs(), "training.optimizer.learningRate=" + io.deepshard.core.config.TuneSpec.yamlNumber(lr)));
        ModelBundle trained = ModelBundle.load(sc.hadoopConfiguration(), phase1);
        console.info(String.format(Locale.ROOT, "phase 2: every layer trainable, learning rate %s, %d epoch(s) -> %s", io.deepshard.core.config.TuneSpec.yamlNumber(lr),
                spec.unfreezeEpochs(), Fs.display(Fs.path(runDir))));
        TrainJob.Setup unfrozen = new TrainJob.Setup(steps -> Transfer.unfreeze(trained.network(), second.training().updater(steps)),
                plan.source().normalizer(), Map.of("transfer", withPhase(provenance, "unfrozen")), true, null, server);
        return TrainJob.train(sc, second, runDir, fetcher, console, unfrozen);
    }

    private static Map<String, Object> withPhase(Map<String, Object> p, String phase) {
        var m = new LinkedHashMap<>(p);
        m.put("phase", phase);
        return m;
    }

    /** What identifies the source model: its creation, config hash, model, data and seed. */
    private static Map<String, Object> sourceSummary(Map<String, Object> p) {
        var m = new LinkedHashMap<String, Object>();
        for (String k : List.of("createdAt", "configSha256", "model", "data", "seed")) if (p.containsKey(k)) m.put(k, p.get(k));
        return m;
    }

    private static boolean exists(Configuration conf, Path p) {
        try {
            return Fs.fs(p, conf).exists(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
