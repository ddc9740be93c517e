package io.deepshard.spark.data;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.SeededPermutation;
import io.deepshard.core.data.Shard;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Deals an epoch's examples into one {@link Shard} per worker: a seeded permutation of the record ids (a different one
 * per epoch) gives each record its epoch position, positions are cut into W contiguous blocks of ⌊N/W⌋ or ⌈N/W⌉
 * (see {@link BatchPlan}), and each block arrives at its worker in position order. One shuffle per epoch; executors
 * compute positions themselves, the driver holds no permutation table.
 */
public final class Sharder {
    private Sharder() {}

    public static JavaRDD<Shard> shard(JavaRDD<ImageRecord> records, BatchPlan plan, long seed, int epoch, int exampleSize) {
        SeededPermutation perm = new SeededPermutation(plan.examples(), seed, epoch);
        return records
                .mapToPair(r -> new Tuple2<>(perm.apply(r.id()), r))
                .repartitionAndSortWithinPartitions(new BlockPartitioner(plan))
                .mapPartitionsWithIndex((p, it) -> {
                    List<ImageRecord> list = new ArrayList<>(plan.shardSize(p));
                    while (it.hasNext()) list.add(it.next()._2());
                    return Collections.singletonList(Shard.of(p, list, exampleSize)).iterator();
                }, true)
                .setName("epoch " + epoch + " shards")
                .persist(StorageLevel.MEMORY_ONLY());
    }

    /** Shards in record order without shuffling (evaluation). */
    public static JavaRDD<Shard> inOrder(JavaRDD<ImageRecord> records, int exampleSize) {
        return records.mapPartitionsWithIndex((p, it) -> {
            List<ImageRecord> list = new ArrayList<>();
            it.forEachRemaining(list::add);
            return Collections.singletonList(Shard.of(p, list, exampleSize)).iterator();
        }, true).setName("evaluation shards").persist(StorageLevel.MEMORY_ONLY());
    }

    /** Epoch position → worker: contiguous blocks, as {@link BatchPlan#shardOf}. */
    static final class BlockPartitioner extends Partitioner {
        private final BatchPlan plan;

        BlockPartitioner(BatchPlan plan) { this.plan = plan; }

        @Override public int numPartitions() { return plan.workers(); }

        @Override public int getPartition(Object key) { return plan.shardOf((Long) key); }

        @Override public boolean equals(Object o) { return o instanceof BlockPartitioner b && b.plan.equals(plan); }

        @Override public int hashCode() { return plan.hashCode(); }
    }
}
