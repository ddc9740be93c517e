package io.deepshard.jobs;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.util.Fs;
import io.deepshard.spark.data.ParquetDatasets;
import io.deepshard.spark.data.SparkDatasets;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code prepare <config> --out <uri>}: reads the config's splits once (decode, resize, bad-record policy) and writes
 * them as Parquet of raw CHW bytes ({@code <out>/train}, {@code <out>/test}), which training then reads without
 * decoding anything: preprocess once, train many times.
 */
@Command(name = "prepare", mixinStandardHelpOptions = true,
        description = "Decode and resize a dataset once into Parquet that training reads directly.")
public final class PrepareJob implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML config whose data section is prepared.")
    java.nio.file.Path configFile;

    @Option(names = "--out", required = true, description = "Output folder (any Hadoop URI); must not exist.")
    String out;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key.")
    List<String> overrides = new ArrayList<>();

    public static void main(String[] args) { Cli.exit(Cli.run(new PrepareJob(), args)); }

    @Override public Integer call() {
        DeepshardConfig config = ConfigLoader.load(configFile, overrides);
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> System.out.println("data: " + msg));
        SparkSession spark = Spark.session("deepshard-prepare");
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            long t0 = System.nanoTime();
            // the whole training split: data.validationFraction is applied when training from the prepared data
            SparkDatasets.Splits splits = SparkDatasets.load(sc, config.data().withoutValidation(), Math.max(1, sc.defaultParallelism()),
                    fetcher, config.training().seed());
            String root = Fs.display(Fs.path(out));
            var meta = new LinkedHashMap<String, Object>();
            meta.put("preparedFrom", splits.describe());
            meta.put("badRecords", splits.badRecordsJson());
            ParquetDatasets.write(spark, splits.train(), config.data().inputShape(), out + "/train", meta);
            if (splits.test() != null) ParquetDatasets.write(spark, splits.test(), config.data().inputShape(), out + "/test", meta);
            System.out.printf(Locale.ROOT, "prepared %,d training%s images of %s in %.1f s into %s%n", splits.train().count(),
                    splits.test() == null ? "" : String.format(Locale.ROOT, " and %,d test", splits.test().count()),
                    java.util.Arrays.toString(config.data().inputShape()), (System.nanoTime() - t0) / 1e9, root);
            System.out.println("train from it with: --set data.train=" + root + "/train"
                    + (splits.test() == null ? "" : " --set data.test=" + root + "/test")
                    + (config.data().validationFraction() > 0 ? " (data.validationFraction still holds out its part when training)" : ""));
            return 0;
        } finally {
            spark.stop();
        }
    }
}
