package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.Shard;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.core.train.EvalStats;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.TrainingRecipe;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.data.Sharder;
import io.deepshard.spark.data.SparkDatasets;
import io.deepshard.spark.train.DistributedEvaluator;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.spark.train.TrainingListener;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaRDD;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** U-Net on generated shapes through the real reader, sharder, trainer and evaluator on local[2]; and bad masks. */
class SegmentationIT extends SparkTestBase {
    @TempDir Path dir;
    final DatasetFetcher noFetch = DatasetFetcher.fromEnvironment(m -> { });

    DeepshardConfig config(String train, String... sets) {
        return ConfigLoader.parse("""
                model: {name: unet, base: 8, depth: 2, batchNorm: true}
                data: {train: %s, inputShape: [3, 32, 32], numClasses: 3, augment: [flip]}
                training: {workers: 2, batchSize: 4, averagingFrequency: 2, epochs: 4, seed: 7,
                           optimizer: {type: adam, learningRate: 0.01}}
                """.formatted(train), "segmentation", List.of(sets));
    }

    /** 3 classes (background, circle, square): 22 x 3 = 66 training and 4 x 3 = 12 test pairs of 32x32. */
    SyntheticImages.Written generate(String name) {
        return SyntheticImages.write(new Configuration(), dir.resolve(name).toString(), "segmentation",
                new SyntheticImages.Spec(3, 32, 32, 11), 22, 4);
    }

    /** The statistics of always predicting background, from the test masks themselves. */
    static EvalStats allBackground(List<Shard> shards, int classes) {
        EvalStats s = new EvalStats(classes, true);
        for (Shard sh : shards) {
            int plane = sh.maskSize();
            int[] truth = new int[sh.size() * plane];
            float[] probs = new float[sh.size() * classes * plane];
            for (int i = 0; i < sh.size(); i++) {
                for (int p = 0; p < plane; p++) {
                    truth[i * plane + p] = sh.maskValue(i, p);
                    probs[i * classes * plane + p] = 1f;
                }
            }
            s.addPixels(probs, truth, plane);
        }
        return s;
    }

    @Test
    void unetLearnsShapesWithTwoWorkers() {
        var w = generate("shapes");
        DeepshardConfig config = config(w.root());
        SparkDatasets.Splits splits = SparkDatasets.load(sc, config.data(), 2, noFetch, 7); // auto: train/ + test/ with images/ + masks/
        assertThat(splits.train().description()).containsEntry("format", "segmentation");
        assertThat(splits.train().count()).isEqualTo(66);
        assertThat(splits.test().count()).isEqualTo(12);
        assertThat(splits.train().classNames()).containsExactly("background", "circle", "square");
        List<ImageRecord> some = splits.train().records().take(3);
        assertThat(some).allSatisfy(r -> {
            assertThat(r.pixels()).hasSize(3 * 32 * 32);
            assertThat(r.mask()).hasSize(32 * 32);
            assertThat(r.label()).isEqualTo(ImageRecord.dominantClass(r.mask(), 3)).isPositive();
        });

        Normalizer norm = Normalization.fit(splits.train().records(), "standardize", 3); // channel statistics of the images
        assertThat(norm.channels()).isEqualTo(3);
        JavaRDD<Shard> test = Sharder.inOrder(splits.test().records(), config.data().inputShape());
        var recipe = new TrainingRecipe(NetworkFactory.configuration(config.model(), config.data(), config.training()).toJson(),
                norm, 3, new BatchPlan(66, 2, 4, 2), config.training().seed());
        EvalStats before = DistributedEvaluator.evaluate(sc, test, recipe,
                NetworkState.of(NetworkFactory.create(config.model(), config.data(), config.training())));
        EvalStats background = allBackground(test.collect(), 3);

        DistributedTrainer.Result result = new DistributedTrainer(sc, config).fit(splits.train(), test, norm, TrainingListener.NONE);

        List<EpochMetrics> h = result.history();
        assertThat(h).hasSize(4);
        assertThat(h.get(0).examples()).isEqualTo(66);
        assertThat(h.get(0).rounds()).isEqualTo(5); // 33 per worker / batch 4 = 9 steps, every 2 -> 5 rounds
        assertThat(h.get(3).trainLoss()).isLessThan(h.get(0).trainLoss());
        assertThat(h.get(3).testLoss()).isLessThan(before.loss());
        EvalStats after = result.finalTest();
        assertThat(after.isPerPixel()).isTrue();
        assertThat(after.count()).isEqualTo(12 * 32 * 32);
        assertThat(h.get(3).meanIoU()).isEqualTo(after.meanIoU());
        assertThat(h.get(3).testAccuracy()).isEqualTo(after.accuracy()); // testAccuracy is the pixel accuracy
        // better than the trivial segmentation: the shapes are found, not just the background
        assertThat(after.meanIoU()).isGreaterThan(background.meanIoU() + 0.1); // measured: 0.46 vs 0.26 after 4 epochs
        assertThat(after.iou(1) + after.iou(2)).isGreaterThan(0.2);
        assertThat(result.network().getOutputLayer(0).getClass().getSimpleName()).isEqualTo("CnnLossLayer");
    }

