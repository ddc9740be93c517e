package io.deepshard.core.data;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Writes images and labels as an IDX pair (MNIST layout), raw or gzip-compressed. */
public final class IdxWriter {
    private IdxWriter() {}

    public static void write(Path images, Path labels, byte[][] pixels, int[] classes, int rows, int cols, boolean gzip)
            throws IOException {
        if (pixels.length != classes.length) throw new IllegalArgumentException(pixels.length + " images but " + classes.length + " labels");
        try (var out = open(images, gzip)) {
            out.writeInt(IdxFiles.IMAGES_MAGIC);
            out.writeInt(pixels.length);
            out.writeInt(rows);
            out.writeInt(cols);
            for (byte[] p : pixels) {
                if (p.length != rows * cols) throw new IllegalArgumentException("image of " + p.length + " bytes, expected " + rows * cols);
                out.write(p);
            }
        }
        try (var out = open(labels, gzip)) {
            out.writeInt(IdxFiles.LABELS_MAGIC);
            out.writeInt(classes.length);
            for (int c : classes) {
                if (c < 0 || c > 255) throw new IllegalArgumentException("label " + c + " does not fit in a byte");
                out.write(c);
            }
        }
    }

    private static DataOutputStream open(Path p, boolean gzip) throws IOException {
        OutputStream o = Files.newOutputStream(p);
        return new DataOutputStream(new BufferedOutputStream(gzip ? new GZIPOutputStream(o) : o, 1 << 16));
    }
}
