package io.deepshard.core.engine;

import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.eltwise_backward;
import org.bytedeco.dnnl.eltwise_forward;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.inner_product_backward_data;
import org.bytedeco.dnnl.inner_product_backward_weights;
import org.bytedeco.dnnl.inner_product_forward;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.global.dnnl.prop_kind;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;

/**
 * Issue 7's engine, first part: forward and backward of a DL4J network computed by oneDNN primitives called directly
 * (JavaCPP's {@code org.bytedeco:dnnl}), reading the network's own parameter arrays and writing DL4J's own flattened
 * gradient array. So DL4J's updater, checkpoints, model bundles and parameter averaging see exactly what they see
 * after DL4J's {@code computeGradientAndScore()}: the same layout and the same scaling (DL4J's gradient is the sum
 * over the mini-batch; its updater divides by the batch size).
 *
 * <p>What it does differently from DL4J's layers: every primitive is created once per batch shape and reused;
 * activations are fused into the layer as oneDNN post-ops; the first layer computes no gradient for its input; one
 * primitive call per layer and direction instead of DL4J's chain of small ND4J ops (the MLP's forward + backward:
 * 1.8-2.0 ms instead of DL4J's 8.7-10 ms at batch 128, docs/native.md).
 *
 * <p>Supported so far: a chain of {@link DenseLayer}s (activation identity, ReLU, tanh or sigmoid; with or without
 * bias; no dropout) ending in an {@link OutputLayer} with softmax and {@link LossMCXENT} without class weights.
 * {@link #unsupported} names the first layer that is not, so a caller can fall back to DL4J and say why.
 * Not thread-safe: one instance per network, used by the thread that trains it.
 */
public final class OneDnnNet implements AutoCloseable {

    /** DL4J's default clipping of the softmax output before its log (LossMCXENT's DEFAULT_SOFTMAX_CLIPPING_EPSILON). */
    private static final double SOFTMAX_CLIP = 1e-10;

    private final List<Layer> layers;        // no reference to the graph itself: a cache may hold this beside it
    private final Gradient gradient;         // DL4J's view of the flattened gradient, for its updater
    private final INDArray flatGradient;     // the network's flattened gradient array this engine writes
    private final INDArray flatParams, updaterState;   // kept alive and checked: the fused updater writes them in place
    private final FusedUpdater fused;        // null: DL4J's updater runs (fusedUnsupported says why)
    private final String fusedUnsupported;
    private final int[] sizes;               // sizes[0] = input features, sizes[i + 1] = layer i's outputs
    private final List<Pointer> owned = new ArrayList<>();   // closed by close()
    private final engine eng;
    private final stream strm;
    // primitives per batch size: a round's full batches and an epoch's last, smaller one, without re-making either
    private final java.util.LinkedHashMap<Integer, Plan> plans = new java.util.LinkedHashMap<>(4, 0.75f, true) {
        @Override protected boolean removeEldestEntry(java.util.Map.Entry<Integer, Plan> eldest) {
            if (size() <= 4) return false;
            eldest.getValue().close();
            return true;
        }
    };

    private OneDnnNet(ComputationGraph net, List<Layer> layers) {
        this.layers = layers;
        if (net.getFlattenedGradients() == null) net.initGradientsView();
        // what DL4J's computeGradientAndScore() hands its updater: the flattened array (the same object, so the
        // updater treats it as this network's own gradient) and a view per parameter, keyed layer_param
        this.flatGradient = net.getFlattenedGradients();
        this.flatParams = net.params();
        this.fusedUnsupported = FusedUpdater.unsupported(net).orElse(null);
        this.fused = fusedUnsupported == null ? FusedUpdater.of(net) : null;
        this.updaterState = net.getUpdater().getStateViewArray();
        this.gradient = new DefaultGradient(flatGradient);
        for (Layer l : layers) {
            var views = l.conf().getLayer().initializer().getGradientsFromFlattened(l.conf(), l.getGradientsViewArray());
            for (var e : views.entrySet()) gradient.setGradientFor(l.conf().getLayer().getLayerName() + "_" + e.getKey(), e.getValue());
        }
        this.sizes = new int[layers.size() + 1];
        for (int i = 0; i < layers.size(); i++) {
            var conf = (org.deeplearning4j.nn.conf.layers.FeedForwardLayer) layers.get(i).conf().getLayer();
            if (i == 0) sizes[0] = (int) conf.getNIn();
            sizes[i + 1] = (int) conf.getNOut();
        }
        this.eng = keep(owned, new engine(engine.kind.cpu, 0));
        this.strm = keep(owned, new stream(eng));
    }

