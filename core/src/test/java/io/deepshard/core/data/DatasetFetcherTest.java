package io.deepshard.core.data;

import com.sun.net.httpserver.HttpServer;
import io.deepshard.core.data.BuiltInDatasets.Dataset;
import io.deepshard.core.data.BuiltInDatasets.IdxFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The fetcher on a tiny made-up dataset: a system copy, a real local HTTP server, and corrupt files. */
class DatasetFetcherTest {
    @TempDir Path dir;
    final List<String> log = new ArrayList<>();

    static IdxFile spec(String name, byte[] content) throws Exception {
        return new IdxFile(name, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)), content.length);
    }

    static byte[] gz(byte[] b) throws Exception {
        var bos = new ByteArrayOutputStream();
        try (var out = new GZIPOutputStream(bos)) { out.write(b); }
        return bos.toByteArray();
    }

    byte[][] contents = {"train-images".getBytes(), "train-labels".getBytes(), "test-images".getBytes(), "test-labels".getBytes()};
    String[] names = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

    Dataset dataset(List<String> urls, List<String> systemDirs) throws Exception {
        return new Dataset("tiny", List.of("a", "b"), spec(names[0], contents[0]), spec(names[1], contents[1]),
                spec(names[2], contents[2]), spec(names[3], contents[3]), urls, systemDirs, null, null);
    }

    @Test
    void copiesVerifiedFilesFromASystemDirectoryThenUsesTheCache() throws Exception {
        Path sys = Files.createDirectories(dir.resolve("sys"));
        for (int i = 0; i < 4; i++) Files.write(sys.resolve(names[i] + ".gz"), gz(contents[i])); // compressed copies verify too
        var fetcher = new DatasetFetcher(dir.resolve("cache"), log::add, false);
        Path cached = fetcher.ensure(dataset(List.of(), List.of(sys.toString())));
        assertThat(cached).isEqualTo(dir.resolve("cache/tiny"));
        assertThat(cached.resolve(names[0] + ".gz")).exists();
        assertThat(log).anyMatch(l -> l.startsWith("copied ") && l.endsWith("(verified)"));
        log.clear();
        Files.delete(sys.resolve(names[0] + ".gz"));
        fetcher.ensure(dataset(List.of(), List.of(sys.toString())));
        assertThat(log).noneMatch(l -> l.startsWith("copied")); // served from the cache
    }

    @Test
    void downloadsOverHttpAndRejectsACorruptMirror() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/good/", ex -> {
            String file = ex.getRequestURI().getPath().substring("/good/".length());
            byte[] body = null;
            for (int i = 0; i < 4; i++) {
                try {
                    if (file.equals(names[i] + ".gz")) body = gz(contents[i]);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }
            ex.sendResponseHeaders(body == null ? 404 : 200, body == null ? -1 : body.length);
            if (body != null) ex.getResponseBody().write(body);
            ex.close();
        });
        server.createContext("/bad/", ex -> {
            byte[] body = "garbage".getBytes();
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        try {
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            var fetcher = new DatasetFetcher(dir.resolve("cache"), log::add, false);
            Path cached = fetcher.ensure(dataset(List.of(base + "/bad/", base + "/good/"), List.of()));
            for (String n : names) assertThat(DatasetFetcher.verify(cached.resolve(n + ".gz"), spec(n, contents[List.of(names).indexOf(n)]))).isNull();
            assertThat(cached.resolve(names[0] + ".gz.part")).doesNotExist();
        } finally {
            server.stop(0);
        }
    }

    @Test
    void corruptCacheFileIsSetAsideAndNothingUnverifiedIsUsed() throws Exception {
        Path cache = Files.createDirectories(dir.resolve("cache/tiny"));
        for (int i = 0; i < 4; i++) Files.write(cache.resolve(names[i]), contents[i]);
        Files.write(cache.resolve(names[1]), "train-labelz".getBytes()); // same length, different content
        var fetcher = new DatasetFetcher(dir.resolve("cache"), log::add, false);
        assertThatThrownBy(() -> fetcher.ensure(dataset(List.of("http://127.0.0.1:1/"), List.of(dir.resolve("none").toString()))))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot fetch dataset tiny: missing [train-labels-idx1-ubyte]")
                .hasMessageContaining(dir.resolve("none") + ": not on this machine")
                .hasMessageContaining("http://127.0.0.1:1/train-labels-idx1-ubyte.gz")
                .hasMessageContaining("package managers: disabled");
        assertThat(log).anyMatch(l -> l.contains("has SHA-256") && l.contains("moving it aside"));
        assertThat(cache.resolve(names[1] + ".corrupt")).exists();
    }

    @Test
    void generatedDatasetsAreMadeOnceCompletelyAndRemadeWhenTheirSpecChanges() throws Exception {
        var small = new BuiltInDatasets.Generated("tiny-seg", "segmentation", new SyntheticImages.Spec(3, 16, 16, 7), 2, 1, 1);
        var fetcher = new DatasetFetcher(dir.resolve("cache"), log::add, false);
        Path root = fetcher.ensure(small);
        assertThat(root).isEqualTo(dir.resolve("cache/tiny-seg"));
        try (var files = Files.list(root.resolve("train/images"))) { assertThat(files.count()).isEqualTo(6); }
        try (var files = Files.list(root.resolve("test/masks"))) { assertThat(files.count()).isEqualTo(3); }
        assertThat(Files.readAllLines(root.resolve("classes.txt"))).containsExactly("background", "circle", "square");
        long made = Files.getLastModifiedTime(root.resolve("train/images/00000.png")).toMillis();
        byte[] first = Files.readAllBytes(root.resolve("train/images/00000.png"));
        log.clear();
        assertThat(fetcher.ensure(small)).isEqualTo(root);
        assertThat(log).isEmpty(); // complete: used as is
        assertThat(Files.getLastModifiedTime(root.resolve("train/images/00000.png")).toMillis()).isEqualTo(made);
        var bigger = new BuiltInDatasets.Generated("tiny-seg", "segmentation", new SyntheticImages.Spec(3, 16, 16, 7), 3, 1, 2);
        fetcher.ensure(bigger);
        try (var files = Files.list(root.resolve("train/images"))) { assertThat(files.count()).isEqualTo(9); }
        assertThat(Files.readAllBytes(root.resolve("train/images/00000.png"))).isEqualTo(first); // same seed, same image
        try (var left = Files.list(dir.resolve("cache"))) { assertThat(left.map(p -> p.getFileName().toString())).containsExactly("tiny-seg"); }
    }
}
