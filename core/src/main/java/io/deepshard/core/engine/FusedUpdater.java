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
 * 784-256-128-10 (libnd4j's updater loops are not vectorized), this 0.8 ms (docs/native.md).
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
    // Heap copies, refreshed every step with bulk copies (memcpy): loops over float[] are vectorized by the JIT,
    // loops over direct buffers are not (Adam over 235k parameters: 0.11 ms vs 0.77 ms, measured)
    // The state as separate arrays (Adam's m and v) indexed like the parameters: the JIT vectorizes a loop only when
    // every array is read and written at the same index (it cannot rule out that two arrays are the same one);
    // otherwise Adam is bound by scalar division and square root (1.0 ms instead of 0.1 ms for 235k parameters)
    // One array of each for all blocks, each block in its own range (ranges do not overlap): arrays per block would
    // cost (blocks x parameters) floats, and a network with batch norm has a block per layer (ResNet-50: out of heap)
    private final float[] w, g;
    private final float[] first, second;

    private FusedUpdater(List<Block> blocks, FloatBuffer params, FloatBuffer gradient) {
        this.blocks = blocks;
        this.params = params;
        this.gradient = gradient;
        this.w = new float[params.capacity()];
        this.g = new float[gradient.capacity()];
        boolean momentum = blocks.stream().anyMatch(b -> b.config() instanceof Nesterovs || b.config() instanceof Adam);
        boolean adam = blocks.stream().anyMatch(b -> b.config() instanceof Adam);
        this.first = momentum ? new float[params.capacity()] : null;
        this.second = adam ? new float[params.capacity()] : null;
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
        params.get(0, w);
        gradient.get(0, g);
        float batch = batchSize;
        // keyed on the network's iteration, not on this object's calls: a resumed run, or a round on another pooled
        // network, zeroes at the same steps as an uninterrupted run, so results stay bit-identical
        boolean flushNow = (iteration & 31) == 31;
        for (int k = 0; k < blocks.size(); k++) {
            Block b = blocks.get(k);
            IUpdater c = b.config();
            float[] s1 = c instanceof Nesterovs || c instanceof Adam ? first : null, s2 = c instanceof Adam ? second : null;
            int off = b.paramStart(), len = b.paramEnd() - b.paramStart();
            if (s1 != null) b.state().get(0, s1, off, len);
            if (s2 != null) b.state().get(len, s2, off, len);
            if (c instanceof NoOp) {
                for (Range r : b.params()) statisticLoop(r.start(), r.end(), w, g);
                continue;
            }
            float lr = (float) c.getLearningRate(iteration, epoch);
            for (Range r : b.params()) {
                float l2 = r.l2() == null ? 0f : (float) r.l2().valueAt(iteration, epoch);
                if (c instanceof Adam a) adam(r, s1, s2, a, lr, l2, batch, iteration);
                else if (c instanceof Nesterovs n) nesterov(r, s1, (float) n.currentMomentum(iteration, epoch), lr, l2, batch);
                else sgd(r, lr, l2, batch);
            }
            if (flushNow) {
                flushSubnormals(s1, off, off + len);
                flushSubnormals(s2, off, off + len);
            }
            if (s1 != null) b.state().put(0, s1, off, len);
            if (s2 != null) b.state().put(len, s2, off, len);
        }
        params.put(0, w);
    }

    /**
     * Sets subnormal values to zero, every 32 iterations. The optimizer state of a parameter whose gradient stays zero (the
     * weights of a dead ReLU unit) decays geometrically into subnormal floats, which x86 computes with ~100 times
     * slower (a microcode assist; Java cannot set the CPU's flush-to-zero mode). A state below 1.2e-38 moves a weight
     * by less than 1e-30: zeroing it changes no result a float32 network can show, and zero stays zero.
     */
    private static void flushSubnormals(float[] a, int from, int to) {
        if (a == null) return;
        for (int i = from; i < to; i++) if (Math.abs(a[i]) < Float.MIN_NORMAL) a[i] = 0f;
    }

    /** DL4J's step for a parameter without optimizer (batch norm's running mean and variance): w -= g, g undivided. */
    private static void statisticLoop(int from, int to, float[] w, float[] g) {
        for (int i = from; i < to; i++) w[i] = w[i] - g[i];
    }

    private void sgd(Range r, float lr, float l2, float batch) {
        for (int from = r.start(); from < r.end(); from += CHUNK) sgdLoop(from, Math.min(r.end(), from + CHUNK), w, g, lr, l2, batch);
    }

    private static void sgdLoop(int from, int to, float[] w, float[] g, float lr, float l2, float batch) {
        for (int i = from; i < to; i++) {
            float gi = g[i] / batch + l2 * w[i];
            w[i] = w[i] - gi * lr;
        }
    }

    /** libnd4j's nesterovs_updater: v' = mu v - lr g; update = mu v - (1 + mu) v'. */
    private void nesterov(Range r, float[] v, float mu, float lr, float l2, float batch) {
        for (int from = r.start(); from < r.end(); from += CHUNK) nesterovLoop(from, Math.min(r.end(), from + CHUNK), w, g, v, mu, lr, l2, batch);
    }

    private static void nesterovLoop(int from, int to, float[] w, float[] g, float[] v, float mu, float lr, float l2, float batch) {
        float muT = -mu - 1;
        for (int i = from; i < to; i++) {
            float gi = g[i] / batch + l2 * w[i];
            float prev = mu * v[i];
            float st = prev - lr * gi;
            v[i] = st;
            w[i] = w[i] - (prev + muT * st);
        }
    }

    /**
     * libnd4j's adam_updater: m' = b1 m + (1 - b1) g, v' = b2 v + (1 - b2) g^2, update = m' alpha / (sqrt(v') + eps)
     * with alpha = lr sqrt(1 - b2^t) / (1 - b1^t), t = iteration + 1; DL4J keeps m then v in the block's state.
     */
    private void adam(Range r, float[] ms, float[] vs, Adam a, float lr, float l2, float batch, int iteration) {
        float b1 = (float) a.getBeta1(), b2 = (float) a.getBeta2(), eps = (float) a.getEpsilon();
        float b1t = (float) Math.pow(b1, iteration + 1), b2t = (float) Math.pow(b2, iteration + 1);
        float alpha = lr * (float) Math.sqrt(1f - b2t) / (1f - b1t);
        if (Float.isNaN(alpha) || alpha == 0f || Float.isInfinite(alpha)) alpha = eps;   // as libnd4j does
        for (int from = r.start(); from < r.end(); from += CHUNK) {
            adamLoop(from, Math.min(r.end(), from + CHUNK), w, g, ms, vs, batch, l2, b1, b2, 1f - b1, 1f - b2, alpha, eps);
        }
    }

    /** The loop alone, every array at index i: the shape the JIT vectorizes. */
    private static void adamLoop(int from, int to, float[] w, float[] g, float[] ms, float[] vs, float batch, float l2,
                                 float b1, float b2, float c1, float c2, float alpha, float eps) {
        for (int i = from; i < to; i++) {
            float gi = g[i] / batch + l2 * w[i];
            float m = b1 * ms[i] + gi * c1;
            float v = b2 * vs[i] + gi * gi * c2;
            ms[i] = m;
            vs[i] = v;
            w[i] = w[i] - (m * alpha) / ((float) Math.sqrt(v) + eps);
        }
    }
}
