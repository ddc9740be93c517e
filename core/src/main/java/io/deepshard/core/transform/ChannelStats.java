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
    private long values; // per channel
    private double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;

    public ChannelStats(int channels) {
        this.channels = channels;
        this.sum = new double[channels];
        this.sumSq = new double[channels];
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
            min = Math.min(min, lo / 255.0);
            max = Math.max(max, hi / 255.0);
        }
        values += plane;
        return this;
    }

    public ChannelStats merge(ChannelStats o) {
        if (o.channels != channels) throw new IllegalArgumentException("channel count " + o.channels + " != " + channels);
        for (int c = 0; c < channels; c++) { sum[c] += o.sum[c]; sumSq[c] += o.sumSq[c]; }
        values += o.values;
        min = Math.min(min, o.min);
        max = Math.max(max, o.max);
        return this;
    }

    public long valuesPerChannel() { return values; }

    public double mean(int c) { return sum[c] / values; }

    /** Population standard deviation. */
    public double std(int c) {
        double m = mean(c);
        return Math.sqrt(Math.max(0, sumSq[c] / values - m * m));
    }

    public double min() { return min; }

    public double max() { return max; }

    public int channels() { return channels; }
}
