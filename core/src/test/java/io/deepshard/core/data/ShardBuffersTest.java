package io.deepshard.core.data;

import io.deepshard.core.transform.Normalizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.dataset.DataSet;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Batches written into reused arrays are the batches made fresh: labels zeroed between batches, sizes changing. */
class ShardBuffersTest {

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void reusedBatchesEqualFreshOnes(boolean masks) {
        Random r = new Random(3);
        List<ImageRecord> records = new ArrayList<>();
        for (int i = 0; i < 23; i++) {
            byte[] px = new byte[2 * 3 * 4];
            r.nextBytes(px);
            byte[] mask = null;
            if (masks) {
                mask = new byte[3 * 4];
                for (int p = 0; p < mask.length; p++) mask[p] = (byte) r.nextInt(3);
            }
            records.add(new ImageRecord(i, r.nextInt(3), px, null, mask));
        }
        Shard shard = Shard.of(0, records, new int[] {2, 3, 4});
        Normalizer norm = Normalizer.fixed("scale", 2);
        try (Shard.Buffers buffers = new Shard.Buffers()) {
            // 8 + 8 + 7 examples: the last batch is smaller, then a full one again
            int[][] ranges = {{0, 8}, {8, 16}, {16, 23}, {0, 8}};
            for (int[] range : ranges) {
                DataSet fresh = shard.batch(range[0], range[1], norm, 3);
                DataSet reused = shard.batch(range[0], range[1], norm, 3, buffers);
                assertThat(reused.getFeatures()).isEqualTo(fresh.getFeatures());
                assertThat(reused.getLabels()).isEqualTo(fresh.getLabels());
                assertThat(reused.getLabels().sumNumber().intValue())
                        .as("one-hot: one 1 per example%s", masks ? " and pixel" : "")
                        .isEqualTo((range[1] - range[0]) * (masks ? 12 : 1));
            }
        }
    }
}
