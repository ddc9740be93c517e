package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.spark.data.SparkDatasets;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Class-per-folder datasets in the public layouts, decoded inside Spark tasks, and every bad-input case. */
class FolderDatasetIT extends SparkTestBase {
    @TempDir Path dir;
    final SyntheticImages.Spec spec = new SyntheticImages.Spec(3, 20, 24, 4);
    final DatasetFetcher noFetch = DatasetFetcher.fromEnvironment(m -> { });

    DeepshardConfig config(String train, String... sets) {
        return ConfigLoader.parse("""
                model: lenet5
                data: {train: %s, imageSize: [16, 16], channels: 3, numClasses: 3}
                """.formatted(train), "folder", List.of(sets));
    }

    @Test
    void imagenetLayoutFindsTrainAndValAndDecodesInTasks() {
        var w = SyntheticImages.write(new Configuration(), dir.resolve("inet").toString(), "imagenet", spec, 6, 2);
        SparkDatasets.Splits s = SparkDatasets.load(sc, config(w.root()).data(), 2, noFetch, 1);
        assertThat(s.train().classNames()).containsExactly("n90000001", "n90000002", "n90000003");
        assertThat(s.train().count()).isEqualTo(18);
        assertThat(s.test().count()).isEqualTo(6);
        List<ImageRecord> recs = s.train().records().collect();
        assertThat(recs).allSatisfy(r -> assertThat(r.pixels()).hasSize(3 * 16 * 16));
        assertThat(recs).extracting(ImageRecord::id).containsExactlyElementsOf(java.util.stream.LongStream.range(0, 18).boxed().toList());
        assertThat(s.train().records().getNumPartitions()).isGreaterThan(1);
        assertThat(s.badRecordsJson()).containsEntry("total", 0L);
    }

    @Test
    void sparksImageSourceGivesTheSameRecordsAsTheFolderReader() throws Exception {
        var w = SyntheticImages.write(new Configuration(), dir.resolve("png").toString(), "split", spec, 5, 2);
        Files.write(dir.resolve("png/train/square/broken.png"), java.util.Arrays.copyOf(
                Files.readAllBytes(dir.resolve("png/train/square/0.png")), 40));
        String[] sets = {"data.onBadRecord=skip", "data.maxBadFraction=0.1", "data.imageSize=[20, 24]"};
        SparkDatasets.Splits ours = SparkDatasets.load(sc, config(w.root(), sets).data(), 2, noFetch, 1);
        String[] withImage = java.util.Arrays.copyOf(sets, 4);
        withImage[3] = "data.format=image";
        SparkDatasets.Splits spark = SparkDatasets.load(sc, config(w.root(), withImage).data(), 2, noFetch, 1);
        assertThat(spark.train().description()).containsEntry("format", "image (Spark image data source)");
        assertThat(spark.train().classNames()).isEqualTo(ours.train().classNames());
        List<ImageRecord> a = ours.train().records().collect(), b = spark.train().records().collect();
        assertThat(b).hasSize(15).extracting(ImageRecord::id).isSorted();
        for (int i = 0; i < a.size(); i++) {
            assertThat(b.get(i).id()).isEqualTo(a.get(i).id());
            assertThat(b.get(i).label()).isEqualTo(a.get(i).label());
            assertThat(b.get(i).pixels()).isEqualTo(a.get(i).pixels()); // PNG is lossless: same pixels either way
        }
        assertThat(spark.train().badRecords().byReason()).isEqualTo(Map.of("corruptImage", 1L));
        assertThat(spark.test().count()).isEqualTo(6);
    }

    @Test
    void caltechTreeSplitByValidationFraction() {
        var w = SyntheticImages.write(new Configuration(), dir.resolve("cal").toString(), "caltech", spec, 9, 1);
        SparkDatasets.Splits s = SparkDatasets.load(sc, config(w.root(), "data.validationFraction=0.2").data(), 2, noFetch, 1);
        assertThat(s.train().count()).isEqualTo(24);
        assertThat(s.validation().count()).isEqualTo(6);
        assertThat(s.train().classNames()).containsExactly("001.circle", "002.square", "003.triangle");
    }

