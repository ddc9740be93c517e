package io.deepshard.core.serve;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.deepshard.core.train.OneDnnHelpers;
import io.deepshard.core.transform.Normalizer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * The serving bundle: one zip file with everything needed to predict, written by {@code export} and read by
 * {@link ImageModel#load}:
 * <pre>
 *   configuration.json  the DL4J network definition   } DL4J's own model-file entries: the bundle is also a DL4J model
 *   coefficients.bin    its parameters                } file, so ComputationGraph.load(file, false) opens the network
 *   input.json          the input spec ({@link InputSpec}): size, colour mode, decoding, resizing, normalization, output kind
 *   normalizer.json     the normalization fitted on the training split (per-channel mean and std)
 *   labels.json         class names, index = class
 *   provenance.json     the run's provenance, plus "export": when, from which run, by which Deepshard
 *   config.yaml         the resolved config that trained the network
 * </pre>
 * The updater state (optimizer momentum, Adam moments) is left out: prediction does not need it, and it is one to two
 * times the size of the parameters. No Hadoop here: the bundle is read from a local file by plain {@code java.util.zip}.
 */
public final class ServingBundle {
    public static final String EXTENSION = ".deepshard.zip";
    public static final String INPUT = "input.json";
    public static final String NORMALIZER = "normalizer.json";
    public static final String LABELS = "labels.json";
    public static final String PROVENANCE = "provenance.json";
    public static final String CONFIG = "config.yaml";
    /** Every entry of a bundle, in the order written. */
    public static final List<String> ENTRIES = List.of(ModelSerializer.CONFIGURATION_JSON, ModelSerializer.COEFFICIENTS_BIN,
            INPUT, NORMALIZER, LABELS, PROVENANCE, CONFIG);
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ServingBundle() {}

    /** What {@link #write} wrote: the network's size in DL4J's model-file format without updater state. */
    public record Written(long networkBytes) {}

    /** Writes a bundle to {@code out} (not closed); checks that labels, normalizer and spec agree first. */
    public static Written write(ComputationGraph network, Normalizer normalizer, List<String> labels, InputSpec spec, String configYaml,
                                Map<String, Object> provenance, OutputStream out) throws IOException {
        if (labels.size() != spec.numClasses()) {
            throw new IllegalArgumentException(labels.size() + " labels but the input spec says " + spec.numClasses() + " classes");
        }
        if (normalizer.channels() != spec.channels()) {
            throw new IllegalArgumentException("the normalizer has " + normalizer.channels() + " channels, the input spec " + spec.channels());
        }
        var net = new ByteArrayOutputStream();
        ModelSerializer.writeModel(network, net, false);
        var zip = new ZipOutputStream(out);
        try (var in = new ZipInputStream(new ByteArrayInputStream(net.toByteArray()))) {
            for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                zip.putNextEntry(new ZipEntry(e.getName()));
                in.transferTo(zip);
                zip.closeEntry();
            }
        }
        put(zip, INPUT, JSON.writeValueAsBytes(spec));
        put(zip, NORMALIZER, JSON.writeValueAsBytes(normalizer));
        put(zip, LABELS, JSON.writeValueAsBytes(labels));
        put(zip, PROVENANCE, JSON.writeValueAsBytes(provenance));
        put(zip, CONFIG, configYaml.getBytes(StandardCharsets.UTF_8));
        zip.finish();
        return new Written(net.size());
    }

    private static void put(ZipOutputStream zip, String name, byte[] bytes) throws IOException {
        zip.putNextEntry(new ZipEntry(name));
        zip.write(bytes);
        zip.closeEntry();
    }

    /** A bundle's contents, as read. */
    record Contents(ComputationGraph network, Normalizer normalizer, List<String> labels, InputSpec spec,
                    Map<String, Object> provenance, String configYaml) {}

    /**
     * Reads a bundle; errors name the file and what is wrong with it: not a zip, missing entries (all of them), an entry
     * that does not parse, parts that disagree.
     */
    static Contents read(Path file) throws IOException {
        String where = file.toString();
        InputSpec spec;
        Normalizer normalizer;
        List<String> labels;
        Map<String, Object> provenance;
        String config;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            var missing = new ArrayList<String>();
            for (String e : ENTRIES) if (zip.getEntry(e) == null) missing.add(e);
            if (!missing.isEmpty()) {
                var present = new ArrayList<String>();
                zip.stream().limit(20).forEach(e -> present.add(e.getName()));
                throw new IOException(where + " is not a Deepshard serving bundle: " + (missing.size() == 1 ? "entry " : "entries ")
                        + String.join(", ", missing) + (missing.size() == 1 ? " is" : " are") + " missing (it holds "
                        + (present.isEmpty() ? "nothing" : String.join(", ", present)) + ")");
            }
            spec = entry(zip, where, INPUT, in -> JSON.readValue(in, InputSpec.class));
            normalizer = entry(zip, where, NORMALIZER, in -> JSON.readValue(in, Normalizer.class));
            labels = entry(zip, where, LABELS, in -> JSON.readValue(in, new TypeReference<List<String>>() {}));
            provenance = entry(zip, where, PROVENANCE, in -> JSON.readValue(in, new TypeReference<Map<String, Object>>() {}));
            config = entry(zip, where, CONFIG, in -> new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (ZipException e) {
            throw new IOException(where + " is not a Deepshard serving bundle: not a zip file (" + e.getMessage() + ")", e);
        }
        if (labels.size() != spec.numClasses()) {
            throw new IOException(where + ": " + LABELS + " has " + labels.size() + " classes but " + INPUT + " says " + spec.numClasses());
        }
        if (normalizer.channels() != spec.channels()) {
            throw new IOException(where + ": " + NORMALIZER + " has " + normalizer.channels() + " channels but " + INPUT + " says " + spec.channels());
        }
        OneDnnHelpers.enable(); // as every Deepshard network: the same layer implementations as training and predict
        ComputationGraph network;
        try {
            network = ModelSerializer.restoreComputationGraph(file.toFile(), false);
        } catch (IOException | RuntimeException e) {
            throw new IOException(where + ": the network (" + ModelSerializer.CONFIGURATION_JSON + ", " + ModelSerializer.COEFFICIENTS_BIN
                    + ") cannot be loaded: " + e.getMessage(), e);
        }
        return new Contents(network, normalizer, Collections.unmodifiableList(labels), spec, Collections.unmodifiableMap(provenance), config);
    }

    @FunctionalInterface
    private interface Parser<T> { T parse(InputStream in) throws IOException; }

    private static <T> T entry(ZipFile zip, String where, String name, Parser<T> parser) throws IOException {
        try (InputStream in = zip.getInputStream(zip.getEntry(name))) {
            return parser.parse(in);
        } catch (IOException | RuntimeException e) {
            throw new IOException(where + ": entry " + name + " cannot be read: " + e.getMessage(), e);
        }
    }
}
