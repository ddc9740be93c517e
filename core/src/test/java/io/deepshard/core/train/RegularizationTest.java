package io.deepshard.core.train;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Gradient clipping bounds every step; dropout acts in training and is off at inference. */
class RegularizationTest {

    static ComputationGraph net(String model, String training) {
        DeepshardConfig c = ConfigLoader.parse("""
                model: %s
                data: {train: fashion-mnist:train, inputShape: [1, 4, 5], numClasses: 3}
                training: %s
                """.formatted(model, training), "t", List.of());
        return NetworkFactory.create(c.model(), c.data(), c.training());
    }

    static DataSet hardBatch() {
        // large inputs -> large gradients, so that clipping has something to clip
        Random r = new Random(2);
        float[] x = new float[8 * 20];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * 20);
        float[] y = new float[8 * 3];
        for (int i = 0; i < 8; i++) y[i * 3 + r.nextInt(3)] = 1;
        return new DataSet(Nd4j.create(x, new long[] {8, 20}), Nd4j.create(y, new long[] {8, 3}));
    }

    static INDArray step(ComputationGraph n) {
        INDArray before = n.params().dup();
        n.fit(hardBatch());
        return n.params().sub(before);
    }

    @Test
    void clippingByValueBoundsEveryElementOfTheStep() {
        String sgd = "{seed: 1, optimizer: {type: sgd, learningRate: 1.0}%s}";
        INDArray free = step(net("{name: mlp, hidden: [16]}", sgd.formatted("")));
        assertThat(free.amaxNumber().doubleValue()).isGreaterThan(0.01); // unclipped steps are large
        INDArray clipped = step(net("{name: mlp, hidden: [16]}", sgd.formatted(", gradientClipping: {by: value, threshold: 0.001}")));
        assertThat(clipped.amaxNumber().doubleValue()).isLessThanOrEqualTo(0.001 + 1e-7);
        assertThat(clipped.amaxNumber().doubleValue()).isGreaterThan(0.0009); // clipped, not zeroed
    }

    @Test
    void clippingByNormBoundsEachLayersStep() {
        ComputationGraph n = net("{name: mlp, hidden: [16]}",
                "{seed: 1, optimizer: {type: sgd, learningRate: 1.0}, gradientClipping: {by: norm, threshold: 0.01}}");
        INDArray w0 = n.getLayer("dense1").params().dup(), o0 = n.getLayer("output").params().dup();
        n.fit(hardBatch());
        assertThat(n.getLayer("dense1").params().sub(w0).norm2Number().doubleValue()).isLessThanOrEqualTo(0.01 + 1e-6);
        assertThat(n.getLayer("output").params().sub(o0).norm2Number().doubleValue()).isLessThanOrEqualTo(0.01 + 1e-6);
    }

    @Test
    void dropoutActsInTrainingAndIsOffAtInference() {
        // (DL4J's output(train=true) trips over its inference workspace with dropout; feedForward(train) is the same pass)
        ComputationGraph n = net("{name: mlp, hidden: [32, 32], dropout: 0.5}", "{seed: 1}");
        INDArray x = hardBatch().getFeatures();
        INDArray inference = n.output(false, x)[0];
        assertThat(n.output(false, x)[0]).isEqualTo(inference);                         // deterministic at inference
        assertThat(n.feedForward(x, true).get("output")).isNotEqualTo(inference);        // units dropped in training
        assertThat(n.feedForward(x, false).get("output")).isEqualTo(inference);
        n.fit(hardBatch());                                                             // and training runs with it
        ComputationGraph none = net("{name: mlp, hidden: [32, 32]}", "{seed: 1}");
        assertThat(none.feedForward(x, true).get("output")).isEqualTo(none.output(false, x)[0]);
        DeepshardConfig lc = ConfigLoader.parse("""
                model: {name: lenet5, dropout: 0.5}
                data: {train: fashion-mnist:train, inputShape: [1, 28, 28], numClasses: 10}
                """, "t", List.of());
        ComputationGraph lenet = NetworkFactory.create(lc.model(), lc.data(), lc.training());
        var img = Nd4j.rand(new long[] {2, 784});
        assertThat(lenet.feedForward(img, true).get("output")).isNotEqualTo(lenet.output(false, img)[0]);
    }
}
