package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.ParquetDatasets;
import io.deepshard.spark.data.SparkDatasets;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkException;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** CSV pixel rows and Parquet (encoded images, class-name labels, and the prepared raw format). */
class TabularFormatsIT extends SparkTestBase {
    @TempDir Path dir;
    final DatasetFetcher noFetch = DatasetFetcher.fromEnvironment(m -> { });

    DeepshardConfig config(String train, String shape, int classes, String... sets) {
        return ConfigLoader.parse("""
                model: {name: mlp, hidden: [8]}
                data: {train: '%s', inputShape: %s, numClasses: %d}
                """.formatted(train, shape, classes), "formats", List.of(sets));
    }

    Path csv(List<ImageRecord> recs, String... extraRows) throws Exception {
        var lines = new ArrayList<String>();
        var header = new StringBuilder("label");
        for (int i = 0; i < 16; i++) header.append(",pixel").append(i);
        lines.add(header.toString());
        for (ImageRecord r : recs) {
            var sb = new StringBuilder().append(r.label());
            for (byte b : r.pixels()) sb.append(',').append(b & 0xFF);
            lines.add(sb.toString());
        }
        lines.addAll(List.of(extraRows));
        Path p = dir.resolve("pixels.csv");
        Files.write(p, lines);
        return p;
    }

    @Test
    void csvRowsWithHeaderAreRecordsInLineOrder() throws Exception {
        List<ImageRecord> recs = bands(30, 4, 2, 1);
        Path p = csv(recs);
        SparkDatasets.Splits s = SparkDatasets.load(sc, config(p.toString(), "[1, 4, 4]", 2).data(), 2, noFetch, 1);
        List<ImageRecord> got = new ArrayList<>(s.train().records().collect());
        got.sort(Comparator.comparingLong(ImageRecord::id));
        assertThat(got).hasSize(30);
        for (int i = 0; i < 30; i++) {
            assertThat(got.get(i).id()).isEqualTo(i);
            assertThat(got.get(i).label()).isEqualTo(recs.get(i).label());
            assertThat(got.get(i).pixels()).isEqualTo(recs.get(i).pixels());
        }
    }

    @Test
    void csvBadRowsFailNamingTheLineOrAreCountedPerReason() throws Exception {
        Path p = csv(bands(100, 4, 2, 2), "1,2,3", "0,NaN,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0", "7,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0",
                "1,300,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0");
        assertThatThrownBy(() -> SparkDatasets.load(sc, config(p.toString(), "[1, 4, 4]", 2).data(), 2, noFetch, 1))
                .isInstanceOf(SparkException.class)
                .hasMessageContaining("pixels.csv line 102: row has 2 pixel values, expected 16 (data.inputShape) (sizeMismatch)");
        SparkDatasets.Splits s = SparkDatasets.load(sc, config(p.toString(), "[1, 4, 4]", 2, "data.onBadRecord=skip",
                "data.maxBadFraction=0.05").data(), 2, noFetch, 1);
        assertThat(s.train().count()).isEqualTo(100);
        assertThat(s.train().badRecords().byReason()).isEqualTo(Map.of("sizeMismatch", 1L, "nonFinite", 1L,
                "labelOutOfRange", 1L, "badValue", 1L));
    }

    @Test
    void parquetWithEncodedImagesAndClassNameLabels() throws Exception {
        var spec = new SyntheticImages.Spec(3, 10, 10, 5);
        var rows = new ArrayList<org.apache.spark.sql.Row>();
        for (int i = 0; i < 24; i++) {
            rows.add(RowFactory.create(SyntheticImages.classNames(3).get(i % 3),
                    SyntheticImages.encode(SyntheticImages.classification(spec, "p", i, i % 3), i % 2 == 0 ? "png" : "jpg")));
        }
        rows.add(RowFactory.create("circle", "not an image".getBytes()));
        var schema = new StructType().add("label", DataTypes.StringType).add("image", DataTypes.BinaryType);
        String path = dir.resolve("encoded").toString();
        spark.createDataFrame(rows, schema).repartition(3).write().parquet(path);
        SparkDatasets.Splits s = SparkDatasets.load(sc, config(path, "[3, 8, 8]", 3, "data.onBadRecord=skip",
                "data.maxBadFraction=0.1").data(), 2, noFetch, 1);
        assertThat(s.train().classNames()).containsExactly("circle", "square", "triangle");
        assertThat(s.train().count()).isEqualTo(24);
        assertThat(s.train().badRecords().byReason()).isEqualTo(Map.of("notAnImage", 1L));
        assertThat(s.train().records().first().pixels()).hasSize(3 * 64);
    }

