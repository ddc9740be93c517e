package io.deepshard.spark.data;

import io.deepshard.core.config.DataConfig;
import io.deepshard.core.data.BadRecord;
import io.deepshard.core.data.BadRecordException;
import io.deepshard.core.data.Decoded;
import io.deepshard.core.data.FolderListing;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.data.ImageRecord;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code data.format: image}: a class-per-folder tree read through Spark's own {@code image} data source
 * ({@code spark.read().format("image")}), for users whose pipelines already use it. Classes, ids and layout problems
 * come from the same {@link FolderListing} as the folder reader; Spark decodes, and its BGR rows are resized and
 * converted to CHW like any other image. Files Spark cannot decode are bad records ({@code corruptImage}).
 */
public final class SparkImageSource {
    private SparkImageSource() {}

    public static LoadedSplit load(JavaSparkContext sc, FolderListing listing, DataConfig data, String split) {
        if (listing.classNames().size() != data.numClasses()) {
            throw new io.deepshard.core.data.DataFormatException(listing.root() + " has " + listing.classNames().size()
                    + " class folders " + listing.classNames() + ", but data.numClasses is " + data.numClasses());
        }
        Map<String, long[]> byPath = new HashMap<>(); // path -> {id, label}
        List<FolderListing.Entry> entries = listing.entries();
        for (int i = 0; i < entries.size(); i++) byPath.put(entries.get(i).path(), new long[] {i, entries.get(i).label()});
        Broadcast<Map<String, long[]>> known = sc.broadcast(byPath);
        ImageDecoder decoder = data.decoder();
        SparkSession spark = SparkSession.builder().getOrCreate();
        JavaRDD<Decoded> decoded = spark.read().format("image").option("dropInvalid", false)
                .option("recursiveFileLookup", true).load(listing.root())
                .select("image.origin", "image.height", "image.width", "image.nChannels", "image.data").javaRDD()
                .flatMap(r -> {
                    long[] idLabel = known.value().get(new org.apache.hadoop.fs.Path(r.getString(0)).toString());
                    if (idLabel == null) return java.util.Collections.emptyIterator(); // outside class folders: counted by the listing
                    return java.util.Collections.singletonList(decode(r, idLabel, decoder)).iterator();
                });
        var desc = new LinkedHashMap<String, Object>();
        desc.put("format", "image (Spark image data source)");
        desc.put("root", listing.root());
        desc.put("files", entries.size());
        desc.put("resize", data.resize());
        desc.put("shape", List.of(data.channels(), data.height(), data.width()));
        LoadedSplit s = SparkDatasets.finish(decoded, listing.bad(), listing.classNames(), desc, data.badRecords(), split, listing.root());
        // Spark orders rows by file, not by our ids: restore id order for the sharder's within-class indexing
        JavaRDD<ImageRecord> ordered = s.records().sortBy(ImageRecord::id, true, Math.max(1, s.records().getNumPartitions()))
                .setName(split + " records " + listing.root()).persist(org.apache.spark.storage.StorageLevel.MEMORY_ONLY());
        ordered.count();
        s.records().unpersist(false);
        return new LoadedSplit(ordered, s.count(), s.classNames(), s.description(), s.badRecords());
    }

    private static Decoded decode(Row r, long[] idLabel, ImageDecoder decoder) {
        long id = idLabel[0];
        String path = r.getString(0);
        int nChannels = r.isNullAt(3) ? -1 : r.getInt(3);
        if (nChannels <= 0 || r.isNullAt(4)) {
            return Decoded.bad(new BadRecord(id, path, BadRecord.Reason.CORRUPT_IMAGE, "Spark's image data source could not decode it"));
        }
        try {
            return Decoded.ok(new ImageRecord(id, (int) idLabel[1], decoder.fromBgr((byte[]) r.get(4), r.getInt(1), r.getInt(2), nChannels)));
        } catch (BadRecordException e) {
            return Decoded.bad(e.toBadRecord(id, path));
        }
    }
}
