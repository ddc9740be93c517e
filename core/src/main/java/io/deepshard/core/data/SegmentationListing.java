package io.deepshard.core.data;

import io.deepshard.core.util.Fs;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeMap;

/**
 * The files of a segmentation dataset, found on the driver (paths only; images are decoded in tasks):
 * {@code <root>/images/<name>.<ext>} with its mask {@code <root>/masks/<name>.<ext>}, paired by their path below
 * {@code images/} and {@code masks/} without the extension (so {@code images/a/0001.jpg} pairs with
 * {@code masks/a/0001.png}). Pairs are sorted by that name, which makes ids stable. Masks hold one class id per
 * pixel, 0 = background.
 *
 * <p>Class names come from an optional {@code classes.txt} (one name per line, class 0 first) in the root or its
 * parent (the generator writes it next to {@code train/} and {@code test/}); else {@code background, 1, 2, ...}.
 * An image without a mask and a mask without an image are {@link BadRecord}s naming both paths.
 */
public final class SegmentationListing implements Serializable {
    public static final String IMAGES = "images";
    public static final String MASKS = "masks";
    public static final String CLASSES_FILE = "classes.txt";

    /** One image and its mask. */
    public record Entry(String image, String mask) implements Serializable {}

    private final String root;
    private final List<String> classNames;
    private final List<Entry> entries;
    private final List<BadRecord> bad;

    private SegmentationListing(String root, List<String> classNames, List<Entry> entries, List<BadRecord> bad) {
        this.root = root;
        this.classNames = List.copyOf(classNames);
        this.entries = List.copyOf(entries);
        this.bad = List.copyOf(bad);
    }

    public String root() { return root; }
    public List<String> classNames() { return classNames; }
    public List<Entry> entries() { return entries; }
    /** Unpaired files (each to be failed on or counted). */
    public List<BadRecord> bad() { return bad; }

