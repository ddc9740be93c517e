package io.deepshard.core.zoo;

import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

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
            "{name: resnet, depth: 50}; [3, 224, 224]; 1000; 25557032"})
    void parameterCountsEqualThePublishedArchitectures(String model, String shape, int classes, long expected) {
        ComputationGraph net = build(model, shape, classes);
        assertThat(ModelSummary.trainableParameters(net)).isEqualTo(expected);
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
    void badResNetOptionsAreConfigErrors() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> build("{name: resnet, depth: 20, smal: true}", "[3, 32, 32]", 10));
        assertThat(e.problems()).containsExactlyInAnyOrder("model.depth: must be an integer one of 18, 34, 50, found 20",
                "model.smal: unknown key (did you mean 'small'?) (known here: name, depth, small)");
    }
}
