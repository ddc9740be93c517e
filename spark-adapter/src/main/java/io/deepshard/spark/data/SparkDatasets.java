package io.deepshard.spark.data;

import io.deepshard.core.config.DataConfig;
import io.deepshard.core.config.DataSource;
import io.deepshard.core.data.BuiltInDatasets;
import io.deepshard.core.data.DataFormatException;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.IdxFiles;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.util.Fs;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Reads a configured split into an RDD of {@link ImageRecord}s. The driver only checks the headers; the records are
 * decoded inside Spark tasks, each reading its own range of the files through the Hadoop file system.
 */
public final class SparkDatasets {
    private SparkDatasets() {}

    public static LoadedSplit load(JavaSparkContext sc, DataSource source, DataConfig data, int partitions, DatasetFetcher fetcher) {
        String images, labels;
        List<String> classNames;
        var desc = new LinkedHashMap<String, Object>();
        if (source.isBuiltIn()) {
            var files = fetcher.split(source.builtIn());
            images = files[0].toUri().toString();
            labels = files[1].toUri().toString();
            classNames = BuiltInDatasets.datasetOf(source.builtIn()).classNames();
            desc.put("builtIn", source.builtIn());
        } else {
            images = Fs.path(source.images()).toString();
            labels = Fs.path(source.labels()).toString();
            classNames = IntStream.range(0, data.numClasses()).mapToObj(Integer::toString).toList();
        }
        HadoopConf conf = new HadoopConf(sc.hadoopConfiguration());
        IdxFiles.Pair pair = IdxFiles.describe(conf.get(), images, labels);
        if (data.channels() != 1 || data.height() != pair.rows() || data.width() != pair.cols()) {
            throw new DataFormatException(images + " holds " + pair.rows() + "x" + pair.cols() + " grey images, but data.inputShape is "
                    + java.util.Arrays.toString(data.inputShape()) + " (use [1, " + pair.rows() + ", " + pair.cols() + "])");
        }
        if (source.isBuiltIn() && classNames.size() != data.numClasses()) {
            throw new DataFormatException(source.builtIn() + " has " + classNames.size() + " classes, but data.numClasses is " + data.numClasses());
        }
        long n = pair.count();
        int slices = (int) Math.max(1, Math.min(partitions, n));
        List<long[]> ranges = new ArrayList<>();
        for (int i = 0; i < slices; i++) ranges.add(new long[] {n * i / slices, n * (i + 1) / slices});
        int numClasses = data.numClasses();
        JavaRDD<ImageRecord> records = sc.parallelize(ranges, slices)
                .flatMap(r -> IdxFiles.read(conf.get(), pair, r[0], r[1], numClasses).iterator())
                .setName("records " + images)
                .persist(StorageLevel.MEMORY_ONLY());
        desc.put("format", "idx");
        desc.put("images", images);
        desc.put("labels", labels);
        desc.put("examples", n);
        desc.put("shape", List.of(1, pair.rows(), pair.cols()));
        return new LoadedSplit(records, n, classNames, desc);
    }

    /** A short description of several splits for provenance. */
    public static Map<String, Object> describe(LoadedSplit train, LoadedSplit test) {
        var m = new LinkedHashMap<String, Object>();
        m.put("train", train.description());
        if (test != null) m.put("test", test.description());
        m.put("classes", train.classNames());
        return m;
    }
}
