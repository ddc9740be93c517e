package io.deepshard.spark.data;

import io.deepshard.core.config.DataConfig;
import io.deepshard.core.config.DataSource;
import io.deepshard.core.data.BadRecord;
import io.deepshard.core.data.BadRecordException;
import io.deepshard.core.data.BadRecordPolicy;
import io.deepshard.core.data.BuiltInDatasets;
import io.deepshard.core.data.DataFormatException;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.Decoded;
import io.deepshard.core.data.FolderListing;
import io.deepshard.core.data.IdxFiles;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.PixelRows;
import io.deepshard.core.data.SegmentationListing;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * Reads the configured splits into RDDs of {@link ImageRecord}s. The driver only reads headers and lists files;
 * records are read, decoded and resized inside Spark tasks, each handling its own range of records. Bad records
 * follow {@code data.onBadRecord}: the first one fails the job naming it, or all are counted per reason and skipped.
 */
public final class SparkDatasets {
    private static final Logger LOG = LoggerFactory.getLogger(SparkDatasets.class);

    private SparkDatasets() {}

    /**
     * The training split, the validation split held out of it ({@code data.validationFraction}; may be null), and the
     * test split ({@code data.test}, or a folder's test/ or val/; may be null).
     */
    public record Splits(LoadedSplit train, LoadedSplit validation, LoadedSplit test) {
        public Map<String, Object> describe() {
            var m = new LinkedHashMap<String, Object>();
            m.put("train", train.description());
            if (validation != null) m.put("validation", validation.description());
            if (test != null) m.put("test", test.description());
            m.put("classes", train.classNames());
            return m;
        }

        public Map<String, Object> badRecordsJson() {
            var m = new LinkedHashMap<String, Object>();
            m.put("train", train.badRecords().toJson());
            if (test != null) m.put("test", test.badRecords().toJson());
            long total = train.badRecords().total() + (test == null ? 0 : test.badRecords().total());
            m.put("total", total);
            return m;
        }
    }

    public static Splits load(JavaSparkContext sc, DataConfig data, int partitions, DatasetFetcher fetcher, long seed) {
        DataSource train = data.train(), test = data.test();
        String trainFormat = formatOf(sc, data, train);
        if (trainFormat.equals("segmentation")) return SegmentationSource.loadSplits(sc, data, partitions, fetcher, seed);
        if (trainFormat.equals("folder") || trainFormat.equals("image")) {
            String root = train.uri();
            if (test == null) {
                String[] tt = FolderListing.trainTestFolders(sc.hadoopConfiguration(), root);
                if (tt != null) {
                    LOG.info("{} holds train/ and {}/: using them as the training and test splits", root, new Path(tt[1]).getName());
                    root = tt[0];
                    test = DataSource.uri(tt[1]);
                }
            }
            FolderListing listing = FolderListing.list(sc.hadoopConfiguration(), root, null);
            boolean spark = trainFormat.equals("image");
            LoadedSplit tr, val = null;
            if (data.validationFraction() > 0) { // split the file list: validation images are never decoded for training
                FolderListing[] parts = listing.split(data.validationFraction(), seed);
                tr = spark ? SparkImageSource.load(sc, parts[0], data, "train") : folder(sc, parts[0], data, partitions, "train");
                val = spark ? SparkImageSource.load(sc, parts[1], data, "validation") : folder(sc, parts[1], data, partitions, "validation");
            } else {
                tr = spark ? SparkImageSource.load(sc, listing, data, "train") : folder(sc, listing, data, partitions, "train");
            }
            LoadedSplit te = test == null ? null : load(sc, test, data, partitions, fetcher, "test", tr.classNames());
            return new Splits(tr, val, te);
        }
        LoadedSplit tr = load(sc, train, data, partitions, fetcher, "train", null);
        LoadedSplit val = null;
        if (data.validationFraction() > 0) {
            LoadedSplit[] parts = Holdout.split(sc, tr, data.validationFraction(), seed);
            tr = parts[0];
            val = parts[1];
        }
        return new Splits(tr, val, test == null ? null : load(sc, test, data, partitions, fetcher, "test", tr.classNames()));
    }

