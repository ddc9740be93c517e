package io.deepshard.spark.data;

import io.deepshard.core.data.BadRecordPolicy;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.HoldoutRule;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Holds out a seeded, stratified fraction of a loaded split as the validation split: in each class, round(fraction ×
 * its records) records (at least one when the class has two or more, never all of them), chosen by a seeded
 * permutation of the class's records in id order: {@link HoldoutRule}, as {@code FolderListing.split} applies to files. The
 * driver collects only (label, id) pairs; the records stay where they are.
 */
public final class Holdout {
    private Holdout() {}

    /** {@code [train part, validation part]}; both cached, {@code split}'s own records released. */
    public static LoadedSplit[] split(JavaSparkContext sc, LoadedSplit split, double fraction, long seed) {
        List<Tuple2<Integer, Long>> keys = split.records().map(r -> new Tuple2<>(r.label(), r.id())).collect();
        int classes = split.classNames().size();
        List<List<Long>> byClass = new ArrayList<>();
        for (int c = 0; c < classes; c++) byClass.add(new ArrayList<>());
        for (Tuple2<Integer, Long> k : keys) byClass.get(k._1()).add(k._2());
        long[] val = new long[keys.size()];
        int nv = 0;
        for (int c = 0; c < classes; c++) {
            List<Long> ids = byClass.get(c);
            ids.sort(null);
            int n = ids.size();
            HoldoutRule rule = new HoldoutRule(n, fraction, seed, 0x5EED_0000L + c);
            for (int i = 0; i < n; i++) if (rule.heldOut(i)) val[nv++] = ids.get(i);
        }
        long[] validationIds = Arrays.copyOf(val, nv);
        Arrays.sort(validationIds);
        Broadcast<long[]> bc = sc.broadcast(validationIds);
        JavaRDD<ImageRecord> all = split.records();
        JavaRDD<ImageRecord> train = all.filter(r -> Arrays.binarySearch(bc.value(), r.id()) < 0)
                .setName("train records (validation held out)").persist(StorageLevel.MEMORY_ONLY());
        JavaRDD<ImageRecord> validation = all.filter(r -> Arrays.binarySearch(bc.value(), r.id()) >= 0)
                .setName("validation records").persist(StorageLevel.MEMORY_ONLY());
        long nTrain = train.count(), nVal = validation.count();
        all.unpersist(false);
        // bc stays: the filters need it if an evicted partition is recomputed
        return new LoadedSplit[] {part(split, train, nTrain, "train", fraction, seed), part(split, validation, nVal, "validation", fraction, seed)};
    }

    private static LoadedSplit part(LoadedSplit whole, JavaRDD<ImageRecord> records, long count, String name, double fraction, long seed) {
        Map<String, Object> desc = new LinkedHashMap<>(whole.description());
        desc.put("examples", count);
        desc.put("heldOut", Map.of("validationFraction", fraction, "seed", seed, "part", name));
        BadRecordPolicy.Counts bad = name.equals("train") ? whole.badRecords()
                : new BadRecordPolicy.Counts(name, count, 0, Map.of(), List.of()); // skipped records were counted once, in train
        return new LoadedSplit(records, count, whole.classNames(), desc, bad);
    }
}
