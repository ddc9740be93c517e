package io.deepshard.core.config;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;

/**
 * {@code data}: where the training and test images are and what they look like.
 *
 * @param train         a built-in name ({@code fashion-mnist:train}, {@code mnist:train}, ...) or a Hadoop URI of an
 *                      IDX images file (its labels file is found by the MNIST naming rule) or {@code {images, labels}}
 * @param test          the same for the test split
 * @param inputShape    [channels, height, width]
 * @param numClasses    number of classes
 * @param normalization {@code standardize} (per-channel mean/std fitted on the training split), {@code scale}
 *                      (pixels / 255) or {@code none}
 */
public record DataConfig(DataSource train, DataSource test, int[] inputShape, int numClasses, String normalization)
        implements Serializable {
    public static final List<String> NORMALIZATIONS = List.of("standardize", "scale", "none");

    static DataConfig from(Section s) {
        DataSource train = DataSource.from(s, "train", true);
        DataSource test = DataSource.from(s, "test", false);
        int[] shape = s.intList("inputShape", null, 3, v -> v > 0 && v <= 65_536, "[channels, height, width] of positive integers");
        int classes = s.intValue("numClasses", null, v -> v >= 2, ">= 2");
        if (shape != null && shape[0] != 1 && shape[0] != 3) {
            s.errors().add(s.keyPath("inputShape"), "channels must be 1 or 3, found " + shape[0]);
        }
        String norm = s.choice("normalization", "standardize", NORMALIZATIONS);
        s.finish();
        return new DataConfig(train, test, shape, classes, norm);
    }

    public int channels() { return inputShape[0]; }
    public int height() { return inputShape[1]; }
    public int width() { return inputShape[2]; }
    public int exampleSize() { return inputShape[0] * inputShape[1] * inputShape[2]; }

    @Override public boolean equals(Object o) {
        return o instanceof DataConfig d && train.equals(d.train) && java.util.Objects.equals(test, d.test)
                && Arrays.equals(inputShape, d.inputShape) && numClasses == d.numClasses && normalization.equals(d.normalization);
    }
    @Override public int hashCode() { return java.util.Objects.hash(train, test, Arrays.hashCode(inputShape), numClasses, normalization); }
    @Override public String toString() {
        return "DataConfig[train=" + train + ", test=" + test + ", inputShape=" + Arrays.toString(inputShape)
                + ", numClasses=" + numClasses + ", normalization=" + normalization + "]";
    }
}
