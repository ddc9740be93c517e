package io.deepshard.jobs;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.serve.InputSpec;
import io.deepshard.core.serve.ServingBundle;
import io.deepshard.core.util.Fs;
import io.deepshard.core.util.Versions;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code export --model RUN_DIR [--out FILE] [--overwrite]}: the run's model as one serving bundle
 * ({@link ServingBundle}: network without updater state, normalizer, labels, input spec, provenance, config) for the
 * Java API {@link io.deepshard.core.serve.ImageModel}. The input spec is taken from the {@code data.*} settings the
 * run trained with. Runs on the driver alone (no Spark); the file is written atomically, locally or on hdfs://.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a trained model as one serving bundle (a zip) that the Java API ImageModel loads to predict images.")
public final class ExportJob implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "RUN_DIR", description = "A run directory (or its model/ folder).")
    String model;

    @Option(names = "--out", paramLabel = "FILE",
            description = "The bundle to write (local path or hdfs://...; default: RUN_DIR/export/<run name>" + ServingBundle.EXTENSION + ").")
    String out;

    @Option(names = "--overwrite", description = "Replace --out if it exists.")
    boolean overwrite;

    public static void main(String[] args) { Cli.exit(Cli.run(new ExportJob(), args)); }

    @Override public Integer call() throws IOException {
        Console console = Console.system();
        Configuration hadoop = new Configuration();
        Path given = Fs.path(model);
        Path modelDir = Fs.fs(given, hadoop).exists(new Path(given, "network.zip")) ? given : new Path(given, ModelBundle.DIR);
        Path runDir = modelDir.getName().equals(ModelBundle.DIR) ? modelDir.getParent() : modelDir;
        Path target = out != null ? Fs.path(out) : new Path(runDir, "export/" + runDir.getName() + ServingBundle.EXTENSION);
        FileSystem fs = Fs.fs(target, hadoop);
        if (fs.exists(target) && (!overwrite || fs.getFileStatus(target).isDirectory())) {
            throw new ConfigException("--out", List.of(target + (fs.getFileStatus(target).isDirectory() ? " is a directory; --out names the bundle file"
                    : " exists; choose another --out or add --overwrite")));
        }
        ModelBundle bundle;
        try {
            bundle = ModelBundle.load(hadoop, model);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw new ConfigException("--model", List.of(e.getMessage()));
        }
        DeepshardConfig config = ConfigLoader.parse(bundle.configYaml(), Fs.display(modelDir) + "/config.yaml", List.of());
        if (config.data().numClasses() != bundle.labels().size()) {
            throw new ConfigException("--model", List.of("the bundle's config has data.numClasses " + config.data().numClasses()
                    + " but " + bundle.labels().size() + " labels in labels.json"));
        }
        InputSpec spec = InputSpec.of(config.data(), config.model().segmentation());
        var provenance = new LinkedHashMap<>(bundle.provenance());
        var export = new LinkedHashMap<String, Object>();
        export.put("createdAt", Instant.now().toString());
        export.put("sourceRun", Fs.display(runDir));
        export.put("versions", Versions.core());
        export.put("updaterState", "left out (not needed to predict)");
        provenance.put("export", export);
        ServingBundle.Written[] written = new ServingBundle.Written[1];
        Fs.writeAtomically(hadoop, target, o -> written[0] = ServingBundle.write(bundle.network(), bundle.normalizer(), bundle.labels(), spec,
                bundle.configYaml(), provenance, o));
        long size = fs.getFileStatus(target).getLen();
        long full = Fs.fs(modelDir, hadoop).getFileStatus(new Path(modelDir, "network.zip")).getLen();
        console.info("serving bundle: " + Fs.display(target) + " (" + bytes(size) + ")");
        console.info("  model:   " + config.model().describe() + String.format(Locale.ROOT, ", %,d parameters", bundle.network().numParams()));
        console.info("  classes: " + bundle.labels().size() + " " + bundle.labels());
        console.info("  input:   " + spec.describe());
        console.info(String.format(Locale.ROOT, "  network: %s without updater state (the run's model/network.zip with it: %s, %.1fx)",
                bytes(written[0].networkBytes()), bytes(full), (double) full / written[0].networkBytes()));
        return 0;
    }

    static String bytes(long n) {
        return n < 1024 ? n + " B" : n < 1 << 20 ? String.format(Locale.ROOT, "%.1f KiB", n / 1024.0)
                : String.format(Locale.ROOT, "%.1f MiB", n / 1048576.0);
    }
}
