package io.deepshard.core.data;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Decodes encoded images (JPEG, PNG, BMP, GIF — whatever {@link ImageIO} reads) into 8-bit CHW arrays of a fixed
 * size and channel count. Grey images become RGB by replication and colour images become grey by luminance, as image
 * libraries do; an alpha channel is dropped. A JPEG that ends early is rejected, not half-decoded: ImageIO reports
 * that only as a warning, which is caught here.
 *
 * <p>Resizing ({@code data.resize}): {@code stretch} scales to exactly H×W; {@code center-crop} scales the shorter
 * side to fit and crops the centre; {@code pad} scales the longer side to fit and pads with black; {@code none}
 * accepts only images of exactly H×W. Bilinear interpolation.
 */
public final class ImageDecoder implements Serializable {
    public static final List<String> RESIZE_MODES = List.of("stretch", "center-crop", "pad", "none");

    private final int channels;
    private final int height;
    private final int width;
    private final String resize;

    public ImageDecoder(int channels, int height, int width, String resize) {
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("channels must be 1 or 3, found " + channels);
        if (!RESIZE_MODES.contains(resize)) throw new IllegalArgumentException("resize must be one of " + RESIZE_MODES + ", found " + resize);
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.resize = resize;
    }

    public int exampleSize() { return channels * height * width; }

    /** Decodes {@code encoded} into {@code channels*height*width} bytes, CHW. */
    public byte[] decode(byte[] encoded) throws BadRecordException {
        if (encoded.length == 0) throw new BadRecordException(BadRecord.Reason.EMPTY_FILE, "the file is empty (0 bytes)");
        BufferedImage src = read(encoded);
        if (resize.equals("none") && (src.getWidth() != width || src.getHeight() != height)) {
            throw new BadRecordException(BadRecord.Reason.SIZE_MISMATCH, "image is " + src.getHeight() + "x" + src.getWidth()
                    + " (HxW), expected " + height + "x" + width + " (set data.resize to stretch, center-crop or pad to resize)");
        }
        return toChw(render(src));
    }

    /**
     * Converts an already decoded image — row-major {@code height x width} pixels of {@code srcChannels} interleaved
     * bytes in BGR(A) order, as Spark's image data source gives them — to CHW at this decoder's size and channels.
     */
    public byte[] fromBgr(byte[] data, int srcHeight, int srcWidth, int srcChannels) throws BadRecordException {
        if (srcChannels != 1 && srcChannels != 3 && srcChannels != 4) {
            throw new BadRecordException(BadRecord.Reason.WRONG_CHANNELS, "image has " + srcChannels + " channels (expected 1, 3 or 4)");
        }
        if (data == null || data.length != srcHeight * srcWidth * srcChannels) {
            throw new BadRecordException(BadRecord.Reason.CORRUPT_IMAGE, "pixel data of " + (data == null ? 0 : data.length)
                    + " bytes does not match " + srcHeight + "x" + srcWidth + "x" + srcChannels);
        }
        BufferedImage src = new BufferedImage(srcWidth, srcHeight, BufferedImage.TYPE_INT_RGB);
        for (int y = 0, i = 0; y < srcHeight; y++) {
            for (int x = 0; x < srcWidth; x++, i += srcChannels) {
                int b = data[i] & 0xFF, g = srcChannels == 1 ? b : data[i + 1] & 0xFF, r = srcChannels == 1 ? b : data[i + 2] & 0xFF;
                src.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        if (srcChannels == 1 && channels == 1) { // keep grey exact: no colour-space round trip
            BufferedImage grey = new BufferedImage(srcWidth, srcHeight, BufferedImage.TYPE_BYTE_GRAY);
            grey.getRaster().setDataElements(0, 0, srcWidth, srcHeight, data);
            src = grey;
        }
        if (resize.equals("none") && (srcWidth != width || srcHeight != height)) {
            throw new BadRecordException(BadRecord.Reason.SIZE_MISMATCH, "image is " + srcHeight + "x" + srcWidth
                    + " (HxW), expected " + height + "x" + width + " (set data.resize to stretch, center-crop or pad to resize)");
        }
        return toChw(render(src));
    }

    private static BufferedImage read(byte[] encoded) throws BadRecordException {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(encoded))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new BadRecordException(BadRecord.Reason.NOT_AN_IMAGE, "not an image in a format this reader knows (JPEG, PNG, BMP, GIF); "
                        + "it starts with " + hexStart(encoded));
            }
            ImageReader reader = readers.next();
            List<String> warnings = new ArrayList<>();
            reader.addIIOReadWarningListener((r, w) -> warnings.add(w));
            try {
                reader.setInput(in, true, true);
                BufferedImage img = reader.read(0);
                if (!warnings.isEmpty()) {
                    throw new BadRecordException(BadRecord.Reason.CORRUPT_IMAGE, reader.getFormatName().toUpperCase(Locale.ROOT)
                            + " data is damaged: " + String.join("; ", warnings));
                }
                return img;
            } finally {
                reader.dispose();
            }
        } catch (BadRecordException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new BadRecordException(BadRecord.Reason.CORRUPT_IMAGE, "cannot decode the image: " + e.getMessage());
        }
    }

    private BufferedImage render(BufferedImage src) {
        int type = channels == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_3BYTE_BGR;
        BufferedImage dst = new BufferedImage(width, height, type);
        Graphics2D g = dst.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            int sw = src.getWidth(), sh = src.getHeight();
            switch (resize) {
                case "center-crop" -> {
                    double scale = Math.max((double) width / sw, (double) height / sh);
                    int cw = (int) Math.round(width / scale), ch = (int) Math.round(height / scale);
                    int x0 = (sw - cw) / 2, y0 = (sh - ch) / 2;
                    g.drawImage(src, 0, 0, width, height, x0, y0, x0 + cw, y0 + ch, null);
                }
                case "pad" -> {
                    double scale = Math.min((double) width / sw, (double) height / sh);
                    int dw = (int) Math.round(sw * scale), dh = (int) Math.round(sh * scale);
                    g.drawImage(src, (width - dw) / 2, (height - dh) / 2, dw, dh, null); // background stays black
                }
                default -> g.drawImage(src, 0, 0, width, height, null); // stretch, or none at the right size
            }
        } finally {
            g.dispose();
        }
        return dst;
    }

    private byte[] toChw(BufferedImage img) {
        byte[] data = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        if (channels == 1) return data.clone();
        int plane = width * height;
        byte[] out = new byte[3 * plane];
        for (int i = 0; i < plane; i++) { // BGR interleaved -> RGB planes
            out[i] = data[3 * i + 2];
            out[plane + i] = data[3 * i + 1];
            out[2 * plane + i] = data[3 * i];
        }
        return out;
    }

    private static String hexStart(byte[] b) {
        var sb = new StringBuilder();
        for (int i = 0; i < Math.min(8, b.length); i++) sb.append(String.format("%02x", b[i] & 0xFF));
        return sb.length() == 0 ? "nothing" : sb.toString();
    }
}
