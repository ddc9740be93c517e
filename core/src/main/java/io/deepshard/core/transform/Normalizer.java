package io.deepshard.core.transform;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Maps 8-bit pixels to network inputs: {@code x = (pixel/255 - mean[c]) / std[c]} per channel. Fitted on the training
 * split only ({@link #fit}), saved with the model and applied identically at training, evaluation and prediction.
 * {@code scale} is mean 0 / std 1 ({@code pixel/255}); {@code none} feeds raw 0..255 values.
 */
public final class Normalizer implements Serializable {
    private final String kind;
    private final float[] mean;
    private final float[] std;
    private transient float[][] table; // per channel: the 256 possible outputs

    @JsonCreator
    public Normalizer(@JsonProperty("kind") String kind, @JsonProperty("mean") float[] mean, @JsonProperty("std") float[] std) {
        if (mean.length != std.length || mean.length == 0) throw new IllegalArgumentException("mean/std lengths differ");
        for (float s : std) if (!(s > 0)) throw new IllegalArgumentException("std must be > 0, found " + Arrays.toString(std));
        this.kind = kind;
        this.mean = mean.clone();
        this.std = std.clone();
    }

    /** The normalizer of kind {@code standardize|scale|none} for data whose statistics are {@code stats}. */
    public static Normalizer fit(String kind, ChannelStats stats) {
        int c = stats.channels();
        float[] m = new float[c], s = new float[c];
        for (int i = 0; i < c; i++) {
            switch (kind) {
                case "standardize" -> {
                    m[i] = (float) stats.mean(i);
                    double sd = stats.std(i);
                    s[i] = (float) (sd > 1e-6 ? sd : 1.0); // a constant channel is centred, not blown up
                }
                case "scale" -> { m[i] = 0f; s[i] = 1f; }
                case "none" -> { m[i] = 0f; s[i] = 1f / 255f; }
                case "minmax" -> { return minMax(stats); }
                default -> throw new IllegalArgumentException("unknown normalization " + kind);
            }
        }
        return new Normalizer(kind, m, s);
    }

    /** Min-max: maps each channel's observed [min, max] to [0, 1]. */
    public static Normalizer minMax(ChannelStats stats) {
        int c = stats.channels();
        float[] m = new float[c], s = new float[c];
        for (int i = 0; i < c; i++) {
            double range = stats.max(i) - stats.min(i);
            m[i] = (float) stats.min(i);
            s[i] = (float) (range > 1e-9 ? range : 1.0);
        }
        return new Normalizer("minmax", m, s);
    }

    /** A normalizer that needs no statistics ({@code scale} or {@code none}). */
    public static Normalizer fixed(String kind, int channels) {
        if (kind.equals("standardize") || kind.equals("minmax")) throw new IllegalArgumentException(kind + " must be fitted");
        return fit(kind, new ChannelStats(channels));
    }

    @JsonProperty public String kind() { return kind; }
    @JsonProperty public float[] mean() { return mean.clone(); }
    @JsonProperty public float[] std() { return std.clone(); }
    public int channels() { return mean.length; }

    /** Normalizes {@code count} images of {@code exampleSize} bytes (CHW) from {@code src} into {@code dst}. */
    public void apply(byte[] src, int srcOff, float[] dst, int dstOff, int count, int exampleSize) {
        float[][] t = table();
        int plane = exampleSize / mean.length;
        for (int e = 0; e < count; e++) {
            for (int c = 0; c < t.length; c++) {
                float[] lut = t[c];
                int s = srcOff + e * exampleSize + c * plane, d = dstOff + e * exampleSize + c * plane;
                for (int i = 0; i < plane; i++) dst[d + i] = lut[src[s + i] & 0xFF];
            }
        }
    }

    /** Normalizes float values (on the scale of pixel/255): {@code (v - mean[c]) / std[c]}. */
    public void apply(float[] src, int srcOff, float[] dst, int dstOff, int count, int exampleSize) {
        int plane = exampleSize / mean.length;
        for (int e = 0; e < count; e++) {
            for (int c = 0; c < mean.length; c++) {
                float m = kind.equals("none") ? 0f : mean[c], sd = kind.equals("none") ? 1f : std[c];
                int s = srcOff + e * exampleSize + c * plane, d = dstOff + e * exampleSize + c * plane;
                for (int i = 0; i < plane; i++) dst[d + i] = (src[s + i] - m) / sd;
            }
        }
    }

    /** The smallest network input channel {@code c} receives: pixel 0's value. */
    public float min(int c) { return (float) ((0 - mean[c]) / std[c]); }

    /** The largest network input channel {@code c} receives: pixel 255's value. */
    public float max(int c) { return (float) ((1.0 - mean[c]) / std[c]); }

    /**
     * The inverse of {@link #apply(byte[], int, float[], int, int, int)}: network inputs back to 8-bit pixels (CHW),
     * {@code pixel = 255 * (x * std[c] + mean[c])}, rounded and clipped to 0..255. Used to show an input that was
     * optimized in the network's input space as an image.
     */
    public void toPixels(float[] src, int srcOff, byte[] dst, int dstOff, int count, int exampleSize) {
        int plane = exampleSize / mean.length;
        for (int e = 0; e < count; e++) {
            for (int c = 0; c < mean.length; c++) {
                int s = srcOff + e * exampleSize + c * plane, d = dstOff + e * exampleSize + c * plane;
                for (int i = 0; i < plane; i++) {
                    long v = Math.round(255.0 * (src[s + i] * (double) std[c] + mean[c]));
                    dst[d + i] = (byte) Math.max(0, Math.min(255, v));
                }
            }
        }
    }

    private float[][] table() {
        float[][] t = table;
        if (t == null) {
            t = new float[mean.length][256];
            for (int c = 0; c < mean.length; c++) {
                for (int v = 0; v < 256; v++) t[c][v] = (float) ((v / 255.0 - mean[c]) / std[c]);
            }
            table = t;
        }
        return t;
    }

    @Override public boolean equals(Object o) {
        return o instanceof Normalizer n && kind.equals(n.kind) && Arrays.equals(mean, n.mean) && Arrays.equals(std, n.std);
    }

    @Override public int hashCode() { return kind.hashCode() * 31 + Arrays.hashCode(mean); }

    @Override public String toString() { return kind + " mean=" + Arrays.toString(mean) + " std=" + Arrays.toString(std); }
}
