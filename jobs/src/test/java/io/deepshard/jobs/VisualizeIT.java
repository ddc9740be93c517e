package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.data.SyntheticImages;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code visualize} on a LeNet-5 trained here (3 classes of generated 28 px colour PNGs) and on an MLP: every PNG
 * decodes, has the grid size its layer's shape implies and is not blank; gradient ascent raised every target;
 * a seed gives the same pictures; bad arguments exit with 2 and say what is wrong.
 */
class VisualizeIT {
    @TempDir static Path dir;
    static Path lenet, mlp;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void trainModels() throws Exception {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        SyntheticImages.write(new Configuration(), dir.resolve("data").toString(), "split", new SyntheticImages.Spec(3, 28, 28, 5), 40, 10);
        lenet = train("lenet", "{name: lenet5}");
        mlp = train("mlp", "{name: mlp, hidden: [16]}");
    }

    private static Path train(String name, String model) throws Exception {
        Path run = dir.resolve("run-" + name), conf = dir.resolve(name + ".yaml");
        Files.writeString(conf, """
                model: %s
                data: {train: %s, test: %s, imageSize: [28, 28], channels: 3, numClasses: 3}
                training: {workers: 2, batchSize: 16, epochs: 2, seed: 3, optimizer: {type: adam, learningRate: 0.002}}
                output: %s
                """.formatted(model, dir.resolve("data/train"), dir.resolve("data/test"), run));
        TrainJobIT.Run r = TrainJobIT.run("train", conf.toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(0);
        return run;
    }

    @AfterAll
    static void clear() {
        System.clearProperty("spark.master");
    }

    @Test
    void filtersMaximizedInputsAndFeatureMaps() throws Exception {
        Path image = dir.resolve("data/test/square/40.png");
        Path out = dir.resolve("viz");
        TrainJobIT.Run r = TrainJobIT.run("visualize", "--model", lenet.toString(), "--out", out.toString(),
                "--image", image.toString(), "--image", dir.resolve("data/test/circle/40.png").toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(0);
        assertThat(r.out()).contains("maximized 8 units of conv1", "maximized 3 classes of output", "layer", "before", "after")
                .containsPattern("(?m)^output\\s+1\\s+square\\s+-?\\d+\\.\\d{4}\\s+-?\\d+\\.\\d{4}$");

        // 20 RGB 5x5 filters enlarged 8x: 5 x 4 tiles of 40 px with 2 px gaps
        assertGrid(out.resolve("filters.png"), 2 + 5 * 42, 2 + 4 * 42, true);
        // 8 channels (default --units) of 28x28 inputs enlarged 3x: 3 x 3 tiles of 84 px; 3 classes: 2 x 2
        assertGrid(out.resolve("maximize-conv1.png"), 2 + 3 * 86, 2 + 3 * 86, true);
        assertGrid(out.resolve("maximize-conv2.png"), 2 + 3 * 86, 2 + 3 * 86, true);
        assertGrid(out.resolve("maximize-output.png"), 2 + 2 * 86, 2 + 2 * 86, true);
        // feature maps: conv1 20 channels of 24x24 (x2 = 48 px, 5 x 4); conv2 50 channels of 8x8 (x6 = 48 px, 8 x 7)
        // the second image has the same file name: its stem gets a suffix
        for (String stem : List.of("40", "40-2")) {
            assertGrid(out.resolve("features-conv1-" + stem + ".png"), 2 + 5 * 50, 2 + 4 * 50, false);
            assertGrid(out.resolve("features-conv2-" + stem + ".png"), 2 + 8 * 50, 2 + 7 * 50, false);
        }

        JsonNode v = JSON.readTree(out.resolve("visualization.json").toFile());
        List<String> files = new ArrayList<>();
        int targets = 0;
        for (JsonNode e : v.get("images")) {
            files.add(e.get("file").asText());
            assertThat(Files.exists(out.resolve(e.get("file").asText()))).isTrue();
            BufferedImage img = ImageIO.read(out.resolve(e.get("file").asText()).toFile());
            assertThat(img.getWidth()).isEqualTo(e.at("/grid/width").asInt());
            assertThat(img.getHeight()).isEqualTo(e.at("/grid/height").asInt());
            if (!e.get("kind").asText().equals("maximize")) continue;
            for (JsonNode t : e.get("targets")) {
                targets++;
                assertThat(t.get("after").asDouble()).as("%s unit %s", e.get("layer"), t.get("unit")).isGreaterThan(t.get("before").asDouble());
            }
        }
        assertThat(files).containsExactlyInAnyOrder("filters.png", "maximize-conv1.png", "maximize-conv2.png", "maximize-output.png",
                "features-conv1-40.png", "features-conv2-40.png", "features-conv1-40-2.png", "features-conv2-40-2.png");
        assertThat(targets).isEqualTo(8 + 8 + 3);
        JsonNode classes = v.at("/images/3/targets");
        assertThat(v.at("/images/3/layer").asText()).isEqualTo("output");
        assertThat(v.at("/images/3/objective").asText()).startsWith("log-probability");
        assertThat(List.of(classes.get(0).get("class").asText(), classes.get(1).get("class").asText(), classes.get(2).get("class").asText()))
                .containsExactly("circle", "square", "triangle");
        for (JsonNode t : classes) assertThat(t.get("activationAfter").asDouble()).as("probability of %s", t.get("class")).isGreaterThan(0.9);
        assertThat(v.at("/images/0/weights").asText()).isEqualTo("convolution");
        assertThat(v.at("/images/4/image").asText()).isEqualTo(image.toString());

        // the same seed gives the same pictures; chosen layers, units and classes
        Path again = dir.resolve("viz-again");
        TrainJobIT.Run a = TrainJobIT.run("visualize", "--model", lenet.resolve("model").toString(), "--out", again.toString(),
                "--layers", "conv1,output", "--unit-indices", "0,1,2,3,4,5,6,7", "--classes", "square,0");
        assertThat(a.exit()).as(a.err()).isEqualTo(0);
        assertThat(Files.readAllBytes(again.resolve("maximize-conv1.png"))).isEqualTo(Files.readAllBytes(out.resolve("maximize-conv1.png")));
        JsonNode w = JSON.readTree(again.resolve("visualization.json").toFile());
        assertThat(w.at("/images/2/targets/0/class").asText()).isEqualTo("square");
        assertThat(w.at("/images/2/targets/1/class").asText()).isEqualTo("circle");
        assertThat(a.out()).contains("feature maps: none (give --image PATH)");
    }

    @Test
    void anMlpsFirstLayerIsDrawnAsImages() throws Exception {
        Path out = dir.resolve("viz-mlp");
        TrainJobIT.Run r = TrainJobIT.run("visualize", "--model", mlp.toString(), "--out", out.toString(), "--steps", "30");
        assertThat(r.exit()).as(r.err()).isEqualTo(0);
        JsonNode v = JSON.readTree(out.resolve("visualization.json").toFile());
        assertThat(v.at("/images/0/layer").asText()).isEqualTo("dense1");
        assertThat(v.at("/images/0/weights").asText()).isEqualTo("dense");
        // 16 units, each its 3x28x28 input weights enlarged 2x: 4 x 4 tiles of 56 px
        assertGrid(out.resolve("filters.png"), 2 + 4 * 58, 2 + 4 * 58, true);
        assertThat(v.at("/images/1/layer").asText()).isEqualTo("dense1");
        assertThat(v.at("/images/1/objective").asText()).isEqualTo("activation (relu) of the unit");
        assertThat(v.at("/images/2/layer").asText()).isEqualTo("output");
        assertThat(v.get("images")).hasSize(3); // first and last dense layer are the same one
    }

    @Test
    void badArgumentsExitWith2AndSayWhy() throws Exception {
        String m = lenet.toString();
        expect2("unknown layer 'nope'; the model's layers are: conv1 (ConvolutionLayer), pool1 (SubsamplingLayer), conv2", "--model", m, "--layers", "conv1,nope");
        expect2("unit 25 is out of range for layer conv1, which has 20 channels (0..19)", "--model", m, "--layers", "conv1", "--unit-indices", "3,25");
        expect2("unknown class 'hexagon'; the model's classes are: circle, square, triangle", "--model", m, "--classes", "square,hexagon");
        expect2("no such file: " + dir.resolve("nothing.png"), "--model", m, "--image", dir.resolve("nothing.png").toString());
        Path text = Files.writeString(dir.resolve("notes.png"), "not an image");
        expect2(text + ": not an image", "--model", m, "--image", text.toString());
        expect2("2 problems\n  - --steps must be >= 1, found 0\n  - --learning-rate must be in (0, 1], found 2.0", "--model", m,
                "--steps", "0", "--learning-rate", "2");
        expect2("no model bundle at " + dir.resolve("nowhere"), "--model", dir.resolve("nowhere").toString());
        Path full = Files.createDirectories(dir.resolve("full"));
        Files.writeString(full.resolve("x.txt"), "x");
        expect2(full + " exists and is not empty; choose another --out or add --overwrite", "--model", m, "--out", full.toString());
        assertThat(full.resolve("x.txt")).exists();
    }

    private static void expect2(String message, String... args) {
        var all = new ArrayList<String>(List.of("visualize"));
        all.addAll(List.of(args));
        TrainJobIT.Run r = TrainJobIT.run(all.toArray(String[]::new));
        assertThat(r.exit()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains("error: ").contains(message);
    }

    /** The PNG has this size, and is no blank: many distinct colours (RGB: some not grey). */
    private static void assertGrid(Path png, int width, int height, boolean colour) throws Exception {
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img).as(png.toString()).isNotNull();
        assertThat(img.getWidth()).as("%s width", png.getFileName()).isEqualTo(width);
        assertThat(img.getHeight()).as("%s height", png.getFileName()).isEqualTo(height);
        Set<Integer> colours = new HashSet<>();
        boolean notGrey = false;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y) & 0xFFFFFF;
                colours.add(rgb);
                notGrey |= (rgb >> 16 & 0xFF) != (rgb & 0xFF);
            }
        }
        assertThat(colours.size()).as("%s distinct colours", png.getFileName()).isGreaterThan(20);
        assertThat(notGrey).as("%s has colour", png.getFileName()).isEqualTo(colour);
    }
}
