package io.deepshard.spark;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.Shard;
import io.deepshard.core.transform.ChannelStats;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.data.Sharder;
import org.apache.spark.api.java.JavaRDD;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ShardingIT extends SparkTestBase {

    static List<List<Long>> idsPerShard(JavaRDD<Shard> shards) {
        List<List<Long>> out = new ArrayList<>();
        for (Shard s : shards.collect()) {
            List<Long> ids = new ArrayList<>();
            for (int i = 0; i < s.size(); i++) ids.add(s.id(i));
            out.add(ids);
        }
        return out;
    }

    @Test
    void everyEpochDealsEveryRecordOnceInBalancedShardsAndReshuffles() {
        List<ImageRecord> records = bands(103, 4, 2, 1);
        JavaRDD<ImageRecord> rdd = sc.parallelize(records, 4);
        BatchPlan plan = new BatchPlan(103, 3, 8, 2);
        Sharder sharder = new Sharder(rdd, 2, 16);
        List<List<Long>> e0 = idsPerShard(sharder.shard(plan, 42, 0));
        // the same data partitioned differently deals the same way
        List<List<Long>> e0again = idsPerShard(new Sharder(sc.parallelize(records, 7), 2, 16).shard(plan, 42, 0));
        List<List<Long>> e1 = idsPerShard(sharder.shard(plan, 42, 1));

        assertThat(e0).hasSize(3);
        assertThat(e0).extracting(List::size).containsExactly(35, 34, 34);
        // stratified: each shard holds floor or ceil of a third of each class
        long[] counts = sharder.classCounts();
        assertThat(counts[0] + counts[1]).isEqualTo(103);
        for (List<Long> shard : e0) {
            for (int c = 0; c < 2; c++) {
                final int cls = c;
                long inShard = shard.stream().filter(id -> records.get(id.intValue()).label() == cls).count();
                assertThat(inShard).isBetween(counts[c] / 3, (counts[c] + 2) / 3);
            }
        }
        var all = new HashSet<Long>();
        e0.forEach(all::addAll);
        assertThat(all).hasSize(103);
        assertThat(e0again).isEqualTo(e0);              // same seed and epoch: same deal, whatever the input partitioning
        assertThat(e1).isNotEqualTo(e0);                 // next epoch: a new shuffle
        var all1 = new HashSet<Long>();
        e1.forEach(all1::addAll);
        assertThat(all1).isEqualTo(all);
        // the input's order is not kept: shard 0 is not simply ids 0..33
        assertThat(e0.get(0)).isNotEqualTo(records.subList(0, 34).stream().map(ImageRecord::id).toList());
    }

    @Test
    void shardsCarryTheRecordsThemselves() {
        List<ImageRecord> records = bands(20, 4, 2, 2);
        List<Shard> shards = new Sharder(sc.parallelize(records, 2), 2, 16).shard(new BatchPlan(20, 2, 4, 1), 1, 0).collect();
        for (Shard s : shards) {
            for (int i = 0; i < s.size(); i++) assertThat(s.label(i)).isEqualTo(records.get((int) s.id(i)).label());
        }
    }

    @Test
    void distributedNormalizerFitEqualsADirectComputation() {
        List<ImageRecord> records = bands(500, 12, 3, 9);
        Normalizer spark = Normalization.fit(sc.parallelize(records, 5), "standardize", 1);
        ChannelStats direct = new ChannelStats(1);
        records.forEach(r -> direct.add(r.pixels()));
        assertThat(spark.mean()[0]).isEqualTo((float) direct.mean(0));
        assertThat(spark.std()[0]).isEqualTo((float) direct.std(0));
        assertThat(Normalization.fit(sc.parallelize(records, 5), "scale", 1)).isEqualTo(Normalizer.fixed("scale", 1));
    }
}
