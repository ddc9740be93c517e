package io.deepshard.core.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.Serializable;

/**
 * Where one split comes from: a built-in dataset ({@code fashion-mnist:train}) or an IDX images/labels pair.
 * A plain URI names the images file; the labels file is found by the MNIST naming rule
 * ({@code *-images-idx3-ubyte*} → {@code *-labels-idx1-ubyte*}).
 */
public record DataSource(String builtIn, String images, String labels) implements Serializable {

    public static DataSource builtIn(String name) { return new DataSource(name, null, null); }

    public static DataSource idx(String images, String labels) { return new DataSource(null, images, labels); }

    public boolean isBuiltIn() { return builtIn != null; }

    /** The form written back into a resolved config and provenance. */
    public Object describe() {
        return isBuiltIn() ? builtIn : java.util.Map.of("images", images, "labels", labels);
    }

    static DataSource from(Section s, String key, boolean required) {
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
        if (labels == null) {
            s.errors().add(path, "cannot find the labels file for '" + text + "': name the images file like "
                    + "train-images-idx3-ubyte[.gz], or give {images: ..., labels: ...}");
            return null;
        }
        return idx(text, labels);
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
        public static final java.util.List<String> ALL =
                java.util.List.of("fashion-mnist:train", "fashion-mnist:test", "mnist:train", "mnist:test");

        /** {@code name:split} with no slash: a URI scheme is always followed by a path. */
        static boolean isBuiltInForm(String s) { return s.matches("[a-z0-9-]+:[a-z0-9-]*"); }

        private BuiltInNames() {}
    }
}
