package io.deepshard.core.data;

import io.deepshard.core.transform.Normalizer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;
import java.util.List;

/**
 * One worker's examples for one epoch, in training order, stored compactly (one byte array for all pixels) so that a
 * round can cut its mini-batches by index without re-reading or re-shuffling anything. Segmentation shards also
 * pack the per-pixel class masks ({@code height*width} bytes per example). A re-ordered shard ({@link #reordered})
 * shares its arrays with the shard it came from and keeps only its order.
 */
public final class Shard implements Serializable {
    private final int partition;
    private final long[] ids;
    private final int[] labels;
    private final byte[] pixels;   // one of pixels / values
    private final float[] values;
    private final int exampleSize;
    private final byte[] masks;    // null unless segmentation
    private final int height;      // mask height and width (0 without masks)
    private final int width;
    private final int[] order;     // example i is stored at order[i]; null: in stored order

    public Shard(int partition, long[] ids, int[] labels, byte[] pixels, float[] values, int exampleSize) {
        this(partition, ids, labels, pixels, values, exampleSize, null, 0, 0);
    }

    public Shard(int partition, long[] ids, int[] labels, byte[] pixels, float[] values, int exampleSize,
                 byte[] masks, int height, int width) {
        this(partition, ids, labels, pixels, values, exampleSize, masks, height, width, null);
    }

    private Shard(int partition, long[] ids, int[] labels, byte[] pixels, float[] values, int exampleSize,
                  byte[] masks, int height, int width, int[] order) {
        long len = pixels != null ? pixels.length : values.length;
        if (ids.length != labels.length || (long) ids.length * exampleSize != len || (pixels == null) == (values == null)
                || masks != null && ((long) ids.length * height * width != masks.length || height * width == 0
                        || exampleSize % (height * width) != 0)) {
            throw new IllegalArgumentException("inconsistent shard arrays");
        }
        this.partition = partition;
        this.ids = ids;
        this.labels = labels;
        this.pixels = pixels;
        this.values = values;
        this.exampleSize = exampleSize;
        this.masks = masks;
        this.height = masks == null ? 0 : height;
        this.width = masks == null ? 0 : width;
        if (order != null && order.length != ids.length) throw new IllegalArgumentException("inconsistent shard order");
        this.order = order;
    }

    /** Where example {@code i} (in training order) is stored. */
    private int at(int i) { return order == null ? i : order[i]; }

    /** Packs classification records (already in training order); every record must have {@code exampleSize} values, all of one kind. */
    public static Shard of(int partition, List<ImageRecord> records, int exampleSize) {
        return of(partition, records, exampleSize, 0, 0);
    }

    /**
     * Packs records of shape {@code [channels, height, width]} (already in training order); records with masks
     * (segmentation) need the shape to lay their labels out as images.
     */
    public static Shard of(int partition, List<ImageRecord> records, int[] inputShape) {
        return of(partition, records, inputShape[0] * inputShape[1] * inputShape[2], inputShape[1], inputShape[2]);
    }

    private static Shard of(int partition, List<ImageRecord> records, int exampleSize, int height, int width) {
        int n = records.size();
        long[] ids = new long[n];
        int[] labels = new int[n];
        boolean floats = n > 0 && records.get(0).isFloat();
        boolean masked = n > 0 && records.get(0).hasMask();
        if (masked && height * width == 0) {
            throw new IllegalArgumentException("segmentation records need the image shape to be packed (Shard.of with inputShape)");
        }
        int plane = height * width;
        byte[] px = floats ? null : new byte[Math.multiplyExact(n, exampleSize)];
        float[] fv = floats ? new float[Math.multiplyExact(n, exampleSize)] : null;
        byte[] mk = masked ? new byte[Math.multiplyExact(n, plane)] : null;
        for (int i = 0; i < n; i++) {
            ImageRecord r = records.get(i);
            if (r.size() != exampleSize || r.isFloat() != floats) {
                throw new DataFormatException("record " + r.id() + " has " + r.size() + (r.isFloat() ? " float" : " byte")
                        + " values, expected " + exampleSize + (floats ? " float" : " byte") + " values (data.inputShape)");
            }
            if (r.hasMask() != masked || masked && r.mask().length != plane) {
                throw new DataFormatException("record " + r.id() + (r.hasMask() ? " has a mask of " + r.mask().length + " pixels" : " has no mask")
                        + ", expected " + (masked ? "a mask of " + height + "x" + width + " = " + plane + " pixels" : "no mask")
                        + ": segmentation and classification records cannot be mixed");
            }
            ids[i] = r.id();
            labels[i] = r.label();
            if (floats) System.arraycopy(r.values(), 0, fv, i * exampleSize, exampleSize);
            else System.arraycopy(r.pixels(), 0, px, i * exampleSize, exampleSize);
            if (masked) System.arraycopy(r.mask(), 0, mk, i * plane, plane);
        }
        return new Shard(partition, ids, labels, px, fv, exampleSize, mk, height, width);
    }

