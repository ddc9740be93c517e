package io.deepshard.spark.data;

import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.transform.ChannelStats;
import io.deepshard.core.transform.Normalizer;
import org.apache.spark.api.java.JavaRDD;

/** Fits the normalizer with one distributed aggregation over the training split (never the test split). */
public final class Normalization {
    private Normalization() {}

    public static Normalizer fit(JavaRDD<ImageRecord> train, String kind, int channels) {
        if (!kind.equals("standardize") && !kind.equals("minmax")) return Normalizer.fixed(kind, channels);
        return Normalizer.fit(kind, stats(train, channels));
    }

    /** Per-channel sums, squares and cross products of the split, in one tree aggregation. */
    public static ChannelStats stats(JavaRDD<ImageRecord> train, int channels) {
        ChannelStats stats = train.treeAggregate(new ChannelStats(channels), ChannelStats::add, ChannelStats::merge);
        if (stats.valuesPerChannel() == 0) throw new IllegalArgumentException("cannot fit normalization: the training split is empty");
        return stats;
    }
}
