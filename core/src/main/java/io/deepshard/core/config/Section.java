package io.deepshard.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.DoublePredicate;
import java.util.function.LongPredicate;

/**
 * A typed, validating view of one YAML mapping. Every read records the key as known; {@link #finish()} reports
 * the keys nobody read (misspellings) with the closest known key. Problems go to the shared {@link ConfigErrors},
 * so one pass over a config reports everything that is wrong with it.
 */
public final class Section {
    private final String path;
    private final JsonNode node;
    private final ConfigErrors errors;
    private final Set<String> known = new LinkedHashSet<>();

    public Section(String path, JsonNode node, ConfigErrors errors) {
        this.path = path;
        this.node = node == null ? MissingNode.getInstance() : node;
        this.errors = errors;
        if (!this.node.isMissingNode() && !this.node.isNull() && !this.node.isObject()) {
            errors.add(pathOr("(top level)"), "must be a mapping of keys to values, found " + describe(this.node));
        }
    }

    public String path() { return path; }

    public ConfigErrors errors() { return errors; }

    public String keyPath(String key) { return path.isEmpty() ? key : path + "." + key; }

    private String pathOr(String fallback) { return path.isEmpty() ? fallback : path; }

    public boolean has(String key) {
        known.add(key);
        JsonNode v = node.get(key);
        return v != null && !v.isNull();
    }

    public JsonNode raw(String key) {
        known.add(key);
        JsonNode v = node.isObject() ? node.get(key) : null;
        return v == null || v.isNull() ? null : v;
    }

    public Section section(String key) { return new Section(keyPath(key), raw(key), errors); }

    public String string(String key, String dflt) {
        JsonNode v = raw(key);
        if (v == null) {
            if (dflt == null) errors.add(keyPath(key), "is required");
            return dflt;
        }
        if (!v.isValueNode() || v.isBinary()) {
            errors.add(keyPath(key), "must be a string, found " + describe(v));
            return dflt;
        }
        return v.asText();
    }

    public String choice(String key, String dflt, List<String> allowed) {
        String s = string(key, dflt);
        if (s == null) return null;
        String norm = s.trim().toLowerCase(java.util.Locale.ROOT);
        if (!allowed.contains(norm)) {
            errors.add(keyPath(key), "must be one of " + String.join(", ", allowed) + ", found '" + s + "'"
                    + suggestion(norm, allowed));
            return dflt;
        }
        return norm;
    }

    public long longValue(String key, Long dflt, LongPredicate ok, String rule) {
        JsonNode v = raw(key);
        if (v == null) {
            if (dflt == null) errors.add(keyPath(key), "is required (" + rule + ")");
            return dflt == null ? 0 : dflt;
        }
        if (!v.isIntegralNumber() && !(v.isTextual() && v.asText().matches("-?\\d+"))) {
            errors.add(keyPath(key), "must be an integer " + rule + ", found " + describe(v));
            return dflt == null ? 0 : dflt;
        }
        long x = v.asLong();
        if (!ok.test(x)) errors.add(keyPath(key), "must be an integer " + rule + ", found " + x);
        return x;
    }

    public int intValue(String key, Integer dflt, LongPredicate ok, String rule) {
        long x = longValue(key, dflt == null ? null : dflt.longValue(),
                v -> v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE && ok.test(v), rule);
        return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, x));
    }

    public double doubleValue(String key, Double dflt, DoublePredicate ok, String rule) {
        JsonNode v = raw(key);
        if (v == null) {
            if (dflt == null) errors.add(keyPath(key), "is required (" + rule + ")");
            return dflt == null ? Double.NaN : dflt;
        }
        double x;
        if (v.isNumber()) {
            x = v.asDouble();
        } else {
            try {
                x = Double.parseDouble(v.asText().trim());
            } catch (NumberFormatException e) {
                errors.add(keyPath(key), "must be a number " + rule + ", found " + describe(v));
                return dflt == null ? Double.NaN : dflt;
            }
        }
        if (!Double.isFinite(x) || !ok.test(x)) errors.add(keyPath(key), "must be a number " + rule + ", found " + v.asText());
        return x;
    }

    public boolean bool(String key, boolean dflt) {
        JsonNode v = raw(key);
        if (v == null) return dflt;
        if (v.isBoolean()) return v.asBoolean();
        if (v.isTextual() && (v.asText().equalsIgnoreCase("true") || v.asText().equalsIgnoreCase("false"))) {
            return Boolean.parseBoolean(v.asText());
        }
        errors.add(keyPath(key), "must be true or false, found " + describe(v));
        return dflt;
    }

    /** A list of integers of the given length ({@code -1}: any non-empty length), each satisfying {@code ok}. */
    public int[] intList(String key, int[] dflt, int length, LongPredicate ok, String rule) {
        JsonNode v = raw(key);
        if (v == null) {
            if (dflt == null) errors.add(keyPath(key), "is required (" + rule + ")");
            return dflt;
        }
        if (!v.isArray() || (length >= 0 && v.size() != length) || v.isEmpty()) {
            errors.add(keyPath(key), "must be " + rule + ", found " + describe(v));
            return dflt;
        }
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode e = v.get(i);
            if (!e.isIntegralNumber() || !ok.test(e.asLong())) {
                errors.add(keyPath(key), "must be " + rule + ", found " + describe(v));
                return dflt;
            }
            out[i] = e.asInt();
        }
        return out;
    }

    /** Reports every key in this mapping that no reader asked for. */
    public void finish() {
        if (!node.isObject()) return;
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k)) {
                errors.add(keyPath(k), "unknown key" + suggestion(k, new ArrayList<>(known))
                        + (known.isEmpty() ? "" : " (known here: " + String.join(", ", known) + ")"));
            }
        }
    }

    static String describe(JsonNode v) {
        if (v == null || v.isNull()) return "nothing";
        if (v.isTextual()) return "'" + v.asText() + "'";
        if (v.isObject()) return "a mapping " + v;
        if (v.isArray()) return "a list " + v;
        return v.toString();
    }

    static String suggestion(String found, List<String> candidates) {
        String best = null;
        int bestDist = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = editDistance(found.toLowerCase(java.util.Locale.ROOT), c.toLowerCase(java.util.Locale.ROOT));
            if (d < bestDist) { bestDist = d; best = c; }
        }
        return best != null && bestDist <= Math.max(2, found.length() / 3) ? " (did you mean '" + best + "'?)" : "";
    }

    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }
}
