package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code evaluate} and {@code predict} on a model trained here (3 classes of generated 16 px colour PNGs in class
 * folders): evaluate reproduces the accuracy training reported; predict's per-image predictions give evaluate's
 * confusion matrix; an unlabelled flat folder of the same images gets the same predictions; the network is built
 * once per task slot, not per task; bad arguments fail before Spark starts with exit code 2.
 */
class EvaluatePredictIT {
    @TempDir static Path dir;
    static Path run;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void trainAModel() throws Exception {
        run = JobFixtures.trainColourMlp(dir, 16, 16, 40, 20, 3);
    }

    @AfterAll
    static void clear() {
        System.clearProperty("spark.master");
    }

    @Test
    void evaluateReproducesTrainingAndPredictAgreesWithIt() throws Exception {
        Path evalDir = dir.resolve("eval");
        TrainJobIT.Run e = TrainJobIT.run("evaluate", "--model", run.toString(), "--data", dir.resolve("data/test").toString(),
                "--out", evalDir.toString(), "--top-k", "2");
        assertThat(e.exit()).as(e.err()).isEqualTo(0);
        assertThat(e.out()).containsPattern("60 images: accuracy \\d\\.\\d{4}, top-2 accuracy \\d\\.\\d{4}, loss \\d")
                .contains("precision", "recall", "confusion matrix");
        JsonNode ev = JSON.readTree(evalDir.resolve("evaluation.json").toFile());
        JsonNode trained = JSON.readTree(run.resolve("metrics.json").toFile());
        assertThat(ev.get("accuracy").asDouble()).isEqualTo(trained.get("testAccuracy").asDouble());
        assertThat(ev.get("loss").asDouble()).isCloseTo(trained.get("testLoss").asDouble(), org.assertj.core.api.Assertions.within(1e-9));
        assertThat(ev.get("confusionMatrix")).isEqualTo(trained.get("confusionMatrix"));
        assertThat(ev.get("top2Accuracy").asDouble()).isGreaterThanOrEqualTo(ev.get("accuracy").asDouble());
        assertThat(ev.at("/perClass").fieldNames()).toIterable().containsExactly("circle", "square", "triangle");
        assertThat(ev.at("/perClass/circle/support").asLong()).isEqualTo(20);
        // a re-run (a scheduler's retry) replaces the evaluation only when asked to
        TrainJobIT.Run again = TrainJobIT.run("evaluate", "--model", run.toString(), "--data", dir.resolve("data/test").toString(),
                "--out", evalDir.toString());
        assertThat(again.exit()).isEqualTo(2);
        assertThat(again.err()).contains("evaluation.json exists; choose another --out or add --overwrite");
        TrainJobIT.Run replaced = TrainJobIT.run("evaluate", "--model", run.toString(), "--data", dir.resolve("data/test").toString(),
                "--out", evalDir.toString(), "--overwrite");
        assertThat(replaced.exit()).as(replaced.err()).isEqualTo(0);
        assertThat(JSON.readTree(evalDir.resolve("evaluation.json").toFile()).get("accuracy")).isEqualTo(ev.get("accuracy"));

        Path preds = dir.resolve("preds");
        TrainJobIT.Run p = TrainJobIT.run("predict", "--model", run.toString(), "--data", dir.resolve("data/test").toString(),
                "--out", preds.toString());
        assertThat(p.exit()).as(p.err()).isEqualTo(0);
        JsonNode meta = JSON.readTree(preds.resolve("_deepshard.json").toFile());
        assertThat(meta.get("rows").asLong()).isEqualTo(60);
        assertThat(meta.get("accuracy").asDouble()).isEqualTo(ev.get("accuracy").asDouble());
        // 8 decoding tasks on local[2]: the network is built at most once per task slot, not once per task or record
        assertThat(meta.get("networksBuilt").asLong()).isBetween(1L, 2L);

        // the same images without class folders: no labels, the same predictions
        Path flat = dir.resolve("flat");
        Files.createDirectories(flat);
        try (Stream<Path> files = Files.walk(dir.resolve("data/test"))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, flat.resolve(f.getParent().getFileName() + "_" + f.getFileName()));
            }
        }
        Path flatPreds = dir.resolve("flat-preds");
        TrainJobIT.Run u = TrainJobIT.run("predict", "--model", run.toString(), "--data", flat.toString(), "--out", flatPreds.toString());
        assertThat(u.exit()).as(u.err()).isEqualTo(0);
        assertThat(u.out()).doesNotContain("accuracy");
        SparkSession spark = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false").getOrCreate();
        try {
            List<Row> rows = spark.read().parquet(preds.toString()).orderBy("id").collectAsList();
            assertThat(rows).hasSize(60);
            long[][] confusion = new long[3][3];
            List<String> classes = List.of("circle", "square", "triangle");
            Map<String, String> byFile = new HashMap<>();
            for (Row r : rows) {
                String path = r.getAs("path");
                assertThat(path).contains("/data/test/" + r.<String>getAs("label") + "/");
                List<Float> probs = r.getList(r.fieldIndex("probabilities"));
                assertThat(probs).hasSize(3);
                assertThat(probs.stream().mapToDouble(Float::doubleValue).sum()).isCloseTo(1.0, org.assertj.core.api.Assertions.within(1e-4));
                int k = r.getAs("predictionIndex");
                assertThat(r.<String>getAs("prediction")).isEqualTo(classes.get(k));
                assertThat(r.<Float>getAs("confidence")).isEqualTo(probs.get(k));
                confusion[classes.indexOf(r.<String>getAs("label"))][k]++;
                byFile.put(Path.of(path).getParent().getFileName() + "/" + Path.of(path).getFileName(), r.getAs("prediction"));
            }
            for (int t = 0; t < 3; t++) {
                for (int q = 0; q < 3; q++) assertThat(confusion[t][q]).as("confusion[%d][%d]", t, q).isEqualTo(ev.at("/confusionMatrix/" + t + "/" + q).asLong());
            }
            // the same images without class folders: no labels, the same predictions
            List<Row> unl = spark.read().parquet(flatPreds.toString()).collectAsList();
            assertThat(unl).hasSize(60);
            for (Row r : unl) {
                assertThat(r.<String>getAs("label")).isNull();
                String name = Path.of(r.<String>getAs("path")).getFileName().toString();
                String key = name.substring(0, name.indexOf('_')) + "/" + name.substring(name.indexOf('_') + 1);
                assertThat(r.<String>getAs("prediction")).as(name).isEqualTo(byFile.get(key));
            }
        } finally {
            spark.stop();
        }
    }

    /** The reports, rendered by headless Chromium: not blank, and the DOM holds the charts with the run's numbers. */
    @Test
    void reportsRenderInHeadlessChromiumWithTheRunsCharts() throws Exception {
        Path report = run.resolve("report.html");
        String html = Files.readString(report);
        assertThat(html).doesNotContainPattern("(src|href)=\"https?:"); // self-contained: nothing from the network
        Path profile = dir.resolve("chromium-profile");
        String dom = Chromium.dumpDom(report, profile);
        JsonNode m = JSON.readTree(run.resolve("metrics.json").toFile());
        for (String id : List.of("loss-curve", "accuracy-curve", "learning-rate", "throughput", "confusion-matrix", "samples", "per-class")) {
            assertThat(dom).as(id).contains("id=\"" + id + "\"");
        }
        // the test-accuracy curve carries every epoch's value from metrics.json, and the headline the final one
        var testAcc = new StringBuilder();
        for (JsonNode e : m.get("history")) {
            testAcc.append(testAcc.length() == 0 ? "" : " ").append(String.format(java.util.Locale.ROOT, "%g:%g", e.get("epoch").asDouble(),
                    e.get("testAccuracy").asDouble()));
        }
        assertThat(dom).contains("data-name=\"test accuracy\" data-values=\"" + testAcc + "\"")
                .contains(String.format(java.util.Locale.ROOT, "%.4f", m.get("testAccuracy").asDouble()));
        assertThat(dom.split("class=\"cell\"", -1)).hasSize(1 + 9);                  // 3 x 3 confusion cells
        assertThat(dom.split("data:image/png;base64,", -1)).hasSize(1 + RunReports.SAMPLES); // sample predictions
        assertThat(Chromium.distinctColours(Chromium.screenshot(report, dir.resolve("report.png"), profile, 1200, 1400))).isGreaterThan(50);

        Path evalDir = dir.resolve("eval-report");
        TrainJobIT.Run e = TrainJobIT.run("evaluate", "--model", run.toString(), "--data", dir.resolve("data/test").toString(),
                "--out", evalDir.toString());
        assertThat(e.exit()).as(e.err()).isEqualTo(0);
        String evalDom = Chromium.dumpDom(evalDir.resolve("report.html"), profile);
        assertThat(evalDom).contains("id=\"confusion-matrix\"", "id=\"per-class\"", "id=\"samples\"")
                .contains(String.format(java.util.Locale.ROOT, "%.4f", m.get("testAccuracy").asDouble()));
        assertThat(Chromium.distinctColours(Chromium.screenshot(evalDir.resolve("report.html"), dir.resolve("eval.png"), profile, 1000, 900)))
                .isGreaterThan(50);
    }

    /** The run directory is also an MLflow file-store run: meta.yaml, params, per-epoch metrics, tags, artifacts. */
    @Test
    void runDirectoryIsAnMlflowFileStoreRun() throws Exception {
        var yaml = new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory());
        JsonNode exp = yaml.readTree(dir.resolve("meta.yaml").toFile());
        assertThat(exp.get("experiment_id").asText()).isEqualTo(dir.getFileName().toString());
        assertThat(exp.get("lifecycle_stage").asText()).isEqualTo("active");
        JsonNode meta = yaml.readTree(run.resolve("meta.yaml").toFile());
        assertThat(meta.get("run_id").asText()).isEqualTo("run");
        assertThat(meta.get("run_uuid").asText()).isEqualTo("run");
        assertThat(meta.get("experiment_id").asText()).isEqualTo(dir.getFileName().toString());
        assertThat(meta.get("status").asInt()).isEqualTo(3); // FINISHED
        assertThat(meta.get("end_time").asLong()).isGreaterThanOrEqualTo(meta.get("start_time").asLong()).isPositive();
        assertThat(meta.get("artifact_uri").asText()).startsWith("file:").endsWith("/run/artifacts");
        assertThat(meta.get("tags").isArray()).isTrue();
        assertThat(Files.readString(run.resolve("params/model.name"))).isEqualTo("mlp");
        assertThat(Files.readString(run.resolve("params/training.seed"))).isEqualTo("3");
        assertThat(Files.readString(run.resolve("params/training.optimizer.learningRate"))).isEqualTo("0.003");
        assertThat(Files.readString(run.resolve("tags/mlflow.runName"))).isEqualTo("run");
        JsonNode history = JSON.readTree(run.resolve("metrics.json").toFile()).get("history");
        List<String> lines = Files.readAllLines(run.resolve("metrics/test_accuracy"));
        assertThat(lines).hasSize(history.size());
        long previous = 0;
        for (int i = 0; i < lines.size(); i++) {
            String[] f = lines.get(i).split(" ");
            assertThat(f).hasSize(3);
            assertThat(Long.parseLong(f[0])).isGreaterThanOrEqualTo(previous).isGreaterThanOrEqualTo(meta.get("start_time").asLong());
            previous = Long.parseLong(f[0]);
            assertThat(Double.parseDouble(f[1])).isEqualTo(history.get(i).get("testAccuracy").asDouble());
            assertThat(Integer.parseInt(f[2])).isEqualTo(i + 1);
        }
        assertThat(Files.readAllLines(run.resolve("metrics/learning_rate"))).hasSize(history.size());
        assertThat(run.resolve("artifacts/report.html")).exists();
        assertThat(run.resolve("artifacts/model/config.yaml")).hasSameTextualContentAs(run.resolve("model/config.yaml"));
    }

    @Test
    void badArgumentsFailBeforeSparkWithExitCode2() throws Exception {
        TrainJobIT.Run noModel = TrainJobIT.run("evaluate", "--model", dir.resolve("nothing").toString(), "--data", dir.resolve("data/test").toString());
        assertThat(noModel.exit()).isEqualTo(2);
        assertThat(noModel.err()).contains("no model bundle at " + dir.resolve("nothing"));

        TrainJobIT.Run noData = TrainJobIT.run("predict", "--model", run.toString(), "--data", dir.resolve("missing").toString(),
                "--out", dir.resolve("x").toString());
        assertThat(noData.exit()).isEqualTo(2);
        assertThat(noData.err()).contains("--data").contains("no such file or folder").contains(dir.resolve("missing").toString());

        TrainJobIT.Run modelKey = TrainJobIT.run("evaluate", "--model", run.toString(), "--data", dir.resolve("data/test").toString(),
                "--set", "model.hidden=[4]");
        assertThat(modelKey.exit()).isEqualTo(2);
        assertThat(modelKey.err()).contains("model.hidden=[4]: only data.* keys may be set here");

        Files.createDirectories(dir.resolve("taken"));
        TrainJobIT.Run taken = TrainJobIT.run("predict", "--model", run.toString(), "--data", dir.resolve("data/test").toString(),
                "--out", dir.resolve("taken").toString());
        assertThat(taken.exit()).isEqualTo(2);
        assertThat(taken.err()).contains(dir.resolve("taken") + " exists; choose another --out or add --overwrite");

        TrainJobIT.Run topK = TrainJobIT.run("evaluate", "--model", run.toString(), "--data", dir.resolve("data/test").toString(), "--top-k", "0");
        assertThat(topK.exit()).isEqualTo(2);
        assertThat(topK.err()).contains("--top-k").contains("at least 1, found 0");

        TrainJobIT.Run missingOption = TrainJobIT.run("predict", "--model", run.toString());
        assertThat(missingOption.exit()).isEqualTo(2);
        assertThat(missingOption.err()).contains("Missing required options").contains("--data").contains("--out");
    }
}
