package io.deepshard.core.transform;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class NormalizerTest {

    @Test
    void statisticsEqualADirectComputationPerChannel() {
        int channels = 3, plane = 50, n = 200;
        Random r = new Random(3);
        byte[][] images = new byte[n][channels * plane];
        for (byte[] im : images) {
            for (int c = 0; c < channels; c++) {
                for (int i = 0; i < plane; i++) im[c * plane + i] = (byte) Math.min(255, Math.max(0, (int) (40 + 60 * c + 30 * r.nextGaussian())));
            }
        }
        // direct two-pass computation
        double[] mean = new double[channels], var = new double[channels];
        for (byte[] im : images) for (int c = 0; c < channels; c++) for (int i = 0; i < plane; i++) mean[c] += (im[c * plane + i] & 0xFF) / 255.0;
        for (int c = 0; c < channels; c++) mean[c] /= (double) n * plane;
        for (byte[] im : images) for (int c = 0; c < channels; c++) for (int i = 0; i < plane; i++) {
            double d = (im[c * plane + i] & 0xFF) / 255.0 - mean[c];
            var[c] += d * d;
        }
        // accumulate in two halves and merge, as a distributed aggregation would
        ChannelStats a = new ChannelStats(channels), b = new ChannelStats(channels);
        for (int k = 0; k < n; k++) (k % 2 == 0 ? a : b).add(images[k]);
        ChannelStats s = a.merge(b);
        assertThat(s.valuesPerChannel()).isEqualTo((long) n * plane);
        for (int c = 0; c < channels; c++) {
            assertThat(s.mean(c)).isCloseTo(mean[c], within(1e-12));
            assertThat(s.std(c)).isCloseTo(Math.sqrt(var[c] / ((double) n * plane)), within(1e-9));
        }

        Normalizer norm = Normalizer.fit("standardize", s);
        float[] out = new float[channels * plane];
        norm.apply(images[7], 0, out, 0, 1, channels * plane);
        for (int c = 0; c < channels; c++) {
            int v = images[7][c * plane + 5] & 0xFF;
            assertThat((double) out[c * plane + 5]).isCloseTo((v / 255.0 - mean[c]) / Math.sqrt(var[c] / ((double) n * plane)), within(1e-5));
        }
    }

    @Test
    void scaleAndNoneNeedNoStatistics() {
        byte[] px = {0, (byte) 128, (byte) 255};
        float[] out = new float[3];
        Normalizer.fixed("scale", 1).apply(px, 0, out, 0, 1, 3);
        assertThat(out).containsExactly(new float[] {0f, 128 / 255f, 1f}, within(1e-6f));
        Normalizer.fixed("none", 1).apply(px, 0, out, 0, 1, 3);
        assertThat(out).containsExactly(new float[] {0f, 128f, 255f}, within(1e-3f));
    }

    @Test
    void constantChannelIsCentredNotDividedByZero() {
        ChannelStats s = new ChannelStats(1).add(new byte[] {9, 9, 9});
        Normalizer n = Normalizer.fit("standardize", s);
        float[] out = new float[3];
        n.apply(new byte[] {9, 9, 9}, 0, out, 0, 1, 3);
        for (float v : out) assertThat(v).isCloseTo(0f, within(1e-6f));
    }

    @Test
    void toPixelsInvertsApplyAndMinMaxAreTheExtremePixels() {
        ChannelStats stats = new ChannelStats(2).add(new byte[] {10, 50, (byte) 200, 0, 90, (byte) 255});
        for (Normalizer n : List.of(Normalizer.fit("standardize", stats), Normalizer.minMax(stats), Normalizer.fixed("scale", 2),
                Normalizer.fixed("none", 2))) {
            byte[] px = new byte[512];
            for (int i = 0; i < 512; i++) px[i] = (byte) (i % 256);
            float[] x = new float[512];
            n.apply(px, 0, x, 0, 1, 512); // one example: each channel holds every pixel value once
            byte[] back = new byte[512];
            n.toPixels(x, 0, back, 0, 1, 512);
            assertThat(back).as(n.toString()).isEqualTo(px);
            for (int c = 0; c < 2; c++) {
                assertThat(n.min(c)).as(n.toString()).isCloseTo(x[c * 256], within(1e-5f));       // pixel 0 of channel c
                assertThat(n.max(c)).as(n.toString()).isCloseTo(x[c * 256 + 255], within(1e-4f)); // pixel 255
            }
            n.toPixels(new float[] {n.min(0) - 5, n.max(1) + 5}, 0, back, 0, 1, 2); // clipped, per channel
            assertThat(back[0]).isEqualTo((byte) 0);
            assertThat(back[1]).isEqualTo((byte) 255);
        }
    }
}
