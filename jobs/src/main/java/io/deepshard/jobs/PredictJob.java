package io.deepshard.jobs;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigException;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.util.Fs;
import io.deepshard.spark.predict.DistributedPredictor;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import static org.apache.spark.sql.functions.col;

/**
 * {@code predict --model RUN_DIR --data URI --out URI}: distributed batch inference into Parquet, one row per image:
 * {@code id}, {@code path} (image files), {@code label} (the true class, when the data has one), {@code prediction}
 * (class name), {@code predictionIndex}, {@code confidence} and {@code probabilities} (by class index, as in
 * {@code _deepshard.json}'s {@code classes}); for a segmentation model also {@code mask} (a class id per pixel,
 * row-major) and {@code probabilities} = each class's share of the pixels. The model is broadcast once per executor.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Predict classes of images (folder, Parquet, IDX) with a trained model, into Parquet.")
public final class PredictJob implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "RUN_DIR", description = "A run directory (or its model/ folder).")
    String model;

    @Option(names = "--data", required = true, paramLabel = "URI",
            description = "Images: a folder of image files (or of class folders), Parquet, an IDX images file, a built-in name.")
    String data;

    @Option(names = "--out", required = true, paramLabel = "URI", description = "Parquet output directory (local path or hdfs://...).")
    String out;

    @Option(names = "--unlabeled", description = "Read every image below --data, ignoring folder names (default: a folder "
            + "with image files and no subfolders is unlabeled, one with subfolders holds class folders).")
    boolean unlabeled;

    @Option(names = "--overwrite", description = "Replace --out if it exists.")
    boolean overwrite;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a data option of the model's config, e.g. "
            + "--set data.badRecords=skip")
    List<String> overrides = new ArrayList<>();

    public static void main(String[] args) { Cli.exit(Cli.run(new PredictJob(), args)); }

    static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.LongType, false)
            .add("path", DataTypes.StringType, true)
            .add("label", DataTypes.StringType, true)
            .add("prediction", DataTypes.StringType, false)
            .add("predictionIndex", DataTypes.IntegerType, false)
            .add("confidence", DataTypes.FloatType, false)
            .add("probabilities", DataTypes.createArrayType(DataTypes.FloatType, false), false)
            .add("mask", DataTypes.BinaryType, true);

    @Override public Integer call() throws Exception {
        Console console = Console.system();
        Configuration hadoop = new Configuration();
        ModelInput input = ModelInput.open(model, data, overrides, hadoop);
        Path target = Fs.path(out);
        if (!overwrite && Fs.fs(target, hadoop).exists(target)) {
            throw new ConfigException("--out", List.of(target + " exists; choose another --out or add --overwrite"));
        }
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> console.info("data: " + msg));
        if (input.config().data().test().isBuiltIn()) fetcher.split(input.config().data().test().builtIn());
        SparkSession spark = Spark.session("deepshard-predict");
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            LongAccumulator loads = sc.sc().longAccumulator(DistributedPredictor.LOADS);
            long t0 = System.nanoTime();
            Summary s = predict(spark, input, fetcher, unlabeled, target.toString(), loads);
            double seconds = (System.nanoTime() - t0) / 1e9;
            var meta = new LinkedHashMap<String, Object>();
            meta.put("createdAt", Instant.now().toString());
            meta.put("model", Fs.display(Fs.path(model)));
            meta.put("modelProvenance", input.bundle().provenance());
            meta.put("data", s.description());
            meta.put("classes", input.bundle().labels());
            meta.put("rows", s.rows());
            if (s.accuracy() != null) meta.put("accuracy", s.accuracy());
            meta.put("seconds", seconds);
            meta.put("networksBuilt", loads.value());
            Fs.writeString(sc.hadoopConfiguration(), new Path(target, "_deepshard.json"), ModelBundle.JSON.writeValueAsString(meta));
            console.info(String.format(Locale.ROOT, "%,d predictions in %.1f s (%.0f images/s)%s; networks built on executors: %d",
                    s.rows(), seconds, s.rows() / seconds, s.accuracy() == null ? ""
                            : String.format(Locale.ROOT, "; accuracy against the data's labels %.4f", s.accuracy()), loads.value()));
            console.info("predictions: " + Fs.display(target));
            return 0;
        } finally {
            spark.stop();
        }
    }

    record Summary(long rows, Double accuracy, java.util.Map<String, Object> description) {}

    static Summary predict(SparkSession spark, ModelInput input, DatasetFetcher fetcher, boolean unlabeled, String out, LongAccumulator loads) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        ModelInput.Data d = input.read(sc, sc.defaultParallelism(), fetcher, unlabeled);
        List<String> labels = input.bundle().labels();
        Broadcast<List<String>> paths = d.paths() == null ? null : sc.broadcast(d.paths());
        Broadcast<List<String>> names = sc.broadcast(labels);
        boolean labeled = d.labeled();
        JavaRDD<Row> rows = DistributedPredictor.predict(sc, d.split().records(), input.config().data().inputShape(), input.bundle(), loads)
                .map(p -> {
                    int k = p.predicted();
                    Float[] probs = new Float[p.probabilities().length];
                    for (int i = 0; i < probs.length; i++) probs[i] = p.probabilities()[i];
                    return RowFactory.create(p.id(), paths == null ? null : paths.value().get((int) p.id()),
                            labeled ? names.value().get(p.label()) : null, names.value().get(k), k, p.probabilities()[k], probs, p.mask());
                });
        Dataset<Row> df = spark.createDataFrame(rows, SCHEMA);
        df.write().mode(SaveMode.Overwrite).parquet(out);
        d.split().records().unpersist(false);
        Dataset<Row> written = spark.read().parquet(out);
        long n = written.count();
        Double acc = null;
        if (labeled) acc = (double) written.filter(col("label").equalTo(col("prediction"))).count() / n;
        return new Summary(n, acc, d.split().description());
    }
}
