package io.deepshard.core.train;

/**
 * Where the time of averaging rounds goes, in seconds (for one round, or summed over an epoch's rounds):
 *
 * @param rounds    how many rounds
 * @param seconds   wall time on the driver, from submitting the round's job to holding the averaged state
 * @param compute   the slowest worker's training time (its mini-batches; loading the state into the network and
 *                  packing the result count as overhead, since they grow with the model, not with the batches)
 * @param broadcast the slowest worker's wait for the round's state (the broadcast fetch; near 0 on an executor that
 *                  already fetched it for another task)
 * @param overhead  the rest: scheduling, loading and packing the state on the workers, shipping the results and
 *                  merging them, averaging on the driver
 *                  ({@code seconds - compute - broadcast}, at least 0)
 */
public record RoundTiming(int rounds, double seconds, double compute, double broadcast, double overhead) {
    public static final RoundTiming ZERO = new RoundTiming(0, 0, 0, 0, 0);

    /** One round: the wall time and the slowest worker's compute and broadcast times. */
    public static RoundTiming of(double seconds, double compute, double broadcast) {
        return new RoundTiming(1, seconds, compute, broadcast, Math.max(0, seconds - compute - broadcast));
    }

    public RoundTiming plus(RoundTiming o) {
        return new RoundTiming(rounds + o.rounds, seconds + o.seconds, compute + o.compute, broadcast + o.broadcast,
                overhead + o.overhead);
    }
}
