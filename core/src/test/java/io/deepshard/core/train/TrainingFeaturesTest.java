package io.deepshard.core.train;

import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.zoo.ModelSummary;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

/** Activations, losses, weight initialization, L1 and batch-norm options, read back from the built network. */
class TrainingFeaturesTest {

    static DeepshardConfig config(String model, String shape, String training) {
        return ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: %s, numClasses: 3}
                training: %s
                """.formatted(model, shape, training), "t", List.of());
    }

    static ComputationGraph net(String model, String training) {
        DeepshardConfig c = config(model, "[1, 4, 5]", training);
        return NetworkFactory.create(c.model(), c.data(), c.training());
    }

    @ParameterizedTest(name = "{0}: f(-2) = {1}, f(3) = {2}")
    @CsvSource(delimiter = ';', value = {
            "relu; 0; 3",
            "{type: leakyrelu, alpha: 0.2}; -0.4; 3",
            "leakyrelu; -0.02; 3",                         // default slope 0.01
            "{type: elu, alpha: 0.5}; -0.432332358; 3",    // 0.5 (e^-2 - 1)
            "tanh; -0.96402758; 0.99505475",
            "sigmoid; 0.11920292; 0.95257413"})
    void hiddenActivationsComputeTheirFunction(String activation, double atMinus2, double at3) {
        // one hidden unit fed by one input with weight 1 and bias 0: its activation is f(x)
        ComputationGraph n = net("{name: mlp, hidden: [1], activation: " + activation + "}", "{seed: 1}");
        n.getLayer("dense1").setParam("W", Nd4j.ones(20, 1).muli(0).putScalar(0, 1.0));
        n.getLayer("dense1").setParam("b", Nd4j.zeros(1, 1));
        INDArray x = Nd4j.zeros(2, 20);
        x.putScalar(0, 0, -2);
        x.putScalar(1, 0, 3);
        INDArray h = n.feedForward(x, false).get("dense1");
        assertThat(h.getDouble(0, 0)).isCloseTo(atMinus2, within(1e-6));
        assertThat(h.getDouble(1, 0)).isCloseTo(at3, within(1e-6));
    }

    @ParameterizedTest(name = "loss {0} with {1} outputs")
    @CsvSource({"cross-entropy, softmax, LossMCXENT, ActivationSoftmax", "binary-cross-entropy, sigmoid, LossBinaryXENT, ActivationSigmoid",
            "mse, softmax, LossMSE, ActivationSoftmax", "mae, identity, LossMAE, ActivationIdentity", "mse, sigmoid, LossMSE, ActivationSigmoid"})
    void lossAndOutputActivationReachTheOutputLayerAndTrain(String loss, String act, String lossClass, String actClass) {
        DeepshardConfig c = config("{name: mlp, hidden: [8]}", "[1, 4, 5]",
                "{seed: 1, loss: " + loss + ", outputActivation: " + act + ", optimizer: {type: adam, learningRate: 0.01}}");
        var conf = org.deeplearning4j.nn.conf.ComputationGraphConfiguration.fromJson( // as executors receive it
                NetworkFactory.configuration(c.model(), c.data(), c.training()).toJson());
        var out = (BaseOutputLayer) ((LayerVertex) conf.getVertices().get("output")).getLayerConf().getLayer();
        assertThat(out.getLossFn().getClass().getSimpleName()).isEqualTo(lossClass);
        assertThat(out.getActivationFn().getClass().getSimpleName()).isEqualTo(actClass);
        ComputationGraph n = new ComputationGraph(conf);
        n.init();
        var batch = NetworkStateTest.batch(new Random(4));
        n.fit(batch);
        double first = n.score(batch);
        for (int i = 0; i < 30; i++) n.fit(batch);
        assertThat(n.score(batch)).isLessThan(first);                       // the loss is minimized
    }

    @Test
    void lossDefaultsFollowTheLossAndMismatchesAreConfigErrors() {
        assertThat(config("mlp", "[1, 4, 5]", "{loss: binary-cross-entropy}").training().outputActivation()).isEqualTo("sigmoid");
        assertThat(config("mlp", "[1, 4, 5]", "{loss: mse}").training().outputActivation()).isEqualTo("softmax");
        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> config("mlp", "[1, 4, 5]", "{loss: cross-entropy, outputActivation: sigmoid, weightInit: glorot}"));
        assertThat(e.problems()).hasSize(2);
        assertThat(e.problems().get(0)).startsWith("training.outputActivation: must be softmax with loss cross-entropy (found 'sigmoid')");
        assertThat(e.problems().get(1)).startsWith("training.weightInit: must be one of model, xavier");
    }

    static double std(INDArray w) { return w.stdNumber().doubleValue(); }

    @Test
    void weightInitDrawsFromTheConfiguredDistribution() {
        // dense1 of mlp [1, 4, 5] -> 400 -> ... : fanIn 20, fanOut 400, 8,000 weights
        String model = "{name: mlp, hidden: [400, 300]}";
        assertThat(std(net(model, "{weightInit: {type: normal, std: 0.01}}").getLayer("dense1").getParam("W"))).isCloseTo(0.01, within(0.0005));
        INDArray u = net(model, "{weightInit: {type: uniform, range: 0.05}}").getLayer("dense1").getParam("W");
        assertThat(u.amaxNumber().doubleValue()).isLessThanOrEqualTo(0.05).isGreaterThan(0.049);
        assertThat(std(u)).isCloseTo(0.05 / Math.sqrt(3), within(0.001));
        assertThat(std(net(model, "{weightInit: he}").getLayer("dense2").getParam("W"))).isCloseTo(Math.sqrt(2.0 / 400), within(0.002));
        assertThat(std(net(model, "{weightInit: xavier}").getLayer("dense2").getParam("W"))).isCloseTo(Math.sqrt(2.0 / 700), within(0.002));
        assertThat(std(net(model, "{weightInit: lecun}").getLayer("dense2").getParam("W"))).isCloseTo(Math.sqrt(1.0 / 400), within(0.002));
        // the model's own choice (He for ReLU) by default; biases stay zero either way
        assertThat(std(net(model, "{}").getLayer("dense2").getParam("W"))).isCloseTo(Math.sqrt(2.0 / 400), within(0.002));
        assertThat(net(model, "{weightInit: {type: normal, std: 0.5}}").getLayer("dense2").getParam("b").amaxNumber().doubleValue()).isZero();
    }

    @Test
    void l1PullsWeightsTowardZeroBySignTimesRate() {
        // SGD lr 1, l1 0.01, zero gradient (all-zero inputs into dense1): each nonzero weight moves by -0.01 * sign(w)
        ComputationGraph n = net("{name: mlp, hidden: [4]}", "{seed: 1, l1: 0.01, optimizer: {type: sgd, learningRate: 1.0}}");
        INDArray w0 = n.getLayer("dense1").getParam("W").dup();
        var y = Nd4j.zeros(2, 3);
        y.putScalar(0, 0, 1);
        y.putScalar(1, 1, 1);
        n.fit(new org.nd4j.linalg.dataset.DataSet(Nd4j.zeros(2, 20), y));
        INDArray step = n.getLayer("dense1").getParam("W").sub(w0);
        INDArray expected = org.nd4j.linalg.ops.transforms.Transforms.sign(w0).muli(-0.01);
        assertThat(step.sub(expected).amaxNumber().doubleValue()).isLessThan(1e-6);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
            // 3 classes: 431,080 - 5,010 + 1,503 (output 500x3+3) - 570 biases + 2 x (20 + 50 + 500) gammas and betas
            "{name: lenet5, batchNorm: true}; [1, 28, 28]; 428143",
            // 235,146 - 1,290 + 387 (output 128x3+3) - 384 biases + 2 x (256 + 128)
            "{name: mlp, batchNorm: true}; [1, 28, 28]; 234627"})
    void batchNormOptionAddsGammaAndBetaInPlaceOfBiases(String model, String shape, long trainable) {
        DeepshardConfig c = config(model, shape, "{seed: 1}");
        ComputationGraph n = NetworkFactory.create(c.model(), c.data(), c.training());
        assertThat(ModelSummary.trainableParameters(n)).isEqualTo(trainable);
        assertThat(n.getVertex("fc1_bn") != null || n.getVertex("dense1_bn") != null).isTrue();
        // running statistics sit in the parameter vector (so averaging covers them) beyond the trainable ones
        assertThat(n.numParams()).isGreaterThan(trainable);
        var out = n.output(false, Nd4j.rand(new long[] {3, c.data().exampleSize()}))[0];
        for (double rowSum : out.sum(1).toDoubleVector()) assertThat(rowSum).isCloseTo(1.0, within(1e-5));
    }

    @ParameterizedTest
    @ValueSource(strings = {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"})
    void everyOptimizerFollowsTheScheduleIterationByIteration(String optimizer) {
        // one linear warm-up epoch of 2 steps, then x0.5 per epoch: rates 0.05, 0.1 | 0.1, 0.1 | 0.05, 0.05
        String extra = optimizer.equals("adamw") ? ", weightDecay: 0.01" : "";
        DeepshardConfig c = config("{name: mlp, hidden: [4]}", "[1, 4, 5]", "{seed: 1, epochs: 3, optimizer: {type: " + optimizer
                + ", learningRate: 0.1" + extra + "}, schedule: {type: step, stepEpochs: 1, gamma: 0.5, warmupEpochs: 1}}");
        ComputationGraph n = NetworkFactory.create(c.model(), c.data(), c.training(), 2);
        double[] expected = {0.05, 0.1, 0.1, 0.1, 0.05, 0.05};
        Random r = new Random(5);
        for (int it = 0; it < expected.length; it++) {
            if (it > 0 && it % 2 == 0) n.getConfiguration().setEpochCount(it / 2);
            assertThat(n.getLearningRate("dense1")).as("rate at iteration %d", it).isCloseTo(expected[it], within(1e-9));
            n.fit(NetworkStateTest.batch(r));
        }
    }
}