    /** One split; {@code classes} (from the training split) maps a test split's classes. */
    public static LoadedSplit load(JavaSparkContext sc, DataSource source, DataConfig data, int partitions,
                                   DatasetFetcher fetcher, String split, List<String> classes) {
        String format = formatOf(sc, data, source);
        LoadedSplit s = switch (format) {
            case "idx" -> idx(sc, source, data, partitions, fetcher, split);
            case "segmentation" -> SegmentationSource.load(sc, SegmentationListing.list(sc.hadoopConfiguration(),
                    SegmentationSource.uriOf(source, fetcher), data.numClasses(), classes), data, partitions, split);
            case "csv" -> csv(sc, source.uri(), data, partitions, split);
            case "parquet" -> ParquetDatasets.load(sc, source.uri(), data, split, classes);
            case "image" -> SparkImageSource.load(sc, FolderListing.list(sc.hadoopConfiguration(), source.uri(), classes), data, split);
            default -> folder(sc, FolderListing.list(sc.hadoopConfiguration(), source.uri(), classes), data, partitions, split);
        };
        if (classes != null && !classes.equals(s.classNames())) {
            throw new DataFormatException("the " + split + " split's classes " + s.classNames() + " differ from the training split's " + classes);
        }
        return s;
    }

    /** The format of a split: a built-in's own (IDX, or segmentation for generated ones), IDX for a pair, else by its URI. */
    public static String formatOf(JavaSparkContext sc, DataConfig data, DataSource source) {
        if (source.isBuiltIn()) return DataSource.BuiltInNames.isSegmentation(source.builtIn()) ? "segmentation" : "idx";
        return source.isIdx() ? "idx" : formatOf(sc, data, source.uri());
    }

