package io.deepshard.core.train;

import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * <p>Known-bad combinations (STACK.md): NHWC activations with the helpers train to chance accuracy; SameDiff layers
 * diverge. The zoo uses neither. {@code OneDnnHelpersTest} checks the helpers' outputs and gradients against
 * DL4J's built-in layers computing in float64.
 */
public final class OneDnnHelpers {
    public static final String DISABLE_PROPERTY = "org.eclipse.deeplearning4j.helpers.disable";
    private static final Logger LOG = LoggerFactory.getLogger(OneDnnHelpers.class);
    private static volatile Status status;

    /** What this JVM runs with; {@link #describe()} is the one-line form for logs and provenance. */
    public record Status(boolean available, boolean enabled, String reason) {
        public String describe() {
            return (enabled ? "on" : "off") + " (" + reason + ")";
        }
    }

    private OneDnnHelpers() {}

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
