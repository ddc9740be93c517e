package io.deepshard.core.data;

import io.deepshard.core.transform.Normalizer;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;
import java.util.List;

/**
 * One worker's examples for one epoch, in training order, stored compactly (one byte array for all pixels) so that a
 * round can cut its mini-batches by index without re-reading or re-shuffling anything.
 */
public final class Shard implements Serializable {
    private final int partition;
    private final long[] ids;
    private final int[] labels;
    private final byte[] pixels;   // one of pixels / values
    private final float[] values;
    private final int exampleSize;

    public Shard(int partition, long[] ids, int[] labels, byte[] pixels, float[] values, int exampleSize) {
        long len = pixels != null ? pixels.length : values.length;
        if (ids.length != labels.length || (long) ids.length * exampleSize != len || (pixels == null) == (values == null)) {
            throw new IllegalArgumentException("inconsistent shard arrays");
        }
        this.partition = partition;
        this.ids = ids;
        this.labels = labels;
        this.pixels = pixels;
        this.values = values;
        this.exampleSize = exampleSize;
    }

    /** Packs records (already in training order); every record must have {@code exampleSize} values, all of one kind. */
    public static Shard of(int partition, List<ImageRecord> records, int exampleSize) {
        int n = records.size();
        long[] ids = new long[n];
        int[] labels = new int[n];
        boolean floats = n > 0 && records.get(0).isFloat();
        byte[] px = floats ? null : new byte[Math.multiplyExact(n, exampleSize)];
        float[] fv = floats ? new float[Math.multiplyExact(n, exampleSize)] : null;
        for (int i = 0; i < n; i++) {
            ImageRecord r = records.get(i);
            if (r.size() != exampleSize || r.isFloat() != floats) {
                throw new DataFormatException("record " + r.id() + " has " + r.size() + (r.isFloat() ? " float" : " byte")
                        + " values, expected " + exampleSize + (floats ? " float" : " byte") + " values (data.inputShape)");
            }
            ids[i] = r.id();
            labels[i] = r.label();
            if (floats) System.arraycopy(r.values(), 0, fv, i * exampleSize, exampleSize);
            else System.arraycopy(r.pixels(), 0, px, i * exampleSize, exampleSize);
        }
        return new Shard(partition, ids, labels, px, fv, exampleSize);
    }

    public int partition() { return partition; }
    public int size() { return ids.length; }
    public long id(int i) { return ids[i]; }
    public int label(int i) { return labels[i]; }
    public int exampleSize() { return exampleSize; }

    /** Examples {@code [from, to)} as a normalized DL4J mini-batch: features [n, C*H*W], one-hot labels [n, classes]. */
    public DataSet batch(int from, int to, Normalizer normalizer, int numClasses) {
        int n = to - from;
        float[] f = new float[n * exampleSize];
        if (values != null) normalizer.apply(values, from * exampleSize, f, 0, n, exampleSize);
        else normalizer.apply(pixels, from * exampleSize, f, 0, n, exampleSize);
        float[] y = new float[n * numClasses];
        for (int i = 0; i < n; i++) y[i * numClasses + labels[from + i]] = 1f;
        return new DataSet(Nd4j.create(f, new long[] {n, exampleSize}, 'c'), Nd4j.create(y, new long[] {n, numClasses}, 'c'));
    }
}
