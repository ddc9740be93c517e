package io.deepshard.spark;

import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.ml.ImageAugmenter;
import io.deepshard.spark.ml.ImageFrames;
import io.deepshard.spark.ml.ImageNormalizer;
import io.deepshard.spark.ml.ImageNormalizerModel;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Normalization and augmentation as Spark ML stages: same numbers as training, usable and savable in a Pipeline. */
class MlStagesIT extends SparkTestBase {
    @TempDir Path dir;
    final List<ImageRecord> records = bands(60, 8, 2, 3);

    @Test
    void normalizerEstimatorFitsTheSameStatisticsAsTraining() {
        Dataset<Row> df = ImageFrames.of(spark, sc.parallelize(records, 3));
        ImageNormalizerModel model = new ImageNormalizer().setChannels(1).fit(df);
        Normalizer training = Normalization.fit(sc.parallelize(records, 2), "standardize", 1);
        assertThat(model.normalizer()).isEqualTo(training);
        Row first = model.transform(df).orderBy("id").first();
        float[] expect = new float[64];
        training.apply(records.get(0).pixels(), 0, expect, 0, 1, 64);
        Vector v = first.getAs("features");
        for (int i = 0; i < 64; i++) assertThat(v.apply(i)).isCloseTo(expect[i], within(1e-6));
        Normalizer mm = new ImageNormalizer().setKind("minmax").fit(df).normalizer();
        assertThat(mm.kind()).isEqualTo("minmax");
    }

    @Test
    void augmenterTransformerMatchesTrainingAndIsSeededPerEpoch() {
        Dataset<Row> df = ImageFrames.of(spark, sc.parallelize(records, 3));
        ImageAugmenter aug = new ImageAugmenter().setShape(1, 8, 8).setSeed(5)
                .setAugment("[flip, {type: translate, pixels: 1}]").setOutputCol("aug");
        List<Row> e0 = aug.setEpoch(0).transform(df).orderBy("id").collectAsList();
        List<Row> e0again = aug.setEpoch(0).transform(df).orderBy("id").collectAsList();
        List<Row> e1 = aug.setEpoch(1).transform(df).orderBy("id").collectAsList();
        var core = aug.augmenter();
        int differ = 0;
        for (int i = 0; i < records.size(); i++) {
            assertThat((byte[]) e0.get(i).getAs("aug")).isEqualTo((byte[]) e0again.get(i).getAs("aug"))
                    .isEqualTo(core.apply(records.get(i).pixels(), i, 0));
            assertThat(e0.get(i).<Integer>getAs("label")).isEqualTo(records.get(i).label());
            if (!java.util.Arrays.equals((byte[]) e0.get(i).getAs("aug"), (byte[]) e1.get(i).getAs("aug"))) differ++;
        }
        assertThat(differ).isGreaterThan(records.size() / 2);
    }

    @Test
    void bothStagesWorkInAPipelineThatSavesAndLoads() throws Exception {
        Dataset<Row> df = ImageFrames.of(spark, sc.parallelize(records, 2));
        Pipeline p = new Pipeline().setStages(new PipelineStage[] {
                new ImageAugmenter().setShape(1, 8, 8).setAugment("[{type: rotate, degrees: 5}]").setOutputCol("aug"),
                new ImageNormalizer().setInputCol("aug").setOutputCol("x")});
        PipelineModel fitted = p.fit(df);
        List<Row> before = fitted.transform(df).orderBy("id").select("x").collectAsList();
        String path = dir.resolve("pipeline").toString();
        fitted.write().overwrite().save(path);
        List<Row> after = PipelineModel.load(path).transform(df).orderBy("id").select("x").collectAsList();
        assertThat(after).isEqualTo(before);
    }
}
