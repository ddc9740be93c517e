package io.deepshard.core.train;

import java.io.Serializable;

/**
 * What a round returns, as sums so that results merge associatively in a tree: parameters and updater state each
 * multiplied by the examples a worker trained on, those example counts, and the summed mini-batch losses.
 * A worker with no examples in a round contributes nothing (the zero element).
 */
public final class RoundResult implements Serializable {
    private float[] weightedParams;   // null while empty
    private float[] weightedUpdater;
    private long examples;
    private double lossSum;           // sum over mini-batches of (mean batch loss × batch size)
    private int workers;              // workers that contributed examples

    public static RoundResult empty() { return new RoundResult(); }

    public static RoundResult of(NetworkState trained, long examples, double lossSum) {
        RoundResult r = new RoundResult();
        if (examples == 0) return r;
        r.weightedParams = scaled(trained.params(), examples);
        r.weightedUpdater = scaled(trained.updaterState(), examples);
        r.examples = examples;
        r.lossSum = lossSum;
        r.workers = 1;
        return r;
    }

    /** Adds {@code other} into this result (and returns this). */
    public RoundResult merge(RoundResult other) {
        if (other.examples == 0) return this;
        if (examples == 0) {
            weightedParams = other.weightedParams.clone();
            weightedUpdater = other.weightedUpdater.clone();
        } else {
            addInto(weightedParams, other.weightedParams);
            addInto(weightedUpdater, other.weightedUpdater);
        }
        examples += other.examples;
        lossSum += other.lossSum;
        workers += other.workers;
        return this;
    }

    /** The example-weighted average, with the given counters; {@code fallback} when no worker had examples. */
    public NetworkState average(NetworkState fallback, long iteration, int epoch) {
        if (examples == 0) return fallback.withCounters(iteration, epoch);
        return new NetworkState(divided(weightedParams, examples), divided(weightedUpdater, examples), iteration, epoch);
    }

    public long examples() { return examples; }
    public double lossSum() { return lossSum; }
    public int workers() { return workers; }
    public double meanLoss() { return examples == 0 ? Double.NaN : lossSum / examples; }

    private static float[] scaled(float[] a, long w) {
        float[] out = new float[a.length];
        float f = (float) w;
        for (int i = 0; i < a.length; i++) out[i] = a[i] * f;
        return out;
    }

    private static float[] divided(float[] a, long w) {
        float[] out = new float[a.length];
        float f = (float) w;
        for (int i = 0; i < a.length; i++) out[i] = a[i] / f;
        return out;
    }

    private static void addInto(float[] acc, float[] x) {
        if (acc.length != x.length) throw new IllegalArgumentException("length " + x.length + " != " + acc.length);
        for (int i = 0; i < acc.length; i++) acc[i] += x[i];
    }
}
