package io.deepshard.core.train;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** IoU, Dice, pixel accuracy and loss from a per-pixel confusion matrix, on hand-made tiny masks. */
class SegmentationMetricsTest {

    /** Probabilities [n, k, plane] putting {@code conf} on the predicted class and the rest evenly on the others. */
    static float[] probs(int[] predicted, int k, int plane, float conf) {
        int n = predicted.length / plane;
        float[] p = new float[n * k * plane];
        for (int i = 0; i < n; i++) {
            for (int px = 0; px < plane; px++) {
                for (int c = 0; c < k; c++) {
                    p[i * k * plane + c * plane + px] = c == predicted[i * plane + px] ? conf : (1 - conf) / (k - 1);
                }
            }
        }
        return p;
    }

    @Test
    void iouDiceAndAccuracyOfTwoTinyMasks() {
        // 4 classes; class 3 appears in neither truth nor prediction and must not count in the means.
        // image 1 (2x3): truth 0 0 1 / 1 2 2   predicted 0 1 1 / 1 2 0
        // image 2 (2x3): truth 0 0 0 / 2 2 2   predicted 0 0 2 / 2 2 2
        int[] truth = {0, 0, 1, 1, 2, 2, 0, 0, 0, 2, 2, 2};
        int[] pred = {0, 1, 1, 1, 2, 0, 0, 0, 2, 2, 2, 2};
        EvalStats s = new EvalStats(4, true).addPixels(probs(pred, 4, 6, 0.7f), truth, 6);
        // class 0: truth 5 pixels, predicted 4, TP 3  -> IoU 3 / (5 + 4 - 3) = 0.5,  Dice 6 / 9
        // class 1: truth 2, predicted 3, TP 2          -> IoU 2 / 3,                Dice 4 / 5
        // class 2: truth 5, predicted 5, TP 4          -> IoU 4 / 6,                Dice 8 / 10
        assertThat(s.iou(0)).isCloseTo(0.5, within(1e-12));
        assertThat(s.iou(1)).isCloseTo(2.0 / 3, within(1e-12));
        assertThat(s.iou(2)).isCloseTo(4.0 / 6, within(1e-12));
        assertThat(s.iou(3)).isNaN();
        assertThat(s.meanIoU()).isCloseTo((0.5 + 2.0 / 3 + 4.0 / 6) / 3, within(1e-12));
        assertThat(s.dice(0)).isCloseTo(6.0 / 9, within(1e-12));
        assertThat(s.dice(1)).isCloseTo(0.8, within(1e-12));
        assertThat(s.meanDice()).isCloseTo((6.0 / 9 + 0.8 + 0.8) / 3, within(1e-12));
        assertThat(s.accuracy()).isCloseTo(9.0 / 12, within(1e-12));
        assertThat(s.count()).isEqualTo(12);
        assertThat(s.loss()).isCloseTo(-Math.log(0.7) * 9 / 12 - Math.log(0.1) * 3 / 12, within(1e-6));
        assertThat(s.confusion()[0]).containsExactly(3, 1, 1, 0);
        assertThat(s.isPerPixel()).isTrue();
    }

    @Test
    void aClassOnlyPredictedCountsWithIoUZeroAndMergingEqualsOnePass() {
        int[] truth = {0, 0, 0, 0}, pred = {0, 0, 1, 1};
        EvalStats a = new EvalStats(3, true).addPixels(probs(new int[] {0, 0}, 3, 2, 0.9f), new int[] {0, 0}, 2);
        EvalStats b = new EvalStats(3, true).addPixels(probs(new int[] {1, 1}, 3, 2, 0.9f), new int[] {0, 0}, 2);
        EvalStats all = new EvalStats(3, true).addPixels(probs(pred, 3, 2, 0.9f), truth, 2);
        EvalStats merged = new EvalStats(3).merge(a).merge(b).merge(new EvalStats(3)); // empty statistics of either kind merge
        assertThat(merged.confusion()).isEqualTo(all.confusion());
        assertThat(merged.loss()).isCloseTo(all.loss(), within(1e-12));
        assertThat(merged.isPerPixel()).isTrue();
        assertThat(all.iou(0)).isCloseTo(0.5, within(1e-12));
        assertThat(all.iou(1)).isEqualTo(0.0); // predicted, never true: a false alarm, counted in the mean
        assertThat(all.iou(2)).isNaN();
        assertThat(all.meanIoU()).isCloseTo(0.25, within(1e-12));
    }

    @Test
    void predictingAllBackgroundScoresOnlyTheBackground() {
        int[] truth = {0, 0, 1, 2}, allBackground = {0, 0, 0, 0};
        EvalStats s = new EvalStats(3, true).addPixels(probs(allBackground, 3, 4, 0.5f), truth, 4);
        assertThat(s.accuracy()).isEqualTo(0.5);
        assertThat(s.meanIoU()).isCloseTo(0.5 / 3, within(1e-12)); // background 2/4, circles and squares 0
    }
}
