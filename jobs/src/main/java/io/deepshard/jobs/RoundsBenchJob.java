package io.deepshard.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.BadRecordPolicy;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.RoundResult;
import io.deepshard.core.train.RoundTiming;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.spark.train.TrainingListener;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import scala.reflect.ClassTag$;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench-rounds}: what an averaging round costs besides the training itself, for models of very different
 * sizes, on whatever master the launcher gives (local, local-cluster, standalone, YARN). Each model trains
 * {@code --rounds} real rounds of the real trainer on random images ({@code averagingFrequency} 1, a tiny batch, so
 * that a round is mostly overhead); the first rounds (JIT, executors fetching the recipe) are dropped and the median of
 * the rest is reported: the broadcast wait, the rest of the overhead (scheduling, shipping results, merging, averaging
 * on the driver), and the parts of it that grow with the state, timed one by one ({@link #components}), for the cost
 * model in {@code docs/scaling.md}. Prints one JSON object per model (for bench/run).
 */
@Command(name = "bench-rounds", mixinStandardHelpOptions = true,
        description = "Benchmark: round overhead (broadcast + aggregate) of parameter averaging per model size (JSON lines).")
public final class RoundsBenchJob implements Callable<Integer> {
    /** A model to measure: its {@code model} config and {@code data.inputShape}. */
    record BenchModel(String model, String inputShape) {}

    /** The models of the issue, in order: LeNet-5 (431k parameters), the small-input ResNet-18 (11M) and VGG-16 (15M). */
    static final Map<String, BenchModel> MODELS = new LinkedHashMap<>();
    static {
        MODELS.put("lenet5", new BenchModel("lenet5", "[1, 28, 28]"));
        MODELS.put("resnet18", new BenchModel("{name: resnet, depth: 18, small: true}", "[3, 32, 32]"));
        MODELS.put("vgg16", new BenchModel("{name: vgg, depth: 16, small: true}", "[3, 32, 32]"));
    }

    @Spec CommandSpec spec;

    @Option(names = "--models", split = ",", defaultValue = "lenet5,resnet18,vgg16",
            description = "Models to measure, of ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}", completionCandidates = ModelNames.class)
    List<String> models;

    @Option(names = "--workers", defaultValue = "0", description = "Workers (0 = Spark's task slots). Default: ${DEFAULT-VALUE}")
    int workers;

    @Option(names = "--rounds", defaultValue = "40", description = "Rounds per model (the first --warmup are not counted). Default: ${DEFAULT-VALUE}")
    int rounds;

    @Option(names = "--warmup", defaultValue = "15", description = "Rounds to drop at the start. Default: ${DEFAULT-VALUE}")
    int warmup;

    @Option(names = "--batch", defaultValue = "2", description = "Mini-batch per worker. Default: ${DEFAULT-VALUE}")
    int batch;

    @Option(names = "--optimizer", defaultValue = "nesterov",
            description = "Optimizer (its state is averaged too: nesterov keeps 1 value per parameter, adam 2). Default: ${DEFAULT-VALUE}")
    String optimizer;

    static final class ModelNames extends ArrayList<String> {
        ModelNames() { super(MODELS.keySet()); }
    }

    public static void main(String[] args) { Cli.exit(Cli.run(new RoundsBenchJob(), args)); }

    @Override public Integer call() throws Exception {
        for (String m : models) {
            if (!MODELS.containsKey(m)) throw new ParameterException(spec.commandLine(), "--models: unknown model '" + m + "' (known: "
                    + String.join(", ", MODELS.keySet()) + ")");
        }
        if (rounds <= warmup) throw new ParameterException(spec.commandLine(), "--rounds (" + rounds + ") must exceed --warmup (" + warmup + ")");
        var json = new ObjectMapper();
        SparkSession spark = Spark.session("deepshard-bench-rounds");
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            int executors = waitForExecutors(sc);
            for (String m : models) {
                System.out.println(json.writeValueAsString(measure(sc, m, executors)));
                System.out.flush();
            }
        } finally {
            spark.stop();
        }
        return 0;
    }

    private static final Pattern LOCAL_CLUSTER = Pattern.compile("local-cluster\\[\\s*(\\d+)\\s*,.*");

    /**
     * Executors registered (1 in local mode). Waits up to a minute for the number the master asks for
     * ({@code spark.executor.instances}, or N of {@code local-cluster[N,cores,MB]}); with neither, until the count has
     * not changed for 5 seconds.
     */
    private static int waitForExecutors(JavaSparkContext sc) throws InterruptedException {
        if (sc.isLocal()) return 1;
        Matcher m = LOCAL_CLUSTER.matcher(sc.master());
        int expected = sc.getConf().getInt("spark.executor.instances", m.matches() ? Integer.parseInt(m.group(1)) : 0);
        long deadline = System.nanoTime() + 60_000_000_000L, stableSince = System.nanoTime();
        int last = -1;
        while (true) {
            int n = sc.sc().getExecutorMemoryStatus().size() - 1;   // minus the driver
            if (n != last) stableSince = System.nanoTime();
            last = n;
            boolean ready = expected > 0 ? n >= expected : n > 0 && System.nanoTime() - stableSince > 5_000_000_000L;
            if (ready || System.nanoTime() > deadline) return Math.max(n, 0);
            Thread.sleep(250);
        }
    }

    private LinkedHashMap<String, Object> measure(JavaSparkContext sc, String model, int executors) {
        BenchModel m = MODELS.get(model);
        int w = workers > 0 ? workers : Math.max(1, sc.defaultParallelism());
        DeepshardConfig config = ConfigLoader.parse("""
                model: %s
                data: {train: /unused, inputShape: %s, numClasses: 10, normalization: standardize}
                training: {workers: %d, batchSize: %d, averagingFrequency: 1, epochs: 1, seed: 1,
                           optimizer: {type: %s, learningRate: 0.001}}
                """.formatted(m.model(), m.inputShape(), w, batch, optimizer), "bench-rounds " + model, List.of());
        int[] shape = config.data().inputShape();
        int n = w * batch * rounds, size = shape[0] * shape[1] * shape[2];
        var random = new Random(7);
        List<ImageRecord> records = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte[] px = new byte[size];
            random.nextBytes(px);
            records.add(new ImageRecord(i, i % 10, px));
        }
        var rdd = sc.parallelize(records, w).cache();
        var split = new LoadedSplit(rdd, n, List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), Map.of("uri", "random images"),
                new BadRecordPolicy.Counts("train", n, 0, Map.of(), List.of()));
        Normalizer normalizer = Normalization.fit(rdd, "standardize", shape[0]);
        List<RoundTiming> timings = new ArrayList<>();
        DistributedTrainer.Result result = new DistributedTrainer(sc, config).fit(split, null, normalizer, new TrainingListener() {
            @Override public void onRoundTiming(int epoch, int round, double loss, long examples, RoundTiming t) { timings.add(t); }
        });
        double emptyJob = emptyJobSeconds(rdd);
        rdd.unpersist(false);
        NetworkState state = result.state();
        List<RoundTiming> counted = timings.subList(Math.min(warmup, timings.size()), timings.size());
        double[] overhead = counted.stream().mapToDouble(t -> t.overhead() + t.broadcast()).toArray();

        var row = new LinkedHashMap<String, Object>();
        row.put("row", model);
        row.put("master", sc.master());
        row.put("executors", executors);
        row.put("workers", w);
        row.put("parameters", state.params().length);
        row.put("updaterValues", state.updaterState().length);
        row.put("stateMB", round3(4.0 * (state.params().length + state.updaterState().length) / 1e6));
        row.put("rounds", counted.size());
        row.put("roundSeconds", round4(median(counted.stream().mapToDouble(RoundTiming::seconds).toArray())));
        row.put("computeSeconds", round4(median(counted.stream().mapToDouble(RoundTiming::compute).toArray())));
        row.put("broadcastSeconds", round4(median(counted.stream().mapToDouble(RoundTiming::broadcast).toArray())));
        row.put("aggregateSeconds", round4(median(counted.stream().mapToDouble(RoundTiming::overhead).toArray())));
        row.put("overheadSeconds", round4(median(overhead)));
        row.put("overheadP90Seconds", round4(quantile(overhead, 0.9)));
        row.put("emptyJobSeconds", round4(emptyJob));
        components(config, state).forEach((k, v) -> row.put(k, round4(v)));
        return row;
    }

    /** Spark's own latency: median wall time of a job with one task per worker that does nothing (after 10 such jobs). */
    static double emptyJobSeconds(JavaRDD<ImageRecord> rdd) {
        double[] t = new double[30];
        for (int i = -10; i < t.length; i++) {
            long t0 = System.nanoTime();
            rdd.mapPartitions(it -> List.of(1).iterator()).reduce(Integer::sum);
            if (i >= 0) t[i] = (System.nanoTime() - t0) / 1e9;
        }
        return median(t);
    }

    /**
     * The parts of a round's overhead that grow with the state, each timed alone on one thread (median of 5): what a
     * worker does besides training (load the state into its network, copy it out, weight it, serialize the result) and
     * what the driver does (serialize the broadcast, deserialize each worker's result, merge, average). The cost model
     * adds them up ({@code docs/scaling.md}).
     */
    static Map<String, Double> components(DeepshardConfig config, NetworkState state) {
        var serializer = SparkEnv.get().serializer().newInstance();
        var resultTag = ClassTag$.MODULE$.<RoundResult>apply(RoundResult.class);
        ComputationGraph net = NetworkFactory.create(config.model(), config.data(), config.training());
        var t = new LinkedHashMap<String, double[]>();
        for (String k : List.of("loadSeconds", "extractSeconds", "weightSeconds", "serializeResultSeconds",
                "deserializeResultSeconds", "mergeSeconds", "averageSeconds", "serializeStateSeconds")) {
            t.put(k, new double[5]);
        }
        for (int i = 0; i < 5; i++) {
            long a = System.nanoTime();
            state.loadInto(net);
            long b = System.nanoTime();
            NetworkState out = NetworkState.of(net);
            long c = System.nanoTime();
            RoundResult left = RoundResult.of(0, 2, out, 64, 1.0, 0), right = RoundResult.of(1, 2, out, 64, 1.0, 0);
            long d = System.nanoTime();
            ByteBuffer bytes = serializer.serialize(left, resultTag);
            long e = System.nanoTime();
            RoundResult back = serializer.deserialize(bytes, resultTag);
            long f = System.nanoTime();
            back.merge(right);
            long g = System.nanoTime();
            back.average(state, 1, 0);
            long h = System.nanoTime();
            serializer.serialize(state, ClassTag$.MODULE$.apply(NetworkState.class));
            long j = System.nanoTime();
            long[] marks = {a, b, c, d, e, f, g, h, j};
            int m = 0;
            for (double[] v : t.values()) {
                v[i] = (marks[m + 1] - marks[m]) / 1e9 / (m == 2 ? 2 : 1);   // two leaves weighted: per leaf
                m++;
            }
        }
        var out = new LinkedHashMap<String, Double>();
        t.forEach((k, v) -> out.put(k, median(v)));
        return out;
    }

    static double median(double[] v) { return quantile(v, 0.5); }

    static double quantile(double[] v, double q) {
        if (v.length == 0) return Double.NaN;
        double[] s = v.clone();
        Arrays.sort(s);
        double pos = q * (s.length - 1);
        int lo = (int) Math.floor(pos), hi = (int) Math.ceil(pos);
        return s[lo] + (s[hi] - s[lo]) * (pos - lo);
    }

    private static double round3(double x) { return Math.round(x * 1e3) / 1e3; }

    private static double round4(double x) { return Math.round(x * 1e4) / 1e4; }
}
