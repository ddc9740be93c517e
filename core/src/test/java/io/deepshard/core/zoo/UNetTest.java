package io.deepshard.core.zoo;

import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

/** U-Net: the paper's parameter count, output shape, the per-pixel loss, and config errors. */
class UNetTest {

    static DeepshardConfig config(String model, String shape, int classes, String train) {
        return ConfigLoader.parse("""
                model: %s
                data: {train: %s, inputShape: %s, numClasses: %d}
                """.formatted(model, train, shape, classes), "unet", List.of());
    }

    static ComputationGraph build(String model, String shape, int classes) {
        DeepshardConfig c = config(model, shape, classes, "/data/seg");
        return NetworkFactory.create(c.model(), c.data(), c.training());
    }

    /**
     * Ronneberger et al. 2015, Fig. 1: 1 input channel, 2 classes, base 64, depth 4, biases everywhere, no BN.
     * 3x3 conv a→b: 9ab + b; 2x2 up-conv a→b: 4ab + b; 1x1 conv a→b: ab + b.
     * <pre>
     *   enc0   1→64, 64→64        640 +    36,928 =    37,568
     *   enc1   64→128, 128→128 73,856 +   147,584 =   221,440
     *   enc2   128→256, 256→256 295,168 + 590,080 =   885,248
     *   enc3   256→512, 512→512 1,180,160 + 2,359,808 = 3,539,968
     *   bottom 512→1024, 1024→1024 4,719,616 + 9,438,208 = 14,157,824
     *   dec3   up 1024→512 2,097,664 + conv 1024→512 4,719,104 + 512→512 2,359,808 = 9,176,576
     *   dec2   up 512→256    524,544 + conv 512→256 1,179,904 + 256→256   590,080 = 2,294,528
     *   dec1   up 256→128    131,200 + conv 256→128   295,040 + 128→128   147,584 =   573,824
     *   dec0   up 128→64      32,832 + conv 128→64     73,792 +  64→64     36,928 =   143,552
     *   1x1    64→2                                                               =       130
     *   total                                                                     31,030,658
     * </pre>
     * With batch norm the 18 3x3 convolutions (5,888 filters in all: 2·(64+128+256+512)·2 + 2·1024) lose their biases
     * and gain a BN scale and shift each: 31,030,658 − 5,888 + 2·5,888 = 31,036,546 trainable.
     * (A figure of 31,031,685 for this network, seen quoted, does not follow from the architecture.)
     */
    @Test
    void parameterCountIsThePapers() {
        assertThat(ModelSummary.trainableParameters(build("{name: unet, base: 64, depth: 4, batchNorm: false}", "[1, 16, 16]", 2)))
                .isEqualTo(31_030_658L);
        assertThat(ModelSummary.trainableParameters(build("{name: unet, base: 64, depth: 4, batchNorm: true}", "[1, 16, 16]", 2)))
                .isEqualTo(31_036_546L);
    }

    /**
     * A small one, 3 in, 3 classes, base 4, depth 2: enc0 112 + 148, enc1 296 + 584, bottom 1,168 + 2,320,
     * dec1 520 + 1,160 + 584, dec0 132 + 292 + 148, 1x1 15: 7,479. Same padding: parameters do not depend on H×W.
     */
    @Test
    void smallCountDoesNotDependOnTheImageSize() {
        assertThat(ModelSummary.trainableParameters(build("{name: unet, base: 4, depth: 2, batchNorm: false}", "[3, 32, 32]", 3))).isEqualTo(7_479L);
        assertThat(ModelSummary.trainableParameters(build("{name: unet, base: 4, depth: 2, batchNorm: false}", "[3, 16, 48]", 3))).isEqualTo(7_479L);
    }

