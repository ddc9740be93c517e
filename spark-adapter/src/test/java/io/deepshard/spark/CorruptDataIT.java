package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DataSource;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.DataFormatException;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.IdxWriter;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.SparkDatasets;
import org.apache.spark.SparkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A defect found inside a Spark task reaches the driver with the file and record named. */
class CorruptDataIT extends SparkTestBase {
    @TempDir Path dir;

    DeepshardConfig config(int size) {
        return ConfigLoader.parse("""
                model: {name: mlp, hidden: [8]}
                data: {train: /x/train-images-idx3-ubyte, inputShape: [1, %d, %d], numClasses: 3}
                """.formatted(size, size), "corrupt", List.of());
    }

    @Test
    void readsAValidPairInsideTasks() throws Exception {
        Path img = dir.resolve("a-images-idx3-ubyte.gz"), lab = dir.resolve("a-labels-idx1-ubyte.gz");
        IdxWriter.write(img, lab, new byte[40][16], new int[40], 4, 4, true);
        LoadedSplit s = SparkDatasets.load(sc, DataSource.idx(img.toString(), lab.toString()), config(4).data(), 3,
                DatasetFetcher.fromEnvironment(m -> { }), "train", null);
        assertThat(s.count()).isEqualTo(40);
        assertThat(s.records().count()).isEqualTo(40);
        assertThat(s.records().getNumPartitions()).isEqualTo(3);
        assertThat(s.records().map(r -> r.id()).collect()).containsExactlyInAnyOrderElementsOf(
                java.util.stream.LongStream.range(0, 40).boxed().toList());
    }

    @Test
    void truncatedGzipFailsTheJobNamingFileAndRecord() throws Exception {
        Path img = dir.resolve("b-images-idx3-ubyte.gz"), lab = dir.resolve("b-labels-idx1-ubyte.gz");
        IdxWriter.write(img, lab, new byte[40][16], new int[40], 4, 4, true);
        byte[] raw;
        try (var in = new GZIPInputStream(Files.newInputStream(img))) { raw = in.readAllBytes(); }
        var bos = new ByteArrayOutputStream();
        try (var out = new GZIPOutputStream(bos)) { out.write(raw, 0, 16 + 16 * 30); }
        Files.write(img, bos.toByteArray());
        assertThatThrownBy(() -> SparkDatasets.load(sc, DataSource.idx(img.toString(), lab.toString()), config(4).data(), 2,
                DatasetFetcher.fromEnvironment(m -> { }), "train", null))
                .isInstanceOf(SparkException.class)
                .hasMessageContaining(DataFormatException.class.getName())
                .hasMessageContaining(img.toUri().toString().replace("file:///", "file:/"))
                .hasMessageContaining("is truncated: it ends before record 30 of 40 (the header promises 656 bytes in all)");
    }

    @Test
    void shapeMismatchIsCaughtOnTheDriverBeforeAnyTask() throws Exception {
        Path img = dir.resolve("c-images-idx3-ubyte"), lab = dir.resolve("c-labels-idx1-ubyte");
        IdxWriter.write(img, lab, new byte[5][16], new int[5], 4, 4, false);
        assertThatThrownBy(() -> SparkDatasets.load(sc, DataSource.idx(img.toString(), lab.toString()), config(28).data(), 2,
                DatasetFetcher.fromEnvironment(m -> { }), "train", null))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining("holds 4x4 grey images, but data.inputShape is [1, 28, 28] (use [1, 4, 4])");
    }
}
