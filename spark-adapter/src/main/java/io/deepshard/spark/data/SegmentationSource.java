package io.deepshard.spark.data;

import io.deepshard.core.config.DataConfig;
import io.deepshard.core.config.DataSource;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.Decoded;
import io.deepshard.core.data.FolderListing;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.data.SegmentationListing;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * {@code data.format: segmentation}: images with per-pixel class masks ({@code <root>/images/} + {@code <root>/masks/},
 * see {@link SegmentationListing}). The driver lists and pairs the files; tasks read, decode and resize each pair
 * (the mask by nearest neighbour). A root holding {@code train/} and {@code test/} (or {@code val/}) uses them as the
 * two splits, as folder datasets do; a built-in name such as {@code shapes-segmentation:train} is generated on first use.
 */
public final class SegmentationSource {
    private static final Logger LOG = LoggerFactory.getLogger(SegmentationSource.class);

    private SegmentationSource() {}

    /** The training split, its validation part ({@code data.validationFraction}) and the test split (given or found next to it). */
    public static SparkDatasets.Splits loadSplits(JavaSparkContext sc, DataConfig data, int partitions, DatasetFetcher fetcher, long seed) {
        var conf = sc.hadoopConfiguration();
        String root = uriOf(data.train(), fetcher);
        String test = data.test() == null ? null : uriOf(data.test(), fetcher);
        if (test == null && !SegmentationListing.isSegmentationRoot(conf, root)) {
            String[] tt = FolderListing.trainTestFolders(conf, root);
            if (tt != null) {
                root = tt[0];
                LOG.info("{} holds train/ and {}/: using them as the training and test splits", Fs.path(uriOf(data.train(), fetcher)),
                        new Path(tt[1]).getName());
                test = tt[1];
            }
        }
        SegmentationListing listing = SegmentationListing.list(conf, root, data.numClasses(), null);
        LoadedSplit tr, val = null;
        if (data.validationFraction() > 0) {
            SegmentationListing[] parts = listing.split(data.validationFraction(), seed);
            tr = load(sc, parts[0], data, partitions, "train");
            val = load(sc, parts[1], data, partitions, "validation");
        } else {
            tr = load(sc, listing, data, partitions, "train");
        }
        LoadedSplit te = test == null ? null
                : load(sc, SegmentationListing.list(conf, test, data.numClasses(), tr.classNames()), data, partitions, "test");
        return new SparkDatasets.Splits(tr, val, te);
    }

    /** A split's URI: the source's own, or the folder of a generated built-in dataset. */
    static String uriOf(DataSource s, DatasetFetcher fetcher) {
        return s.isBuiltIn() ? fetcher.split(s.builtIn())[0].toUri().toString() : s.uri();
    }

    /** Decodes the listed pairs inside tasks and applies the bad-record policy. */
    public static LoadedSplit load(JavaSparkContext sc, SegmentationListing listing, DataConfig data, int partitions, String split) {
        List<SegmentationListing.Entry> entries = listing.entries();
        long n = entries.size();
        HadoopConf conf = new HadoopConf(sc.hadoopConfiguration());
        ImageDecoder decoder = data.decoder();
        int numClasses = data.numClasses();
        var files = sc.broadcast(entries);
        // more, smaller tasks than workers: decoding is the expensive part and balances better
        List<long[]> ranges = SparkDatasets.ranges(n, partitions * 4);
        JavaRDD<Decoded> decoded = sc.parallelize(ranges, ranges.size()).flatMap(r -> {
            List<Decoded> out = new ArrayList<>((int) (r[1] - r[0]));
            List<SegmentationListing.Entry> all = files.value();
            for (long id = r[0]; id < r[1]; id++) out.add(SegmentationListing.decode(conf.get(), decoder, id, all.get((int) id), numClasses));
            return out.iterator();
        });
        var desc = new LinkedHashMap<String, Object>();
        desc.put("format", "segmentation");
        desc.put("root", listing.root());
        desc.put("pairs", n);
        desc.put("resize", data.resize());
        desc.put("shape", List.of(data.channels(), data.height(), data.width()));
        return SparkDatasets.finish(decoded, listing.bad(), listing.classNames(), desc, data.badRecords(), split, listing.root());
    }
}
