package io.deepshard.core.data;

import io.deepshard.core.transform.Augmentation;
import io.deepshard.core.transform.Augmenter;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LocalShuffleTest {
    private static final long IDS = 5000;   // the id space: every id below it

    /** A 1x4x4 image per record whose pixels encode its id, with a mask that does too. */
    private static Shard shard(int partition, int n, boolean masks) {
        List<ImageRecord> records = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long id = 1000L * partition + 7L * i;
            byte[] px = new byte[16];
            for (int p = 0; p < 16; p++) px[p] = (byte) (id * 31 + p);
            byte[] mask = null;
            if (masks) {
                mask = new byte[16];
                for (int p = 0; p < 16; p++) mask[p] = (byte) ((id + p) % 3);
            }
            records.add(new ImageRecord(id, (int) (id % 5), px, null, mask));
        }
        return Shard.of(partition, records, new int[] {1, 4, 4});
    }

    private static Map<Long, ImageRecord> byId(Shard s) {
        Map<Long, ImageRecord> out = new HashMap<>();
        for (int i = 0; i < s.size(); i++) out.put(s.id(i), s.record(i));
        return out;
    }

    private static long[] ids(Shard s) {
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) out[i] = s.id(i);
        return out;
    }

    @Test
    void laterEpochsReorderTheSameExamplesWithTheirPixelsLabelsAndMasks() {
        Shard dealt = shard(2, 300, true);
        assertThat(LocalShuffle.apply(dealt, 9, 0, IDS, null)).isSameAs(dealt);          // epoch 0: the deal's order
        Shard e1 = LocalShuffle.apply(dealt, 9, 1, IDS, null), e2 = LocalShuffle.apply(dealt, 9, 2, IDS, null);
        assertThat(ids(e1)).isNotEqualTo(ids(dealt)).isNotEqualTo(ids(e2));
        assertThat(e1.partition()).isEqualTo(2);
        Map<Long, ImageRecord> before = byId(dealt);
        for (Shard s : List.of(e1, e2)) {
            assertThat(s.size()).isEqualTo(300);
            Map<Long, ImageRecord> after = byId(s);
            assertThat(after.keySet()).isEqualTo(before.keySet());
            for (var e : before.entrySet()) {
                ImageRecord a = after.get(e.getKey());
                assertThat(a.label()).isEqualTo(e.getValue().label());
                assertThat(a.pixels()).isEqualTo(e.getValue().pixels());
                assertThat(a.mask()).isEqualTo(e.getValue().mask());
            }
        }
        // a pure function of (seed, epoch, partition): a retried task or a resumed run gets the same order
        assertThat(ids(LocalShuffle.apply(dealt, 9, 1, IDS, null))).isEqualTo(ids(e1));
        assertThat(ids(LocalShuffle.apply(dealt, 10, 1, IDS, null))).isNotEqualTo(ids(e1));
        // the order is the deal's: the epoch's seeded permutation of the ids, whatever order the shard arrives in
        var perm = new SeededPermutation(IDS, 9, 2);
        for (int i = 1; i < e2.size(); i++) assertThat(perm.apply(e2.id(i))).isGreaterThan(perm.apply(e2.id(i - 1)));
        assertThat(ids(LocalShuffle.apply(e1, 9, 2, IDS, null))).isEqualTo(ids(e2));
    }

    @Test
    void ordersArePermutationsAndSpreadTheShard() {
        for (int n : new int[] {0, 1, 2, 3, 17, 600}) {
            int[] order = LocalShuffle.order(shard(0, n, false), 5, 3, IDS);
            assertThat(Arrays.stream(order).sorted().toArray()).isEqualTo(java.util.stream.IntStream.range(0, n).toArray());
        }
        // not a rotation or a near-identity: most examples move far from their place in the deal
        int[] order = LocalShuffle.order(shard(0, 600, false), 5, 3, IDS);
        long far = java.util.stream.IntStream.range(0, 600).filter(k -> Math.abs(order[k] - k) > 30).count();
        assertThat(far).isGreaterThan(450);
    }

    @Test
    void eachEpochIsAugmentedForThatEpochAndEpochZeroKeepsTheDealsOrder() {
        Shard dealt = shard(0, 64, true);
        Augmenter aug = new Augmenter(List.of(new Augmentation.Flip(0.5), new Augmentation.Translate(1)), 4, 1, 4, 4);
        Shard e0 = LocalShuffle.apply(dealt, 9, 0, IDS, aug), e3 = LocalShuffle.apply(dealt, 9, 3, IDS, aug);
        assertThat(ids(e0)).isEqualTo(ids(dealt));
        Map<Long, ImageRecord> original = byId(dealt);
        int changed = 0;
        for (Shard s : List.of(e0, e3)) {
            int epoch = s == e0 ? 0 : 3;
            for (int i = 0; i < s.size(); i++) {
                ImageRecord expected = aug.apply(original.get(s.id(i)), epoch);   // what the global deal would train on
                assertThat(s.record(i).pixels()).isEqualTo(expected.pixels());
                assertThat(s.record(i).mask()).isEqualTo(expected.mask());
                if (!Arrays.equals(expected.pixels(), original.get(s.id(i)).pixels())) changed++;
            }
        }
        assertThat(changed).isGreaterThan(32);   // the augmentation did something
    }

    @Test
    void aReorderedViewCutsTheSameMiniBatchesAsACopyInThatOrder() {
        var norm = io.deepshard.core.transform.Normalizer.fit("standardize", stats());
        for (boolean masks : new boolean[] {false, true}) {
            Shard dealt = shard(1, 70, masks);
            Shard view = LocalShuffle.apply(LocalShuffle.apply(dealt, 3, 1, IDS, null), 3, 2, IDS, null);   // a view of a view
            List<ImageRecord> inOrder = new ArrayList<>();
            for (int i = 0; i < view.size(); i++) inOrder.add(view.record(i));
            Shard copy = Shard.of(1, inOrder, new int[] {1, 4, 4});
            assertThat(ids(copy)).isEqualTo(ids(view)).isNotEqualTo(ids(dealt));
            for (int from = 0; from < 70; from += 32) {
                int to = Math.min(70, from + 32);
                var a = view.batch(from, to, norm, 5);
                var b = copy.batch(from, to, norm, 5);
                assertThat(a.getFeatures().data().asFloat()).isEqualTo(b.getFeatures().data().asFloat());
                assertThat(a.getLabels().data().asFloat()).isEqualTo(b.getLabels().data().asFloat());
            }
            if (masks) assertThat(view.maskValue(5, 3)).isEqualTo(copy.maskValue(5, 3));
            // merging pieces that are views reads them in their order
            long[] keys = new long[view.size()];
            for (int i = 0; i < keys.length; i++) keys[i] = 1000 - i;          // reverses the view
            Shard merged = Shard.merge(1, List.of(view), List.of(keys));
            for (int i = 0; i < keys.length; i++) assertThat(merged.id(i)).isEqualTo(view.id(keys.length - 1 - i));
        }
    }

    private static io.deepshard.core.transform.ChannelStats stats() {
        var stats = new io.deepshard.core.transform.ChannelStats(1);
        stats.add(new byte[] {0, 10, (byte) 200, 55});
        return stats;
    }

    @Test
    void floatShardsReorderToo() {
        List<ImageRecord> records = new ArrayList<>();
        for (int i = 0; i < 50; i++) records.add(ImageRecord.ofFloats(i, i % 2, new float[] {i, -i, i * 0.5f}));
        Shard dealt = Shard.of(1, records, 3);
        Shard e1 = LocalShuffle.apply(dealt, 1, 1, IDS, null);
        for (int i = 0; i < e1.size(); i++) {
            assertThat(e1.record(i).values()).containsExactly(e1.id(i), -e1.id(i), e1.id(i) * 0.5f);
            assertThat(e1.label(i)).isEqualTo((int) (e1.id(i) % 2));
        }
        assertThatThrownBy(() -> dealt.reordered(new int[] {0, 0}, null)).hasMessageContaining("an order of 2 examples for a shard of 50");
        int[] dup = LocalShuffle.order(dealt, 1, 1, IDS);
        dup[7] = dup[8];
        assertThatThrownBy(() -> dealt.reordered(dup, null)).hasMessageContaining("order[8] = " + dup[8] + " is not a permutation");
    }
}
