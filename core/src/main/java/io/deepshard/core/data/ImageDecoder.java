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
 * accepts only images of exactly H×W. Bilinear interpolation; segmentation masks ({@link #decodePair}) get the same
 * geometry with nearest-neighbour sampling.
 */
public final class ImageDecoder implements Serializable {
    public static final List<String> RESIZE_MODES = List.of("stretch", "center-crop", "pad", "none");
    /** How {@link #decode(byte[])} turns files into pixels, in one sentence (recorded in serving bundles). */
    public static final String DECODING = "javax.imageio (JPEG, PNG, BMP, GIF), 8 bits per channel; an alpha channel is dropped; grey "
            + "images become RGB by replication and colour images grey by luminance; a truncated or damaged file is rejected";

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
        return decode(read(encoded));
    }

    /** Converts an image already in memory into {@code channels*height*width} bytes, CHW, exactly as {@link #decode(byte[])} does after reading. */
    public byte[] decode(BufferedImage src) throws BadRecordException {
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

    /** Where a source image of {@code sw x sh} lands: its rectangle (sx, sy, cw, ch) drawn onto (dx, dy, dw, dh). */
    private record Placement(int sx, int sy, int cw, int ch, int dx, int dy, int dw, int dh) {}

    private Placement placement(int sw, int sh) {
        switch (resize) {
            case "center-crop" -> {
                double scale = Math.max((double) width / sw, (double) height / sh);
                int cw = (int) Math.round(width / scale), ch = (int) Math.round(height / scale);
                return new Placement((sw - cw) / 2, (sh - ch) / 2, cw, ch, 0, 0, width, height);
            }
            case "pad" -> {
                double scale = Math.min((double) width / sw, (double) height / sh);
                int dw = (int) Math.round(sw * scale), dh = (int) Math.round(sh * scale);
                return new Placement(0, 0, sw, sh, (width - dw) / 2, (height - dh) / 2, dw, dh);
            }
            default -> { return new Placement(0, 0, sw, sh, 0, 0, width, height); } // stretch, or none at the right size
        }
    }

    private BufferedImage render(BufferedImage src) {
        int type = channels == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_3BYTE_BGR;
        BufferedImage dst = new BufferedImage(width, height, type);
        Graphics2D g = dst.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            Placement p = placement(src.getWidth(), src.getHeight());
            switch (resize) {
                case "center-crop" -> g.drawImage(src, 0, 0, width, height, p.sx(), p.sy(), p.sx() + p.cw(), p.sy() + p.ch(), null);
                case "pad" -> g.drawImage(src, p.dx(), p.dy(), p.dw(), p.dh(), null); // background stays black
                default -> g.drawImage(src, 0, 0, width, height, null);
            }
        } finally {
            g.dispose();
        }
        return dst;
    }

    /** A segmentation pair at this decoder's size: CHW pixels and one class id per pixel (row-major). */
    public record Pair(byte[] pixels, byte[] mask) {}

    /**
     * Decodes an image and its mask ({@code maskName} names the mask file in messages). The mask must be a
     * single-channel image (8-bit grey or palette PNG; RGB only when R = G = B) of the image's size whose pixel values
     * are class ids below {@code numClasses}. It is resized with the image's geometry ({@code data.resize}) by nearest
     * neighbour, so class ids are never interpolated; padding is background (0).
     */
    public Pair decodePair(byte[] image, byte[] mask, String maskName, int numClasses) throws BadRecordException {
        if (image.length == 0) throw new BadRecordException(BadRecord.Reason.EMPTY_FILE, "the file is empty (0 bytes)");
        BufferedImage src = read(image);
        if (resize.equals("none") && (src.getWidth() != width || src.getHeight() != height)) {
            throw new BadRecordException(BadRecord.Reason.SIZE_MISMATCH, "image is " + src.getHeight() + "x" + src.getWidth()
                    + " (HxW), expected " + height + "x" + width + " (set data.resize to stretch, center-crop or pad to resize)");
        }
        String m = "mask " + maskName + ": ";
        if (mask.length == 0) throw new BadRecordException(BadRecord.Reason.EMPTY_FILE, m + "the file is empty (0 bytes)");
        BufferedImage msk;
        try {
            msk = read(mask);
        } catch (BadRecordException e) {
            throw new BadRecordException(e.reason(), m + e.getMessage());
        }
        if (msk.getWidth() != src.getWidth() || msk.getHeight() != src.getHeight()) {
            throw new BadRecordException(BadRecord.Reason.SIZE_MISMATCH, m + "mask is " + msk.getHeight() + "x" + msk.getWidth()
                    + " (HxW) but its image is " + src.getHeight() + "x" + src.getWidth());
        }
        int[] ids = classIds(msk, m, numClasses);
        return new Pair(toChw(render(src)), resizeMask(ids, msk.getWidth(), msk.getHeight()));
    }

    /** The mask's class ids, row-major; rejects colour masks and values of {@code numClasses} or more. */
    static int[] classIds(BufferedImage msk, String m, int numClasses) throws BadRecordException {
        var raster = msk.getRaster();
        int w = msk.getWidth(), h = msk.getHeight(), bands = raster.getNumBands();
        boolean indexed = msk.getColorModel() instanceof java.awt.image.IndexColorModel;
        int colourBands = indexed ? 1 : msk.getColorModel().getNumColorComponents();
        if (colourBands != 1 && colourBands != 3) {
            throw new BadRecordException(BadRecord.Reason.WRONG_CHANNELS, m + "has " + bands + " channels; a mask must be a "
                    + "single-channel (8-bit grey or palette) image whose pixel values are class ids");
        }
        int[] ids = raster.getSamples(0, 0, w, h, 0, new int[w * h]); // grey value or palette index (alpha ignored)
        if (colourBands == 3) {
            int[] g = raster.getSamples(0, 0, w, h, 1, new int[w * h]), b = raster.getSamples(0, 0, w, h, 2, new int[w * h]);
            for (int i = 0; i < ids.length; i++) {
                if (g[i] != ids[i] || b[i] != ids[i]) {
                    throw new BadRecordException(BadRecord.Reason.WRONG_CHANNELS, m + "is a colour image and pixel (x=" + i % w
                            + ", y=" + i / w + ") is RGB (" + ids[i] + ", " + g[i] + ", " + b[i] + "); a mask must be a single-channel "
                            + "(8-bit grey or palette) image whose pixel values are class ids");
                }
            }
        }
        int bad = 0, first = -1;
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] >= numClasses) {
                if (first < 0) first = i;
                bad++;
            }
        }
        if (bad > 0) {
            throw new BadRecordException(BadRecord.Reason.MASK_VALUE_OUT_OF_RANGE, m + "pixel (x=" + first % w + ", y=" + first / w
                    + ") has value " + ids[first] + ", but class ids must be 0.." + (numClasses - 1) + " (data.numClasses = " + numClasses
                    + ", background included)" + (bad > 1 ? "; " + bad + " pixels are out of range" : ""));
        }
        return ids;
    }

    /** Nearest-neighbour resampling of a {@code sw x sh} class-id map with the image's placement; 0 outside it. */
    byte[] resizeMask(int[] ids, int sw, int sh) {
        Placement p = placement(sw, sh);
        byte[] out = new byte[width * height];
        for (int y = p.dy(); y < p.dy() + p.dh(); y++) {
            int syy = Math.min(p.sy() + p.ch() - 1, p.sy() + (int) Math.floor((y - p.dy() + 0.5) * p.ch() / p.dh()));
            for (int x = p.dx(); x < p.dx() + p.dw(); x++) {
                int sxx = Math.min(p.sx() + p.cw() - 1, p.sx() + (int) Math.floor((x - p.dx() + 0.5) * p.cw() / p.dw()));
                out[y * width + x] = (byte) ids[syy * sw + sxx];
            }
        }
        return out;
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