    Path corruptTree() throws Exception {
        var w = SyntheticImages.write(new Configuration(), dir.resolve("bad").toString(), "split", spec, 30, 1);
        Path train = dir.resolve("bad/train");
        Files.write(train.resolve("circle/empty.png"), new byte[0]);
        Files.writeString(train.resolve("square/notes.txt"), "not an image");
        byte[] png = Files.readAllBytes(train.resolve("triangle/0.png"));
        Files.write(train.resolve("triangle/cut.png"), java.util.Arrays.copyOf(png, png.length / 2));
        assertThat(w.trainImages()).isEqualTo(90);
        return train;
    }

    @Test
    void failNamesTheFirstBadFileAndItsReason() throws Exception {
        Path train = corruptTree();
        assertThatThrownBy(() -> SparkDatasets.load(sc, config(train.toString()).data(), 2, noFetch, 1))
                .isInstanceOf(SparkException.class)
                .hasMessageMatching("(?s).*io\\.deepshard\\.core\\.data\\.DataFormatException: file:\\S+/train/"
                        + "(circle/empty\\.png: the file is empty \\(0 bytes\\) \\(emptyFile\\)"
                        + "|square/notes\\.txt: not an image.*\\(notAnImage\\)"
                        + "|triangle/cut\\.png: .*\\(corruptImage\\)).*");
    }

    @Test
    void skipCountsEveryReasonAndKeepsTheRest() throws Exception {
        Path train = corruptTree();
        Files.createDirectories(train.resolve("zz-empty-class"));
        SparkDatasets.Splits s = SparkDatasets.load(sc, config(train.toString(), "data.onBadRecord=skip",
                "data.maxBadFraction=0.1", "data.numClasses=4").data(), 2, noFetch, 1);
        assertThat(s.train().count()).isEqualTo(90);
        assertThat(s.train().badRecords().byReason()).isEqualTo(Map.of("emptyFile", 1L, "notAnImage", 1L, "corruptImage", 1L,
                "emptyClassFolder", 1L));
        assertThat(s.train().badRecords().examined()).isEqualTo(94);
        assertThat(s.train().badRecords().examples()).hasSize(4).anyMatch(e -> e.contains("cut.png"));
        // ids keep their gaps: the sharder must still deal them
        long maxId = s.train().records().map(ImageRecord::id).reduce(Math::max);
        assertThat(maxId).isEqualTo(91); // id 92 is triangle/cut.png (sorted last), skipped
    }

    @Test
    void tooManyBadRecordsFailEvenWhenSkipping() throws Exception {
        Path train = corruptTree();
        assertThatThrownBy(() -> SparkDatasets.load(sc, config(train.toString(), "data.onBadRecord=skip",
                "data.maxBadFraction=0.02").data(), 2, noFetch, 1))
                .hasMessageContaining("train: 3 of 93 records are bad (3.23%), more than data.maxBadFraction = 0.02");
    }

    @Test
    void mixedSizesWithResizingOffAreBadRecords() throws Exception {
        SyntheticImages.write(new Configuration(), dir.resolve("sz").toString(), "split", new SyntheticImages.Spec(3, 16, 16, 1), 4, 1);
        Files.write(dir.resolve("sz/train/circle/big.png"), SyntheticImages.encode(SyntheticImages.classification(spec, "x", 0, 0), "png"));
        SparkDatasets.Splits s = SparkDatasets.load(sc, config(dir.resolve("sz/train").toString(), "data.resize=none",
                "data.onBadRecord=skip", "data.maxBadFraction=0.5").data(), 2, noFetch, 1);
        assertThat(s.train().badRecords().byReason()).isEqualTo(Map.of("sizeMismatch", 1L));
        assertThat(s.train().badRecords().examples().get(0)).contains("big.png: image is 20x24 (HxW), expected 16x16");
    }
}
