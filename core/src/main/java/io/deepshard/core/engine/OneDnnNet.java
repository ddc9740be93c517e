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
import org.bytedeco.dnnl.convolution_backward_data;
import org.bytedeco.dnnl.convolution_backward_weights;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.pooling_backward;
import org.bytedeco.dnnl.pooling_forward;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.batch_normalization_backward;
import org.bytedeco.dnnl.batch_normalization_forward;
import org.bytedeco.dnnl.binary;
import org.bytedeco.javacpp.LongPointer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
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
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_FROM;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_TO;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WORKSPACE;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SCALE;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SHIFT;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_MEAN;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCALE;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SHIFT;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_0;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_1;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_VARIANCE;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_global_stats;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_scale;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_shift;

/**
 * Issue 7's engine: forward and backward of a DL4J network computed by oneDNN primitives called directly (JavaCPP's
 * {@code org.bytedeco:dnnl}), reading the network's own parameter arrays and writing DL4J's own flattened gradient
 * array. So DL4J's updater, checkpoints, model bundles and parameter averaging see exactly what they see after
 * DL4J's {@code computeGradientAndScore()}: the same layout and the same scaling (DL4J's gradient is the sum over the
 * mini-batch; its updater divides by the batch size).
 *
 * <p>What it does differently from DL4J's layers: every primitive is created once per input shape and reused;
 * convolution and pooling run in the blocked layouts oneDNN's fast kernels choose (e.g. nChw8c), kept from layer to
 * layer and reordered only where a layer wants another one (the images coming in, the weights, the flattening before
 * the first dense layer); activations are fused into the layer as oneDNN post-ops; the first layer computes no
 * gradient for its input; one primitive call per layer and direction instead of DL4J's chain of ND4J ops.
 *
 * <p>Supported: a chain of {@link ConvolutionLayer}s (NCHW; Truncate, Strict or Same; any stride, padding, dilation),
 * {@link SubsamplingLayer}s (max or average, no dilation), {@link DenseLayer}s (no layer norm), {@link BatchNormalization}
 * (over features or NCHW channels; gamma and beta learned) and {@link ActivationLayer}s, activations identity, ReLU,
 * leaky ReLU, tanh or sigmoid, with or without bias, DL4J's {@code Dropout} (a fixed retain probability) on the inputs
 * of dense layers, ending in an {@link OutputLayer} with softmax and {@link LossMCXENT} without class weights; DL4J's
 * own reshaping preprocessors between them.
 * {@link #unsupported} names the first layer that is not, so a caller can fall back to DL4J and say why.
 * Not thread-safe: one instance per network, used by the thread that trains it.
 */
public final class OneDnnNet implements AutoCloseable {

    /** DL4J's default clipping of the softmax output before its log (LossMCXENT's DEFAULT_SOFTMAX_CLIPPING_EPSILON). */
    private static final double SOFTMAX_CLIP = 1e-10;

    /** 1 / (2 ln 10): half the base-10 logarithm, DL4J's ONE_ON_2LOGE_10. */
    private static final double HALF_ON_LN10 = 1 / (2 * Math.log(10));

    /** The order of the arrays DL4J's dense layers take, and so of its dropout masks (measured: see OneDnnNetTest). */
    private static final char DROPOUT_MASK_ORDER = 'c';

    /** One layer of the chain as this engine runs it. */
    private sealed interface Spec permits Dense, Conv, Pool, Norm, Activation, GlobalPool, Add, Merge, Scale {
        String name();
    }

    /** A vertex of the graph as this engine runs it, and the vertices whose outputs it reads. */
    private record Node(Spec spec, List<String> inputs) {}

    /** DL4J's GlobalPoolingLayer over the height and width of NCHW images, max or average: [batch, channels] out. */
    private record GlobalPool(String name, algorithm alg) implements Spec {}

    /** DL4J's ElementWiseVertex with Op.Add: the sum of its inputs (a residual connection). */
    private record Add(String name) implements Spec {}

    /** DL4J's MergeVertex: its inputs concatenated along the channels (or features). */
    private record Merge(String name) implements Spec {}

    /** DL4J's ScaleVertex: its input times a constant. */
    private record Scale(String name, float factor) implements Spec {}

    /**
     * A dense or output layer; {@code act} is null for identity (and for the output layer, whose softmax is in Java).
     * {@code retain}: DL4J's {@code Dropout} on the layer's input in training (the probability of keeping a unit), or
     * 0 for none.
     */
    private record Dense(String name, Layer layer, Act act, long nIn, long nOut, double retain) implements Spec {}

    /**
     * DL4J's {@code BatchNormalization} over [batch, features] or NCHW images: batch statistics in training, the
     * running ones (mean and variance, or log10 of the standard deviation) in inference.
     */
    private record Norm(String name, Layer layer, long channels, float eps, double decay, boolean logStd) implements Spec {}

    /** DL4J's {@code ActivationLayer}; {@code act} is null for identity. */
    private record Activation(String name, Act act) implements Spec {}

    /** A 2-D convolution; DL4J's dilation d is oneDNN's d - 1. */
    private record Conv(String name, Layer layer, Act act, long nIn, long nOut, long[] kernel, long[] stride, long[] pad,
                        long[] dilation, ConvolutionMode mode) implements Spec {}

    /** Max or average pooling. */
    private record Pool(String name, algorithm alg, long[] kernel, long[] stride, long[] pad, ConvolutionMode mode) implements Spec {}

    /** An activation as a oneDNN eltwise algorithm whose backward pass reads the activation's output. */
    private record Act(algorithm alg, float alpha) {}

    private final List<Node> nodes;           // topological order; no reference to the graph itself: a cache may hold this beside it
    private final String inputName;           // the network's input vertex
    private final long[] imageShape;          // [channels, height, width] when the first layer takes images, else null
    private final long inputs, classes;       // features per example; the output layer's size
    private final Gradient gradient;         // DL4J's view of the flattened gradient, for its updater
    private final INDArray flatGradient;     // the network's flattened gradient array this engine writes
    private final INDArray flatParams, updaterState;   // kept alive and checked: the fused updater writes them in place
    private final FusedUpdater fused;        // null: DL4J's updater runs (fusedUnsupported says why)
    private final boolean trains;            // false: made by forInference, output only
    private final String fusedUnsupported;
    private final List<Pointer> owned = new ArrayList<>();   // closed by close()
    private final engine eng;
    private final stream strm;
    // primitives per input shape: a round's full batches and an epoch's last, smaller one, without re-making either
    private final java.util.LinkedHashMap<String, Plan> plans = new java.util.LinkedHashMap<>(4, 0.75f, true) {
        @Override protected boolean removeEldestEntry(java.util.Map.Entry<String, Plan> eldest) {
            if (size() <= 4) return false;
            eldest.getValue().close();
            return true;
        }
    };

    private OneDnnNet(ComputationGraph net, List<Node> nodes, long[] imageShape, boolean trains) {
        this.nodes = nodes;
        this.inputName = net.getConfiguration().getNetworkInputs().get(0);
        this.imageShape = imageShape;
        this.trains = trains;
        this.flatParams = net.params();
        if (trains) {
            if (net.getFlattenedGradients() == null) net.initGradientsView();
            // what DL4J's computeGradientAndScore() hands its updater: the flattened array (the same object, so the
            // updater treats it as this network's own gradient) and a view per parameter, keyed layer_param
            this.flatGradient = net.getFlattenedGradients();
            this.fusedUnsupported = FusedUpdater.unsupported(net).orElse(null);
            this.fused = fusedUnsupported == null ? FusedUpdater.of(net) : null;
            this.updaterState = net.getUpdater().getStateViewArray();
            this.gradient = new DefaultGradient(flatGradient);
            for (Layer l : net.getLayers()) {
                var views = l.conf().getLayer().initializer().getGradientsFromFlattened(l.conf(), l.getGradientsViewArray());
                for (var e : views.entrySet()) gradient.setGradientFor(l.conf().getLayer().getLayerName() + "_" + e.getKey(), e.getValue());
            }
        } else {
            // serving: no gradient array, no updater (a bundle's network has none, and making one would allocate its state)
            this.flatGradient = null;
            this.fusedUnsupported = "an engine made for inference does not train";
            this.fused = null;
            this.updaterState = null;
            this.gradient = null;
        }
        Spec first = nodes.get(0).spec();
        this.inputs = imageShape != null ? imageShape[0] * imageShape[1] * imageShape[2] : first instanceof Dense d ? d.nIn() : -1;
        this.classes = ((Dense) nodes.get(nodes.size() - 1).spec()).nOut();
        this.eng = keep(owned, new engine(engine.kind.cpu, 0));
        this.strm = keep(owned, new stream(eng));
    }

    /** Why {@code net} cannot run on this engine, or empty when it can. */
    public static Optional<String> unsupported(ComputationGraph net) {
        return Optional.ofNullable(graph(net, new ArrayList<>(), new long[1][]));
    }

    /** The engine for {@code net}; an {@link IllegalArgumentException} names the first unsupported layer. */
    public static OneDnnNet of(ComputationGraph net) {
        return make(net, true);
    }

