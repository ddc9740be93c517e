package io.deepshard.core.config;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The tune section: grids (log and linear ranges, lists), seeded random draws, and the errors of a bad space. */
class TuneSpecTest {
    static TuneSpec tune(String section) {
        return ConfigLoader.parse("""
                model: mlp
                data: {train: fashion-mnist:train, validationFraction: 0.1, inputShape: [1, 28, 28], numClasses: 10}
                tune: %s
                """.formatted(section), "t", List.of()).tune();
    }

    @Test
    void gridExpandsRangesAndListsFirstKeySlowest() {
        TuneSpec t = tune("{space: {training.optimizer.learningRate: {min: 0.0001, max: 1, scale: log, points: 5}, "
                + "training.batchSize: [32, 64], model.dropout: {min: 0, max: 0.5, points: 3}}}");
        assertThat(t.space().get("training.optimizer.learningRate").gridValues()).containsExactly("0.0001", "0.001", "0.01", "0.1", "1");
        assertThat(t.space().get("model.dropout").gridValues()).containsExactly("0", "0.25", "0.5");
        List<Map<String, String>> trials = t.expand(42);
        assertThat(trials).hasSize(5 * 2 * 3);
        assertThat(trials.get(0)).containsExactly(Map.entry("training.optimizer.learningRate", "0.0001"),
                Map.entry("training.batchSize", "32"), Map.entry("model.dropout", "0"));
        assertThat(trials.get(1).get("model.dropout")).isEqualTo("0.25");
        assertThat(trials.get(29)).containsEntry("training.optimizer.learningRate", "1").containsEntry("training.batchSize", "64");
        assertThat(tune("{space: {training.optimizer.learningRate: [0.00001, 0.05, 20]}}").expand(1))
                .extracting(m -> m.get("training.optimizer.learningRate")).containsExactly("0.00001", "0.05", "20");
    }

    @Test
    void randomSearchIsSeededAndStaysInRange() {
        String s = "{method: random, trials: 50, seed: 9, space: {training.optimizer.learningRate: {min: 0.0001, max: 1, scale: log}, "
                + "training.optimizer.type: [sgd, adam]}}";
        List<Map<String, String>> a = tune(s).expand(1), b = tune(s).expand(2);
        assertThat(a).hasSize(50).isEqualTo(b);   // the tune seed, not the training seed
        assertThat(a).allSatisfy(m -> assertThat(Double.parseDouble(m.get("training.optimizer.learningRate"))).isBetween(0.0001, 1.0));
        // log-uniform: about a quarter of the draws in each decade
        long low = a.stream().filter(m -> Double.parseDouble(m.get("training.optimizer.learningRate")) < 0.01).count();
        assertThat(low).isBetween(15L, 35L);
        assertThat(a).extracting(m -> m.get("training.optimizer.type")).contains("sgd", "adam");
        assertThat(tune(s.replace("seed: 9", "seed: 10")).expand(1)).isNotEqualTo(a);
    }

    @Test
    void badSpacesAreReportedWithTheirKeys() {
        assertThatThrownBy(() -> tune("{space: {}}")).hasMessageContaining("tune.space: must map config keys");
        assertThatThrownBy(() -> tune("{method: random, space: {training.seed: [1, 2]}}")).hasMessageContaining("tune.trials: is required");
        assertThatThrownBy(() -> tune("{space: {training.optimizer.learningRate: {min: 0, max: 1, scale: log}}}"))
                .hasMessageContaining("must be > 0 on a log scale, found 0");
        assertThatThrownBy(() -> tune("{space: {output: [a, b]}}")).hasMessageContaining("tune.space.output: cannot be searched");
        assertThatThrownBy(() -> tune("{space: {training.seed: {min: 1, max: 1000000, points: 1000}, training.batchSize: [1, 2]}}"))
                .hasMessageContaining("2000 combinations");
    }
}