    /** Why {@code net} cannot run on this engine, or empty when it can. */
    public static Optional<String> unsupported(ComputationGraph net) {
        List<Layer> chain = new ArrayList<>();
        return Optional.ofNullable(chain(net, chain));
    }

    /** The engine for {@code net}; an {@link IllegalArgumentException} names the first unsupported layer. */
    public static OneDnnNet of(ComputationGraph net) {
        List<Layer> chain = new ArrayList<>();
        String why = chain(net, chain);
        if (why != null) throw new IllegalArgumentException("the oneDNN engine cannot run this network: " + why);
        return new OneDnnNet(net, chain);
    }

    private static String chain(ComputationGraph net, List<Layer> out) {
        if (net.getNumInputArrays() != 1 || net.getNumOutputArrays() != 1) return "it has more than one input or output";
        String previous = net.getConfiguration().getNetworkInputs().get(0);
        for (int index : net.topologicalSortOrder()) {
            GraphVertex v = net.getVertices()[index];
            if (v.isInputVertex()) continue;
            String name = v.getVertexName();
            if (!v.hasLayer()) return "vertex " + name + " is a " + v.getClass().getSimpleName() + ", not a layer";
            List<String> inputs = net.getConfiguration().getVertexInputs().get(name);
            if (inputs.size() != 1 || !inputs.get(0).equals(previous)) return "layer " + name + " is not in a chain (inputs " + inputs + ")";
            // the configuration's layer, not the runtime one: a frozen layer (transfer learning) reports its inner
            // layer's configuration at runtime but has no gradient
            var declared = ((LayerVertex) net.getConfiguration().getVertices().get(name)).getLayerConf().getLayer();
            if (declared instanceof org.deeplearning4j.nn.conf.layers.misc.FrozenLayer
                    || declared instanceof org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop
                    || v.getLayer() instanceof org.deeplearning4j.nn.layers.FrozenLayer
                    || v.getLayer() instanceof org.deeplearning4j.nn.layers.FrozenLayerWithBackprop) {
                return "layer " + name + " is frozen (transfer learning)";
            }
            var conf = v.getLayer().conf().getLayer();
            boolean last = out.size() == net.getLayers().length - 1;
            if (conf instanceof OutputLayer o) {
                if (!last) return "output layer " + name + " is not the last layer";
                if (!(o.getActivationFn() instanceof ActivationSoftmax)) return "output layer " + name + " has activation " + o.getActivationFn() + ", not softmax";
                if (!(o.getLossFn() instanceof LossMCXENT l) || l.getWeights() != null || l.getSoftmaxClipEps() != SOFTMAX_CLIP)
                    return "output layer " + name + " has loss " + o.getLossFn() + ", not unweighted MCXENT";
            } else if (conf instanceof DenseLayer d) {
                if (last) return "the last layer " + name + " is not an output layer";
                if (algorithmOf(d.getActivationFn()) == null) return "layer " + name + " has activation " + d.getActivationFn() + " (supported: identity, relu, tanh, sigmoid)";
            } else {
                return "layer " + name + " is a " + conf.getClass().getSimpleName() + " (supported so far: DenseLayer, OutputLayer)";
            }
            var vconf = (LayerVertex) net.getConfiguration().getVertices().get(name);
            if (vconf.getPreProcessor() != null) return "layer " + name + " has an input preprocessor (" + vconf.getPreProcessor().getClass().getSimpleName() + ")";
            if (conf.getIDropout() != null) return "layer " + name + " has dropout";
            if (v.getLayer().getParam("W").dataType() != DataType.FLOAT) return "layer " + name + " is not float32";
            out.add(v.getLayer());
            previous = name;
        }
        return out.isEmpty() ? "it has no layers" : null;
    }

    /** oneDNN's algorithm for a DL4J activation whose backward pass reads the activation's output; null if none. */
    private static algorithm algorithmOf(IActivation a) {
        if (a instanceof ActivationReLU r) {
            // plain max(0, x) only: no cap, threshold or negative slope
            return r.equals(new ActivationReLU()) ? algorithm.eltwise_relu_use_dst_for_bwd : null;
        }
        if (a instanceof ActivationTanH) return algorithm.eltwise_tanh_use_dst_for_bwd;
        if (a instanceof ActivationSigmoid) return algorithm.eltwise_logistic_use_dst_for_bwd;
        if (a instanceof ActivationIdentity) return algorithm.undef;
        return null;
    }

