package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
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
 * Default hidden sizes 256, 128 with ReLU (784-256-128-10: 235,146 parameters).
 *
 * <ul>
 *   <li>{@code activation}: of the hidden layers ({@link ActivationSpec}: relu, leakyrelu with alpha, elu, tanh,
 *       sigmoid); He initialization for the ReLU family, Xavier otherwise.</li>
 *   <li>{@code dropout}: probability of dropping each hidden unit during training (Srivastava et al. 2014); off at
 *       inference.</li>
 *   <li>{@code batchNorm}: batch normalization (Ioffe and Szegedy 2015) between each hidden layer's affine map and its
 *       activation; the dense layer then has no bias (BN's beta replaces it), so each hidden layer of n units has
 *       n more trainable parameters (gamma, beta minus the bias). Running mean and variance are averaged across
 *       workers with the other parameters.</li>
 * </ul>
 */
public record Mlp(int[] hidden, ActivationSpec activation, double dropout, boolean batchNorm) implements ZooModel {
    public static final String NAME = "mlp";

    public Mlp(int[] hidden, String activation, double dropout) {
        this(hidden, new ActivationSpec(activation, ActivationSpec.defaultAlpha(activation)), dropout, false);
    }

    @Override public String name() { return NAME; }

    @Override public Map<String, Object> describe() {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", NAME);
        m.put("hidden", Arrays.stream(hidden).boxed().toList());
        ActivationSpec.put(m, "activation", activation);
        m.put("dropout", dropout);
        m.put("batchNorm", batchNorm);
        return m;
    }

    @Override public void addLayers(GraphBuilder g, int[] inputShape, int numClasses) {
        WeightInit init = activation.defaultInit();
        String prev = INPUT;
        for (int i = 0; i < hidden.length; i++) {
            String name = "dense" + (i + 1);
            var dense = new DenseLayer.Builder().nOut(hidden[i]).weightInit(init);
            if (i > 0 && dropout > 0) dense.dropOut(1 - dropout); // DL4J takes the retain probability; dropout on inputs of hidden layers
            if (batchNorm) {
                g.addLayer(name + "_linear", dense.activation(Activation.IDENTITY).hasBias(false).build(), prev);
                g.addLayer(name + "_bn", new BatchNormalization.Builder().build(), name + "_linear");
                g.addLayer(name, new ActivationLayer.Builder().activation(activation.toDl4j()).build(), name + "_bn");
            } else {
                g.addLayer(name, dense.activation(activation.toDl4j()).build(), prev);
            }
            prev = name;
        }
        var out = new OutputLayer.Builder(LossFunction.MCXENT).nOut(numClasses).activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER);
        if (hidden.length > 0 && dropout > 0) out.dropOut(1 - dropout);
        g.addLayer(OUTPUT, out.build(), prev);
    }

    @Override public boolean equals(Object o) {
        return o instanceof Mlp m && Arrays.equals(hidden, m.hidden) && activation.equals(m.activation) && dropout == m.dropout
                && batchNorm == m.batchNorm;
    }

    @Override public int hashCode() { return 31 * Arrays.hashCode(hidden) + activation.hashCode(); }

    @Override public String toString() { return "Mlp" + describe(); }
}
