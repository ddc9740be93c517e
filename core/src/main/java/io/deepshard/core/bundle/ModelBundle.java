package io.deepshard.core.bundle;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/**
 * A trained model and everything needed to use it and to know where it came from, stored as one directory:
 * <pre>
 *   model/network.zip       DL4J ComputationGraph with updater state (ModelSerializer)
 *   model/normalizer.json   the input normalization fitted on the training split
 *   model/labels.json       class names, index = class
 *   model/config.yaml       the resolved config that trained it
 *   model/provenance.json   versions, seed, data description, machine, git commit, training summary
 * </pre>
 * Written into a temporary sibling directory and renamed into place: a reader never sees half a bundle.
 */
public record ModelBundle(ComputationGraph network, Normalizer normalizer, List<String> labels, String configYaml,
                          Map<String, Object> provenance) {
    public static final String DIR = "model";
    public static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper YAML = new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory());

    /**
     * The engine this model runs on here: {@code training.engine} of the config that trained it ({@code auto} for
     * bundles older than the setting), {@code dl4j} for an {@code onednn} model where this JVM has no oneDNN.
     */
    public String engine() {
        return engineForLoading(configYaml);
    }

    /** The engine a model trained with this config (YAML) runs on here, as {@link #engine()}. */
    public static String engineForLoading(String configYaml) {
        return io.deepshard.core.train.OneDnnHelpers.forLoading(engine(configYaml));
    }

    /** {@code training.engine} of a config's YAML, {@code auto} when it has none (or does not parse). */
    static String engine(String configYaml) {
        if (configYaml == null) return "auto";
        try {
            return YAML.readTree(configYaml).path("training").path("engine").asText("auto");
        } catch (IOException e) {
            return "auto";
        }
    }

    /** Saves into {@code <runDir>/model}, replacing an earlier bundle there. */
    public Path save(Configuration conf, String runDir) {
        Path target = new Path(Fs.path(runDir), DIR);
        try {
            Fs.writeDirectoryAtomically(conf, target, (fs, tmp) -> {
                try (OutputStream out = fs.create(new Path(tmp, "network.zip"))) {
                    ModelSerializer.writeModel(network, out, true);
                }
                write(fs, new Path(tmp, "normalizer.json"), normalizer);
                write(fs, new Path(tmp, "labels.json"), labels);
                write(fs, new Path(tmp, "provenance.json"), provenance);
                try (OutputStream out = fs.create(new Path(tmp, "config.yaml"))) {
                    out.write(configYaml.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
            });
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the model bundle to " + target + ": " + e.getMessage(), e);
        }
    }

    /** Loads a bundle from a run directory or from its {@code model} directory. */
    public static ModelBundle load(Configuration conf, String uri) {
        Path p = Fs.path(uri);
        FileSystem fs = Fs.fs(p, conf);
        try {
            if (!fs.exists(new Path(p, "network.zip")) && fs.exists(new Path(p, DIR + "/network.zip"))) p = new Path(p, DIR);
            Path net = new Path(p, "network.zip");
            if (!fs.exists(net)) {
                throw new IllegalArgumentException("no model bundle at " + uri + " (expected " + net + " or "
                        + new Path(Fs.path(uri), DIR + "/network.zip") + ")");
            }
            String config = Fs.readString(conf, new Path(p, "config.yaml"));
            ComputationGraph graph;
            try (InputStream in = fs.open(net)) {
                // the layer implementations it was trained with (training.engine)
                graph = io.deepshard.core.train.OneDnnHelpers.build(engineForLoading(config), () -> {
                    try {
                        return ModelSerializer.restoreComputationGraph(in, true);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            Normalizer norm = JSON.readValue(Fs.readString(conf, new Path(p, "normalizer.json")), Normalizer.class);
            List<String> labels = JSON.readValue(Fs.readString(conf, new Path(p, "labels.json")), new TypeReference<>() {});
            Map<String, Object> prov = JSON.readValue(Fs.readString(conf, new Path(p, "provenance.json")), new TypeReference<>() {});
            return new ModelBundle(graph, norm, labels, config, prov);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load the model bundle at " + uri + ": " + e.getMessage(), e);
        }
    }

    /**
     * Class probabilities for images of 8-bit pixels in CHW order, one row per image; for a segmentation model a row holds
     * the classes x H x W probabilities of its pixels (class-major, as NCHW).
     */
    public float[][] predict(byte[][] images) {
        if (images.length == 0) return new float[0][];
        int size = images[0].length;
        float[] f = new float[images.length * size];
        for (int i = 0; i < images.length; i++) {
            if (images[i].length != size) throw new IllegalArgumentException("image " + i + " has " + images[i].length + " values, expected " + size);
            normalizer.apply(images[i], 0, f, i * size, 1, size);
        }
        var out = network.output(false, Nd4j.create(f, new long[] {images.length, size}, 'c'))[0];
        // segmentation: [n, classes, H, W] -> one row of classes*H*W probabilities (class-major, as NCHW) per image
        return (out.rank() == 2 ? out : out.reshape('c', out.size(0), out.length() / out.size(0))).toFloatMatrix();
    }

    private static void write(FileSystem fs, Path p, Object value) throws IOException {
        try (OutputStream out = fs.create(p)) {
            JSON.writeValue(new NonClosing(out), value);
        }
    }

    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) { super(out); }
        @Override public void close() throws IOException { flush(); }
    }
}
