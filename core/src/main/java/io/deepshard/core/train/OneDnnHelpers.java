package io.deepshard.core.train;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Turns on DL4J's oneDNN layer helpers (convolution, pooling, batch normalization, LRN) when the loaded ND4J native
 * build has oneDNN. Measured (bench/NATIVE.md): LeNet-5 training 2.8-3.4x faster, ResNet-20 6.2x, same accuracy.
 *
 * <p>Three things must all hold, and in DL4J 1.0.0-M2.x none does by default:
 * <ol>
 *   <li>the {@code nd4j-native} {@code linux-x86_64-onednn} build on the classpath (a dependency of core; JavaCPP
 *   picks the {@code -onednn} extension first);</li>
 *   <li>the compatibility class {@link org.nd4j.nativeblas.Nd4jCpu} (DL4J's availability check looks for a class
 *   that moved);</li>
 *   <li>system property {@value #DISABLE_PROPERTY} = {@code false} (DL4J defaults it to {@code true}).</li>
 * </ol>
 * {@link #enable()} sets the property unless the user set it, so {@code -Dorg.eclipse.deeplearning4j.helpers.disable=true}
 * switches the helpers off for a run. DL4J reads the property when a layer is created, so call this before building
 * a network; all of Deepshard's network constructors do.
 *
 * <p><b>Engines</b> ({@code training.engine}). {@link #build(String, Supplier)} creates a network with the layer
 * implementations of an engine: {@code dl4j} = DL4J's built-in layers (im2col + OpenBLAS GEMM), {@code onednn} = the
 * oneDNN helpers wherever a layer has one, {@code auto} = {@code onednn} when this JVM's ND4J build has oneDNN and the
 * user did not switch the helpers off with {@code -D}{@value #DISABLE_PROPERTY}{@code =true}. The engine changes only
 * which kernels compute a layer: parameters, updater state, checkpoints, bundles and averaging are DL4J's in both.
 * Dense and output layers have no oneDNN helper and run on OpenBLAS in both engines. DL4J reads the switch when a
 * layer is created, from a JVM-wide system property, so {@code build} sets it under a lock for the duration of the
 * creation and restores it after; networks created elsewhere (DL4J's own {@code clone()}) get the JVM default.
 *
 * <p>Known-bad combinations (STACK.md): NHWC activations with the helpers train to chance accuracy; SameDiff layers
 * diverge. The zoo uses neither. {@code OneDnnHelpersTest} checks the helpers' outputs and gradients against
 * DL4J's built-in layers computing in float64.
 */
public final class OneDnnHelpers {
    public static final String DISABLE_PROPERTY = "org.eclipse.deeplearning4j.helpers.disable";
    private static final Logger LOG = LoggerFactory.getLogger(OneDnnHelpers.class);
    private static volatile Status status;
    private static final Object CREATE_LOCK = new Object();

    /** What this JVM runs with; {@link #describe()} is the one-line form for logs and provenance. */
    public record Status(boolean available, boolean enabled, String reason) {
        public String describe() {
            return (enabled ? "on" : "off") + " (" + reason + ")";
        }
    }

    private OneDnnHelpers() {}

    /** The engine a config value ({@code auto}, {@code dl4j}, {@code onednn}; null = auto) resolves to in this JVM. */
    public static String resolve(String engine) {
        String e = engine == null ? "auto" : engine;
        Status s = enable();
        return switch (e) {
            case "dl4j" -> "dl4j";
            case "onednn" -> {
                if (!s.available()) {
                    throw new IllegalStateException("training.engine is onednn, but " + s.reason()
                            + " (or use engine auto, which falls back to dl4j)");
                }
                yield "onednn";
            }
            case "auto" -> s.enabled() ? "onednn" : "dl4j";
            default -> throw new IllegalArgumentException("unknown training.engine '" + e + "' (expected auto, dl4j or onednn)");
        };
    }

    /**
     * The engine to load a trained model with: the one it was trained with, except that a model trained with
     * {@code onednn} loads on {@code dl4j} (with a warning) where this JVM has no oneDNN. Inference computes the same
     * function on either engine, so refusing to load it there would help nobody.
     */
    public static String forLoading(String trainedWith) {
        String e = forLoading(trainedWith, enable().available());
        if (!e.equals(trainedWith == null ? "auto" : trainedWith)) {
            LOG.warn("the model was trained with training.engine onednn, but {}: it runs on DL4J's built-in layers here", enable().reason());
        }
        return e;
    }

    static String forLoading(String trainedWith, boolean onednnAvailable) {
        String e = trainedWith == null ? "auto" : trainedWith;
        return "onednn".equals(e) && !onednnAvailable ? "dl4j" : e;
    }

    /**
     * Runs {@code creator} (which creates and initializes DL4J layers: {@code new ComputationGraph(..).init()}, a model
     * restore) with the layer implementations of {@code engine} ({@code auto}, {@code dl4j} or {@code onednn}).
     */
    public static <T> T build(String engine, Supplier<T> creator) {
        String resolved = resolve(engine);
        synchronized (CREATE_LOCK) {
            String before = System.getProperty(DISABLE_PROPERTY);
            System.setProperty(DISABLE_PROPERTY, "dl4j".equals(resolved) ? "true" : "false");
            try {
                return creator.get();
            } finally {
                if (before == null) System.clearProperty(DISABLE_PROPERTY);
                else System.setProperty(DISABLE_PROPERTY, before);
            }
        }
    }

    /**
     * Which layers of {@code net} run on oneDNN, for logs and provenance: e.g. {@code "onednn: 2 ConvolutionLayer,
     * 2 SubsamplingLayer on oneDNN; 3 other layers on DL4J/OpenBLAS"}.
     */
    public static String describe(String resolvedEngine, ComputationGraph net) {
        String direct = null;
        if ("onednn".equals(resolvedEngine)) {
            if (NetworkPool.directSwitchedOff()) {
                direct = "direct oneDNN engine switched off (-D" + NetworkPool.DIRECT_PROPERTY + "=false)";
            } else {
                var why = io.deepshard.core.engine.OneDnnNet.unsupported(net);
                if (why.isEmpty()) {
                    var updater = io.deepshard.core.engine.OneDnnNet.updaterFallback(net);
                    return resolvedEngine + ": all " + net.getLayers().length + " layers on the direct oneDNN engine, "
                            + (updater.isEmpty() ? "fused optimizer step" : "DL4J's optimizer step (" + updater.get() + ")");
                }
                direct = "direct oneDNN engine not used: " + why.get();
            }
        }
        Map<String, Integer> fast = new TreeMap<>();
        int other = 0;
        for (Layer l : net.getLayers()) {
            if (l.getHelper() != null) fast.merge(l.getClass().getSimpleName(), 1, Integer::sum);
            else other++;
        }
        StringBuilder b = new StringBuilder(resolvedEngine).append(": ");
        if (fast.isEmpty()) b.append("no layer on oneDNN; ");
        else {
            fast.forEach((k, v) -> b.append(v).append(' ').append(k).append(", "));
            b.setLength(b.length() - 2);
            b.append(" on oneDNN; ");
        }
        b.append(other).append(" layer(s) on DL4J/OpenBLAS");
        if (direct != null) b.append(" (").append(direct).append(')');
        return b.toString();
    }

    /** How many layers of {@code net} run on a oneDNN helper. */
    public static int onednnLayers(ComputationGraph net) {
        int n = 0;
        for (Layer l : net.getLayers()) if (l.getHelper() != null) n++;
        return n;
    }

    /** Enables the helpers if oneDNN is available and the user did not switch them off. Idempotent, thread-safe. */
    public static Status enable() {
        Status s = status;
        if (s != null) return s;
        synchronized (OneDnnHelpers.class) {
            if (status == null) {
                status = decide();
                LOG.info("oneDNN layer helpers: {}", status.describe());
            }
            return status;
        }
    }

    private static Status decide() {
        boolean available = onednnBuildLoaded();
        String user = System.getProperty(DISABLE_PROPERTY);
        if (!available) {
            return new Status(false, false, "the loaded ND4J native library has no oneDNN: put nd4j-native's "
                    + "linux-x86_64-onednn build on the classpath");
        }
        if (user != null && Boolean.parseBoolean(user)) {
            return new Status(true, false, "disabled by -D" + DISABLE_PROPERTY + "=" + user);
        }
        System.setProperty(DISABLE_PROPERTY, "false");
        return new Status(true, true, "ND4J " + Nd4j.getExecutioner().getEnvironmentInformation().getProperty("backend", "CPU")
                + " built with oneDNN; conv, pooling, batch norm");
    }

    private static boolean onednnBuildLoaded() {
        try {
            Nd4j.getBackend(); // loads the native library
            return org.nd4j.linalg.cpu.nativecpu.bindings.Nd4jCpu.Environment.getInstance().isUseONEDNN();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }
}
