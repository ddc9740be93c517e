package org.nd4j.nativeblas;

/**
 * Compatibility class that lets DL4J 1.0.0-M2.x use its own oneDNN layer helpers. Not Deepshard API.
 *
 * <p>DL4J's {@code BaseMKLDNNHelper.mklDnnEnabled()} decides whether the oneDNN conv/pooling/batch-norm helpers may
 * run by reflecting on {@code org.nd4j.nativeblas.Nd4jCpu$Environment#isUseMKLDNN()}. In M2 that class moved to
 * {@code org.nd4j.linalg.cpu.nativecpu.bindings.Nd4jCpu$Environment} and the method was renamed {@code isUseONEDNN},
 * so the check fails and every helper is silently dropped, even with the {@code linux-x86_64-onednn} native build.
 * This class restores the name DL4J looks for and forwards to the real one (bench/NATIVE.md: LeNet-5 training
 * 2.8-3.4x faster, ResNet-20 6.2x).
 *
 * <p>It is only read by reflection ({@code DL4JClassLoading.loadClassByName}); when a future DL4J fixes the lookup,
 * delete it. {@link io.deepshard.core.train.OneDnnHelpers} is what turns the helpers on.
 */
public final class Nd4jCpu {
    private Nd4jCpu() {}

    public static final class Environment {
        private static final Environment INSTANCE = new Environment();

        private Environment() {}

        public static Environment getInstance() {
            return INSTANCE;
        }

        /** True when the loaded libnd4jcpu was built with oneDNN and has it switched on. */
        public boolean isUseMKLDNN() {
            return org.nd4j.linalg.cpu.nativecpu.bindings.Nd4jCpu.Environment.getInstance().isUseONEDNN();
        }
    }
}