    @Test
    void badMasksNameTheFileThePixelAndTheValue() throws Exception {
        generate("bad");
        Path train = dir.resolve("bad/train");
        BufferedImage mask = ImageIO.read(train.resolve("masks/00005.png").toFile());
        mask.getRaster().setSample(6, 9, 0, 7);
        ImageIO.write(mask, "png", train.resolve("masks/00005.png").toFile());
        Files.delete(train.resolve("masks/00012.png"));

        assertThatThrownBy(() -> SparkDatasets.load(sc, config(train.toString()).data(), 2, noFetch, 7))
                .hasMessageContaining("images/00012.png: image has no mask: expected file:" + train + "/masks/00012.<png|...> (missingMask)");
        Files.copy(train.resolve("masks/00013.png"), train.resolve("masks/00012.png"));
        assertThatThrownBy(() -> SparkDatasets.load(sc, config(train.toString()).data(), 2, noFetch, 7))
                .isInstanceOf(SparkException.class)
                .hasMessageContaining("file:" + train + "/images/00005.png: mask file:" + train + "/masks/00005.png: pixel (x=6, y=9) has value 7, "
                        + "but class ids must be 0..2 (data.numClasses = 3, background included) (maskValueOutOfRange)");

        Files.delete(train.resolve("masks/00012.png"));
        SparkDatasets.Splits skipped = SparkDatasets.load(sc, config(train.toString(), "data.onBadRecord=skip", "data.maxBadFraction=0.05").data(),
                2, noFetch, 7);
        assertThat(skipped.train().count()).isEqualTo(64);
        assertThat(skipped.train().badRecords().byReason()).isEqualTo(Map.of("maskValueOutOfRange", 1L, "missingMask", 1L));
        assertThat(skipped.train().badRecords().examples()).anyMatch(e -> e.contains("has value 7"));
        assertThat(skipped.train().records().map(ImageRecord::id).collect()).doesNotContain(5L); // the bad pair is left out
    }

    @Test
    void aClassifierOnSegmentationRecordsFailsBeforeTraining() {
        var w = generate("mismatch");
        DeepshardConfig seg = config(w.root() + "/train");
        var splits = SparkDatasets.load(sc, seg.data(), 2, noFetch, 7);
        DeepshardConfig mlp = ConfigLoader.parse("""
                model: mlp
                data: {train: %s, inputShape: [3, 32, 32], numClasses: 3}
                """.formatted(w.root() + "/train"), "mismatch", List.of());
        assertThatThrownBy(() -> new DistributedTrainer(sc, mlp).fit(splits.train(), null, Normalizer.fixed("scale", 3), TrainingListener.NONE))
                .hasMessageContaining("model mlp predicts one class per image, but the training data")
                .hasMessageContaining("is segmentation data (images with masks): use a segmentation model such as unet");
    }
}
