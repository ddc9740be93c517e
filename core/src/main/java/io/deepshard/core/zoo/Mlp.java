package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Multi-layer perceptron: {@code sizes = [input] + hidden + [classes]}, fully connected, softmax output.
 * With no hidden layers it is a (softmax) perceptron. Rosenblatt 1958; Rumelhart, Hinton, Williams 1986.
 * Default hidden sizes 256, 128 with ReLU (784-256-128-10: 235,146 parameters). {@code dropout}: probability of
 * dropping each hidden unit during training (Srivastava et al. 2014); off at inference.
 */
public record Mlp(int[] hidden, String activation, double dropout) implements ZooModel {
    public static final String NAME = "mlp";
    public static final List<String> ACTIVATIONS = List.of("relu", "tanh", "sigmoid", "leakyrelu", "elu");

    @Override public String name() { return NAME; }

    @Override public Map<String, Object> describe() {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", NAME);
        m.put("hidden", Arrays.stream(hidden).boxed().toList());
        m.put("activation", activation);
        m.put("dropout", dropout);
        return m;
    }

    @Override public void addLayers(GraphBuilder g, int[] inputShape, int numClasses) {
        Activation act = Activation.valueOf(activation.toUpperCase(java.util.Locale.ROOT));
        WeightInit init = activation.endsWith("relu") || activation.equals("elu") ? WeightInit.RELU : WeightInit.XAVIER;
        String prev = INPUT;
        for (int i = 0; i < hidden.length; i++) {
            String name = "dense" + (i + 1);
            var dense = new DenseLayer.Builder().nOut(hidden[i]).activation(act).weightInit(init);
            if (i > 0 && dropout > 0) dense.dropOut(1 - dropout); // DL4J takes the retain probability; dropout on inputs of hidden layers
            g.addLayer(name, dense.build(), prev);
            prev = name;
        }
        var out = new OutputLayer.Builder(LossFunction.MCXENT).nOut(numClasses).activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER);
        if (hidden.length > 0 && dropout > 0) out.dropOut(1 - dropout);
        g.addLayer(OUTPUT, out.build(), prev);
    }

    @Override public boolean equals(Object o) {
        return o instanceof Mlp m && Arrays.equals(hidden, m.hidden) && activation.equals(m.activation) && dropout == m.dropout;
    }

    @Override public int hashCode() { return 31 * Arrays.hashCode(hidden) + activation.hashCode(); }

    @Override public String toString() { return "Mlp" + describe(); }
}
