package io.deepshard.jobs;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DataSource;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.DataFormatException;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.FolderListing;
import io.deepshard.core.util.Fs;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.SparkDatasets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;

import java.util.ArrayList;
import java.util.List;

/**
 * What the jobs that use a trained model ({@code evaluate}, {@code predict}) share: the model bundle of a run directory,
 * the run's config with the data to read in place of its test split, and that data read in Spark the way training read
 * its test split (same decoding, resizing and class mapping).
 *
 * @param bundle the model
 * @param modelUri where it was loaded from
 * @param config the model's training config, {@code data.test} replaced by the data to use
 */
record ModelInput(ModelBundle bundle, String modelUri, DeepshardConfig config) {

    /**
     * Loads the bundle and checks the data URI before Spark starts; {@code overrides} may change data options
     * ({@code data.format}, {@code data.badRecords}, ...), not the model.
     */
    static ModelInput open(String modelUri, String dataUri, List<String> overrides, Configuration hadoop) {
        ModelBundle bundle;
        try {
            bundle = ModelBundle.load(hadoop, modelUri);
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
            throw new ConfigException("--model", List.of(e.getMessage()));
        }
        for (String o : overrides) {
            if (!o.startsWith("data.")) {
                throw new ConfigException("--set", List.of(o + ": only data.* keys may be set here (the model is the trained one)"));
            }
        }
        var all = new ArrayList<>(overrides);
        all.add("data.test=" + quoted(dataUri));
        DeepshardConfig config = ConfigLoader.parse(bundle.configYaml(), modelUri + "/" + ModelBundle.DIR + "/config.yaml", all);
        if (config.data().numClasses() != bundle.labels().size()) {
            throw new ConfigException("--model", List.of("the bundle's config has data.numClasses " + config.data().numClasses()
                    + " but " + bundle.labels().size() + " labels in labels.json"));
        }
        DataSource source = config.data().test();
        if (!source.isBuiltIn()) {
            Path p = Fs.path(source.uri());
            try {
                if (!Fs.fs(p, hadoop).exists(p)) throw new ConfigException("--data", List.of("no such file or folder: " + p));
            } catch (java.io.IOException e) {
                throw new ConfigException("--data", List.of("cannot read " + p + ": " + e.getMessage()));
            }
        }
        return new ModelInput(bundle, modelUri, config);
    }

    private static String quoted(String s) { return "'" + s.replace("'", "''") + "'"; }

    /** The data read, and for image files each record's path (record id = index), else null. */
    record Data(LoadedSplit split, List<String> paths, boolean labeled) {}

    /**
     * Reads the data. Class folders are mapped onto the model's classes (a folder of another name is a bad record);
     * with {@code unlabeled}, or for a folder holding image files and no folders, every image below the folder is read
     * without a class. IDX and CSV labels are class indices of the model.
     */
    Data read(JavaSparkContext sc, int partitions, DatasetFetcher fetcher, boolean unlabeled) {
        DataSource source = config.data().test();
        String format = SparkDatasets.formatOf(sc, config.data(), source);
        List<String> labels = bundle.labels();
        if (format.equals("folder") || format.equals("image")) {
            Configuration conf = sc.hadoopConfiguration();
            boolean flat = unlabeled || FolderListing.isFlat(conf, source.uri());
            FolderListing listing = flat ? FolderListing.unlabeled(conf, source.uri()) : FolderListing.list(conf, source.uri(), labels);
            LoadedSplit s = SparkDatasets.folder(sc, listing, config.data(), partitions, "input");
            return new Data(s, listing.entries().stream().map(FolderListing.Entry::path).toList(), !flat);
        }
        if (unlabeled) throw new DataFormatException("--unlabeled applies to image folders; " + source + " is " + format);
        boolean indexed = format.equals("idx") || format.equals("csv");
        LoadedSplit s = SparkDatasets.load(sc, source, config.data(), partitions, fetcher, "input", indexed ? null : labels);
        if (s.classNames().size() != labels.size()) {
            throw new DataFormatException(source + " has " + s.classNames().size() + " classes, the model " + labels.size());
        }
        return new Data(s, null, true);
    }
}
