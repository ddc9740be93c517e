package io.deepshard.jobs;

import io.deepshard.core.data.BuiltInDatasets;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code fetch-data [name ...]}: puts built-in datasets into the local cache and verifies them (no Spark); generated
 * ones ({@code shapes-segmentation}) are generated, when named.
 */
@Command(name = "fetch-data", mixinStandardHelpOptions = true,
        description = "Fetch and verify built-in datasets (default: fashion-mnist and mnist) into the data cache; "
                + "shapes-segmentation is generated.")
public final class FetchDataJob implements Callable<Integer> {
    @Parameters(paramLabel = "DATASET", arity = "0..*", description = "fashion-mnist, mnist, shapes-segmentation (default: the first two)")
    List<String> names = List.of();

    @Option(names = "--to", paramLabel = "URI",
            description = "Also copy each dataset to URI/<dataset>/ (hdfs://, s3a://, a shared folder), where executors on "
                    + "other machines can read it; files already there with the same size are kept.")
    String to;

    public static void main(String[] args) { Cli.exit(Cli.run(new FetchDataJob(), args)); }

    @Override public Integer call() {
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> System.out.println(msg));
        List<String> todo = names.isEmpty() ? List.of("fashion-mnist", "mnist") : names;
        for (String n : todo) {
            BuiltInDatasets.Dataset d = BuiltInDatasets.BY_NAME.get(n.replaceAll(":(train|test)$", ""));
            BuiltInDatasets.Generated g = BuiltInDatasets.generatedOf(n);
            if (g != null) {
                Path dir = fetcher.ensure(g);
                System.out.println(g.name() + ": " + dir);
                if (to != null) copyTo(dir, g.name());
                continue;
            }
            if (d == null) {
                var known = new java.util.TreeSet<>(BuiltInDatasets.BY_NAME.keySet());
                known.addAll(BuiltInDatasets.GENERATED.keySet());
                System.err.println("error: unknown dataset '" + n + "' (known: " + String.join(", ", known) + ")");
                return 2;
            }
            Path dir = fetcher.ensure(d);
            System.out.println(d.name() + ": " + dir);
            if (to != null) {
                String base = copyTo(dir, d.name());
                System.out.println("  use: data.train: " + base + "/" + fetcher.split(d.name() + ":train")[0].getFileName()
                        + "   data.test: " + base + "/" + fetcher.split(d.name() + ":test")[0].getFileName());
            }
        }
        return 0;
    }

    /**
     * Copies the dataset's cache folder to {@code <to>/<name>}, each file atomically (a temporary sibling, then a
     * rename), skipping files already there with the same length; returns the target folder's URI.
     */
    private String copyTo(Path dir, String name) {
        Configuration conf = new Configuration();
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(Fs.path(to.replaceAll("/+$", "")), name);
        FileSystem fs = Fs.fs(target, conf);
        int copied = 0, kept = 0;
        try (var files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile)
                    .filter(f -> !f.getFileName().toString().startsWith(".")).sorted().toList()) {
                org.apache.hadoop.fs.Path t = new org.apache.hadoop.fs.Path(target, dir.relativize(f).toString().replace('\\', '/'));
                long length = Files.size(f);
                if (fs.exists(t) && fs.getFileStatus(t).getLen() == length) {
                    kept++;
                    continue;
                }
                fs.mkdirs(t.getParent());
                Fs.writeAtomically(conf, t, out -> Files.copy(f, out));
                copied++;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy " + dir + " to " + target + ": " + e.getMessage(), e);
        }
        String uri = fs.makeQualified(target).toString();
        System.out.println("  copied to " + uri + " (" + copied + " file(s) written, " + kept + " already there)");
        return uri;
    }
}
