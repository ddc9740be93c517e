package io.deepshard.core.train;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Accuracy, top-k, per-class precision/recall/F1 and their JSON form, on hand-made probabilities. */
class ClassificationMetricsTest {
    // 3 classes; rows are probabilities, ranked so that each row's order is clear
    static final float[][] PROBS = {
            {0.7f, 0.2f, 0.1f},   // truth 0: right
            {0.5f, 0.3f, 0.2f},   // truth 1: predicted 0, truth 2nd
            {0.2f, 0.5f, 0.3f},   // truth 1: right
            {0.6f, 0.3f, 0.1f},   // truth 2: predicted 0, truth 3rd
            {0.1f, 0.2f, 0.7f},   // truth 2: right
    };
    static final int[] TRUTH = {0, 1, 1, 2, 2};

    @Test
    void accuracyTopKAndPerClassPrecisionRecallF1() {
        EvalStats s = new EvalStats(3, false, 2).add(PROBS, TRUTH);
        assertThat(s.accuracy()).isCloseTo(3.0 / 5, within(1e-12));
        // top-2: rows 0,1,2,4 have the truth in the two most probable; row 3 does not
        assertThat(s.topK()).isEqualTo(2);
        assertThat(s.topKAccuracy()).isCloseTo(4.0 / 5, within(1e-12));
        // class 0: predicted 3 times (rows 0,1,3), right once -> precision 1/3; truth once, found -> recall 1
        assertThat(s.precision(0)).isCloseTo(1.0 / 3, within(1e-12));
        assertThat(s.recall(0)).isCloseTo(1.0, within(1e-12));
        assertThat(s.f1(0)).isCloseTo(2 * (1.0 / 3) * 1 / (1.0 / 3 + 1), within(1e-12));
        // class 1: predicted once (row 2), right; truth twice -> P 1, R 1/2
        assertThat(s.precision(1)).isCloseTo(1.0, within(1e-12));
        assertThat(s.recall(1)).isCloseTo(0.5, within(1e-12));
        assertThat(s.f1(1)).isCloseTo(2.0 / 3, within(1e-12));
        assertThat(s.support(2)).isEqualTo(2);
        assertThat(s.macroF1()).isCloseTo((0.5 + 2.0 / 3 + 2.0 / 3) / 3, within(1e-12));
        // top-1 equals accuracy; top-k with k >= classes is 1
        assertThat(new EvalStats(3, false, 1).add(PROBS, TRUTH).topKAccuracy()).isEqualTo(s.accuracy());
        EvalStats all = new EvalStats(3, false, 10).add(PROBS, TRUTH);
        assertThat(all.topK()).isEqualTo(3);
        assertThat(all.topKAccuracy()).isEqualTo(1.0);
    }

    @Test
    void mergingShardsEqualsOnePass() {
        EvalStats a = new EvalStats(3, false, 2).add(new float[][] {PROBS[0], PROBS[1]}, new int[] {0, 1});
        EvalStats b = new EvalStats(3, false, 2).add(new float[][] {PROBS[2], PROBS[3], PROBS[4]}, new int[] {1, 2, 2});
        EvalStats merged = new EvalStats(3).merge(a).merge(b); // the empty start adopts top-2
        EvalStats one = new EvalStats(3, false, 2).add(PROBS, TRUTH);
        assertThat(merged.toJson(List.of("a", "b", "c"))).usingRecursiveComparison().isEqualTo(one.toJson(List.of("a", "b", "c")));
        assertThatThrownBy(() -> new EvalStats(3, false, 1).add(PROBS, TRUTH).merge(one))
                .hasMessageContaining("top-2").hasMessageContaining("top-1");
    }

    @Test
    @SuppressWarnings("unchecked")
    void jsonNamesClassesAndLeavesUndefinedValuesNull() {
        // class 2 is never predicted: its precision is undefined
        EvalStats s = new EvalStats(3, false, 5).add(new float[][] {{0.9f, 0.05f, 0.05f}, {0.2f, 0.7f, 0.1f}}, new int[] {0, 2});
        Map<String, Object> j = s.toJson(List.of("cat", "dog", "fox"));
        assertThat(j).containsEntry("kind", "classification").containsEntry("examples", 2L).containsKey("top3Accuracy");
        Map<String, Map<String, Object>> perClass = (Map<String, Map<String, Object>>) j.get("perClass");
        assertThat(perClass).containsOnlyKeys("cat", "dog", "fox");
        assertThat(perClass.get("fox")).containsEntry("precision", null).containsEntry("recall", 0.0).containsEntry("support", 1L);
        assertThat(perClass.get("dog")).containsEntry("precision", 0.0).containsEntry("recall", null);
        assertThat((long[][]) j.get("confusionMatrix")).isEqualTo(new long[][] {{1, 0, 0}, {0, 0, 0}, {0, 1, 0}});
        assertThatThrownBy(() -> new EvalStats(3, false, 0)).hasMessageContaining("at least 1, got 0");
    }
}
