package io.deepshard.spark.train;

/** Progress callbacks of a training run (on the driver). */
public interface TrainingListener {
    /** After each averaging round. {@code loss} is the round's example-weighted mean mini-batch loss. */
    default void onRound(int epoch, int round, int rounds, double loss) {}

    /** After each epoch, once it is evaluated. */
    default void onEpoch(EpochMetrics metrics) {}

    TrainingListener NONE = new TrainingListener() {};
}