    @Test
    void outputIsAProbabilityPerClassAndPixelAtTheInputSize() {
        DeepshardConfig c = config("{name: unet, base: 4, depth: 2}", "[3, 16, 24]", 3, "/data/seg");
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        Summary summary = Summary.of(c.model(), net, c.data()); // what the summary job prints
        assertThat(summary.layers()).filteredOn(l -> l.name().equals("concat0")).singleElement()
                .satisfies(l -> assertThat(l.outputShape()).containsExactly(8L, 16L, 24L)); // skip 4 + upsampled 4 channels
        assertThat(summary.layers().get(summary.layers().size() - 1).outputShape()).containsExactly(3L, 16L, 24L);
        assertThat(summary.totalParameters()).isEqualTo(ModelSummary.trainableParameters(net));
        INDArray out = net.output(false, Nd4j.rand(new long[] {2, 3 * 16 * 24}))[0];
        assertThat(out.shape()).containsExactly(2, 3, 16, 24);
        INDArray perPixel = out.sum(1);
        assertThat(perPixel.minNumber().doubleValue()).isCloseTo(1.0, within(1e-4));
        assertThat(perPixel.maxNumber().doubleValue()).isCloseTo(1.0, within(1e-4));
    }

    /** The network's score is the mean per-pixel cross-entropy, and survives the JSON round trip executors use. */
    @Test
    void lossIsTheMeanPixelCrossEntropy() {
        ComputationGraph net = build("{name: unet, base: 4, depth: 1, batchNorm: false}", "[1, 8, 12]", 3);
        Random r = new Random(5);
        int n = 2, h = 8, w = 12;
        float[] y = new float[n * 3 * h * w];
        int[] truth = new int[n * h * w];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < h * w; p++) {
                truth[i * h * w + p] = r.nextInt(3);
                y[i * 3 * h * w + truth[i * h * w + p] * h * w + p] = 1;
            }
        }
        INDArray x = Nd4j.rand(new long[] {n, h * w});
        DataSet ds = new DataSet(x, Nd4j.create(y, new long[] {n, 3, h, w}, 'c'));
        float[] probs = Nd4j.toFlattened('c', net.output(false, x)[0]).toFloatVector();
        double expected = 0;
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < h * w; p++) expected -= Math.log(probs[i * 3 * h * w + truth[i * h * w + p] * h * w + p]);
        }
        expected /= n * h * w;
        assertThat(net.score(ds, false)).isCloseTo(expected, within(1e-4));

        ComputationGraph copy = new ComputationGraph(ComputationGraphConfiguration.fromJson(net.getConfiguration().toJson()));
        copy.init(net.params().dup(), false);
        assertThat(copy.score(ds, false)).isCloseTo(expected, within(1e-4));
    }

    @Test
    void sizesNotDivisibleByTwoToTheDepthAreConfigErrors() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> config("{name: unet, depth: 3, bse: 8}", "[3, 60, 64]", 4, "/d"));
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "data.inputShape: unet with depth 3 halves the image 3 times, so height and width must be divisible by 2^3 = 8, "
                        + "found 60x64 (e.g. [3, 56, 64], or a smaller model.depth)",
                "model.bse: unknown key (did you mean 'base'?) (known here: name, base, depth, batchNorm)");
    }

    @Test
    void modelsAndDataOfDifferentTasksAreConfigErrors() {
        assertThat(catchThrowableOfType(ConfigException.class, () -> config("unet", "[1, 32, 32]", 10, "fashion-mnist:train")).problems())
                .containsExactly("data.train: model unet predicts a class per pixel and needs segmentation data (images with masks, "
                        + "e.g. shapes-segmentation:train), found fashion-mnist:train, which has one label per image");
        assertThat(catchThrowableOfType(ConfigException.class, () -> config("lenet5", "[3, 64, 64]", 4, "shapes-segmentation:train")).problems())
                .containsExactly("model: lenet5 predicts one class per image, but the data is segmentation data "
                        + "(shapes-segmentation:train): use a segmentation model such as unet");
        assertThat(catchThrowableOfType(ConfigException.class, () -> config("unet", "[3, 64, 64]", 3, "shapes-segmentation:train")).problems())
                .containsExactly("data.numClasses: shapes-segmentation:train has 4 classes [background, circle, square, triangle] "
                        + "(background included), found 3");
        assertThat(config("unet", "[3, 64, 64]", 4, "shapes-segmentation:train").model()).isEqualTo(new UNet(64, 4, true));
    }
}
