package io.deepshard.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.BadRecordException;
import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.Shard;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.core.train.TrainingRecipe;
import io.deepshard.core.train.Worker;
import io.deepshard.core.transform.Augmenter;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.graph.ComputationGraph;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code bench-pipeline}: is the data pipeline fast enough? On one thread (= per core), measures decode + resize +
 * augment of JPEGs at 32, 64 and 224 px, and what training consumes per core for the same inputs, in the same run,
 * so the ratio does not depend on the machine. Prints one JSON object per row (for bench/run).
 */
@Command(name = "bench-pipeline", mixinStandardHelpOptions = true,
        description = "Benchmark: decode+augment images/s per core vs training images/s per core (JSON lines).")
public final class PipelineBenchJob implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "3", description = "Minimum measuring time per row. Default: ${DEFAULT-VALUE}")
    double seconds;

    static final String AUGMENT = "[flip, {type: translate, pixels: 2}, {type: colorNoise, std: 0.03}]";

    public static void main(String[] args) { Cli.exit(Cli.run(new PipelineBenchJob(), args)); }

    @Override public Integer call() throws Exception {
        var json = new ObjectMapper();
        // (image size, model, batch): LeNet-5 at 32 and 64 px, the small ResNet-18 at 32 px, ResNet-50 at 224 px
        Object[][] rows = {{32, "lenet5", 64}, {32, "{name: resnet, depth: 18, small: true}", 32}, {64, "lenet5", 64},
                {224, "{name: resnet, depth: 50}", 8}};
        var decodeRates = new java.util.HashMap<Integer, Double>();
        for (Object[] r : rows) {
            int size = (Integer) r[0];
            double decode = decodeRates.computeIfAbsent(size, this::decodeRate);
            double train = trainRate(size, (String) r[1], (Integer) r[2]);
            var row = new LinkedHashMap<String, Object>();
            row.put("row", "jpeg-" + size);
            row.put("decodeAugmentPerCore", Math.round(decode));
            row.put("model", r[1] + " 3x" + size + "x" + size + " b" + r[2]);
            row.put("trainPerCore", Math.round(train * 10) / 10.0);
            row.put("ratio", Math.round(decode / train * 10) / 10.0);
            System.out.println(json.writeValueAsString(row));
        }
        return 0;
    }

    /** Decode + resize (to the same size) + augment, one thread. */
    double decodeRate(int size) {
        try {
            return measureDecode(size);
        } catch (BadRecordException e) {
            throw new IllegalStateException(e);
        }
    }

    double measureDecode(int size) throws BadRecordException {
        var spec = new SyntheticImages.Spec(6, size, size, 1);
        List<byte[]> jpegs = new ArrayList<>();
        for (int i = 0; i < 64; i++) jpegs.add(SyntheticImages.encode(SyntheticImages.classification(spec, "b", i, i % 6), "jpg"));
        ImageDecoder dec = new ImageDecoder(3, size, size, "stretch");
        Augmenter aug = new Augmenter(config(size, "lenet5").data().augment(), 1, 3, size, size);
        long n = 0, t0 = System.nanoTime();
        for (int round = 0; ; round++) {
            for (int i = 0; i < jpegs.size(); i++) {
                aug.apply(dec.decode(jpegs.get(i)), i, round);
                n++;
            }
            double s = (System.nanoTime() - t0) / 1e9;
            if (s >= seconds && round >= 1) return n / s;
        }
    }

    /** Training of {@code model} on 3×size×size inputs, one worker thread (as one Spark task). */
    double trainRate(int size, String model, int batch) {
        DeepshardConfig c = config(size, model);
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        var spec = new SyntheticImages.Spec(6, size, size, 2);
        List<ImageRecord> recs = new ArrayList<>();
        ImageDecoder dec = new ImageDecoder(3, size, size, "stretch");
        int n = batch * 2; // a round of two steps
        try {
            for (int i = 0; i < n; i++) recs.add(new ImageRecord(i, i % 6, dec.decode(SyntheticImages.encode(SyntheticImages.classification(spec, "t", i, i % 6), "png"))));
        } catch (BadRecordException e) {
            throw new IllegalStateException(e);
        }
        Shard shard = Shard.of(0, recs, 3 * size * size);
        var recipe = new TrainingRecipe(net.getConfiguration().toJson(), Normalizer.fixed("scale", 3), 6, new BatchPlan(n, 1, batch, 2), 1L);
        Worker.train(net, recipe, shard, 0); // warm-up (JIT, workspaces)
        long trained = 0, t0 = System.nanoTime();
        while (true) {
            trained += Worker.train(net, recipe, shard, 0).examples();
            double s = (System.nanoTime() - t0) / 1e9;
            if (s >= seconds) return trained / s;
        }
    }

    static DeepshardConfig config(int size, String model) {
        return ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: [3, %d, %d], numClasses: 6, augment: %s}
                training: {seed: 1}
                """.formatted(model, size, size, AUGMENT), "bench", List.of());
    }

}
