package io.deepshard.core.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class ImageDecoderTest {

    static BufferedImage solid(int w, int h, Color c) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        var g = img.createGraphics();
        g.setColor(c);
        g.fillRect(0, 0, w, h);
        g.dispose();
        return img;
    }

    static byte[] encode(BufferedImage img, String format) throws IOException {
        var bos = new ByteArrayOutputStream();
        assertThat(ImageIO.write(img, format, bos)).isTrue();
        return bos.toByteArray();
    }

    @ParameterizedTest
    @ValueSource(strings = {"png", "bmp", "gif", "jpg"})
    void decodesEveryFormatIntoRgbPlanes(String format) throws Exception {
        byte[] chw = new ImageDecoder(3, 4, 6, "stretch").decode(encode(solid(6, 4, new Color(200, 100, 30)), format));
        assertThat(chw).hasSize(3 * 24);
        int tol = format.equals("jpg") ? 6 : format.equals("gif") ? 12 : 0;
        for (int i = 0; i < 24; i++) {
            assertThat(chw[i] & 0xFF).isCloseTo(200, org.assertj.core.data.Offset.offset(tol));
            assertThat(chw[24 + i] & 0xFF).isCloseTo(100, org.assertj.core.data.Offset.offset(tol));
            assertThat(chw[48 + i] & 0xFF).isCloseTo(30, org.assertj.core.data.Offset.offset(tol));
        }
    }

    @Test
    void colourToGreyByLuminanceAndGreyToRgbByReplication() throws Exception {
        byte[] grey = new ImageDecoder(1, 2, 2, "stretch").decode(encode(solid(2, 2, new Color(255, 255, 255)), "png"));
        assertThat(grey).containsOnly((byte) 255);
        BufferedImage g = new BufferedImage(2, 2, BufferedImage.TYPE_BYTE_GRAY);
        g.getRaster().setSample(0, 0, 0, 77);
        byte[] rgb = new ImageDecoder(3, 2, 2, "none").decode(encode(g, "png"));
        assertThat(new int[] {rgb[0] & 0xFF, rgb[4] & 0xFF, rgb[8] & 0xFF}).containsOnly(77);
    }

    @Test
    void resizeModesKeepWhatTheyPromise() throws Exception {
        // 8 wide x 4 high: left half red, right half blue
        BufferedImage img = new BufferedImage(8, 4, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 4; y++) for (int x = 0; x < 8; x++) img.setRGB(x, y, x < 4 ? 0xFF0000 : 0x0000FF);
        byte[] png = encode(img, "png");
        // pad to 8x8: rows 0-1 and 6-7 are black, the middle is the image
        byte[] pad = new ImageDecoder(3, 8, 8, "pad").decode(png);
        assertThat(pad[0]).isEqualTo((byte) 0);                 // red plane, top-left: padding
        assertThat(pad[3 * 8] & 0xFF).isGreaterThan(200);       // red plane, row 3, col 0: image
        assertThat(pad[7 * 8 + 7]).isEqualTo((byte) 0);         // bottom row: padding
        // center-crop to 4x4 takes the middle: two red columns, two blue
        byte[] crop = new ImageDecoder(3, 4, 4, "center-crop").decode(png);
        assertThat(crop[0] & 0xFF).isGreaterThan(200);           // left column red
        assertThat(crop[3] & 0xFF).isLessThan(60);               // right column not red
        assertThat(crop[32 + 3] & 0xFF).isGreaterThan(200);      // right column blue
        // stretch to 2x4 keeps left red / right blue
        byte[] st = new ImageDecoder(3, 2, 4, "stretch").decode(png);
        assertThat(st[0] & 0xFF).isGreaterThan(200);
        assertThat(st[16 + 3] & 0xFF).isGreaterThan(200);
    }

    @Test
    void everyBadInputHasItsReason() throws Exception {
        ImageDecoder d = new ImageDecoder(3, 8, 8, "none");
        assertThat(reason(d, new byte[0])).isEqualTo(BadRecord.Reason.EMPTY_FILE);
        assertThat(reason(d, "label,pixel0\n3,255\n".getBytes())).isEqualTo(BadRecord.Reason.NOT_AN_IMAGE);
        byte[] jpg = SyntheticImages.encode(SyntheticImages.classification(new SyntheticImages.Spec(2, 64, 64, 1), "t", 0, 0), "jpg");
        assertThat(reason(new ImageDecoder(3, 64, 64, "none"), Arrays.copyOf(jpg, jpg.length / 2))).isEqualTo(BadRecord.Reason.CORRUPT_IMAGE);
        byte[] png = SyntheticImages.encode(SyntheticImages.classification(new SyntheticImages.Spec(2, 64, 64, 1), "t", 0, 0), "png");
        assertThat(reason(new ImageDecoder(3, 64, 64, "none"), Arrays.copyOf(png, png.length / 2))).isEqualTo(BadRecord.Reason.CORRUPT_IMAGE);
        BadRecordException e = catchThrowableOfType(BadRecordException.class, () -> d.decode(encode(solid(9, 8, Color.RED), "png")));
        assertThat(e.reason()).isEqualTo(BadRecord.Reason.SIZE_MISMATCH);
        assertThat(e.getMessage()).startsWith("image is 8x9 (HxW), expected 8x8");
    }

    @Test
    void decodedRowsFromSparksImageSource() throws Exception {
        ImageDecoder d = new ImageDecoder(3, 1, 2, "none");
        // BGR interleaved, 1x2: pixel 0 = (b=1, g=2, r=3), pixel 1 = (b=4, g=5, r=6) -> RGB planes
        assertThat(d.fromBgr(new byte[] {1, 2, 3, 4, 5, 6}, 1, 2, 3)).containsExactly(3, 6, 2, 5, 1, 4);
        BadRecordException e = catchThrowableOfType(BadRecordException.class, () -> d.fromBgr(new byte[4], 1, 2, 2));
        assertThat(e.reason()).isEqualTo(BadRecord.Reason.WRONG_CHANNELS);
        assertThat(e.getMessage()).isEqualTo("image has 2 channels (expected 1, 3 or 4)");
        assertThat(catchThrowableOfType(BadRecordException.class, () -> d.fromBgr(new byte[5], 1, 2, 3)).reason())
                .isEqualTo(BadRecord.Reason.CORRUPT_IMAGE);
        assertThat(new ImageDecoder(1, 1, 2, "none").fromBgr(new byte[] {7, 9}, 1, 2, 1)).containsExactly(7, 9);
    }

    static BadRecord.Reason reason(ImageDecoder d, byte[] b) {
        return catchThrowableOfType(BadRecordException.class, () -> d.decode(b)).reason();
    }
}
