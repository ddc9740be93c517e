package io.deepshard.core.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.HashSet;

import static org.assertj.core.api.Assertions.assertThat;

class BatchPlanTest {

    @ParameterizedTest
    @CsvSource({"60000,2,64,5", "60000,1,64,1", "1000,3,32,4", "7,4,2,3", "5,8,4,2", "1,1,1,1", "100003,7,50,10"})
    void everyExampleOnceEqualStepsBoundedBatches(long n, int w, int b, int f) {
        var plan = new BatchPlan(n, w, b, f);
        long covered = 0;
        int[] ranksPerShard = new int[w];
        for (long rank = 0; rank < n; rank++) ranksPerShard[plan.shardOf(rank)]++;
        for (int p = 0; p < w; p++) {
            int size = plan.shardSize(p);
            assertThat(size).isEqualTo(ranksPerShard[p]).isBetween((int) (n / w), (int) ((n + w - 1) / w));
            // the shard's batches partition it; none larger than the batch size
            int prevEnd = 0;
            for (int s = 0; s < plan.stepsPerEpoch(); s++) {
                int from = plan.batchStart(size, s), to = plan.batchStart(size, s + 1);
                assertThat(from).isEqualTo(prevEnd);
                assertThat(to - from).isBetween(0, b);
                prevEnd = to;
                covered += to - from;
            }
            assertThat(prevEnd).isEqualTo(size);
        }
        assertThat(covered).isEqualTo(n);
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
    void dealIsStratifiedBalancedAndReshuffledEachEpoch() {
        long[] counts = {500, 7, 0, 101, 1};   // unbalanced classes, an empty one, a singleton
        int w = 3;
        long n = 609;
        for (int epoch = 0; epoch < 2; epoch++) {
            var deal = new StratifiedDeal(counts, w, 42, epoch, n);
            assertThat(deal.examples()).isEqualTo(n);
            long[][] perShardClass = new long[w][counts.length];
            var ranks = new java.util.HashSet<Long>();
            var orders = new java.util.HashSet<Long>();
            long id = 0;
            for (int c = 0; c < counts.length; c++) {
                for (long j = 0; j < counts[c]; j++, id++) {
                    ranks.add(deal.rank(c, j));
                    orders.add(deal.order(id));
                    long key = deal.key(c, j, id);
                    assertThat(deal.shardOfKey(key)).isEqualTo(deal.shard(c, j));
                    perShardClass[deal.shard(c, j)][c]++;
                }
            }
            assertThat(ranks).hasSize((int) n);
            assertThat(orders).hasSize((int) n);
            var plan = new BatchPlan(n, w, 16, 2);
            for (int p = 0; p < w; p++) {
                assertThat(java.util.Arrays.stream(perShardClass[p]).sum()).isEqualTo(plan.shardSize(p));
                for (int c = 0; c < counts.length; c++) {
                    assertThat(perShardClass[p][c]).isBetween(counts[c] / w, (counts[c] + w - 1) / w);
                }
            }
        }
        var e0 = new StratifiedDeal(counts, w, 42, 0, n);
        var e1 = new StratifiedDeal(counts, w, 42, 1, n);
        int same = 0;
        for (long j = 0; j < 500; j++) if (e0.shard(0, j) == e1.shard(0, j)) same++;
        assertThat(same).isBetween(100, 240); // about a third stays, by chance
    }
}
