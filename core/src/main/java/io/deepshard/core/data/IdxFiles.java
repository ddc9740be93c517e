package io.deepshard.core.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import io.deepshard.core.util.Fs;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Reader of the IDX format of the MNIST family (LeCun's {@code *-images-idx3-ubyte} and {@code *-labels-idx1-ubyte}),
 * raw or gzip-compressed (recognized by content, not by name), from any Hadoop file system.
 *
 * <p>{@link #describe} reads and cross-checks only the two headers (cheap, on the driver); {@link #read} reads a range
 * of records (inside a Spark task). Every defect is reported with the file, and the record where there is one.
 */
public final class IdxFiles {
    public static final int IMAGES_MAGIC = 0x00000803;
    public static final int LABELS_MAGIC = 0x00000801;

    private IdxFiles() {}

    /** What the headers of an images/labels pair say. */
    public record Pair(String images, String labels, long count, int rows, int cols, boolean imagesGzip, boolean labelsGzip)
            implements Serializable {
        public int imageBytes() { return rows * cols; }
    }

    public static Pair describe(Configuration conf, String imagesUri, String labelsUri) {
        try (var img = open(conf, imagesUri); var lab = open(conf, labelsUri)) {
            int im = img.data.readInt();
            if (im != IMAGES_MAGIC) throw badMagic(imagesUri, im, IMAGES_MAGIC, "images");
            int lm = lab.data.readInt();
            if (lm != LABELS_MAGIC) throw badMagic(labelsUri, lm, LABELS_MAGIC, "labels");
            long n = Integer.toUnsignedLong(img.data.readInt());
            int rows = img.data.readInt(), cols = img.data.readInt();
            long nl = Integer.toUnsignedLong(lab.data.readInt());
            if (rows <= 0 || cols <= 0 || (long) rows * cols > 1 << 26) {
                throw new DataFormatException(imagesUri + ": image size " + rows + "x" + cols + " in the header is not valid");
            }
            if (n != nl) {
                throw new DataFormatException("IDX count mismatch: " + imagesUri + " holds " + n + " images but "
                        + labelsUri + " holds " + nl + " labels");
            }
            // Raw files have an exact expected length: check it now rather than mid-training.
            checkLength(conf, imagesUri, img.gzip, 16 + n * rows * cols, n + " images of " + rows + "x" + cols);
            checkLength(conf, labelsUri, lab.gzip, 8 + n, n + " labels");
            return new Pair(imagesUri, labelsUri, n, rows, cols, img.gzip, lab.gzip);
        } catch (EOFException e) {
            throw new DataFormatException("IDX file too short to hold its header: " + imagesUri + " / " + labelsUri, e);
        } catch (IOException e) {
            throw new DataFormatException("cannot read IDX files " + imagesUri + " / " + labelsUri + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads records {@code [from, to)}. A label outside {@code [0, numClasses)} makes that record bad (the caller's
     * policy decides); a file that ends early fails the whole read, naming the record where it ended.
     */
    public static List<Decoded> read(Configuration conf, Pair p, long from, long to, int numClasses) {
        int size = p.imageBytes();
        var out = new ArrayList<Decoded>((int) (to - from));
        try (var img = open(conf, p.images()); var lab = open(conf, p.labels())) {
            skipFully(img.data, 16 + from * size, p.images(), from, size, 16);
            skipFully(lab.data, 8 + from, p.labels(), from, 1, 8);
            for (long i = from; i < to; i++) {
                byte[] px = new byte[size];
                int got = img.data.readNBytes(px, 0, size);
                if (got < size) throw truncated(p.images(), i, got, size, p.count(), 16 + p.count() * size);
                int label = lab.data.read();
                if (label < 0) throw truncated(p.labels(), i, 0, 1, p.count(), 8 + p.count());
                if (label >= numClasses) {
                    out.add(Decoded.bad(new BadRecord(i, p.labels() + " record " + i, BadRecord.Reason.LABEL_OUT_OF_RANGE,
                            "label " + label + " is outside [0, " + numClasses + ") (data.numClasses = " + numClasses + ")")));
                } else {
                    out.add(Decoded.ok(new ImageRecord(i, label, px)));
                }
            }
        } catch (IOException e) {
            throw new DataFormatException("cannot read IDX files " + p.images() + " / " + p.labels() + ": " + e.getMessage(), e);
        }
        return out;
    }

    private static void skipFully(DataInputStream in, long n, String file, long record, int recordSize, int header)
            throws IOException {
        try {
            in.skipNBytes(n);
        } catch (EOFException e) {
            throw new DataFormatException(file + " is truncated: it ends before record " + record
                    + " (header " + header + " bytes + " + recordSize + " bytes per record)");
        }
    }

    private static DataFormatException truncated(String file, long record, int got, int recordSize, long count, long expectedBytes) {
        String where = got == 0 ? "before record " + record : "inside record " + record + " (" + got + " of " + recordSize + " bytes)";
        return new DataFormatException(file + " is truncated: it ends " + where + " of " + count
                + " (the header promises " + expectedBytes + " bytes in all)");
    }

    private static DataFormatException badMagic(String file, int found, int expected, String what) {
        return new DataFormatException(String.format("%s is not an IDX %s file: magic number 0x%08X, expected 0x%08X",
                file, what, found, expected));
    }

    private static void checkLength(Configuration conf, String uri, boolean gzip, long expected, String what) throws IOException {
        if (gzip) return; // checked while reading: the compressed size says nothing
        Path path = new Path(uri);
        long len = Fs.fs(path, conf).getFileStatus(path).getLen();
        if (len != expected) {
            throw new DataFormatException(uri + " has " + len + " bytes, but its header promises " + what
                    + " = " + expected + " bytes" + (len < expected ? " (truncated)" : " (trailing data)"));
        }
    }

    private record Opened(DataInputStream data, boolean gzip) implements AutoCloseable {
        @Override public void close() throws IOException { data.close(); }
    }

    private static Opened open(Configuration conf, String uri) throws IOException {
        Path path = new Path(uri);
        FileSystem fs = Fs.fs(path, conf);
        InputStream raw;
        try {
            raw = new BufferedInputStream(fs.open(path), 1 << 16);
        } catch (java.io.FileNotFoundException e) {
            throw new DataFormatException("IDX file not found: " + uri);
        }
        raw.mark(2);
        int b0 = raw.read(), b1 = raw.read();
        raw.reset();
        boolean gz = b0 == 0x1f && b1 == 0x8b;
        InputStream in = gz ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16) : raw;
        return new Opened(new DataInputStream(in), gz);
    }
}
