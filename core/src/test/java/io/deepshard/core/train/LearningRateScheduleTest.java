package io.deepshard.core.train;

import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

class LearningRateScheduleTest {

    static DeepshardConfig config(String schedule, String optimizer, int epochs) {
        return ConfigLoader.parse("""
                model: {name: mlp, hidden: [8]}
                data: {train: fashion-mnist:train, inputShape: [1, 4, 5], numClasses: 3}
                training: {epochs: %d, seed: 1, optimizer: {type: %s, learningRate: 0.1}, schedule: %s}
                """.formatted(epochs, optimizer, schedule), "t", List.of());
    }

    @Test
    void eachScheduleGivesTheRatesItSpecifies() {
        var step = new LearningRateSchedule("step", 0.1, 0, 2, 0.5, 0, 10, 4);          // x0.5 every 2 epochs, 4 steps/epoch
        assertThat(step.valueAt(0, 0)).isEqualTo(0.1);
        assertThat(step.valueAt(7, 1)).isEqualTo(0.1);
        assertThat(step.valueAt(8, 2)).isEqualTo(0.05);
        assertThat(step.valueAt(16, 4)).isEqualTo(0.025);
        var exp = new LearningRateSchedule("exponential", 0.1, 0, 1, 0.9, 0, 10, 4);
        assertThat(exp.valueAt(4, 1)).isCloseTo(0.09, within(1e-12));
        assertThat(exp.valueAt(2, 0)).isCloseTo(0.1 * Math.pow(0.9, 0.5), within(1e-12)); // per iteration, not per epoch
        var cos = new LearningRateSchedule("cosine", 0.1, 0, 1, 0.1, 0.001, 4, 10);
        assertThat(cos.valueAt(0, 0)).isCloseTo(0.1, within(1e-12));
        assertThat(cos.valueAt(20, 2)).isCloseTo(0.001 + 0.099 * 0.5, within(1e-12));
        assertThat(cos.valueAt(40, 4)).isCloseTo(0.001, within(1e-12));
        var warm = new LearningRateSchedule("constant", 0.4, 2, 1, 0.1, 0, 10, 5);      // 2 warm-up epochs of 5 steps
        assertThat(warm.valueAt(0, 0)).isCloseTo(0.04, within(1e-12));
        assertThat(warm.valueAt(9, 1)).isCloseTo(0.4, within(1e-12));
        assertThat(warm.valueAt(30, 6)).isEqualTo(0.4);
    }

    @Test
    void theNetworkAsExecutorsReceiveItCarriesTheSchedule() {
        DeepshardConfig c = config("{type: step, stepEpochs: 1, gamma: 0.5, warmupEpochs: 1}", "adam", 5);
        ComputationGraphConfiguration conf = ComputationGraphConfiguration.fromJson(
                NetworkFactory.configuration(c.model(), c.data(), c.training(), 10).toJson());
        var updater = ((BaseLayer) ((LayerVertex) conf.getVertices().get("dense1")).getLayerConf().getLayer()).getIUpdater();
        double[] expected = {0.01, 0.1, 0.1, 0.05, 0.025}; // iterations 0, 9 (end of warm-up), 10, 20, 30
        int[] at = {0, 9, 10, 20, 30};
        for (int i = 0; i < at.length; i++) assertThat(updater.getLearningRate(at[i], at[i] / 10)).isCloseTo(expected[i], within(1e-12));
        assertThat(c.resolved()).contains("type: step").contains("warmupEpochs: 1.0");
    }

    @Test
    void trainingUsesTheRateOfEachIteration() {
        // SGD, cosine to 0 over 1 epoch of 2 steps: iterations 0 and 1 move the weights, iteration 2 (rate 0) does not
        DeepshardConfig c = config("{type: cosine, minLearningRate: 0}", "sgd", 1);
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training(), 2);
        Random r = new Random(3);
        float[] before = net.params().toFloatVector();
        net.fit(NetworkStateTest.batch(r));
        float[] after1 = net.params().toFloatVector();
        net.fit(NetworkStateTest.batch(r));
        float[] after2 = net.params().toFloatVector();
        net.fit(NetworkStateTest.batch(r));
        float[] after3 = net.params().toFloatVector();
        assertThat(after1).isNotEqualTo(before);
        assertThat(after2).isNotEqualTo(after1);
        assertThat(after3).isEqualTo(after2);
    }

    @Test
    void adamwIsAdamWithDecoupledWeightDecay() {
        DeepshardConfig adam = config("{type: constant}", "adam", 1);
        DeepshardConfig adamw = ConfigLoader.parse("""
                model: {name: mlp, hidden: [8]}
                data: {train: fashion-mnist:train, inputShape: [1, 4, 5], numClasses: 3}
                training: {epochs: 1, seed: 1, optimizer: {type: adamw, learningRate: 0.1, weightDecay: 0.05}}
                """, "t", List.of());
        ComputationGraph a = NetworkFactory.create(adam.model(), adam.data(), adam.training());
        ComputationGraph w = NetworkFactory.create(adamw.model(), adamw.data(), adamw.training());
        assertThat(w.params()).isEqualTo(a.params()); // same seed, same start
        var w0 = a.getLayer("dense1").getParam("W").dup();
        var b0 = a.getLayer("dense1").getParam("b").dup();
        var batch = NetworkStateTest.batch(new Random(9));
        a.fit(batch);
        w.fit(batch);
        // W_adamw = W_adam - lr * wd * W_before; biases are not decayed
        var expected = a.getLayer("dense1").getParam("W").sub(w0.mul(0.1 * 0.05));
        assertThat(w.getLayer("dense1").getParam("W").sub(expected).amaxNumber().doubleValue()).isLessThan(1e-6);
        assertThat(w.getLayer("dense1").getParam("b")).isEqualTo(a.getLayer("dense1").getParam("b"));
        assertThat(b0).isNotEqualTo(a.getLayer("dense1").getParam("b"));
        assertThat(adamw.resolved()).contains("weightDecay: 0.05");
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("""
                model: mlp
                data: {train: fashion-mnist:train, inputShape: [1, 4, 5], numClasses: 3}
                training: {optimizer: {type: sgd, weightDecay: 0.1}}
                """, "t", List.of()));
        assertThat(e.problems()).containsExactly(
                "training.optimizer.weightDecay: applies to adamw only (use training.l2 for coupled L2), found 0.1");
    }

    @Test
    void scheduleConfigErrors() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> config("{type: cosin, gamma: 2, warmupEpoch: 1}", "sgd", 3));
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "training.schedule.type: must be one of constant, step, exponential, cosine, found 'cosin' (did you mean 'cosine'?)",
                "training.schedule.gamma: must be a number in (0, 1], found 2",
                "training.schedule.warmupEpoch: unknown key (did you mean 'warmupEpochs'?) (known here: type, warmupEpochs, stepEpochs, gamma, minLearningRate)");
    }
}
