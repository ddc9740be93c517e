package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.data.IdxWriter;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The train job end to end, as the launcher runs it (in-process, local[2] Spark from the spark.master property):
 * exit codes, console lines, the run directory and a model bundle that reproduces the reported accuracy.
 */
class TrainJobIT {
    @TempDir static Path dir;
    static Path config;
    static byte[][] testImages;
    static int[] testLabels;

    @BeforeAll
    static void data() throws Exception {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        Random r = new Random(8);
        int[] trainLabels = new int[600];
        byte[][] train = images(r, trainLabels);
        testLabels = new int[200];
        testImages = images(r, testLabels);
        IdxWriter.write(dir.resolve("train-images-idx3-ubyte.gz"), dir.resolve("train-labels-idx1-ubyte.gz"), train, trainLabels, 12, 12, true);
        IdxWriter.write(dir.resolve("t10k-images-idx3-ubyte"), dir.resolve("t10k-labels-idx1-ubyte"), testImages, testLabels, 12, 12, false);
        config = dir.resolve("job.yaml");
        Files.writeString(config, """
                model: {name: mlp, hidden: [32]}
                data:
                  train: %s
                  test: %s
                  inputShape: [1, 12, 12]
                  numClasses: 3
                training: {workers: 2, batchSize: 16, averagingFrequency: 3, epochs: 1, seed: 5,
                           optimizer: {type: adam, learningRate: 0.01}}
                output: %s
                """.formatted(dir.resolve("train-images-idx3-ubyte.gz"), dir.resolve("t10k-images-idx3-ubyte"), dir.resolve("run")));
    }

    @AfterAll
    static void clear() {
        System.clearProperty("spark.master");
    }

