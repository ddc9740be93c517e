package io.deepshard.core.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import org.apache.hadoop.conf.Configuration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The serving API on bundles written here: a small classifier (trained one step, so its updater state is not empty)
 * and an untrained U-Net. The API's probabilities must equal {@link ModelBundle#predict} on the training decoder's
 * pixels — the path the trainer, evaluator and {@code predict} job share.
 */
class ImageModelTest {
    @TempDir static Path dir;
    static final SyntheticImages.Spec SHAPES = new SyntheticImages.Spec(3, 20, 14, 5); // not the model's size: resizing is exercised
    static final List<String> LABELS = List.of("circle", "square", "triangle");
    static DeepshardConfig config;
    static ModelBundle trained;
    static Path bundle;

    @BeforeAll
    static void exportAClassifier() throws Exception {
        config = ConfigLoader.parse("""
                model: {name: mlp, hidden: [16]}
                data: {train: /data/train, inputShape: [3, 12, 10], numClasses: 3, resize: center-crop}
                training: {seed: 4, optimizer: {type: adam, learningRate: 0.01}}
                """, "t.yaml", List.of());
        ComputationGraph net = NetworkFactory.create(config.model(), config.data(), config.training());
        Random r = new Random(2);
        float[] x = new float[8 * 360], y = new float[8 * 3];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat();
        for (int i = 0; i < 8; i++) y[i * 3 + i % 3] = 1;
        net.fit(new DataSet(Nd4j.create(x, new long[] {8, 360}), Nd4j.create(y, new long[] {8, 3})));
        Normalizer norm = new Normalizer("standardize", new float[] {0.4f, 0.5f, 0.45f}, new float[] {0.2f, 0.25f, 0.3f});
        trained = new ModelBundle(net, norm, LABELS, config.resolved(), Map.of("seed", 4));
        bundle = dir.resolve("shapes.deepshard.zip");
        write(trained, InputSpec.of(config.data(), false), bundle);
    }

    static ServingBundle.Written write(ModelBundle b, InputSpec spec, Path file) throws IOException {
        try (OutputStream out = Files.newOutputStream(file)) {
            return ServingBundle.write(b.network(), b.normalizer(), b.labels(), spec, b.configYaml(), b.provenance(), out);
        }
    }

    static byte[] png(int index, int label) {
        return SyntheticImages.encode(SyntheticImages.classification(SHAPES, "test", index, label), "png");
    }

    @Test
    void predictionsEqualTheTrainingPathsOnTheSameImages() throws Exception {
        ImageDecoder trainingDecoder = config.data().decoder();
        List<byte[]> encoded = new ArrayList<>();
        byte[][] decoded = new byte[9][];
        for (int i = 0; i < 9; i++) {
            encoded.add(png(i, i % 3));
            decoded[i] = trainingDecoder.decode(encoded.get(i));
        }
        float[][] expected = trained.predict(decoded);
        try (ImageModel model = ImageModel.load(bundle)) {
            assertThat(model.labels()).containsExactlyElementsOf(LABELS);
            // serving runs the direct oneDNN engine's inference primitives where the training path ran DL4J's layers
            assertThat(model.engine()).isEqualTo(io.deepshard.core.train.OneDnnHelpers.enable().available() ? "direct oneDNN engine" : "DL4J layers");
            List<Prediction> batch = model.predictBatch(encoded);
            for (int i = 0; i < 9; i++) {
                Path file = dir.resolve("img" + i + ".png");
                Files.write(file, encoded.get(i));
                BufferedImage image = javax.imageio.ImageIO.read(file.toFile());
                for (Prediction p : List.of(model.predict(file), model.predict(encoded.get(i)), model.predict(image), batch.get(i))) {
                    float[] probs = p.probabilityArray();
                    for (int k = 0; k < 3; k++) assertThat(probs[k]).as("image %d class %d", i, k).isCloseTo(expected[i][k], within(1e-6f));
                    int best = argmax(expected[i]);
                    assertThat(p.index()).isEqualTo(best);
                    assertThat(p.label()).isEqualTo(LABELS.get(best));
                    assertThat(p.confidence()).isEqualTo(probs[best]);
                    assertThat(p.probabilities().keySet()).containsExactlyElementsOf(LABELS);
                    assertThat(p.mask()).isNull();
                }
            }
            // the untrained-looking case is excluded: the network does tell images apart
            assertThat(expected[0][0]).isNotEqualTo(expected[1][0]);
        }
    }

