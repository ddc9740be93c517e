package io.deepshard.core.serve;

import io.deepshard.core.data.BadRecordException;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.train.NativeMemory;
import io.deepshard.core.transform.Normalizer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A trained model loaded from a serving bundle ({@code export}'s {@code *.deepshard.zip}, see {@link ServingBundle}),
 * predicting single images in plain Java: no Spark, no Hadoop.
 * <pre>{@code
 * try (ImageModel model = ImageModel.load(Path.of("model.deepshard.zip"))) {
 *     Prediction p = model.predict(Path.of("cat.jpg"));
 *     System.out.println(p.label() + " " + p.confidence());
 * }
 * }</pre>
 * An image is prepared exactly as training prepared its images: decoded by the training reader's {@link ImageDecoder}
 * with the bundle's size, colour mode and resize mode, then normalized by the bundle's {@link Normalizer}. So the
 * probabilities are the ones the {@code predict} job writes for the same file.
 *
 * <p><b>Thread safety:</b> an instance may be shared by any number of threads. Decoding and normalization run in the
 * calling thread; the network's forward pass is serialized (DL4J networks must not compute two outputs at once), so
 * concurrent callers queue on it. For more throughput, give each thread its own {@code ImageModel} (each holds a copy
 * of the parameters) or send images together through {@link #predictBatch}. {@link #close} frees the network's
 * native memory; predicting afterwards throws {@link IllegalStateException}.
 */
public final class ImageModel implements AutoCloseable {
    /** Images per forward pass in {@link #predictBatch}, as in the {@code predict} job. */
    static final int BATCH = 256;

    private final Path source;
    private final ComputationGraph network; // guarded by itself
    // the direct oneDNN engine's inference primitives for classifiers trained on engine onednn (or auto) where this
    // JVM has oneDNN; null: DL4J's layers. Guarded by network
    private final io.deepshard.core.engine.OneDnnNet direct;
    private final Normalizer normalizer;
    private final ImageDecoder decoder;
    private final InputSpec spec;
    private final List<String> labels;
    private final Map<String, Object> provenance;
    private final String configYaml;
    private boolean closed; // guarded by network

    private ImageModel(Path source, ServingBundle.Contents c) {
        this.source = source;
        this.network = c.network();
        this.normalizer = c.normalizer();
        this.spec = c.spec();
        this.decoder = c.spec().decoder();
        this.labels = c.labels();
        this.provenance = c.provenance();
        this.configYaml = c.configYaml();
        this.direct = io.deepshard.core.train.NetworkPool.inferenceEngine(network, io.deepshard.core.bundle.ModelBundle.engineForLoading(configYaml));
    }

    /**
     * Loads a serving bundle. Throws {@link IOException} naming the file when it cannot be read, is not a zip, lacks an
     * entry (named) or holds parts that do not parse or disagree.
     */
    public static ImageModel load(Path bundle) throws IOException {
        return new ImageModel(bundle, ServingBundle.read(bundle));
    }

    /** Predicts an image file (JPEG, PNG, BMP, GIF). {@link BadImageException} names the file if it is not a usable image. */
    public Prediction predict(Path imageFile) throws IOException {
        byte[] bytes = Files.readAllBytes(imageFile);
        return forward(List.of(decode(bytes, imageFile.toString()))).get(0);
    }

    /** Predicts an encoded image (the bytes of a JPEG, PNG, BMP or GIF file). */
    public Prediction predict(byte[] encodedImage) {
        return forward(List.of(decode(encodedImage, "image"))).get(0);
    }

    /** Predicts an image already decoded; it is resized and converted exactly as a decoded file would be. */
    public Prediction predict(BufferedImage image) {
        try {
            return forward(List.of(decoder.decode(image))).get(0);
        } catch (BadRecordException e) {
            throw new BadImageException("image", e.reason().key, e.getMessage(), e);
        }
    }

    /**
     * Predicts encoded images in forward passes of up to {@value #BATCH}, in order. A bad image fails the whole call
     * with a {@link BadImageException} naming it ({@code image 3}) before any forward pass.
     */
    public List<Prediction> predictBatch(List<byte[]> encodedImages) {
        var chw = new ArrayList<byte[]>(encodedImages.size());
        for (int i = 0; i < encodedImages.size(); i++) chw.add(decode(encodedImages.get(i), "image " + i));
        var out = new ArrayList<Prediction>(chw.size());
        for (int from = 0; from < chw.size(); from += BATCH) out.addAll(forward(chw.subList(from, Math.min(chw.size(), from + BATCH))));
        return out;
    }

    private byte[] decode(byte[] encoded, String name) {
        try {
            return decoder.decode(encoded);
        } catch (BadRecordException e) {
            throw new BadImageException(name, e.reason().key, e.getMessage(), e);
        }
    }

    /** Normalizes decoded CHW images and runs them through the network in one pass. */
    private List<Prediction> forward(List<byte[]> chw) {
        int n = chw.size(), size = spec.exampleSize();
        float[] x = new float[n * size];
        for (int i = 0; i < n; i++) normalizer.apply(chw.get(i), 0, x, i * size, 1, size);
        INDArray input = Nd4j.create(x, new long[] {n, size}, 'c');
        float[] y;
        long[] shape;
        synchronized (network) {
            if (closed) throw new IllegalStateException("the model from " + source + " is closed");
            INDArray out = direct != null ? direct.output(network, input) : network.output(false, input)[0];
            INDArray flat = Nd4j.toFlattened('c', out);
            y = flat.toFloatVector();
            shape = out.shape();
            NativeMemory.free(input, out, flat);
        }
        var predictions = new ArrayList<Prediction>(n);
        if (shape.length == 2) {
            int k = (int) shape[1];
            for (int i = 0; i < n; i++) {
                float[] probs = new float[k];
                System.arraycopy(y, i * k, probs, 0, k);
                predictions.add(Prediction.of(labels, probs, null));
            }
            return predictions;
        }
        int k = (int) shape[1], h = (int) shape[2], w = (int) shape[3], px = h * w; // [n, classes, H, W]
        for (int i = 0; i < n; i++) {
            int base = i * k * px;
            int[][] mask = new int[h][w];
            int[] count = new int[k];
            for (int q = 0; q < px; q++) {
                int best = 0;
                for (int c = 1; c < k; c++) if (y[base + c * px + q] > y[base + best * px + q]) best = c;
                mask[q / w][q % w] = best;
                count[best]++;
            }
            float[] share = new float[k];
            for (int c = 0; c < k; c++) share[c] = (float) count[c] / px;
            predictions.add(Prediction.of(labels, share, mask));
        }
        return predictions;
    }

    /** What computes the forward pass: {@code "direct oneDNN engine"} or {@code "DL4J layers"}. */
    public String engine() { return direct != null ? "direct oneDNN engine" : "DL4J layers"; }

    /** Class names, index = class. */
    public List<String> labels() { return labels; }

    /** The input spec: size, colour mode, resizing, normalization, output kind. */
    public InputSpec inputSpec() { return spec; }

    /** The training run's provenance, with an {@code export} entry (when, from which run, by which Deepshard). */
    public Map<String, Object> provenance() { return provenance; }

    /** The resolved config that trained the network. */
    public String configYaml() { return configYaml; }

    /** Frees the network's native memory. Idempotent. */
    @Override public void close() {
        synchronized (network) {
            if (!closed) {
                if (direct != null) direct.close();
                network.close();
            }
            closed = true;
        }
    }

    /** {@code ImageModel[model.deepshard.zip: 3x16x16 rgb, ..., classifier of 3 classes [circle, square, triangle]]}. */
    @Override public String toString() {
        return "ImageModel[" + source.getFileName() + ": " + spec.describe() + " " + labels + "]";
    }
}
