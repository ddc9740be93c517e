package io.deepshard.spark.data;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.FolderListing;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.spark.SparkTestBase;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A file listed but not readable when its task runs is a bad record ({@code unreadable}), not a crash. */
class UnreadableFileIT extends SparkTestBase {
    @TempDir Path dir;

    @Test
    void aFileThatCannotBeReadIsABadRecord() {
        SyntheticImages.write(new Configuration(), dir.resolve("gone").toString(), "split", new SyntheticImages.Spec(3, 20, 24, 4), 10, 1);
        DeepshardConfig c = ConfigLoader.parse("""
                model: lenet5
                data: {train: %s, imageSize: [16, 16], channels: 3, numClasses: 3, onBadRecord: skip, maxBadFraction: 0.1}
                """.formatted(dir.resolve("gone/train")), "unreadable", List.of());
        FolderListing listing = FolderListing.list(new Configuration(), dir.resolve("gone/train").toString(), null);
        // as root, permissions do not stop reads: remove a file between listing and reading (a real race on shared FS)
        try {
            Files.delete(dir.resolve("gone/train/square/3.png"));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        LoadedSplit split = SparkDatasets.folder(sc, listing, c.data(), 2, "train");
        assertThat(split.count()).isEqualTo(29);
        assertThat(split.badRecords().byReason()).isEqualTo(Map.of("unreadable", 1L));
        assertThat(split.badRecords().examples().get(0)).contains("square/3.png: cannot read the file");
    }
}
