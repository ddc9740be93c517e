package io.deepshard.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
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
 * inference images/s at batch 256 of LeNet-5 and ResNet-20 on each engine ({@code training.engine} dl4j and onednn).
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
        return 0;
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
