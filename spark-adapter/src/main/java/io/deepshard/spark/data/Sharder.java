package io.deepshard.spark.data;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.Shard;
import io.deepshard.core.data.StratifiedDeal;
import io.deepshard.core.transform.Augmenter;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Deals each epoch's examples into one {@link Shard} per worker, stratified by class ({@link StratifiedDeal}) — for
 * segmentation records by their dominant non-background class, so every worker sees a similar mix of objects.
 * Once per dataset it counts the classes and gives every record its index within its class (two passes, no sort);
 * after that an epoch costs one shuffle, and executors compute every record's shard and order themselves.
 * Precondition: records arrive in id order across partitions (every Deepshard reader produces them so), which makes
 * the within-class indices, and so every deal, independent of how the input is partitioned. The records should be
 * cached: the indexing is recomputed from them each epoch (a pass over memory) rather than held as a second copy.
 */
public final class Sharder {
    private final JavaRDD<Tuple2<Long, ImageRecord>> indexed; // (within-class index, record)
    private final long[] classCounts;
    private final long idSpace;
    private final int exampleSize;
    private final int[] inputShape; // null: classification records only (packed by example size)

    /** For records of shape {@code [C, H, W]}, with or without masks (segmentation needs the shape). */
    public Sharder(JavaRDD<ImageRecord> records, int numClasses, int[] inputShape) {
        this(records, numClasses, inputShape[0] * inputShape[1] * inputShape[2], inputShape.clone());
    }

    public Sharder(JavaRDD<ImageRecord> records, int numClasses, int exampleSize) {
        this(records, numClasses, exampleSize, null);
    }

    private Sharder(JavaRDD<ImageRecord> records, int numClasses, int exampleSize, int[] inputShape) {
        this.exampleSize = exampleSize;
        this.inputShape = inputShape;
        // pass 1: class counts per input partition
        List<long[]> perPartition = records.mapPartitions(it -> {
            long[] counts = new long[numClasses + 1]; // last: largest id + 1
            while (it.hasNext()) {
                ImageRecord r = it.next();
                counts[r.label()]++;
                counts[numClasses] = Math.max(counts[numClasses], r.id() + 1);
            }
            return Collections.singletonList(counts).iterator();
        }).collect();
        this.classCounts = new long[numClasses];
        this.idSpace = perPartition.stream().mapToLong(c -> c[numClasses]).max().orElse(0);
        long[][] starts = new long[perPartition.size()][];
        for (int p = 0; p < perPartition.size(); p++) {
            starts[p] = classCounts.clone();
            for (int c = 0; c < numClasses; c++) classCounts[c] += perPartition.get(p)[c];
        }
        // pass 2: index within class = records of that class in earlier partitions + earlier in this one
        this.indexed = records.mapPartitionsWithIndex((p, it) -> {
            long[] next = starts[p].clone();
            List<Tuple2<Long, ImageRecord>> out = new ArrayList<>();
            while (it.hasNext()) {
                ImageRecord r = it.next();
                out.add(new Tuple2<>(next[r.label()]++, r));
            }
            return out.iterator();
        }, true).setName("records indexed by class");
    }

    public long[] classCounts() { return classCounts.clone(); }

    /** The shards of {@code epoch}: one per worker, each in training order; cached. */
    public JavaRDD<Shard> shard(BatchPlan plan, long seed, int epoch) {
        return shard(plan, seed, epoch, null);
    }

    /** The same, with each record augmented for this epoch (inside the tasks, before the shuffle). */
    public JavaRDD<Shard> shard(BatchPlan plan, long seed, int epoch, Augmenter augmenter) {
        StratifiedDeal deal = new StratifiedDeal(classCounts, plan.workers(), seed, epoch, idSpace);
        int size = exampleSize;
        int[] shape = inputShape;
        Augmenter aug = augmenter == null || augmenter.isEmpty() ? null : augmenter;
        return indexed
                .mapToPair(t -> new Tuple2<>(deal.key(t._2().label(), t._1(), t._2().id()),
                        aug == null ? t._2() : aug.apply(t._2(), epoch)))
                .repartitionAndSortWithinPartitions(new DealPartitioner(deal, plan.workers()))
                .mapPartitionsWithIndex((p, it) -> {
                    List<ImageRecord> list = new ArrayList<>(plan.shardSize(p));
                    while (it.hasNext()) list.add(it.next()._2());
                    return Collections.singletonList(shape == null ? Shard.of(p, list, size) : Shard.of(p, list, shape)).iterator();
                }, true)
                .setName("epoch " + epoch + " shards")
                .persist(StorageLevel.MEMORY_ONLY());
    }

    /** Shards in record order without shuffling (evaluation), for records of shape {@code [C, H, W]} with or without masks. */
    public static JavaRDD<Shard> inOrder(JavaRDD<ImageRecord> records, int[] inputShape) {
        int[] shape = inputShape.clone();
        return records.mapPartitionsWithIndex((p, it) -> {
            List<ImageRecord> list = new ArrayList<>();
            it.forEachRemaining(list::add);
            return Collections.singletonList(Shard.of(p, list, shape)).iterator();
        }, true).setName("evaluation shards").persist(StorageLevel.MEMORY_ONLY());
    }

    /** Shards in record order without shuffling (evaluation); classification records only. */
    public static JavaRDD<Shard> inOrder(JavaRDD<ImageRecord> records, int exampleSize) {
        return records.mapPartitionsWithIndex((p, it) -> {
            List<ImageRecord> list = new ArrayList<>();
            it.forEachRemaining(list::add);
            return Collections.singletonList(Shard.of(p, list, exampleSize)).iterator();
        }, true).setName("evaluation shards").persist(StorageLevel.MEMORY_ONLY());
    }

    /** Sort key → shard, as {@link StratifiedDeal#shardOfKey}. */
    static final class DealPartitioner extends Partitioner {
        private final StratifiedDeal deal;
        private final int workers;

        DealPartitioner(StratifiedDeal deal, int workers) {
            this.deal = deal;
            this.workers = workers;
        }

        @Override public int numPartitions() { return workers; }

        @Override public int getPartition(Object key) { return deal.shardOfKey((Long) key); }
    }
}