    /**
     * Forward and backward for one mini-batch: writes DL4J's gradient (sum over the batch) into the network's
     * flattened gradient array and returns the mean cross-entropy of the batch (without regularization, which
     * DL4J's updater applies). {@code features} is [batch, inputs] float32 in C order, {@code labels} one-hot
     * [batch, classes].
     */
    public double computeGradient(INDArray features, INDArray labels) {
        int b = (int) features.size(0);
        if (features.rank() > 2 && features.length() == (long) b * sizes[0]) {
            // images [batch, channels, height, width] into a dense first layer: DL4J flattens them in C order too
            features = features.reshape('c', b, sizes[0]);
        }
        if (features.rank() != 2 || features.size(1) != sizes[0]) {
            throw new IllegalArgumentException("features must be [batch, " + sizes[0] + "], found " + java.util.Arrays.toString(features.shape()));
        }
        if (labels.rank() != 2 || labels.size(0) != b || labels.size(1) != sizes[sizes.length - 1]) {
            throw new IllegalArgumentException("labels must be [" + b + ", " + sizes[sizes.length - 1] + "], found " + java.util.Arrays.toString(labels.shape()));
        }
        INDArray x = contiguous(features), y = contiguous(labels);
        Plan plan = plans.get(b);
        if (plan == null) {
            plan = new Plan(b);
            plans.put(b, plan);
        }
        return plan.run(x, y);
    }

    /** Whether two arrays (views or not) cover the same native memory. */
    private static boolean sameMemory(INDArray a, INDArray b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        return a.data().address() == b.data().address() && a.length() == b.length();
    }

    /** Why DL4J's updater would run for {@code net} instead of the fused optimizer step, or empty when it would not. */
    public static Optional<String> updaterFallback(ComputationGraph net) {
        return FusedUpdater.unsupported(net);
    }

    /** Why DL4J's updater runs instead of the fused one, or null when the fused one does. */
    public String updaterFallback() { return fusedUnsupported; }

    /**
     * One training step, what DL4J's {@code fit(DataSet)} does: the gradient here, then DL4J's own updater on it
     * (division by the batch size, gradient normalization, regularization, the optimizer with its learning-rate
     * schedule and state), the step {@code params -= update}, and the iteration count. Returns DL4J's score: the
     * mean loss plus the regularization term. {@code net} must be the network this engine was made for.
     */
    public double fit(ComputationGraph net, INDArray features, INDArray labels) {
        if (!sameMemory(net.getFlattenedGradients(), flatGradient) || !sameMemory(net.params(), flatParams)
                || !sameMemory(net.getUpdater().getStateViewArray(), updaterState)) {
            throw new IllegalStateException("this engine was made for another network (or its parameter, gradient or updater arrays were replaced)");
        }
        double loss = computeGradient(features, labels);
        double score = loss + net.calcRegularizationScore(true);   // at the parameters the gradient was taken at
        int iteration = net.getIterationCount(), epoch = net.getEpochCount();
        if (fused != null) {
            fused.apply(iteration, epoch, (int) features.size(0));
        } else {
            net.getUpdater().update(gradient, iteration, epoch, (int) features.size(0), LayerWorkspaceMgr.noWorkspaces());
            net.params().subi(gradient.gradient());   // DL4J's step function: params -= update (both flat views)
        }
        net.getConfiguration().setIterationCount(iteration + 1);
        net.setScore(score);
        return score;
    }

    private static INDArray contiguous(INDArray a) {
        INDArray c = a.dataType() == DataType.FLOAT ? a : a.castTo(DataType.FLOAT);
        return c.ordering() == 'c' && !c.isView() ? c : c.dup('c');
    }

