package io.deepshard.core.data;

import java.io.Serializable;

/**
 * The arithmetic that keeps synchronous averaging correct: how an epoch's examples are split among workers, into
 * mini-batches and into rounds.
 *
 * <p><b>Rule (no example dropped, no padding).</b> An epoch's N examples are dealt round-robin into W shards of
 * ⌊N/W⌋ or ⌈N/W⌉ examples (shard p gets epoch ranks p, p+W, p+2W, ...; see {@link StratifiedDeal}). Every worker runs the same number of steps S = ⌈⌈N/W⌉ / B⌉ per epoch: a shard of n
 * examples is cut into S consecutive mini-batches of ⌊n/S⌋ or ⌈n/S⌉ examples (never more than B). So all workers
 * take the same number of optimizer steps per round (their iteration counters, learning-rate schedules and Adam bias
 * corrections stay in step), and every example is used once per epoch. A shard smaller than S (tiny datasets) gets
 * some empty steps and contributes only the examples it has; averaging is weighted by examples.
 * A round is F = averagingFrequency consecutive steps; the last round of an epoch may be shorter.
 */
public record BatchPlan(long examples, int workers, int batchSize, int averagingFrequency) implements Serializable {

    public BatchPlan {
        if (examples < 0 || workers < 1 || batchSize < 1 || averagingFrequency < 1) {
            throw new IllegalArgumentException("invalid plan " + examples + "/" + workers + "/" + batchSize + "/" + averagingFrequency);
        }
    }

    /** Examples in shard {@code p}: the epoch ranks p, p+W, p+2W, ... below N. */
    public int shardSize(int p) { return (int) Math.max(0, (examples - p + workers - 1) / workers); }

    /** The shard of the example of epoch rank {@code rank}. */
    public int shardOf(long rank) { return (int) (rank % workers); }

    public int stepsPerEpoch() {
        long maxShard = (examples + workers - 1) / workers;
        return (int) Math.max(1, (maxShard + batchSize - 1) / batchSize);
    }

    public int roundsPerEpoch() { return (stepsPerEpoch() + averagingFrequency - 1) / averagingFrequency; }

    public int firstStep(int round) { return round * averagingFrequency; }

    public int stepsInRound(int round) { return Math.min(averagingFrequency, stepsPerEpoch() - firstStep(round)); }

    /** Start (inclusive) of mini-batch {@code step} within a shard of {@code shardSize} examples. */
    public int batchStart(int shardSize, int step) { return (int) ((long) shardSize * step / stepsPerEpoch()); }
}
