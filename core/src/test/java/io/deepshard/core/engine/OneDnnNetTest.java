package io.deepshard.core.engine;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The oneDNN engine computes DL4J's gradient: same layout, same scaling, same values to float32 rounding, written into
 * the network's own flattened gradient array; and it names what it cannot run.
 */
class OneDnnNetTest {

    private static ComputationGraph build(String model) {
        DeepshardConfig c = ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: [1, 28, 28], numClasses: 10}
                training: {seed: 11, optimizer: {type: nesterov, learningRate: 0.01, momentum: 0.9}}
                """.formatted(model), "engine", List.of());
        return NetworkFactory.create(c.model(), c.data(), c.training());
    }

    private static INDArray[] batch(int b, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.rand(DataType.FLOAT, b, 784).subi(0.3);
        INDArray y = Nd4j.zeros(DataType.FLOAT, b, 10);
        for (int i = 0; i < b; i++) {
            int c = (int) ((i * 7 + seed) % 10);
            y.putScalar(i, c, 1);
            // a learnable task: each class brightens its own band of 78 pixels
            x.get(org.nd4j.linalg.indexing.NDArrayIndex.point(i), org.nd4j.linalg.indexing.NDArrayIndex.interval(c * 78, c * 78 + 78)).addi(1.0);
        }
        return new INDArray[] {x, y};
    }

    /**
     * A network that exercises every geometry the engine translates: rank-4 inputs without DL4J's reshaping
     * preprocessor, odd sizes, Same mode with stride 2, dilation, padding with a partial window DL4J drops (Truncate),
     * average pooling that excludes and includes padding, max pooling, a convolution without bias, leaky ReLU and
     * sigmoid, and the flattening into a dense layer.
     *
     * <p>Built on DL4J's own layers, not its oneDNN helpers: the helper's average pooling in Same mode with padding in
     * the divisor (p2) computes a gradient that disagrees with its own forward pass (c3's bias gradient 78% off finite
     * differences in float64, where DL4J's own layer and this engine are within 2e-9 and 1e-7).
     */
    static ComputationGraph geometryNet() {
        return io.deepshard.core.train.OneDnnHelpers.build("dl4j", OneDnnNetTest::geometryNetOnCurrentLayers);
    }

    private static ComputationGraph geometryNetOnCurrentLayers() {
        var g = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder().seed(7).dataType(DataType.FLOAT)
                .updater(new org.nd4j.linalg.learning.config.Sgd(0.01)).weightInit(org.deeplearning4j.nn.weights.WeightInit.XAVIER)
                .graphBuilder().addInputs("in").setInputTypes(org.deeplearning4j.nn.conf.inputs.InputType.convolutional(17, 15, 3));
        var same = org.deeplearning4j.nn.conf.ConvolutionMode.Same;
        var truncate = org.deeplearning4j.nn.conf.ConvolutionMode.Truncate;
        g.addLayer("c1", new org.deeplearning4j.nn.conf.layers.ConvolutionLayer.Builder(3, 3).stride(2, 2).nOut(8)
                .convolutionMode(same).activation(org.nd4j.linalg.activations.Activation.LEAKYRELU).build(), "in");
        g.addLayer("c2", new org.deeplearning4j.nn.conf.layers.ConvolutionLayer.Builder(3, 2).dilation(2, 1).padding(1, 1).stride(2, 1)
                .nOut(12).hasBias(false).convolutionMode(truncate).activation(org.nd4j.linalg.activations.Activation.SIGMOID).build(), "c1");
        g.addLayer("p1", new org.deeplearning4j.nn.conf.layers.SubsamplingLayer.Builder(org.deeplearning4j.nn.conf.layers.SubsamplingLayer.PoolingType.AVG)
                .kernelSize(3, 3).stride(2, 2).padding(1, 1).convolutionMode(truncate).avgPoolIncludePadInDivisor(false).build(), "c2");
        g.addLayer("c3", new org.deeplearning4j.nn.conf.layers.ConvolutionLayer.Builder(2, 2).nOut(10).convolutionMode(same)
                .activation(org.nd4j.linalg.activations.Activation.IDENTITY).build(), "p1");
        g.addLayer("p2", new org.deeplearning4j.nn.conf.layers.SubsamplingLayer.Builder(org.deeplearning4j.nn.conf.layers.SubsamplingLayer.PoolingType.AVG)
                .kernelSize(2, 2).stride(1, 1).convolutionMode(same).avgPoolIncludePadInDivisor(true).build(), "c3");
        g.addLayer("p3", new org.deeplearning4j.nn.conf.layers.SubsamplingLayer.Builder(org.deeplearning4j.nn.conf.layers.SubsamplingLayer.PoolingType.MAX)
                .kernelSize(2, 2).stride(2, 2).convolutionMode(same).build(), "p2");
        g.addLayer("d1", new DenseLayer.Builder().nOut(16).activation(org.nd4j.linalg.activations.Activation.TANH).build(), "p3");
        g.addLayer("out", new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder(org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction.MCXENT)
                .nOut(10).activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build(), "d1");
        ComputationGraph net = new ComputationGraph(g.setOutputs("out").build());
        net.init();
        return net;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "{name: mlp, hidden: [256, 128], batchNorm: false, dropout: 0, activation: relu}",
            "{name: mlp, hidden: [256, 128], batchNorm: false, dropout: 0, activation: tanh}",
            "{name: mlp, hidden: [256, 128], batchNorm: false, dropout: 0, activation: sigmoid}",
            "lenet5",
            "{name: lenet5, variant: classic}",
            "{name: lenet5, activation: leakyrelu}",
            "{name: mlp, hidden: [256, 128], batchNorm: true, dropout: 0, activation: relu}",
            "{name: mlp, hidden: [256, 128], batchNorm: false, dropout: 0.5, activation: relu}",
            "{name: mlp, hidden: [256, 128], batchNorm: true, dropout: 0.3, activation: tanh}",
            "{name: lenet5, batchNorm: true}",
            "{name: lenet5, variant: classic, batchNorm: true, dropout: 0.4}",
            "imagesDropout",
            "geometry"})
    void gradientAndLossAreDl4jsOwn(String model) {
        ComputationGraph net = net(model);
        assertThat(OneDnnNet.unsupported(net)).isEmpty();
        for (int b : new int[] {64, 37}) {   // a second shape: primitives are re-made per batch size
            INDArray[] xy = batch(b, b);
            // the geometry net takes [batch, 3, 17, 15] images (765 values, the first 765 of each row)
            INDArray x = model.equals("geometry") || model.equals("imagesDropout") ? xy[0].get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 765)).dup().reshape(b, 3, 17, 15) : xy[0];
            net.setInputs(x);
            net.setLabels(xy[1]);
            Nd4j.getRandom().setSeed(1000 + b);   // dropout: both draw their masks from the same generator state
            net.computeGradientAndScore();
            // copies: DL4J's per-parameter gradients are views of the flattened array the engine overwrites next
            java.util.Map<String, INDArray> dl4j = new java.util.HashMap<>();
            net.gradient().gradientForVariable().forEach((k, v) -> dl4j.put(k, v.dup()));
            INDArray expected = net.getFlattenedGradients().dup();
            double expectedScore = net.score();
            net.getFlattenedGradients().assign(Float.NaN);   // ours must overwrite every element
            try (OneDnnNet fast = OneDnnNet.of(net)) {
                Nd4j.getRandom().setSeed(1000 + b);
                double loss = fast.computeGradient(x, xy[1]);
                INDArray ours = net.getFlattenedGradients();
                assertThat(ours.isNaN().any()).as("every gradient element written").isFalse();
                for (Layer l : net.getLayers()) {
                    String name = l.conf().getLayer().getLayerName();
                    var views = l.conf().getLayer().initializer().getGradientsFromFlattened(l.conf(), l.getGradientsViewArray());
                    for (String p : views.keySet()) {
                        INDArray e = dl4j.get(name + "_" + p);
                        INDArray o = views.get(p);
                        double rel = o.sub(e).norm2Number().doubleValue() / e.norm2Number().doubleValue();
                        // float32 sums over batch x height x width in another order: up to 1.5e-5 behind two batch norms
                        assertThat(rel).as("%s %s %s, batch %d: relative difference from DL4J's gradient", model, name, p, b).isLessThan(1e-4);
                    }
                }
                double rel = ours.sub(expected).norm2Number().doubleValue() / expected.norm2Number().doubleValue();
                assertThat(rel).as("the whole flattened gradient").isLessThan(1e-5);
                // no regularization in this config: DL4J's score is the mean cross-entropy alone
                assertThat(loss).isCloseTo(expectedScore, org.assertj.core.data.Percentage.withPercentage(1e-4));
            }
        }
    }

    /**
     * The zoo's graphs: ResNet-20 (CIFAR layout: residual sums, option A shortcuts of 1x1 max pooling, a zero
     * ScaleVertex and a channel merge, global average pooling, 19 batch norms), ResNet-18 (projection shortcuts),
     * Inception (four-branch merges, max pooling with padding) and VGG with batch norm: the same loss as DL4J's, and a
     * gradient as close to DL4J's own float64 gradient as DL4J's float32 one is. Twenty batch norms in float32 make
     * the early layers' gradient uncertain at the 1e-2 level on both sides (measured, ResNet-20 b64: DL4J 8e-3 at the
     * stem against float64, this engine 9e-3), so the float64 gradient is the reference; a lost branch or a wrong
     * vertex would be off by far more.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource(delimiter = ';', value = {
            "{name: resnet, depth: 20}; 1; 28; 32",
            "{name: resnet, depth: 18, small: true}; 3; 16; 8",
            // no dropout: DL4J's float64 network draws other masks (dropout has its own tests above)
            "{name: inception, small: true, dropout: 0}; 1; 28; 8",
            "{name: vgg, small: true, batchNorm: true, dropout: 0}; 3; 32; 8"})
    void zooGraphGradientIsAsCloseToFloat64AsDl4js(String model, int channels, int size, int b) {
        DeepshardConfig c = ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: [%d, %d, %d], numClasses: 10}
                training: {seed: 11}
                """.formatted(model, channels, size, size), "engine", List.of());
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        assertThat(OneDnnNet.unsupported(net)).isEmpty();
        Nd4j.getRandom().setSeed(b);
        INDArray x = Nd4j.rand(DataType.FLOAT, b, channels, size, size);
        INDArray[] xy = {x, batch(b, 3)[1]};
        net.setInputs(x);
        net.setLabels(xy[1]);
        net.computeGradientAndScore();
        INDArray dl4j = net.getFlattenedGradients().dup();
        double dl4jScore = net.score();
        ComputationGraph exact = net.convertDataType(DataType.DOUBLE);
        exact.setInputs(x.castTo(DataType.DOUBLE));
        exact.setLabels(xy[1].castTo(DataType.DOUBLE));
        exact.computeGradientAndScore();
        INDArray truth = exact.getFlattenedGradients().castTo(DataType.FLOAT);
        net.getFlattenedGradients().assign(Float.NaN);
        try (OneDnnNet fast = OneDnnNet.of(net)) {
            double loss = fast.computeGradient(x, xy[1]);
            INDArray ours = net.getFlattenedGradients();
            assertThat(ours.isNaN().any()).as("every gradient element written").isFalse();
            double oursOff = ours.sub(truth).norm2Number().doubleValue() / truth.norm2Number().doubleValue();
            double dl4jOff = dl4j.sub(truth).norm2Number().doubleValue() / truth.norm2Number().doubleValue();
            System.out.printf("%s b%d gradient against DL4J's float64: this engine %.2e, DL4J float32 %.2e; loss %.7f vs %.7f%n",
                    model, b, oursOff, dl4jOff, loss, dl4jScore);
            assertThat(oursOff).as("relative distance from the float64 gradient").isLessThan(Math.max(2 * dl4jOff, 1e-4));
            assertThat(loss).isCloseTo(dl4jScore, org.assertj.core.data.Percentage.withPercentage(1e-3));
            System.out.println(fast.implementations(b, channels, size, size).stream().filter(i -> i.contains(": ref")).toList());
        }
    }

    /** The networks of these tests by name: the zoo's from YAML, or the two built here. */
    private static ComputationGraph net(String model) {
        return switch (model) {
            case "geometry" -> geometryNet();
            case "imagesDropout" -> imagesDropoutNet();
            default -> build(model);
        };
    }

    /**
     * Dropout on the flattened output of a convolution (DL4J's mask in the order of the flattened NCHW input), batch
     * norm over the channels of a convolution and over features, and an ActivationLayer after each.
     */
    static ComputationGraph imagesDropoutNet() {
        var conf = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder().seed(3)
                .updater(new org.nd4j.linalg.learning.config.Sgd(0.1)).weightInit(org.deeplearning4j.nn.weights.WeightInit.XAVIER)
                .graphBuilder().addInputs("in")
                .setInputTypes(org.deeplearning4j.nn.conf.inputs.InputType.convolutional(17, 15, 3))
                // no biases before batch norm (as in the zoo): their gradient is zero, both sides' only rounding
                .addLayer("c1", new org.deeplearning4j.nn.conf.layers.ConvolutionLayer.Builder(3, 3).nOut(6).hasBias(false)
                        .activation(org.nd4j.linalg.activations.Activation.IDENTITY).build(), "in")
                .addLayer("c1_bn", new org.deeplearning4j.nn.conf.layers.BatchNormalization.Builder().useLogStd(false).build(), "c1")
                .addLayer("c1_act", new org.deeplearning4j.nn.conf.layers.ActivationLayer.Builder()
                        .activation(org.nd4j.linalg.activations.Activation.RELU).build(), "c1_bn")
                .addLayer("p1", new org.deeplearning4j.nn.conf.layers.SubsamplingLayer.Builder(
                        org.deeplearning4j.nn.conf.layers.SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), "c1_act")
                .addLayer("fc", new DenseLayer.Builder().nOut(24).dropOut(0.6).hasBias(false)
                        .activation(org.nd4j.linalg.activations.Activation.IDENTITY).build(), "p1")
                .addLayer("fc_bn", new org.deeplearning4j.nn.conf.layers.BatchNormalization.Builder().build(), "fc")
                .addLayer("fc_act", new org.deeplearning4j.nn.conf.layers.ActivationLayer.Builder()
                        .activation(org.nd4j.linalg.activations.Activation.TANH).build(), "fc_bn")
                .addLayer("out", softmaxOutput(), "fc_act")
                .setOutputs("out").build();
        return initialized(conf);
    }

    private static org.deeplearning4j.nn.conf.layers.OutputLayer softmaxOutput() {
        return new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder(org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction.MCXENT)
                .nOut(10).activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build();
    }

    private static ComputationGraph initialized(org.deeplearning4j.nn.conf.ComputationGraphConfiguration conf) {
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return net;
    }

    /**
     * Inference (evaluation's forward pass): DL4J's class probabilities, from inference primitives; batch norm with
     * the running statistics (after a few of DL4J's training steps, so they are not their initial 0 and 1) and no dropout.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"{name: mlp, hidden: [64], batchNorm: false, dropout: 0}", "lenet5", "{name: lenet5, variant: classic}", "geometry",
            "{name: mlp, hidden: [64, 32], batchNorm: true, dropout: 0.3}", "{name: lenet5, batchNorm: true, dropout: 0.5}", "imagesDropout",
            "{name: resnet, depth: 20}"})
    void outputIsDl4jsOwn(String model) {
        ComputationGraph net = net(model);
        boolean images = model.equals("geometry") || model.equals("imagesDropout");
        boolean resnet = model.contains("resnet");   // [batch, 1, 28, 28] images, no reshaping preprocessor
        for (int step = 0; step < 3; step++) {
            INDArray[] xy = batch(32, 50 + step);
            INDArray x = images ? xy[0].get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 765)).dup().reshape(32, 3, 17, 15)
                    : resnet ? xy[0].reshape(32, 1, 28, 28) : xy[0];
            net.fit(new org.nd4j.linalg.dataset.DataSet(x.muli(3), xy[1]));   // scaled: running statistics away from 0 and 1
        }
        try (OneDnnNet fast = OneDnnNet.of(net)) {
            for (int b : new int[] {256, 5}) {
                Nd4j.getRandom().setSeed(b);
                INDArray x = images ? Nd4j.randn(DataType.FLOAT, b, 3, 17, 15)
                        : resnet ? Nd4j.randn(DataType.FLOAT, b, 1, 28, 28) : Nd4j.randn(DataType.FLOAT, b, 784);
                INDArray expected = net.output(false, x)[0], ours = fast.output(net, x);
                assertThat(ours.shape()).isEqualTo(expected.shape());
                assertThat(ours.sub(expected).amaxNumber().doubleValue()).as("%s, batch %d: largest probability difference", model, b).isLessThan(1e-5);
            }
            assertThatThrownBy(() -> fast.output(build(images || resnet ? "lenet5" : model), Nd4j.zeros(DataType.FLOAT, 2, 784)))
                    .hasMessageContaining("this engine was made for another network");
        }
    }

    /** The complaint about DL4J's helpers: its max pooling ran oneDNN's slow reference kernel. Here none does. */
    @Test
    void lenet5RunsNoReferenceKernel() {
        try (OneDnnNet fast = OneDnnNet.of(build("lenet5"))) {
            List<String> impls = fast.implementations(64, 1, 28, 28);
            System.out.println("LeNet-5 b64 on this CPU: " + impls);
            assertThat(impls).anySatisfy(i -> assertThat(i).startsWith("pool1 backward: "));
            assertThat(impls).noneSatisfy(i -> assertThat(i).contains(": ref"));
        }
    }

    /**
     * Twenty training steps of the same network (the MLP; LeNet-5 with ReLU and max pooling; the 1998 LeNet-5 with
     * tanh, padding and average pooling) from the same start on the same batches, DL4J's {@code fit} (LeNet-5's
     * convolutions and pooling on DL4J's oneDNN helpers, as the auto engine builds it) against the engine's with its
     * fused optimizer step (or DL4J's updater where it falls back): L2, the optimizer's state and the iteration
     * count included, the loss curves and the final parameters and updater state agree to float32 rounding.
     */
    @ParameterizedTest(name = "{0} {1}")
    @org.junit.jupiter.params.provider.CsvSource(delimiter = ';', value = {
            "mlp; {type: nesterov, learningRate: 0.05, momentum: 0.9}; true",
            "mlp; {type: adam, learningRate: 0.002}; true",
            "mlp; {type: sgd, learningRate: 0.1}; true",
            "mlp; {type: rmsprop, learningRate: 0.001}; false",
            "lenet5; {type: nesterov, learningRate: 0.02, momentum: 0.9}; true",
            "{name: lenet5, variant: classic}; {type: sgd, learningRate: 0.1}; true",
            // the project's default MLP (conf/mlp-fashion.yaml): batch norm and dropout
            "{name: mlp, hidden: [256, 128], batchNorm: true, dropout: 0.3}; {type: adam, learningRate: 0.002}; true",
            "{name: lenet5, batchNorm: true, dropout: 0.5}; {type: nesterov, learningRate: 0.02, momentum: 0.9}; true"})
    void trainsToDl4jsCurve(String name, String optimizer, boolean fusedUpdater) {
        String model = name.equals("mlp") ? "{name: mlp, hidden: [256, 128], batchNorm: false, dropout: 0}" : name;
        DeepshardConfig c = ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: [1, 28, 28], numClasses: 10}
                training: {seed: 11, l2: 0.0005, optimizer: %s}
                """.formatted(model, optimizer), "engine", List.of());
        ComputationGraph dl4j = NetworkFactory.create(c.model(), c.data(), c.training());
        ComputationGraph ours = NetworkFactory.create(c.model(), c.data(), c.training());
        ours.setParams(dl4j.params().dup());
        double worst = 0;
        double first = 0, last = 0;
        try (OneDnnNet fast = OneDnnNet.of(ours)) {
            if (fusedUpdater) assertThat(fast.updaterFallback()).as("the fused updater runs").isNull();
            else assertThat(fast.updaterFallback()).contains("RmsProp");
            for (int step = 0; step < 20; step++) {
                INDArray[] xy = batch(32, 100 + step);
                Nd4j.getRandom().setSeed(500 + step);   // dropout: the same masks on both sides
                dl4j.fit(new org.nd4j.linalg.dataset.DataSet(xy[0], xy[1]));
                double a = dl4j.score();
                Nd4j.getRandom().setSeed(500 + step);
                double b = fast.fit(ours, xy[0].reshape(32, 1, 28, 28), xy[1]);   // images, flattened by the engine
                assertThat(ours.score()).isEqualTo(b);
                worst = Math.max(worst, Math.abs(a - b) / a);
                if (step == 0) first = a;
                last = a;
            }
        }
        assertThat(last).as("it learned").isLessThan(first * 0.7);
        assertThat(worst).as("worst relative loss difference over 20 steps").isLessThan(1e-5);
        assertThat(ours.getIterationCount()).isEqualTo(dl4j.getIterationCount()).isEqualTo(20);
        double params = ours.params().sub(dl4j.params()).norm2Number().doubleValue() / dl4j.params().norm2Number().doubleValue();
        INDArray su = dl4j.getUpdater().getStateViewArray(), ou = ours.getUpdater().getStateViewArray();
        double state = su == null ? 0 : ou.sub(su).norm2Number().doubleValue() / su.norm2Number().doubleValue();
        System.out.printf("%s %s, 20 steps, loss %.4f -> %.4f: worst relative loss difference %.2e, parameters %.2e, updater state %.2e%n",
                name, optimizer, first, last, worst, params, state);
        assertThat(params).as("parameters").isLessThan(1e-5);
        assertThat(state).as("Nesterov momentum state").isLessThan(1e-4);
    }

    /**
     * A worker loads the broadcast parameters and optimizer state into its network and only then makes the engine:
     * making it must not reset DL4J's updater state (a resumed run continues with its Adam moments), and its first
     * step must continue from them exactly as DL4J's would.
     */
    @Test
    void makingTheEngineKeepsALoadedOptimizerState() {
        String yaml = """
                model: {name: mlp, hidden: [32], batchNorm: false, dropout: 0}
                data: {train: fashion-mnist:train, inputShape: [1, 28, 28], numClasses: 10}
                training: {seed: 5, optimizer: {type: adam, learningRate: 0.01}}
                """;
        DeepshardConfig c = ConfigLoader.parse(yaml, "engine", List.of());
        ComputationGraph trained = NetworkFactory.create(c.model(), c.data(), c.training());
        for (int i = 0; i < 5; i++) {
            INDArray[] xy = batch(16, i);
            trained.fit(new org.nd4j.linalg.dataset.DataSet(xy[0], xy[1]));
        }
        io.deepshard.core.train.NetworkState state = io.deepshard.core.train.NetworkState.of(trained);
        ComputationGraph dl4j = NetworkFactory.create(c.model(), c.data(), c.training());
        ComputationGraph ours = NetworkFactory.create(c.model(), c.data(), c.training());
        state.loadInto(dl4j);
        state.loadInto(ours);
        INDArray loaded = ours.getUpdater().getStateViewArray().dup();
        assertThat(loaded.norm2Number().doubleValue()).as("a non-zero Adam state").isGreaterThan(0);
        try (OneDnnNet fast = OneDnnNet.of(ours)) {
            assertThat(ours.getUpdater().getStateViewArray()).as("state after making the engine").isEqualTo(loaded);
            INDArray[] xy = batch(16, 99);
            dl4j.fit(new org.nd4j.linalg.dataset.DataSet(xy[0], xy[1]));
            fast.fit(ours, xy[0], xy[1]);
        }
        double params = ours.params().sub(dl4j.params()).norm2Number().doubleValue() / dl4j.params().norm2Number().doubleValue();
        INDArray su = dl4j.getUpdater().getStateViewArray(), ou = ours.getUpdater().getStateViewArray();
        assertThat(params).as("parameters after one step from the loaded state").isLessThan(1e-6);
        assertThat(ou.sub(su).norm2Number().doubleValue() / su.norm2Number().doubleValue()).as("Adam state").isLessThan(1e-5);
    }

    @Test
    void namesWhatItCannotRun() {
        assertThat(OneDnnNet.unsupported(build("{name: mlp, hidden: [64], batchNorm: true, dropout: 0.3}"))).isEmpty();
        ComputationGraph transfer = new org.deeplearning4j.nn.transferlearning.TransferLearning.GraphBuilder(
                build("{name: mlp, hidden: [16, 8], batchNorm: false, dropout: 0}")).setFeatureExtractor("dense1").build();
        assertThat(OneDnnNet.unsupported(transfer)).hasValue("layer dense1 is frozen (transfer learning)");
        assertThat(OneDnnNet.unsupported(chain(new DenseLayer.Builder().nOut(8).dropOut(new org.deeplearning4j.nn.conf.dropout.GaussianDropout(0.2)).build())))
                .hasValueSatisfying(why -> assertThat(why).startsWith("layer hidden has dropout GaussianDropout").endsWith("(supported: Dropout with a fixed retain probability)"));
        assertThat(OneDnnNet.unsupported(chain(new DenseLayer.Builder().nOut(8).dropOut(new org.deeplearning4j.nn.conf.dropout.Dropout(
                new org.nd4j.linalg.schedule.StepSchedule(org.nd4j.linalg.schedule.ScheduleType.ITERATION, 0.5, 0.9, 10))).build())))
                .hasValueSatisfying(why -> assertThat(why).startsWith("layer hidden has dropout Dropout"));
        assertThat(OneDnnNet.unsupported(chain(new org.deeplearning4j.nn.conf.layers.BatchNormalization.Builder(1.0, 0.0, true).build())))
                .hasValue("layer hidden is a BatchNormalization with locked gamma and beta (not supported)");
        assertThat(OneDnnNet.unsupported(chain(new org.deeplearning4j.nn.conf.layers.ActivationLayer.Builder()
                .activation(org.nd4j.linalg.activations.Activation.SOFTPLUS).build())))
                .hasValueSatisfying(why -> assertThat(why).startsWith("layer hidden has activation softplus (supported: identity, relu"));
        assertThat(OneDnnNet.unsupported(build("{name: resnet, depth: 20}"))).isEmpty();
        assertThatThrownBy(() -> OneDnnNet.of(chain(new org.deeplearning4j.nn.conf.layers.misc.ElementWiseMultiplicationLayer.Builder().nOut(8).build())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("the oneDNN engine cannot run this network: layer hidden is a ElementWiseMultiplicationLayer (supported: ");
    }

    /** input (784) -> dense "first" -> {@code layer} named "hidden" -> softmax output. */
    private static ComputationGraph chain(org.deeplearning4j.nn.conf.layers.Layer layer) {
        var conf = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder().seed(1).graphBuilder().addInputs("in")
                .setInputTypes(org.deeplearning4j.nn.conf.inputs.InputType.feedForward(784))
                .addLayer("first", new DenseLayer.Builder().nOut(8).build(), "in")
                .addLayer("hidden", layer, "first")
                .addLayer("out", softmaxOutput(), "hidden")
                .setOutputs("out").build();
        return initialized(conf);
    }

    /** Serving's engine: DL4J's probabilities, no updater made for the loaded network, and no gradients. */
    @Test
    void anInferenceEngineOnlyInfers() {
        ComputationGraph net = build("{name: lenet5, batchNorm: true}");
        INDArray x = Nd4j.randn(DataType.FLOAT, 6, 784);
        try (OneDnnNet fast = OneDnnNet.forInference(net)) {
            assertThat(fast.output(net, x).sub(net.output(false, x)[0]).amaxNumber().doubleValue()).isLessThan(1e-5);
            assertThat(net.getUpdater(false)).as("no updater made").isNull();
            assertThatThrownBy(() -> fast.computeGradient(x, Nd4j.zeros(DataType.FLOAT, 6, 10)))
                    .hasMessage("this engine was made for inference (OneDnnNet.forInference): it computes no gradients");
        }
    }

    @Test
    void wrongShapesAreNamed() {
        try (OneDnnNet fast = OneDnnNet.of(build("{name: mlp, hidden: [32], batchNorm: false, dropout: 0}"))) {
            assertThatThrownBy(() -> fast.computeGradient(Nd4j.zeros(DataType.FLOAT, 4, 100), Nd4j.zeros(DataType.FLOAT, 4, 10)))
                    .hasMessageContaining("features must be [batch, 784], found [4, 100]");
            assertThatThrownBy(() -> fast.computeGradient(Nd4j.zeros(DataType.FLOAT, 4, 784), Nd4j.zeros(DataType.FLOAT, 4, 3)))
                    .hasMessageContaining("labels must be [4, 10], found [4, 3]");
        }
        try (OneDnnNet fast = OneDnnNet.of(build("lenet5"))) {
            assertThatThrownBy(() -> fast.computeGradient(Nd4j.zeros(DataType.FLOAT, 4, 100), Nd4j.zeros(DataType.FLOAT, 4, 10)))
                    .hasMessageContaining("features must be [batch, 784] or [batch, 1, 28, 28], found [4, 100]");
        }
        try (OneDnnNet fast = OneDnnNet.of(geometryNet())) {
            assertThatThrownBy(() -> fast.computeGradient(Nd4j.zeros(DataType.FLOAT, 4, 765), Nd4j.zeros(DataType.FLOAT, 4, 10)))
                    .hasMessageContaining("features must be [batch, channels, height, width], found [4, 765]");
            // 2 channels where c1 takes 3: named when the primitives are made
            assertThatThrownBy(() -> fast.computeGradient(Nd4j.zeros(DataType.FLOAT, 4, 2, 17, 15), Nd4j.zeros(DataType.FLOAT, 4, 10)))
                    .hasMessageContaining("layer c1 takes 3 channels, found [4, 2, 17, 15]");
        }
    }
}
