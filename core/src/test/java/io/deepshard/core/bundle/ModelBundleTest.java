package io.deepshard.core.bundle;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import org.apache.hadoop.conf.Configuration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelBundleTest {
    @TempDir Path dir;

    @Test
    void saveLoadGivesIdenticalPredictionsAndKeepsEverything() throws Exception {
        DeepshardConfig c = ConfigLoader.parse(ConfigLoaderTestConfig.LENET, "t.yaml", List.of());
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        // train one step so that the updater state is not all zeros
        Random r = new Random(5);
        float[] x = new float[4 * 784];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat();
        float[] y = new float[4 * 10];
        for (int i = 0; i < 4; i++) y[i * 10 + i] = 1;
        net.fit(new DataSet(Nd4j.create(x, new long[] {4, 784}), Nd4j.create(y, new long[] {4, 10})));
        Normalizer norm = new Normalizer("standardize", new float[] {0.3f}, new float[] {0.35f});
        var bundle = new ModelBundle(net, norm, List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j"), c.resolved(),
                Map.of("seed", 42, "versions", Map.of("deepshard", "test")));
        Path run = dir.resolve("run");
        bundle.save(new Configuration(), run.toString());

        assertThat(run.resolve("model")).isDirectory();
        try (var files = Files.list(run)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("model"); // no temporaries left
        }
        try (var files = Files.list(run.resolve("model"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(
                    "network.zip", "normalizer.json", "labels.json", "config.yaml", "provenance.json");
        }

        ModelBundle loaded = ModelBundle.load(new Configuration(), run.toString());
        byte[][] images = new byte[6][784];
        for (byte[] im : images) r.nextBytes(im);
        float[][] before = bundle.predict(images), after = loaded.predict(images);
        assertThat(after).isDeepEqualTo(before);
        assertThat(loaded.normalizer()).isEqualTo(norm);
        assertThat(loaded.labels()).containsExactly("a", "b", "c", "d", "e", "f", "g", "h", "i", "j");
        assertThat(loaded.configYaml()).isEqualTo(c.resolved());
        assertThat(loaded.provenance()).containsEntry("seed", 42);
        assertThat(loaded.network().params()).isEqualTo(net.params());
        assertThat(loaded.network().getUpdater().getStateViewArray()).isEqualTo(net.getUpdater().getStateViewArray());

        // saving again replaces the bundle whole
        bundle.save(new Configuration(), run.toString());
        try (var files = Files.list(run)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("model");
        }
    }

    @Test
    void aLoadedModelRunsOnTheEngineItWasTrainedWith() {
        DeepshardConfig c = ConfigLoader.parse(ConfigLoaderTestConfig.LENET, "t.yaml", List.of("training.engine=dl4j"));
        ComputationGraph net = NetworkFactory.create(c.model(), c.data(), c.training());
        Normalizer norm = Normalizer.fixed("scale", 1);
        List<String> labels = List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j");
        new ModelBundle(net, norm, labels, c.resolved(), Map.of()).save(new Configuration(), dir.resolve("dl4j").toString());
        ModelBundle loaded = ModelBundle.load(new Configuration(), dir.resolve("dl4j").toString());
        assertThat(loaded.engine()).isEqualTo("dl4j");
        assertThat(loaded.network().getLayers()).allSatisfy(l -> assertThat(l.getHelper()).isNull());

        DeepshardConfig auto = ConfigLoader.parse(ConfigLoaderTestConfig.LENET, "t.yaml", List.of());
        new ModelBundle(net, norm, labels, auto.resolved(), Map.of()).save(new Configuration(), dir.resolve("auto").toString());
        ModelBundle onednn = ModelBundle.load(new Configuration(), dir.resolve("auto").toString());
        assertThat(onednn.engine()).isEqualTo("auto");
        assertThat(io.deepshard.core.train.OneDnnHelpers.onednnLayers(onednn.network())).isEqualTo(4); // 2 conv + 2 pooling
        // a bundle saved before the setting existed
        assertThat(ModelBundle.engine("model: lenet5\ntraining: {epochs: 1}\n")).isEqualTo("auto");
    }

    @Test
    void loadingNothingSaysWhereItLooked() {
        assertThatThrownBy(() -> ModelBundle.load(new Configuration(), dir.toString()))
                .hasMessageContaining("no model bundle at " + dir)
                .hasMessageContaining("model/network.zip");
    }

    /** A minimal valid config shared by core tests. */
    static final class ConfigLoaderTestConfig {
        static final String LENET = """
                model: lenet5
                data: {train: fashion-mnist:train, inputShape: [1, 28, 28], numClasses: 10}
                training: {seed: 1, optimizer: {type: nesterov, learningRate: 0.01}}
                """;
    }
}
