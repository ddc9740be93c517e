package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
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
 */
public record LeNet5(String variant, double dropout) implements ZooModel {
    public static final String NAME = "lenet5";

    public LeNet5 {
        if (!variant.equals("modern") && !variant.equals("classic")) {
            throw new IllegalArgumentException("lenet5 variant must be modern or classic, found " + variant);
        }
    }

    public LeNet5(String variant) { this(variant, 0); }

    public static LeNet5 modern() { return new LeNet5("modern", 0); }

    @Override public String name() { return NAME; }

    @Override public Map<String, Object> describe() {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", NAME);
        m.put("variant", variant);
        m.put("dropout", dropout);
        return m;
    }

    @Override public void addLayers(GraphBuilder g, int[] inputShape, int numClasses) {
        boolean classic = variant.equals("classic");
        Activation act = classic ? Activation.TANH : Activation.RELU;
        WeightInit init = classic ? WeightInit.XAVIER : WeightInit.RELU;
        PoolingType pool = classic ? PoolingType.AVG : PoolingType.MAX;
        int pad = classic && inputShape[1] < 32 ? (32 - inputShape[1]) / 2 : 0;
        g.addLayer("conv1", new ConvolutionLayer.Builder(5, 5).nOut(classic ? 6 : 20).padding(pad, pad)
                        .activation(act).weightInit(init).build(), INPUT)
         .addLayer("pool1", new SubsamplingLayer.Builder(pool).kernelSize(2, 2).stride(2, 2).build(), "conv1")
         .addLayer("conv2", new ConvolutionLayer.Builder(5, 5).nOut(classic ? 16 : 50)
                        .activation(act).weightInit(init).build(), "pool1")
         .addLayer("pool2", new SubsamplingLayer.Builder(pool).kernelSize(2, 2).stride(2, 2).build(), "conv2");
        String last;
        if (classic) {
            g.addLayer("fc1", new DenseLayer.Builder().nOut(120).activation(act).weightInit(init).build(), "pool2")
             .addLayer("fc2", new DenseLayer.Builder().nOut(84).activation(act).weightInit(init).build(), "fc1");
            last = "fc2";
        } else {
            g.addLayer("fc1", new DenseLayer.Builder().nOut(500).activation(act).weightInit(init).build(), "pool2");
            last = "fc1";
        }
        var out = new OutputLayer.Builder(LossFunction.MCXENT).nOut(numClasses).activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER);
        if (dropout > 0) out.dropOut(1 - dropout); // DL4J takes the retain probability, applied to the layer's input
        g.addLayer(OUTPUT, out.build(), last);
    }
}
