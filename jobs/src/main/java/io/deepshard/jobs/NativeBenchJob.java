package io.deepshard.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.engine.OneDnnNet;
import io.deepshard.core.train.OneDnnHelpers;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code bench-native}: the native kernels alone, on this JVM's threads (one, as a Spark task slot, unless
 * OMP_NUM_THREADS says otherwise): FP32 GEMM GFLOPS of ND4J's OpenBLAS at n = 256..2048 (best of repeated runs), and
 * inference images/s at batch 256 of LeNet-5 and ResNet-20 on each engine ({@code training.engine} dl4j and onednn),
 * and the forward + backward pass of one training step (the MLP 784-256-128-10 at batch 128) by DL4J's layers and by
 * the direct oneDNN engine ({@link OneDnnNet}), which computes the same gradient into the same array.
 * Prints one JSON object per row for bench/run native, which sets them against the CPU's measured peak
 * (bench/peak.c) and PyTorch in the same run.
 */
@Command(name = "bench-native", mixinStandardHelpOptions = true,
        description = "Benchmark: GEMM GFLOPS and inference img/s per engine, one thread (JSON lines).")
public final class NativeBenchJob implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "2", description = "Minimum measuring time per row. Default: ${DEFAULT-VALUE}")
    double seconds;

    @Option(names = "--sizes", split = ",", defaultValue = "256,512,1024,2048", description = "GEMM sizes n (n x n times n x n).")
    List<Integer> sizes;

    public static void main(String[] args) { Cli.exit(Cli.run(new NativeBenchJob(), args)); }

    @Override public Integer call() throws Exception {
        var json = new ObjectMapper();
        for (int n : sizes) {
            var row = new LinkedHashMap<String, Object>();
            row.put("row", "gemm");
            row.put("n", n);
            row.put("gflops", Math.round(gemm(n) * 10) / 10.0);
            row.put("threads", threads());
            System.out.println(json.writeValueAsString(row));
        }
        for (String[] m : new String[][] {{"lenet5", "lenet5"}, {"resnet20", "{name: resnet, depth: 20}"}}) {
            for (String engine : List.of("dl4j", "onednn")) {
                var row = new LinkedHashMap<String, Object>();
                row.put("row", "inference");
                row.put("model", m[0]);
                row.put("engine", engine);
                row.put("batch", 256);
                row.put("imagesPerSecond", Math.round(inference(m[1], engine, 256) * 10) / 10.0);
                row.put("threads", threads());
                System.out.println(json.writeValueAsString(row));
            }
        }
        var row = new LinkedHashMap<String, Object>();
        row.put("row", "gradient");
        row.put("model", "mlp-784-256-128-10");
        row.put("batch", 128);
        double[] ms = gradientStep(128, false);
        row.put("dl4jMs", Math.round(ms[0] * 1000) / 1000.0);
        row.put("onednnDirectMs", Math.round(ms[1] * 1000) / 1000.0);
        row.put("speedup", Math.round(ms[0] / ms[1] * 100) / 100.0);
        double[] fit = gradientStep(128, true);
        row.put("fitDl4jMs", Math.round(fit[0] * 1000) / 1000.0);
        row.put("fitOnednnDirectMs", Math.round(fit[1] * 1000) / 1000.0);
        row.put("fitSpeedup", Math.round(fit[0] / fit[1] * 100) / 100.0);
        row.put("threads", threads());
        System.out.println(json.writeValueAsString(row));
        return 0;
    }

    /**
     * Milliseconds per forward + backward pass of the MLP ({@code fit}: per whole training step, DL4J's updater
     * included), DL4J ({@code computeGradientAndScore} / {@code fit}) and the direct oneDNN engine, alternating rounds
     * of each so that a noisy neighbour hits both alike.
     */
    double[] gradientStep(int batch, boolean fit) {
        DeepshardConfig c = ConfigLoader.parse("""
                model: {name: mlp, hidden: [256, 128], batchNorm: false, dropout: 0}
                data: {train: fashion-mnist:train, inputShape: [1, 28, 28], numClasses: 10}
                training: {seed: 1, engine: dl4j}
                """, "bench-native", List.of());
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.rand(DataType.FLOAT, batch, 784), y = Nd4j.zeros(DataType.FLOAT, batch, 10);
        for (int i = 0; i < batch; i++) y.putScalar(i, i % 10, 1);
        net.setInputs(x);
        net.setLabels(y);
        double[] total = new double[2];
        long[] steps = new long[2];
        try (OneDnnNet fast = OneDnnNet.of(net)) {
            var data = new org.nd4j.linalg.dataset.DataSet(x, y);
            Runnable dl4jStep = fit ? () -> net.fit(data) : net::computeGradientAndScore;
            Runnable directStep = fit ? () -> fast.fit(net, x, y) : () -> fast.computeGradient(x, y);
            for (int i = 0; i < 20; i++) { dl4jStep.run(); directStep.run(); } // warm-up
            long start = System.nanoTime();
            while ((System.nanoTime() - start) / 1e9 < 2 * seconds) {
                for (int side = 0; side < 2; side++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < 20; i++) {
                        (side == 0 ? dl4jStep : directStep).run();
                    }
                    total[side] += (System.nanoTime() - t0) / 1e6;
                    steps[side] += 20;
                }
            }
        }
        return new double[] {total[0] / steps[0], total[1] / steps[1]};
    }

    static Map<String, String> threads() {
        var m = new LinkedHashMap<String, String>();
        for (String k : List.of("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE")) m.put(k, System.getenv().getOrDefault(k, ""));
        return m;
    }

    /** GFLOPS of C = A B for n x n float32 matrices: 2 n^3 flops, best repetition after a warm-up. */
    double gemm(int n) {
        Nd4j.getRandom().setSeed(1);
        INDArray a = Nd4j.rand(DataType.FLOAT, n, n), b = Nd4j.rand(DataType.FLOAT, n, n), c = Nd4j.create(DataType.FLOAT, n, n);
        Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
        double best = Double.MAX_VALUE;
        long start = System.nanoTime();
        int reps = 0;
        while (reps < 3 || (System.nanoTime() - start) / 1e9 < seconds) {
            long t0 = System.nanoTime();
            Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            reps++;
        }
        return 2.0 * n * n * n / best / 1e9;
    }

    /** Images/s of the network's forward pass (inference mode) at this batch, on the engine's layers. */
    double inference(String model, String engine, int batch) {
        DeepshardConfig c = ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: [1, 28, 28], numClasses: 10}
                training: {seed: 1, engine: %s}
                """.formatted(model, engine), "bench-native", List.of());
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        if (OneDnnHelpers.onednnLayers(net) == 0 != "dl4j".equals(OneDnnHelpers.resolve(engine))) {
            throw new IllegalStateException("engine " + engine + " built " + OneDnnHelpers.describe(engine, net));
        }
        Nd4j.getRandom().setSeed(2);
        INDArray x = Nd4j.randn(DataType.FLOAT, batch, 784);
        for (int i = 0; i < 3; i++) net.outputSingle(false, x); // warm-up
        long images = 0, t0 = System.nanoTime();
        while (true) {
            net.outputSingle(false, x);
            images += batch;
            double s = (System.nanoTime() - t0) / 1e9;
            if (s >= seconds) return images / s;
        }
    }
}
