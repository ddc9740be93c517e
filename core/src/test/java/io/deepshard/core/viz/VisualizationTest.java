package io.deepshard.core.viz;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.core.transform.ChannelStats;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Filter grids, activation maximization and feature maps on a LeNet-5 trained here on generated 28x28 grey shapes
 * (3 classes): gradient ascent raises every target's activation far above where it started, the input gradient is
 * the true gradient (finite differences, through batch normalization too), and a seed gives the same pictures.
 */
class VisualizationTest {
    static final int[] SHAPE = {1, 28, 28};
    static ComputationGraph lenet;
    static Normalizer normalizer;
    static float[][] images; // normalized
    static int[] labels;

    static DeepshardConfig config(String model) {
        return ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: [1, 28, 28], numClasses: 3}
                training: {seed: 5, optimizer: {type: adam, learningRate: 0.003}}
                """.formatted(model), "t", List.of());
    }

    static ComputationGraph net(String model) {
        DeepshardConfig c = config(model);
        return NetworkFactory.create(c.model(), c.data(), c.training());
    }

    @BeforeAll
    static void trainLeNet() throws Exception {
        var spec = new SyntheticImages.Spec(3, 28, 28, 11);
        var decoder = new ImageDecoder(1, 28, 28, "stretch");
        int n = 240, size = 28 * 28;
        byte[][] px = new byte[n][];
        labels = new int[n];
        ChannelStats stats = new ChannelStats(1);
        for (int i = 0; i < n; i++) {
            labels[i] = i % 3;
            px[i] = decoder.decode(SyntheticImages.encode(SyntheticImages.classification(spec, "train", i, labels[i]), "png"));
            stats.add(px[i]);
        }
        normalizer = Normalizer.fit("standardize", stats);
        images = new float[n][size];
        for (int i = 0; i < n; i++) normalizer.apply(px[i], 0, images[i], 0, 1, size);
        lenet = net("{name: lenet5}");
        for (int epoch = 0; epoch < 15; epoch++) {
            for (int from = 0; from < n; from += 24) {
                float[] x = new float[24 * size], y = new float[24 * 3];
                for (int i = 0; i < 24; i++) {
                    System.arraycopy(images[from + i], 0, x, i * size, size);
                    y[i * 3 + labels[from + i]] = 1;
                }
                lenet.fit(new DataSet(Nd4j.create(x, new long[] {24, size}), Nd4j.create(y, new long[] {24, 3})));
            }
        }
        int right = 0;
        for (int i = 0; i < n; i++) {
            if (lenet.outputSingle(Nd4j.create(images[i], new long[] {1, size})).argMax(1).getInt(0) == labels[i]) right++;
        }
        assertThat(right / (double) n).as("training accuracy of the fixture").isGreaterThan(0.8);
    }

    @Test
    void gradientAscentIncreasesTheTargetActivation() {
        Probe probe = new Probe(lenet, SHAPE);
        var max = new ActivationMaximizer(probe, normalizer);
        var s = ActivationMaximizer.Settings.defaults(7);
        for (String layer : List.of("conv1", "conv2", "fc1")) {
            // up to 6 units that some training image turns on (ReLU units that none does may be off for every input), and
            // 2 that none does: the first must at least double and beat every training image, the others must not fall
            var alive = new java.util.ArrayList<Integer>();
            var dead = new java.util.ArrayList<Integer>();
            for (int u = 0; u < probe.layer(layer).units() && alive.size() < 6; u++) (respondsToTrainingImages(probe, layer, u) ? alive : dead).add(u);
            assertThat(alive).as(layer).hasSizeGreaterThanOrEqualTo(4); // conv2 of this small fixture: 4 of 50
            var all = new java.util.ArrayList<>(alive);
            all.addAll(dead.subList(0, Math.min(2, dead.size())));
            var r = max.maximize(layer, all.stream().mapToInt(Integer::intValue).toArray(), s);
            for (int i = 0; i < all.size(); i++) {
                assertThat(r.after()[i]).as("%s unit %d", layer, all.get(i)).isGreaterThanOrEqualTo(r.before()[i]);
                if (i >= alive.size()) continue;
                double best = bestTraining(probe, layer, all.get(i));
                assertThat(r.after()[i]).as("%s unit %d: before %.4f, best training image %.4f", layer, all.get(i), r.before()[i], best)
                        .isGreaterThan(2 * r.before()[i]).isGreaterThanOrEqualTo(best);
            }
        }
        var classes = max.maximize("output", new int[] {0, 1, 2}, s);
        for (int k = 0; k < 3; k++) {
            // the class's log-probability rises, and its probability reaches near certainty
            assertThat(classes.after()[k]).as("class %d: before %.4f", k, classes.before()[k]).isGreaterThan(classes.before()[k]);
            assertThat(classes.activationAfter()[k]).isGreaterThan(0.95);
            assertThat(Math.exp(classes.after()[k])).isCloseTo(classes.activationAfter()[k], org.assertj.core.api.Assertions.within(1e-4));
        }
        // the network itself is untouched: the probe works on a copy
        assertThat(lenet.getConfiguration().getTrainingWorkspaceMode()).isNotEqualTo(org.deeplearning4j.nn.conf.WorkspaceMode.NONE);
    }

    private static boolean respondsToTrainingImages(Probe probe, String layer, int unit) {
        return bestTraining(probe, layer, unit) > 0;
    }

    /** The largest activation of the unit (channel mean) over the training images. */
    private static double bestTraining(Probe probe, String layer, int unit) {
        int n = images.length, size = images[0].length;
        float[] x = new float[n * size];
        for (int i = 0; i < n; i++) System.arraycopy(images[i], 0, x, i * size, size);
        int[] units = new int[n];
        java.util.Arrays.fill(units, unit);
        return java.util.Arrays.stream(probe.evaluate(layer, units, x).activations()).max().orElseThrow();
    }

    @Test
    void theSameSeedGivesTheSamePicturesAnotherSeedOthers() {
        var max = new ActivationMaximizer(new Probe(lenet, SHAPE), normalizer);
        var s = new ActivationMaximizer.Settings(20, 0.05, 0.01, 4, 0.5, 3);
        var a = max.maximize("conv2", new int[] {2, 9}, s);
        var b = new ActivationMaximizer(new Probe(lenet, SHAPE), normalizer).maximize("conv2", new int[] {2, 9}, s);
        var c = max.maximize("conv2", new int[] {2, 9}, new ActivationMaximizer.Settings(20, 0.05, 0.01, 4, 0.5, 4));
        assertThat(png(a)).isEqualTo(png(b));
        assertThat(a.after()).isEqualTo(b.after());
        assertThat(png(c)).isNotEqualTo(png(a));
    }

    private static byte[] png(ActivationMaximizer.Result r) {
        return Grid.of(java.util.Arrays.stream(r.pixels()).map(Grid::fromPixels).toList(), 1, 28, 28, 64).png();
    }

    @Test
    void theInputGradientIsTheGradient() {
        // smooth activations (tanh, average pooling) so that finite differences apply; batch normalization with running
        // statistics far from 0/1, which the gradient must go through as inference computes it; float64 for the differences
        ComputationGraph net = net("{name: lenet5, variant: classic, batchNorm: true}");
        for (String bn : List.of("conv1_bn", "conv2_bn", "fc1_bn", "fc2_bn")) {
            var l = net.getLayer(bn);
            long[] c = l.getParam("mean").shape();
            l.setParam("mean", Nd4j.rand(DataType.FLOAT, c).muli(0.6).subi(0.3));
            l.setParam("log10stdev", Nd4j.rand(DataType.FLOAT, c).muli(0.8).subi(0.4)); // std 0.4..2.5
            l.setParam("gamma", Nd4j.rand(DataType.FLOAT, c).addi(0.5));
        }
        Probe exact = new Probe(net.convertDataType(DataType.DOUBLE), SHAPE);
        // in batch-norm blocks the activation function is a layer of its own
        for (String[] p : new String[][] {{"conv1_linear", "conv1"}, {"fc2_linear", "fc2"}, {"pool1", "pool1"}, {"output", "output"}}) {
            assertThat(exact.activated(exact.layer(p[0])).name()).as(p[0]).isEqualTo(p[1]);
        }
        assertThat(new Probe(lenet, SHAPE).activated(new Probe(lenet, SHAPE).layer("conv1")).name()).isEqualTo("conv1");
        Random r = new Random(2);
        float[] x = new float[2 * 784];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        int[] units = {1, 2};
        for (String layer : List.of("conv1", "pool1", "conv2_bn", "fc2", "output")) {
            float[] g = exact.gradient(layer, units, x);
            // the 10 largest coordinates of each example's gradient against central differences of that example's objective
            double err = 0, norm = 0;
            for (int e = 0; e < 2; e++) {
                Integer[] idx = new Integer[784];
                for (int i = 0; i < 784; i++) idx[i] = e * 784 + i;
                java.util.Arrays.sort(idx, (p, q) -> Float.compare(Math.abs(g[q]), Math.abs(g[p])));
                for (int t = 0; t < 10; t++) {
                    int j = idx[t];
                    float keep = x[j], up = keep + 1e-2f, down = keep - 1e-2f;
                    x[j] = up;
                    double fUp = exact.evaluate(layer, units, x).values()[e];
                    x[j] = down;
                    double fDown = exact.evaluate(layer, units, x).values()[e];
                    x[j] = keep;
                    double fd = (fUp - fDown) / ((double) up - down);
                    err += (fd - g[j]) * (fd - g[j]);
                    norm += (double) g[j] * g[j];
                }
            }
            assertThat(norm).as(layer).isGreaterThan(0);
            assertThat(Math.sqrt(err / norm)).as("relative error of the gradient of %s", layer).isLessThan(1e-4);
        }
        // the float32 network as visualize runs it (oneDNN helpers where available) gives the same gradient
        Probe fast = new Probe(net, SHAPE);
        for (String layer : List.of("conv2_bn", "output")) {
            float[] a = fast.gradient(layer, units, x), b = exact.gradient(layer, units, x);
            double err = 0, norm = 0;
            for (int i = 0; i < a.length; i++) {
                err += (a[i] - b[i]) * (double) (a[i] - b[i]);
                norm += (double) b[i] * b[i];
            }
            assertThat(Math.sqrt(err / norm)).as("float32 against float64, %s", layer).isLessThan(1e-3);
        }
    }

    @Test
    void filtersOfTheFirstConvolutionAndOfAnMlpsFirstLayer() throws Exception {
        var f = Filters.of(lenet, SHAPE).orElseThrow();
        assertThat(f.layer()).isEqualTo("conv1");
        assertThat(f.count()).isEqualTo(20);
        // 20 tiles of 5x5 enlarged 8x to 40 px: 5 columns, 4 rows, 2 px gaps
        assertThat(f.grid().columns()).isEqualTo(5);
        assertThat(f.grid().rows()).isEqualTo(4);
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(f.grid().png()));
        assertThat(img.getWidth()).isEqualTo(2 + 5 * 42);
        assertThat(img.getHeight()).isEqualTo(2 + 4 * 42);
        // each tile is min/max scaled: some pixel of filter 0 is black and some white
        Set<Integer> tile0 = new HashSet<>();
        for (int y = 2; y < 42; y++) for (int x = 2; x < 42; x++) tile0.add(img.getRaster().getSample(x, y, 0));
        assertThat(tile0).contains(0, 255).hasSizeGreaterThan(5);

        ComputationGraph mlp = net("{name: mlp, hidden: [12, 6]}");
        var d = Filters.of(mlp, SHAPE).orElseThrow();
        assertThat(d.layer()).isEqualTo("dense1");
        assertThat(d.kind()).isEqualTo("dense");
        assertThat(List.of(d.count(), d.height(), d.width(), d.grid().columns(), d.grid().rows(), d.grid().tileWidth()))
                .containsExactly(12, 28, 28, 4, 3, 56);
        // the first unit's tile is its weight column reshaped to the image: pixel (x=3, y=1) is weight row 1*28+3
        float[] col = mlp.getLayer("dense1").getParam("W").getColumn(0).toFloatVector();
        float lo = Float.MAX_VALUE, hi = -Float.MAX_VALUE;
        for (float v : col) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        BufferedImage m = ImageIO.read(new ByteArrayInputStream(d.grid().png()));
        assertThat(m.getRaster().getSample(2 + 3 * 2, 2 + 1 * 2, 0)).isCloseTo(Math.round(255 * (col[31] - lo) / (hi - lo)),
                org.assertj.core.api.Assertions.within(1));
    }

    @Test
    void featureMapsOfAnImageShareOneScale() throws Exception {
        Probe probe = new Probe(lenet, SHAPE);
        // the probe's vertex-by-vertex forward pass computes what the network does
        float[] two = new float[2 * 784];
        System.arraycopy(images[0], 0, two, 0, 784);
        System.arraycopy(images[1], 0, two, 784, 784);
        float[] mine = probe.activations(two, 2).get("output").dup('c').reshape(6).toFloatVector();
        float[] dl4j = lenet.outputSingle(Nd4j.create(two, new long[] {2, 784})).dup('c').reshape(6).toFloatVector();
        assertThat(mine).containsExactly(dl4j, org.assertj.core.api.Assertions.within(1e-5f));
        var acts = probe.activations(images[0], 1);
        var fm = FeatureMaps.of(acts.get("conv1"));
        assertThat(fm.tiles()).isEqualTo(20);
        assertThat(fm.min()).isEqualTo(0f); // ReLU: some positions are off
        assertThat(fm.max()).isEqualTo(acts.get("conv1").maxNumber().floatValue());
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(fm.grid().png()));
        // 20 tiles of 24x24 enlarged 2x: 5 columns, 4 rows
        assertThat(img.getWidth()).isEqualTo(2 + 5 * 50);
        assertThat(img.getHeight()).isEqualTo(2 + 4 * 50);
        var dense = FeatureMaps.of(acts.get("fc1")); // 500 units: one 23 x 22 tile
        assertThat(dense.tiles()).isEqualTo(1);
        assertThat(dense.grid().tileWidth()).isEqualTo(23 * 3);
        assertThat(dense.grid().tileHeight()).isEqualTo(22 * 3);
        assertThatThrownBy(() -> probe.evaluate("conv1", new int[] {20}, images[0])).hasMessageContaining("out of range 0..19");
    }
}