    @Test
    void parquetFloatArraysTrainLikeTheSameBytesAndNonFiniteValuesAreBad() throws Exception {
        List<ImageRecord> recs = bands(80, 4, 2, 7);
        var rows = new ArrayList<org.apache.spark.sql.Row>();
        for (ImageRecord r : recs) {
            var v = new ArrayList<Double>();
            for (byte b : r.pixels()) v.add((b & 0xFF) / 255.0);
            rows.add(RowFactory.create(r.label(), v, List.of(1, 4, 4)));
        }
        var nan = new ArrayList<Double>(java.util.Collections.nCopies(16, 0.5));
        nan.set(3, Double.NaN);
        rows.add(RowFactory.create(0, nan, List.of(1, 4, 4)));
        rows.add(RowFactory.create(1, List.of(0.1, 0.2), List.of(1, 4, 4)));
        var schema = new StructType().add("label", DataTypes.IntegerType)
                .add("values", DataTypes.createArrayType(DataTypes.DoubleType))
                .add("shape", DataTypes.createArrayType(DataTypes.IntegerType));
        String path = dir.resolve("floats").toString();
        spark.createDataFrame(rows, schema).coalesce(1).write().parquet(path);

        DeepshardConfig c = config(path, "[1, 4, 4]", 2, "data.onBadRecord=skip", "data.maxBadFraction=0.05",
                "training.workers=1", "training.averagingFrequency=1", "training.batchSize=8", "training.epochs=2", "training.seed=5");
        SparkDatasets.Splits s = SparkDatasets.load(sc, c.data(), 2, noFetch, 1);
        assertThat(s.train().count()).isEqualTo(80);
        assertThat(s.train().records().first().isFloat()).isTrue();
        assertThat(s.train().badRecords().byReason()).isEqualTo(Map.of("nonFinite", 1L, "sizeMismatch", 1L));
        assertThat(s.train().badRecords().examples()).anyMatch(e -> e.contains("row 80: value 3 is NaN"));

        // the same data as bytes: the same normalizer and, trained the same way, the same parameters
        var bytes = new io.deepshard.spark.data.LoadedSplit(sc.parallelize(recs, 2).cache(), 80, s.train().classNames(), Map.of(), NO_BAD);
        var normF = io.deepshard.spark.data.Normalization.fit(s.train().records(), "standardize", 1);
        var normB = io.deepshard.spark.data.Normalization.fit(bytes.records(), "standardize", 1);
        assertThat((double) normF.mean()[0]).isCloseTo(normB.mean()[0], org.assertj.core.data.Offset.offset(1e-6));
        assertThat((double) normF.std()[0]).isCloseTo(normB.std()[0], org.assertj.core.data.Offset.offset(1e-6));
        var tl = io.deepshard.spark.train.TrainingListener.NONE;
        float[] pf = new io.deepshard.spark.train.DistributedTrainer(sc, c).fit(s.train(), null, normB, tl).state().params();
        float[] pb = new io.deepshard.spark.train.DistributedTrainer(sc, c).fit(bytes, null, normB, tl).state().params();
        assertThat(EquivalenceIT.maxAbsDiff(pf, pb)).isLessThan(1e-5);

        // augmentation works on 8-bit images and says so for float data
        DeepshardConfig aug = config(path, "[1, 4, 4]", 2, "data.onBadRecord=skip", "data.maxBadFraction=0.05", "data.augment=[flip]");
        assertThatThrownBy(() -> new io.deepshard.spark.train.DistributedTrainer(sc, aug).fit(s.train(), null, normB, tl))
                .isInstanceOf(io.deepshard.core.data.DataFormatException.class) // before any training starts
                .hasMessage("data.augment works on 8-bit images, but " + path.replace("/tmp", "file:/tmp")
                        + " holds float values (Parquet float arrays): remove data.augment or store the images as bytes");
    }

    @Test
    void preparedParquetRoundTripsTheDecodedRecords() {
        var w = SyntheticImages.write(new Configuration(), dir.resolve("shapes").toString(), "split", new SyntheticImages.Spec(3, 12, 12, 1), 10, 2);
        DeepshardConfig c = config(w.root(), "[3, 8, 8]", 3, "data.resize=center-crop");
        SparkDatasets.Splits s = SparkDatasets.load(sc, c.data(), 2, noFetch, 1);
        String out = dir.resolve("prepared/train").toString();
        ParquetDatasets.write(spark, s.train(), c.data().inputShape(), out, Map.of("note", "test"));
        LoadedSplit back = SparkDatasets.load(sc, config(out, "[3, 8, 8]", 3).data(), 2, noFetch, 1).train();
        assertThat(back.classNames()).containsExactly("circle", "square", "triangle");
        assertThat(back.description()).containsEntry("images", "raw CHW bytes");
        var before = new ArrayList<>(s.train().records().collect());
        var after = new ArrayList<>(back.records().collect());
        before.sort(Comparator.comparingLong(ImageRecord::id));
        after.sort(Comparator.comparing(r -> java.util.Arrays.toString(r.pixels())));
        var beforeSorted = new ArrayList<>(before);
        beforeSorted.sort(Comparator.comparing(r -> java.util.Arrays.toString(r.pixels())));
        assertThat(after).hasSize(30);
        for (int i = 0; i < 30; i++) {
            assertThat(after.get(i).pixels()).isEqualTo(beforeSorted.get(i).pixels());
            assertThat(after.get(i).label()).isEqualTo(beforeSorted.get(i).label());
        }
        // a prepared dataset of another shape is not silently resized
        assertThatThrownBy(() -> SparkDatasets.load(sc, config(out, "[3, 6, 6]", 3).data(), 2, noFetch, 1))
                .hasMessageContaining("raw image of shape [3, 8, 8] and 192 bytes, expected [3, 6, 6] (sizeMismatch)");
    }
}
