package io.deepshard.core.train;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Heavy-ball momentum, checked against a hand computation from DL4J's raw gradients. */
class MomentumTest {

    /** The mean gradient over the mini-batch (computeGradientAndScore sums; DL4J's updater divides by the batch size). */
    static INDArray gradientAt(ComputationGraph net, DataSet batch) {
        ComputationGraph probe = net.clone();
        probe.setInputs(batch.getFeatures());
        probe.setLabels(batch.getLabels());
        probe.computeGradientAndScore();
        return probe.gradient().gradient().div(batch.numExamples());
    }

    @Test
    void stepsAreVEqualsMomentumVPlusGradientThenMinusLrV() {
        DeepshardConfig c = ConfigLoader.parse("""
                model: {name: mlp, hidden: [8]}
                data: {train: fashion-mnist:train, inputShape: [1, 4, 5], numClasses: 3}
                training: {seed: 3, optimizer: {type: momentum, learningRate: 0.05, momentum: 0.9}}
                """, "t", List.of());
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        // the network as executors get it: through DL4J's JSON
        assertThat(ComputationGraphConfiguration.fromJson(net.getConfiguration().toJson())).isEqualTo(net.getConfiguration());
        Random r = new Random(6);
        DataSet b1 = NetworkStateTest.batch(r), b2 = NetworkStateTest.batch(r);
        INDArray w0 = net.params().dup();
        INDArray g1 = gradientAt(net, b1);
        net.fit(b1);
        INDArray w1 = net.params().dup();
        assertThat(w1.sub(w0.sub(g1.mul(0.05))).amaxNumber().doubleValue()).isLessThan(1e-6);
        INDArray g2 = gradientAt(net, b2);
        net.fit(b2);
        INDArray expected = w1.sub(g1.mul(0.9).add(g2).mul(0.05));
        assertThat(net.params().sub(expected).amaxNumber().doubleValue()).isLessThan(1e-6);
        // the velocity is the updater state
        assertThat(NetworkState.of(net).updaterState()).hasSize((int) net.numParams());
    }
}