    /**
     * An engine for {@link #output} only (serving, reports): it makes no gradient array and no updater for the
     * network, which a loaded bundle does not have. An {@link IllegalArgumentException} names the first unsupported layer.
     */
    public static OneDnnNet forInference(ComputationGraph net) {
        return make(net, false);
    }

    private static OneDnnNet make(ComputationGraph net, boolean trains) {
        List<Node> graph = new ArrayList<>();
        long[][] image = new long[1][];
        String why = graph(net, graph, image);
        if (why != null) throw new IllegalArgumentException("the oneDNN engine cannot run this network: " + why);
        return new OneDnnNet(net, graph, image[0], trains);
    }

    /**
     * Reads the network into {@code out} (topological order); returns why it cannot run here, or null.
     * {@code image[0]}: the input's [c, h, w] when DL4J reshapes flat input into images.
     */
    private static String graph(ComputationGraph net, List<Node> out, long[][] image) {
        var gc = net.getConfiguration();
        if (net.getNumInputArrays() != 1 || net.getNumOutputArrays() != 1) return "it has more than one input or output";
        String input = gc.getNetworkInputs().get(0), output = gc.getNetworkOutputs().get(0);
        java.util.Map<String, Integer> readers = new java.util.HashMap<>();
        gc.getVertexInputs().values().forEach(ins -> ins.forEach(i -> readers.merge(i, 1, Integer::sum)));
        // whether each vertex's output is images (after a convolution or pooling) rather than vectors
        java.util.Map<String, Boolean> imagesOut = new java.util.HashMap<>();
        imagesOut.put(input, false);
        for (int index : net.topologicalSortOrder()) {
            GraphVertex v = net.getVertices()[index];
            if (v.isInputVertex()) continue;
            String name = v.getVertexName();
            List<String> inputs = List.copyOf(gc.getVertexInputs().get(name));
            if (!name.equals(output) && !readers.containsKey(name)) return "vertex " + name + "'s output is not used";
            boolean first = inputs.contains(input);
            if (!v.hasLayer()) {
                String why = vertex(name, gc.getVertices().get(name), inputs, first, imagesOut, out);
                if (why != null) return why;
                continue;
            }
            if (inputs.size() != 1) return "layer " + name + " has " + inputs.size() + " inputs";
            // the configuration's layer, not the runtime one: a frozen layer (transfer learning) reports its inner
            // layer's configuration at runtime but has no gradient
            var vconf = (LayerVertex) gc.getVertices().get(name);
            var declared = vconf.getLayerConf().getLayer();
            if (declared instanceof org.deeplearning4j.nn.conf.layers.misc.FrozenLayer
                    || declared instanceof org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop
                    || v.getLayer() instanceof org.deeplearning4j.nn.layers.FrozenLayer
                    || v.getLayer() instanceof org.deeplearning4j.nn.layers.FrozenLayerWithBackprop) {
                return "layer " + name + " is frozen (transfer learning)";
            }
            Layer layer = v.getLayer();
            var conf = layer.conf().getLayer();
            boolean last = name.equals(output);
            boolean afterImages = imagesOut.get(inputs.get(0));
            InputPreProcessor pre = vconf.getPreProcessor();
            if (layer.numParams() > 0 && layer.params().dataType() != DataType.FLOAT) return "layer " + name + " is not float32";
            double retain = 0;   // no dropout
            if (conf.getIDropout() != null) {
                // DL4J's Dropout with a fixed probability, on a dense layer's input: the engine draws DL4J's own masks
                if (conf.getClass() != DenseLayer.class && conf.getClass() != OutputLayer.class) {
                    return "layer " + name + " has dropout on a " + conf.getClass().getSimpleName() + " (supported: on DenseLayer and OutputLayer)";
                }
                if (!(conf.getIDropout() instanceof org.deeplearning4j.nn.conf.dropout.Dropout dr) || dr.getClass() != org.deeplearning4j.nn.conf.dropout.Dropout.class
                        || dr.getPSchedule() != null || !(dr.getP() > 0 && dr.getP() <= 1)) {
                    return "layer " + name + " has dropout " + conf.getIDropout() + " (supported: Dropout with a fixed retain probability)";
                }
                if (first) return "layer " + name + " has dropout on the network's input (not supported)";
                retain = dr.getP();
            }
            // exact classes: subclasses (depthwise, separable, 1-D, 3-D, deconvolution...) compute something else
            if (conf.getClass() == OutputLayer.class) {
                OutputLayer o = (OutputLayer) conf;
                if (!last) return "output layer " + name + " is not the network's output";
                if (!(o.getActivationFn() instanceof ActivationSoftmax)) return "output layer " + name + " has activation " + o.getActivationFn() + ", not softmax";
                if (!(o.getLossFn() instanceof LossMCXENT l) || l.getWeights() != null || l.getSoftmaxClipEps() != SOFTMAX_CLIP)
                    return "output layer " + name + " has loss " + o.getLossFn() + ", not unweighted MCXENT";
                String p = flatteningPreprocessor(name, pre, first, afterImages);
                if (p != null) return p;
                out.add(new Node(new Dense(name, layer, null, o.getNIn(), o.getNOut(), retain), inputs));
                imagesOut.put(name, false);
            } else if (last) {
                return "the network's output " + name + " is a " + conf.getClass().getSimpleName() + ", not an OutputLayer";
            } else if (conf.getClass() == DenseLayer.class) {
                DenseLayer d = (DenseLayer) conf;
                Act act = actOf(d.getActivationFn());
                if (act == null) return "layer " + name + " has activation " + d.getActivationFn() + " (supported: " + ACTIVATIONS + ")";
                if (d.hasLayerNorm()) return "layer " + name + " has layer normalization";
                String p = flatteningPreprocessor(name, pre, first, afterImages);
                if (p != null) return p;
                out.add(new Node(new Dense(name, layer, act.alg() == algorithm.undef ? null : act, d.getNIn(), d.getNOut(), retain), inputs));
                imagesOut.put(name, false);
            } else if (conf.getClass() == ConvolutionLayer.class) {
                ConvolutionLayer c = (ConvolutionLayer) conf;
                Act act = actOf(c.getActivationFn());
                if (act == null) return "layer " + name + " has activation " + c.getActivationFn() + " (supported: " + ACTIVATIONS + ")";
                String p = imagePreprocessor(name, pre, first, afterImages, c.getCnn2dDataFormat(), image);
                if (p != null) return p;
                String m = mode(name, c.getConvolutionMode());
                if (m != null) return m;
                int[] d = c.getDilation();
                out.add(new Node(new Conv(name, layer, act.alg() == algorithm.undef ? null : act, c.getNIn(), c.getNOut(), longs(c.getKernelSize()),
                        longs(c.getStride()), longs(c.getPadding()), new long[] {d[0] - 1, d[1] - 1}, c.getConvolutionMode()), inputs));
                imagesOut.put(name, true);
            } else if (conf.getClass() == SubsamplingLayer.class) {
                SubsamplingLayer s = (SubsamplingLayer) conf;
                algorithm alg = switch (s.getPoolingType()) {
                    case MAX -> algorithm.pooling_max;
                    case AVG -> s.isAvgPoolIncludePadInDivisor() ? algorithm.pooling_avg_include_padding : algorithm.pooling_avg_exclude_padding;
                    default -> null;
                };
                if (alg == null) return "layer " + name + " has pooling " + s.getPoolingType() + " (supported: MAX, AVG)";
                if (s.getDilation()[0] != 1 || s.getDilation()[1] != 1) return "layer " + name + " is a dilated pooling " + java.util.Arrays.toString(s.getDilation());
                String p = imagePreprocessor(name, pre, first, afterImages, s.getCnn2dDataFormat(), image);
                if (p != null) return p;
                String m = mode(name, s.getConvolutionMode());
                if (m != null) return m;
                out.add(new Node(new Pool(name, alg, longs(s.getKernelSize()), longs(s.getStride()), longs(s.getPadding()), s.getConvolutionMode()), inputs));
                imagesOut.put(name, true);
            } else if (conf.getClass() == BatchNormalization.class) {
                BatchNormalization bn = (BatchNormalization) conf;
                if (first) return "layer " + name + " is a BatchNormalization on the network's input (not supported)";
                if (pre != null) return "layer " + name + " has an input preprocessor (" + pre.getClass().getSimpleName() + ")";
                if (afterImages && bn.getCnn2DFormat() != CNN2DFormat.NCHW) return "layer " + name + " has data format " + bn.getCnn2DFormat() + " (supported: NCHW)";
                if (bn.isLockGammaBeta()) return "layer " + name + " is a BatchNormalization with locked gamma and beta (not supported)";
                out.add(new Node(new Norm(name, layer, bn.getNOut(), (float) bn.getEps(), bn.getDecay(), bn.isUseLogStd()), inputs));
                imagesOut.put(name, afterImages);
            } else if (conf.getClass() == ActivationLayer.class) {
                Act act = actOf(((ActivationLayer) conf).getActivationFn());
                if (act == null) return "layer " + name + " has activation " + ((ActivationLayer) conf).getActivationFn() + " (supported: " + ACTIVATIONS + ")";
                if (first) return "layer " + name + " is an ActivationLayer on the network's input (not supported)";
                if (pre != null) return "layer " + name + " has an input preprocessor (" + pre.getClass().getSimpleName() + ")";
                out.add(new Node(new Activation(name, act.alg() == algorithm.undef ? null : act), inputs));
                imagesOut.put(name, afterImages);
            } else if (conf.getClass() == GlobalPoolingLayer.class) {
                GlobalPoolingLayer g = (GlobalPoolingLayer) conf;
                algorithm alg = g.getPoolingType() == org.deeplearning4j.nn.conf.layers.PoolingType.MAX ? algorithm.pooling_max
                        : g.getPoolingType() == org.deeplearning4j.nn.conf.layers.PoolingType.AVG ? algorithm.pooling_avg_exclude_padding : null;
                if (alg == null) return "layer " + name + " has global pooling " + g.getPoolingType() + " (supported: MAX, AVG)";
                if (!afterImages || first) return "layer " + name + " is a global pooling of vectors (supported: of images)";
                if (!g.isCollapseDimensions() || (g.getPoolingDimensions() != null && !java.util.Arrays.equals(g.getPoolingDimensions(), new int[] {2, 3}))) {
                    return "layer " + name + " pools dimensions " + java.util.Arrays.toString(g.getPoolingDimensions()) + " (supported: height and width, collapsed)";
                }
                if (pre != null) return "layer " + name + " has an input preprocessor (" + pre.getClass().getSimpleName() + ")";
                out.add(new Node(new GlobalPool(name, alg), inputs));
                imagesOut.put(name, false);
            } else {
                return "layer " + name + " is a " + conf.getClass().getSimpleName()
                        + " (supported: ConvolutionLayer, SubsamplingLayer, BatchNormalization, ActivationLayer, GlobalPoolingLayer, DenseLayer, OutputLayer)";
            }
        }
        return out.isEmpty() ? "it has no layers" : null;
    }

