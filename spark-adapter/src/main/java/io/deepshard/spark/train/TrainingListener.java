package io.deepshard.spark.train;

import io.deepshard.core.config.EarlyStoppingSpec;
import io.deepshard.core.train.EpochMetrics;
import org.deeplearning4j.nn.graph.ComputationGraph;

/** Progress callbacks of a training run (on the driver). */
public interface TrainingListener {
    /** After each averaging round. {@code loss} is the round's example-weighted mean mini-batch loss. */
    default void onRound(int epoch, int round, int rounds, double loss) {}

    /** After each averaging round (not with {@code dl4j-paramavg}): where its time went. */
    default void onRoundTiming(int epoch, int round, double loss, long examples, io.deepshard.core.train.RoundTiming timing) {}

    /** After each epoch, once it is evaluated. */
    default void onEpoch(EpochMetrics metrics) {}

    /**
     * With early stopping: the epoch just evaluated is the best so far; {@code network} holds its state (valid during
     * the call only). The train job checkpoints it.
     */
    default void onBest(EpochMetrics metrics, ComputationGraph network) {}

    /** With early stopping: training stops after {@code epoch}. */
    default void onEarlyStop(int epoch, int bestEpoch, double bestValue, EarlyStoppingSpec spec) {}

    /** A checkpoint was written ({@code position} as "end of epoch 3" or "epoch 4 after round 20"). */
    default void onCheckpoint(String position, String path) {}

    TrainingListener NONE = new TrainingListener() {};
}