    /**
     * One shard from its pieces (the parts of it that came from different input partitions), ordered by sort key:
     * {@code keys.get(k)[i]} is the key of example {@code i} of piece {@code k}, and keys are unique across the
     * pieces. The pieces must hold one kind of example (bytes or floats, one size, masks of one size or none), as
     * {@link #of} packs them. An epoch's deal moves whole pieces, not records: a few large arrays per input
     * partition cost far less to shuffle than one serialized record per image.
     */
    public static Shard merge(int partition, List<Shard> pieces, List<long[]> keys) {
        if (pieces.size() != keys.size()) throw new IllegalArgumentException(pieces.size() + " pieces but " + keys.size() + " key arrays");
        int n = 0;
        for (int k = 0; k < pieces.size(); k++) {
            if (keys.get(k).length != pieces.get(k).size()) {
                throw new IllegalArgumentException("piece " + k + " has " + pieces.get(k).size() + " examples but " + keys.get(k).length + " keys");
            }
            n = Math.addExact(n, keys.get(k).length);
        }
        if (n == 0) return new Shard(partition, new long[0], new int[0], new byte[0], null, pieces.isEmpty() ? 0 : pieces.get(0).exampleSize);
        Shard first = pieces.stream().filter(s -> s.size() > 0).findFirst().orElseThrow();
        for (Shard s : pieces) {
            if (s.size() > 0 && (s.exampleSize != first.exampleSize || (s.values != null) != (first.values != null)
                    || s.hasMasks() != first.hasMasks() || s.height != first.height || s.width != first.width)) {
                throw new DataFormatException("record " + s.id(0) + " has " + s.exampleSize + (s.values != null ? " float" : " byte")
                        + " values" + (s.hasMasks() ? " and a " + s.height + "x" + s.width + " mask" : "") + ", record " + first.id(0)
                        + " has " + first.exampleSize + (first.values != null ? " float" : " byte") + " values"
                        + (first.hasMasks() ? " and a " + first.height + "x" + first.width + " mask" : "") + ": one dataset cannot mix them");
            }
        }
        long[] sorted = new long[n];
        int at = 0;
        for (long[] k : keys) {
            System.arraycopy(k, 0, sorted, at, k.length);
            at += k.length;
        }
        java.util.Arrays.sort(sorted);
        for (int i = 1; i < n; i++) {
            if (sorted[i] == sorted[i - 1]) throw new IllegalArgumentException("sort key " + sorted[i] + " is given twice");
        }
        int size = first.exampleSize, plane = first.maskSize();
        long[] ids = new long[n];
        int[] labels = new int[n];
        byte[] px = first.pixels != null ? new byte[Math.multiplyExact(n, size)] : null;
        float[] fv = first.values != null ? new float[Math.multiplyExact(n, size)] : null;
        byte[] mk = first.masks != null ? new byte[Math.multiplyExact(n, plane)] : null;
        for (int k = 0; k < pieces.size(); k++) {
            Shard s = pieces.get(k);
            long[] key = keys.get(k);
            for (int i = 0; i < key.length; i++) {
                int dst = java.util.Arrays.binarySearch(sorted, key[i]), src = s.at(i);
                ids[dst] = s.ids[src];
                labels[dst] = s.labels[src];
                if (px != null) System.arraycopy(s.pixels, src * size, px, dst * size, size);
                else System.arraycopy(s.values, src * size, fv, dst * size, size);
                if (mk != null) System.arraycopy(s.masks, src * plane, mk, dst * plane, plane);
            }
        }
        return new Shard(partition, ids, labels, px, fv, size, mk, first.height, first.width);
    }

    /** Example {@code i} as a record: copies of its values (and mask), so changing it leaves the shard alone. */
    public ImageRecord record(int example) {
        int i = at(example);
        byte[] mask = masks == null ? null : java.util.Arrays.copyOfRange(masks, i * maskSize(), (i + 1) * maskSize());
        return values != null
                ? new ImageRecord(ids[i], labels[i], null, java.util.Arrays.copyOfRange(values, i * exampleSize, (i + 1) * exampleSize), mask)
                : new ImageRecord(ids[i], labels[i], java.util.Arrays.copyOfRange(pixels, i * exampleSize, (i + 1) * exampleSize), null, mask);
    }

    /**
     * The examples in another order: example {@code k} of the result is example {@code order[k]} of this shard, passed
     * through {@code each} when it is not null (e.g. an epoch's augmentation; it must keep the example's size and kind).
     * Without {@code each} the result is a view: it shares this shard's arrays and holds only the order, so an epoch
     * that re-orders a cached shard costs 4 bytes per example instead of a copy of every image.
     */
    public Shard reordered(int[] order, java.util.function.UnaryOperator<ImageRecord> each) {
        int n = size();
        if (order.length != n) throw new IllegalArgumentException("an order of " + order.length + " examples for a shard of " + n);
        if (each != null) {
            List<ImageRecord> out = new java.util.ArrayList<>(n);
            for (int k : order) out.add(each.apply(record(k)));
            return of(partition, out, exampleSize, height, width);
        }
        boolean[] seen = new boolean[n];
        int[] stored = new int[n];
        for (int k = 0; k < n; k++) {
            int i = order[k];
            if (i < 0 || i >= n || seen[i]) throw new IllegalArgumentException("order[" + k + "] = " + i + " is not a permutation of [0, " + n + ")");
            seen[i] = true;
            stored[k] = at(i);
        }
        return new Shard(partition, ids, labels, pixels, values, exampleSize, masks, height, width, stored);
    }

