package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
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
 * GoogLeNet (Inception v1). C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, V. Vanhoucke,
 * A. Rabinovich, "Going Deeper with Convolutions", CVPR 2015 (Table 1, Figure 3).
 *
 * <p>Stem conv 7×7/2 (64) → max-pool 3×3/2 → conv 1×1 (64) → conv 3×3 (192) → max-pool 3×3/2 → inception 3a, 3b →
 * max-pool 3×3/2 → 4a–4e → max-pool 3×3/2 → 5a, 5b → average pooling → dropout ({@code dropout}, paper: 0.4) →
 * fully connected softmax. An inception module concatenates (a merge vertex) four branches: 1×1; 1×1 reduce → 3×3;
 * 1×1 reduce → 5×5; 3×3 max-pool stride 1 → 1×1 pool projection; with Table 1's filter numbers
 * ({@link #MODULES}). Every convolution has a bias and a ReLU; there is no batch normalization (the paper predates
 * it). The stride-2 layers give ⌈H/2⌉ as Caffe's ceil-mode pooling does at 224 px (224 → 112 → 56 → 28 → 14 → 7); the average pooling is global
 * (7×7 at 224 px, the paper's) so that other input sizes work too. He initialization.
 *
 * <p>Left out: the two auxiliary classifiers (in the paper they only add to the training loss and are discarded at
 * inference; their parameters are not in the count below) and the two local response normalizations after conv1 and
 * conv2 (parameter-free; the later Inception versions drop them). Trainable parameters with 1000 classes:
 * 6,998,552, the count of Caffe's {@code bvlc_googlenet} without its auxiliary heads:
 * stem 9,472 + 4,160 + 110,784 = 124,416; modules 3a 163,696, 3b 388,736, 4a 376,176, 4b 449,160, 4c 510,104,
 * 4d 605,376, 4e 868,352, 5a 1,043,456, 5b 1,444,080 (together 5,849,136); classifier 1024·1000 + 1000 = 1,025,000.
 * (torchvision's {@code googlenet}, 6,624,904, differs: batch norm, no convolution biases, a 3×3 in the "5×5" branch.)
 *
 * <p>{@code small: true} is the variant for 28–32 px inputs (as in kuangliu/pytorch-cifar's "GoogLeNet" for
 * CIFAR-10): the stem is a single 3×3 convolution with 192 filters, stride 1, no pooling, followed directly by
 * inception 3a; the other layers are the paper's (32 px: 32 → 16 after 3b → 8 after 4e, then global average pooling).
 * Unlike kuangliu's network it keeps the paper's 5×5 branches and has no batch norm. Trainable parameters with 10
 * classes: 5,376 (3·9·192 + 192) + 5,849,136 + 10,250 (1024·10 + 10) = 5,864,762.
 */
public record InceptionV1(boolean small, double dropout) implements ZooModel {
    public static final String NAME = "inception";
    /** The paper's name for this network, accepted in configs. */
    public static final String ALIAS = "googlenet";

    /** One inception module's filter numbers, as in Table 1. */
    public record Module(String name, int n1x1, int n3x3reduce, int n3x3, int n5x5reduce, int n5x5, int poolProj) {
        int outChannels() { return n1x1 + n3x3 + n5x5 + poolProj; }
    }

    public static final List<Module> MODULES = List.of(
            new Module("3a", 64, 96, 128, 16, 32, 32),
            new Module("3b", 128, 128, 192, 32, 96, 64),
            new Module("4a", 192, 96, 208, 16, 48, 64),
            new Module("4b", 160, 112, 224, 24, 64, 64),
            new Module("4c", 128, 128, 256, 24, 64, 64),
            new Module("4d", 112, 144, 288, 32, 64, 64),
            new Module("4e", 256, 160, 320, 32, 128, 128),
            new Module("5a", 256, 160, 320, 32, 128, 128),
            new Module("5b", 384, 192, 384, 48, 128, 128));

    public InceptionV1 {
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("inception dropout must be in [0, 1), found " + dropout);
    }

    /** The paper's network, dropout 0.4. */
    public static InceptionV1 googLeNet() { return new InceptionV1(false, 0.4); }

    @Override public String name() { return NAME; }

    @Override public Map<String, Object> describe() {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", NAME);
        m.put("small", small);
        m.put("dropout", dropout);
        return m;
    }

    @Override public void addLayers(GraphBuilder g, int[] inputShape, int numClasses) {
        String x;
        if (small) {
            x = conv(g, "conv1", ZooModel.INPUT, 192, 3, 1);
        } else {
            x = conv(g, "conv1", ZooModel.INPUT, 64, 7, 2);
            x = maxPool(g, "pool1", x);
            x = conv(g, "conv2_reduce", x, 64, 1, 1);
            x = conv(g, "conv2", x, 192, 3, 1);
            x = maxPool(g, "pool2", x);
        }
        for (Module m : MODULES) {
            if (m.name().equals("4a")) x = maxPool(g, "pool3", x);
            if (m.name().equals("5a")) x = maxPool(g, "pool4", x);
            x = inception(g, m, x);
        }
        g.addLayer("avgpool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x);
        var out = new OutputLayer.Builder(LossFunction.MCXENT).nOut(numClasses).activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER);
        if (dropout > 0) out.dropOut(1 - dropout); // DL4J takes the retain probability, applied to the layer's input
        g.addLayer(OUTPUT, out.build(), "avgpool");
    }

    /** The four branches of {@code m} on {@code in}, concatenated along the channels into the vertex {@code i<name>}. */
    private static String inception(GraphBuilder g, Module m, String in) {
        String p = "i" + m.name();
        String b1 = conv(g, p + "_1x1", in, m.n1x1(), 1, 1);
        String b2 = conv(g, p + "_3x3", conv(g, p + "_3x3r", in, m.n3x3reduce(), 1, 1), m.n3x3(), 3, 1);
        String b3 = conv(g, p + "_5x5", conv(g, p + "_5x5r", in, m.n5x5reduce(), 1, 1), m.n5x5(), 5, 1);
        g.addLayer(p + "_pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(1, 1).padding(1, 1).build(), in);
        String b4 = conv(g, p + "_proj", p + "_pool", m.poolProj(), 1, 1);
        g.addVertex(p, new MergeVertex(), b1, b2, b3, b4);
        return p;
    }

    /** k×k convolution with bias and ReLU, padded by k/2 (so stride 1 keeps the size, stride 2 halves it rounding up). */
    private static String conv(GraphBuilder g, String name, String in, int filters, int k, int stride) {
        g.addLayer(name, new ConvolutionLayer.Builder(k, k).stride(stride, stride).padding(k / 2, k / 2).nOut(filters)
                .activation(Activation.RELU).weightInit(WeightInit.RELU).build(), in);
        return name;
    }

    /** 3×3 stride-2 max pooling to ⌈H/2⌉ (what Caffe's ceil-mode pooling gives on the paper's 224 px). */
    private static String maxPool(GraphBuilder g, String name, String in) {
        g.addLayer(name, new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(2, 2)
                .convolutionMode(ConvolutionMode.Same).build(), in);
        return name;
    }
}
