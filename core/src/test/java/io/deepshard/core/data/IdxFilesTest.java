package io.deepshard.core.data;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IdxFilesTest {
    static final Configuration CONF = new Configuration();
    @TempDir Path dir;

    byte[][] images = new byte[7][12];
    int[] labels = {0, 1, 2, 0, 1, 2, 1};

    Path[] write(boolean gzip) throws IOException {
        Random r = new Random(1);
        for (byte[] im : images) r.nextBytes(im);
        String ext = gzip ? ".gz" : "";
        Path img = dir.resolve("train-images-idx3-ubyte" + ext), lab = dir.resolve("train-labels-idx1-ubyte" + ext);
        IdxWriter.write(img, lab, images, labels, 3, 4, gzip);
        return new Path[] {img, lab};
    }

    static String uri(Path p) { return p.toUri().toString(); }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void readsEveryRecordAndAnyRange(boolean gzip) throws IOException {
        Path[] f = write(gzip);
        IdxFiles.Pair pair = IdxFiles.describe(CONF, uri(f[0]), uri(f[1]));
        assertThat(pair.count()).isEqualTo(7);
        assertThat(pair.rows()).isEqualTo(3);
        assertThat(pair.cols()).isEqualTo(4);
        assertThat(pair.imagesGzip()).isEqualTo(gzip);
        List<ImageRecord> all = IdxFiles.read(CONF, pair, 0, 7, 3).stream().map(Decoded::record).toList();
        assertThat(all).hasSize(7);
        for (int i = 0; i < 7; i++) {
            assertThat(all.get(i).id()).isEqualTo(i);
            assertThat(all.get(i).label()).isEqualTo(labels[i]);
            assertThat(all.get(i).pixels()).isEqualTo(images[i]);
        }
        List<ImageRecord> mid = IdxFiles.read(CONF, pair, 3, 5, 3).stream().map(Decoded::record).toList();
        assertThat(mid).extracting(ImageRecord::id).containsExactly(3L, 4L);
        assertThat(mid.get(1).pixels()).isEqualTo(images[4]);
    }

    @Test
    void wrongMagicNamesTheFileAndBothNumbers() throws IOException {
        Path[] f = write(false);
        // labels file given as images file
        assertThatThrownBy(() -> IdxFiles.describe(CONF, uri(f[1]), uri(f[1])))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining(f[1].toString())
                .hasMessageContaining("not an IDX images file: magic number 0x00000801, expected 0x00000803");
        assertThatThrownBy(() -> IdxFiles.describe(CONF, uri(f[0]), uri(f[0])))
                .hasMessageContaining("not an IDX labels file: magic number 0x00000803, expected 0x00000801");
    }

    @Test
    void truncatedRawFileIsCaughtFromItsLength() throws IOException {
        Path[] f = write(false);
        byte[] b = Files.readAllBytes(f[0]);
        Files.write(f[0], Arrays.copyOf(b, b.length - 5));
        assertThatThrownBy(() -> IdxFiles.describe(CONF, uri(f[0]), uri(f[1])))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining(f[0].toString())
                .hasMessageContaining("has 95 bytes, but its header promises 7 images of 3x4 = 100 bytes (truncated)");
    }

    @Test
    void truncatedGzipFileIsCaughtAtTheRecordWhereItEnds() throws IOException {
        Path[] f = write(true);
        byte[] raw;
        try (var in = new GZIPInputStream(Files.newInputStream(f[0]))) { raw = in.readAllBytes(); }
        var bos = new ByteArrayOutputStream();
        try (var out = new GZIPOutputStream(bos)) { out.write(raw, 0, 16 + 12 * 5 + 4); } // ends inside record 5
        Files.write(f[0], bos.toByteArray());
        IdxFiles.Pair pair = IdxFiles.describe(CONF, uri(f[0]), uri(f[1]));
        assertThatThrownBy(() -> IdxFiles.read(CONF, pair, 0, 7, 3))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining(f[0].toString())
                .hasMessageContaining("is truncated: it ends inside record 5 (4 of 12 bytes) of 7 (the header promises 100 bytes in all)");
        assertThatThrownBy(() -> IdxFiles.read(CONF, pair, 6, 7, 3))
                .hasMessageContaining("is truncated: it ends before record 6");
    }

    @Test
    void countMismatchBetweenImagesAndLabels() throws IOException {
        Path[] f = write(false);
        Path otherLabels = dir.resolve("other-labels-idx1-ubyte");
        IdxWriter.write(dir.resolve("x-images-idx3-ubyte"), otherLabels, new byte[5][12], new int[5], 3, 4, false);
        assertThatThrownBy(() -> IdxFiles.describe(CONF, uri(f[0]), uri(otherLabels)))
                .isInstanceOf(DataFormatException.class)
                .hasMessage("IDX count mismatch: " + uri(f[0]) + " holds 7 images but " + uri(otherLabels) + " holds 5 labels");
    }

    @Test
    void labelOutsideTheClassesMakesThatRecordBadNamingIt() throws IOException {
        Path[] f = write(false);
        IdxFiles.Pair pair = IdxFiles.describe(CONF, uri(f[0]), uri(f[1]));
        List<Decoded> read = IdxFiles.read(CONF, pair, 0, 7, 2);
        assertThat(read).filteredOn(Decoded::isBad).hasSize(2); // records 2 and 5 have label 2
        BadRecord bad = read.get(2).bad();
        assertThat(bad.id()).isEqualTo(2);
        assertThat(bad.reason()).isEqualTo(BadRecord.Reason.LABEL_OUT_OF_RANGE);
        assertThat(bad.message()).isEqualTo(uri(f[1]) + " record 2: label 2 is outside [0, 2) (data.numClasses = 2) (labelOutOfRange)");
        assertThat(read.get(3).record().label()).isEqualTo(0);
    }

    @Test
    void missingFileIsNamed() {
        String missing = uri(dir.resolve("nope-images-idx3-ubyte"));
        assertThatThrownBy(() -> IdxFiles.describe(CONF, missing, missing))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining("IDX file not found: " + missing);
    }

    @Test
    void headerTooShort() throws IOException {
        Path[] f = write(false);
        Files.write(f[0], new byte[] {0, 0, 8, 3, 0, 0});
        assertThatThrownBy(() -> IdxFiles.describe(CONF, uri(f[0]), uri(f[1])))
                .hasMessageContaining("IDX file too short to hold its header");
    }
}
