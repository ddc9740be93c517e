package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
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
 * ResNet. K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.
 *
 * <p>ImageNet depths 18, 34, 50 (Table 1). ResNet-18/34 use basic blocks (two 3×3 convolutions), ResNet-50
 * bottleneck blocks (1×1, 3×3, 1×1 with 4× expansion); stages of 64/128/256/512 filters with [2,2,2,2], [3,4,6,3],
 * [3,4,6,3] blocks; batch norm after every convolution; projection (1×1 conv + BN) shortcuts where the shape changes
 * (option B), identity elsewhere; global average pooling and one dense softmax layer. Convolutions have no bias
 * (batch norm follows), He initialization. {@code small: true} is the variant for 28–32 px inputs (as in common
 * "CIFAR ResNet-18" adaptations): a 3×3 stride-1 stem without max pooling instead of the 7×7 stride-2 stem and pool.
 * Trainable parameters with 1000 classes on 224×224: 11,689,512 (18), 21,797,672 (34), 25,557,032 (50).
 *
 * <p>CIFAR depths 20, 32, 44, 56, 110 = 6n+2 (section 4.2, Table 6), for 28–32 px inputs only ({@code small} is
 * implied; {@code small: false} is refused): a 3×3 convolution with 16 filters, three stages of n basic blocks with
 * 16/32/64 filters (32×32 → 16×16 → 8×8), stride 2 in the first block of stages 2 and 3, global average pooling, a
 * dense softmax layer. Shortcuts are the paper's option A, parameter free: identity, and where the shape changes the
 * input subsampled by 2 (a 1×1 stride-2 pooling) with zero channels appended (a merge of the subsampled map and the
 * map scaled by 0). The paper pads the new channels with zeros without saying where; putting them after the old
 * ones instead of half on either side (as some reimplementations do) differs only by a permutation of channels.
 * Batch norm as above. Trainable parameters with 10 classes: 269,722 (20), 464,154 (32), 658,586 (44), 853,018 (56),
 * 1,727,962 (110) — the paper's 0.27M, 0.46M, 0.66M, 0.85M, 1.7M. Arithmetic (convolution weights + 2 per BN
 * channel): stem 432 + 32 = 464; each block of stage 1: 2·(2,304 + 32) = 4,672; stage 2: first block
 * 4,608 + 64 + 9,216 + 64 = 13,952, the others 2·(9,216 + 64) = 18,560; stage 3: first block
 * 18,432 + 128 + 36,864 + 128 = 55,552, the others 2·(36,864 + 128) = 73,984; classifier 64·10 + 10 = 650. For n = 3:
 * 464 + 14,016 + 51,072 + 203,520 + 650 = 269,722, and each further n adds 4,672 + 18,560 + 73,984 = 97,216.
 * (With option B projections, as in ResNet-18/34/50, ResNet-20 would have 2,752 more: 272,474.)
 */
public record ResNet(int depth, boolean small) implements ZooModel {
    public static final String NAME = "resnet";
    /** ImageNet depths (Table 1) first, then the CIFAR depths (section 4.2). */
    public static final List<Integer> DEPTHS = List.of(18, 34, 50, 20, 32, 44, 56, 110);
    public static final List<Integer> CIFAR_DEPTHS = List.of(20, 32, 44, 56, 110);
    /** How the config lists the valid depths. */
    public static final String DEPTH_RULE = "one of 18, 34, 50 (ImageNet) or 20, 32, 44, 56, 110 (CIFAR, 28–32 px inputs)";

    public ResNet {
        if (!DEPTHS.contains(depth)) throw new IllegalArgumentException("resnet depth must be " + DEPTH_RULE + ", found " + depth);
        if (CIFAR_DEPTHS.contains(depth) && !small) {
            throw new IllegalArgumentException("resnet depth " + depth + " is a CIFAR network for small inputs: small must be true");
        }
    }

    /** The CIFAR ResNet of depth 6n+2 (small inputs, option A shortcuts). */
    public static ResNet cifar(int depth) { return new ResNet(depth, true); }

    public boolean cifar() { return CIFAR_DEPTHS.contains(depth); }

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
        if (cifar()) {
            addCifarLayers(g, numClasses);
            return;
        }
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

    /** Section 4.2: 16-filter stem, three stages of n = (depth - 2) / 6 basic blocks, option A shortcuts. */
    private void addCifarLayers(GraphBuilder g, int numClasses) {
        int n = (depth - 2) / 6;
        String x = convBn(g, "stem", ZooModel.INPUT, 16, 3, 1, true);
        for (int stage = 0; stage < 3; stage++) {
            int width = 16 << stage;
            for (int b = 0; b < n; b++) {
                int stride = b == 0 && stage > 0 ? 2 : 1;
                String name = "s" + (stage + 1) + "b" + (b + 1);
                String a = convBn(g, name + "_a", x, width, 3, stride, true);
                String branch = convBn(g, name + "_b", a, width, 3, 1, false);
                String shortcut = x;
                if (stride != 1) { // option A: subsample, then as many zero channels as there were channels (16 → 32 → 64)
                    g.addLayer(name + "_sub", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(1, 1).stride(2, 2).build(), x);
                    g.addVertex(name + "_zeros", new ScaleVertex(0), name + "_sub");
                    g.addVertex(name + "_pad", new MergeVertex(), name + "_sub", name + "_zeros");
                    shortcut = name + "_pad";
                }
                g.addVertex(name + "_add", new ElementWiseVertex(ElementWiseVertex.Op.Add), branch, shortcut);
                g.addLayer(name, new ActivationLayer.Builder().activation(Activation.RELU).build(), name + "_add");
                x = name;
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