    /**
     * {@code data.format}, or for {@code auto}: a folder holding {@code *.parquet} files is Parquet, a folder holding
     * {@code images/} and {@code masks/} (itself or in its {@code train/}) segmentation, another folder a
     * class-per-folder dataset, a {@code .csv[.gz]} file CSV pixel rows, a {@code .parquet} file Parquet.
     */
    static String formatOf(JavaSparkContext sc, DataConfig data, String uri) {
        if (!data.format().equals("auto")) return data.format();
        Path p = Fs.path(uri);
        try {
            FileSystem fs = Fs.fs(p, sc.hadoopConfiguration());
            if (!fs.exists(p)) throw new DataFormatException("no such file or folder: " + p);
            if (fs.getFileStatus(p).isDirectory()) {
                for (var st : fs.listStatus(p)) if (st.isFile() && st.getPath().getName().endsWith(".parquet")) return "parquet";
                if (SegmentationListing.isSegmentationRoot(sc.hadoopConfiguration(), uri)) return "segmentation";
                String[] tt = FolderListing.trainTestFolders(sc.hadoopConfiguration(), uri);
                if (tt != null && SegmentationListing.isSegmentationRoot(sc.hadoopConfiguration(), tt[0])) return "segmentation";
                return "folder";
            }
            String name = p.getName().toLowerCase(java.util.Locale.ROOT);
            if (name.endsWith(".csv") || name.endsWith(".csv.gz")) return "csv";
            if (name.endsWith(".parquet")) return "parquet";
            throw new DataFormatException("cannot tell the format of " + p + ": not a folder, an IDX file named like "
                    + "train-images-idx3-ubyte, a .csv or a .parquet file; set data.format");
        } catch (IOException e) {
            throw new DataFormatException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    /** CSV pixel rows ({@code label,pixel0,...}); an optional header line is skipped; ids follow the line order. */
    static LoadedSplit csv(JavaSparkContext sc, String uri, DataConfig data, int partitions, String split) {
        String path = Fs.path(uri).toString();
        JavaRDD<String> lines = sc.textFile(path, partitions);
        boolean header = !lines.isEmpty() && PixelRows.isHeader(lines.first());
        int size = data.exampleSize(), k = data.numClasses();
        int skip = header ? 1 : 0;
        JavaRDD<Decoded> decoded = lines.zipWithIndex()
                .filter(t -> t._2() >= skip)
                .map(t -> PixelRows.parse(t._1(), t._2() - skip, path + " line " + (t._2() + 1), size, k));
        var desc = new LinkedHashMap<String, Object>();
        desc.put("format", "csv");
        desc.put("uri", path);
        desc.put("header", header);
        desc.put("shape", List.of(data.channels(), data.height(), data.width()));
        List<String> names = IntStream.range(0, k).mapToObj(Integer::toString).toList();
        return finish(decoded, List.of(), names, desc, data.badRecords(), split, path);
    }

    static LoadedSplit idx(JavaSparkContext sc, DataSource source, DataConfig data, int partitions, DatasetFetcher fetcher, String split) {
        String images, labels;
        List<String> classNames;
        var desc = new LinkedHashMap<String, Object>();
        if (source.isBuiltIn()) {
            var files = fetcher.split(source.builtIn());
            images = files[0].toUri().toString();
            labels = files[1].toUri().toString();
            classNames = BuiltInDatasets.datasetOf(source.builtIn()).classNames();
            desc.put("builtIn", source.builtIn());
            if (!sc.master().startsWith("local")) {
                // the cache is on the driver's disk; tasks on other machines read the same path on theirs
                LOG.warn("{} is read from the driver's dataset cache {}: executors on other machines need the same files "
                        + "there (DEEPSHARD_DATA_DIR on a shared volume), or copy them to shared storage with "
                        + "`fetch-data {} --to hdfs://...` and set data.train/data.test to the URIs it prints",
                        source.builtIn(), files[0].getParent(), source.builtIn().replaceAll(":(train|test)$", ""));
            }
            if (classNames.size() != data.numClasses()) {
                throw new DataFormatException(source.builtIn() + " has " + classNames.size() + " classes, but data.numClasses is " + data.numClasses());
            }
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
        long n = pair.count();
        List<long[]> ranges = ranges(n, partitions);
        int numClasses = data.numClasses();
        JavaRDD<Decoded> decoded = sc.parallelize(ranges, ranges.size())
                .flatMap(r -> IdxFiles.read(conf.get(), pair, r[0], r[1], numClasses).iterator());
        desc.put("format", "idx");
        desc.put("images", images);
        desc.put("labels", labels);
        desc.put("shape", List.of(1, pair.rows(), pair.cols()));
        return finish(decoded, List.of(), classNames, desc, data.badRecords(), split, images);
    }

    /**
     * The images of a listing (class folders, or {@link FolderListing#unlabeled} images for prediction), decoded and
     * resized in Spark tasks; a record's id is its index in {@code listing.entries()}.
     */
    public static LoadedSplit folder(JavaSparkContext sc, FolderListing listing, DataConfig data, int partitions, String split) {
        if (!listing.isUnlabeled() && listing.classNames().size() != data.numClasses()) {
            throw new DataFormatException(listing.root() + " has " + listing.classNames().size() + " class folders "
                    + listing.classNames() + ", but data.numClasses is " + data.numClasses());
        }
        List<FolderListing.Entry> entries = listing.entries();
        long n = entries.size();
        HadoopConf conf = new HadoopConf(sc.hadoopConfiguration());
        ImageDecoder decoder = data.decoder();
        // more, smaller tasks than workers: decoding is the expensive part and balances better
        List<long[]> ranges = ranges(n, partitions * 4);
        var files = sc.broadcast(entries);
        JavaRDD<Decoded> decoded = sc.parallelize(ranges, ranges.size()).flatMap(r -> {
            List<Decoded> out = new ArrayList<>((int) (r[1] - r[0]));
            List<FolderListing.Entry> all = files.value();
            for (long id = r[0]; id < r[1]; id++) out.add(decodeFile(conf, decoder, id, all.get((int) id)));
            return out.iterator();
        });
        var desc = new LinkedHashMap<String, Object>();
        desc.put("format", "folder");
        desc.put("root", listing.root());
        if (listing.isUnlabeled()) desc.put("unlabeled", true);
        desc.put("files", n);
        desc.put("resize", data.resize());
        desc.put("shape", List.of(data.channels(), data.height(), data.width()));
        return finish(decoded, listing.bad(), listing.classNames(), desc, data.badRecords(), split, listing.root());
    }

    /** {@code [from, to)} record ranges, contiguous and in id order: one per task. */
    static List<long[]> ranges(long n, int slices) {
        int k = (int) Math.max(1, Math.min(slices, n));
        List<long[]> out = new ArrayList<>(k);
        for (int i = 0; i < k; i++) out.add(new long[] {n * i / k, n * (i + 1) / k});
        return out;
    }

    static Decoded decodeFile(HadoopConf conf, ImageDecoder decoder, long id, FolderListing.Entry e) {
        byte[] bytes;
        Path p = new Path(e.path());
        try (InputStream in = Fs.fs(p, conf.get()).open(p)) {
            bytes = in.readAllBytes();
        } catch (IOException ex) {
            return Decoded.bad(new BadRecord(id, e.path(), BadRecord.Reason.UNREADABLE, "cannot read the file: " + ex.getMessage()));
        }
        try {
            return Decoded.ok(new ImageRecord(id, e.label(), decoder.decode(bytes)));
        } catch (BadRecordException ex) {
            return Decoded.bad(ex.toBadRecord(id, e.path()));
        }
    }

    /** Applies the bad-record policy and caches the usable records. */
    static LoadedSplit finish(JavaRDD<Decoded> decoded, List<BadRecord> layoutBad, List<String> classNames,
                              Map<String, Object> desc, BadRecordPolicy policy, String split, String name) {
        JavaRDD<ImageRecord> records;
        long count;
        BadRecordPolicy.Counts counts;
        if (!policy.skip()) {
            if (!layoutBad.isEmpty()) throw layoutBad.get(0).toException();
            records = decoded.map(d -> {
                if (d.isBad()) throw d.bad().toException();
                return d.record();
            }).setName(split + " records " + name).persist(StorageLevel.MEMORY_ONLY());
            count = records.count();
            counts = new BadRecordPolicy.Counts(split, count, 0, Map.of(), List.of());
        } else {
            JavaRDD<Decoded> all = decoded.persist(StorageLevel.MEMORY_ONLY());
            var byReason = new TreeMap<String, Long>();
            all.filter(Decoded::isBad).map(d -> d.bad().reason().key).countByValue().forEach(byReason::put);
            var examples = new ArrayList<String>();
            layoutBad.forEach(b -> byReason.merge(b.reason().key, 1L, Long::sum));
            layoutBad.stream().limit(5).forEach(b -> examples.add(b.message()));
            all.filter(Decoded::isBad).take(Math.max(0, 5 - examples.size())).forEach(d -> examples.add(d.bad().message()));
            long bad = byReason.values().stream().mapToLong(Long::longValue).sum();
            records = all.filter(d -> !d.isBad()).map(Decoded::record).setName(split + " records " + name)
                    .persist(StorageLevel.MEMORY_ONLY());
            count = records.count();
            all.unpersist(false);
            counts = new BadRecordPolicy.Counts(split, count + bad, bad, byReason, examples);
            if (bad > 0) LOG.warn("{}", counts.summary());
            policy.check(counts);
        }
        desc.put("examples", count);
        if (counts.total() > 0) desc.put("skipped", counts.toJson());
        if (count == 0) throw new DataFormatException("the " + split + " split " + name + " has no usable records");
        return new LoadedSplit(records, count, classNames, desc, counts);
    }
}
