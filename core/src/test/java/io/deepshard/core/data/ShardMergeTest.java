package io.deepshard.core.data;

import io.deepshard.core.transform.Normalizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Pieces of a shard, merged by key, are the shard packed from its records in key order. */
class ShardMergeTest {
    private static final int[] SHAPE = {2, 3, 4};

    private static List<ImageRecord> records(int n, boolean floats, boolean masks, long seed) {
        Random r = new Random(seed);
        List<ImageRecord> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] mask = null;
            if (masks) {
                mask = new byte[3 * 4];
                for (int p = 0; p < mask.length; p++) mask[p] = (byte) r.nextInt(3);
            }
            if (floats) {
                float[] v = new float[24];
                for (int k = 0; k < v.length; k++) v[k] = r.nextFloat();
                out.add(new ImageRecord(i, r.nextInt(3), null, v, mask));
            } else {
                byte[] px = new byte[24];
                r.nextBytes(px);
                out.add(new ImageRecord(i, r.nextInt(3), px, null, mask));
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytes", "floats", "bytes+masks", "floats+masks"})
    void mergedPiecesEqualTheShardPackedInKeyOrder(String kind) {
        boolean floats = kind.startsWith("floats"), masks = kind.endsWith("masks");
        List<ImageRecord> all = records(41, floats, masks, 7);
        List<Integer> rank = new ArrayList<>(IntStream.range(0, all.size()).boxed().toList());
        java.util.Collections.shuffle(rank, new Random(11));
        long[] key = new long[all.size()];
        for (int i = 0; i < key.length; i++) key[i] = 1_000_000L + rank.get(i) * 1000L + i; // unique, shuffled
        // three pieces of uneven size, each in input order
        int[][] cuts = {{0, 5}, {5, 30}, {30, 41}};
        List<Shard> pieces = new ArrayList<>();
        List<long[]> keys = new ArrayList<>();
        for (int[] c : cuts) {
            pieces.add(Shard.of(9, all.subList(c[0], c[1]), SHAPE));
            keys.add(java.util.Arrays.copyOfRange(key, c[0], c[1]));
        }
        Shard merged = Shard.merge(2, pieces, keys);

        List<ImageRecord> byKey = IntStream.range(0, all.size()).boxed().sorted(Comparator.comparingLong(i -> key[i]))
                .map(all::get).toList();
        Shard expected = Shard.of(2, byKey, SHAPE);
        assertThat(merged.partition()).isEqualTo(2);
        assertThat(merged.size()).isEqualTo(41);
        assertThat(merged.hasMasks()).isEqualTo(masks);
        Normalizer norm = Normalizer.fixed("scale", 2);
        for (int i = 0; i < 41; i++) {
            assertThat(merged.id(i)).isEqualTo(expected.id(i));
            assertThat(merged.label(i)).isEqualTo(expected.label(i));
            for (int p = 0; masks && p < 12; p++) assertThat(merged.maskValue(i, p)).isEqualTo(expected.maskValue(i, p));
        }
        assertThat(merged.batch(0, 41, norm, 3).getFeatures()).isEqualTo(expected.batch(0, 41, norm, 3).getFeatures());
        assertThat(merged.batch(0, 41, norm, 3).getLabels()).isEqualTo(expected.batch(0, 41, norm, 3).getLabels());
        assertThat(merged.id(rank.get(0))).isEqualTo(0L);     // record 0 sits at its key's rank
    }

    @Test
    void piecesOfDifferentKindsAreRefusedNamingARecordOfEach() {
        Shard bytes = Shard.of(0, records(3, false, false, 1), SHAPE);
        Shard floats = Shard.of(0, records(2, true, false, 2), SHAPE);
        assertThatThrownBy(() -> Shard.merge(0, List.of(bytes, floats), List.of(new long[] {1, 2, 3}, new long[] {4, 5})))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining("record 0 has 24 float values")
                .hasMessageContaining("record 0 has 24 byte values");
    }

    @Test
    void aKeyGivenTwiceOrAMissingKeyIsAnError() {
        Shard a = Shard.of(0, records(2, false, false, 1), SHAPE);
        Shard b = Shard.of(0, records(2, false, false, 2), SHAPE);
        assertThatThrownBy(() -> Shard.merge(0, List.of(a, b), List.of(new long[] {1, 2}, new long[] {3, 2})))
                .hasMessageContaining("sort key 2 is given twice");
        assertThatThrownBy(() -> Shard.merge(0, List.of(a), List.of(new long[] {1})))
                .hasMessageContaining("piece 0 has 2 examples but 1 keys");
    }
}
