package io.deepshard.spark;

import io.deepshard.core.data.ImageRecord;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** One real local[2] Spark session per test class. */
public abstract class SparkTestBase {
    protected static final io.deepshard.core.data.BadRecordPolicy.Counts NO_BAD =
            new io.deepshard.core.data.BadRecordPolicy.Counts("train", 0, 0, java.util.Map.of(), List.of());
    protected static SparkSession spark;
    protected static JavaSparkContext sc;

    @BeforeAll
    static void startSpark() {
        spark = SparkSession.builder().master("local[2]").appName("deepshard-test")
                .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate();
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) spark.stop();
        spark = null;
    }

    /**
     * Learnable synthetic examples of 1×size×size: class k brightens row band k on a noisy background, so a network
     * can learn them quickly; ids 0..n-1.
     */
    protected static List<ImageRecord> bands(int n, int size, int classes, long seed) {
        Random r = new Random(seed);
        List<ImageRecord> out = new ArrayList<>();
        int band = size / classes;
        for (int i = 0; i < n; i++) {
            int label = r.nextInt(classes);
            byte[] px = new byte[size * size];
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    int v = 40 + r.nextInt(60) + (y / band == label ? 120 : 0);
                    px[y * size + x] = (byte) Math.min(255, v);
                }
            }
            out.add(new ImageRecord(i, label, px));
        }
        return out;
    }
}
