package io.deepshard.core.train;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The round's tree sum: the same bits in any arrival order and grouping; missing or doubled workers are errors. */
class RoundResultTest {
    static final int N = 2000;

    /** Values of very different magnitudes, so that the order of float additions shows in the last bits. */
    static NetworkState state(Random r) {
        float[] p = new float[N], u = new float[N];
        for (int i = 0; i < N; i++) {
            p[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3));
            u[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3));
        }
        return new NetworkState(p, u, 0, 0);
    }

    static List<RoundResult> leaves(int workers, long seed) {
        Random r = new Random(seed);
        var out = new ArrayList<RoundResult>();
        for (int w = 0; w < workers; w++) out.add(RoundResult.of(w, workers, state(r), 50 + r.nextInt(30), r.nextDouble() * 100, 0.1 * w));
        return out;
    }

    /** Merges the leaves in a random order and a random grouping, as Spark's reduce and reduceByKey may. */
    static RoundResult randomMerge(List<RoundResult> leaves, Random r) {
        var pool = new ArrayList<>(leaves);
        Collections.shuffle(pool, r);
        while (pool.size() > 1) {
            RoundResult a = pool.remove(r.nextInt(pool.size())), b = pool.remove(r.nextInt(pool.size()));
            pool.add(a.merge(b));
        }
        return pool.get(0);
    }

    @Test
    void anyOrderAndGroupingGivesTheSameBits() {
        NetworkState fallback = new NetworkState(new float[N], new float[N], 0, 0);
        for (int workers : new int[] {1, 2, 3, 5, 7, 8, 13}) {
            NetworkState first = randomMerge(leaves(workers, 9), new Random(0)).average(fallback, 1, 0);
            for (int trial = 1; trial < 40; trial++) {
                RoundResult merged = randomMerge(leaves(workers, 9), new Random(trial));
                assertThat(merged.complete()).isTrue();
                NetworkState again = merged.average(fallback, 1, 0);
                assertThat(again.params()).as("%d workers, trial %d", workers, trial).isEqualTo(first.params());
                assertThat(again.updaterState()).isEqualTo(first.updaterState());
                assertThat(merged.lossSum()).isEqualTo(randomMerge(leaves(workers, 9), new Random(0)).lossSum());
            }
        }
    }

    @Test
    void plainSumsInArrivalOrderWouldDiffer() {
        // the hazard the tree removes: the same 7 weighted vectors summed in two orders differ in some last bit
        List<NetworkState> states = new ArrayList<>();
        Random r = new Random(9);
        for (int w = 0; w < 7; w++) states.add(state(r));
        float[] forward = new float[N], backward = new float[N];
        for (int w = 0; w < 7; w++) for (int i = 0; i < N; i++) forward[i] += states.get(w).params()[i];
        for (int w = 6; w >= 0; w--) for (int i = 0; i < N; i++) backward[i] += states.get(w).params()[i];
        assertThat(forward).isNotEqualTo(backward);
    }

    @Test
    void theAverageIsExampleWeightedAndEmptyWorkersAddNothing() {
        var a = new NetworkState(new float[] {1, 10}, new float[] {2}, 0, 0);
        var b = new NetworkState(new float[] {4, 40}, new float[] {8}, 0, 0);
        RoundResult r = RoundResult.of(0, 3, a, 30, 3.0, 1)
                .merge(RoundResult.of(2, 3, b, 10, 5.0, 2))
                .merge(RoundResult.of(1, 3, new NetworkState(new float[] {999, 999}, new float[] {999}, 0, 0), 0, 0, 0.5));
        NetworkState avg = r.average(a, 7, 1);
        assertThat(avg.params()).containsExactly(1.75f, 17.5f);     // (30*1 + 10*4) / 40, (300 + 400) / 40
        assertThat(avg.updaterState()).containsExactly(3.5f);
        assertThat(avg.iteration()).isEqualTo(7);
        assertThat(r.examples()).isEqualTo(40);
        assertThat(r.workers()).isEqualTo(2);
        assertThat(r.meanLoss()).isEqualTo(8.0 / 40);
        assertThat(r.maxComputeSeconds()).isEqualTo(2.0);
        // nobody had examples: the fallback state with the new counters
        RoundResult none = RoundResult.of(0, 2, a, 0, 0, 0).merge(RoundResult.of(1, 2, b, 0, 0, 0));
        assertThat(none.average(b, 3, 0).params()).isEqualTo(b.params());
    }

    @Test
    void missingOrDoubledWorkersAreErrors() {
        List<RoundResult> l = leaves(5, 1);
        RoundResult partial = l.get(0).merge(l.get(1)).merge(l.get(3)).merge(l.get(4));
        assertThat(partial.complete()).isFalse();
        assertThatThrownBy(() -> partial.average(null, 0, 0)).hasMessageContaining("round result incomplete: 5 workers");
        List<RoundResult> m = leaves(5, 1), n = leaves(5, 1);
        assertThatThrownBy(() -> m.get(2).merge(m.get(3)).merge(n.get(2))).hasMessageContaining("worker 2 reported twice");
    }

    @Test
    void groupsAreRunsOfConsecutiveWorkers() {
        List<RoundResult> l = leaves(13, 2);
        assertThat(l.stream().map(x -> x.group(2)).toList()).containsExactly(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3);
        RoundResult g1 = l.get(4).merge(l.get(5)).merge(l.get(6)).merge(l.get(7));
        assertThat(g1.group(2)).isEqualTo(1);
    }

    @SuppressWarnings("unchecked")
    static <T> T roundTrip(T value) throws Exception {
        var bytes = new java.io.ByteArrayOutputStream();
        try (var out = new java.io.ObjectOutputStream(bytes)) { out.writeObject(value); }
        try (var in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()))) { return (T) in.readObject(); }
    }

    /** What Spark ships every round (the state out, the leaves back) arrives bit for bit, across the 1 MB blocks it is written in. */
    @Test
    void statesAndLeavesSurviveSerializationBitForBit() throws Exception {
        Random r = new Random(5);
        float[] p = new float[300_007], u = new float[600_011];   // more than one block of 262,144 floats
        for (int i = 0; i < p.length; i++) p[i] = (float) r.nextGaussian();
        for (int i = 0; i < u.length; i++) u[i] = i % 97 == 0 ? Float.NaN : (float) r.nextGaussian() * 1e-30f;
        NetworkState state = new NetworkState(p, u, 123_456_789_012L, 7);
        NetworkState back = roundTrip(state);
        assertThat(back.params()).isEqualTo(p);
        assertThat(back.updaterState()).isEqualTo(u);
        assertThat(back.iteration()).isEqualTo(123_456_789_012L);
        assertThat(back.epoch()).isEqualTo(7);

        List<RoundResult> shipped = new ArrayList<>();
        for (RoundResult leaf : leaves(5, 9)) shipped.add(roundTrip(leaf));
        NetworkState fallback = new NetworkState(new float[N], new float[N], 0, 0);
        RoundResult viaSpark = randomMerge(shipped, new Random(3));
        RoundResult here = randomMerge(leaves(5, 9), new Random(3));
        assertThat(viaSpark.average(fallback, 1, 0).params()).isEqualTo(here.average(fallback, 1, 0).params());
        assertThat(viaSpark.average(fallback, 1, 0).updaterState()).isEqualTo(here.average(fallback, 1, 0).updaterState());
        assertThat(viaSpark.lossSum()).isEqualTo(here.lossSum());
        assertThat(viaSpark.examples()).isEqualTo(here.examples());
        assertThat(viaSpark.maxComputeSeconds()).isEqualTo(here.maxComputeSeconds());
        RoundResult empty = roundTrip(RoundResult.of(1, 2, state(r), 0, 0, 0.5));   // a worker without examples
        assertThat(empty.examples()).isZero();
        assertThat(empty.maxComputeSeconds()).isEqualTo(0.5);
    }
}
