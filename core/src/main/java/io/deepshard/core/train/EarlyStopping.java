package io.deepshard.core.train;

import io.deepshard.core.config.EarlyStoppingSpec;

/**
 * The early-stopping rule, apart from any training loop so it can be tested on scripted curves. Feed one value of
 * the monitored metric per epoch to {@link #observe}; it says whether this epoch is the best so far and whether
 * training should stop. An epoch is an improvement when it beats the best value so far by more than
 * {@code minDelta}; training stops after {@code patience} epochs in a row without improvement. A NaN value is never an
 * improvement.
 */
public final class EarlyStopping {
    /** What {@link #observe} decided for one epoch. */
    public record Decision(boolean improved, boolean stop, int bestEpoch, double bestValue, int epochsWithoutImprovement) {}

    private final EarlyStoppingSpec spec;
    private int bestEpoch = -1;
    private double best = Double.NaN;
    private int waited;

    public EarlyStopping(EarlyStoppingSpec spec) { this.spec = spec; }

    /** {@code epoch} is 1-based, as printed. */
    public Decision observe(int epoch, double value) {
        boolean improved = !Double.isNaN(value) && (bestEpoch < 0
                || (spec.higherIsBetter() ? value > best + spec.minDelta() : value < best - spec.minDelta()));
        if (improved) {
            best = value;
            bestEpoch = epoch;
            waited = 0;
        } else {
            waited++;
        }
        return new Decision(improved, waited >= spec.patience(), bestEpoch, best, waited);
    }

    public int bestEpoch() { return bestEpoch; }

    public double bestValue() { return best; }
}
