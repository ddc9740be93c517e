package io.deepshard.core.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.BitSet;
import java.util.HashSet;

import static org.assertj.core.api.Assertions.assertThat;

class BatchPlanTest {

    @ParameterizedTest
    @CsvSource({"60000,2,64,5", "60000,1,64,1", "1000,3,32,4", "7,4,2,3", "5,8,4,2", "1,1,1,1", "100003,7,50,10"})
    void everyExampleOnceEqualStepsBoundedBatches(long n, int w, int b, int f) {
        var plan = new BatchPlan(n, w, b, f);
        BitSet seen = new BitSet();
        long covered = 0;
        for (int p = 0; p < w; p++) {
            int size = plan.shardSize(p);
            assertThat(size).isBetween((int) (n / w), (int) ((n + w - 1) / w));
            for (long pos = plan.shardStart(p); pos < plan.shardStart(p + 1); pos++) assertThat(plan.shardOf(pos)).isEqualTo(p);
            // the shard's batches partition it; none larger than the batch size
            int prevEnd = 0;
            for (int s = 0; s < plan.stepsPerEpoch(); s++) {
                int from = plan.batchStart(size, s), to = plan.batchStart(size, s + 1);
                assertThat(from).isEqualTo(prevEnd);
                assertThat(to - from).isBetween(0, b);
                prevEnd = to;
                for (int i = from; i < to; i++) seen.set((int) (plan.shardStart(p) + i));
                covered += to - from;
            }
            assertThat(prevEnd).isEqualTo(size);
        }
        assertThat(covered).isEqualTo(n);
        assertThat(seen.cardinality()).isEqualTo((int) n);
        int stepsInRounds = 0;
        for (int r = 0; r < plan.roundsPerEpoch(); r++) {
            assertThat(plan.stepsInRound(r)).isBetween(1, f);
            assertThat(plan.firstStep(r)).isEqualTo(stepsInRounds);
            stepsInRounds += plan.stepsInRound(r);
        }
        assertThat(stepsInRounds).isEqualTo(plan.stepsPerEpoch());
    }

    @Test
    void documentedNumbersForTheDefaultConfig() {
        var plan = new BatchPlan(60_000, 2, 64, 5);
        assertThat(plan.stepsPerEpoch()).isEqualTo(469);   // ceil(30000 / 64)
        assertThat(plan.roundsPerEpoch()).isEqualTo(94);   // ceil(469 / 5)
        assertThat(plan.stepsInRound(93)).isEqualTo(4);
    }

    @Test
    void permutationIsABijectionDeterministicAndDiffersByEpoch() {
        for (long n : new long[] {1, 2, 3, 10, 1000, 4097, 60_000}) {
            var p = new SeededPermutation(n, 42, 0);
            var seen = new HashSet<Long>();
            for (long i = 0; i < n; i++) {
                long y = p.apply(i);
                assertThat(y).isBetween(0L, n - 1);
                seen.add(y);
            }
            assertThat(seen).hasSize((int) n);
        }
        var a = new SeededPermutation(1000, 42, 0);
        var again = new SeededPermutation(1000, 42, 0);
        var epoch1 = new SeededPermutation(1000, 42, 1);
        var seed7 = new SeededPermutation(1000, 7, 0);
        int sameAsEpoch1 = 0, sameAsSeed7 = 0, fixedPoints = 0;
        for (long i = 0; i < 1000; i++) {
            assertThat(again.apply(i)).isEqualTo(a.apply(i));
            if (epoch1.apply(i) == a.apply(i)) sameAsEpoch1++;
            if (seed7.apply(i) == a.apply(i)) sameAsSeed7++;
            if (a.apply(i) == i) fixedPoints++;
        }
        // a random permutation agrees with another in about 1 place in n, and has about 1 fixed point
        assertThat(sameAsEpoch1).isLessThan(10);
        assertThat(sameAsSeed7).isLessThan(10);
        assertThat(fixedPoints).isLessThan(10);
    }

    @Test
    void permutationMixesPositionsAcrossShards() {
        // ids 0..499 (e.g. the first half of a file sorted by class) must not land mostly in one shard
        var plan = new BatchPlan(1000, 2, 10, 1);
        var p = new SeededPermutation(1000, 42, 0);
        int inShard0 = 0;
        for (long i = 0; i < 500; i++) if (plan.shardOf(p.apply(i)) == 0) inShard0++;
        assertThat(inShard0).isBetween(200, 300);
    }
}
