package io.deepshard.core.zoo;

import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Parameter counts against the published architectures, and the output shape of a forward pass. */
class ModelZooTest {

    static ComputationGraph build(String model, String shape, int classes) {
        DeepshardConfig c = ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: %s, numClasses: %d}
                """.formatted(model, shape, classes), "zoo", List.of());
        return NetworkFactory.create(c.model(), c.data(), c.training());
    }

    @ParameterizedTest(name = "{0} on {1}: {3} trainable parameters")
    @CsvSource(delimiter = ';', value = {
            "lenet5; [1, 28, 28]; 10; 431080",                       // conv20/conv50/fc500 (Caffe/DL4J MNIST LeNet)
            "{name: lenet5, variant: classic}; [1, 28, 28]; 10; 61706", // 1998 layout, C3 fully connected
            "mlp; [1, 28, 28]; 10; 235146",                          // 784-256-128-10
            "{name: resnet, depth: 18}; [3, 224, 224]; 1000; 11689512",  // He et al. 2016 / torchvision
            "{name: resnet, depth: 34}; [3, 224, 224]; 1000; 21797672",
            "{name: resnet, depth: 50}; [3, 224, 224]; 1000; 25557032",
            // CIFAR ResNets, option A shortcuts (He et al. 2016 Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M); arithmetic
            // in ResNet's Javadoc: 269,722 for n = 3, +97,216 per block added to each stage
            "{name: resnet, depth: 20}; [3, 32, 32]; 10; 269722",
            "{name: resnet, depth: 32}; [3, 32, 32]; 10; 464154",
            "{name: resnet, depth: 44}; [3, 32, 32]; 10; 658586",
            "{name: resnet, depth: 56}; [3, 32, 32]; 10; 853018",
            "{name: resnet, depth: 110, small: true}; [3, 32, 32]; 10; 1727962",
            // Simonyan & Zisserman 2015 configurations A, B, D, E; torchvision vgg11/13/16/19 and vgg16_bn
            "{name: vgg, depth: 11}; [3, 224, 224]; 1000; 132863336",
            "{name: vgg, depth: 13}; [3, 224, 224]; 1000; 133047848",
            "vgg; [3, 224, 224]; 1000; 138357544",
            "{name: vgg, depth: 19}; [3, 224, 224]; 1000; 143667240",
            "{name: vgg, depth: 16, batchNorm: true}; [3, 224, 224]; 1000; 138365992",
            // small VGG-16: convolutions 14,714,688 (= 138,357,544 - 123,642,856 of torchvision's classifier)
            // + 512·10 + 10 = 14,719,818; with batch norm + 2·(2·64 + 2·128 + 3·256 + 6·512) = 8,448: 14,728,266, the
            // count of kuangliu/pytorch-cifar VGG('VGG16') (conv + BN + ReLU, Linear(512, 10))
            "{name: vgg, small: true}; [3, 32, 32]; 10; 14719818",
            "{name: vgg, small: true, batchNorm: true}; [3, 32, 32]; 10; 14728266",
            // 1-channel input: conv1_1 has 9·64 + 64 = 640 instead of 1,792 parameters
            "{name: vgg, small: true}; [1, 28, 28]; 10; 14718666",
            // Szegedy et al. 2015 Table 1 = Caffe bvlc_googlenet without auxiliary heads; arithmetic in InceptionV1
            "inception; [3, 224, 224]; 1000; 6998552",
            "googlenet; [3, 224, 224]; 1000; 6998552",
            // small: 3·9·192 + 192 = 5,376 (stem) + 5,849,136 (modules 3a-5b) + 1024·10 + 10 = 5,864,762
            "{name: inception, small: true}; [3, 32, 32]; 10; 5864762"})
    void parameterCountsEqualThePublishedArchitectures(String model, String shape, int classes, long expected) {
        DeepshardConfig c = ConfigLoader.parse("model: %s\ndata: {train: fashion-mnist:train, inputShape: %s, numClasses: %d}\n"
                .formatted(model, shape, classes), "zoo", List.of());
        var conf = NetworkFactory.configuration(c.model(), c.data(), c.training());
        // counting needs the parameter shapes, not random values: a zero vector saves drawing VGG's 138M (seconds each)
        long all = conf.getVertices().values().stream().mapToLong(v -> v.numParams(true)).sum();
        ComputationGraph net = new ComputationGraph(conf);
        net.init(Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 1, all), false);
        assertThat(ModelSummary.trainableParameters(net)).isEqualTo(expected);
        net.close(); // VGG at 224 px holds 0.55 GB off-heap: free it now rather than when the GC gets to it
    }

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource(delimiter = ';', value = {
            "{name: vgg, small: true}; [3, 32, 32]",
            "{name: vgg, small: true}; [1, 28, 28]",
            "{name: vgg, small: true, batchNorm: true}; [3, 32, 32]",
            "{name: inception, small: true}; [3, 32, 32]",
            "{name: inception, small: true}; [1, 28, 28]",
            "{name: resnet, depth: 20}; [3, 32, 32]",
            "{name: resnet, depth: 20}; [1, 28, 28]",
            "{name: vgg, depth: 11}; [3, 32, 32]",     // the full-size layouts, on the smallest inputs they take
            "inception; [3, 64, 64]"})
    void smallInputsGiveClassProbabilitiesAndTheConfigSurvivesJson(String model, String shape) {
        ComputationGraph net = build(model, shape, 10);
        int[] s = java.util.Arrays.stream(shape.replaceAll("[\\[\\] ]", "").split(",")).mapToInt(Integer::parseInt).toArray();
        var x = Nd4j.rand(new long[] {2, (long) s[0] * s[1] * s[2]});
        var out = net.output(false, x)[0];
        assertThat(out.shape()).containsExactly(2, 10);
        assertThat(out.sum(1).toDoubleVector()).containsExactly(new double[] {1, 1}, org.assertj.core.data.Offset.offset(1e-4));
        // executors rebuild the network from the configuration's JSON (NetworkPool): same layers, same outputs
        var copy = new ComputationGraph(ComputationGraphConfiguration.fromJson(net.getConfiguration().toJson()));
        copy.init(net.params().dup(), false);
        assertThat(copy.output(false, x)[0].equalsWithEps(out, 1e-5)).isTrue();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {"{name: resnet, depth: 110}", "{name: vgg, depth: 13, batchNorm: true, dropout: 0.3}",
            "{name: vgg, small: true}", "{name: googlenet, dropout: 0}", "{name: inception, small: true}"})
    void theResolvedConfigReadsBackAsTheSameModel(String model) {
        ZooModel m = build(model);
        var errors = new io.deepshard.core.config.ConfigErrors("t");
        var root = new io.deepshard.core.config.Section("", ModelZoo.MAPPER.createObjectNode()
                .set("model", ModelZoo.MAPPER.valueToTree(m.describe())), errors);
        assertThat(ModelZoo.fromConfig(root, "model")).isEqualTo(m);
        assertThat(errors.problems()).isEmpty();
    }

    static ZooModel build(String model) {
        return ConfigLoader.parse("model: " + model + "\ndata: {train: fashion-mnist:train, inputShape: [3, 32, 32], numClasses: 10}\n",
                "zoo", List.of()).model();
    }

    @Test
    void smallResNetTrainsOn32PixelsAndGivesClassProbabilities() {
        ComputationGraph net = build("{name: resnet, depth: 18, small: true}", "[3, 32, 32]", 10);
        var x = Nd4j.rand(new long[] {2, 3 * 32 * 32});
        var out = net.output(false, x)[0];
        assertThat(out.shape()).containsExactly(2, 10);
        assertThat(out.sumNumber().doubleValue()).isCloseTo(2.0, org.assertj.core.data.Offset.offset(1e-4));
        // BN running statistics are in the parameter vector (so averaging covers them) but not counted as trainable
        assertThat(net.numParams()).isGreaterThan(ModelSummary.trainableParameters(net));
    }

    @Test
    void optionAShortcutsSubsampleAndAppendZeroChannels() {
        ComputationGraph net = build("{name: resnet, depth: 20}", "[3, 32, 32]", 10);
        var acts = net.feedForward(Nd4j.rand(new long[] {2, 3 * 32 * 32}), false);
        var in = acts.get("s1b3");   // [2, 16, 32, 32]
        var pad = acts.get("s2b1_pad"); // [2, 32, 16, 16]
        assertThat(pad.shape()).containsExactly(2, 32, 16, 16);
        var every2nd = in.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(0, 2, 32), NDArrayIndex.interval(0, 2, 32));
        assertThat(pad.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 16)).equalsWithEps(every2nd, 0)).isTrue();
        assertThat(pad.get(NDArrayIndex.all(), NDArrayIndex.interval(16, 32)).amaxNumber().doubleValue()).isZero();
        assertThat(acts.get("s3b1_pad").shape()).containsExactly(2, 64, 8, 8);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {"{name: vgg, small: true, batchNorm: true}", "{name: inception, small: true}", "{name: resnet, depth: 20}"})
    void oneTrainingStepOnSmallInputsChangesTheParameters(String model) {
        ComputationGraph net = build(model, "[3, 32, 32]", 10);
        var before = net.params().dup();
        var labels = Nd4j.zeros(4, 10);
        for (int i = 0; i < 4; i++) labels.putScalar(i, i, 1);
        net.fit(new org.nd4j.linalg.dataset.DataSet(Nd4j.rand(new long[] {4, 3 * 32 * 32}), labels));
        assertThat(Double.isFinite(net.score())).isTrue();
        assertThat(net.params().equalsWithEps(before, 1e-9)).isFalse();
    }

    @Test
    void badResNetOptionsAreConfigErrors() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> build("{name: resnet, depth: 21, smal: true}", "[3, 32, 32]", 10));
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "model.depth: must be an integer one of 18, 34, 50 (ImageNet) or 20, 32, 44, 56, 110 (CIFAR, 28–32 px inputs), found 21",
                "model.smal: unknown key (did you mean 'small'?) (known here: name, depth, small)");
        e = catchThrowableOfType(ConfigException.class, () -> build("{name: resnet, depth: 20, small: false}", "[3, 32, 32]", 10));
        assertThat(e.problems()).containsExactly(
                "model.small: must be true for depth 20 (the CIFAR ResNets of section 4.2 are for 28–32 px inputs), found false");
    }

    @Test
    void badVggAndInceptionOptionsAreConfigErrors() {
        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> build("{name: vgg, depth: 15, batchnorm: true, dropout: 1.5}", "[3, 32, 32]", 10));
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "model.depth: must be an integer one of 11, 13, 16, 19, found 15",
                "model.dropout: must be a number in [0, 1): the probability of dropping a unit, found 1.5",
                "model.batchnorm: unknown key (did you mean 'batchNorm'?) (known here: name, depth, small, batchNorm, dropout)");
        e = catchThrowableOfType(ConfigException.class, () -> build("{name: vgg, depth: 11}", "[1, 28, 28]", 10));
        assertThat(e.problems()).containsExactly(
                "data.inputShape: vgg pools five times and needs inputs of at least 32×32 px, found 28×28 (model.small: true is the variant for small inputs)");
        e = catchThrowableOfType(ConfigException.class, () -> build("{name: googlenet, small: 3, aux: true}", "[3, 32, 32]", 10));
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "model.small: must be true or false, found 3",
                "model.aux: unknown key (known here: name, small, dropout)");
    }
}
