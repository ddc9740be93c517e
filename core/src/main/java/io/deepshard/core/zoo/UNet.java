package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.CacheMode;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Deconvolution2D;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * U-Net. O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image Segmentation",
 * MICCAI 2015, LNCS 9351, pp. 234–241 (arXiv:1505.04597).
 *
 * <p>Contracting path: {@code depth} levels of two 3×3 convolutions with ReLU, {@code base·2^level} filters, each level
 * followed by 2×2 max pooling; a bottom level of {@code base·2^depth} filters. Expansive path: per level a 2×2,
 * stride-2 transposed convolution ("up-convolution") halving the filters, concatenation with the contracting path's
 * feature map of that level (skip connection), and two 3×3 convolutions with ReLU. A 1×1 convolution maps to the
 * classes, and a per-pixel softmax with cross-entropy is the loss. The paper's network is base 64, depth 4, no batch
 * norm: 31,030,658 parameters for 1 input channel and 2 classes.
 *
 * <p>Deviations from the paper: <b>same padding</b> (the paper used valid convolutions and cropped the skip maps,
 * so its 572×572 input gives a 388×388 output); here the output is H×W like the input, so every pixel of the mask is
 * predicted and no overlap-tile strategy is needed. The parameter count does not depend on the padding. Height and width
 * must be divisible by 2^depth. {@code batchNorm: true} (the default here; not in the paper, which predates it) puts
 * batch normalization between every 3×3 convolution and its ReLU, and those convolutions then have no bias. The loss
 * is the per-pixel cross-entropy <em>averaged</em> over pixels (DL4J's {@code CnnLossLayer} sums over pixels; class
 * weights of 1/(H·W) make it the mean), so learning rates and L2 mean what they mean for classifiers; the paper's
 * per-pixel weight map for touching cells is not used.
 */
public record UNet(int base, int depth, boolean batchNorm) implements ZooModel {
    public static final String NAME = "unet";
    public static final int MAX_DEPTH = 6;

    public UNet {
        if (base < 1) throw new IllegalArgumentException("unet base must be >= 1, found " + base);
        if (depth < 1 || depth > MAX_DEPTH) throw new IllegalArgumentException("unet depth must be 1.." + MAX_DEPTH + ", found " + depth);
    }

    /** The paper's network: base 64, depth 4, no batch normalization. */
    public static UNet paper() { return new UNet(64, 4, false); }

    @Override public String name() { return NAME; }

    @Override public Map<String, Object> describe() {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", NAME);
        m.put("base", base);
        m.put("depth", depth);
        m.put("batchNorm", batchNorm);
        return m;
    }

    @Override public boolean segmentation() { return true; }

    @Override public List<String> inputShapeProblems(int[] inputShape) {
        int f = 1 << depth, h = inputShape[1], w = inputShape[2];
        if (h % f == 0 && w % f == 0) return List.of();
        return List.of("unet with depth " + depth + " halves the image " + depth + " times, so height and width must be divisible by 2^"
                + depth + " = " + f + ", found " + h + "x" + w + " (e.g. [" + inputShape[0] + ", " + Math.max(f, h / f * f) + ", "
                + Math.max(f, w / f * f) + "], or a smaller model.depth)");
    }

    @Override public void addLayers(GraphBuilder g, int[] inputShape, int numClasses) {
        List<String> problems = inputShapeProblems(inputShape);
        if (!problems.isEmpty()) throw new IllegalArgumentException(problems.get(0));
        // DL4J recomputes every convolution's im2col in backprop unless it is cached; for U-Net at 64 px im2col is most of
        // the time (profiled), and caching it made training 40% faster (9.8 -> 13.9 img/s, base 8, depth 3, one thread)
        g.getGlobalConfiguration().setCacheMode(CacheMode.DEVICE);
        String x = INPUT;
        List<String> skips = new ArrayList<>();
        for (int level = 0; level < depth; level++) {
            x = block(g, "enc" + level, x, base << level);
            skips.add(x);
            g.addLayer("pool" + level, new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), x);
            x = "pool" + level;
        }
        x = block(g, "bottom", x, base << depth);
        for (int level = depth - 1; level >= 0; level--) {
            g.addLayer("up" + level, new Deconvolution2D.Builder(2, 2).stride(2, 2).nOut(base << level)
                    .activation(Activation.IDENTITY).weightInit(WeightInit.RELU).build(), x);
            g.addVertex("concat" + level, new MergeVertex(), skips.get(level), "up" + level); // channels: skip, then upsampled
            x = block(g, "dec" + level, "concat" + level, base << level);
        }
        g.addLayer("logits", new ConvolutionLayer.Builder(1, 1).nOut(numClasses).activation(Activation.IDENTITY)
                .weightInit(WeightInit.XAVIER).build(), x);
        // CnnLossLayer sums the per-pixel losses of an image; weights 1/(H*W) on every class make it the mean
        float perPixel = 1f / ((long) inputShape[1] * inputShape[2]);
        var loss = new LossMCXENT(Nd4j.valueArrayOf(new long[] {1, numClasses}, perPixel));
        g.addLayer(OUTPUT, new CnnLossLayer.Builder(loss).activation(Activation.SOFTMAX).build(), "logits");
    }

    /** Two 3×3 same-padded convolutions, each followed by [batch norm and] ReLU; returns the last vertex name. */
    private String block(GraphBuilder g, String name, String in, int filters) {
        String x = in;
        for (int i = 1; i <= 2; i++) {
            String conv = name + "_conv" + i;
            var b = new ConvolutionLayer.Builder(3, 3).convolutionMode(ConvolutionMode.Same).nOut(filters).weightInit(WeightInit.RELU);
            if (batchNorm) {
                g.addLayer(conv, b.hasBias(false).activation(Activation.IDENTITY).build(), x);
                g.addLayer(name + "_bn" + i, new BatchNormalization.Builder().build(), conv);
                g.addLayer(name + "_relu" + i, new ActivationLayer.Builder().activation(Activation.RELU).build(), name + "_bn" + i);
                x = name + "_relu" + i;
            } else {
                g.addLayer(conv, b.activation(Activation.RELU).build(), x);
                x = conv;
            }
        }
        return x;
    }
}
