package io.deepshard.jobs;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DataConfig;
import io.deepshard.core.data.BadRecordException;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.util.Fs;
import io.deepshard.core.viz.ActivationMaximizer;
import io.deepshard.core.viz.FeatureMaps;
import io.deepshard.core.viz.Filters;
import io.deepshard.core.viz.Grid;
import io.deepshard.core.viz.Probe;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code visualize --model RUN_DIR}: pictures of what a trained model has learned, without Spark (driver-only work):
 * <ul>
 *   <li>{@code filters.png}: the first layer's weights ({@link Filters});</li>
 *   <li>{@code maximize-<layer>.png}: per chosen unit, channel or class, the input that maximizes it, found by
 *       regularized gradient ascent on the input ({@link ActivationMaximizer});</li>
 *   <li>{@code features-<layer>-<image>.png}: a layer's feature maps for each {@code --image}, decoded, resized and
 *       normalized exactly as training read its data ({@link FeatureMaps});</li>
 *   <li>{@code visualization.json}: every PNG with its layer, grid layout, targets (tile order) and each target's
 *       objective and activation before and after the ascent.</li>
 * </ul>
 * Everything is checked (layers, units, classes, images, output folder) before the work starts; the folder is
 * written through a temporary sibling and renamed, so it appears complete or not at all.
 */
@Command(name = "visualize", mixinStandardHelpOptions = true,
        description = "Visualize a trained model: first-layer filters, inputs that maximize chosen units/channels/classes, "
                + "feature maps of given images (PNG, no Spark).")
