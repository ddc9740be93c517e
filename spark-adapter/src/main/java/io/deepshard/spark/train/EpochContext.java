package io.deepshard.spark.train;

import io.deepshard.core.data.Shard;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.RoundTiming;
import org.apache.spark.api.java.JavaRDD;

/**
 * The input of one epoch of training: this epoch's shards (one per worker), the state to start from, and — when a run
 * resumes in the middle of an epoch — the rounds already done and their sums. {@code afterRound} is called after
 * every round (the trainer checkpoints there).
 */
public record EpochContext(JavaRDD<Shard> shards, NetworkState start, int epoch, TrainingListener listener,
                           int roundsDone, long examplesSoFar, double lossSumSoFar, RoundTiming timingSoFar,
                           RoundHook afterRound) {

    /** A whole epoch from its first round. */
    public EpochContext(JavaRDD<Shard> shards, NetworkState start, int epoch, TrainingListener listener) {
        this(shards, start, epoch, listener, 0, 0, 0, RoundTiming.ZERO, RoundHook.NONE);
    }

    /** Called on the driver after each round with the averaged state and the epoch's sums so far. */
    @FunctionalInterface
    public interface RoundHook {
        void afterRound(int roundsDone, int rounds, NetworkState state, long examples, double lossSum, RoundTiming timing);

        RoundHook NONE = (done, rounds, state, examples, lossSum, timing) -> {};
    }
}
