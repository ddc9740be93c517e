package io.deepshard.jobs;

import io.deepshard.core.data.SyntheticImages;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code generate-data <out> [--layout ...]}: writes seeded synthetic colour images (shapes on textured backgrounds)
 * or segmentation pairs as real JPEG/PNG files in a public layout, on any Hadoop file system (no Spark).
 */
@Command(name = "generate-data", mixinStandardHelpOptions = true,
        description = "Write seeded synthetic image data (classification or segmentation) as JPEG/PNG folders.")
public final class GenerateDataJob implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "OUT", description = "Output folder (any Hadoop URI or local path).")
    String out;

    @Option(names = "--layout", defaultValue = "split",
            description = "imagenet (train/ + val/, n9000000k/*.JPEG), caltech (00k.name/*.jpg, one tree), "
                    + "split (train/ + test/, name/*.png), segmentation (images/ + masks/). Default: ${DEFAULT-VALUE}")
    String layout;

    @Option(names = "--classes", defaultValue = "6", description = "2..12 (shapes; above 6: shape x colour family). Default: ${DEFAULT-VALUE}")
    int classes;

    @Option(names = "--size", defaultValue = "32", description = "Image height and width in pixels. Default: ${DEFAULT-VALUE}")
    int size;

    @Option(names = "--train-per-class", defaultValue = "100", description = "Default: ${DEFAULT-VALUE}")
    int trainPerClass;

    @Option(names = "--test-per-class", defaultValue = "20", description = "Default: ${DEFAULT-VALUE}")
    int testPerClass;

    @Option(names = "--seed", defaultValue = "42", description = "Default: ${DEFAULT-VALUE}")
    long seed;

    public static void main(String[] args) { Cli.exit(Cli.run(new GenerateDataJob(), args)); }

    @Override public Integer call() {
        if (!SyntheticImages.LAYOUTS.contains(layout)) {
            System.err.println("error: --layout must be one of " + String.join(", ", SyntheticImages.LAYOUTS) + ", found " + layout);
            return 2;
        }
        var spec = new SyntheticImages.Spec(classes, size, size, seed);
        long t0 = System.nanoTime();
        SyntheticImages.Written w = SyntheticImages.write(new Configuration(), out, layout, spec, trainPerClass, testPerClass);
        System.out.printf(Locale.ROOT, "wrote %d training and %d test images (%s layout, %d classes %s, %dx%d, seed %d) to %s in %.1f s%n",
                w.trainImages(), w.testImages(), layout, w.classNames().size(), w.classNames(), size, size, seed, w.root(),
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