    /** A vertex without parameters: residual sums, concatenation, scaling. Returns why it cannot run here, or null. */
    private static String vertex(String name, org.deeplearning4j.nn.conf.graph.GraphVertex conf, List<String> inputs, boolean first,
                                 java.util.Map<String, Boolean> imagesOut, List<Node> out) {
        if (first) return "vertex " + name + " reads the network's input (not supported)";
        boolean images = imagesOut.get(inputs.get(0));
        for (String in : inputs) {
            if (imagesOut.get(in) != images) return "vertex " + name + " takes both images and vectors (inputs " + inputs + ")";
        }
        if (conf.getClass() == ElementWiseVertex.class && ((ElementWiseVertex) conf).getOp() == ElementWiseVertex.Op.Add) {
            out.add(new Node(new Add(name), inputs));
        } else if (conf.getClass() == MergeVertex.class && ((MergeVertex) conf).getMergeAxis() == 1) {
            out.add(new Node(new Merge(name), inputs));
        } else if (conf.getClass() == ScaleVertex.class) {
            out.add(new Node(new Scale(name, (float) ((ScaleVertex) conf).getScaleFactor()), inputs));
        } else {
            String what = conf instanceof ElementWiseVertex e ? "ElementWiseVertex " + e.getOp()
                    : conf instanceof MergeVertex m ? "MergeVertex along axis " + m.getMergeAxis() : conf.getClass().getSimpleName();
            return "vertex " + name + " is a " + what + " (supported: ElementWiseVertex Add, MergeVertex along channels, ScaleVertex)";
        }
        imagesOut.put(name, images);
        return null;
    }

    private static final String ACTIVATIONS = "identity, relu, leakyrelu, tanh, sigmoid";

    /** A dense layer takes vectors: images only through DL4J's NCHW flattening, vectors without a preprocessor. */
    private static String flatteningPreprocessor(String name, InputPreProcessor pre, boolean first, boolean afterImages) {
        if (afterImages) {
            if (pre instanceof CnnToFeedForwardPreProcessor c && c.getFormat() == CNN2DFormat.NCHW) return null;
            return "layer " + name + " takes images through " + (pre == null ? "no preprocessor" : pre.getClass().getSimpleName())
                    + " (supported: CnnToFeedForwardPreProcessor, NCHW)";
        }
        return pre == null ? null : "layer " + name + " has an input preprocessor (" + pre.getClass().getSimpleName() + ")";
    }

    /** A convolution or pooling layer takes NCHW images: the network's (flat ones reshaped by DL4J) or the previous layer's. */
    private static String imagePreprocessor(String name, InputPreProcessor pre, boolean first, boolean afterImages, CNN2DFormat format, long[][] image) {
        if (format != CNN2DFormat.NCHW) return "layer " + name + " has data format " + format + " (supported: NCHW)";
        if (first) {
            if (pre == null) return null;   // [batch, channels, height, width] features, shape read per batch
            if (pre instanceof FeedForwardToCnnPreProcessor f) {
                image[0] = new long[] {f.getNumChannels(), f.getInputHeight(), f.getInputWidth()};
                return null;
            }
        } else if (afterImages && pre == null) {
            return null;
        } else if (!afterImages) {
            return "layer " + name + " takes images after a dense layer (not supported)";
        }
        return "layer " + name + " has an input preprocessor (" + pre.getClass().getSimpleName() + ")";
    }

    private static String mode(String name, ConvolutionMode mode) {
        return mode == ConvolutionMode.Truncate || mode == ConvolutionMode.Strict || mode == ConvolutionMode.Same ? null
                : "layer " + name + " has convolution mode " + mode + " (supported: Truncate, Strict, Same)";
    }

    private static long[] longs(int[] a) {
        long[] l = new long[a.length];
        for (int i = 0; i < a.length; i++) l[i] = a[i];
        return l;
    }

    /** oneDNN's algorithm for a DL4J activation (undef for identity); null if there is none. */
    private static Act actOf(IActivation a) {
        if (a instanceof ActivationReLU r) {
            // plain max(0, x) only: no cap, threshold or negative slope
            return r.equals(new ActivationReLU()) ? new Act(algorithm.eltwise_relu_use_dst_for_bwd, 0f) : null;
        }
        // DL4J's leaky ReLU: x > 0 ? x : alpha x, derivative alpha at x <= 0 (oneDNN's: dst > 0 ? 1 : alpha)
        if (a instanceof ActivationLReLU l && l.getAlpha() >= 0) return new Act(algorithm.eltwise_relu_use_dst_for_bwd, (float) l.getAlpha());
        if (a instanceof ActivationTanH) return new Act(algorithm.eltwise_tanh_use_dst_for_bwd, 0f);
        if (a instanceof ActivationSigmoid) return new Act(algorithm.eltwise_logistic_use_dst_for_bwd, 0f);
        if (a instanceof ActivationIdentity) return new Act(algorithm.undef, 0f);
        return null;
    }

    /**
     * Forward and backward for one mini-batch: writes DL4J's gradient (sum over the batch) into the network's
     * flattened gradient array and returns the mean cross-entropy of the batch (without regularization, which
     * DL4J's updater applies). {@code features} is float32 [batch, inputs] (images flattened in C order, as DL4J's
     * preprocessor takes them) or [batch, channels, height, width]; {@code labels} one-hot [batch, classes].
     */
    public double computeGradient(INDArray features, INDArray labels) {
        requireTraining();
        long[] shape = inputShape(features);
        int b = (int) shape[0];
        if (labels.rank() != 2 || labels.size(0) != b || labels.size(1) != classes) {
            throw new IllegalArgumentException("labels must be [" + b + ", " + classes + "], found " + java.util.Arrays.toString(labels.shape()));
        }
        INDArray x = contiguous(features), y = contiguous(labels);
        return plan(shape, true).run(x, y);
    }

    /**
     * The network's output in inference mode, what DL4J's {@code output(false, features)} returns: the softmax class
     * probabilities [batch, classes], a new array. Inference primitives: no workspace for max pooling, no backward.
     * {@code net} must be the network this engine was made for (its parameters as they are now).
     */
    public INDArray output(ComputationGraph net, INDArray features) {
        checkMadeFor(net);
        long[] shape = inputShape(features);
        INDArray x = contiguous(features);
        return plan(shape, false).infer(x);
    }

    /** The primitives for this input shape and direction, made on first use and kept (the last few shapes). */
    private Plan plan(long[] shape, boolean training) {
        String key = (training ? "train " : "infer ") + java.util.Arrays.toString(shape);
        Plan plan = plans.get(key);
        if (plan == null) {
            plan = new Plan(shape, training);
            plans.put(key, plan);
        }
        return plan;
    }

    /** The input's shape as the first layer takes it: [batch, inputs] or [batch, channels, height, width]. */
    private long[] inputShape(INDArray features) {
        int b = (int) features.size(0);
        if (imageShape != null) {
            if (features.length() != b * inputs) throw new IllegalArgumentException("features must be [batch, " + inputs + "] or [batch, "
                    + imageShape[0] + ", " + imageShape[1] + ", " + imageShape[2] + "], found " + java.util.Arrays.toString(features.shape()));
            return new long[] {b, imageShape[0], imageShape[1], imageShape[2]};
        }
        if (inputs < 0) {
            // images without DL4J's reshaping preprocessor: their own shape
            if (features.rank() != 4) throw new IllegalArgumentException("features must be [batch, channels, height, width], found " + java.util.Arrays.toString(features.shape()));
            return features.shape();
        }
        // vectors, or images into a dense first layer: DL4J flattens them in C order too
        if (features.length() != b * inputs || features.rank() == 1) {
            throw new IllegalArgumentException("features must be [batch, " + inputs + "], found " + java.util.Arrays.toString(features.shape()));
        }
        return new long[] {b, inputs};
    }

