package io.deepshard.spark.train;

import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.RoundTiming;

/**
 * How the workers' progress is combined: the seam between Deepshard's own {@link AveragingStrategy} and the stock
 * DL4J trainer ({@link Dl4jParamAvgStrategy}), both fed the same shards, model and settings.
 */
public interface TrainingStrategy extends AutoCloseable {
    /** Trains one epoch and returns the resulting state and the epoch's mean training loss. */
    Outcome trainEpoch(EpochContext context);

    @Override default void close() {}

    /** @param timing how the epoch's round time divided, or null when the strategy cannot tell */
    record Outcome(NetworkState state, double trainLoss, long examples, int rounds, RoundTiming timing) {}
}
