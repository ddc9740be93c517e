package io.deepshard.core.transform;

import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.ImageRecord;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

class AugmentationTest {
    static final String BASE = """
            model: lenet5
            data: {train: fashion-mnist:train, inputShape: [3, 12, 10], numClasses: 10, augment: %s}
            """;

    static byte[] image(int c, int h, int w, long seed) {
        byte[] b = new byte[c * h * w];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void everyAugmentationIsReproduciblePerEpochAndRecordAndKeepsShapeAndLabel() {
        DeepshardConfig cfg = ConfigLoader.parse(BASE.formatted(
                "[flip, {type: translate, pixels: 2}, {type: rotate, degrees: 15}, {type: scale, min: 0.8, max: 1.2},"
                        + " {type: crop, padding: 3}, {type: colorNoise, std: 0.05}, pcaNoise, erase]"), "t", List.of());
        assertThat(cfg.data().augment()).hasSize(8);
        ChannelStats stats = new ChannelStats(3);
        for (int i = 0; i < 20; i++) stats.add(image(3, 12, 10, i));
        Augmenter aug = new Augmenter(cfg.data().augment(), 42, 3, 12, 10).withColorPca(ColorPca.of(stats));
        ImageRecord r = new ImageRecord(7, 4, image(3, 12, 10, 99));
        ImageRecord e0 = aug.apply(r, 0), e0again = aug.apply(r, 0), e1 = aug.apply(r, 1);
        assertThat(e0.pixels()).isEqualTo(e0again.pixels()).hasSize(360).isNotEqualTo(r.pixels());
        assertThat(e1.pixels()).isNotEqualTo(e0.pixels());
        assertThat(e0.label()).isEqualTo(4);
        assertThat(e0.id()).isEqualTo(7);
        assertThat(aug.apply(new ImageRecord(8, 4, r.pixels()), 0).pixels()).isNotEqualTo(e0.pixels()); // per record
        assertThat(new Augmenter(cfg.data().augment(), 43, 3, 12, 10).withColorPca(ColorPca.of(stats)).apply(r, 0).pixels())
                .isNotEqualTo(e0.pixels());                                                                      // per seed
        // the resolved config states every parameter
        assertThat(cfg.resolved()).contains("type: rotate").contains("degrees: 15.0").contains("probability: 0.5").contains("std: 0.1")
                .contains("minArea: 0.02").contains("maxArea: 0.4").contains("minAspect: 0.3");
    }

    @Test
    void geometryIsExact() {
        byte[] img = image(2, 5, 6, 1);
        var always = new Augmentation.Flip(1.0);
        byte[] flipped = always.apply(img, 2, 5, 6, new SplittableRandom(1));
        assertThat(flipped[0]).isEqualTo(img[5]);                 // x=0 <- x=5, channel 0
        assertThat(flipped[30 + 6 + 1]).isEqualTo(img[30 + 6 + 4]); // channel 1, row 1, x=1 <- x=4
        assertThat(always.apply(flipped, 2, 5, 6, new SplittableRandom(2))).isEqualTo(img);
        // a shift moves every pixel by the same (dx, dy) and fills with zeros
        var t = new Augmentation.Translate(2);
        for (int seed = 0; seed < 20; seed++) {
            byte[] out = t.apply(img, 2, 5, 6, new SplittableRandom(seed));
            int matches = 0, zeros = 0;
            for (int i = 0; i < out.length; i++) if (out[i] == 0) zeros++;
            for (int dy = -2; dy <= 2; dy++) for (int dx = -2; dx <= 2; dx++) {
                boolean all = true;
                for (int y = 0; y < 5 && all; y++) for (int x = 0; x < 6 && all; x++) {
                    int sx = x - dx, sy = y - dy;
                    byte expect = sx < 0 || sy < 0 || sx >= 6 || sy >= 5 ? 0 : img[sy * 6 + sx];
                    all = out[y * 6 + x] == expect;
                }
                if (all) matches++;
            }
            assertThat(matches).as("seed %d", seed).isGreaterThanOrEqualTo(1);
            assertThat(zeros).isLessThanOrEqualTo(out.length);
        }
        // a rotation or zoom by (almost) nothing leaves the image (almost) unchanged
        byte[] r0 = new Augmentation.Rotate(1e-9).apply(img, 2, 5, 6, new SplittableRandom(3));
        for (int i = 0; i < img.length; i++) assertThat(r0[i] & 0xFF).isCloseTo(img[i] & 0xFF, within(1));
        assertThat(new Augmentation.Scale(1, 1).apply(img, 2, 5, 6, new SplittableRandom(3))).isEqualTo(img);
    }

    /** Random erasing fills one rectangle of the drawn area and aspect, in every channel, and nothing else. */
    @Test
    void eraseFillsOneRectangleOfTheDrawnSizeWithTheGivenProbability() {
        int c = 2, h = 28, w = 24;
        byte[] img = new byte[c * h * w];
        java.util.Arrays.fill(img, (byte) 7);
        var erase = new Augmentation.Erase(0.5, 0.02, 0.4, 0.3);
        int erased = 0, runs = 2000;
        double minArea = 1, maxArea = 0, minAspect = 10, maxAspect = 0;
        for (int seed = 0; seed < runs; seed++) {
            byte[] out = erase.apply(img, c, h, w, new SplittableRandom(seed));
            assertThat(out).hasSize(img.length);
            if (out == img) continue;
            erased++;
            // the bounding box of changed pixels in channel 0; channel 1 changes inside the same box only
            int y0 = h, y1 = -1, x0 = w, x1 = -1, changed = 0;
            for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) if (out[y * w + x] != 7) {
                y0 = Math.min(y0, y); y1 = Math.max(y1, y); x0 = Math.min(x0, x); x1 = Math.max(x1, x);
            }
            int eh = y1 - y0 + 1, ew = x1 - x0 + 1;
            for (int ch = 0; ch < c; ch++) for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) {
                boolean inside = y >= y0 && y <= y1 && x >= x0 && x <= x1;
                if (out[(ch * h + y) * w + x] != 7) { changed++; assertThat(inside).as("seed %d ch %d (%d,%d)", seed, ch, y, x).isTrue(); }
            }
            assertThat(changed).as("seed %d: random fill, 1/256 of it may equal the old value", seed)
                    .isGreaterThan((int) (0.9 * c * eh * ew) - 2);
            double area = eh * ew / (double) (h * w);
            minArea = Math.min(minArea, area); maxArea = Math.max(maxArea, area);
            minAspect = Math.min(minAspect, eh / (double) ew); maxAspect = Math.max(maxAspect, eh / (double) ew);
        }
        assertThat(erased / (double) runs).isBetween(0.45, 0.55);
        // rounding to whole pixels widens the bounds a little; the draws reach both ends
        assertThat(minArea).isBetween(0.005, 0.04);
        assertThat(maxArea).isBetween(0.3, 0.45);
        assertThat(minAspect).isBetween(0.25, 0.45);
        assertThat(maxAspect).isBetween(2.2, 4.0);
        // a mask stays as it is (an occlusion does not change what a pixel belongs to), the image part is the same draw
        byte[] mask = new byte[h * w];
        byte[][] both = new Augmentation.Erase(1.0, 0.1, 0.2, 0.5).apply(img, mask, c, h, w, new SplittableRandom(3));
        assertThat(both[1]).isSameAs(mask);
        assertThat(both[0]).isEqualTo(new Augmentation.Erase(1.0, 0.1, 0.2, 0.5).apply(img, c, h, w, new SplittableRandom(3)))
                .isNotEqualTo(img);
    }

    @Test
    void colourPcaFindsTheDominantAxis() {
        // channels move together (R = G = B + noise): the first component is ~ (1,1,1)/sqrt(3)
        ChannelStats stats = new ChannelStats(3);
        Random r = new Random(5);
        for (int n = 0; n < 200; n++) {
            byte[] b = new byte[3 * 16];
            for (int i = 0; i < 16; i++) {
                int v = r.nextInt(200);
                for (int c = 0; c < 3; c++) b[c * 16 + i] = (byte) Math.min(255, v + r.nextInt(10));
            }
            stats.add(b);
        }
        ColorPca pca = ColorPca.of(stats);
        assertThat(pca.values()[0]).isGreaterThan(20 * pca.values()[1]);
        for (int c = 0; c < 3; c++) assertThat(Math.abs(pca.vectors()[0][c])).isCloseTo(1 / Math.sqrt(3), within(0.01));
        double dot = 0;
        for (int c = 0; c < 3; c++) dot += pca.vectors()[0][c] * pca.vectors()[1][c];
        assertThat(dot).isCloseTo(0, within(1e-9));
    }

    @Test
    void badAugmentationConfigIsReportedWithItsIndex() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse(BASE.formatted(
                "[flop, {type: rotate, degrees: 400}, {type: scale, min: 1.5, max: 1.1}, {type: translate, pixel: 2}, 3,"
                        + " {type: erase, minArea: 0.5, maxArea: 0.2}, {type: erase, minAspect: 2}]"), "t", List.of()));
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "data.augment[0].type: must be one of translate, crop, flip, rotate, scale, colorNoise, pcaNoise, erase, found 'flop' (did you mean 'flip'?)",
                "data.augment[1].degrees: must be a number in (0, 180], found 400",
                "data.augment[2]: min 1.5 is larger than max 1.1",
                "data.augment[3].pixel: unknown key (did you mean 'pixels'?) (known here: type, pixels)",
                "data.augment[4]: must be an augmentation name or a mapping with type, found 3",
                "data.augment[5]: minArea 0.5 is larger than maxArea 0.2",
                "data.augment[6].minAspect: must be a number in (0, 1], found 2");
    }

    /** A mask that is the image's channel 0 divided by 50: an exact geometric move keeps the two in step. */
    @Test
    void geometricAugmentationsMoveTheMaskWithTheImageWithoutInterpolatingIt() {
        int c = 2, h = 12, w = 10;
        byte[] img = new byte[c * h * w], mask = new byte[h * w];
        java.util.Random r = new java.util.Random(4);
        for (int p = 0; p < h * w; p++) {
            mask[p] = (byte) r.nextInt(4);
            img[p] = (byte) (mask[p] * 50);
            img[h * w + p] = (byte) r.nextInt(256);
        }
        for (Augmentation a : List.of(new Augmentation.Flip(1.0), new Augmentation.Translate(3), new Augmentation.Crop(2))) {
            int seed = 0;
            while (java.util.Arrays.equals(a.apply(img, mask, c, h, w, new SplittableRandom(seed))[1], mask)) seed++; // one that moves
            byte[][] out = a.apply(img, mask, c, h, w, new SplittableRandom(seed));
            assertThat(out[0]).as("%s image", a).isEqualTo(a.apply(img, c, h, w, new SplittableRandom(seed)));
            for (int p = 0; p < h * w; p++) assertThat(out[0][p]).as("%s pixel %d", a, p).isEqualTo((byte) (out[1][p] * 50));
        }
        for (Augmentation a : List.of(new Augmentation.Rotate(30), new Augmentation.Scale(0.7, 1.3))) {
            byte[][] out = a.apply(img, mask, c, h, w, new SplittableRandom(9));
            assertThat(out[0]).isEqualTo(a.apply(img, c, h, w, new SplittableRandom(9)));
            int agree = 0;
            for (int p = 0; p < h * w; p++) {
                assertThat((int) out[1][p]).isBetween(0, 3);        // only class ids, never a blend of two
                if (Math.abs((out[0][p] & 0xFF) - out[1][p] * 50) <= 25) agree++;
            }
            assertThat(agree).as("%s: mask pixels on the image's class", a).isGreaterThan(h * w * 6 / 10);
        }
        byte[][] noise = new Augmentation.ColorNoise(0.1).apply(img, mask, c, h, w, new SplittableRandom(9));
        assertThat(noise[1]).isSameAs(mask);
        assertThat(noise[0]).isNotEqualTo(img);
        // the whole chain through the Augmenter, per record and epoch as for images
        Augmenter aug = new Augmenter(List.of(new Augmentation.Flip(0.5), new Augmentation.Translate(2)), 42, c, h, w);
        ImageRecord rec = new ImageRecord(5, 2, img, null, mask);
        ImageRecord e0 = aug.apply(rec, 0);
        assertThat(e0.mask()).isEqualTo(aug.apply(rec, 0).mask()).hasSize(h * w);
        assertThat(e0.label()).isEqualTo(2);
        for (int p = 0; p < h * w; p++) assertThat(e0.pixels()[p]).isEqualTo((byte) (e0.mask()[p] * 50));
        assertThat(e0.pixels()).isEqualTo(aug.apply(new ImageRecord(5, 2, img), 0).pixels()); // same draws as without a mask
    }
}