    /** True when {@code rootUri} is a folder holding {@code images/} and {@code masks/} folders. */
    public static boolean isSegmentationRoot(Configuration conf, String rootUri) {
        Path root = Fs.path(rootUri);
        FileSystem fs = Fs.fs(root, conf);
        try {
            return isDir(fs, new Path(root, IMAGES)) && isDir(fs, new Path(root, MASKS));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    /**
     * Lists {@code rootUri}. {@code classes} (from the training split) names the classes of a test split; else they
     * come from {@code classes.txt} or are numbered, and must number {@code numClasses}.
     */
    public static SegmentationListing list(Configuration conf, String rootUri, int numClasses, List<String> classes) {
        Path root = Fs.path(rootUri);
        FileSystem fs = Fs.fs(root, conf);
        try {
            if (!fs.exists(root)) throw new DataFormatException("no such folder: " + root);
            Path images = new Path(root, IMAGES), masks = new Path(root, MASKS);
            if (!isDir(fs, images) || !isDir(fs, masks)) {
                throw new DataFormatException(root + " is not a segmentation dataset: expected the folders " + IMAGES + "/ and "
                        + MASKS + "/ in it (images/<name>.png with masks/<name>.png), or train/ and test/ folders that hold them");
            }
            List<String> names = classes != null ? classes : classNames(fs, root, numClasses);
            TreeMap<String, String> imageByKey = new TreeMap<>(), maskByKey = new TreeMap<>();
            var bad = new ArrayList<BadRecord>();
            index(fs, images, imageByKey, bad, "image");
            index(fs, masks, maskByKey, bad, "mask");
            var entries = new ArrayList<Entry>();
            for (var e : imageByKey.entrySet()) {
                String mask = maskByKey.get(e.getKey());
                if (mask != null) {
                    entries.add(new Entry(e.getValue(), mask));
                } else {
                    bad.add(new BadRecord(-1, e.getValue(), BadRecord.Reason.MISSING_MASK, "image has no mask: expected "
                            + new Path(masks, e.getKey()) + ".<png|...>"));
                }
            }
            for (var e : maskByKey.entrySet()) {
                if (!imageByKey.containsKey(e.getKey())) {
                    bad.add(new BadRecord(-1, e.getValue(), BadRecord.Reason.MISSING_IMAGE, "mask has no image: expected "
                            + new Path(images, e.getKey()) + ".<png|jpg|...>"));
                }
            }
            return new SegmentationListing(root.toString(), names, entries, bad);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    /**
     * Splits off a validation part: a seeded choice of round(fraction × n) pairs (at least one when there are two or
     * more). Returns {train, validation}; unpaired files stay with the training part.
     */
    public SegmentationListing[] split(double fraction, long seed) {
        int n = entries.size();
        var train = new ArrayList<Entry>();
        var val = new ArrayList<Entry>();
        HoldoutRule rule = new HoldoutRule(n, fraction, seed, 0x5E6_0000L);
        for (int i = 0; i < n; i++) (rule.heldOut(i) ? val : train).add(entries.get(i));
        return new SegmentationListing[] {new SegmentationListing(root, classNames, train, bad),
                new SegmentationListing(root, classNames, val, List.of())};
    }

    /** Reads and decodes one pair inside a task: the record, or why it cannot be used (naming both files). */
    public static Decoded decode(Configuration conf, ImageDecoder decoder, long id, Entry e, int numClasses) {
        byte[] image, mask;
        try {
            image = read(conf, e.image());
        } catch (IOException ex) {
            return Decoded.bad(new BadRecord(id, e.image(), BadRecord.Reason.UNREADABLE, "cannot read the file: " + ex.getMessage()));
        }
        try {
            mask = read(conf, e.mask());
        } catch (IOException ex) {
            return Decoded.bad(new BadRecord(id, e.image(), BadRecord.Reason.UNREADABLE, "cannot read its mask " + e.mask() + ": " + ex.getMessage()));
        }
        try {
            ImageDecoder.Pair p = decoder.decodePair(image, mask, e.mask(), numClasses);
            return Decoded.ok(ImageRecord.segmented(id, p.pixels(), p.mask(), numClasses));
        } catch (BadRecordException ex) {
            return Decoded.bad(ex.toBadRecord(id, e.image()));
        }
    }

    private static byte[] read(Configuration conf, String path) throws IOException {
        Path p = new Path(path);
        try (InputStream in = Fs.fs(p, conf).open(p)) {
            return in.readAllBytes();
        }
    }

    private static List<String> classNames(FileSystem fs, Path root, int numClasses) throws IOException {
        for (Path dir : new Path[] {root, root.getParent()}) {
            if (dir == null) continue;
            Path f = new Path(dir, CLASSES_FILE);
            if (fs.exists(f) && fs.getFileStatus(f).isFile()) {
                List<String> names;
                try (InputStream in = fs.open(f)) {
                    names = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().map(String::trim).filter(s -> !s.isEmpty()).toList();
                }
                if (names.size() != numClasses) {
                    throw new DataFormatException(f + " names " + names.size() + " classes " + names + ", but data.numClasses is "
                            + numClasses + " (classes include the background, class 0)");
                }
                return names;
            }
        }
        var names = new ArrayList<String>(List.of("background"));
        for (int k = 1; k < numClasses; k++) names.add(Integer.toString(k));
        return names;
    }

    /** Files below {@code dir} by their relative path without extension; a second file of the same name is bad. */
    private static void index(FileSystem fs, Path dir, TreeMap<String, String> byKey, List<BadRecord> bad, String what) throws IOException {
        var files = new ArrayList<Path>();
        RemoteIterator<LocatedFileStatus> it = fs.listFiles(dir, true);
        while (it.hasNext()) {
            Path p = it.next().getPath();
            if (!hiddenBelow(dir, p)) files.add(p);
        }
        files.sort(Comparator.comparing(Path::toString));
        String prefix = fs.makeQualified(dir).toUri().getPath();
        for (Path p : files) {
            String rel = p.toUri().getPath().substring(prefix.length() + (prefix.endsWith("/") ? 0 : 1));
            int dot = rel.lastIndexOf('.');
            String key = dot > rel.lastIndexOf('/') + 1 ? rel.substring(0, dot) : rel;
            String other = byKey.putIfAbsent(key, p.toString());
            if (other != null) {
                bad.add(new BadRecord(-1, p.toString(), what.equals("image") ? BadRecord.Reason.MISSING_MASK : BadRecord.Reason.MISSING_IMAGE,
                        "another " + what + " has the same name without extension (" + other + "), so this one has no "
                                + (what.equals("image") ? "mask" : "image") + " of its own"));
            }
        }
    }

    private static boolean isDir(FileSystem fs, Path p) throws IOException { return fs.exists(p) && fs.getFileStatus(p).isDirectory(); }

    private static boolean hiddenBelow(Path dir, Path p) {
        for (Path q = p; q != null && !q.equals(dir); q = q.getParent()) {
            if (q.getName().startsWith(".") || q.getName().startsWith("_")) return true;
        }
        return false;
    }
}
