package io.deepshard.core.engine;

import org.bytedeco.javacpp.FloatPointer;
import org.deeplearning4j.nn.api.Trainable;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.updater.UpdaterBlock;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.learning.regularization.L2Regularization;
import org.nd4j.linalg.learning.regularization.Regularization;
import org.nd4j.linalg.schedule.ISchedule;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * DL4J's updater step in one pass over the flat arrays: for each parameter, divide its gradient by the batch size,
 * add L2 ({@code g += l2 * w}), run the optimizer (SGD, Nesterov momentum or Adam, with their learning-rate and
 * momentum schedules) on DL4J's own updater-state array in DL4J's layout, and apply {@code w -= update}. The same
 * arithmetic, in the same order and precision, as DL4J's {@code BaseMultiLayerUpdater} with libnd4j's
 * {@code sgd_updater}, {@code nesterovs_updater} and {@code adam_updater}; those spend 1.6-2.8 ms per step on the MLP
 * 784-256-128-10 (libnd4j's updater loops are not vectorized), this 0.2-0.3 ms (docs/native.md).
 *
 * Batch norm's running mean and variance (DL4J's NoOp updater, not divided by the batch size) take their update as
 * it is: {@code w -= g}.
 *
 * <p>Anything else (other optimizers, L1 or weight decay, gradient normalization, frozen layers) is reported by
 * {@link #unsupported} and left to DL4J's updater.
 */
final class FusedUpdater {

    private record Range(int start, int end, ISchedule l2) {}

    private record Block(IUpdater config, int paramStart, int paramEnd, FloatBuffer state, List<Range> params) {}

    /**
     * Elements per call of a loop method. Short calls get the loop compiled as a whole method, which the JIT
     * vectorizes; one call over all parameters gets it compiled on-stack-replaced, which it sometimes did not (Adam
     * at 1.9 ms instead of 0.4 ms per step on the MLP, from one JVM start to the next).
     */
    private static final int CHUNK = 4096;

    private final List<Block> blocks;
    private final FloatBuffer params, gradient;
    // Heap copies of one chunk at a time (parameters, gradient, the optimizer's state), filled and written back with
    // bulk copies (memcpy): loops over float[] are vectorized by the JIT, loops over direct buffers are not (Adam over
    // 235k parameters: 0.11 ms vs 0.77 ms, measured). A chunk at a time, not whole-network copies: the four chunk
    // arrays stay in the core's cache, so each value crosses memory once each way (copies of the whole arrays took
    // 0.55 ms of a 235k-parameter Adam step whose arithmetic takes 0.12 ms). The state as separate arrays (Adam's m and
    // v) indexed like the parameters: the JIT vectorizes a loop only when every array is read and written at the same
    // index (it cannot rule out that two arrays are the same one); otherwise Adam is bound by scalar division and
    // square root (1.0 ms instead of 0.1 ms for 235k parameters).
    private final float[] w = new float[CHUNK], g = new float[CHUNK];
    private final float[] first = new float[CHUNK], second = new float[CHUNK];

    private FusedUpdater(List<Block> blocks, FloatBuffer params, FloatBuffer gradient) {
        this.blocks = blocks;
        this.params = params;
        this.gradient = gradient;
    }

    /** Why DL4J's updater must run for {@code net}, or empty when this one computes the same step. */
    static Optional<String> unsupported(ComputationGraph net) {
        return Optional.ofNullable(plan(net, null));
    }

    static FusedUpdater of(ComputationGraph net) {
        List<Block> blocks = new ArrayList<>();
        String why = plan(net, blocks);
        if (why != null) throw new IllegalArgumentException("the fused updater cannot run this network: " + why);
        return new FusedUpdater(blocks, buffer(net.params()), buffer(net.getFlattenedGradients()));
    }

    private static String plan(ComputationGraph net, List<Block> out) {
        if (net.params().dataType() != DataType.FLOAT) return "parameters are not float32";
        var updater = net.getUpdater(true);
        for (UpdaterBlock ub : updater.getUpdaterBlocks()) {
            UpdaterBlock.ParamState firstParam = ub.getLayersAndVariablesInBlock().get(0);
            IUpdater config = firstParam.getLayer().getConfig().getUpdaterByParam(firstParam.getParamName());
            // NoOp: batch norm's running statistics, whose "gradient" is the update itself (not divided, no regularization)
            boolean statistic = config instanceof NoOp;
            if (!(config instanceof Sgd || config instanceof Nesterovs || config instanceof Adam || statistic)) {
                return "optimizer " + config.getClass().getSimpleName() + " (fused: sgd, nesterov, adam)";
            }
            List<Range> ranges = new ArrayList<>();
            for (UpdaterBlock.ParamState p : ub.getLayersAndVariablesInBlock()) {
                Trainable layer = p.getLayer();
                String name = layer.getConfig().getLayerName() + "_" + p.getParamName();
                GradientNormalization norm = layer.getConfig().getGradientNormalization();
                if (norm != null && norm != GradientNormalization.None) return name + " has gradient normalization " + norm;
                if (layer.updaterDivideByMinibatch(p.getParamName()) == statistic) {
                    return statistic ? name + " has no optimizer (NoOp) but is divided by the batch size"
                            : name + " is not divided by the batch size (DL4J treats it as a statistic) but has optimizer " + config.getClass().getSimpleName();
                }
                ISchedule l2 = null;
                List<Regularization> regs = layer.getConfig().getRegularizationByParam(p.getParamName());
                for (Regularization r : regs == null ? List.<Regularization>of() : regs) {
                    if (statistic) return name + " is a statistic (NoOp) with regularization " + r.getClass().getSimpleName();
                    if (r instanceof L2Regularization l) {
                        if (l2 != null) return name + " has two L2 terms";
                        l2 = l.getL2();
                    } else {
                        return name + " has regularization " + r.getClass().getSimpleName() + " (fused: L2)";
                    }
                }
                ranges.add(new Range(p.getParamOffsetStart(), p.getParamOffsetEnd(), l2));
            }
            if (out != null) {
                // what DL4J does before its first update: the state view is zeroed if the network is new (a state
                // loaded into it before stays, OneDnnNetTest)
                if (ub.getGradientUpdater() == null) ub.init();
                INDArray view = ub.getUpdaterView();
                out.add(new Block(config, ub.getParamOffsetStart(), ub.getParamOffsetEnd(), view == null ? null : buffer(view), ranges));
            }
        }
        return null;
    }

    /** A buffer over {@code a}'s memory; {@code a} must stay alive and in place while it is used (see OneDnnNet.fit). */
    private static FloatBuffer buffer(INDArray a) {
        if (a.dataType() != DataType.FLOAT) throw new IllegalArgumentException("float32 arrays only, found " + a.dataType());
        return new FloatPointer(a.data().addressPointer()).capacity(a.length()).asBuffer();
    }

    /**
     * One step, after the gradient (the sum over the batch) was written: what DL4J's {@code fit} does after
     * {@code computeGradientAndScore()}, at this iteration and epoch.
     */
    void apply(int iteration, int epoch, int batchSize) {
        float batch = batchSize;
        // keyed on the network's iteration, not on this object's calls: a resumed run, or a round on another pooled
        // network, zeroes at the same steps as an uninterrupted run, so results stay bit-identical
        boolean flushNow = (iteration & 31) == 31;
        for (Block b : blocks) {
            IUpdater c = b.config();
            boolean hasFirst = c instanceof Nesterovs || c instanceof Adam, hasSecond = c instanceof Adam;
            int off = b.paramStart(), len = b.paramEnd() - b.paramStart();
            float lr = c instanceof NoOp ? 0f : (float) c.getLearningRate(iteration, epoch);
            float mu = c instanceof Nesterovs n ? (float) n.currentMomentum(iteration, epoch) : 0f;
            float[] adam = c instanceof Adam a ? adamConstants(a, lr, iteration) : null;
            for (Range r : b.params()) {
                float l2 = r.l2() == null ? 0f : (float) r.l2().valueAt(iteration, epoch);
                for (int from = r.start(); from < r.end(); from += CHUNK) {
                    int n = Math.min(CHUNK, r.end() - from);
                    params.get(from, w, 0, n);
                    gradient.get(from, g, 0, n);
                    // DL4J's layout of a block's state: the first moment of every parameter, then the second
                    if (hasFirst) b.state().get(from - off, first, 0, n);
                    if (hasSecond) b.state().get(len + from - off, second, 0, n);
                    if (c instanceof NoOp) statisticLoop(n, w, g);
                    else if (adam != null) {
                        adamLoop(n, w, g, first, second, batch, l2, adam[0], adam[1], 1f - adam[0], 1f - adam[1], adam[3], adam[2]);
                    }
                    else if (c instanceof Nesterovs) nesterovLoop(n, w, g, first, mu, lr, l2, batch);
                    else sgdLoop(n, w, g, lr, l2, batch);
                    if (flushNow) {
                        if (hasFirst) flushSubnormals(first, n);
                        if (hasSecond) flushSubnormals(second, n);
                    }
                    params.put(from, w, 0, n);
                    if (hasFirst) b.state().put(from - off, first, 0, n);
                    if (hasSecond) b.state().put(len + from - off, second, 0, n);
                }
            }
        }
    }

    /**
     * Sets subnormal values to zero, every 32 iterations. The optimizer state of a parameter whose gradient stays zero (the
     * weights of a dead ReLU unit) decays geometrically into subnormal floats, which x86 computes with ~100 times
     * slower (a microcode assist; Java cannot set the CPU's flush-to-zero mode). A state below 1.2e-38 moves a weight
     * by less than 1e-30: zeroing it changes no result a float32 network can show, and zero stays zero.
     */
    private static void flushSubnormals(float[] a, int n) {
        for (int i = 0; i < n; i++) if (Math.abs(a[i]) < Float.MIN_NORMAL) a[i] = 0f;
    }

    /** DL4J's step for a parameter without optimizer (batch norm's running mean and variance): w -= g, g undivided. */
    private static void statisticLoop(int n, float[] w, float[] g) {
        for (int i = 0; i < n; i++) w[i] = w[i] - g[i];
    }

    private static void sgdLoop(int n, float[] w, float[] g, float lr, float l2, float batch) {
        for (int i = 0; i < n; i++) {
            float gi = g[i] / batch + l2 * w[i];
            w[i] = w[i] - gi * lr;
        }
    }

    /** libnd4j's nesterovs_updater: v' = mu v - lr g; update = mu v - (1 + mu) v'. */
    private static void nesterovLoop(int n, float[] w, float[] g, float[] v, float mu, float lr, float l2, float batch) {
        float muT = -mu - 1;
        for (int i = 0; i < n; i++) {
            float gi = g[i] / batch + l2 * w[i];
            float prev = mu * v[i];
            float st = prev - lr * gi;
            v[i] = st;
            w[i] = w[i] - (prev + muT * st);
        }
    }

    /**
     * libnd4j's adam_updater: m' = b1 m + (1 - b1) g, v' = b2 v + (1 - b2) g^2, update = m' alpha / (sqrt(v') + eps)
     * with alpha = lr sqrt(1 - b2^t) / (1 - b1^t), t = iteration + 1; DL4J keeps m then v in the block's state. Returns {b1, b2, eps, alpha}: one step's constants, the same for a whole block.
     */
    private static float[] adamConstants(Adam a, float lr, int iteration) {
        float b1 = (float) a.getBeta1(), b2 = (float) a.getBeta2(), eps = (float) a.getEpsilon();
        float b1t = (float) Math.pow(b1, iteration + 1), b2t = (float) Math.pow(b2, iteration + 1);
        float alpha = lr * (float) Math.sqrt(1f - b2t) / (1f - b1t);
        if (Float.isNaN(alpha) || alpha == 0f || Float.isInfinite(alpha)) alpha = eps;   // as libnd4j does
        return new float[] {b1, b2, eps, alpha};
    }

    /** The loop alone, every array at index i: the shape the JIT vectorizes. */
    private static void adamLoop(int n, float[] w, float[] g, float[] ms, float[] vs, float batch, float l2,
                                 float b1, float b2, float c1, float c2, float alpha, float eps) {
        for (int i = 0; i < n; i++) {
            float gi = g[i] / batch + l2 * w[i];
            float m = b1 * ms[i] + gi * c1;
            float v = b2 * vs[i] + gi * gi * c2;
            ms[i] = m;
            vs[i] = v;
            w[i] = w[i] - (m * alpha) / ((float) Math.sqrt(v) + eps);
        }
    }
}
