package io.deepshard.core.data;

import java.io.Serializable;

/**
 * One labelled image, kept compact: 8-bit pixels in CHW order — or, for data that arrives as floats (Parquet float
 * arrays), float values on the scale of pixel/255, four times the memory, so bytes are used wherever the source has
 * them. Exactly one of {@code pixels} and {@code values} is set.
 *
 * @param id     stable index of the record in its dataset (0-based); drives the per-epoch shuffle
 * @param label  class index
 * @param pixels {@code channels*height*width} unsigned bytes, or null
 * @param values {@code channels*height*width} floats, or null
 */
public record ImageRecord(long id, int label, byte[] pixels, float[] values) implements Serializable {
    public ImageRecord(long id, int label, byte[] pixels) { this(id, label, pixels, null); }

    public static ImageRecord ofFloats(long id, int label, float[] values) { return new ImageRecord(id, label, null, values); }

    public boolean isFloat() { return values != null; }

    public int size() { return isFloat() ? values.length : pixels.length; }
}
