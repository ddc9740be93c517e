package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code tune} on a task where one learning rate clearly wins: 1e-5 barely moves in six epochs, 5 blows up, 0.05
 * learns (SGD). Three trials, two at a time in Spark scheduler pools, ranked on the validation split; the winner's config is
 * written out and trains as it is; the report renders; a resumed search trains only the missing trial.
 */
class TuneIT {
    @TempDir static Path dir;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void data() throws Exception {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        JobFixtures.tintedColours(dir.resolve("data"), 60, 20, 5);
    }

    @AfterAll
    static void clear() { System.clearProperty("spark.master"); }

    static Path config(String name, String tune, String extraData) throws Exception {
        Path c = dir.resolve(name + ".yaml");
        Files.writeString(c, """
                model: {name: mlp, hidden: [32]}
                data: {train: %s, test: %s, imageSize: [8, 8], channels: 3, numClasses: 3%s}
                training: {workers: 2, batchSize: 8, averagingFrequency: 2, epochs: 6, seed: 3, optimizer: {type: sgd, learningRate: 0.01},
                           earlyStopping: {monitor: validation-accuracy, patience: 3}}
                tune: %s
                output: %s
                """.formatted(dir.resolve("data/train"), dir.resolve("data/test"), extraData, tune, dir.resolve(name)));
        return c;
    }

    @Test
    void picksTheLearningRateThatClearlyWinsAndResumes() throws Exception {
        Path c = config("lr", "{parallel: 2, space: {training.optimizer.learningRate: [0.00001, 0.05, 5]}}", ", validationFraction: 0.25");
        TrainJobIT.Run r = TrainJobIT.run("tune", c.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(0);
        assertThat(r.out()).contains("grid search over training.optimizer.learningRate: 3 trial(s), 2 at a time", "[trial 1] ", "[trial 3] ",
                "best: trial 2 {training.optimizer.learningRate=0.05}");

        Path tuneDir = dir.resolve("lr");
        JsonNode tune = JSON.readTree(tuneDir.resolve("tune.json").toFile());
        assertThat(tune.get("bestTrial").asInt()).isEqualTo(2);
        JsonNode trials = tune.get("trials");
        Map<Integer, JsonNode> byTrial = new HashMap<>();
        trials.forEach(t -> byTrial.put(t.get("trial").asInt(), t));
        assertThat(trials.get(0).get("trial").asInt()).isEqualTo(2);
        double best = byTrial.get(2).get("validationAccuracy").asDouble();
        assertThat(best).isGreaterThan(0.7);
        assertThat(byTrial.get(1).get("validationAccuracy").asDouble()).isLessThan(best - 0.2);
        JsonNode big = byTrial.get(3);
        assertThat(big.get("status").asText().equals("diverged") || big.get("validationAccuracy").asDouble() < best - 0.2).as(big.toString()).isTrue();
        // each trial is a complete run directory, its metrics those of tune.json
        JsonNode m2 = JSON.readTree(tuneDir.resolve("trial-002/metrics.json").toFile());
        assertThat(m2.get("validationAccuracy").asDouble()).isEqualTo(best);
        assertThat(tuneDir.resolve("trial-002/model/network.zip")).exists();
        // two at a time: trials 1 and 2 ran concurrently
        Instant s1 = Instant.parse(byTrial.get(1).get("startedAt").asText()), e1 = Instant.parse(byTrial.get(1).get("finishedAt").asText());
        Instant s2 = Instant.parse(byTrial.get(2).get("startedAt").asText()), e2 = Instant.parse(byTrial.get(2).get("finishedAt").asText());
        assertThat(s1.isBefore(e2) && s2.isBefore(e1)).as("trials 1 and 2 overlap").isTrue();

        // the best config trains as it is: no tune section, the default output, the winning learning rate
        String bestYaml = Files.readString(tuneDir.resolve("best-config.yaml"));
        DeepshardConfig bc = ConfigLoader.parse(bestYaml, "best", List.of());
        assertThat(bc.tune()).isNull();
        assertThat(bc.training().optimizer().learningRate()).isEqualTo(0.05);
        assertThat(bc.output()).isEqualTo("runs/{model}-{timestamp}");

        Path profile = dir.resolve("chromium");
        String dom = Chromium.dumpDom(tuneDir.resolve("report.html"), profile);
        assertThat(dom).contains("id=\"trials-chart\"", "id=\"trials\"", "training.optimizer.learningRate", "0.05");
        assertThat(Chromium.distinctColours(Chromium.screenshot(tuneDir.resolve("report.html"), dir.resolve("tune.png"), profile, 1000, 800)))
                .isGreaterThan(20);

        // an interrupted search: trial 2 lost its model, tune.json not written yet
        FileUtils.deleteDirectory(tuneDir.resolve("trial-002/model").toFile());
        Files.delete(tuneDir.resolve("tune.json"));
        TrainJobIT.Run again = TrainJobIT.run("tune", c.toString());
        assertThat(again.exit()).isEqualTo(2);
        assertThat(again.err()).contains("already holds a search", "--resume");
        TrainJobIT.Run resumed = TrainJobIT.run("tune", c.toString(), "--resume", tuneDir.toString());
        assertThat(resumed.exit()).as(resumed.err()).isEqualTo(0);
        assertThat(resumed.out()).contains("trial 1 {training.optimizer.learningRate=0.00001}: trained earlier", "[trial 2] start")
                .doesNotContain("[trial 1] start");
        JsonNode tune2 = JSON.readTree(tuneDir.resolve("tune.json").toFile());
        assertThat(tune2.get("bestTrial").asInt()).isEqualTo(2);
        assertThat(tune2.get("trials").get(0).get("validationAccuracy").asDouble()).isEqualTo(best);

        TrainJobIT.Run changed = TrainJobIT.run("tune", c.toString(), "--resume", tuneDir.toString(), "--set", "training.batchSize=16");
        assertThat(changed.exit()).isEqualTo(2);
        assertThat(changed.err()).contains("was started with other trials");
    }

    @Test
    void badSearchesFailBeforeTraining() throws Exception {
        TrainJobIT.Run r = TrainJobIT.run("tune", config("noval", "{space: {training.optimizer.learningRate: [0.1, 0.2]}}", "").toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("data.validationFraction");

        r = TrainJobIT.run("tune", config("badkey", "{space: {training.optimiser.learningRate: [0.1, 0.2]}}", ", validationFraction: 0.2").toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("trial 1", "training.optimiser: unknown key");

        r = TrainJobIT.run("tune", config("badvalue", "{space: {training.batchSize: [8, -1]}}", ", validationFraction: 0.2").toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("trial 2", "training.batchSize", "-1");

        r = TrainJobIT.run("train", config("viatrain", "{space: {training.batchSize: [8]}}", ", validationFraction: 0.2").toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("deepshard tune");
        for (String d : new String[] {"noval", "badkey", "badvalue", "viatrain"}) assertThat(dir.resolve(d)).doesNotExist();
    }
}
