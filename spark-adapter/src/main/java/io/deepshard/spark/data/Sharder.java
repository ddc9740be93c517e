package io.deepshard.spark.data;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.LocalShuffle;
import io.deepshard.core.data.Shard;
import io.deepshard.core.data.StratifiedDeal;
import io.deepshard.core.transform.Augmenter;
import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * Deals each epoch's examples into one {@link Shard} per worker, stratified by class ({@link StratifiedDeal}) — for
 * segmentation records by their dominant non-background class, so every worker sees a similar mix of objects.
 * Once per dataset it counts the classes per input partition (one pass); after that an epoch costs one shuffle of
 * packed pieces, and executors compute every record's index within its class, its shard and its order themselves.
 * Precondition: records arrive in id order across partitions (every Deepshard reader produces them so), which makes
 * the within-class indices, and so every deal, independent of how the input is partitioned. The records should be
 * cached: each epoch reads them again (a pass over memory).
 */
public final class Sharder {
    private final JavaRDD<ImageRecord> records;
    private final long[][] starts; // per input partition: records of each class in earlier partitions
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
        this.records = records;
        this.starts = starts;
    }

    public long[] classCounts() { return classCounts.clone(); }

    /** The shards of {@code epoch}: one per worker, each in training order; cached. */
    public JavaRDD<Shard> shard(BatchPlan plan, long seed, int epoch) {
        return shard(plan, seed, epoch, null);
    }

    /**
     * The same, with each record augmented for this epoch (inside the tasks, before the shuffle). Each input
     * partition packs its records per destination shard into pieces of at most {@link #PIECE_BYTES} (a record's
     * index within its class, and so its key, follows from the partition's class counts); the shuffle moves the
     * pieces, and each shard merges its pieces in key order. Moving one serialized record per image instead cost
     * about as much as a small network's whole epoch (issue 7: 0.7-2.4 s for Fashion-MNIST's 60,000 on one core).
     */
    public JavaRDD<Shard> shard(BatchPlan plan, long seed, int epoch, Augmenter augmenter) {
        StratifiedDeal deal = new StratifiedDeal(classCounts, plan.workers(), seed, epoch, idSpace);
        int size = exampleSize;
        int[] shape = inputShape;
        int workers = plan.workers();
        long[][] firstIndex = starts;
        Augmenter aug = augmenter == null || augmenter.isEmpty() ? null : augmenter;
        if (workers == 1) {
            // one shard: every record goes to it, so the deal is only its order, the epoch's within-shard order
            // (LocalShuffle.order); the input partitions are read into one task (coalesce, no shuffle files), packed
            // and viewed in that order
            long ids = idSpace;
            return records.coalesce(1, false).mapPartitions(it -> {
                List<ImageRecord> all = new ArrayList<>();
                it.forEachRemaining(r -> all.add(aug == null ? r : aug.apply(r, epoch)));
                Shard packed = shape == null ? Shard.of(0, all, size) : Shard.of(0, all, shape);
                all.clear();
                return Collections.singletonList(packed.reordered(LocalShuffle.order(packed, seed, epoch, ids), null)).iterator();
            }, true).setName("epoch " + epoch + " shard").persist(StorageLevel.MEMORY_ONLY());
        }
        JavaPairRDD<Integer, Piece> pieces = JavaPairRDD.fromJavaRDD(records.mapPartitionsWithIndex(
                (p, it) -> new Pieces(it, firstIndex[p].clone(), deal, aug, epoch, workers, size, shape), true));
        // an Integer's hash is itself: piece (s, ...) goes to partition s
        return pieces.partitionBy(new HashPartitioner(workers))
                .mapPartitionsWithIndex((p, it) -> {
                    List<Shard> parts = new ArrayList<>();
                    List<long[]> keys = new ArrayList<>();
                    while (it.hasNext()) {
                        Piece piece = it.next()._2();
                        parts.add(piece.examples);
                        keys.add(piece.keys);
                    }
                    Shard merged = parts.isEmpty()
                            ? (shape == null ? Shard.of(p, List.of(), size) : Shard.of(p, List.of(), shape))
                            : Shard.merge(p, parts, keys);
                    return Collections.singletonList(merged).iterator();
                }, true)
                .setName("epoch " + epoch + " shards")
                .persist(StorageLevel.MEMORY_ONLY());
    }

    /**
     * {@code training.shuffle: local}: {@code epoch}'s shards from {@code dealt}, epoch 0's {@link #shard} without
     * augmentation. Each shard keeps its examples, re-ordered as the global deal would order them in that epoch and
     * augmented for it, inside its own task: nothing moves between partitions ({@link LocalShuffle}). With one shard
     * this equals {@link #shard} of the epoch. Cached; epoch 0 without augmentation is {@code dealt} itself.
     */
    public JavaRDD<Shard> shuffleLocally(JavaRDD<Shard> dealt, long seed, int epoch, Augmenter augmenter) {
        Augmenter aug = augmenter == null || augmenter.isEmpty() ? null : augmenter;
        if (epoch == 0 && aug == null) return dealt;
        long ids = idSpace;
        return dealt.map(s -> LocalShuffle.apply(s, seed, epoch, ids, aug))
                .setName("epoch " + epoch + " shards (local shuffle)")
                .persist(StorageLevel.MEMORY_ONLY());
    }

    /**
     * Bytes of examples per piece at most (a piece is sent once it reaches this). A task holds at most its
     * partition's records or {@code workers} open pieces, whichever is less, beside the cached records.
     */
    static final int PIECE_BYTES = 8 << 20;

    /** Examples bound for one shard, packed, with their sort keys (any order: the shard sorts on merging). */
    static final class Piece implements java.io.Serializable {
        final long[] keys;
        final Shard examples;

        Piece(long[] keys, Shard examples) {
            this.keys = keys;
            this.examples = examples;
        }
    }

    /** One input partition's records as pieces per shard, produced lazily so the shuffle writes each as it fills. */
    private static final class Pieces implements Iterator<Tuple2<Integer, Piece>> {
        private final Iterator<ImageRecord> in;
        private final long[] next;                 // next within-class index per class
        private final StratifiedDeal deal;
        private final Augmenter aug;
        private final int epoch, size;
        private final int[] shape;
        private final List<List<ImageRecord>> open = new ArrayList<>();
        private final List<long[]> openKeys = new ArrayList<>();
        private final long[] openBytes;
        private final ArrayDeque<Tuple2<Integer, Piece>> ready = new ArrayDeque<>();
        private boolean drained;

        Pieces(Iterator<ImageRecord> in, long[] next, StratifiedDeal deal, Augmenter aug, int epoch, int workers,
               int size, int[] shape) {
            this.in = in;
            this.next = next;
            this.deal = deal;
            this.aug = aug;
            this.epoch = epoch;
            this.size = size;
            this.shape = shape;
            this.openBytes = new long[workers];
            for (int w = 0; w < workers; w++) {
                open.add(new ArrayList<>());
                openKeys.add(new long[16]);
            }
        }

        @Override public boolean hasNext() {
            while (ready.isEmpty() && !drained) {
                if (in.hasNext()) {
                    ImageRecord r = in.next();
                    long key = deal.key(r.label(), next[r.label()]++, r.id());
                    int s = deal.shardOfKey(key);
                    ImageRecord record = aug == null ? r : aug.apply(r, epoch);
                    List<ImageRecord> list = open.get(s);
                    long[] keys = openKeys.get(s);
                    if (list.size() == keys.length) openKeys.set(s, keys = Arrays.copyOf(keys, keys.length * 2));
                    keys[list.size()] = key;
                    list.add(record);
                    openBytes[s] += (long) record.size() * (record.isFloat() ? 4 : 1) + (record.hasMask() ? record.mask().length : 0);
                    if (openBytes[s] >= PIECE_BYTES) send(s);
                } else {
                    for (int s = 0; s < open.size(); s++) if (!open.get(s).isEmpty()) send(s);
                    drained = true;
                }
            }
            return !ready.isEmpty();
        }

        @Override public Tuple2<Integer, Piece> next() {
            if (!hasNext()) throw new NoSuchElementException();
            return ready.poll();
        }

        private void send(int s) {
            List<ImageRecord> list = open.get(s);
            Shard packed = shape == null ? Shard.of(s, list, size) : Shard.of(s, list, shape);
            ready.add(new Tuple2<>(s, new Piece(Arrays.copyOf(openKeys.get(s), list.size()), packed)));
            open.set(s, new ArrayList<>());
            openBytes[s] = 0;
        }
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
}
