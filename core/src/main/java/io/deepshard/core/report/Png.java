package io.deepshard.core.report;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** PNG bytes of an 8-bit image in the records' CHW layout (1 channel grey, 3 channels RGB). */
public final class Png {
    private Png() {}

    public static byte[] of(byte[] chw, int channels, int height, int width) {
        if (chw.length != channels * height * width) {
            throw new IllegalArgumentException(chw.length + " pixel values do not make a " + channels + "x" + height + "x" + width + " image");
        }
        int plane = height * width;
        BufferedImage img = new BufferedImage(width, height, channels == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = y * width + x;
                if (channels == 1) {
                    img.getRaster().setSample(x, y, 0, chw[p] & 0xFF);
                } else {
                    int r = chw[p] & 0xFF, g = chw[plane + p] & 0xFF, b = chw[2 * plane + p] & 0xFF;
                    img.setRGB(x, y, (r << 16) | (g << 8) | b);
                }
            }
        }
        var out = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