public final class VisualizeJob implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "RUN_DIR", description = "A run directory (or its model/ folder).")
    String model;

    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (default: RUN_DIR/visualizations/<UTC time>).")
    String out;

    @Option(names = "--overwrite", description = "Replace --out if it exists and is not empty.")
    boolean overwrite;

    @Option(names = "--layers", split = ",", paramLabel = "NAME", description = "Layers to maximize and to show feature maps "
            + "of (default: the first and last convolution layers, or for a model without convolutions the first and last "
            + "dense layers, and the output layer; feature maps of every convolution or dense layer; in batch-norm blocks "
            + "the layer applying the activation function).")
    List<String> layers;

    @Option(names = "--units", paramLabel = "N", defaultValue = "8",
            description = "Maximize the first N units/channels of each layer (default: ${DEFAULT-VALUE}).")
    int units;

    @Option(names = "--unit-indices", split = ",", paramLabel = "I", description = "Maximize these units/channels of each "
            + "layer instead of the first --units.")
    List<Integer> unitIndices;

    @Option(names = "--classes", paramLabel = "all|NAME,...", defaultValue = "all",
            description = "Classes (names or indices) to maximize at the output layer (default: ${DEFAULT-VALUE}).")
    String classes;

    @Option(names = "--steps", defaultValue = "100", description = "Gradient-ascent steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--learning-rate", defaultValue = "0.05", description = "RMS change of the input at the first step, as a "
            + "fraction of the pixel range; falls linearly to 0 (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--l2-decay", defaultValue = "0.01", description = "Per-step pull towards mid-grey, in [0, 1) (default: ${DEFAULT-VALUE}).")
    double l2Decay;

    @Option(names = "--blur-every", defaultValue = "4", description = "Blur the input every this many steps (default: ${DEFAULT-VALUE}).")
    int blurEvery;

    @Option(names = "--blur-sigma", defaultValue = "0.5", description = "Gaussian blur radius in pixels, 0 = none (default: ${DEFAULT-VALUE}).")
    double blurSigma;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the start noise (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--image", paramLabel = "PATH", description = "An image to show feature maps for (repeatable).")
    List<String> images = new ArrayList<>();

    public static void main(String[] args) { Cli.exit(Cli.run(new VisualizeJob(), args)); }

    /** One layer to maximize: its targets (units, or classes of the output layer). */
    record Targets(Probe.Layer layer, int[] units) {}

    /** An image given with {@code --image}: where it came from, its file-name stem, its normalized pixels. */
    record Input(String path, String stem, float[] values) {}

    @Override public Integer call() throws IOException {
        ActivationMaximizer.Settings settings = settings();
        Console console = Console.system();
        Configuration hadoop = new Configuration();
        ModelBundle bundle;
        try {
            bundle = ModelBundle.load(hadoop, model);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw new ConfigException("--model", List.of(e.getMessage()));
        }
        DataConfig data = ConfigLoader.parse(bundle.configYaml(), model + "/" + ModelBundle.DIR + "/config.yaml", List.of()).data();
        int[] shape = data.inputShape();
        Probe probe = new Probe(bundle.network(), shape);
        List<Targets> targets = targets(probe, bundle.labels());
        List<Probe.Layer> featureLayers = featureLayers(probe);
        List<Input> inputs = inputs(hadoop, data, bundle);
        Path dir = outputDir(hadoop);

        var entries = new ArrayList<Map<String, Object>>();
        var files = new LinkedHashMap<String, byte[]>();
        var filters = Filters.of(bundle.network(), shape);
        if (filters.isPresent()) {
            Filters.Result f = filters.get();
            files.put("filters.png", f.grid().png());
            var e = entry("filters.png", "filters", f.layer(), f.grid());
            e.put("weights", f.kind());
            e.put("count", f.count());
            e.put("shown", f.shown());
            entries.add(e);
        } else {
            console.info("filters: skipped, the first layer with weights is neither a convolution nor a dense layer on the image");
        }
        ActivationMaximizer maximizer = new ActivationMaximizer(probe, bundle.normalizer());
        var table = new StringBuilder(String.format(Locale.ROOT, "%-16s %6s  %-16s %12s %12s%n", "layer", "unit", "class", "before", "after"));
        for (Targets t : targets) {
            long t0 = System.nanoTime();
            ActivationMaximizer.Result r = maximizer.maximize(t.layer().name(), t.units(), settings);
            console.info(String.format(Locale.ROOT, "maximized %d %s of %s in %.1f s", t.units().length,
                    t.layer().output() ? "classes" : "units", t.layer().name(), (System.nanoTime() - t0) / 1e9));
            String file = "maximize-" + safe(t.layer().name()) + ".png";
            Grid grid = Grid.of(Arrays.stream(r.pixels()).map(Grid::fromPixels).toList(), shape[0], shape[1], shape[2], 64);
            files.put(file, grid.png());
            var e = entry(file, "maximize", t.layer().name(), grid);
            e.put("objective", probe.objective(t.layer().name()));
            var list = new ArrayList<Map<String, Object>>();
            for (int i = 0; i < t.units().length; i++) {
                var m = new LinkedHashMap<String, Object>();
                m.put("unit", t.units()[i]);
                if (t.layer().output()) m.put("class", bundle.labels().get(t.units()[i]));
                m.put("before", r.before()[i]);
                m.put("after", r.after()[i]);
                m.put("activationBefore", r.activationBefore()[i]);
                m.put("activationAfter", r.activationAfter()[i]);
                list.add(m);
                table.append(String.format(Locale.ROOT, "%-16s %6d  %-16s %12.4f %12.4f%n", t.layer().name(), t.units()[i],
                        t.layer().output() ? bundle.labels().get(t.units()[i]) : "", r.before()[i], r.after()[i]));
            }
            e.put("targets", list);
            entries.add(e);
        }
        for (Input in : inputs) {
            var acts = probe.activations(in.values(), 1);
            for (Probe.Layer l : featureLayers) {
                FeatureMaps.Result fm = FeatureMaps.of(acts.get(l.name()));
                String file = "features-" + safe(l.name()) + "-" + in.stem() + ".png";
                files.put(file, fm.grid().png());
                var e = entry(file, "features", l.name(), fm.grid());
                e.put("image", in.path());
                e.put("tiles", fm.tiles());
                e.put("black", fm.min());
                e.put("white", fm.max());
                entries.add(e);
            }
        }
        var json = new LinkedHashMap<String, Object>();
        json.put("createdAt", Instant.now().toString());
        json.put("model", Fs.display(Fs.path(model)));
        json.put("inputShape", shape);
        var set = new LinkedHashMap<String, Object>();
        set.put("steps", settings.steps());
        set.put("learningRate", settings.learningRate());
        set.put("l2Decay", settings.l2Decay());
        set.put("blurEvery", settings.blurEvery());
        set.put("blurSigma", settings.blurSigma());
        set.put("seed", settings.seed());
        json.put("settings", set);
        json.put("images", entries);
        files.put("visualization.json", ModelBundle.JSON.writeValueAsBytes(json));
        Fs.writeDirectoryAtomically(hadoop, dir, (fs, tmp) -> {
            for (var f : files.entrySet()) {
                try (OutputStream o = fs.create(new Path(tmp, f.getKey()))) {
                    o.write(f.getValue());
                }
            }
        });
        if (!targets.isEmpty()) console.info(table.toString().stripTrailing());
        if (inputs.isEmpty()) console.info("feature maps: none (give --image PATH)");
        console.info(String.format(Locale.ROOT, "%d PNGs and visualization.json in %s", files.size() - 1, Fs.display(dir)));
        return 0;
    }

    private static Map<String, Object> entry(String file, String kind, String layer, Grid grid) {
        var m = new LinkedHashMap<String, Object>();
        m.put("file", file);
        m.put("kind", kind);
        m.put("layer", layer);
        m.put("grid", grid.toJson());
        return m;
    }

    /** The ascent settings; every bad value is reported at once, by option. */
    private ActivationMaximizer.Settings settings() {
        var problems = new ArrayList<String>();
        if (steps < 1) problems.add("--steps must be >= 1, found " + steps);
        if (!(learningRate > 0 && learningRate <= 1)) problems.add("--learning-rate must be in (0, 1], found " + learningRate);
        if (!(l2Decay >= 0 && l2Decay < 1)) problems.add("--l2-decay must be in [0, 1), found " + l2Decay);
        if (blurEvery < 1) problems.add("--blur-every must be >= 1, found " + blurEvery);
        if (!(blurSigma >= 0 && blurSigma <= 10)) problems.add("--blur-sigma must be in [0, 10], found " + blurSigma);
        if (units < 1) problems.add("--units must be >= 1, found " + units);
        if (!problems.isEmpty()) throw new ConfigException("visualize options", problems);
        return new ActivationMaximizer.Settings(steps, learningRate, l2Decay, blurEvery, blurSigma, seed);
    }

    /** The layers to maximize and their units; the output layer's are the chosen classes. */
    private List<Targets> targets(Probe probe, List<String> labels) {
        List<Probe.Layer> chosen;
        if (layers != null) {
            chosen = named(probe, layers);
        } else {
            List<Probe.Layer> base = defaultKind(probe);
            var set = new LinkedHashSet<Probe.Layer>();
            if (!base.isEmpty()) {
                set.add(base.get(0));
                set.add(base.get(base.size() - 1));
            }
            probe.layers().stream().filter(Probe.Layer::output).forEach(set::add);
            chosen = List.copyOf(set);
        }
        var out = new ArrayList<Targets>();
        for (Probe.Layer l : chosen) {
            int[] u;
            if (l.output()) {
                u = classes(labels, l);
            } else if (unitIndices != null) {
                for (int i : unitIndices) {
                    if (i < 0 || i >= l.units()) {
                        throw new ConfigException("--unit-indices", List.of("unit " + i + " is out of range for layer " + l.name()
                                + ", which has " + l.units() + (l.shape().length > 2 ? " channels" : " units") + " (0.." + (l.units() - 1) + ")"));
                    }
                }
                u = unitIndices.stream().mapToInt(Integer::intValue).toArray();
            } else {
                u = java.util.stream.IntStream.range(0, Math.min(units, l.units())).toArray();
            }
            out.add(new Targets(l, u));
        }
        return out;
    }

    /** Feature-map layers: {@code --layers}, else every convolution layer (or, without any, every dense layer). */
    private List<Probe.Layer> featureLayers(Probe probe) {
        return layers != null ? named(probe, layers) : defaultKind(probe);
    }

    /**
     * The convolution layers, or without any the dense layers; each replaced by the layer that applies its activation
     * function when that is a separate one (batch-norm blocks), so that the ReLU output is shown and maximized.
     */
    private static List<Probe.Layer> defaultKind(Probe probe) {
        List<Probe.Layer> conv = probe.layers().stream().filter(l -> l.kind() == Probe.Kind.CONVOLUTION).toList();
        List<Probe.Layer> base = conv.isEmpty() ? probe.layers().stream().filter(l -> l.kind() == Probe.Kind.DENSE).toList() : conv;
        return base.stream().map(probe::activated).distinct().toList();
    }

    private static List<Probe.Layer> named(Probe probe, List<String> names) {
        var out = new ArrayList<Probe.Layer>();
        for (String n : new LinkedHashSet<>(names)) {
            Probe.Layer l = probe.layer(n.trim());
            if (l == null) {
                throw new ConfigException("--layers", List.of("unknown layer '" + n + "'; the model's layers are: "
                        + probe.layers().stream().map(x -> x.name() + " (" + x.type() + ")").collect(Collectors.joining(", "))));
            }
            out.add(l);
        }
        return out;
    }

    /** {@code --classes}: all, or class names and indices. */
    private int[] classes(List<String> labels, Probe.Layer output) {
        if (classes.trim().equalsIgnoreCase("all")) return java.util.stream.IntStream.range(0, output.units()).toArray();
        var out = new LinkedHashSet<Integer>();
        for (String c : classes.split(",")) {
            String name = c.trim();
            int k = labels.indexOf(name);
            if (k < 0 && name.matches("\\d+")) k = Integer.parseInt(name) < output.units() ? Integer.parseInt(name) : -1;
            if (k < 0) {
                throw new ConfigException("--classes", List.of("unknown class '" + name + "'; the model's classes are: "
                        + String.join(", ", labels) + " (or indices 0.." + (output.units() - 1) + ", or all)"));
            }
            out.add(k);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The {@code --image} files, decoded and normalized as training read its data; unique file-name stems. */
    private List<Input> inputs(Configuration hadoop, DataConfig data, ModelBundle bundle) {
        int[] s = data.inputShape();
        ImageDecoder decoder = new ImageDecoder(s[0], s[1], s[2], data.resize());
        var out = new ArrayList<Input>();
        var stems = new LinkedHashSet<String>();
        for (String uri : images) {
            Path p = Fs.path(uri);
            byte[] encoded;
            try (var in = Fs.fs(p, hadoop).open(p)) {
                encoded = in.readAllBytes();
            } catch (java.io.FileNotFoundException e) {
                throw new ConfigException("--image", List.of("no such file: " + Fs.display(p)));
            } catch (IOException e) {
                throw new ConfigException("--image", List.of("cannot read " + Fs.display(p) + ": " + e.getMessage()));
            }
            byte[] pixels;
            try {
                pixels = decoder.decode(encoded);
            } catch (BadRecordException e) {
                throw new ConfigException("--image", List.of(Fs.display(p) + ": " + e.getMessage()));
            }
            float[] x = new float[pixels.length];
            bundle.normalizer().apply(pixels, 0, x, 0, 1, pixels.length);
            String base = safe(p.getName().replaceFirst("\\.[^.]*$", "")), stem = base;
            for (int i = 2; !stems.add(stem); i++) stem = base + "-" + i;
            out.add(new Input(Fs.display(p), stem, x));
        }
        return out;
    }

    /** {@code --out}, or a new folder under the run; an existing non-empty folder only with {@code --overwrite}. */
    private Path outputDir(Configuration hadoop) throws IOException {
        Path run = Fs.path(model);
        if (run.getName().equals(ModelBundle.DIR)) run = run.getParent();
        Path dir = out != null ? Fs.path(out) : new Path(run, "visualizations/" + TrainJob.RunDirectory.timestamp());
        FileSystem fs = Fs.fs(dir, hadoop);
        if (fs.exists(dir)) {
            FileStatus st = fs.getFileStatus(dir);
            if (!st.isDirectory()) throw new ConfigException("--out", List.of(Fs.display(dir) + " exists and is a file"));
            if (fs.listStatus(dir).length > 0 && !overwrite) {
                throw new ConfigException("--out", List.of(Fs.display(dir) + " exists and is not empty; choose another --out or add --overwrite"));
            }
        }
        return dir;
    }

    private static String safe(String name) { return name.replaceAll("[^A-Za-z0-9._-]", "_"); }
}