    public int partition() { return partition; }
    public int size() { return ids.length; }
    public long id(int i) { return ids[at(i)]; }
    public int label(int i) { return labels[at(i)]; }
    public int exampleSize() { return exampleSize; }
    public boolean hasMasks() { return masks != null; }
    /** Pixels per mask ({@code height*width}); 0 without masks. */
    public int maskSize() { return height * width; }

    /** The class id of pixel {@code p} (row-major) of example {@code i}'s mask. */
    public int maskValue(int i, int p) { return masks[at(i) * maskSize() + p] & 0xFF; }

    /**
     * Examples {@code [from, to)} as a normalized DL4J mini-batch: features [n, C*H*W]; labels one-hot [n, classes],
     * or for segmentation one-hot per pixel [n, classes, H, W] (NCHW, the shape of a {@code CnnLossLayer}'s output).
     */
    public DataSet batch(int from, int to, Normalizer normalizer, int numClasses) {
        return batch(from, to, normalizer, numClasses, null);
    }

    /**
     * Arrays a training loop reuses from one mini-batch to the next of the same size. Creating a batch's ND4J arrays
     * costs about 1 ms (ND4J's native allocation: 0.97 ms for a 128 x 784 batch, measured) where copying into
     * existing ones costs 0.01 ms: for a small network that is a third of a training step. The returned batch's
     * arrays belong to the buffers: valid until the next batch, freed by {@link #close()}.
     */
    public static final class Buffers implements AutoCloseable {
        private INDArray features, labels;
        private float[] f, y;

        private static INDArray fill(INDArray into, float[] values, long[] shape) {
            if (into == null || !java.util.Arrays.equals(into.shape(), shape)) {
                if (into != null) into.close();
                into = Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');   // every value is written below
            }
            io.deepshard.core.util.FloatArrays.copyInto(values, into);
            return into;
        }

        private float[] f(int length) { return f != null && f.length == length ? f : (f = new float[length]); }

        /** A zeroed label array of this length (one-hot labels are written into zeros). */
        private float[] y(int length) {
            if (y != null && y.length == length) java.util.Arrays.fill(y, 0f);
            else y = new float[length];
            return y;
        }

        @Override public void close() {
            for (INDArray a : new INDArray[] {features, labels}) if (a != null && !a.wasClosed() && a.closeable()) a.close();
            features = labels = null;
        }
    }

    /** {@link #batch(int, int, Normalizer, int)} into {@code reuse}'s arrays when it is not null. */
    public DataSet batch(int from, int to, Normalizer normalizer, int numClasses, Buffers reuse) {
        int n = to - from;
        float[] f = reuse != null ? reuse.f(n * exampleSize) : new float[n * exampleSize];
        if (order == null) {
            if (values != null) normalizer.apply(values, from * exampleSize, f, 0, n, exampleSize);
            else normalizer.apply(pixels, from * exampleSize, f, 0, n, exampleSize);
        } else {
            for (int i = 0; i < n; i++) {
                int src = at(from + i) * exampleSize;
                if (values != null) normalizer.apply(values, src, f, i * exampleSize, 1, exampleSize);
                else normalizer.apply(pixels, src, f, i * exampleSize, 1, exampleSize);
            }
        }
        long[] featureShape = {n, exampleSize};
        INDArray features = reuse != null ? (reuse.features = Buffers.fill(reuse.features, f, featureShape)) : Buffers.fill(null, f, featureShape);
        if (masks != null) {
            int plane = maskSize();
            int length = Math.multiplyExact(n * numClasses, plane);
            float[] y = reuse != null ? reuse.y(length) : new float[length];
            for (int i = 0; i < n; i++) {
                int src = at(from + i) * plane, dst = i * numClasses * plane;
                for (int p = 0; p < plane; p++) {
                    int k = masks[src + p] & 0xFF;
                    if (k >= numClasses) {
                        throw new DataFormatException("record " + id(from + i) + ": mask pixel (x=" + p % width + ", y=" + p / width
                                + ") is " + k + ", outside [0, " + numClasses + ")");
                    }
                    y[dst + k * plane + p] = 1f;
                }
            }
            long[] shape = {n, numClasses, height, width};
            return new DataSet(features, reuse != null ? (reuse.labels = Buffers.fill(reuse.labels, y, shape)) : Buffers.fill(null, y, shape));
        }
        float[] y = reuse != null ? reuse.y(n * numClasses) : new float[n * numClasses];
        for (int i = 0; i < n; i++) y[i * numClasses + labels[at(from + i)]] = 1f;
        long[] shape = {n, numClasses};
        return new DataSet(features, reuse != null ? (reuse.labels = Buffers.fill(reuse.labels, y, shape)) : Buffers.fill(null, y, shape));
    }
}
