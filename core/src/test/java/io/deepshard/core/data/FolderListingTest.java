package io.deepshard.core.data;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FolderListingTest {
    static final Configuration CONF = new Configuration();
    @TempDir Path dir;
    final SyntheticImages.Spec spec = new SyntheticImages.Spec(3, 16, 16, 9);

    @Test
    void publicLayoutsAreReadAsClassFolders() {
        var caltech = SyntheticImages.write(CONF, dir.resolve("caltech").toString(), "caltech", spec, 4, 1);
        FolderListing c = FolderListing.list(CONF, caltech.root(), null);
        assertThat(c.classNames()).containsExactly("001.circle", "002.square", "003.triangle");
        assertThat(c.entries()).hasSize(15);
        assertThat(c.entries().get(0).path()).endsWith("001.circle/001_0001.jpg");
        assertThat(c.bad()).isEmpty();

        var imagenet = SyntheticImages.write(CONF, dir.resolve("imagenet").toString(), "imagenet", spec, 4, 2);
        String[] tt = FolderListing.trainTestFolders(CONF, imagenet.root());
        assertThat(tt[0]).endsWith("imagenet/train");
        assertThat(tt[1]).endsWith("imagenet/val");
        FolderListing train = FolderListing.list(CONF, tt[0], null);
        assertThat(train.classNames()).containsExactly("n90000001", "n90000002", "n90000003");
        assertThat(train.entries()).hasSize(12).allMatch(e -> e.path().endsWith(".JPEG"));
        FolderListing val = FolderListing.list(CONF, tt[1], train.classNames());
        assertThat(val.entries()).hasSize(6);
        assertThat(FolderListing.trainTestFolders(CONF, caltech.root())).isNull();
    }

    @Test
    void layoutProblemsBecomeBadRecords() throws Exception {
        var w = SyntheticImages.write(CONF, dir.resolve("d").toString(), "split", spec, 3, 1);
        Path train = dir.resolve("d/train");
        Files.createDirectories(train.resolve("empty"));
        Files.writeString(train.resolve("stray.png"), "x");
        Files.writeString(train.resolve("circle/.DS_Store"), "mac");      // not data: passed over
        Files.createDirectories(train.resolve("_temporary"));            // not data either
        FolderListing l = FolderListing.list(CONF, train.toString(), null);
        assertThat(l.classNames()).containsExactly("circle", "empty", "square", "triangle");
        assertThat(l.entries()).hasSize(9);
        assertThat(l.bad()).extracting(BadRecord::reason)
                .containsExactlyInAnyOrder(BadRecord.Reason.EMPTY_CLASS_FOLDER, BadRecord.Reason.NOT_IN_CLASS_FOLDER);
        assertThat(l.bad()).extracting(BadRecord::message).anyMatch(m -> m.contains("class folder 'empty' holds no files"));

        Path test = dir.resolve("d/test");
        Files.createDirectories(test.resolve("hexagon"));
        Files.writeString(test.resolve("hexagon/1.png"), "x");
        FolderListing t = FolderListing.list(CONF, test.toString(), List.of("circle", "square", "triangle"));
        assertThat(t.entries()).hasSize(3);
        assertThat(t.bad()).singleElement().satisfies(b -> {
            assertThat(b.reason()).isEqualTo(BadRecord.Reason.UNKNOWN_CLASS);
            assertThat(b.message()).contains("hexagon/1.png").contains("'hexagon' is not one of the training classes [circle, square, triangle]");
        });
        assertThat(w.classNames()).containsExactly("circle", "square", "triangle");
    }

    @Test
    void missingRootAndFileRootAreErrors() throws Exception {
        assertThatThrownBy(() -> FolderListing.list(CONF, dir.resolve("nope").toString(), null))
                .isInstanceOf(DataFormatException.class).hasMessageContaining("no such folder: file:" + dir.resolve("nope"));
        Files.writeString(dir.resolve("f.jpg"), "x");
        assertThatThrownBy(() -> FolderListing.list(CONF, dir.resolve("f.jpg").toString(), null))
                .hasMessageContaining("is a file, not a folder of class folders");
    }

    @Test
    void validationSplitIsStratifiedSeededAndDisjoint() {
        var w = SyntheticImages.write(CONF, dir.resolve("c").toString(), "caltech", spec, 19, 1); // 20 per class
        FolderListing all = FolderListing.list(CONF, w.root(), null);
        FolderListing[] parts = all.split(0.25, 7);
        assertThat(parts[1].entries()).hasSize(15);                       // 5 of 20 per class
        for (int c = 0; c < 3; c++) {
            final int cls = c;
            assertThat(parts[1].entries().stream().filter(e -> e.label() == cls).count()).isEqualTo(5);
        }
        assertThat(parts[0].entries()).hasSize(45).doesNotContainAnyElementsOf(parts[1].entries());
        assertThat(all.split(0.25, 7)[1].entries()).isEqualTo(parts[1].entries());
        assertThat(all.split(0.25, 8)[1].entries()).isNotEqualTo(parts[1].entries());
    }
}
