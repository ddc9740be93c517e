package io.deepshard.core.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * Where one split comes from: a built-in dataset ({@code fashion-mnist:train}, or {@code shapes-segmentation:train},
 * generated on first use), an IDX images/labels pair, or a URI
 * whose format is given by {@code data.format} or found when it is read ({@code auto}: a folder of class folders, or
 * an IDX images file named by the MNIST rule).
 *
 * @param builtIn a built-in name, or null
 * @param uri     the images file (IDX) or dataset root (folder), or null for built-ins
 * @param labels  the IDX labels file, or null
 */
public record DataSource(String builtIn, String uri, String labels) implements Serializable {

    public static DataSource builtIn(String name) { return new DataSource(name, null, null); }

    public static DataSource idx(String images, String labels) { return new DataSource(null, images, labels); }

    public static DataSource uri(String uri) { return new DataSource(null, uri, null); }

    public boolean isBuiltIn() { return builtIn != null; }

    public boolean isIdx() { return labels != null; }

    /** The IDX images file (same as {@link #uri()}). */
    public String images() { return uri; }

    /** The form written back into a resolved config and provenance. */
    public Object describe() {
        return isBuiltIn() ? builtIn : isIdx() ? Map.of("images", uri, "labels", labels) : uri;
    }

    @Override public String toString() { return String.valueOf(describe()); }

    static DataSource from(Section s, String key, boolean required, String format) {
        JsonNode v = s.raw(key);
        String path = s.keyPath(key);
        if (v == null) {
            if (required) s.errors().add(path, "is required (a built-in name such as fashion-mnist:train, or a URI)");
            return null;
        }
        if (v.isObject()) {
            Section m = new Section(path, v, s.errors());
            String images = m.string("images", null);
            String labels = m.string("labels", null);
            m.finish();
            return images == null || labels == null ? null : idx(images, labels);
        }
        if (!v.isTextual() || v.asText().isBlank()) {
            s.errors().add(path, "must be a built-in name or a URI, found " + Section.describe(v));
            return null;
        }
        String text = v.asText().trim();
        if (BuiltInNames.isBuiltInForm(text)) {
            if (!BuiltInNames.ALL.contains(text)) {
                s.errors().add(path, "unknown built-in dataset '" + text + "' (known: " + String.join(", ", BuiltInNames.ALL) + ")"
                        + Section.suggestion(text, BuiltInNames.ALL));
                return null;
            }
            return builtIn(text);
        }
        String labels = labelsFor(text);
        if (format.equals("idx") && labels == null) {
            s.errors().add(path, "cannot find the labels file for '" + text + "': name the images file like "
                    + "train-images-idx3-ubyte[.gz], or give {images: ..., labels: ...}");
            return null;
        }
        if (labels != null && (format.equals("idx") || format.equals("auto"))) return idx(text, labels);
        return uri(text);
    }

    static String labelsFor(String imagesUri) {
        int slash = imagesUri.lastIndexOf('/');
        String dir = imagesUri.substring(0, slash + 1), name = imagesUri.substring(slash + 1);
        if (name.contains("images-idx3")) return dir + name.replace("images-idx3", "labels-idx1");
        if (name.contains("images.idx3")) return dir + name.replace("images.idx3", "labels.idx1");
        return null;
    }

    /** The built-in dataset names, known without touching the file system. */
    public static final class BuiltInNames {
        public static final List<String> ALL = List.of("fashion-mnist:train", "fashion-mnist:test", "mnist:train", "mnist:test",
                "shapes-segmentation:train", "shapes-segmentation:test");

        /** Built-in segmentation datasets (generated on first use; images with masks). */
        public static boolean isSegmentation(String name) { return name.startsWith("shapes-segmentation:"); }

        /** {@code name:split} with no slash: a URI scheme is always followed by a path. */
        static boolean isBuiltInForm(String s) { return s.matches("[a-z0-9-]+:[a-z0-9-]*"); }

        private BuiltInNames() {}
    }
}
