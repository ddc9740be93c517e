package io.deepshard.core.zoo;

import io.deepshard.core.config.TransferSpec;
import io.deepshard.core.config.TrainingConfig;
import io.deepshard.core.train.OneDnnHelpers;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.transferlearning.FineTuneConfiguration;
import org.deeplearning4j.nn.transferlearning.TransferLearning;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.learning.config.IUpdater;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Transfer learning on a trained network: the first layers frozen (their parameters never change: a frozen layer has
 * no updater, and the averaging keeps its values bit for bit, see {@link #frozenParamRanges}), the output head
 * re-initialized for the new classes, every other layer fine-tuned with the new training settings; and the second
 * phase's network with every layer trainable again.
 */
public final class Transfer {
    private Transfer() {}

    /** What {@link #prepare} made: the network, the names of its frozen layers and of its new head. */
    public record Prepared(ComputationGraph network, List<String> frozen, String head) {}

    /** The layer vertices of {@code net} in the order {@code deepshard summary} lists them (topological). */
    public static List<String> layerNames(ComputationGraph net) {
        var names = new ArrayList<String>();
        GraphVertex[] vertices = net.getVertices();
        for (int idx : net.topologicalSortOrder()) if (vertices[idx].hasLayer()) names.add(vertices[idx].getVertexName());
        return names;
    }

    /**
     * The layer whose outputs are the class scores: the output layer when it has parameters, else (a loss layer such as
     * U-Net's per-pixel {@code CnnLossLayer}) the nearest layer with parameters feeding it.
     */
    public static String head(ComputationGraph net) {
        var conf = net.getConfiguration();
        String name = conf.getNetworkOutputs().get(0);
        while (true) {
            Layer l = net.getLayer(name);
            if (l != null && l.numParams() > 0) {
                if (!(innerConf(l) instanceof FeedForwardLayer)) {
                    throw new IllegalArgumentException("the output head '" + name + "' is a " + innerConf(l).getClass().getSimpleName()
                            + ", whose number of outputs cannot be replaced");
                }
                return name;
            }
            List<String> inputs = conf.getVertexInputs().get(name);
            if (inputs == null || inputs.size() != 1) throw new IllegalArgumentException("cannot find the layer that produces the class scores "
                    + "(vertex '" + name + "' has inputs " + inputs + ")");
            name = inputs.get(0);
        }
    }

    /**
     * The layers to freeze: the first {@code spec.freeze()} layers, or {@code spec.freezeUpTo()} and its ancestors, or
     * (neither given) every layer the head depends on. The head itself is never frozen.
     *
     * @throws IllegalArgumentException naming the problem and the model's layers when the spec does not fit the network
     */
    public static List<String> layersToFreeze(ComputationGraph net, TransferSpec spec) {
        List<String> names = layerNames(net);
        String head = head(net);
        int headIndex = names.indexOf(head);
        List<String> roots;
        if (spec.freeze() >= 0) {
            if (spec.freeze() > headIndex) {
                throw new IllegalArgumentException("transfer.freeze: " + spec.freeze() + " layers would freeze the output head '" + head
                        + "' (layer " + (headIndex + 1) + " of " + names + "); at most " + headIndex + " layers can be frozen");
            }
            roots = names.subList(0, spec.freeze());
        } else if (spec.freezeUpTo() != null) {
            if (!names.contains(spec.freezeUpTo())) {
                throw new IllegalArgumentException("transfer.freezeUpTo: the model has no layer '" + spec.freezeUpTo() + "'; its layers: " + names);
            }
            roots = List.of(spec.freezeUpTo());
        } else {
            roots = net.getConfiguration().getVertexInputs().get(head);
        }
        Set<String> frozen = ancestorLayers(net, roots);
        if (frozen.contains(head)) {
            throw new IllegalArgumentException("transfer.freezeUpTo: '" + spec.freezeUpTo() + "' is or follows the output head '" + head
                    + "', which is replaced and trained; freeze a layer before it (layers: " + names + ")");
        }
        return names.stream().filter(frozen::contains).toList();
    }

    /** The layers among {@code roots} and everything they depend on. */
    private static Set<String> ancestorLayers(ComputationGraph net, List<String> roots) {
        var conf = net.getConfiguration();
        var seen = new LinkedHashSet<String>();
        var todo = new ArrayList<>(roots);
        while (!todo.isEmpty()) {
            String v = todo.remove(todo.size() - 1);
            if (!seen.add(v)) continue;
            List<String> in = conf.getVertexInputs().get(v);
            if (in != null) todo.addAll(in);
        }
        seen.removeIf(v -> net.getLayer(v) == null);
        return seen;
    }

    /**
     * The network to fine-tune: {@code source}'s parameters, the layers of {@link #layersToFreeze} frozen, the head with
     * {@code numClasses} outputs and new weights (Xavier, drawn with the training seed), the training's updater (with
     * its schedule resolved for {@code stepsPerEpoch}) and regularization on every trainable layer.
     */
    public static Prepared prepare(ComputationGraph source, TransferSpec spec, int numClasses, TrainingConfig training, int stepsPerEpoch) {
        OneDnnHelpers.enable();
        List<String> frozen = layersToFreeze(source, spec);
        String head = head(source);
        var fineTune = new FineTuneConfiguration.Builder().seed(training.seed()).updater(training.updater(stepsPerEpoch))
                .l1(training.l1()).l2(training.l2()).build();
        var b = new TransferLearning.GraphBuilder(source).fineTuneConfiguration(fineTune)
                .nOutReplace(head, numClasses, WeightInit.XAVIER);
        if (!frozen.isEmpty()) b.setFeatureExtractor(frozen.toArray(String[]::new));
        ComputationGraph built = b.build();
        // FineTuneConfiguration leaves a layer's own updater in place where the source set one explicitly: set it everywhere
        ComputationGraphConfiguration conf = built.getConfiguration().clone();
        IUpdater updater = training.updater(stepsPerEpoch);
        setUpdater(conf, updater);
        NetworkFactory.dedupeRegularization(conf);
        NetworkFactory.applyLoss(conf, training);
        ComputationGraph net = OneDnnHelpers.build(training.engine(), () -> {
            ComputationGraph n = new ComputationGraph(conf);
            n.init(built.params().dup(), false);
            return n;
        });
        return new Prepared(net, frozen, head);
    }

    /**
     * The same network with every layer trainable: frozen layers unwrapped, {@code updater} (fresh state) on every layer,
     * the parameters of {@code net}.
     */
    public static ComputationGraph unfreeze(ComputationGraph net, IUpdater updater) {
        OneDnnHelpers.enable();
        ComputationGraphConfiguration conf = net.getConfiguration().clone();
        for (var v : conf.getVertices().values()) {
            if (v instanceof LayerVertex lv) {
                var layer = lv.getLayerConf().getLayer();
                if (layer instanceof FrozenLayer f) lv.getLayerConf().setLayer(f.getLayer());
                else if (layer instanceof FrozenLayerWithBackprop f) lv.getLayerConf().setLayer(f.getUnderlying());
            }
        }
        setUpdater(conf, updater);
        ComputationGraph out = new ComputationGraph(conf);
        out.init(net.params().dup(), false);
        return out;
    }

    private static void setUpdater(ComputationGraphConfiguration conf, IUpdater updater) {
        for (var v : conf.getVertices().values()) {
            if (v instanceof LayerVertex lv && lv.getLayerConf().getLayer() instanceof BaseLayer bl) {
                bl.setIUpdater(updater.clone());
                bl.setBiasUpdater(null);
            }
        }
    }

    /**
     * The frozen layers' parameters as {@code [from, to)} ranges of the flattened parameter vector ({@code
     * net.params()}), which holds the layers' parameters in topological order. Empty when nothing is frozen.
     */
    public static int[] frozenParamRanges(ComputationGraph net) {
        var ranges = new ArrayList<Integer>();
        long offset = 0;
        GraphVertex[] vertices = net.getVertices();
        for (int idx : net.topologicalSortOrder()) {
            GraphVertex v = vertices[idx];
            if (!v.hasLayer()) continue;
            long n = v.getLayer().numParams();
            if (n > 0 && isFrozen(net, v.getVertexName())) {
                ranges.add(Math.toIntExact(offset));
                ranges.add(Math.toIntExact(offset + n));
            }
            offset += n;
        }
        if (offset != net.numParams()) throw new IllegalStateException("layer parameters add up to " + offset + ", the network has " + net.numParams());
        return ranges.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Whether the configuration wraps the layer as frozen (at run time DL4J's frozen layer reports its inner conf). */
    public static boolean isFrozen(ComputationGraph net, String layer) {
        return net.getConfiguration().getVertices().get(layer) instanceof LayerVertex lv
                && (lv.getLayerConf().getLayer() instanceof FrozenLayer || lv.getLayerConf().getLayer() instanceof FrozenLayerWithBackprop);
    }

    private static org.deeplearning4j.nn.conf.layers.Layer innerConf(Layer l) {
        var c = l.conf().getLayer();
        if (c instanceof FrozenLayer f) return f.getLayer();
        if (c instanceof FrozenLayerWithBackprop f) return f.getUnderlying();
        return c;
    }
}
