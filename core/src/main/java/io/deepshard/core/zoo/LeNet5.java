package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LeNet-5. Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to document recognition",
 * Proc. IEEE 86(11), 1998.
 *
 * <ul>
 *   <li>{@code modern} (default; the layout of Caffe's and DL4J's MNIST examples, used in our benchmarks):
 *       conv 5×5×20 → max-pool 2 → conv 5×5×50 → max-pool 2 → dense 500 → softmax; ReLU, He init.
 *       431,080 parameters on 28×28×1 with 10 classes. {@code dropout} drops units of fc1 before the output
 *       layer during training (off at inference).</li>
 *   <li>{@code classic} (the 1998 layout): conv 5×5×6 (28×28 inputs padded by 2 to the paper's 32×32) → average
 *       pool 2 → conv 5×5×16 → average pool 2 → dense 120 → dense 84 → softmax; tanh, Xavier init. C3 is fully
 *       connected here (the paper's partial connection table saves 1,000 weights): 61,706 parameters.</li>
 * </ul>
 * Options for both: {@code activation} replaces the variant's activation ({@link ActivationSpec}); {@code batchNorm}
 * (Ioffe and Szegedy 2015) puts batch normalization between every convolution or hidden dense layer and its
 * activation; those layers then have no bias (modern: 431,080 - 570 biases + 1,140 gammas and betas = 431,650 trainable
 */
public record LeNet5(String variant, double dropout, ActivationSpec activation, boolean batchNorm) implements ZooModel {
    public static final String NAME = "lenet5";

    public LeNet5 {
        if (!variant.equals("modern") && !variant.equals("classic")) {
            throw new IllegalArgumentException("lenet5 variant must be modern or classic, found " + variant);
        }
    }

    public LeNet5(String variant, double dropout) { this(variant, dropout, defaultActivation(variant), false); }

    public LeNet5(String variant) { this(variant, 0); }

    public static LeNet5 modern() { return new LeNet5("modern", 0); }

    /** ReLU for the modern variant, tanh for the 1998 one. */
    public static ActivationSpec defaultActivation(String variant) {
        return variant.equals("classic") ? ActivationSpec.TANH : ActivationSpec.RELU;
    }

    @Override public String name() { return NAME; }

    @Override public Map<String, Object> describe() {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", NAME);
        m.put("variant", variant);
        m.put("dropout", dropout);
        ActivationSpec.put(m, "activation", activation);
        m.put("batchNorm", batchNorm);
        return m;
    }

    @Override public void addLayers(GraphBuilder g, int[] inputShape, int numClasses) {
        boolean classic = variant.equals("classic");
        WeightInit init = activation.defaultInit();
        PoolingType pool = classic ? PoolingType.AVG : PoolingType.MAX;
        int pad = classic && inputShape[1] < 32 ? (32 - inputShape[1]) / 2 : 0;
        String x = block(g, "conv1", INPUT, new ConvolutionLayer.Builder(5, 5).nOut(classic ? 6 : 20).padding(pad, pad).weightInit(init));
        g.addLayer("pool1", new SubsamplingLayer.Builder(pool).kernelSize(2, 2).stride(2, 2).build(), x);
        x = block(g, "conv2", "pool1", new ConvolutionLayer.Builder(5, 5).nOut(classic ? 16 : 50).weightInit(init));
        g.addLayer("pool2", new SubsamplingLayer.Builder(pool).kernelSize(2, 2).stride(2, 2).build(), x);
        String last;
        if (classic) {
            x = block(g, "fc1", "pool2", new DenseLayer.Builder().nOut(120).weightInit(init));
            last = block(g, "fc2", x, new DenseLayer.Builder().nOut(84).weightInit(init));
        } else {
            last = block(g, "fc1", "pool2", new DenseLayer.Builder().nOut(500).weightInit(init));
        }
        var out = new OutputLayer.Builder(LossFunction.MCXENT).nOut(numClasses).activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER);
        if (dropout > 0) out.dropOut(1 - dropout); // DL4J takes the retain probability, applied to the layer's input
        g.addLayer(OUTPUT, out.build(), last);
    }

    /** The layer with its activation, or (batchNorm) layer without bias → batch norm → activation; returns the last name. */
    private String block(GraphBuilder g, String name, String in, org.deeplearning4j.nn.conf.layers.FeedForwardLayer.Builder<?> layer) {
        if (!batchNorm) {
            g.addLayer(name, layer.activation(activation.toDl4j()).build(), in);
            return name;
        }
        if (layer instanceof ConvolutionLayer.Builder c) c.hasBias(false);
        else if (layer instanceof DenseLayer.Builder d) d.hasBias(false);
        g.addLayer(name + "_linear", layer.activation(Activation.IDENTITY).build(), in);
        g.addLayer(name + "_bn", new BatchNormalization.Builder().build(), name + "_linear");
        g.addLayer(name, new ActivationLayer.Builder().activation(activation.toDl4j()).build(), name + "_bn");
        return name;
    }
}
