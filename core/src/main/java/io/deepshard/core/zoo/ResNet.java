package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * ResNet. K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (Table 1).
 * ResNet-18/34 use basic blocks (two 3×3 convolutions), ResNet-50 bottleneck blocks (1×1, 3×3, 1×1 with 4× expansion);
 * stages of 64/128/256/512 filters with [2,2,2,2], [3,4,6,3], [3,4,6,3] blocks; batch norm after every convolution;
 * projection (1×1 conv + BN) shortcuts where the shape changes (option B), identity elsewhere; global average pooling
 * and one dense softmax layer. Convolutions have no bias (batch norm follows), He initialization.
 *
 * <p>{@code small: true} is the variant for 28–32 px inputs (as in the paper's CIFAR experiments and common
 * "CIFAR ResNet-18" adaptations): a 3×3 stride-1 stem without max pooling instead of the 7×7 stride-2 stem and pool.
 * Trainable parameters with 1000 classes on 224×224: 11,689,512 (18), 21,797,672 (34), 25,557,032 (50).
 */
public record ResNet(int depth, boolean small) implements ZooModel {
    public static final String NAME = "resnet";
    public static final List<Integer> DEPTHS = List.of(18, 34, 50);

    public ResNet {
        if (!DEPTHS.contains(depth)) throw new IllegalArgumentException("resnet depth must be one of " + DEPTHS + ", found " + depth);
    }

    @Override public String name() { return NAME; }

    @Override public Map<String, Object> describe() {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", NAME);
        m.put("depth", depth);
        m.put("small", small);
        return m;
    }

    private int[] blocks() { return depth == 18 ? new int[] {2, 2, 2, 2} : new int[] {3, 4, 6, 3}; }

    private boolean bottleneck() { return depth >= 50; }

    @Override public void addLayers(GraphBuilder g, int[] inputShape, int numClasses) {
        String x;
        if (small) {
            x = convBn(g, "stem", ZooModel.INPUT, 64, 3, 1, true);
        } else {
            x = convBn(g, "stem", ZooModel.INPUT, 64, 7, 2, true);
            g.addLayer("stem_pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(2, 2).padding(1, 1).build(), x);
            x = "stem_pool";
        }
        int[] widths = {64, 128, 256, 512};
        int channels = 64;
        for (int stage = 0; stage < 4; stage++) {
            for (int b = 0; b < blocks()[stage]; b++) {
                int stride = b == 0 && stage > 0 ? 2 : 1;
                String name = "s" + (stage + 1) + "b" + (b + 1);
                int out = bottleneck() ? widths[stage] * 4 : widths[stage];
                String branch;
                if (bottleneck()) {
                    String a = convBn(g, name + "_a", x, widths[stage], 1, 1, true);
                    String bb = convBn(g, name + "_b", a, widths[stage], 3, stride, true);
                    branch = convBn(g, name + "_c", bb, out, 1, 1, false);
                } else {
                    String a = convBn(g, name + "_a", x, widths[stage], 3, stride, true);
                    branch = convBn(g, name + "_b", a, out, 3, 1, false);
                }
                String shortcut = x;
                if (stride != 1 || channels != out) shortcut = convBn(g, name + "_proj", x, out, 1, stride, false);
                g.addVertex(name + "_add", new ElementWiseVertex(ElementWiseVertex.Op.Add), branch, shortcut);
                g.addLayer(name, new ActivationLayer.Builder().activation(Activation.RELU).build(), name + "_add");
                x = name;
                channels = out;
            }
        }
        g.addLayer("avgpool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x);
        g.addLayer(OUTPUT, new OutputLayer.Builder(LossFunction.MCXENT).nOut(numClasses).activation(Activation.SOFTMAX)
                .weightInit(WeightInit.XAVIER).build(), "avgpool");
    }

    /** conv (no bias) → batch norm → optional ReLU; returns the last vertex name. */
    private static String convBn(GraphBuilder g, String name, String in, int filters, int k, int stride, boolean relu) {
        g.addLayer(name + "_conv", new ConvolutionLayer.Builder(k, k).stride(stride, stride).padding(k / 2, k / 2).nOut(filters)
                .hasBias(false).activation(Activation.IDENTITY).weightInit(WeightInit.RELU).build(), in);
        g.addLayer(name + "_bn", new BatchNormalization.Builder().build(), name + "_conv");
        if (!relu) return name + "_bn";
        g.addLayer(name + "_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), name + "_bn");
        return name + "_relu";
    }
}
