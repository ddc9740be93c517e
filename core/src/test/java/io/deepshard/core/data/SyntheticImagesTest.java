package io.deepshard.core.data;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;

import static org.assertj.core.api.Assertions.assertThat;

class SyntheticImagesTest {
    static byte[] png(BufferedImage img) { return SyntheticImages.encode(img, "png"); }

    @Test
    void sameSeedSameBytesOtherSeedOrIndexOtherImage() {
        var spec = new SyntheticImages.Spec(6, 32, 32, 5);
        assertThat(png(SyntheticImages.classification(spec, "train", 3, 2))).isEqualTo(png(SyntheticImages.classification(spec, "train", 3, 2)));
        assertThat(png(SyntheticImages.classification(spec, "train", 4, 2))).isNotEqualTo(png(SyntheticImages.classification(spec, "train", 3, 2)));
        var other = new SyntheticImages.Spec(6, 32, 32, 6);
        assertThat(png(SyntheticImages.classification(other, "train", 3, 2))).isNotEqualTo(png(SyntheticImages.classification(spec, "train", 3, 2)));
    }

    @Test
    void segmentationMaskHoldsOnlyClassIdsAndCoversTheShapes() {
        var spec = new SyntheticImages.Spec(4, 48, 48, 1);
        for (int i = 0; i < 5; i++) {
            var s = SyntheticImages.segmentation(spec, "train", i);
            int[] hist = new int[256];
            for (int y = 0; y < 48; y++) for (int x = 0; x < 48; x++) hist[s.mask().getRaster().getSample(x, y, 0)]++;
            for (int v = 4; v < 256; v++) assertThat(hist[v]).as("mask value %d", v).isZero();
            assertThat(hist[0]).isPositive();
            assertThat(hist[1] + hist[2] + hist[3]).isPositive();
        }
    }

    @Test
    void classNamesBeyondSixShapesAddColourFamilies() {
        assertThat(SyntheticImages.classNames(3)).containsExactly("circle", "square", "triangle");
        assertThat(SyntheticImages.classNames(8)).startsWith("warm-circle").contains("cool-circle", "cool-square");
    }
}
