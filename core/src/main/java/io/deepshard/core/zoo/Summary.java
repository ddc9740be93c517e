package io.deepshard.core.zoo;

import io.deepshard.core.config.DataConfig;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** A model's layers in order with their output shapes and trainable parameter counts (no data, no Spark). */
public record Summary(Map<String, Object> model, List<Layer> layers, long totalParameters) {

    /** One vertex: name, type, output shape per example ([C, H, W] or [N]), trainable parameters. */
    public record Layer(String name, String type, List<Long> outputShape, long parameters) {}

    public static Summary of(ZooModel model, ComputationGraph net, DataConfig data) {
        Map<String, InputType> types = net.getConfiguration().getLayerActivationTypes(NetworkFactory.inputType(model, data));
        int[] in = data.inputShape();
        var layers = new ArrayList<Layer>();
        layers.add(new Layer(ZooModel.INPUT, "Input", List.of((long) in[0], (long) in[1], (long) in[2]), 0));
        GraphVertex[] vertices = net.getVertices();
        for (int idx : net.topologicalSortOrder()) {
            GraphVertex v = vertices[idx];
            if (v.isInputVertex()) continue;
            String type = v.hasLayer() ? v.getLayer().conf().getLayer().getClass().getSimpleName()
                    : v.getClass().getSimpleName().replace("Vertex", "") + " vertex";
            long params = v.hasLayer() ? ModelSummary.trainableParameters(v.getLayer()) : 0;
            layers.add(new Layer(v.getVertexName(), type, shape(types.get(v.getVertexName())), params));
        }
        return new Summary(model.describe(), layers, ModelSummary.trainableParameters(net));
    }

    static List<Long> shape(InputType t) {
        if (t == null) return List.of();
        long[] s = t.getShape(false);
        var out = new ArrayList<Long>();
        for (long v : s) out.add(v);
        return out;
    }

    public Map<String, Object> toJson() {
        var m = new LinkedHashMap<String, Object>();
        m.put("model", model);
        m.put("totalParameters", totalParameters);
        m.put("layers", layers);
        return m;
    }

    public String toText() {
        var sb = new StringBuilder(String.format(Locale.ROOT, "%-22s %-22s %-16s %12s%n", "layer", "type", "output", "parameters"));
        for (Layer l : layers) {
            sb.append(String.format(Locale.ROOT, "%-22s %-22s %-16s %,12d%n", l.name(), l.type(),
                    l.outputShape().toString().replace(" ", ""), l.parameters()));
        }
        sb.append(String.format(Locale.ROOT, "%-62s %,12d%n", "total (trainable)", totalParameters));
        return sb.toString();
    }
}
