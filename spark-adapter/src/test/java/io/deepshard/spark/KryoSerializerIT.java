package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.train.DistributedTrainer;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Training on a Spark whose serializer is Kryo, as many clusters configure it: with {@link KryoRecords} registered
 * (the jobs add it), one epoch of two workers runs through the shuffle, the broadcast state and the round results;
 * without it, Kryo fails on Deepshard's records, which is why the jobs add it.
 */
class KryoSerializerIT {

    private static final io.deepshard.core.data.BadRecordPolicy.Counts NO_BAD =
            new io.deepshard.core.data.BadRecordPolicy.Counts("train", 0, 0, Map.of(), List.of());

    private static JavaSparkContext kryoContext(boolean withRegistrator) {
        SparkConf conf = new SparkConf().setMaster("local[2]").setAppName("kryo").set("spark.ui.enabled", "false")
                .set("spark.serializer", KryoRecords.KRYO).set("spark.kryo.registrator", "");
        String setting = KryoRecords.registratorSetting(conf);
        if (withRegistrator) conf.set("spark.kryo.registrator", setting);
        return new JavaSparkContext(conf);
    }

    private static DistributedTrainer.Result trainOneEpoch(JavaSparkContext sc) {
        DeepshardConfig config = ConfigLoader.parse("""
                model: {name: mlp, hidden: [16], batchNorm: true, dropout: 0.2}
                data: {train: /unused, inputShape: [1, 8, 8], numClasses: 4}
                training: {workers: 2, batchSize: 8, averagingFrequency: 3, epochs: 1, seed: 3, optimizer: {type: adam, learningRate: 0.01}}
                """, "kryo", List.of());
        List<ImageRecord> records = EveryModelLearnsIT.images(96, 1, 8, 5);
        var split = new LoadedSplit(sc.parallelize(records, 2).cache(), 96, List.of("a", "b", "c", "d"), Map.of(), NO_BAD);
        Normalizer norm = Normalization.fit(split.records(), "standardize", 1);
        return new DistributedTrainer(sc, config).fit(split, null, null, norm, new io.deepshard.spark.train.TrainingListener() {});
    }

    @Test
    void trainsWithKryoWhenTheRecordsAreRegistered() {
        try (JavaSparkContext sc = kryoContext(true)) {
            assertThat(sc.getConf().get("spark.kryo.registrator")).isEqualTo(KryoRecords.class.getName());
            DistributedTrainer.Result r = trainOneEpoch(sc);
            assertThat(r.history()).hasSize(1);
            assertThat(r.history().get(0).examples()).isEqualTo(96);
            assertThat(Double.isFinite(r.history().get(0).trainLoss())).isTrue();
        }
    }

    @Test
    void withoutTheRegistratorKryoFailsOnTheRecords() {
        try (JavaSparkContext sc = kryoContext(false)) {
            assertThatThrownBy(() -> trainOneEpoch(sc)).hasStackTraceContaining("Unable to create serializer").hasStackTraceContaining("ImageRecord");
        }
    }

    @Test
    void theSettingKeepsTheUsersRegistrators() {
        SparkConf conf = new SparkConf(false).set("spark.serializer", KryoRecords.KRYO).set("spark.kryo.registrator", "com.acme.Reg");
        assertThat(KryoRecords.registratorSetting(conf)).isEqualTo("com.acme.Reg," + KryoRecords.class.getName());
        assertThat(KryoRecords.registratorSetting(conf.set("spark.kryo.registrator", "com.acme.Reg, " + KryoRecords.class.getName()))).isNull();
        assertThat(KryoRecords.registratorSetting(new SparkConf(false))).as("Java serialization: nothing to add").isNull();
    }
}