    /**
     * The oneDNN implementation of each training primitive for a batch of {@code shape} (e.g. {@code conv1 forward:
     * brg:avx512_core}), made as {@link #computeGradient} would make it. For logs, benchmarks and tests: a
     * {@code ref:} implementation is oneDNN's slow reference code.
     */
    public List<String> implementations(long... shape) {
        requireTraining();
        return List.copyOf(plan(shape, true).impls);
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
        checkMadeFor(net);
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

    private void requireTraining() {
        if (!trains) throw new IllegalStateException("this engine was made for inference (OneDnnNet.forInference): it computes no gradients");
    }

    /** The primitives read the parameter arrays of the network this engine was made for, and write its gradient. */
    private void checkMadeFor(ComputationGraph net) {
        if (!sameMemory(net.params(), flatParams) || trains && (!sameMemory(net.getFlattenedGradients(), flatGradient)
                || !sameMemory(net.getUpdater().getStateViewArray(), updaterState))) {
            throw new IllegalStateException("this engine was made for another network (or its parameter, gradient or updater arrays were replaced)");
        }
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


    /** One step of a forward or backward pass, run in order on the engine's stream. */
    private interface Step {
        void run(stream s);
    }

    /** A primitive with its arguments; {@code what} names it in errors. */
    private record Op(String what, primitive p, IntMemoryMap args) implements Step {
        @Override public void run(stream s) {
            try {
                p.execute(s, args);
            } catch (RuntimeException e) {
                throw new IllegalStateException("oneDNN could not run " + what + ": " + e.getMessage(), e);
            }
        }
    }

    /** Java between primitives (dropout masks, batch norm's running statistics): the primitives before it have finished. */
    private record JavaStep(Runnable body) implements Step {
        @Override public void run(stream s) {
            s._wait();
            body.run();
        }
    }

    /** The primitives and memories of one input shape. */
    private final class Plan implements AutoCloseable {
        final int b, n;
        final boolean training;              // false: forward_inference primitives only
        final prop_kind kind;
        final List<Pointer> mine = new ArrayList<>();
        final List<Step> forward = new ArrayList<>();
        final List<List<Step>> backward = new ArrayList<>();   // per layer, run last layer first
        final List<String> impls = new ArrayList<>();
        final List<INDArray> masks = new ArrayList<>();   // dropout masks, which memories point at
        final memory input;
        final INDArray logits, logitsGrad;
        final float[] row, label;
        final double[] logP;

        Plan(long[] shape, boolean training) {
            this.b = (int) shape[0];
            this.n = nodes.size();
            this.training = training;
            this.kind = training ? prop_kind.forward_training : prop_kind.forward_inference;
            // the input's memory: its data handle is pointed at each batch's features in run()
            memory.desc inDesc = new memory.desc(shape, memory.data_type.f32, shape.length == 2 ? memory.format_tag.nc : memory.format_tag.nchw);
            input = keep(mine, new memory(inDesc, eng, new FloatPointer(1)));
            logits = Nd4j.createUninitialized(DataType.FLOAT, b, classes);
            logitsGrad = training ? Nd4j.createUninitialized(DataType.FLOAT, b, classes) : null;
            // per vertex: its output, the gradient there (written by its readers' backward passes), its dims
            java.util.Map<String, memory[]> values = new java.util.HashMap<>();
            java.util.Map<String, long[]> dimsOf = new java.util.HashMap<>();
            java.util.Map<String, Integer> readers = new java.util.HashMap<>(), index = new java.util.HashMap<>();
            java.util.Map<String, List<memory>> partials = new java.util.LinkedHashMap<>();
            for (Node node : nodes) for (String in : node.inputs()) readers.merge(in, 1, Integer::sum);
            values.put(inputName, new memory[] {input, null});
            dimsOf.put(inputName, shape);
            for (int i = 0; i < n; i++) {
                Node node = nodes.get(i);
                Spec s = node.spec();
                index.put(s.name(), i);
                List<Step> bwd = new ArrayList<>();
                backward.add(bwd);
                boolean last = i == n - 1;
                List<memory> srcs = new ArrayList<>(), slots = new ArrayList<>();
                List<long[]> inDims = new ArrayList<>();
                for (String in : node.inputs()) {
                    srcs.add(values.get(in)[0]);
                    inDims.add(dimsOf.get(in));
                    // the gradient at an input: its own memory, or one of several summed into it (read more than once)
                    memory grad = values.get(in)[1];
                    if (grad != null && readers.get(in) > 1) {
                        grad = keep(mine, new memory(grad.get_desc(), eng));
                        partials.computeIfAbsent(in, k -> new ArrayList<>()).add(grad);
                    }
                    slots.add(grad);
                }
                memory src = srcs.get(0), srcDiff = slots.get(0);
                long[] dims = inDims.get(0);
                memory[] out;
                try {
                    if (s instanceof Dense d) out = dense(d, src, srcDiff, dims, last, bwd);
                    else if (s instanceof Conv c) out = conv(c, src, srcDiff, dims, bwd);
                    else if (s instanceof Norm nm) out = norm(nm, src, srcDiff, dims, bwd);
                    else if (s instanceof Activation a) out = activation(a, src, srcDiff, bwd);
                    else if (s instanceof Pool p) out = pool(p, src, srcDiff, dims, bwd);
                    else if (s instanceof GlobalPool g) out = globalPool(g, src, srcDiff, dims, bwd);
                    else if (s instanceof Add a) out = add(a, srcs, slots, inDims, bwd);
                    else if (s instanceof Merge m) out = merge(m, srcs, slots, inDims, bwd);
                    else out = scale((Scale) s, src, srcDiff, bwd);
                } catch (RuntimeException e) {
                    close();
                    if (e instanceof IllegalArgumentException) throw e;
                    throw new IllegalStateException("oneDNN could not make " + s.name() + "'s primitives for input " + java.util.Arrays.toString(dims) + ": " + e.getMessage(), e);
                }
                values.put(s.name(), out);
                dimsOf.put(s.name(), dimsOf(out[0]));
            }
            // a vertex read by several: its readers' gradients summed before its own backward pass (which runs after theirs)
            for (var e : partials.entrySet()) {
                List<Step> sum = new ArrayList<>();
                memory total = values.get(e.getKey())[1];
                List<memory> parts = e.getValue();
                binary(sum, e.getKey() + " gradient sum", algorithm.binary_add, parts.get(0), parts.get(1), total);
                for (int k = 2; k < parts.size(); k++) binary(sum, e.getKey() + " gradient sum", algorithm.binary_add, total, parts.get(k), total);
                backward.get(index.get(e.getKey())).addAll(0, sum);
            }
            row = new float[(int) classes];
            label = new float[(int) classes];
            logP = new double[(int) classes];
        }

        /** Forward and backward of a dense layer; returns its output memory and the memory of its output's gradient. */
        private memory[] dense(Dense d, memory src, memory srcDiff, long[] dims, boolean last, List<Step> bwd) {
            long in = 1;
            for (int k = 1; k < dims.length; k++) in *= dims[k];
            if (in != d.nIn()) throw new IllegalArgumentException("layer " + d.name() + " takes " + d.nIn() + " inputs, found " + in + " (" + java.util.Arrays.toString(dims) + ")");
            long out = d.nOut();
            Layer layer = d.layer();
            // DL4J keeps W as [nIn, nOut] in Fortran order: in memory that is oneDNN's [out][in] row-major "oi", and
            // for images flattened in NCHW order (DL4J's CnnToFeedForwardPreProcessor) [out][c][h][w], "oihw"
            boolean images = dims.length == 4;
            memory.desc wei = images ? new memory.desc(new long[] {out, dims[1], dims[2], dims[3]}, memory.data_type.f32, memory.format_tag.oihw)
                    : desc(out, in, memory.format_tag.oi);
            // images: any layout oneDNN prefers with these weights, the previous layer's reordered into it if need be;
            // plain NCHW under dropout, whose mask is in DL4J's order of the flattened input
            boolean dropout = training && d.retain() > 0;
            memory.desc srcDesc = images ? new memory.desc(dims, memory.data_type.f32, dropout ? memory.format_tag.nchw : memory.format_tag.any) : src.get_desc();
            memory.desc dst = desc(b, out, memory.format_tag.nc);
            INDArray bParam = layer.getParam("b");
            memory.desc bia = bParam != null ? new memory.desc(new long[] {out}, memory.data_type.f32, memory.format_tag.x) : new memory.desc();
            var fpd = new inner_product_forward.primitive_desc(
                    new inner_product_forward.desc(kind, srcDesc, wei, bia, dst), attr(d.act()), eng);
            memory x = into(src, fpd.src_desc(), forward, d.name() + " input");
            memory mask = null;
            if (dropout) {
                // DL4J's Dropout: the input times a mask of 0 and 1/retain drawn by ND4J's DropOutInverted from the
                // thread's generator, in layer order as DL4J's forward pass draws it; the gradient through it times the same mask
                mask = dropoutMask(d, fpd.src_desc(), dims);
                memory dropped = keep(mine, new memory(fpd.src_desc(), eng));
                multiply(forward, d.name() + " dropout", x, mask, dropped);
                x = dropped;
            }
            memory weights = keep(mine, new memory(wei, eng, layer.getParam("W").data().addressPointer()));
            memory y = last ? keep(mine, new memory(dst, eng, logits.data().addressPointer())) : keep(mine, new memory(dst, eng));
            memory b = bParam == null ? null : keep(mine, new memory(bia, eng, bParam.data().addressPointer()));
            add(forward, d.name() + " forward", fpd, new inner_product_forward(fpd), args(DNNL_ARG_SRC, x, DNNL_ARG_WEIGHTS, weights, DNNL_ARG_BIAS, b, DNNL_ARG_DST, y));
            if (!training) return new memory[] {y, null};
            memory dy = last ? keep(mine, new memory(dst, eng, logitsGrad.data().addressPointer())) : keep(mine, new memory(dst, eng));
            var grads = gradientViews(layer);
            memory dW = keep(mine, new memory(wei, eng, grads.get("W").data().addressPointer()));
            memory db = bParam == null ? null : keep(mine, new memory(bia, eng, grads.get("b").data().addressPointer()));
            activationBackward(d.name(), d.act(), dst, y, dy, bwd);
            var wpd = new inner_product_backward_weights.primitive_desc(new inner_product_backward_weights.desc(fpd.src_desc(), wei, bia, dst), eng, fpd);
            add(bwd, d.name() + " backward weights", wpd, new inner_product_backward_weights(wpd),
                    args(DNNL_ARG_SRC, x, DNNL_ARG_DIFF_DST, dy, DNNL_ARG_DIFF_WEIGHTS, dW, DNNL_ARG_DIFF_BIAS, db));
            if (srcDiff != null) {
                // nobody needs the gradient of the input images: the first layer has no backward-data
                var dpd = new inner_product_backward_data.primitive_desc(new inner_product_backward_data.desc(fpd.src_desc(), wei, dst), eng, fpd);
                memory dx = from(srcDiff, dpd.diff_src_desc());
                memory dDropped = mask == null ? dx : keep(mine, new memory(dpd.diff_src_desc(), eng));
                add(bwd, d.name() + " backward data", dpd, new inner_product_backward_data(dpd), args(DNNL_ARG_DIFF_DST, dy, DNNL_ARG_WEIGHTS, weights, DNNL_ARG_DIFF_SRC, dDropped));
                if (mask != null) multiply(bwd, d.name() + " dropout backward", dDropped, mask, dx);
                reorder(dx, srcDiff, bwd, d.name() + " input gradient");
            }
            return new memory[] {y, dy};
        }

        /**
         * A new mask for dense layer {@code d}'s input (layout {@code plain}, dims {@code dims}), drawn before every
         * forward pass exactly as DL4J's {@code Dropout.applyDropout} draws it: an array of the input's shape and DL4J's
         * order of it, filled with ones, through ND4J's {@code DropOutInverted}. The same generator calls in the same
         * order give the same masks, so the engine's training curve stays DL4J's.
         */
        private memory dropoutMask(Dense d, memory.desc plain, long[] dims) {
            long in = d.nIn();
            INDArray m = Nd4j.createUninitialized(DataType.FLOAT, new long[] {b, in}, DROPOUT_MASK_ORDER);
            masks.add(m);   // kept alive as long as the memory that points at it
            long s0 = m.stride(0), s1 = m.stride(1);
            long[] strides = dims.length == 2 ? new long[] {s0, s1} : new long[] {s0, s1 * dims[2] * dims[3], s1 * dims[3], s1};
            memory drawn = keep(mine, new memory(new memory.desc(dims, memory.data_type.f32, strides), eng, m.data().addressPointer()));
            double retain = d.retain();
            forward.add(new JavaStep(() -> {
                m.assign(1.0);
                Nd4j.getExecutioner().exec(new org.nd4j.linalg.api.ops.random.impl.DropOutInverted(m, m, retain));
            }));
            return into(drawn, plain, forward, d.name() + " dropout mask");
        }

        /** {@code c = a * b} element by element (same dims). */
        private void multiply(List<Step> ops, String what, memory a, memory bm, memory c) {
            binary(ops, what, algorithm.binary_mul, a, bm, c);
        }

        /** {@code c = a op b} element by element (same dims; {@code c} may be {@code a}). */
        private void binary(List<Step> ops, String what, algorithm alg, memory a, memory bm, memory c) {
            var pd = new binary.primitive_desc(new binary.desc(alg, a.get_desc(), bm.get_desc(), c.get_desc()), eng);
            add(ops, what, pd, new binary(pd), args(DNNL_ARG_SRC_0, a, DNNL_ARG_SRC_1, bm, DNNL_ARG_DST, c));
        }

        /**
         * DL4J's global pooling over height and width: oneDNN's pooling with the whole image as its window, then the
         * [batch, channels, 1, 1] result as plain [batch, channels] vectors for the dense layer after it.
         */
        private memory[] globalPool(GlobalPool g, memory src, memory srcDiff, long[] dims, List<Step> bwd) {
            if (dims.length != 4) throw new IllegalArgumentException("layer " + g.name() + " takes images, found " + java.util.Arrays.toString(dims));
            long[] kernel = {dims[2], dims[3]}, one = {1, 1}, zero = {0, 0}, pooled = {b, dims[1], 1, 1};
            var fpd = new pooling_forward.primitive_desc(new pooling_forward.desc(kind, g.alg(), src.get_desc(), anyDesc(pooled),
                    one, kernel, zero, zero), eng);
            memory p = keep(mine, new memory(fpd.dst_desc(), eng));
            memory.desc wsDesc = fpd.workspace_desc();
            memory ws = wsDesc.get_size() == 0 ? null : keep(mine, new memory(wsDesc, eng));
            add(forward, g.name() + " forward", fpd, new pooling_forward(fpd), args(DNNL_ARG_SRC, src, DNNL_ARG_DST, p, DNNL_ARG_WORKSPACE, ws));
            memory.desc plain4 = new memory.desc(pooled, memory.data_type.f32, memory.format_tag.nchw), flat = desc(b, dims[1], memory.format_tag.nc);
            memory y = alias(into(p, plain4, forward, g.name() + " output"), flat);
            if (!training) return new memory[] {y, null};
            memory dy = keep(mine, new memory(flat, eng));
            memory dp = into(alias(dy, plain4), fpd.dst_desc(), bwd, g.name() + " output gradient");
            var dpd = new pooling_backward.primitive_desc(new pooling_backward.desc(g.alg(), src.get_desc(), fpd.dst_desc(), one, kernel, zero, zero), eng, fpd);
            memory dx = from(srcDiff, dpd.diff_src_desc());
            add(bwd, g.name() + " backward", dpd, new pooling_backward(dpd), args(DNNL_ARG_DIFF_DST, dp, DNNL_ARG_DIFF_SRC, dx, DNNL_ARG_WORKSPACE, ws));
            reorder(dx, srcDiff, bwd, g.name() + " input gradient");
            return new memory[] {y, dy};
        }

        /** The sum of the inputs, in the first one's layout; the gradient goes to each input unchanged. */
        private memory[] add(Add a, List<memory> srcs, List<memory> slots, List<long[]> dims, List<Step> bwd) {
            for (long[] d : dims) {
                if (!java.util.Arrays.equals(d, dims.get(0))) throw new IllegalArgumentException("vertex " + a.name() + " adds inputs of different shapes: "
                        + dims.stream().map(java.util.Arrays::toString).toList());
            }
            memory.desc layout = srcs.get(0).get_desc();
            memory y = keep(mine, new memory(layout, eng));
            for (int k = 1; k < srcs.size(); k++) {
                memory other = into(srcs.get(k), layout, forward, a.name() + " input " + (k + 1));
                binary(forward, a.name() + " forward", algorithm.binary_add, k == 1 ? srcs.get(0) : y, other, y);
            }
            if (!training) return new memory[] {y, null};
            memory dy = keep(mine, new memory(layout, eng));
            for (int k = 0; k < srcs.size(); k++) {
                if (slots.get(k) != null) reorder(dy, slots.get(k), bwd, a.name() + " gradient to input " + (k + 1));
            }
            return new memory[] {y, dy};
        }

        /** The inputs side by side along dimension 1 (channels or features), in plain layout; each takes its part of the gradient. */
        private memory[] merge(Merge m, List<memory> srcs, List<memory> slots, List<long[]> dims, List<Step> bwd) {
            long[] outDims = dims.get(0).clone();
            outDims[1] = 0;
            for (long[] d : dims) {
                long[] rest = d.clone(), first = dims.get(0).clone();
                rest[1] = first[1] = 0;
                if (!java.util.Arrays.equals(rest, first)) throw new IllegalArgumentException("vertex " + m.name() + " merges inputs of different shapes: "
                        + dims.stream().map(java.util.Arrays::toString).toList());
                outDims[1] += d[1];
            }
            memory.desc layout = new memory.desc(outDims, memory.data_type.f32, outDims.length == 4 ? memory.format_tag.nchw : memory.format_tag.nc);
            memory y = keep(mine, new memory(layout, eng));
            memory dy = training ? keep(mine, new memory(layout, eng)) : null;
            long offset = 0;
            for (int k = 0; k < srcs.size(); k++) {
                long[] at = new long[outDims.length];
                at[1] = offset;
                memory.desc part = layout.submemory_desc(new LongPointer(dims.get(k)), new LongPointer(at));
                reorder(srcs.get(k), keep(mine, new memory(part, eng, y.get_data_handle())), forward, m.name() + " input " + (k + 1));
                if (dy != null && slots.get(k) != null) {
                    reorder(keep(mine, new memory(part, eng, dy.get_data_handle())), slots.get(k), bwd, m.name() + " gradient to input " + (k + 1));
                }
                offset += dims.get(k)[1];
            }
            return new memory[] {y, dy};
        }

        /** The input times a constant (oneDNN's linear eltwise); the gradient times the same constant. */
        private memory[] scale(Scale sc, memory src, memory srcDiff, List<Step> bwd) {
            memory.desc data = src.get_desc();
            var fpd = new eltwise_forward.primitive_desc(new eltwise_forward.desc(kind, algorithm.eltwise_linear, data, sc.factor(), 0f), eng);
            memory y = keep(mine, new memory(fpd.dst_desc(), eng));
            add(forward, sc.name() + " forward", fpd, new eltwise_forward(fpd), args(DNNL_ARG_SRC, src, DNNL_ARG_DST, y));
            if (!training) return new memory[] {y, null};
            memory dy = keep(mine, new memory(fpd.dst_desc(), eng));
            if (srcDiff != null) {
                var bpd = new eltwise_backward.primitive_desc(new eltwise_backward.desc(algorithm.eltwise_linear, data, data, sc.factor(), 0f), eng, fpd);
                add(bwd, sc.name() + " backward", bpd, new eltwise_backward(bpd), args(DNNL_ARG_SRC, src, DNNL_ARG_DIFF_DST, dy, DNNL_ARG_DIFF_SRC, srcDiff));
            }
            return new memory[] {y, dy};
        }

        /**
         * DL4J's batch normalization in the layout of its input (blocked after a convolution): in training, the batch's
         * mean and (biased) variance, and as the "gradient" of the running statistics the update DL4J's updater
         * subtracts without dividing by the batch size, {@code (1 - decay) (mean - batchMean)} and, for log10 of the
         * standard deviation, {@code log10(var / (decay var + (1 - decay) batchVar)) / 2}; in inference, the running
         * statistics.
         */
        private memory[] norm(Norm nm, memory src, memory srcDiff, long[] dims, List<Step> bwd) {
            if (dims[1] != nm.channels()) throw new IllegalArgumentException("layer " + nm.name() + " takes " + nm.channels() + " channels, found " + java.util.Arrays.toString(dims));
            Layer layer = nm.layer();
            int c = (int) nm.channels();
            // [batch, features] as [batch, features, 1, 1] in NHWC, the same bytes: oneDNN runs 2-D batch norm with its
            // generic code (ncsp_bnorm: 6.1 + 3.7 ms per step for the default MLP's two, b128), NHWC with its jit kernel
            boolean flat = dims.length == 2;
            memory.desc plain = flat ? src.get_desc() : null;
            if (flat) {
                memory.desc nhwc = new memory.desc(new long[] {dims[0], dims[1], 1, 1}, memory.data_type.f32, memory.format_tag.nhwc);
                src = alias(src, nhwc);
                srcDiff = srcDiff == null ? null : alias(srcDiff, nhwc);
            }
            memory.desc data = src.get_desc();
            int flags = dnnl_use_scale | dnnl_use_shift | (training ? 0 : dnnl_use_global_stats);
            var fpd = new batch_normalization_forward.primitive_desc(new batch_normalization_forward.desc(kind.value, data, nm.eps(), flags), eng);
            memory.desc vec = new memory.desc(new long[] {c}, memory.data_type.f32, memory.format_tag.x);
            memory gamma = keep(mine, new memory(vec, eng, layer.getParam("gamma").data().addressPointer()));
            memory beta = keep(mine, new memory(vec, eng, layer.getParam("beta").data().addressPointer()));
            INDArray meanParam = layer.getParam("mean"), stdParam = layer.getParam(nm.logStd() ? "log10stdev" : "var");
            memory mean, variance;
            if (training) {
                mean = keep(mine, new memory(fpd.mean_desc(), eng));
                variance = keep(mine, new memory(fpd.variance_desc(), eng));
            } else {
                mean = keep(mine, new memory(vec, eng, meanParam.data().addressPointer()));
                if (nm.logStd()) {
                    // the variance from log10 of the standard deviation, before every pass: the parameters change between them
                    variance = keep(mine, new memory(vec, eng));
                    FloatPointer v = new FloatPointer(variance.get_data_handle()), l = new FloatPointer(stdParam.data().addressPointer());
                    forward.add(new JavaStep(() -> {
                        for (int k = 0; k < c; k++) {
                            double std = Math.pow(10, l.get(k));
                            v.put(k, (float) (std * std));
                        }
                    }));
                } else {
                    variance = keep(mine, new memory(vec, eng, stdParam.data().addressPointer()));
                }
            }
            memory y = keep(mine, new memory(fpd.dst_desc(), eng));
            add(forward, nm.name() + " forward", fpd, new batch_normalization_forward(fpd), args(DNNL_ARG_SRC, src, DNNL_ARG_MEAN, mean,
                    DNNL_ARG_VARIANCE, variance, DNNL_ARG_SCALE, gamma, DNNL_ARG_SHIFT, beta, DNNL_ARG_DST, y));
            if (!training) return new memory[] {flat ? alias(y, plain) : y, null};
            memory dy = keep(mine, new memory(fpd.dst_desc(), eng));
            var grads = gradientViews(layer);
            memory dGamma = keep(mine, new memory(vec, eng, grads.get("gamma").data().addressPointer()));
            memory dBeta = keep(mine, new memory(vec, eng, grads.get("beta").data().addressPointer()));
            // oneDNN 2.5 wants the shift among a backward pass's arguments too, though the gradient does not depend on it
            var bpd = new batch_normalization_backward.primitive_desc(new batch_normalization_backward.desc(prop_kind.backward.value,
                    fpd.dst_desc(), data, nm.eps(), dnnl_use_scale | dnnl_use_shift), eng, fpd);
            memory dx = from(srcDiff, bpd.diff_src_desc());
            add(bwd, nm.name() + " backward", bpd, new batch_normalization_backward(bpd), args(DNNL_ARG_SRC, src, DNNL_ARG_MEAN, mean,
                    DNNL_ARG_VARIANCE, variance, DNNL_ARG_DIFF_DST, dy, DNNL_ARG_SCALE, gamma, DNNL_ARG_SHIFT, beta, DNNL_ARG_DIFF_SRC, dx,
                    DNNL_ARG_DIFF_SCALE, dGamma, DNNL_ARG_DIFF_SHIFT, dBeta));
            reorder(dx, srcDiff, bwd, nm.name() + " input gradient");
            FloatPointer batchMean = new FloatPointer(mean.get_data_handle()), batchVar = new FloatPointer(variance.get_data_handle());
            FloatPointer runMean = new FloatPointer(meanParam.data().addressPointer()), runStd = new FloatPointer(stdParam.data().addressPointer());
            FloatPointer dMean = new FloatPointer(grads.get("mean").data().addressPointer());
            FloatPointer dStd = new FloatPointer(grads.get(nm.logStd() ? "log10stdev" : "var").data().addressPointer());
            double decay = nm.decay();
            boolean logStd = nm.logStd();
            bwd.add(new JavaStep(() -> {
                for (int k = 0; k < c; k++) {
                    dMean.put(k, (float) ((1 - decay) * (runMean.get(k) - batchMean.get(k))));
                    if (logStd) {
                        double std = Math.pow(10, runStd.get(k)), var = std * std;
                        dStd.put(k, (float) (Math.log(var / (decay * var + (1 - decay) * batchVar.get(k))) * HALF_ON_LN10));
                    } else {
                        dStd.put(k, (float) ((1 - decay) * (runStd.get(k) - batchVar.get(k))));
                    }
                }
            }));
            return flat ? new memory[] {alias(y, plain), alias(dy, plain)} : new memory[] {y, dy};
        }

        /** DL4J's ActivationLayer: the activation into a new memory, and its gradient into the input's. */
        private memory[] activation(Activation a, memory src, memory srcDiff, List<Step> bwd) {
            if (a.act() == null) return new memory[] {src, srcDiff};
            memory.desc data = src.get_desc();
            var fpd = new eltwise_forward.primitive_desc(new eltwise_forward.desc(kind, a.act().alg(), data, a.act().alpha(), 0f), eng);
            memory y = keep(mine, new memory(fpd.dst_desc(), eng));
            add(forward, a.name() + " forward", fpd, new eltwise_forward(fpd), args(DNNL_ARG_SRC, src, DNNL_ARG_DST, y));
            if (!training) return new memory[] {y, null};
            memory dy = keep(mine, new memory(fpd.dst_desc(), eng));
            var bpd = new eltwise_backward.primitive_desc(new eltwise_backward.desc(a.act().alg(), data, fpd.dst_desc(), a.act().alpha(), 0f), eng, fpd);
            add(bwd, a.name() + " backward", bpd, new eltwise_backward(bpd), args(DNNL_ARG_DST, y, DNNL_ARG_DIFF_DST, dy, DNNL_ARG_DIFF_SRC, srcDiff));
            return new memory[] {y, dy};
        }

        /** Forward and backward of a convolution, in the layouts oneDNN's fastest kernels for this shape want. */
        private memory[] conv(Conv c, memory src, memory srcDiff, long[] dims, List<Step> bwd) {
            if (dims.length != 4 || dims[1] != c.nIn()) throw new IllegalArgumentException("layer " + c.name() + " takes " + c.nIn() + " channels, found " + java.util.Arrays.toString(dims));
            long[][] geometry = geometry(c.name(), dims, c.kernel(), c.stride(), c.pad(), c.dilation(), c.mode());
            long[] dstDims = {b, c.nOut(), geometry[0][0], geometry[0][1]}, padL = geometry[1], padR = geometry[2];
            long[] weiDims = {c.nOut(), c.nIn(), c.kernel()[0], c.kernel()[1]};
            Layer layer = c.layer();
            INDArray bParam = layer.getParam("b");
            memory.desc srcAny = anyDesc(dims), weiAny = anyDesc(weiDims), dstAny = anyDesc(dstDims);
            memory.desc bia = bParam != null ? new memory.desc(new long[] {c.nOut()}, memory.data_type.f32, memory.format_tag.x) : new memory.desc();
            var fpd = new convolution_forward.primitive_desc(new convolution_forward.desc(kind, algorithm.convolution_direct,
                    srcAny, weiAny, bia, dstAny, c.stride(), c.dilation(), padL, padR), attr(c.act()), eng);
            memory x = into(src, fpd.src_desc(), forward, c.name() + " input");
            // DL4J's W is [nOut, nIn, kH, kW] in C order, oneDNN's oihw; reordered into the kernel's blocked layout each step
            memory.desc userWei = new memory.desc(weiDims, memory.data_type.f32, memory.format_tag.oihw);
            memory userW = keep(mine, new memory(userWei, eng, layer.getParam("W").data().addressPointer()));
            memory weights = into(userW, fpd.weights_desc(), forward, c.name() + " weights");
            memory b = bParam == null ? null : keep(mine, new memory(bia, eng, bParam.data().addressPointer()));
            memory.desc dst = fpd.dst_desc();
            memory y = keep(mine, new memory(dst, eng));
            add(forward, c.name() + " forward", fpd, new convolution_forward(fpd), args(DNNL_ARG_SRC, x, DNNL_ARG_WEIGHTS, weights, DNNL_ARG_BIAS, b, DNNL_ARG_DST, y));
            if (!training) return new memory[] {y, null};
            memory dy = keep(mine, new memory(dst, eng));
            activationBackward(c.name(), c.act(), dst, y, dy, bwd);

            var grads = gradientViews(layer);
            memory userDW = keep(mine, new memory(userWei, eng, grads.get("W").data().addressPointer()));
            memory db = bParam == null ? null : keep(mine, new memory(bia, eng, grads.get("b").data().addressPointer()));
            // the first of these layouts (input, output gradient) oneDNN runs without its reference code: the forward's
            // (no reorder), then NHWC, then its own choice. For a 1-channel first layer only NHWC has a fast kernel
            // (measured, AVX2: 1.1 ms against gemm's 2.3-3.8 ms and the reference's 140-840 ms for LeNet-5's conv1 at b64)
            var wpd = firstFast(List.of(fpd.src_desc(), nhwc(dims), srcAny), List.of(fpd.dst_desc(), nhwc(dstDims), dstAny),
                    (in, out) -> new convolution_backward_weights.primitive_desc(new convolution_backward_weights.desc(algorithm.convolution_direct,
                            in, weiAny, bia, out, c.stride(), c.dilation(), padL, padR), eng, fpd));
            memory wx = into(x, wpd.src_desc(), bwd, c.name() + " input (backward)");
            memory wdy = into(dy, wpd.diff_dst_desc(), bwd, c.name() + " output gradient (backward weights)");
            memory dW = from(userDW, wpd.diff_weights_desc());
            add(bwd, c.name() + " backward weights", wpd, new convolution_backward_weights(wpd),
                    args(DNNL_ARG_SRC, wx, DNNL_ARG_DIFF_DST, wdy, DNNL_ARG_DIFF_WEIGHTS, dW, DNNL_ARG_DIFF_BIAS, db));
            reorder(dW, userDW, bwd, c.name() + " weight gradient");
            if (srcDiff != null) {
                var dpd = firstFast(List.of(srcAny, nhwc(dims)), List.of(dstAny, nhwc(dstDims)),
                        (in, out) -> new convolution_backward_data.primitive_desc(new convolution_backward_data.desc(algorithm.convolution_direct,
                                in, weiAny, out, c.stride(), c.dilation(), padL, padR), eng, fpd));
                memory dWei = into(weights, dpd.weights_desc(), bwd, c.name() + " weights (backward data)");
                memory ddy = into(dy, dpd.diff_dst_desc(), bwd, c.name() + " output gradient (backward data)");
                memory dx = from(srcDiff, dpd.diff_src_desc());
                add(bwd, c.name() + " backward data", dpd, new convolution_backward_data(dpd), args(DNNL_ARG_DIFF_DST, ddy, DNNL_ARG_WEIGHTS, dWei, DNNL_ARG_DIFF_SRC, dx));
                reorder(dx, srcDiff, bwd, c.name() + " input gradient");
            }
            return new memory[] {y, dy};
        }

        /**
         * Forward and backward of a pooling layer, in the layout of its input (blocked after a convolution). A blocked
         * input whose channels do not fill the last block (LeNet-5's 20 and 50 in blocks of 8) is pooled as the padded
         * channel count over the same memory: oneDNN keeps the padding zero, and its pooling kernels run the partial
         * block with masked loads and stores, slow on some CPUs (AMD Zen 3: pool1 of LeNet-5 at b64 3.5 + 3.0 ms for
         * 20 channels, 2.2 + 1.6 ms for 24).
         */
        private memory[] pool(Pool p, memory src, memory srcDiff, long[] dims, List<Step> bwd) {
            if (dims.length != 4) throw new IllegalArgumentException("layer " + p.name() + " takes images, found " + java.util.Arrays.toString(dims));
            long[][] geometry = geometry(p.name(), dims, p.kernel(), p.stride(), p.pad(), new long[] {0, 0}, p.mode());
            long[] dstDims = {b, dims[1], geometry[0][0], geometry[0][1]}, padL = geometry[1], padR = geometry[2];
            memory.format_tag blocked = null;
            long padded = dims[1];
            for (var tag : new memory.format_tag[] {memory.format_tag.nChw8c, memory.format_tag.nChw16c}) {
                long block = tag == memory.format_tag.nChw8c ? 8 : 16;
                if (dims[1] % block != 0 && src.get_desc().equals(new memory.desc(dims, memory.data_type.f32, tag))) {
                    blocked = tag;
                    padded = (dims[1] + block - 1) / block * block;
                }
            }
            long[] pSrcDims = {dims[0], padded, dims[2], dims[3]}, pDstDims = {b, padded, dstDims[2], dstDims[3]};
            memory.desc pSrc = blocked == null ? src.get_desc() : new memory.desc(pSrcDims, memory.data_type.f32, blocked);
            var fpd = new pooling_forward.primitive_desc(new pooling_forward.desc(kind, p.alg(),
                    pSrc, blocked == null ? anyDesc(pDstDims) : new memory.desc(pDstDims, memory.data_type.f32, blocked),
                    p.stride(), p.kernel(), padL, padR), eng);
            memory.desc dst = fpd.dst_desc();
            memory y = keep(mine, new memory(dst, eng)), dy = training ? keep(mine, new memory(dst, eng)) : null;
            memory.desc wsDesc = fpd.workspace_desc();
            memory ws = wsDesc.get_size() == 0 ? null : keep(mine, new memory(wsDesc, eng));   // max pooling: where each maximum was
            add(forward, p.name() + " forward", fpd, new pooling_forward(fpd), args(DNNL_ARG_SRC, alias(src, pSrc), DNNL_ARG_DST, y, DNNL_ARG_WORKSPACE, ws));
            if (srcDiff != null) {
                var dpd = new pooling_backward.primitive_desc(new pooling_backward.desc(p.alg(), pSrc, dst,
                        p.stride(), p.kernel(), padL, padR), eng, fpd);
                add(bwd, p.name() + " backward", dpd, new pooling_backward(dpd), args(DNNL_ARG_DIFF_DST, dy, DNNL_ARG_DIFF_SRC, alias(srcDiff, pSrc), DNNL_ARG_WORKSPACE, ws));
            }
            if (blocked == null) return new memory[] {y, dy};
            // the next layer sees the true channel count
            memory.desc logical = new memory.desc(dstDims, memory.data_type.f32, blocked);
            return new memory[] {alias(y, logical), dy == null ? null : alias(dy, logical)};
        }

        /** {@code m}'s memory described as {@code desc} (the same bytes), or {@code m} itself when that is its description. */
        private memory alias(memory m, memory.desc desc) {
            return m.get_desc().equals(desc) ? m : keep(mine, new memory(desc, eng, m.get_data_handle()));
        }

        /**
         * The first primitive descriptor, over the given (input, output) layouts in order, that oneDNN implements with
         * more than its reference code; else the first one it implements at all (oneDNN's error if none).
         */
        private <T extends org.bytedeco.dnnl.primitive_desc> T firstFast(List<memory.desc> srcs, List<memory.desc> dsts,
                                                                         java.util.function.BiFunction<memory.desc, memory.desc, T> make) {
            T fallback = null;
            for (int k = 0; k < srcs.size(); k++) {
                T pd;
                try {
                    pd = make.apply(srcs.get(k), dsts.get(k));
                } catch (RuntimeException e) {
                    continue;   // no implementation for these layouts
                }
                if (!pd.impl_info_str().getString().startsWith("ref")) {
                    if (fallback != null) fallback.close();
                    return pd;
                }
                if (fallback == null) fallback = pd;
                else pd.close();
            }
            return fallback != null ? fallback : make.apply(srcs.get(srcs.size() - 1), dsts.get(dsts.size() - 1));
        }

        /** The activation's gradient in place: the gradient at the layer's output becomes the one before its activation. */
        private void activationBackward(String name, Act act, memory.desc dst, memory y, memory dy, List<Step> bwd) {
            if (act == null) return;
            var hint = new eltwise_forward.primitive_desc(new eltwise_forward.desc(prop_kind.forward_training, act.alg(), dst, act.alpha(), 0f), eng);
            var pd = new eltwise_backward.primitive_desc(new eltwise_backward.desc(act.alg(), dst, dst, act.alpha(), 0f), eng, hint);
            add(bwd, name + " activation backward", pd, new eltwise_backward(pd), args(DNNL_ARG_DST, y, DNNL_ARG_DIFF_DST, dy, DNNL_ARG_DIFF_SRC, dy));
        }

        /** {@code have}, or a new memory in layout {@code want} that {@code ops} fills from it with a reorder first. */
        private memory into(memory have, memory.desc want, List<Step> ops, String what) {
            if (have.get_desc().equals(want)) return have;
            memory m = keep(mine, new memory(want, eng));
            reorder(have, m, ops, what);
            return m;
        }

        /** {@code target}, or a new memory in layout {@code want} to be reordered into {@code target} afterwards. */
        private memory from(memory target, memory.desc want) {
            return target.get_desc().equals(want) ? target : keep(mine, new memory(want, eng));
        }

        private void reorder(memory from, memory to, List<Step> ops, String what) {
            if (from == to) return;
            var r = new reorder(from, to);
            impls.add(what + " reorder");
            ops.add(new Op(what + " reorder", keep(mine, r), args(DNNL_ARG_FROM, from, DNNL_ARG_TO, to)));
        }

        private void add(List<Step> ops, String what, org.bytedeco.dnnl.primitive_desc pd, primitive p, IntMemoryMap args) {
            keep(mine, pd);
            impls.add(what + ": " + pd.impl_info_str().getString());
            ops.add(new Op(what, keep(mine, p), args));
        }

        /** The argument map of a primitive; a null memory is left out (no bias, no workspace). */
        private IntMemoryMap args(Object... kv) {
            IntMemoryMap m = keep(mine, new IntMemoryMap());
            for (int k = 0; k < kv.length; k += 2) if (kv[k + 1] != null) m.put((Integer) kv[k], (memory) kv[k + 1]);
            return m;
        }

        private primitive_attr attr(Act act) {
            primitive_attr attr = keep(mine, new primitive_attr());
            if (act != null) {
                post_ops ops = keep(mine, new post_ops());
                ops.append_eltwise(1.0f, act.alg(), act.alpha(), 0f);
                attr.set_post_ops(ops);
            }
            return attr;
        }

        /** Forward in inference mode; the softmax of the logits into a new [batch, classes] array. */
        INDArray infer(INDArray x) {
            input.set_data_handle(x.data().addressPointer());
            for (Step op : forward) op.run(strm);
            strm._wait();
            int k = (int) classes;
            float[] all = new float[b * k];
            FloatPointer z = new FloatPointer(logits.data().addressPointer());
            for (int r = 0; r < b; r++) {
                z.position((long) r * k).get(row);
                logSoftmax(row, logP);
                for (int j = 0; j < k; j++) all[r * k + j] = (float) Math.exp(logP[j]);
            }
            return Nd4j.create(all, new long[] {b, k}, 'c');
        }

        double run(INDArray x, INDArray y) {
            input.set_data_handle(x.data().addressPointer());
            for (Step op : forward) op.run(strm);
            strm._wait();
            double loss = softmaxCrossEntropy(y);
            for (int i = n - 1; i >= 0; i--) for (Step op : backward.get(i)) op.run(strm);
            strm._wait();
            return loss;
        }

        /** Softmax of the logits, the mean cross-entropy, and DL4J's gradient at the logits: p - y per example. */
        private double softmaxCrossEntropy(INDArray y) {
            int k = (int) classes;
            FloatPointer z = new FloatPointer(logits.data().addressPointer());
            FloatPointer g = new FloatPointer(logitsGrad.data().addressPointer());
            FloatPointer t = new FloatPointer(y.data().addressPointer());
            double loss = 0;
            for (int r = 0; r < b; r++) {
                z.position((long) r * k).get(row);
                t.position((long) r * k).get(label);
                logSoftmax(row, logP);
                for (int j = 0; j < k; j++) {
                    double p = Math.exp(logP[j]);
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

    /** The log of the softmax of {@code z} into {@code out}, shifted by the maximum so that no exponential overflows. */
    private static void logSoftmax(float[] z, double[] out) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : z) max = Math.max(max, v);
        double sum = 0;
        for (float v : z) sum += Math.exp(v - max);
        double logSum = Math.log(sum);
        for (int j = 0; j < z.length; j++) out[j] = z[j] - max - logSum;
    }

    /**
     * DL4J's output size and oneDNN's padding for a convolution or pooling window: {out, padLeft, padRight}, each
     * [height, width]. Truncate/Strict: out = (in + 2 pad - effective kernel) / stride + 1 rounded down, and padRight
     * the padding the last window really uses (less than pad, even negative, when DL4J drops a partial window; oneDNN
     * accepts down to 1 - stride); Same: out = ceil(in / stride), the padding DL4J adds split with the smaller half first.
     */
    static long[][] geometry(String name, long[] dims, long[] kernel, long[] stride, long[] pad, long[] dilation, ConvolutionMode mode) {
        long[] out = new long[2], padL = new long[2], padR = new long[2];
        for (int k = 0; k < 2; k++) {
            long in = dims[2 + k], eff = (kernel[k] - 1) * (dilation[k] + 1) + 1;
            if (mode == ConvolutionMode.Same) {
                out[k] = (in + stride[k] - 1) / stride[k];
                long total = Math.max(0, (out[k] - 1) * stride[k] + eff - in);
                padL[k] = total / 2;
                padR[k] = total - padL[k];
            } else {
                long span = in + 2 * pad[k] - eff;
                if (span < 0) throw new IllegalArgumentException("layer " + name + ": kernel " + eff + " (with dilation) is larger than its padded input " + (in + 2 * pad[k]) + " (input " + java.util.Arrays.toString(dims) + ")");
                if (mode == ConvolutionMode.Strict && span % stride[k] != 0) {
                    throw new IllegalArgumentException("layer " + name + ": convolution mode Strict, but input " + in + " + 2 x padding " + pad[k]
                            + " - kernel " + eff + " is not a multiple of stride " + stride[k] + " (input " + java.util.Arrays.toString(dims) + ")");
                }
                out[k] = span / stride[k] + 1;
                padL[k] = pad[k];
                padR[k] = (out[k] - 1) * stride[k] + eff - in - pad[k];   // < pad when DL4J drops the last partial window
            }
        }
        return new long[][] {out, padL, padR};
    }

    /** The logical dims of a memory. */
    private static long[] dimsOf(memory m) {
        var d = m.get_desc().data();
        long[] dims = new long[d.ndims()];
        d.dims().get(dims);
        return dims;
    }

    private static memory.desc nhwc(long[] dims) {
        return new memory.desc(dims, memory.data_type.f32, memory.format_tag.nhwc);
    }

    private static memory.desc anyDesc(long[] dims) {
        return new memory.desc(dims, memory.data_type.f32, memory.format_tag.any);
    }

    private static java.util.Map<String, INDArray> gradientViews(Layer layer) {
        // DL4J's own views of this layer's segment of the flattened gradient
        return layer.conf().getLayer().initializer().getGradientsFromFlattened(layer.conf(), layer.getGradientsViewArray());
    }

    private static memory.desc desc(long rows, long cols, memory.format_tag tag) {
        return new memory.desc(new long[] {rows, cols}, memory.data_type.f32, tag);
    }
}
