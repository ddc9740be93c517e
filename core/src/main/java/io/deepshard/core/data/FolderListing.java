package io.deepshard.core.data;

import io.deepshard.core.util.Fs;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The files of a class-per-folder image dataset, found on the driver (paths only; images are decoded in tasks).
 * Every folder directly under the root is a class, named by the folder (Caltech-256 {@code 001.ak47},
 * ImageNet {@code n01440764}, or plain names); files anywhere below a class folder belong to it. Classes are sorted by
 * folder name and files by path, so ids and class indices are stable. Names starting with {@code .} or {@code _}
 * ({@code .DS_Store}, {@code _SUCCESS}) are not data and are passed over.
 *
 * <p>Problems found here become {@link BadRecord}s: an empty class folder, a file outside any class folder, and (for a
 * split read against another split's classes) a class folder the training split does not have.
 */
public final class FolderListing implements Serializable {
    /** One image file with its class. */
    public record Entry(String path, int label) implements Serializable {}

    private final String root;
    private final List<String> classNames;
    private final List<Entry> entries;
    private final List<BadRecord> bad;

    private FolderListing(String root, List<String> classNames, List<Entry> entries, List<BadRecord> bad) {
        this.root = root;
        this.classNames = List.copyOf(classNames);
        this.entries = List.copyOf(entries);
        this.bad = List.copyOf(bad);
    }

    public String root() { return root; }
    public List<String> classNames() { return classNames; }
    public List<Entry> entries() { return entries; }
    /** Problems of the layout itself (each to be failed on or counted). */
    public List<BadRecord> bad() { return bad; }

    /** Lists {@code rootUri}; with {@code classes} given, class folders are mapped onto that list (e.g. a test split). */
    public static FolderListing list(Configuration conf, String rootUri, List<String> classes) {
        Path root = Fs.path(rootUri);
        FileSystem fs = Fs.fs(root, conf);
        try {
            FileStatus[] top;
            try {
                top = fs.listStatus(root);
            } catch (FileNotFoundException e) {
                throw new DataFormatException("no such folder: " + root);
            }
            if (!fs.getFileStatus(root).isDirectory()) throw new DataFormatException(root + " is a file, not a folder of class folders");
            Arrays.sort(top, Comparator.comparing(s -> s.getPath().getName()));
            var bad = new ArrayList<BadRecord>();
            var dirs = new ArrayList<FileStatus>();
            for (FileStatus s : top) {
                if (hidden(s.getPath())) continue;
                if (s.isDirectory()) dirs.add(s);
                else bad.add(new BadRecord(-1, s.getPath().toString(), BadRecord.Reason.NOT_IN_CLASS_FOLDER,
                        "file directly in the dataset root; images must be in a folder named after their class"));
            }
            if (dirs.isEmpty()) throw new DataFormatException(root + " has no class folders (expected <root>/<class>/<image files>)");
            List<String> names = classes != null ? classes : dirs.stream().map(d -> d.getPath().getName()).toList();
            var entries = new ArrayList<Entry>();
            for (FileStatus d : dirs) {
                String name = d.getPath().getName();
                int label = names.indexOf(name);
                List<String> files = files(fs, d.getPath());
                if (files.isEmpty()) {
                    bad.add(new BadRecord(-1, d.getPath().toString(), BadRecord.Reason.EMPTY_CLASS_FOLDER, "class folder '" + name + "' holds no files"));
                } else if (label < 0) {
                    for (String f : files) {
                        bad.add(new BadRecord(-1, f, BadRecord.Reason.UNKNOWN_CLASS, "class folder '" + name
                                + "' is not one of the training classes " + names));
                    }
                } else {
                    for (String f : files) entries.add(new Entry(f, label));
                }
            }
            return new FolderListing(root.toString(), names, entries, bad);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    /**
     * Every file below {@code rootUri} (recursively, sorted by path; hidden files passed over) as one unlabeled list, for
     * prediction: no class names, every entry's label is 0. {@link #isUnlabeled()} tells such a listing apart.
     */
    public static FolderListing unlabeled(Configuration conf, String rootUri) {
        Path root = Fs.path(rootUri);
        FileSystem fs = Fs.fs(root, conf);
        try {
            if (!fs.exists(root)) throw new DataFormatException("no such folder: " + root);
            if (!fs.getFileStatus(root).isDirectory()) throw new DataFormatException(root + " is a file, not a folder of images");
            List<Entry> entries = files(fs, root).stream().map(f -> new Entry(f, 0)).toList();
            if (entries.isEmpty()) throw new DataFormatException(root + " holds no image files");
            return new FolderListing(root.toString(), List.of(), entries, List.of());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    /**
     * True when {@code rootUri} holds image files directly and no folders: the layout of images to predict, not of a
     * class-per-folder dataset.
     */
    public static boolean isFlat(Configuration conf, String rootUri) {
        Path root = Fs.path(rootUri);
        FileSystem fs = Fs.fs(root, conf);
        try {
            boolean files = false;
            for (FileStatus s : fs.listStatus(root)) {
                if (hidden(s.getPath())) continue;
                if (s.isDirectory()) return false;
                files = true;
            }
            return files;
        } catch (FileNotFoundException e) {
            throw new DataFormatException("no such folder: " + root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    /** A listing of images without classes ({@link #unlabeled}). */
    public boolean isUnlabeled() { return classNames.isEmpty(); }

    /**
     * Splits off a validation part: per class, a seeded choice of round(fraction × n) files (at least one when a class
     * has two or more). Returns {train, validation}; the layout problems stay with the training part.
     */
    public FolderListing[] split(double fraction, long seed) {
        var train = new ArrayList<Entry>();
        var val = new ArrayList<Entry>();
        for (int c = 0; c < classNames.size(); c++) {
            final int cls = c;
            List<Entry> of = entries.stream().filter(e -> e.label() == cls).toList();
            int n = of.size();
            HoldoutRule rule = new HoldoutRule(n, fraction, seed, 0x5EED_0000L + c);
            for (int i = 0; i < n; i++) (rule.heldOut(i) ? val : train).add(of.get(i));
        }
        Comparator<Entry> byPath = Comparator.comparing(Entry::path);
        train.sort(byPath);
        val.sort(byPath);
        return new FolderListing[] {new FolderListing(root, classNames, train, bad), new FolderListing(root, classNames, val, List.of())};
    }

    /** If {@code root} holds {@code train/} and {@code test/} or {@code val/}: those two folders; else null. */
    public static String[] trainTestFolders(Configuration conf, String rootUri) {
        Path root = Fs.path(rootUri);
        FileSystem fs = Fs.fs(root, conf);
        try {
            if (!fs.exists(new Path(root, "train")) || !fs.getFileStatus(new Path(root, "train")).isDirectory()) return null;
            for (String t : List.of("test", "val", "validation")) {
                Path p = new Path(root, t);
                if (fs.exists(p) && fs.getFileStatus(p).isDirectory()) return new String[] {new Path(root, "train").toString(), p.toString()};
            }
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    private static List<String> files(FileSystem fs, Path dir) throws IOException {
        var out = new ArrayList<String>();
        RemoteIterator<LocatedFileStatus> it = fs.listFiles(dir, true);
        while (it.hasNext()) {
            LocatedFileStatus s = it.next();
            if (!hiddenBelow(dir, s.getPath())) out.add(s.getPath().toString());
        }
        out.sort(null);
        return out;
    }

    private static boolean hidden(Path p) { return p.getName().startsWith(".") || p.getName().startsWith("_"); }

    private static boolean hiddenBelow(Path dir, Path p) {
        for (Path q = p; q != null && !q.equals(dir); q = q.getParent()) if (hidden(q)) return true;
        return false;
    }
}