    @Override
    public void close() {
        for (Plan p : plans.values()) p.close();
        plans.clear();
        for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).close();
        owned.clear();
    }

    private static <T extends Pointer> T keep(List<Pointer> owner, T p) {
        owner.add(p);
        return p;
    }

    /** The primitives and memories of one batch size. */
    private final class Plan implements AutoCloseable {
        final int b, n;
        final List<Pointer> mine = new ArrayList<>();
        final primitive[] fwd, bwdData, bwdWeights, actBwd;
        final IntMemoryMap[] fwdArgs, bwdWeightsArgs, bwdDataArgs, actBwdArgs;
        final memory[] act, diff, weights, bias, diffWeights, diffBias;
        final memory.desc inputDesc;
        final INDArray[] outputs;   // the layers' outputs, kept for the backward pass
        final INDArray logitsGrad;
        final float[] row, label;

        Plan(int b) {
            this.b = b;
            this.n = layers.size();
            fwd = new primitive[n]; bwdData = new primitive[n]; bwdWeights = new primitive[n]; actBwd = new primitive[n];
            act = new memory[n + 1]; diff = new memory[n + 1];
            weights = new memory[n]; bias = new memory[n]; diffWeights = new memory[n]; diffBias = new memory[n];
            outputs = new INDArray[n + 1];
            fwdArgs = new IntMemoryMap[n]; bwdWeightsArgs = new IntMemoryMap[n]; bwdDataArgs = new IntMemoryMap[n]; actBwdArgs = new IntMemoryMap[n];
            inputDesc = desc(b, sizes[0], memory.format_tag.nc);
            // the input's memory: its data handle is pointed at each batch's features in run()
            act[0] = keep(mine, new memory(inputDesc, eng, new FloatPointer(1)));
            for (int i = 0; i < n; i++) {
                Layer layer = layers.get(i);
                int in = sizes[i], out = sizes[i + 1];
                memory.desc src = desc(b, in, memory.format_tag.nc), dst = desc(b, out, memory.format_tag.nc);
                // DL4J keeps W as [nIn, nOut] in Fortran order: in memory that is oneDNN's [out][in] row-major "oi"
                memory.desc wei = desc(out, in, memory.format_tag.oi);
                INDArray bParam = layer.getParam("b");
                boolean hasBias = bParam != null;
                memory.desc bia = hasBias ? new memory.desc(new long[] {out}, memory.data_type.f32, memory.format_tag.x) : new memory.desc();
                algorithm alg = i < n - 1 ? algorithmOf(layer.conf().getLayer() instanceof DenseLayer d ? d.getActivationFn() : null) : algorithm.undef;
                primitive_attr attr = new primitive_attr();
                if (alg != algorithm.undef) {
                    post_ops ops = new post_ops();
                    ops.append_eltwise(1.0f, alg, 0f, 0f);
                    attr.set_post_ops(ops);
                }
                var fpd = new inner_product_forward.primitive_desc(
                        new inner_product_forward.desc(prop_kind.forward_training, src, wei, bia, dst), attr, eng);
                fwd[i] = keep(mine, new inner_product_forward(fpd));
                bwdWeights[i] = keep(mine, new inner_product_backward_weights(new inner_product_backward_weights.primitive_desc(
                        new inner_product_backward_weights.desc(src, wei, bia, dst), eng, fpd)));
                if (i > 0) {
                    // nobody needs the gradient of the input images: the first layer has no backward-data
                    bwdData[i] = keep(mine, new inner_product_backward_data(new inner_product_backward_data.primitive_desc(
                            new inner_product_backward_data.desc(src, wei, dst), eng, fpd)));
                    diff[i] = keep(mine, new memory(src, eng));
                }
                if (alg != algorithm.undef) {
                    var hint = new eltwise_forward.primitive_desc(new eltwise_forward.desc(prop_kind.forward_training, alg, dst, 0f, 0f), eng);
                    actBwd[i] = keep(mine, new eltwise_backward(new eltwise_backward.primitive_desc(new eltwise_backward.desc(alg, dst, dst, 0f, 0f), eng, hint)));
                }
                weights[i] = keep(mine, new memory(wei, eng, layer.getParam("W").data().addressPointer()));
                // DL4J's own views of this layer's segment of the flattened gradient
                var grads = layer.conf().getLayer().initializer().getGradientsFromFlattened(layer.conf(), layer.getGradientsViewArray());
                diffWeights[i] = keep(mine, new memory(wei, eng, grads.get("W").data().addressPointer()));
                if (hasBias) {
                    bias[i] = keep(mine, new memory(bia, eng, bParam.data().addressPointer()));
                    diffBias[i] = keep(mine, new memory(bia, eng, grads.get("b").data().addressPointer()));
                }
                outputs[i + 1] = Nd4j.createUninitialized(DataType.FLOAT, b, out);
                act[i + 1] = keep(mine, new memory(dst, eng, outputs[i + 1].data().addressPointer()));
            }
            logitsGrad = Nd4j.createUninitialized(DataType.FLOAT, b, sizes[n]);
            diff[n] = keep(mine, new memory(desc(b, sizes[n], memory.format_tag.nc), eng, logitsGrad.data().addressPointer()));
            for (int i = 0; i < n; i++) {
                fwdArgs[i] = keep(mine, new IntMemoryMap().put(DNNL_ARG_SRC, act[i]).put(DNNL_ARG_WEIGHTS, weights[i]).put(DNNL_ARG_DST, act[i + 1]));
                if (bias[i] != null) fwdArgs[i].put(DNNL_ARG_BIAS, bias[i]);
                bwdWeightsArgs[i] = keep(mine, new IntMemoryMap().put(DNNL_ARG_SRC, act[i]).put(DNNL_ARG_DIFF_DST, diff[i + 1]).put(DNNL_ARG_DIFF_WEIGHTS, diffWeights[i]));
                if (diffBias[i] != null) bwdWeightsArgs[i].put(DNNL_ARG_DIFF_BIAS, diffBias[i]);
                if (bwdData[i] != null) bwdDataArgs[i] = keep(mine, new IntMemoryMap().put(DNNL_ARG_DIFF_DST, diff[i + 1]).put(DNNL_ARG_WEIGHTS, weights[i]).put(DNNL_ARG_DIFF_SRC, diff[i]));
                // the activation's gradient in place: diff of the output becomes diff of the pre-activation
                if (actBwd[i] != null) actBwdArgs[i] = keep(mine, new IntMemoryMap().put(DNNL_ARG_DST, act[i + 1]).put(DNNL_ARG_DIFF_DST, diff[i + 1]).put(DNNL_ARG_DIFF_SRC, diff[i + 1]));
            }
            row = new float[sizes[n]];
            label = new float[sizes[n]];
        }

        double run(INDArray x, INDArray y) {
            act[0].set_data_handle(x.data().addressPointer());
            for (int i = 0; i < n; i++) fwd[i].execute(strm, fwdArgs[i]);
            strm._wait();
            double loss = softmaxCrossEntropy(y);
            for (int i = n - 1; i >= 0; i--) {
                if (actBwd[i] != null) actBwd[i].execute(strm, actBwdArgs[i]);
                bwdWeights[i].execute(strm, bwdWeightsArgs[i]);
                if (bwdData[i] != null) bwdData[i].execute(strm, bwdDataArgs[i]);
            }
            strm._wait();
            return loss;
        }

        /** Softmax of the logits, the mean cross-entropy, and DL4J's gradient at the logits: p - y per example. */
        private double softmaxCrossEntropy(INDArray y) {
            int k = sizes[n];
            FloatPointer z = new FloatPointer(outputs[n].data().addressPointer());
            FloatPointer g = new FloatPointer(logitsGrad.data().addressPointer());
            FloatPointer t = new FloatPointer(y.data().addressPointer());
            double loss = 0;
            for (int r = 0; r < b; r++) {
                z.position((long) r * k).get(row);
                t.position((long) r * k).get(label);
                float max = Float.NEGATIVE_INFINITY;
                for (float v : row) max = Math.max(max, v);
                double sum = 0;
                for (int j = 0; j < k; j++) sum += Math.exp(row[j] - max);
                double logSum = Math.log(sum);
                for (int j = 0; j < k; j++) {
                    double logP = row[j] - max - logSum;
                    double p = Math.exp(logP);
                    // DL4J clips the softmax output at 1e-10 before its log
                    if (label[j] != 0) loss -= label[j] * Math.log(Math.max(p, SOFTMAX_CLIP));
                    row[j] = (float) (p - label[j]);
                }
                g.position((long) r * k).put(row);
            }
            return loss / b;
        }

        @Override
        public void close() {
            for (int i = mine.size() - 1; i >= 0; i--) mine.get(i).close();
            mine.clear();
        }
    }

    private static memory.desc desc(long rows, long cols, memory.format_tag tag) {
        return new memory.desc(new long[] {rows, cols}, memory.data_type.f32, tag);
    }
}
