package io.deepshard.core.train;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.zoo.NetworkFactory;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class NetworkStateTest {

    public static DataSet batch(Random r) {
        float[] x = new float[8 * 20];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        float[] y = new float[8 * 3];
        for (int i = 0; i < 8; i++) y[i * 3 + r.nextInt(3)] = 1;
        return new DataSet(Nd4j.create(x, new long[] {8, 20}), Nd4j.create(y, new long[] {8, 3}));
    }

    /** A state moved into another network (other seed, fresh updater) continues training exactly as the original. */
    @ParameterizedTest
    @ValueSource(strings = {"nesterov", "momentum", "adam", "adamw", "rmsprop", "adagrad", "sgd"})
    void stateCarriesParametersUpdaterStateAndCounters(String optimizer) {
        DeepshardConfig a = config(optimizer, 1), b = config(optimizer, 2);
        ComputationGraph original = NetworkFactory.create(a.model(), a.data(), a.training());
        ComputationGraph other = NetworkFactory.create(b.model(), b.data(), b.training());
        Random r = new Random(4);
        for (int i = 0; i < 3; i++) original.fit(batch(r));
        NetworkState s = NetworkState.of(original);
        assertThat(s.iteration()).isEqualTo(3);
        if (!optimizer.equals("sgd")) assertThat(s.updaterState()).isNotEmpty().matches(u -> maxAbs(u) > 0);

        s.loadInto(other);
        assertThat(NetworkState.of(other).params()).isEqualTo(s.params());
        assertThat(NetworkState.of(other).updaterState()).isEqualTo(s.updaterState());
        DataSet next = batch(r);
        original.fit(next);
        other.fit(next);
        assertThat(NetworkState.of(other).params()).isEqualTo(NetworkState.of(original).params());
        assertThat(NetworkState.of(other).updaterState()).isEqualTo(NetworkState.of(original).updaterState());
        assertThat(NetworkState.of(other).iteration()).isEqualTo(4);
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) m = Math.max(m, Math.abs(v));
        return m;
    }

    static DeepshardConfig config(String optimizer, long seed) {
        return ConfigLoader.parse("""
                model: {name: mlp, hidden: [16]}
                data: {train: fashion-mnist:train, inputShape: [1, 4, 5], numClasses: 3}
                training: {seed: %d, optimizer: {type: %s, learningRate: 0.05}}
                """.formatted(seed, optimizer), "t", List.of());
    }
}
