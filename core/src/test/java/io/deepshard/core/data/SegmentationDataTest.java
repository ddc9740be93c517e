package io.deepshard.core.data;

import io.deepshard.core.transform.Normalizer;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Masks: decoding and nearest-neighbour resizing, pairing files, packing into shards and one-hot NCHW labels. */
class SegmentationDataTest {
    @TempDir Path dir;

    /** A grey mask whose pixel (x, y) is {@code f(x, y)}. */
    static BufferedImage greyMask(int w, int h, java.util.function.IntBinaryOperator f) {
        BufferedImage m = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) m.getRaster().setSample(x, y, 0, f.applyAsInt(x, y));
        return m;
    }

    static byte[] png(BufferedImage img) throws Exception {
        var bos = new ByteArrayOutputStream();
        assertThat(ImageIO.write(img, "png", bos)).isTrue();
        return bos.toByteArray();
    }

    static byte[] image(int w, int h) throws Exception {
        return png(new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR));
    }

    @Test
    void masksAreResizedByNearestNeighbourNeverInterpolated() throws Exception {
        // 4x4 mask of classes 0 and 3 in 2x2 blocks (top-left 0, top-right 3, ...); upscaled x2 by stretch
        byte[] mask = png(greyMask(4, 4, (x, y) -> ((x / 2 + y / 2) % 2) * 3));
        ImageDecoder.Pair p = new ImageDecoder(3, 8, 8, "stretch").decodePair(image(4, 4), mask, "m.png", 4);
        assertThat(p.pixels()).hasSize(3 * 64);
        assertThat(p.mask()).hasSize(64);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) assertThat((int) p.mask()[y * 8 + x]).as("(%d,%d)", x, y).isEqualTo(((x / 4 + y / 4) % 2) * 3);
        }
        // downscaled 7x5 -> 3x2: only values that exist in the source appear (no 1 or 2 between 0 and 3)
        byte[] odd = png(greyMask(7, 5, (x, y) -> (x + y) % 2 == 0 ? 0 : 3));
        byte[] small = new ImageDecoder(1, 2, 3, "stretch").decodePair(image(7, 5), odd, "m.png", 4).mask();
        for (byte b : small) assertThat((int) b).isIn(0, 3);
    }

    @Test
    void padAndCropMoveTheMaskWithTheImage() throws Exception {
        // a 4-wide, 2-high mask with class = x: pad to 4x4 keeps rows 1..2, background above and below
        byte[] mask = png(greyMask(4, 2, (x, y) -> x));
        byte[] padded = new ImageDecoder(3, 4, 4, "pad").decodePair(image(4, 2), mask, "m.png", 4).mask();
        assertThat(padded).containsExactly(0, 0, 0, 0, 0, 1, 2, 3, 0, 1, 2, 3, 0, 0, 0, 0);
        // centre crop of 4x2 to 2x2 keeps columns 1 and 2
        byte[] cropped = new ImageDecoder(3, 2, 2, "center-crop").decodePair(image(4, 2), mask, "m.png", 4).mask();
        assertThat(cropped).containsExactly(1, 2, 1, 2);
    }

    @Test
    void paletteMasksGiveTheirIndicesAndColourMasksAreRejectedUnlessGrey() throws Exception {
        byte[] r = {0, (byte) 128, 0}, g = {0, 0, (byte) 128}, b = {0, 0, 0};
        BufferedImage pal = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 3, r, g, b));
        pal.getRaster().setSamples(0, 0, 3, 1, 0, new int[] {2, 1, 0});
        assertThat(new ImageDecoder(3, 1, 3, "none").decodePair(image(3, 1), png(pal), "p.png", 3).mask()).containsExactly(2, 1, 0);

        BufferedImage rgb = new BufferedImage(3, 1, BufferedImage.TYPE_INT_RGB);
        rgb.setRGB(0, 0, 0x010101);
        rgb.setRGB(1, 0, 0x020202);
        assertThat(new ImageDecoder(3, 1, 3, "none").decodePair(image(3, 1), png(rgb), "g.png", 3).mask()).containsExactly(1, 2, 0);
        rgb.setRGB(2, 0, 0x00FF00);
        BadRecordException e = catchThrowableOfType(BadRecordException.class,
                () -> new ImageDecoder(3, 1, 3, "none").decodePair(image(3, 1), png(rgb), "c.png", 3));
        assertThat(e.reason()).isEqualTo(BadRecord.Reason.WRONG_CHANNELS);
        assertThat(e.getMessage()).startsWith("mask c.png: is a colour image and pixel (x=2, y=0) is RGB (0, 255, 0)");
    }

    @Test
    void maskValuesOutsideTheClassesNameThePixelAndValue() throws Exception {
        byte[] mask = png(greyMask(5, 4, (x, y) -> x == 3 && y >= 2 ? 7 : 1));
        BadRecordException e = catchThrowableOfType(BadRecordException.class,
                () -> new ImageDecoder(3, 4, 5, "none").decodePair(image(5, 4), mask, "file:/d/masks/007.png", 4));
        assertThat(e.reason()).isEqualTo(BadRecord.Reason.MASK_VALUE_OUT_OF_RANGE);
        assertThat(e.getMessage()).isEqualTo("mask file:/d/masks/007.png: pixel (x=3, y=2) has value 7, but class ids must be 0..3 "
                + "(data.numClasses = 4, background included); 2 pixels are out of range");
        BadRecordException size = catchThrowableOfType(BadRecordException.class,
                () -> new ImageDecoder(3, 4, 5, "stretch").decodePair(image(6, 4), mask, "m.png", 4));
        assertThat(size.reason()).isEqualTo(BadRecord.Reason.SIZE_MISMATCH);
        assertThat(size.getMessage()).isEqualTo("mask m.png: mask is 4x5 (HxW) but its image is 4x6");
    }

    @Test
    void listingPairsByNameAndNamesBothPathsOfWhatIsUnpaired() throws Exception {
        var w = SyntheticImages.write(new Configuration(), dir.resolve("seg").toString(), "segmentation",
                new SyntheticImages.Spec(3, 16, 16, 1), 2, 1);
        assertThat(w.classNames()).containsExactly("background", "circle", "square");
        Path train = dir.resolve("seg/train");
        Files.delete(train.resolve("masks/00002.png"));
        Files.copy(train.resolve("masks/00003.png"), train.resolve("masks/00099.png"));
        Files.move(train.resolve("images/00004.png"), train.resolve("images/00004.jpg")); // other extension: still paired
        assertThat(SegmentationListing.isSegmentationRoot(new Configuration(), train.toString())).isTrue();
        assertThat(SegmentationListing.isSegmentationRoot(new Configuration(), dir.resolve("seg").toString())).isFalse();

        SegmentationListing l = SegmentationListing.list(new Configuration(), train.toString(), 3, null);
        assertThat(l.classNames()).containsExactly("background", "circle", "square"); // from ../classes.txt
        assertThat(l.entries()).extracting(e -> Path.of(java.net.URI.create(e.image())).getFileName().toString())
                .containsExactly("00000.png", "00001.png", "00003.png", "00004.jpg", "00005.png");
        assertThat(l.entries().get(3).mask()).endsWith("masks/00004.png");
        assertThat(l.bad()).extracting(BadRecord::message).containsExactlyInAnyOrder(
                "file:" + train + "/images/00002.png: image has no mask: expected file:" + train + "/masks/00002.<png|...> (missingMask)",
                "file:" + train + "/masks/00099.png: mask has no image: expected file:" + train + "/images/00099.<png|jpg|...> (missingImage)");

        Decoded d = SegmentationListing.decode(new Configuration(), new ImageDecoder(3, 16, 16, "none"), 2, l.entries().get(2), 3);
        assertThat(d.isBad()).isFalse();
        assertThat(d.record().mask()).hasSize(256);
        assertThat(d.record().label()).isEqualTo(ImageRecord.dominantClass(d.record().mask(), 3));

        DataFormatException wrongCount = catchThrowableOfType(DataFormatException.class,
                () -> SegmentationListing.list(new Configuration(), train.toString(), 4, null));
        assertThat(wrongCount).hasMessage(dir.resolve("seg/classes.txt").toUri().toString().replace("file:///", "file:/")
                + " names 3 classes [background, circle, square], but data.numClasses is 4 (classes include the background, class 0)");
    }

    @Test
    void dominantClassIgnoresBackground() {
        assertThat(ImageRecord.dominantClass(new byte[] {0, 0, 0, 0, 2, 1, 2}, 3)).isEqualTo(2);
        assertThat(ImageRecord.dominantClass(new byte[] {0, 0, 1, 2}, 3)).isEqualTo(1); // tie: the smaller id
        assertThat(ImageRecord.dominantClass(new byte[] {0, 0}, 3)).isEqualTo(0);
    }

    @Test
    void shardBatchGivesOneHotLabelsPerPixelInNchw() {
        // 2 examples of 1x2x3 pixels; masks [0 1 2 / 2 2 0] and [1 1 1 / 0 0 0]
        var a = ImageRecord.segmented(10, new byte[] {1, 2, 3, 4, 5, 6}, new byte[] {0, 1, 2, 2, 2, 0}, 3);
        var b = ImageRecord.segmented(11, new byte[] {6, 5, 4, 3, 2, 1}, new byte[] {1, 1, 1, 0, 0, 0}, 3);
        Shard shard = Shard.of(0, List.of(a, b), new int[] {1, 2, 3});
        assertThat(shard.hasMasks()).isTrue();
        assertThat(shard.label(0)).isEqualTo(2);
        assertThat(shard.label(1)).isEqualTo(1);
        DataSet ds = shard.batch(0, 2, Normalizer.fixed("scale", 1), 3);
        assertThat(ds.getFeatures().shape()).containsExactly(2, 6);
        INDArray y = ds.getLabels();
        assertThat(y.shape()).containsExactly(2, 3, 2, 3);
        for (int i = 0; i < 2; i++) {
            byte[] m = i == 0 ? a.mask() : b.mask();
            for (int p = 0; p < 6; p++) {
                for (int k = 0; k < 3; k++) {
                    assertThat(y.getFloat(i, k, p / 3, p % 3)).as("example %d class %d pixel %d", i, k, p).isEqualTo(m[p] == k ? 1f : 0f);
                }
            }
        }
        assertThat(shard.batch(1, 2, Normalizer.fixed("scale", 1), 3).getLabels().getFloat(0, 1, 0, 2)).isEqualTo(1f);
        // a value beyond the classes is never written into a neighbour's slot
        DataFormatException e = catchThrowableOfType(DataFormatException.class, () -> shard.batch(0, 2, Normalizer.fixed("scale", 1), 2));
        assertThat(e).hasMessage("record 10: mask pixel (x=2, y=0) is 2, outside [0, 2)");
        // classification packing refuses masks rather than dropping them
        assertThat(catchThrowableOfType(IllegalArgumentException.class, () -> Shard.of(0, List.of(a), 6))).isNotNull();
        assertThat(catchThrowableOfType(DataFormatException.class, () -> Shard.of(0, List.of(a, new ImageRecord(3, 0, new byte[6])),
                new int[] {1, 2, 3}))).hasMessageContaining("record 3 has no mask");
    }
}
