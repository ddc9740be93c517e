package io.deepshard.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.Serializable;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code tune}: hyper-parameter search (the {@code tune} job). Each trial is the config with some keys set to other
 * values, trained like {@code train} (with its early stopping) and ranked on the validation split.
 * <pre>
 * tune:
 *   method: grid            # or random
 *   trials: 10              # random: how many (grid: every combination)
 *   seed: 7                 # random: the draws (default training.seed)
 *   parallel: 2             # trials at once, each in its own Spark scheduler pool
 *   metric: validation-accuracy
 *   space:
 *     training.optimizer.learningRate: {min: 1e-4, max: 1, scale: log, points: 5}
 *     training.batchSize: [32, 64]
 * </pre>
 *
 * @param space each key: a config key path and its candidate values ({@link Dimension})
 */
public record TuneSpec(String method, int trials, Long seed, int parallel, String metric, Map<String, Dimension> space)
        implements Serializable {
    public static final List<String> METHODS = List.of("grid", "random");
    public static final List<String> METRICS = List.of("validation-accuracy", "validation-loss");
    /** More grid trials than this is a mistake more often than a plan; random search takes {@code trials}. */
    public static final int MAX_GRID = 1000;

    /**
     * One searched key: a list of values, or a range {@code [min, max]} on a linear or log scale, which a grid samples at
     * {@code points} evenly spaced points (geometrically on a log scale) and a random search uniformly (log-uniformly).
     *
     * @param values the candidate values as YAML text (null for a range)
     */
    public record Dimension(List<String> values, double min, double max, boolean log, int points) implements Serializable {
        /** The grid's values of this key, as YAML text. */
        public List<String> gridValues() {
            if (values != null) return values;
            var out = new ArrayList<String>();
            for (int i = 0; i < points; i++) {
                double f = points == 1 ? 0 : (double) i / (points - 1);
                out.add(yamlNumber(log ? Math.exp(Math.log(min) + f * (Math.log(max) - Math.log(min))) : min + f * (max - min)));
            }
            return out;
        }

        String draw(SplittableRandom r) {
            if (values != null) return values.get(r.nextInt(values.size()));
            double u = r.nextDouble();
            return yamlNumber(log ? Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))) : min + u * (max - min));
        }
    }

    /** Six significant digits, never exponent notation (so YAML reads it back as the number it is). */
    public static String yamlNumber(double v) {
        return new BigDecimal(v).round(new MathContext(6)).stripTrailingZeros().toPlainString();
    }

    static TuneSpec from(Section s) {
        String method = s.choice("method", "grid", METHODS);
        int trials = s.intValue("trials", "random".equals(method) ? null : 0, v -> v >= 1 && v <= 100_000, ">= 1");
        Long seed = s.has("seed") ? s.longValue("seed", 0L, v -> true, "") : null;
        int parallel = s.intValue("parallel", 1, v -> v >= 1 && v <= 64, "in [1, 64]");
        String metric = s.choice("metric", "validation-accuracy", METRICS);
        var space = new LinkedHashMap<String, Dimension>();
        JsonNode node = s.raw("space");
        if (node == null || !node.isObject() || node.isEmpty()) {
            s.errors().add(s.keyPath("space"), "must map config keys to the values to try, e.g. space: {training.optimizer.learningRate: "
                    + "{min: 0.0001, max: 1, scale: log, points: 5}}, found " + Section.describe(node));
        } else {
            Section sp = s.section("space");
            node.fieldNames().forEachRemaining(k -> {
                Dimension d = dimension(sp, k);
                if (d != null) space.put(k, d);
            });
            sp.finish();
        }
        s.finish();
        var spec = new TuneSpec(method, trials, seed, parallel, metric, space);
        if (method.equals("grid") && !space.isEmpty()) {
            long n = space.values().stream().mapToLong(d -> d.values() != null ? d.values().size() : d.points()).reduce(1, Math::multiplyExact);
            if (n > MAX_GRID) s.errors().add(s.keyPath("space"), "the grid has " + n + " combinations (more than " + MAX_GRID
                    + "): use method: random with trials: N, or fewer values");
        }
        return spec;
    }

    private static Dimension dimension(Section space, String key) {
        JsonNode v = space.raw(key);
        String where = space.keyPath(key);
        if (key.startsWith("tune") || key.equals("output") || key.startsWith("output.")) {
            space.errors().add(where, "cannot be searched");
            return null;
        }
        if (v.isArray()) {
            if (v.isEmpty()) {
                space.errors().add(where, "has no values");
                return null;
            }
            var values = new ArrayList<String>();
            v.forEach(x -> values.add(x.isTextual() ? x.asText() : x.isFloatingPointNumber() ? yamlNumber(x.asDouble()) : x.toString()));
            return new Dimension(List.copyOf(values), 0, 0, false, 0);
        }
        if (v.isObject()) {
            Section r = space.section(key);
            double min = r.doubleValue("min", null, x -> true, "");
            double max = r.doubleValue("max", null, x -> true, "");
            boolean log = "log".equals(r.choice("scale", "linear", List.of("linear", "log")));
            int points = r.intValue("points", 5, x -> x >= 1 && x <= MAX_GRID, "in [1, " + MAX_GRID + "]");
            r.finish();
            if (!(max > min)) space.errors().add(where + ".max", "must be greater than min (" + min + "), found " + max);
            else if (log && min <= 0) space.errors().add(where + ".min", "must be > 0 on a log scale, found " + min);
            return new Dimension(null, min, max, log, points);
        }
        space.errors().add(where, "must be a list of values or a range {min, max, scale, points}, found " + Section.describe(v));
        return null;
    }

    /**
     * The trials, each the values of the searched keys (config key path → YAML text) in {@link #space} order: a grid's
     * combinations (the first key changing slowest), or {@code trials} random draws seeded with {@code seed}.
     */
    public List<Map<String, String>> expand(long defaultSeed) {
        var out = new ArrayList<Map<String, String>>();
        if (method.equals("grid")) {
            out.add(new LinkedHashMap<>());
            for (Map.Entry<String, Dimension> e : space.entrySet()) {
                var next = new ArrayList<Map<String, String>>();
                for (Map<String, String> partial : out) {
                    for (String v : e.getValue().gridValues()) {
                        var m = new LinkedHashMap<>(partial);
                        m.put(e.getKey(), v);
                        next.add(m);
                    }
                }
                out = next;
            }
        } else {
            var r = new SplittableRandom(seed != null ? seed : defaultSeed);
            for (int i = 0; i < trials; i++) {
                var m = new LinkedHashMap<String, String>();
                space.forEach((k, d) -> m.put(k, d.draw(r)));
                out.add(m);
            }
        }
        return out;
    }

    /** Whether larger values of the metric are better. */
    public boolean higherIsBetter() { return metric.equals("validation-accuracy"); }

    void writeDefaults(ObjectNode t) {
        t.put("method", method);
        if (method.equals("random")) t.put("trials", trials);
        if (seed != null) t.put("seed", seed);
        t.put("parallel", parallel);
        t.put("metric", metric);
    }
}
