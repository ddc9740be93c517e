package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.core.serve.ImageModel;
import io.deepshard.core.serve.Prediction;
import io.deepshard.core.serve.ServingBundle;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code export} of models trained here, loaded back through the Java serving API: for every test image the API
 * gives the {@code predict} job's prediction (same class, probabilities within 1e-6; segmentation: the same mask),
 * which proves that the serving path decodes, resizes and normalizes as training did. Also the bundle's entries,
 * input spec and provenance, and bad arguments (exit 2).
 */
class ExportIT {
    @TempDir static Path dir;
    static Path run;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void trainAModel() throws Exception {
        // 20 x 14 images into a 16 x 16 network: the stretch resize is part of what must match
        run = JobFixtures.trainColourMlp(dir, 20, 14, 30, 10, 2);
    }

    @AfterAll
    static void clear() {
        System.clearProperty("spark.master");
    }

    @Test
    void exportedModelPredictsLikeThePredictJob() throws Exception {
        TrainJobIT.Run e = TrainJobIT.run("export", "--model", run.toString());
        assertThat(e.exit()).as(e.err()).isEqualTo(0);
        Path bundle = run.resolve("export/run" + ServingBundle.EXTENSION);
        assertThat(e.out()).contains("serving bundle: " + bundle + " (")
                .contains("classes: 3 [circle, square, triangle]")
                .contains("input:   3x16x16 rgb, resize stretch, normalization standardize, classifier of 3 classes")
                .containsPattern("network: [\\d.]+ KiB without updater state \\(the run's model/network.zip with it: [\\d.]+ KiB, [\\d.]+x\\)");
        try (var files = Files.list(run.resolve("export"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("run" + ServingBundle.EXTENSION); // no temporaries
        }

        try (ZipFile zip = new ZipFile(bundle.toFile())) {
            assertThat(zip.stream().map(ZipEntry::getName)).containsExactlyElementsOf(ServingBundle.ENTRIES);
            JsonNode input = JSON.readTree(zip.getInputStream(zip.getEntry("input.json")));
            assertThat(input.get("channels").asInt()).isEqualTo(3);
            assertThat(input.get("height").asInt()).isEqualTo(16);
            assertThat(input.get("width").asInt()).isEqualTo(16);
            assertThat(input.get("colorMode").asText()).isEqualTo("rgb");
            assertThat(input.get("resize").asText()).isEqualTo("stretch");
            assertThat(input.get("normalization").asText()).isEqualTo("standardize");
            assertThat(input.get("output").asText()).isEqualTo("classifier");
            assertThat(input.get("trainingFormat").asText()).isEqualTo("auto");
            JsonNode prov = JSON.readTree(zip.getInputStream(zip.getEntry("provenance.json")));
            JsonNode runProv = JSON.readTree(run.resolve("model/provenance.json").toFile());
            assertThat(prov.get("configSha256")).isEqualTo(runProv.get("configSha256"));
            assertThat(prov.get("training")).isEqualTo(runProv.get("training"));
            assertThat(prov.at("/export/sourceRun").asText()).isEqualTo(run.toString());
            assertThat(prov.at("/export/createdAt").asText()).isNotBlank();
            assertThat(prov.at("/export/versions/deeplearning4j").asText()).isEqualTo("1.0.0-M2.1");
            assertThat(JSON.readTree(zip.getInputStream(zip.getEntry("normalizer.json"))))
                    .isEqualTo(JSON.readTree(run.resolve("model/normalizer.json").toFile()));
        }

        Path preds = dir.resolve("preds");
        TrainJobIT.Run p = TrainJobIT.run("predict", "--model", run.toString(), "--data", dir.resolve("data/test").toString(), "--out", preds.toString());
        assertThat(p.exit()).as(p.err()).isEqualTo(0);
        List<Row> rows = readParquet(preds);
        assertThat(rows).hasSize(30);
        try (ImageModel model = ImageModel.load(bundle)) {
            List<byte[]> encoded = new ArrayList<>();
            for (Row r : rows) encoded.add(Files.readAllBytes(file(r)));
            List<Prediction> batch = model.predictBatch(encoded);
            var classes = new java.util.HashSet<Integer>();
            for (int i = 0; i < rows.size(); i++) {
                Row r = rows.get(i);
                Path file = file(r);
                List<Float> expected = r.getList(r.fieldIndex("probabilities"));
                for (Prediction api : List.of(model.predict(file), batch.get(i))) {
                    assertThat(api.index()).as(file.toString()).isEqualTo(r.<Integer>getAs("predictionIndex"));
                    assertThat(api.label()).isEqualTo(r.<String>getAs("prediction"));
                    float[] probs = api.probabilityArray();
                    for (int k = 0; k < 3; k++) assertThat(probs[k]).as("%s class %d", file, k).isCloseTo(expected.get(k), within(1e-6f));
                }
                classes.add(r.<Integer>getAs("predictionIndex"));
            }
            assertThat(classes).as("the network tells images apart: agreement is not trivial").hasSizeGreaterThan(1);
        }
    }

    @Test
    void segmentationModelGivesThePredictJobsMasks() throws Exception {
        var w = SyntheticImages.write(new Configuration(), dir.resolve("seg").toString(), "segmentation",
                new SyntheticImages.Spec(3, 32, 32, 11), 6, 2);
        Path segRun = dir.resolve("seg-run");
        Path conf = dir.resolve("seg.yaml");
        Files.writeString(conf, """
                model: {name: unet, base: 4, depth: 2, batchNorm: true}
                data: {train: %s/train, test: %s/test, inputShape: [3, 32, 32], numClasses: 3}
                training: {workers: 2, batchSize: 4, epochs: 1, seed: 7, optimizer: {type: adam, learningRate: 0.01}}
                output: %s
                """.formatted(w.root(), w.root(), segRun));
        TrainJobIT.Run t = TrainJobIT.run("train", conf.toString());
        assertThat(t.exit()).as(t.err()).isEqualTo(0);
        Path bundle = dir.resolve("served/unet.zip");
        TrainJobIT.Run e = TrainJobIT.run("export", "--model", segRun.resolve("model").toString(), "--out", bundle.toString());
        assertThat(e.exit()).as(e.err()).isEqualTo(0);
        assertThat(e.out()).contains("input:   3x32x32 rgb, resize stretch, normalization standardize, segmentation (a class per pixel) of 3 classes");

        Path preds = dir.resolve("seg-preds");
        TrainJobIT.Run p = TrainJobIT.run("predict", "--model", segRun.toString(), "--data", dir.resolve("seg/test").toString(), "--out", preds.toString());
        assertThat(p.exit()).as(p.err()).isEqualTo(0);
        List<Row> rows = readParquet(preds);
        assertThat(rows).hasSize(6);
        try (ImageModel model = ImageModel.load(bundle)) {
            assertThat(model.labels()).containsExactly("background", "circle", "square");
            for (Row r : rows) {
                long id = r.getAs("id");
                Path image = dir.resolve("seg/test/images/" + String.format("%05d.png", id)); // ids follow the sorted image files
                Prediction api = model.predict(image);
                assertThat(api.mask()).hasDimensions(32, 32);
                byte[] mask = r.getAs("mask");
                for (int q = 0; q < 32 * 32; q++) assertThat(api.mask()[q / 32][q % 32]).as("%s pixel %d", image, q).isEqualTo(mask[q]);
                assertThat(api.index()).isEqualTo(r.<Integer>getAs("predictionIndex"));
                List<Float> shares = r.getList(r.fieldIndex("probabilities"));
                for (int k = 0; k < 3; k++) assertThat(api.probabilityArray()[k]).isCloseTo(shares.get(k), within(1e-6f)); // both count / pixels
            }
        }
    }

    @Test
    void badArgumentsExitWith2AndNameTheProblem() throws Exception {
        TrainJobIT.Run noModel = TrainJobIT.run("export", "--model", dir.resolve("nothing").toString());
        assertThat(noModel.exit()).isEqualTo(2);
        assertThat(noModel.err()).contains("--model").contains("no model bundle at " + dir.resolve("nothing"));

        Path out = dir.resolve("taken.zip");
        Files.writeString(out, "something else");
        TrainJobIT.Run taken = TrainJobIT.run("export", "--model", run.toString(), "--out", out.toString());
        assertThat(taken.exit()).isEqualTo(2);
        assertThat(taken.err()).contains(out + " exists; choose another --out or add --overwrite");
        assertThat(Files.readString(out)).isEqualTo("something else");

        TrainJobIT.Run replaced = TrainJobIT.run("export", "--model", run.toString(), "--out", out.toString(), "--overwrite");
        assertThat(replaced.exit()).as(replaced.err()).isEqualTo(0);
        try (ImageModel model = ImageModel.load(out)) {
            assertThat(model.labels()).containsExactly("circle", "square", "triangle");
        }

        TrainJobIT.Run folder = TrainJobIT.run("export", "--model", run.toString(), "--out", dir.resolve("data").toString(), "--overwrite");
        assertThat(folder.exit()).isEqualTo(2);
        assertThat(folder.err()).contains(dir.resolve("data") + " is a directory; --out names the bundle file");

        TrainJobIT.Run missing = TrainJobIT.run("export");
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("Missing required option: '--model=RUN_DIR'");
    }

    /** The image file of a {@code predict} row ({@code path} is a URI such as {@code file:/...}). */
    static Path file(Row r) { return Path.of(java.net.URI.create(r.getAs("path"))); }

    static List<Row> readParquet(Path p) {
        SparkSession spark = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false").getOrCreate();
        try {
            return spark.read().parquet(p.toString()).orderBy("id").collectAsList();
        } finally {
            spark.stop();
        }
    }
}
