package io.deepshard.core.zoo;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;
import java.util.Set;

/** Parameter counts as papers report them: trainable parameters only. */
public final class ModelSummary {
    /** Batch-norm running statistics: DL4J keeps them in the parameter vector (so they are averaged), papers don't count them. */
    private static final Set<String> NON_TRAINABLE = Set.of("mean", "var", "log10stdev");

    private ModelSummary() {}

    public static long trainableParameters(ComputationGraph net) {
        long n = 0;
        for (Layer l : net.getLayers()) n += trainableParameters(l);
        return n;
    }

    public static long trainableParameters(Layer l) {
        long n = 0;
        for (Map.Entry<String, INDArray> e : l.paramTable().entrySet()) {
            if (!NON_TRAINABLE.contains(e.getKey())) n += e.getValue().length();
        }
        return n;
    }
}
