package io.deepshard.core.data;

import java.io.Serializable;

/**
 * One labelled image, kept compact: 8-bit pixels in CHW order — or, for data that arrives as floats (Parquet float
 * arrays), float values on the scale of pixel/255, four times the memory, so bytes are used wherever the source has
 * them. Exactly one of {@code pixels} and {@code values} is set.
 *
 * <p>Segmentation records also carry a {@code mask}: one class id per pixel ({@code height*width} unsigned bytes,
 * row-major, 0 = background), at the same size as the image. Their {@code label} is the class that covers most of
 * the mask apart from background (0 when there is none): it only serves to stratify the shards.
 *
 * @param id     stable index of the record in its dataset (0-based); drives the per-epoch shuffle
 * @param label  class index (segmentation: the dominant non-background class of the mask)
 * @param pixels {@code channels*height*width} unsigned bytes, or null
 * @param values {@code channels*height*width} floats, or null
 * @param mask   {@code height*width} class ids, or null (classification)
 */
public record ImageRecord(long id, int label, byte[] pixels, float[] values, byte[] mask) implements Serializable {
    public ImageRecord(long id, int label, byte[] pixels, float[] values) { this(id, label, pixels, values, null); }

    public ImageRecord(long id, int label, byte[] pixels) { this(id, label, pixels, null, null); }

    public static ImageRecord ofFloats(long id, int label, float[] values) { return new ImageRecord(id, label, null, values); }

    /** A segmentation record; its label is the mask's dominant non-background class. */
    public static ImageRecord segmented(long id, byte[] pixels, byte[] mask, int numClasses) {
        return new ImageRecord(id, dominantClass(mask, numClasses), pixels, null, mask);
    }

    public boolean isFloat() { return values != null; }

    public boolean hasMask() { return mask != null; }

    public int size() { return isFloat() ? values.length : pixels.length; }

    /** The class id (≥ 1) with the most pixels in {@code mask}, the smallest on ties; 0 when all is background. */
    public static int dominantClass(byte[] mask, int numClasses) {
        long[] counts = new long[Math.max(256, numClasses)];
        for (byte b : mask) counts[b & 0xFF]++;
        int best = 0;
        for (int k = 1; k < numClasses; k++) if (counts[k] > counts[best] || best == 0 && counts[k] > 0) best = k;
        return best;
    }
}
