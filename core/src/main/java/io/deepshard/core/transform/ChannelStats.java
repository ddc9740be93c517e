package io.deepshard.core.transform;

import java.io.Serializable;

/**
 * Per-channel sums of pixel values (scaled to [0, 1]) and of their squares, in double precision: the mergeable
 * accumulator of a distributed mean/std fit ({@code treeAggregate(new ChannelStats(c), add, merge)}).
 */
public final class ChannelStats implements Serializable {
    private final int channels;
    private final double[] sum;
    private final double[] sumSq;
    private final double[] cross;   // sum of x_a * x_b over pixels, a < b (for the colour covariance of PCA noise)
    private long values; // per channel
    private final double[] min;
    private final double[] max;

    public ChannelStats(int channels) {
        this.channels = channels;
        this.sum = new double[channels];
        this.sumSq = new double[channels];
        this.cross = new double[channels * channels];
        this.min = new double[channels];
        this.max = new double[channels];
        java.util.Arrays.fill(min, Double.POSITIVE_INFINITY);
        java.util.Arrays.fill(max, Double.NEGATIVE_INFINITY);
    }

    /** Adds one image of unsigned bytes in CHW order. */
    public ChannelStats add(byte[] pixels) {
        int plane = pixels.length / channels;
        for (int c = 0; c < channels; c++) {
            long s = 0, sq = 0;
            int lo = 255, hi = 0;
            for (int i = c * plane, end = i + plane; i < end; i++) {
                int v = pixels[i] & 0xFF;
                s += v;
                sq += (long) v * v;
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
            sum[c] += s / 255.0;
            sumSq[c] += sq / (255.0 * 255.0);
            min[c] = Math.min(min[c], lo / 255.0);
            max[c] = Math.max(max[c], hi / 255.0);
        }
        for (int a = 0; a < channels; a++) {
            for (int b = a + 1; b < channels; b++) {
                long s = 0;
                for (int i = 0; i < plane; i++) s += (long) (pixels[a * plane + i] & 0xFF) * (pixels[b * plane + i] & 0xFF);
                cross[a * channels + b] += s / (255.0 * 255.0);
            }
        }
        values += plane;
        return this;
    }

    /** Adds one record: its bytes (as pixel/255) or its float values (already on that scale). */
    public ChannelStats add(io.deepshard.core.data.ImageRecord r) {
        return r.isFloat() ? addFloats(r.values()) : add(r.pixels());
    }

    /** Adds one image of float values in CHW order (on the scale of pixel/255). */
    public ChannelStats addFloats(float[] v) {
        int plane = v.length / channels;
        for (int c = 0; c < channels; c++) {
            double s = 0, sq = 0, lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
            for (int i = c * plane, end = i + plane; i < end; i++) {
                s += v[i];
                sq += (double) v[i] * v[i];
                lo = Math.min(lo, v[i]);
                hi = Math.max(hi, v[i]);
            }
            sum[c] += s;
            sumSq[c] += sq;
            min[c] = Math.min(min[c], lo);
            max[c] = Math.max(max[c], hi);
        }
        for (int a = 0; a < channels; a++) {
            for (int b = a + 1; b < channels; b++) {
                double s = 0;
                for (int i = 0; i < plane; i++) s += (double) v[a * plane + i] * v[b * plane + i];
                cross[a * channels + b] += s;
            }
        }
        values += plane;
        return this;
    }

    public ChannelStats merge(ChannelStats o) {
        if (o.channels != channels) throw new IllegalArgumentException("channel count " + o.channels + " != " + channels);
        for (int c = 0; c < channels; c++) { sum[c] += o.sum[c]; sumSq[c] += o.sumSq[c]; }
        for (int i = 0; i < cross.length; i++) cross[i] += o.cross[i];
        for (int c = 0; c < channels; c++) { min[c] = Math.min(min[c], o.min[c]); max[c] = Math.max(max[c], o.max[c]); }
        values += o.values;
        return this;
    }

    public long valuesPerChannel() { return values; }

    public double mean(int c) { return sum[c] / values; }

    /** Population standard deviation. */
    public double std(int c) {
        double m = mean(c);
        return Math.sqrt(Math.max(0, sumSq[c] / values - m * m));
    }

    /** Population covariance of channels a and b (pixel values in [0, 1]). */
    public double covariance(int a, int b) {
        if (a == b) return std(a) * std(a);
        int lo = Math.min(a, b), hi = Math.max(a, b);
        return cross[lo * channels + hi] / values - mean(a) * mean(b);
    }

    /** Smallest pixel value of channel c, scaled to [0, 1]. */
    public double min(int c) { return min[c]; }

    public double max(int c) { return max[c]; }

    public int channels() { return channels; }
}
