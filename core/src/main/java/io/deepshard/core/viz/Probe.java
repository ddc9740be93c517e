package io.deepshard.core.viz;

import io.deepshard.core.train.OneDnnHelpers;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastMulOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A private copy of a trained network set up for looking inside it: inference behaviour (dropout removed, batch
 * normalization on its running statistics), plain heap arrays instead of workspaces (so the activations and
 * gradients of a pass stay valid after it), every vertex's activations for a batch of inputs, and the gradient of a
 * chosen activation with respect to the input.
 *
 * <p>The forward pass runs vertex by vertex, each on its own copy of its inputs, in training mode except for batch
 * normalization (with dropout removed, training mode only keeps layers from overwriting their inputs: at inference
 * DL4J's {@code ActivationLayer} applies its function in place to the previous vertex's output, which both corrupts
 * that activation and leaves its own backward pass the wrong input).
 *
 * <p>DL4J 1.0.0-M2.1's {@code ComputationGraph} has no input-gradient API ({@code calculateGradients} exists only on
 * {@code MultiLayerNetwork}; {@code backpropGradient(epsilons)} starts at the output layers and keeps the input's
 * epsilon to itself). So {@link #gradient} walks the vertices in reverse topological order from the target vertex,
 * as {@code ComputationGraph.calcBackpropGradients} does, summing the epsilons each vertex hands to its inputs, and
 * returns the one that reaches the input vertex. Examples of a batch are independent (nothing mixes them at
 * inference), so one pass gives every example the gradient of its own target. Batch normalization is the exception
 * to reusing DL4J's backward code: its backward pass is the training-mode one, so the probe applies the inference
 * gradient itself (see {@code scale}). Checked against finite differences in {@code VisualizationTest}.
 *
 * <p>Objectives: for a unit of a dense layer its activation, for a channel of a convolutional (or any NCHW) layer the
 * mean of its feature map. A ReLU channel that is off everywhere has no gradient; for it {@link #gradient} returns
 * the gradient of its largest pre-activation (the position closest to switching on), and the true gradient once any
 * position is on. (The mean pre-activation is no good objective: for a first layer it is linear in the input, so its
 * maximum is a flat image; a leaky slope pushes that same mean and, measured, left channels off that training images
 * turn on.) For a class of the output layer: minus the training loss against that class,
 * which for the softmax cross-entropy of every zoo model is the class's log-probability (its gradient is the output
 * layer's own); the activation reported beside it is the class's output, its probability.
 */
public final class Probe {
    private final ComputationGraph net;
    private final int[] inputShape;
    private final int exampleSize;
    private final List<Layer> layers;
    private final Map<String, INDArray> batchNormScale = new HashMap<>();

    /**
     * A vertex of the network.
     *
     * @param name   the vertex name ({@code --layers} uses it)
     * @param type   the DL4J layer or vertex class, e.g. {@code ConvolutionLayer}
     * @param shape  its activation shape for one example: {@code [1, channels, H, W]} or {@code [1, units]}
     * @param kind   what it is for choosing defaults
     */
    public record Layer(String name, String type, long[] shape, Kind kind) {
        /** Channels (NCHW) or units. */
        public int units() { return (int) shape[1]; }

        public boolean output() { return kind == Kind.OUTPUT; }
    }

    /** Convolution (DL4J's ConvolutionLayer and subclasses), dense, the output layer, or anything else. */
    public enum Kind { CONVOLUTION, DENSE, OUTPUT, OTHER }

    /** Each example's objective, and its activation (the same, but for a class: its output, the probability with softmax). */
    public record Step(double[] values, double[] activations) {}

    /** Copies {@code trained} (which stays untouched) for inputs of {@code inputShape} = [C, H, W], fed flat as in training. */
    public Probe(ComputationGraph trained, int[] inputShape) {
        OneDnnHelpers.enable();
        this.net = trained.clone();
        this.inputShape = inputShape.clone();
        this.exampleSize = inputShape[0] * inputShape[1] * inputShape[2];
        net.getConfiguration().setTrainingWorkspaceMode(WorkspaceMode.NONE);
        net.getConfiguration().setInferenceWorkspaceMode(WorkspaceMode.NONE);
        for (var l : net.getLayers()) l.conf().getLayer().setIDropout(null); // forward and backward passes run in training mode
        net.initGradientsView();
        Map<String, INDArray> acts = activations(new float[exampleSize], 1);
        var out = new ArrayList<Layer>();
        String output = net.getConfiguration().getNetworkOutputs().get(0);
        for (int i : net.topologicalSortOrder()) {
            GraphVertex v = net.getVertices()[i];
            if (v.isInputVertex()) continue;
            Object conf = v.hasLayer() ? v.getLayer().conf().getLayer() : v;
            Kind kind = v.getVertexName().equals(output) ? Kind.OUTPUT
                    : conf instanceof org.deeplearning4j.nn.conf.layers.ConvolutionLayer ? Kind.CONVOLUTION
                    : conf instanceof org.deeplearning4j.nn.conf.layers.DenseLayer ? Kind.DENSE : Kind.OTHER;
            out.add(new Layer(v.getVertexName(), conf.getClass().getSimpleName(), acts.get(v.getVertexName()).shape(), kind));
            if (v.hasLayer() && v.getLayer() instanceof org.deeplearning4j.nn.layers.normalization.BatchNormalization bn) {
                batchNormScale.put(v.getVertexName(), scale(bn, acts.get(v.getVertexName())));
            }
        }
        this.layers = List.copyOf(out);
    }

    public int[] inputShape() { return inputShape.clone(); }

    public int exampleSize() { return exampleSize; }

    /** Every vertex but the input, in topological order (input side first). */
    public List<Layer> layers() { return layers; }

    /** The vertex called {@code name}, or null. */
    public Layer layer(String name) {
        return layers.stream().filter(l -> l.name().equals(name)).findFirst().orElse(null);
    }

    /** What {@link #evaluate} measures for a target of {@code layer}, in words (for reports). */
    public String objective(String layer) {
        Layer l = layer(layer);
        if (l.output()) return "log-probability of the class (minus the training loss against it)";
        IActivation fn = activation(net.getVertex(layer));
        String what = "activation" + (fn instanceof ActivationReLU ? " (relu)" : "");
        return l.shape().length > 2 ? "mean " + what + " of the channel" : what + " of the unit";
    }

    /**
     * Where {@code l}'s activation function is applied: {@code l} itself unless its function is the identity and its
     * output goes, through batch normalization only, to an {@code ActivationLayer} (the zoo's batch-norm blocks:
     * {@code conv1_linear -> conv1_bn -> conv1}); then that layer.
     */
    public Layer activated(Layer l) {
        if (l.output() || !(activation(net.getVertex(l.name())) instanceof ActivationIdentity)) return l;
        GraphVertex v = net.getVertex(l.name());
        while (v.getOutputVertices() != null && v.getOutputVertices().length == 1) {
            v = net.getVertices()[v.getOutputVertices()[0].getVertexIndex()];
            Object conf = v.hasLayer() ? v.getLayer().conf().getLayer() : null;
            if (conf instanceof ActivationLayer) return layer(v.getVertexName());
            if (!(conf instanceof org.deeplearning4j.nn.conf.layers.BatchNormalization)) break;
        }
        return l;
    }

    /** Every vertex's activations for {@code n} normalized examples (flat CHW, one after another). */
    public Map<String, INDArray> activations(float[] x, int n) {
        INDArray in = input(x, n);
        var mgr = LayerWorkspaceMgr.noWorkspaces();
        net.setInputs(in); // the pre-processors' backward passes read the batch size from the graph
        for (var l : net.getLayers()) l.setInputMiniBatchSize(n);
        GraphVertex[] vertices = net.getVertices();
        INDArray[] out = new INDArray[vertices.length];
        Map<String, INDArray> acts = new LinkedHashMap<>();
        for (int i : net.topologicalSortOrder()) {
            GraphVertex v = vertices[i];
            if (v.isInputVertex()) {
                out[i] = in;
            } else {
                VertexIndices[] inputs = v.getInputVertices();
                for (int j = 0; j < inputs.length; j++) v.setInput(j, out[inputs[j].getVertexIndex()].dup(), mgr);
                boolean batchNorm = v.hasLayer() && v.getLayer() instanceof org.deeplearning4j.nn.layers.normalization.BatchNormalization;
                out[i] = v.doForward(!batchNorm, mgr);
            }
            acts.put(v.getVertexName(), out[i]);
        }
        return acts;
    }

    /**
     * Example {@code i}'s objective and activation for {@code units[i]} of {@code layer} (see the class comment) at
     * input {@code x}, {@code units.length} normalized examples.
     */
    public Step evaluate(String layer, int[] units, float[] x) {
        Layer target = check(layer, units);
        INDArray act = activations(x, units.length).get(layer);
        double[] activations = means(act, units), values = target.output() ? classScores(act, units) : activations;
        return new Step(values, activations);
    }

    /**
     * The gradient of the sum of the objectives of {@link #evaluate} with respect to {@code x}: row {@code i} is the
     * gradient of example {@code i}'s objective (for a ReLU channel that is off everywhere: of its largest pre-activation).
     */
    public float[] gradient(String layer, int[] units, float[] x) {
        Layer target = check(layer, units);
        GraphVertex tv = net.getVertex(layer);
        IActivation relu = target.output() ? null : linear(tv);
        try {
            INDArray act = activations(x, units.length).get(layer); // for a ReLU layer its pre-activation z
            INDArray seed = relu != null ? reluSeed(act, units) : seed(act, units, target.output());
            if (target.output()) ((IOutputLayer) tv.getLayer()).setLabels(seed);
            return backward(tv, target.output() ? null : seed, target.output());
        } finally {
            if (relu != null) setActivation(tv, relu);
        }
    }

    private Layer check(String layer, int[] units) {
        Layer target = layer(layer);
        if (target == null) throw new IllegalArgumentException("no layer " + layer + " in the network");
        for (int u : units) {
            if (u < 0 || u >= target.units()) throw new IllegalArgumentException("unit " + u + " of " + layer + " out of range 0.." + (target.units() - 1));
        }
        return target;
    }

    /** One-hot labels of the classes (output layer), or d(objective)/d(activation): 1/positions on each target channel. */
    private static INDArray seed(INDArray act, int[] units, boolean output) {
        INDArray seed = Nd4j.zeros(act.dataType(), act.shape());
        long positions = act.length() / (act.size(0) * act.size(1));
        for (int i = 0; i < units.length; i++) {
            seed.get(NDArrayIndex.point(i), NDArrayIndex.point(units[i])).assign(output ? 1.0 : 1.0 / positions);
        }
        return seed;
    }

    /**
     * d(mean ReLU(z))/dz = 1/positions where z > 0 on each target channel; for a channel that is off everywhere, 1 at
     * its largest z (the position closest to switching on) instead.
     */
    private static INDArray reluSeed(INDArray z, int[] units) {
        INDArray seed = Nd4j.zeros(z.dataType(), z.shape());
        for (int i = 0; i < units.length; i++) {
            INDArray zc = z.get(NDArrayIndex.point(i), NDArrayIndex.point(units[i]));
            INDArray sc = seed.get(NDArrayIndex.point(i), NDArrayIndex.point(units[i]));
            long positions = zc.length();
            if (zc.maxNumber().doubleValue() > 0) {
                sc.assign(zc.gt(0).castTo(z.dataType()).divi(positions));
            } else {
                INDArray flat = sc.reshape(positions); // a view of the seed
                flat.putScalar(zc.reshape(positions).argMax(0).getLong(0), 1.0);
            }
        }
        return seed;
    }

    /** Minus the output layer's loss per example against one-hot labels of {@code units} (after a forward pass). */
    private double[] classScores(INDArray act, int[] units) {
        IOutputLayer out = (IOutputLayer) net.getVertex(layers.stream().filter(Layer::output).findFirst().orElseThrow().name()).getLayer();
        out.setLabels(seed(act, units, true));
        INDArray scores = out.computeScoreForExamples(0, LayerWorkspaceMgr.noWorkspaces());
        double[] v = new double[units.length];
        for (int i = 0; i < v.length; i++) v[i] = -scores.getDouble(i);
        return v;
    }

    /** Example i's mean of channel (or unit) {@code units[i]}. */
    private static double[] means(INDArray act, int[] units) {
        double[] m = new double[units.length];
        for (int i = 0; i < units.length; i++) m[i] = act.get(NDArrayIndex.point(i), NDArrayIndex.point(units[i])).meanNumber().doubleValue();
        return m;
    }

    /** Replaces a ReLU activation of the vertex by the identity; returns the ReLU replaced, or null if there is none. */
    private static IActivation linear(GraphVertex v) {
        IActivation fn = activation(v);
        if (!(fn instanceof ActivationReLU)) return null;
        setActivation(v, new ActivationIdentity());
        return fn;
    }

    private static IActivation activation(GraphVertex v) {
        Object conf = v.hasLayer() ? v.getLayer().conf().getLayer() : null;
        return conf instanceof BaseLayer b ? b.getActivationFn() : conf instanceof ActivationLayer a ? a.getActivationFn() : null;
    }

    private static void setActivation(GraphVertex v, IActivation fn) {
        Object conf = v.getLayer().conf().getLayer();
        if (conf instanceof BaseLayer b) b.setActivationFn(fn);
        else ((ActivationLayer) conf).setActivationFn(fn);
    }

    /** Backpropagates from {@code target} (its epsilon, or its loss for an output layer) to the input. */
    private float[] backward(GraphVertex target, INDArray epsilon, boolean loss) {
        GraphVertex[] vertices = net.getVertices();
        INDArray[] eps = new INDArray[vertices.length];
        eps[target.getVertexIndex()] = epsilon;
        int[] order = net.topologicalSortOrder();
        INDArray atInput = null;
        for (int k = order.length - 1; k >= 0; k--) {
            GraphVertex v = vertices[order[k]];
            int idx = v.getVertexIndex();
            boolean isTarget = idx == target.getVertexIndex();
            if (!isTarget && eps[idx] == null) continue; // not between the target and the input
            if (v.isInputVertex()) {
                atInput = eps[idx];
                continue;
            }
            INDArray[] back;
            INDArray bn = batchNormScale.get(v.getVertexName());
            if (bn != null) {
                back = new INDArray[] {batchNormBackward((LayerVertex) v, eps[idx], bn)};
            } else {
                if (!(isTarget && loss)) v.setEpsilon(eps[idx]);
                Pair<Gradient, INDArray[]> p = v.doBackward(false, LayerWorkspaceMgr.noWorkspaces());
                back = p.getSecond();
            }
            VertexIndices[] inputs = v.getInputVertices();
            for (int j = 0; j < inputs.length; j++) {
                int from = inputs[j].getVertexIndex();
                INDArray e = back[j];
                eps[from] = eps[from] == null ? e.dup() : eps[from].addi(e);
            }
        }
        if (atInput == null) throw new IllegalStateException("no gradient reached the input from " + target.getVertexName());
        float[] g = Nd4j.toFlattened('c', atInput.castTo(DataType.FLOAT)).toFloatVector();
        if (loss) for (int i = 0; i < g.length; i++) g[i] = -g[i]; // the objective is minus the loss
        return g;
    }

    /**
     * At inference batch normalization is a fixed affine map per channel, {@code y = a[c] x + b[c]}. DL4J's own backward
     * pass (and its oneDNN helper's) is the training-mode one, through the batch statistics, so the probe measures
     * {@code a} once with the layer's inference forward pass ({@code a = f(1) - f(0)}) and backpropagates with it.
     */
    private static INDArray scale(org.deeplearning4j.nn.layers.normalization.BatchNormalization bn, INDArray activation) {
        long c = activation.size(1);
        long[] shape = activation.rank() == 4 ? new long[] {1, c, 1, 1} : new long[] {1, c};
        var mgr = LayerWorkspaceMgr.noWorkspaces();
        INDArray one = bn.activate(Nd4j.ones(activation.dataType(), shape), false, mgr).dup();
        INDArray zero = bn.activate(Nd4j.zeros(activation.dataType(), shape), false, mgr).dup();
        return one.subi(zero).reshape(c);
    }

    private static INDArray batchNormBackward(LayerVertex v, INDArray epsilon, INDArray scale) {
        INDArray e = Nd4j.getExecutioner().exec(new BroadcastMulOp(epsilon, scale, epsilon.ulike(), 1));
        var pre = v.getLayerPreProcessor();
        return pre == null ? e : pre.backprop(e, (int) e.size(0), LayerWorkspaceMgr.noWorkspaces());
    }

    private INDArray input(float[] x, int n) {
        if (x.length != n * exampleSize) {
            throw new IllegalArgumentException(x.length + " values are not " + n + " examples of " + Arrays.toString(inputShape));
        }
        return Nd4j.create(x, new long[] {n, exampleSize}, 'c').castTo(net.params().dataType());
    }
}