    /** Fills {@code labels} and returns matching images: class 0 bright top-left, 1 top-right, 2 bottom. */
    static byte[][] images(Random r, int[] labels) {
        int n = labels.length;
        byte[][] out = new byte[n][144];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(3);
            for (int p = 0; p < 144; p++) {
                int y = p / 12, x = p % 12;
                boolean hot = switch (labels[i]) { case 0 -> y < 5 && x < 5; case 1 -> y < 5 && x > 6; default -> y > 6; };
                out[i][p] = (byte) (30 + r.nextInt(50) + (hot ? 150 : 0));
            }
        }
        return out;
    }

    record Run(int exit, String out, String err) {}

    static Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Cli.run(new Cli(), args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void trainsSavesAndTheBundleReproducesTheReportedAccuracy() throws Exception {
        Run r = run("train", config.toString(), "--set", "training.epochs=2", "--live-view", "0");
        assertThat(r.exit()).as(r.err()).isEqualTo(0);
        java.util.regex.Matcher live = java.util.regex.Pattern.compile("live view: (http://127\\.0\\.0\\.1:\\d+/)").matcher(r.out());
        assertThat(live.find()).as(r.out()).isTrue();
        // served while training ran (LiveViewTest reads it), closed with the job
        assertThatThrownBy(() -> LiveViewTest.get(live.group(1))).isInstanceOf(java.net.ConnectException.class);
        assertThat(r.out()).contains("epoch  train-loss  test-loss  test-acc   images/s   elapsed")
                .containsPattern("(?m)^\\s+1\\s+\\d+\\.\\d{4}\\s+\\d+\\.\\d{4}\\s+\\d\\.\\d{4}\\s+\\d+\\s+\\d+:\\d\\d$")
                .containsPattern("(?m)^\\s+2\\s+")
                .contains("run directory: " + dir.resolve("run"));
        assertThat(r.err()).contains("epoch 1: 25%"); // progress within the epoch (not a terminal: quarter lines)

        JsonNode m = new ObjectMapper().readTree(dir.resolve("run/metrics.json").toFile());
        assertThat(m.get("epochs").asInt()).isEqualTo(2);
        assertThat(m.get("history")).hasSize(2);
        assertThat(m.get("imagesPerSecond").asDouble()).isPositive();
        double acc = m.get("testAccuracy").asDouble();
        assertThat(acc).isGreaterThan(0.9); // the classes are easy
        assertThat(m.get("testLoss").asDouble()).isPositive();
        // observability: each round's time split (600 examples / 2 workers / batch 16 = 19 steps = 7 rounds of 3)
        JsonNode timing = m.at("/history/0/roundTiming");
        assertThat(timing.get("rounds").asInt()).isEqualTo(7);
        assertThat(timing.get("seconds").asDouble()).isPositive()
                .isGreaterThanOrEqualTo(timing.get("compute").asDouble() + timing.get("broadcast").asDouble());
        assertThat(timing.get("compute").asDouble()).isPositive();
        List<String> rounds = Files.readAllLines(dir.resolve("run/rounds.jsonl"));
        assertThat(rounds).hasSize(14);
        assertThat(new ObjectMapper().readTree(rounds.get(13)).get("epoch").asInt()).isEqualTo(2);
        assertThat(r.out()).containsPattern("rounds: 14, \\d+\\.\\d{3} s each on average: compute \\d+\\.\\d{3} s");
        assertThat(m.get("clusterEvents")).isEmpty();

        ModelBundle bundle = ModelBundle.load(new Configuration(), dir.resolve("run").toString());
        float[][] p = bundle.predict(testImages);
        int correct = 0;
        for (int i = 0; i < p.length; i++) {
            int best = 0;
            for (int k = 1; k < 3; k++) if (p[i][k] > p[i][best]) best = k;
            if (best == testLabels[i]) correct++;
        }
        assertThat((double) correct / p.length).isEqualTo(acc);
        assertThat(bundle.labels()).containsExactly("0", "1", "2");
        assertThat(bundle.configYaml()).contains("epochs: 2"); // the override is in the saved config
        assertThat(bundle.provenance()).containsKeys("versions", "seed", "data", "machine", "configSha256", "training");
        assertThat(bundle.provenance().get("seed")).isEqualTo(5);

        // the same output again: refused before Spark starts, nothing overwritten
        Run again = run("train", config.toString());
        assertThat(again.exit()).isEqualTo(2);
        assertThat(again.err()).contains("already holds a trained model");
    }

    @Test
    void earlyStoppingOnAValidationSplitCheckpointsAndRestoresTheBestModel() throws Exception {
        // minDelta 10: only epoch 1 improves, patience 1 -> stops after epoch 2 and returns epoch 1's model
        Run r = run("train", config.toString(), "--set", "data.validationFraction=0.2", "--set", "training.epochs=5",
                "--set", "training.earlyStopping={patience: 1, minDelta: 10}", "--set", "output=" + dir.resolve("early"));
        assertThat(r.exit()).as(r.err()).isEqualTo(0);
        assertThat(r.out()).contains("on 479 training / 121 validation / 200 test images")
                .contains("epoch  train-loss  val-loss  val-acc  test-loss  test-acc   images/s   elapsed")
                .containsPattern("(?m)^\\s+1\\s+.*\\* best$")
                .contains("early stopping after epoch 2: validation-loss has not improved by more than 10.0 for 1 epoch(s); best ")
                .contains("(model of epoch 1)");
        JsonNode m = new ObjectMapper().readTree(dir.resolve("early/metrics.json").toFile());
        assertThat(m.get("epochs").asInt()).isEqualTo(2);
        assertThat(m.get("modelEpoch").asInt()).isEqualTo(1);
        assertThat(m.get("stoppedEarly").asBoolean()).isTrue();
        assertThat(m.get("validationLoss").asDouble()).isEqualTo(m.at("/history/0/validationLoss").asDouble());
        ModelBundle best = ModelBundle.load(new Configuration(), dir.resolve("early/best").toString());
        ModelBundle last = ModelBundle.load(new Configuration(), dir.resolve("early").toString());
        assertThat(best.provenance().get("checkpoint")).asString().contains("epoch=1");
        assertThat(last.network().params().toFloatVector()).isEqualTo(best.network().params().toFloatVector());
    }

    @Test
    void generatedColourFoldersTrainEndToEnd() throws Exception {
        Path shapes = dir.resolve("shapes");
        Run g = run("generate-data", shapes.toString(), "--layout", "split", "--classes", "3", "--size", "16",
                "--train-per-class", "80", "--test-per-class", "20", "--seed", "3");
        assertThat(g.exit()).as(g.err()).isZero();
        assertThat(g.out()).contains("wrote 240 training and 60 test images (split layout, 3 classes [circle, square, triangle], 16x16, seed 3)");
        Path conf = dir.resolve("shapes.yaml");
        Files.writeString(conf, """
                model: {name: mlp, hidden: [64]}
                data: {train: %s, imageSize: [16, 16], channels: 3, numClasses: 3}
                training: {workers: 2, batchSize: 16, averagingFrequency: 2, epochs: 4, seed: 1,
                           optimizer: {type: adam, learningRate: 0.003}}
                output: %s
                """.formatted(shapes, dir.resolve("shapes-run")));
        Run r = run("train", conf.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode m = new ObjectMapper().readTree(dir.resolve("shapes-run/metrics.json").toFile());
        // shapes on cluttered textures need thousands of images to be learned (measured: 0.93 after 4 epochs of
        // 6,000); here only that training makes progress -- colour handling is checked by coloursAreLearned
        assertThat(m.at("/history/3/trainLoss").asDouble()).isLessThan(m.at("/history/0/trainLoss").asDouble());
        assertThat(m.at("/badRecords/total").asLong()).isZero();
        ModelBundle bundle = ModelBundle.load(new Configuration(), dir.resolve("shapes-run").toString());
        assertThat(bundle.labels()).containsExactly("circle", "square", "triangle");
        assertThat(bundle.normalizer().channels()).isEqualTo(3);
        assertThat(bundle.configYaml()).contains("inputShape:").contains("- 3").contains("resize: stretch");

        // preprocess once, train many times: prepare writes Parquet that training reads without decoding
        Run p = run("prepare", conf.toString(), "--out", dir.resolve("prepared").toString());
        assertThat(p.exit()).as(p.err()).isZero();
        assertThat(p.out()).contains("prepared 240 training and 60 test images of [3, 16, 16]");
        Run again = run("train", conf.toString(), "--set", "data.train=" + dir.resolve("prepared/train"),
                "--set", "data.test=" + dir.resolve("prepared/test"), "--set", "output=" + dir.resolve("prepared-run"));
        assertThat(again.exit()).as(again.err()).isZero();
        JsonNode m2 = new ObjectMapper().readTree(dir.resolve("prepared-run/model/provenance.json").toFile());
        assertThat(m2.at("/data/train/format").asText()).isEqualTo("parquet");
        assertThat(m2.at("/data/classes").toString()).isEqualTo("[\"circle\",\"square\",\"triangle\"]");
    }

    /** Classes that differ by colour, from PNG folders through decoding, normalization and training (exact channel
     *  order is pinned by ImageDecoderTest). */
    @Test
    void coloursAreLearnedFromPngFolders() throws Exception {
        Path root = dir.resolve("colours/train");
        Random r = new Random(2);
        String[] names = {"blue", "green", "red"};
        for (int split = 0; split < 2; split++) {
            Path base = split == 0 ? root : dir.resolve("colours/test");
            for (int k = 0; k < 3; k++) {
                Files.createDirectories(base.resolve(names[k]));
                for (int i = 0; i < (split == 0 ? 60 : 20); i++) {
                    var img = new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_INT_RGB);
                    for (int p = 0; p < 64; p++) {
                        int[] c = {60 + r.nextInt(60), 60 + r.nextInt(60), 60 + r.nextInt(60)};
                        c[2 - k] += 60; // k = 0 blue, 1 green, 2 red: the class's channel is brighter
                        img.setRGB(p % 8, p / 8, (c[0] << 16) | (c[1] << 8) | c[2]);
                    }
                    javax.imageio.ImageIO.write(img, "png", base.resolve(names[k] + "/" + i + ".png").toFile());
                }
            }
        }
        Path conf = dir.resolve("colours.yaml");
        Files.writeString(conf, """
                model: {name: mlp, hidden: [16]}
                data: {train: %s, imageSize: [8, 8], channels: 3, numClasses: 3}
                training: {workers: 2, batchSize: 16, averagingFrequency: 2, epochs: 5, seed: 1,
                           optimizer: {type: adam, learningRate: 0.01}}
                output: %s
                """.formatted(dir.resolve("colours"), dir.resolve("colours-run")));
        Run run = run("train", conf.toString());
        assertThat(run.exit()).as(run.err()).isZero();
        JsonNode m = new ObjectMapper().readTree(dir.resolve("colours-run/metrics.json").toFile());
        assertThat(m.get("testAccuracy").asDouble()).isGreaterThan(0.9); // chance is 0.33
        assertThat(ModelBundle.load(new Configuration(), dir.resolve("colours-run").toString()).labels()).containsExactly(names);
    }

    /** generate-data --layout segmentation, then train a U-Net on it: IoU on the console, in metrics.json, and predictions per pixel. */
    @Test
    void segmentationTrainsEndToEndWithIoUPerClass() throws Exception {
        Path seg = dir.resolve("seg");
        Run g = run("generate-data", seg.toString(), "--layout", "segmentation", "--classes", "3", "--size", "16",
                "--train-per-class", "10", "--test-per-class", "3", "--seed", "4");
        assertThat(g.exit()).as(g.err()).isZero();
        Path conf = dir.resolve("seg.yaml");
        Files.writeString(conf, """
                model: {name: unet, base: 4, depth: 1}
                data: {train: %s, inputShape: [3, 16, 16], numClasses: 3}
                training: {workers: 2, batchSize: 5, averagingFrequency: 1, epochs: 2, seed: 3,
                           optimizer: {type: adam, learningRate: 0.01}}
                output: %s
                """.formatted(seg, dir.resolve("seg-run")));
        Run r = run("train", conf.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("on 30 training / 9 test images, 3 classes")
                .contains("epoch  train-loss  test-loss  pixel-acc  mean-IoU   images/s   elapsed")
                .containsPattern("(?m)^\\s+2\\s+\\d+\\.\\d{4}\\s+\\d+\\.\\d{4}\\s+\\d\\.\\d{4}\\s+\\d\\.\\d{4}\\s+")
                .containsPattern("(?m)^0 background\\s+\\d\\.\\d{4}\\s+\\d\\.\\d{4}$")
                .containsPattern("(?m)^2 square\\s+(\\d\\.\\d{4}|-)\\s+")
                .containsPattern("done: test mean IoU \\d\\.\\d{4}, pixel accuracy \\d\\.\\d{4}");
        JsonNode m = new ObjectMapper().readTree(dir.resolve("seg-run/metrics.json").toFile());
        assertThat(m.get("pixelAccuracy").asDouble()).isEqualTo(m.get("testAccuracy").asDouble()).isBetween(0.0, 1.0);
        assertThat(m.get("meanIoU").asDouble()).isEqualTo(m.at("/history/1/meanIoU").asDouble()).isBetween(0.0, 1.0);
        assertThat(m.get("perClassIoU").fieldNames()).toIterable().containsExactly("background", "circle", "square");
        long pixels = 0;
        for (JsonNode row : m.get("confusionMatrix")) for (JsonNode v : row) pixels += v.asLong();
        assertThat(pixels).isEqualTo(9 * 16 * 16);

        ModelBundle bundle = ModelBundle.load(new Configuration(), dir.resolve("seg-run").toString());
        assertThat(bundle.labels()).containsExactly("background", "circle", "square");
        float[][] p = bundle.predict(new byte[][] {new byte[3 * 16 * 16]});
        assertThat(p[0]).hasSize(3 * 16 * 16); // classes x H x W per image
        assertThat(p[0][0] + p[0][256] + p[0][512]).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-4f));

        // evaluate and predict on the test split: predict's masks hold exactly the predicted pixels of evaluate's confusion matrix
        Run e = run("evaluate", "--model", dir.resolve("seg-run").toString(), "--data", seg.resolve("test").toString(),
                "--out", dir.resolve("seg-eval").toString());
        assertThat(e.exit()).as(e.err()).isZero();
        JsonNode ev = new ObjectMapper().readTree(dir.resolve("seg-eval/evaluation.json").toFile());
        assertThat(ev.get("confusionMatrix")).isEqualTo(m.get("confusionMatrix"));
        Run pr = run("predict", "--model", dir.resolve("seg-run").toString(), "--data", seg.resolve("test").toString(),
                "--out", dir.resolve("seg-pred").toString());
        assertThat(pr.exit()).as(pr.err()).isZero();
        long[] predicted = new long[3], fromEvaluate = new long[3];
        for (JsonNode row : ev.get("confusionMatrix")) for (int k = 0; k < 3; k++) fromEvaluate[k] += row.get(k).asLong();
        var spark = org.apache.spark.sql.SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false").getOrCreate();
        try {
            var rows = spark.read().parquet(dir.resolve("seg-pred").toString()).select("mask", "probabilities").collectAsList();
            assertThat(rows).hasSize(9);
            for (var row : rows) {
                byte[] mask = row.getAs(0);   // a class id per pixel, row-major
                assertThat(mask).hasSize(16 * 16);
                for (byte v : mask) predicted[v]++;
                java.util.List<Object> shares = row.getList(1);
                assertThat(shares.stream().mapToDouble(v -> ((Number) v).doubleValue()).sum()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
            }
        } finally {
            spark.stop();
        }
        assertThat(predicted).isEqualTo(fromEvaluate);

        Run prep = run("prepare", conf.toString(), "--out", dir.resolve("seg-prepared").toString());
        assertThat(prep.exit()).isEqualTo(1);
        assertThat(prep.err()).contains("preparing segmentation data is not supported yet");
    }

    @Test
    void configErrorsAreReportedAllAtOnceWithExitCode2() {
        Run r = run("train", config.toString(), "--set", "training.epochs=0", "--set", "training.optimizer.type=adamm");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("error: " + config + ": 2 problems")
                .contains("training.epochs: must be an integer >= 1, found 0")
                .contains("training.optimizer.type: must be one of sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad, found 'adamm' (did you mean 'adam'?)");
    }

    @Test
    void dataErrorsFoundInsideSparkTasksReachTheUserAsOneLine() throws Exception {
        Path bad = dir.resolve("bad");
        Files.createDirectories(bad);
        IdxWriter.write(bad.resolve("train-images-idx3-ubyte"), bad.resolve("train-labels-idx1-ubyte"),
                new byte[20][144], new int[20], 12, 12, false);
        byte[] labels = Files.readAllBytes(bad.resolve("train-labels-idx1-ubyte"));
        labels[8 + 13] = 9; // record 13 gets class 9 of 3
        Files.write(bad.resolve("train-labels-idx1-ubyte"), labels);
        Run r = run("train", config.toString(), "--set", "data.train=" + bad.resolve("train-images-idx3-ubyte"),
                "--set", "output=" + dir.resolve("bad-run"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("error: file:" + bad.resolve("train-labels-idx1-ubyte")
                + " record 13: label 9 is outside [0, 3) (data.numClasses = 3) (labelOutOfRange)");
        assertThat(dir.resolve("bad-run/model")).doesNotExist();
    }
}
