package io.deepshard.spark;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import io.deepshard.spark.predict.DistributedPredictor;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The executors' network cache of {@link DistributedPredictor} never serves another model: two models of different
 * input sizes predicted one after the other, each in its own SparkContext in one JVM (broadcast ids restart with every
 * context: an id-keyed cache served the first model to the second job), each prediction equal to the model's own
 * output on the driver.
 */
class PredictorIT {
    static ModelBundle model(int size, long seed) {
        DeepshardConfig c = ConfigLoader.parse("""
                model: {name: mlp, hidden: [8]}
                data: {train: fashion-mnist:train, inputShape: [1, %d, %d], numClasses: 3}
                training: {seed: %d}
                """.formatted(size, size, seed), "m", List.of());
        return new ModelBundle(NetworkFactory.create(c.model(), c.data(), c.training()), Normalizer.fixed("scale", 1),
                List.of("a", "b", "c"), c.resolved(), Map.of());
    }

    static void predictInANewContext(ModelBundle bundle, int size) {
        SparkSession spark = SparkSession.builder().master("local[2]").appName("predictor").config("spark.ui.enabled", "false").getOrCreate();
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            List<ImageRecord> records = SparkTestBase.bands(12, size, 3, size);
            var out = DistributedPredictor.predict(sc, sc.parallelize(records, 3), new int[] {1, size, size}, bundle, null).collect();
            assertThat(out).hasSize(12);
            float[][] expected = bundle.predict(records.stream().map(ImageRecord::pixels).toArray(byte[][]::new));
            for (DistributedPredictor.Prediction p : out) {
                float[] e = expected[(int) p.id()];
                for (int k = 0; k < 3; k++) assertThat(p.probabilities()[k]).isCloseTo(e[k], within(1e-6f));
            }
        } finally {
            spark.stop();
        }
    }

    @Test
    void aNewContextNeverGetsTheCachedNetworkOfAnEarlierOne() {
        predictInANewContext(model(4, 1), 4);
        predictInANewContext(model(6, 2), 6);
        predictInANewContext(model(4, 3), 4);   // the same shape as the first, other weights
    }
}
