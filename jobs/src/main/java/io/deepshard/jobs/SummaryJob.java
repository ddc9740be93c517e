package io.deepshard.jobs;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.zoo.NetworkFactory;
import io.deepshard.core.zoo.Summary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code summary <config> [--json]}: every layer's name, type, output shape and trainable parameters, and the total,
 * without Spark or data; the config needs only {@code model} and the input shape / number of classes.
 */
@Command(name = "summary", mixinStandardHelpOptions = true,
        description = "Print a model's layers, output shapes and parameter counts (no Spark, no data).")
public final class SummaryJob implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML config (model, data.inputShape, data.numClasses).")
    java.nio.file.Path configFile;

    @Option(names = "--json", description = "JSON: totalParameters and layers (name, type, outputShape, parameters).")
    boolean json;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key.")
    List<String> overrides = new ArrayList<>();

    public static void main(String[] args) { Cli.exit(Cli.run(new SummaryJob(), args)); }

    @Override public Integer call() throws Exception {
        DeepshardConfig c = ConfigLoader.loadModelOnly(configFile, overrides);
        Summary s = Summary.of(c.model(), NetworkFactory.create(c.model(), c.data(), c.training()), c.data());
        System.out.print(json ? ModelBundle.JSON.writeValueAsString(s.toJson()) + "\n" : s.toText());
        return 0;
    }
}
