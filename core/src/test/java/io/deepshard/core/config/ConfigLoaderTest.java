package io.deepshard.core.config;

import io.deepshard.core.zoo.LeNet5;
import io.deepshard.core.zoo.Mlp;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class ConfigLoaderTest {
    static final String VALID = """
            model: lenet5
            data:
              train: fashion-mnist:train
              test: fashion-mnist:test
              inputShape: [1, 28, 28]
              numClasses: 10
            training:
              epochs: 2
              batchSize: 32
              averagingFrequency: 4
              workers: 2
              seed: 7
              optimizer: {type: adam, learningRate: 0.001}
            output: runs/x
            """;

    @Test
    void validConfigWithDefaultsFilledIn() {
        DeepshardConfig c = ConfigLoader.parse(VALID, "t.yaml", List.of());
        assertThat(c.model()).isEqualTo(LeNet5.modern());
        assertThat(c.data().inputShape()).containsExactly(1, 28, 28);
        assertThat(c.data().train().builtIn()).isEqualTo("fashion-mnist:train");
        assertThat(c.data().normalization()).isEqualTo("standardize");
        assertThat(c.training().strategy()).isEqualTo("averaging");
        assertThat(c.training().optimizer().type()).isEqualTo("adam");
        assertThat(c.training().optimizer().beta2()).isEqualTo(0.999);
        // the saved config states every choice, including defaults
        assertThat(c.resolved()).contains("strategy: averaging").contains("normalization: standardize")
                .contains("beta2: 0.999").contains("variant: modern").contains("engine: auto");
        // and it parses back to the same config
        DeepshardConfig again = ConfigLoader.parse(c.resolved(), "resolved", List.of());
        assertThat(again.training()).isEqualTo(c.training());
        assertThat(again.data()).isEqualTo(c.data());
        assertThat(again.model()).isEqualTo(c.model());
    }

    @Test
    void everyProblemIsReportedAtOnceWithKeyPathAndValue() {
        String bad = """
                model: {name: lenet5, varient: classic}
                data:
                  train: fashion-mnist:trian
                  inputShape: [1, 28]
                  numClasses: one
                training:
                  epoch: 3
                  batchSize: 0
                  averagingFrequency: -1
                  strategy: horovod
                  optimizer: {type: adamx, learningRate: -0.1}
                outptu: runs/x
                """;
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse(bad, "bad.yaml", List.of()));
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "model.varient: unknown key (did you mean 'variant'?) (known here: name, variant, dropout, activation, batchNorm)",
                "data.train: unknown built-in dataset 'fashion-mnist:trian' (known: fashion-mnist:train, fashion-mnist:test, mnist:train, mnist:test, shapes-segmentation:train, shapes-segmentation:test) (did you mean 'fashion-mnist:train'?)",
                "data.inputShape: must be [channels, height, width] of positive integers, found a list [1,28]",
                "data.numClasses: must be an integer >= 2, found 'one'",
                "training.strategy: must be one of averaging, dl4j-paramavg, found 'horovod'",
                "training.batchSize: must be an integer >= 1, found 0",
                "training.averagingFrequency: must be an integer >= 1, found -1",
                "training.optimizer.type: must be one of sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad, found 'adamx' (did you mean 'adam'?)",
                "training.optimizer.learningRate: must be a number in (0, 10], found -0.1",
                "training.epoch: unknown key (did you mean 'epochs'?) (known here: strategy, epochs, batchSize, averagingFrequency, workers, seed, l1, l2, optimizer, schedule, "
                        + "gradientClipping, loss, outputActivation, weightInit, earlyStopping, checkpointEvery, checkpointKeep, resume, engine, shuffle)",
                "outptu: unknown key (did you mean 'output'?) (known here: model, data, training, tracking, output, transfer, tune)");
        assertThat(e.getMessage()).startsWith("bad.yaml: 11 problems\n  - ");
    }

    @Test
    void missingRequiredKeys() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("training: {epochs: 1}", "m.yaml", List.of()));
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "model: is required (one of lenet5, mlp, resnet, vgg, inception, unet, or a mapping with name and options)",
                "data.train: is required (a built-in name such as fashion-mnist:train, or a URI)",
                "data.inputShape: is required ([channels, height, width] of positive integers)",
                "data.numClasses: is required (>= 2)");
    }

    @Test
    void notYamlAndNotAMapping() {
        assertThatThrownBy(() -> ConfigLoader.parse("model: [unclosed", "x.yaml", List.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("x.yaml: 1 problem").hasMessageContaining("not valid YAML");
        assertThatThrownBy(() -> ConfigLoader.parse("- a\n- b", "y.yaml", List.of()))
                .hasMessageContaining("(top level): must be a mapping of keys to values, found a list");
        assertThatThrownBy(() -> ConfigLoader.load(Path.of("/nonexistent/c.yaml"), List.of()))
                .hasMessageContaining("config file not found");
    }

    @Test
    void overridesAreAppliedBeforeValidation() {
        DeepshardConfig c = ConfigLoader.parse(VALID, "t.yaml", List.of(
                "training.epochs=5", "data.inputShape=[1,32,32]", "model.variant=classic",
                "training.optimizer={type: nesterov, learningRate: 0.05}", "data.test=mnist:test", "output=runs/{model}"));
        assertThat(c.training().epochs()).isEqualTo(5);
        assertThat(c.data().inputShape()).containsExactly(1, 32, 32);
        assertThat(c.model()).isEqualTo(new LeNet5("classic"));
        assertThat(c.training().optimizer().type()).isEqualTo("nesterov");
        assertThat(c.training().optimizer().learningRate()).isEqualTo(0.05);
        assertThat(c.data().test().builtIn()).isEqualTo("mnist:test");
        assertThat(c.training().engine()).isEqualTo("auto");
        assertThat(ConfigLoader.parse(VALID, "t.yaml", List.of("training.engine=dl4j")).training().engine()).isEqualTo("dl4j");
        assertThat(catchThrowableOfType(ConfigException.class,
                () -> ConfigLoader.parse(VALID, "t.yaml", List.of("training.engine=mkldnn"))).problems())
                .containsExactly("training.engine: must be one of auto, dl4j, onednn, found 'mkldnn'");
        assertThat(c.training().shuffle()).isEqualTo("global");
        assertThat(ConfigLoader.parse(VALID, "t.yaml", List.of("training.shuffle=local")).training().shuffle()).isEqualTo("local");
        assertThat(catchThrowableOfType(ConfigException.class,
                () -> ConfigLoader.parse(VALID, "t.yaml", List.of("training.shuffle=locl"))).problems())
                .containsExactly("training.shuffle: must be one of global, local, found 'locl' (did you mean 'local'?)");

        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> ConfigLoader.parse(VALID, "t.yaml", List.of("training.epochs=0")));
        assertThat(e.problems()).containsExactly("training.epochs: must be an integer >= 1, found 0");
    }

    @Test
    void mlpOptionsAndIdxUris() {
        DeepshardConfig c = ConfigLoader.parse(VALID, "t.yaml", List.of(
                "model={name: mlp, hidden: [64, 32], activation: tanh}",
                "data.train=hdfs://nn:8020/data/train-images-idx3-ubyte.gz",
                "data.test={images: /d/a.idx, labels: /d/b.idx}"));
        assertThat(c.model()).isEqualTo(new Mlp(new int[] {64, 32}, "tanh", 0.0));
        assertThat(c.data().train().labels()).isEqualTo("hdfs://nn:8020/data/train-labels-idx1-ubyte.gz");
        assertThat(c.data().test().images()).isEqualTo("/d/a.idx");
        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> ConfigLoader.parse(VALID, "t.yaml", List.of("data.format=idx", "data.test=null",
                        "data.train=/data/pictures.bin", "model={name: resnet99}")));
        assertThat(e.problems()).containsExactlyInAnyOrder(
                "data.train: cannot find the labels file for '/data/pictures.bin': name the images file like train-images-idx3-ubyte[.gz], or give {images: ..., labels: ...}",
                "model.name: unknown model 'resnet99' (known: lenet5, mlp, resnet, vgg, inception, unet)");
    }
}