    @Test
    void bundleHoldsEveryEntryWithoutUpdaterStateAndIsAlsoADl4jModelFile() throws Exception {
        try (ZipFile zip = new ZipFile(bundle.toFile())) {
            assertThat(zip.stream().map(ZipEntry::getName)).containsExactlyElementsOf(ServingBundle.ENTRIES);
            JsonNode input = new ObjectMapper().readTree(zip.getInputStream(zip.getEntry("input.json")));
            assertThat(input.get("channels").asInt()).isEqualTo(3);
            assertThat(input.get("height").asInt()).isEqualTo(12);
            assertThat(input.get("width").asInt()).isEqualTo(10);
            assertThat(input.get("colorMode").asText()).isEqualTo("rgb");
            assertThat(input.get("resize").asText()).isEqualTo("center-crop");
            assertThat(input.get("normalization").asText()).isEqualTo("standardize");
            assertThat(input.get("output").asText()).isEqualTo("classifier");
            assertThat(input.get("outputShape").toString()).isEqualTo("[3]");
            assertThat(input.get("formatVersion").asInt()).isEqualTo(1);
        }
        ComputationGraph plain = ComputationGraph.load(bundle.toFile(), false); // DL4J reads its own entries
        assertThat(plain.params()).isEqualTo(trained.network().params());
        // without the updater state (Adam: two values per parameter) the network is about a third of the run's network.zip
        Path run = dir.resolve("run");
        trained.save(new Configuration(), run.toString());
        long withUpdater = Files.size(run.resolve("model/network.zip"));
        var out = new ByteArrayOutputStream();
        long without = ServingBundle.write(trained.network(), trained.normalizer(), LABELS, InputSpec.of(config.data(), false), "", Map.of(), out)
                .networkBytes();
        assertThat((double) without / withUpdater).isBetween(0.25, 0.45);
    }

