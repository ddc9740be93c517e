package io.deepshard.core.util;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/** Hadoop file-system helpers: one code path for file://, hdfs:// and s3a://; writes that never leave half a file. */
public final class Fs {
    private Fs() {}

    @FunctionalInterface
    public interface Writer { void write(OutputStream out) throws IOException; }

    /** A path; a bare path without scheme is taken on the local file system, relative to the working directory. */
    public static Path path(String uri) {
        if (!uri.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:.*")) {
            // not Path.toUri(): that appends '/' to existing directories, and paths would print two ways
            String abs = java.nio.file.Path.of(uri).toAbsolutePath().normalize().toString();
            try {
                return new Path(new java.net.URI("file", null, abs, null));
            } catch (java.net.URISyntaxException e) {
                throw new IllegalArgumentException("not a valid path: " + uri, e);
            }
        }
        return new Path(uri);
    }

    /** The file system of {@code p}; for local paths the raw one, so no {@code .crc} side files are written. */
    public static FileSystem fs(Path p, Configuration conf) {
        try {
            FileSystem fs = p.getFileSystem(conf);
            return fs instanceof org.apache.hadoop.fs.LocalFileSystem local ? local.getRaw() : fs;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the file system of " + p + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code target} through a temporary sibling and a rename: readers see the old file or the whole new one. */
    public static void writeAtomically(Configuration conf, Path target, Writer writer) {
        FileSystem fs = fs(target, conf);
        Path tmp = new Path(target.getParent(), "." + target.getName() + ".tmp-" + UUID.randomUUID());
        try {
            try (OutputStream out = fs.create(tmp, false)) {
                writer.write(out);
            }
            if (fs.exists(target)) fs.delete(target, false);
            if (!fs.rename(tmp, target)) throw new IOException("rename " + tmp + " -> " + target + " failed");
        } catch (IOException e) {
            try { fs.delete(tmp, false); } catch (IOException ignored) { /* best effort */ }
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /** Fills a directory with files (a {@link #writeDirectoryAtomically} callback). */
    @FunctionalInterface
    public interface DirectoryWriter { void write(FileSystem fs, Path dir) throws IOException; }

    /**
     * Writes the directory {@code target} through a hidden temporary sibling filled by {@code writer} and a rename; a
     * previous {@code target} is moved aside first and deleted after. Readers see the old directory or the whole new
     * one, never a mix. On failure the temporary directory is removed and the exception rethrown.
     */
    public static void writeDirectoryAtomically(Configuration conf, Path target, DirectoryWriter writer) throws IOException {
        FileSystem fs = fs(target, conf);
        Path tmp = new Path(target.getParent(), "." + target.getName() + ".tmp-" + UUID.randomUUID());
        try {
            fs.mkdirs(tmp);
            writer.write(fs, tmp);
            Path old = new Path(target.getParent(), "." + target.getName() + ".old-" + UUID.randomUUID());
            boolean hadOld = fs.exists(target);
            if (hadOld && !fs.rename(target, old)) throw new IOException("cannot move the previous " + target + " aside");
            if (!fs.rename(tmp, target)) throw new IOException("cannot rename " + tmp + " to " + target);
            if (hadOld) fs.delete(old, true);
        } catch (IOException | RuntimeException e) {
            try { fs.delete(tmp, true); } catch (IOException ignored) { /* best effort */ }
            throw e;
        }
    }

    public static void writeString(Configuration conf, Path target, String text) {
        writeAtomically(conf, target, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    /** A path as a user reads it: local paths without the {@code file:} scheme. */
    public static String display(Path p) {
        return "file".equals(p.toUri().getScheme()) ? p.toUri().getPath() : p.toString();
    }

    public static String readString(Configuration conf, Path p) {
        try (var in = fs(p, conf).open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }
}
