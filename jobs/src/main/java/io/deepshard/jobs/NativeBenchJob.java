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
 * inference images/s at batch 256 of LeNet-5 and ResNet-20 on each engine ({@code training.engine} dl4j and onednn,
 * and the direct oneDNN engine where it runs the network: {@code onednn-direct}),
 * and the forward + backward pass of one training step (the MLP 784-256-128-10 at batch 128, LeNet-5 at 64 and 128) by
 * DL4J's layers (LeNet-5's on DL4J's oneDNN helpers) and by the direct oneDNN engine ({@link OneDnnNet}), which computes the same gradient into the same array.
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
            for (String engine : List.of("dl4j", "onednn", "onednn-direct")) {
                var row = new LinkedHashMap<String, Object>();
                row.put("row", "inference");
                row.put("model", m[0]);
                row.put("engine", engine);
                row.put("batch", 256);
                double imagesPerSecond = inference(m[1], engine, 256);
                if (Double.isNaN(imagesPerSecond)) continue;   // not a network the direct engine runs
                row.put("imagesPerSecond", Math.round(imagesPerSecond * 10) / 10.0);
                row.put("threads", threads());
                System.out.println(json.writeValueAsString(row));
            }
        }
        // the MLP has no layer DL4J's helpers take, so DL4J runs its own; LeNet-5's DL4J side is the onednn engine's
        // fallback (conv and pooling on DL4J's oneDNN helpers), the best DL4J does
        // the default MLP (conf/mlp-fashion.yaml: batch norm, dropout) and ResNet-20 (residual graph, 19 batch norms)
        // also have their batch norm on DL4J's helpers on the DL4J side
        for (String[] m : new String[][] {{"mlp-784-256-128-10", "{name: mlp, hidden: [256, 128], batchNorm: false, dropout: 0}", "dl4j", "128", "20"},
                {"mlp-784-1024-1024-10-bn-dropout", "{name: mlp, hidden: [1024, 1024], batchNorm: true, dropout: 0.3}", "onednn", "128", "10"},
                {"lenet5", "lenet5", "onednn", "64", "20"}, {"lenet5", "lenet5", "onednn", "128", "20"},
                {"resnet20", "{name: resnet, depth: 20}", "onednn", "64", "2"}}) {
            int batch = Integer.parseInt(m[3]), block = Integer.parseInt(m[4]);
            var row = new LinkedHashMap<String, Object>();
            row.put("row", "gradient");
            row.put("model", m[0]);
            row.put("batch", batch);
            row.put("dl4jLayers", m[2].equals("dl4j") ? "DL4J" : "DL4J with oneDNN helpers");
            double[] ms = gradientStep(m[1], m[2], batch, block, false);
            row.put("dl4jMs", Math.round(ms[0] * 1000) / 1000.0);
            row.put("onednnDirectMs", Math.round(ms[1] * 1000) / 1000.0);
            row.put("speedup", Math.round(ms[0] / ms[1] * 100) / 100.0);
            double[] fit = gradientStep(m[1], m[2], batch, block, true);
            row.put("fitDl4jMs", Math.round(fit[0] * 1000) / 1000.0);
            row.put("fitOnednnDirectMs", Math.round(fit[1] * 1000) / 1000.0);
            row.put("fitSpeedup", Math.round(fit[0] / fit[1] * 100) / 100.0);
            row.put("directImagesPerSecond", Math.round(batch / fit[1] * 1000));
            row.put("threads", threads());
            System.out.println(json.writeValueAsString(row));
        }
        return 0;
    }

    /**
     * Milliseconds per forward + backward pass of {@code model} ({@code fit}: per whole training step, the optimizer
     * included), DL4J on {@code engine}'s layers ({@code computeGradientAndScore} / {@code fit}) and the direct oneDNN
     * engine, alternating rounds of {@code block} steps of each so that a noisy neighbour hits both alike.
     */
    double[] gradientStep(String model, String engine, int batch, int block, boolean fit) {
        ComputationGraph net = network(model, engine);
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
            for (int i = 0; i < block; i++) { dl4jStep.run(); directStep.run(); } // warm-up
            long start = System.nanoTime();
            while ((System.nanoTime() - start) / 1e9 < 2 * seconds) {
                for (int side = 0; side < 2; side++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < block; i++) {
                        (side == 0 ? dl4jStep : directStep).run();
                    }
                    total[side] += (System.nanoTime() - t0) / 1e6;
                    steps[side] += block;
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
        boolean direct = engine.equals("onednn-direct");
        ComputationGraph net = network(model, direct ? "onednn" : engine);
        // the direct oneDNN engine where it runs the network (evaluation uses it then); else DL4J's layers
        OneDnnNet fast = direct && OneDnnNet.unsupported(net).isEmpty() ? OneDnnNet.forInference(net) : null;
        if (direct && fast == null) return Double.NaN;
        try {
            Nd4j.getRandom().setSeed(2);
            INDArray x = Nd4j.randn(DataType.FLOAT, batch, 784);
            Runnable forward = fast != null ? () -> fast.output(net, x).close() : () -> net.outputSingle(false, x);
            for (int i = 0; i < 3; i++) forward.run(); // warm-up
            long images = 0, t0 = System.nanoTime();
            while (true) {
                forward.run();
                images += batch;
                double s = (System.nanoTime() - t0) / 1e9;
                if (s >= seconds) return images / s;
            }
        } finally {
            if (fast != null) fast.close();
        }
    }

    /** {@code model} for Fashion-MNIST with {@code engine}'s layers (DL4J's own, or conv and pooling on its oneDNN helpers). */
    static ComputationGraph network(String model, String engine) {
        DeepshardConfig c = ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: [1, 28, 28], numClasses: 10}
                training: {seed: 1, engine: %s}
                """.formatted(model, engine), "bench-native", List.of());
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        if (OneDnnHelpers.onednnLayers(net) == 0 != "dl4j".equals(OneDnnHelpers.resolve(engine))) {
            throw new IllegalStateException("engine " + engine + " built " + OneDnnHelpers.describe(engine, net));
        }
        return net;
    }
}