    @Test
    void sharedByThreadsGivesTheSameAnswersAsOneThread() throws Exception {
        try (ImageModel model = ImageModel.load(bundle)) {
            List<byte[]> images = new ArrayList<>();
            for (int i = 0; i < 24; i++) images.add(png(i, i % 3));
            List<Prediction> sequential = new ArrayList<>();
            for (byte[] im : images) sequential.add(model.predict(im));
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Prediction>> futures = new ArrayList<>();
                for (int round = 0; round < 3; round++) for (byte[] im : images) futures.add(pool.submit(() -> model.predict(im)));
                for (int i = 0; i < futures.size(); i++) {
                    assertThat(futures.get(i).get().probabilities()).isEqualTo(sequential.get(i % images.size()).probabilities());
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void badImagesAreNamedAndAClosedModelSaysSo() throws Exception {
        ImageModel model = ImageModel.load(bundle);
        Path text = dir.resolve("notes.png");
        Files.writeString(text, "not an image at all");
        assertThatThrownBy(() -> model.predict(text)).isInstanceOf(BadImageException.class)
                .hasMessageStartingWith(text + ": not an image").hasMessageEndingWith("(notAnImage)")
                .extracting(e -> ((BadImageException) e).reason()).isEqualTo("notAnImage");
        byte[] good = png(0, 0);
        byte[] truncated = java.util.Arrays.copyOf(good, good.length / 2);
        assertThatThrownBy(() -> model.predictBatch(List.of(good, truncated))).isInstanceOf(BadImageException.class)
                .hasMessageStartingWith("image 1: ").hasMessageContaining("(corruptImage)");
        assertThatThrownBy(() -> model.predict(new byte[0])).hasMessage("image: the file is empty (0 bytes) (emptyFile)");
        Path missing = dir.resolve("missing.png");
        assertThatThrownBy(() -> model.predict(missing)).isInstanceOf(NoSuchFileException.class).hasMessageContaining(missing.toString());
        model.close();
        model.close();
        assertThatThrownBy(() -> model.predict(good)).isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");
    }

    @Test
    void aFileThatIsNotABundleSaysWhatIsMissing() throws Exception {
        Path notZip = dir.resolve("model.txt");
        Files.writeString(notZip, "hello");
        assertThatThrownBy(() -> ImageModel.load(notZip)).isInstanceOf(IOException.class)
                .hasMessageStartingWith(notZip + " is not a Deepshard serving bundle: not a zip file");

        Path networkOnly = dir.resolve("network.zip"); // a DL4J model file is not enough
        trained.network().save(networkOnly.toFile(), true);
        assertThatThrownBy(() -> ImageModel.load(networkOnly)).isInstanceOf(IOException.class)
                .hasMessageContaining(networkOnly + " is not a Deepshard serving bundle: entries input.json, normalizer.json, labels.json, "
                        + "provenance.json, config.yaml are missing (it holds configuration.json, coefficients.bin, updaterState.bin)");

        Path noInput = dir.resolve("no-input.deepshard.zip");
        copyWithout(bundle, noInput, "input.json");
        assertThatThrownBy(() -> ImageModel.load(noInput)).hasMessageContaining("entry input.json is missing");

        Path newer = dir.resolve("newer.deepshard.zip");
        copyReplacing(bundle, newer, "input.json", s -> s.replace("\"formatVersion\" : 1", "\"formatVersion\" : 2"));
        assertThatThrownBy(() -> ImageModel.load(newer)).hasMessageContaining("entry input.json cannot be read")
                .hasMessageContaining("formatVersion is 2, this Deepshard reads 1..1");

        Path wrongLabels = dir.resolve("labels.deepshard.zip");
        copyReplacing(bundle, wrongLabels, "labels.json", s -> "[\"a\", \"b\"]");
        assertThatThrownBy(() -> ImageModel.load(wrongLabels)).hasMessage(wrongLabels + ": labels.json has 2 classes but input.json says 3");
    }

    @Test
    void segmentationModelGivesAMaskAtTheInputSize() throws Exception {
        DeepshardConfig seg = ConfigLoader.parse("""
                model: {name: unet, base: 2, depth: 1, batchNorm: false}
                data: {train: /data/seg, inputShape: [3, 8, 12], numClasses: 3}
                training: {seed: 4, optimizer: {type: adam, learningRate: 0.01}}
                """, "seg.yaml", List.of());
        ComputationGraph net = NetworkFactory.create(seg.model(), seg.data(), seg.training());
        var names = List.of("background", "circle", "square");
        var b = new ModelBundle(net, Normalizer.fixed("scale", 3), names, seg.resolved(), Map.of());
        Path file = dir.resolve("unet.deepshard.zip");
        write(b, InputSpec.of(seg.data(), true), file);
        byte[] png = SyntheticImages.encode(SyntheticImages.segmentation(new SyntheticImages.Spec(3, 16, 24, 3), "test", 0).image(), "png");
        float[] probs = b.predict(new byte[][] {seg.data().decoder().decode(png)})[0]; // classes x H x W, class-major
        try (ImageModel model = ImageModel.load(file)) {
            assertThat(model.inputSpec().segmentation()).isTrue();
            assertThat(model.inputSpec().outputShape()).containsExactly(3, 8, 12);
            Prediction p = model.predict(png);
            assertThat(p.isSegmentation()).isTrue();
            assertThat(p.mask()).hasDimensions(8, 12);
            int[] count = new int[3];
            for (int q = 0; q < 96; q++) {
                int best = 0;
                for (int c = 1; c < 3; c++) if (probs[c * 96 + q] > probs[best * 96 + q]) best = c;
                assertThat(p.mask()[q / 12][q % 12]).as("pixel %d", q).isEqualTo(best);
                count[best]++;
            }
            for (int c = 0; c < 3; c++) assertThat(p.probabilities().get(names.get(c))).isEqualTo(count[c] / 96f);
            assertThat(p.confidence()).isEqualTo(count[p.index()] / 96f);
            assertThat(count[p.index()]).isEqualTo(java.util.Arrays.stream(count).max().getAsInt());
        }
    }

    /** The README's example (section "export and the Java serving API") is this method's body between the markers. */
    static void readmeExample(Path bundleFile, Path imageFile) throws IOException {
        // README begin
        try (ImageModel model = ImageModel.load(bundleFile)) {          // a *.deepshard.zip written by `export`
            System.out.println(model);                                    // input size, resizing, normalization, classes
            Prediction p = model.predict(imageFile);                      // also: byte[] (encoded), BufferedImage
            System.out.printf("%s %.3f%n", p.label(), p.confidence());    // e.g. "square 0.973"
            p.probabilities().forEach((label, prob) -> System.out.println(label + " " + prob));
            List<Prediction> all = model.predictBatch(List.of(Files.readAllBytes(imageFile)));
            System.out.println(all.get(0).index() == p.index());          // true
        } catch (BadImageException e) {                                   // names the image and what is wrong with it
            System.err.println(e.getMessage());
        }
        // README end
    }

    @Test
    void readmeExampleRunsAndIsWhatTheReadmeShows() throws Exception {
        Path image = dir.resolve("example.png");
        Files.write(image, png(3, 1));
        PrintStream old = System.out;
        var captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            readmeExample(bundle, image);
        } finally {
            System.setOut(old);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertThat(out).startsWith("ImageModel[shapes.deepshard.zip: 3x12x10 rgb, resize center-crop, normalization standardize, "
                + "classifier of 3 classes [circle, square, triangle]]").containsPattern("(?m)^(circle|square|triangle) 0\\.\\d{3}$")
                .endsWith("true\n");

        String source = Files.readString(Path.of("src/test/java/io/deepshard/core/serve/ImageModelTest.java"));
        String body = source.substring(source.indexOf("// README begin\n") + 16, source.indexOf("        // README end"));
        String readme = Files.readString(Path.of("../README.md"));
        int section = readme.indexOf("### export and the Java serving API");
        assertThat(section).as("README section").isPositive();
        String block = readme.substring(readme.indexOf("```java\n", section) + 8, readme.indexOf("```\n", readme.indexOf("```java\n", section) + 8));
        assertThat(block.lines().toList()).containsExactlyElementsOf(body.lines().map(l -> l.substring(8)).toList());
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int k = 1; k < v.length; k++) if (v[k] > v[best]) best = k;
        return best;
    }

    private static void copyWithout(Path from, Path to, String entry) throws IOException {
        copyReplacing(from, to, entry, null);
    }

    private static void copyReplacing(Path from, Path to, String entry, java.util.function.UnaryOperator<String> change) throws IOException {
        try (ZipFile in = new ZipFile(from.toFile()); var out = new ZipOutputStream(Files.newOutputStream(to))) {
            for (ZipEntry e : java.util.Collections.list(in.entries())) {
                byte[] bytes = in.getInputStream(e).readAllBytes();
                if (e.getName().equals(entry)) {
                    if (change == null) continue;
                    bytes = change.apply(new String(bytes, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
                }
                out.putNextEntry(new ZipEntry(e.getName()));
                out.write(bytes);
                out.closeEntry();
            }
        }
    }
}
