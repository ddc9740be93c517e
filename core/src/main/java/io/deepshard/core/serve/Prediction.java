package io.deepshard.core.serve;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a model says about one image. For a classifier: the most probable class ({@code label}, its {@code index} and
 * its probability as {@code confidence}) and every class's softmax probability. For a segmentation model: {@code mask}
 * holds the most probable class of every pixel ({@code mask[y][x]}, at the model's input size), {@code probabilities}
 * each class's share of the pixels, and {@code label} the class covering most pixels — the same numbers the
 * {@code predict} job writes.
 *
 * @param label         the predicted class's name
 * @param index         the predicted class's index (into the model's labels)
 * @param confidence    the predicted class's probability (segmentation: its pixel share)
 * @param probabilities by class name, in class order (segmentation: pixel shares)
 * @param mask          segmentation only: class index per pixel, {@code [height][width]}; null for a classifier
 */
public record Prediction(String label, int index, float confidence, Map<String, Float> probabilities, int[][] mask) {

    /** The prediction for {@code probs} over {@code labels} (class order); the first of equal maxima wins, as in {@code predict}. */
    static Prediction of(List<String> labels, float[] probs, int[][] mask) {
        int best = 0;
        for (int k = 1; k < probs.length; k++) if (probs[k] > probs[best]) best = k;
        var byName = new LinkedHashMap<String, Float>();
        for (int k = 0; k < probs.length; k++) byName.put(labels.get(k), probs[k]);
        return new Prediction(labels.get(best), best, probs[best], Collections.unmodifiableMap(byName), mask);
    }

    public boolean isSegmentation() { return mask != null; }

    /** The probabilities (segmentation: pixel shares) by class index. */
    public float[] probabilityArray() {
        float[] out = new float[probabilities.size()];
        int k = 0;
        for (float p : probabilities.values()) out[k++] = p;
        return out;
    }

    /** {@code square (index 1, 0.9731)}. */
    @Override public String toString() {
        return String.format(Locale.ROOT, "%s (index %d, %.4f%s)", label, index, confidence,
                mask == null ? "" : " of the pixels, mask " + mask.length + "x" + (mask.length == 0 ? 0 : mask[0].length));
    }
}
