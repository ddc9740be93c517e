package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
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
 * VGG. K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015
 * (Table 1, configurations A, B, D, E = depths 11, 13, 16, 19).
 *
 * <p>Five stages of 3×3 convolutions (stride 1, padding 1, ReLU) with 64, 128, 256, 512, 512 filters —
 * 1/1/2/2/2 (VGG-11), 2/2/2/2/2 (13), 2/2/3/3/3 (16), 2/2/4/4/4 (19) convolutions per stage — each stage ending in
 * 2×2 max pooling with stride 2; then the classifier FC-4096 → FC-4096 → softmax, with {@code dropout} (paper: 0.5)
 * on the inputs of the second and third fully connected layers (after the ReLUs of fc6 and fc7) during training.
 * Layers are named as in the paper's Caffe release: {@code conv1_1} … {@code conv5_4}, {@code pool1} … {@code pool5},
 * {@code fc6}, {@code fc7}. He initialization.
 *
 * <p>The five poolings need inputs of at least 32×32 px (the config check says so). The classifier's input is the
 * flattened last feature map, 512·⌊H/32⌋·⌊W/32⌋ values (25,088 = 512·7·7 at the paper's 224 px; the paper has no
 * adaptive pooling in front of it, torchvision does, and the two agree at 224 px). Trainable parameters with 1000
 * classes on 224×224×3, equal to torchvision's {@code vgg11/13/16/19}: 132,863,336 (11), 133,047,848 (13),
 * 138,357,544 (16), 143,667,240 (19); the classifier alone is 123,642,856 of them.
 *
 * <p>{@code batchNorm: true}: batch normalization between every convolution and its ReLU (not in the paper, which
 * predates it; the layout of torchvision's {@code vgg*_bn}, convolutions keep their bias): +2 trainable parameters per
 * filter, 8,448 for VGG-16 (138,365,992 in all).
 *
 * <p>{@code small: true} is the variant for 28–32 px inputs (CIFAR, MNIST): the same convolution stack, but a
 * pooling is left out when the feature map is already smaller than 2×2 (32 px: 32→16→8→4→2→1, all five pools;
 * 28 px: 28→14→7→3→1 and pool5 left out), then global average pooling (the identity on the 1×1 map these inputs
 * end in) and one fully connected softmax layer 512 → classes, {@code dropout} applied to its input — the common
 * "CIFAR VGG" classifier (as in kuangliu/pytorch-cifar {@code VGG('VGG16')}). VGG-16 small with 10 classes:
 * 14,714,688 (convolutions) + 5,130 (512·10 + 10) = 14,719,818 trainable parameters; with {@code batchNorm}
 * 14,728,266, the count of kuangliu's network, which has batch norm.
 */
public record Vgg(int depth, boolean small, boolean batchNorm, double dropout) implements ZooModel {
    public static final String NAME = "vgg";
    public static final List<Integer> DEPTHS = List.of(11, 13, 16, 19);
    private static final int[] WIDTHS = {64, 128, 256, 512, 512};

    public Vgg {
        if (!DEPTHS.contains(depth)) throw new IllegalArgumentException("vgg depth must be one of " + DEPTHS + ", found " + depth);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("vgg dropout must be in [0, 1), found " + dropout);
    }

    /** The paper's VGG-16 (configuration D) with dropout 0.5. */
    public static Vgg vgg16() { return new Vgg(16, false, false, 0.5); }

    @Override public String name() { return NAME; }

    @Override public Map<String, Object> describe() {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", NAME);
        m.put("depth", depth);
        m.put("small", small);
        m.put("batchNorm", batchNorm);
        m.put("dropout", dropout);
        return m;
    }

    /** Convolutions per stage (Table 1, configurations A, B, D, E). */
    int[] convsPerStage() {
        return switch (depth) {
            case 11 -> new int[] {1, 1, 2, 2, 2};
            case 13 -> new int[] {2, 2, 2, 2, 2};
            case 16 -> new int[] {2, 2, 3, 3, 3};
            default -> new int[] {2, 2, 4, 4, 4};
        };
    }

    @Override public java.util.List<String> inputShapeProblems(int[] inputShape) {
        if (small || (inputShape[1] >= 32 && inputShape[2] >= 32)) return java.util.List.of();
        return java.util.List.of("vgg pools five times and needs inputs of at least 32×32 px, found " + inputShape[1] + "×"
                + inputShape[2] + " (model.small: true is the variant for small inputs)");
    }

    @Override public void addLayers(GraphBuilder g, int[] inputShape, int numClasses) {
        java.util.List<String> problems = inputShapeProblems(inputShape);
        if (!problems.isEmpty()) throw new IllegalArgumentException(problems.get(0));
        int h = inputShape[1], w = inputShape[2];
        String x = ZooModel.INPUT;
        int[] convs = convsPerStage();
        for (int stage = 0; stage < 5; stage++) {
            for (int i = 1; i <= convs[stage]; i++) {
                String name = "conv" + (stage + 1) + "_" + i;
                g.addLayer(name, new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(WIDTHS[stage])
                        .activation(batchNorm ? Activation.IDENTITY : Activation.RELU).weightInit(WeightInit.RELU).build(), x);
                x = name;
                if (batchNorm) {
                    g.addLayer(name + "_bn", new BatchNormalization.Builder().build(), x)
                     .addLayer(name + "_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), name + "_bn");
                    x = name + "_relu";
                }
            }
            if (small && (h < 2 || w < 2)) continue; // the map is 1 px wide or high: nothing left to pool
            String pool = "pool" + (stage + 1);
            g.addLayer(pool, new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), x);
            x = pool;
            h /= 2;
            w /= 2;
        }
        var out = new OutputLayer.Builder(LossFunction.MCXENT).nOut(numClasses).activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER);
        if (dropout > 0) out.dropOut(1 - dropout); // DL4J takes the retain probability, applied to the layer's input
        if (small) {
            g.addLayer("avgpool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x);
            g.addLayer(OUTPUT, out.build(), "avgpool");
            return;
        }
        g.addLayer("fc6", new DenseLayer.Builder().nOut(4096).activation(Activation.RELU).weightInit(WeightInit.RELU).build(), x);
        var fc7 = new DenseLayer.Builder().nOut(4096).activation(Activation.RELU).weightInit(WeightInit.RELU);
        if (dropout > 0) fc7.dropOut(1 - dropout);
        g.addLayer("fc7", fc7.build(), "fc6");
        g.addLayer(OUTPUT, out.build(), "fc7");
    }
}
