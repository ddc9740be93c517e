package io.deepshard.jobs;

import io.deepshard.core.data.SyntheticImages;
import org.apache.hadoop.conf.Configuration;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the tests that submit the train job to a cluster share: the packaged application jar and a tiny job. */
final class JobFixtures {
    private JobFixtures() {}

    /**
     * The start of a command that runs a new JVM like this test's: this Java, with the JVM flags Spark needs on Java 17
     * (the build passes them as {@code deepshard.test.jvmFlags}). Callers add the classpath, main class and arguments.
     */
    static java.util.List<String> javaCommand() {
        var cmd = new java.util.ArrayList<String>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String flag : System.getProperty("deepshard.test.jvmFlags", "").split("\\s+")) {
            if (!flag.isBlank()) cmd.add(flag);
        }
        return cmd;
    }

    /** The jobs module's packaged jar (the application spark-submit gets); the ITs run after {@code package}. */
    static Path jobsJar() {
        try (var s = Files.list(Path.of("target"))) {
            return s.filter(p -> p.getFileName().toString().matches("deepshard-jobs-.*\\.jar") && !p.getFileName().toString().endsWith("-app.jar")).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no target/deepshard-jobs-*.jar: run mvn package first"))
                    .toAbsolutePath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes a seeded 2-class 12×12 grey image dataset ({@code perClass} training images per class, split layout) and
     * a small MLP config training it for {@code epochs} on 2 workers into {@code run}; returns the config file.
     */
    static Path tinyFolderJob(Path dir, int perClass, int epochs, Path run) throws IOException {
        SyntheticImages.write(new Configuration(), dir.resolve("data").toString(), "split", new SyntheticImages.Spec(2, 12, 12, 1),
                perClass, Math.max(1, perClass / 3));
        Path conf = dir.resolve("c.yaml");
        Files.writeString(conf, """
                model: {name: mlp, hidden: [8]}
                data: {train: %s, imageSize: [12, 12], channels: 1, numClasses: 2}
                training: {workers: 2, batchSize: 8, epochs: %d, seed: 1}
                output: %s
                """.formatted(dir.resolve("data/train"), epochs, run));
        return conf;
    }

    /**
     * Three classes of 8x8 PNGs in {@code root/train|test/<class>/} that a small MLP separates when it trains well: a
     * reddish, a greenish and a bluish tint under strong per-pixel noise (seeded).
     */
    static void tintedColours(Path root, int trainPerClass, int testPerClass, long seed) throws IOException {
        var random = new java.util.Random(seed);
        String[] classes = {"red", "green", "blue"};
        for (String split : new String[] {"train", "test"}) {
            for (int k = 0; k < 3; k++) {
                Path folder = Files.createDirectories(root.resolve(split).resolve(classes[k]));
                for (int i = 0; i < (split.equals("train") ? trainPerClass : testPerClass); i++) {
                    var img = new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_INT_RGB);
                    for (int y = 0; y < 8; y++) {
                        for (int x = 0; x < 8; x++) {
                            int[] c = new int[3];
                            for (int ch = 0; ch < 3; ch++) c[ch] = Math.max(0, Math.min(255, (ch == k ? 140 : 100) + (int) (random.nextGaussian() * 60)));
                            img.setRGB(x, y, c[0] << 16 | c[1] << 8 | c[2]);
                        }
                    }
                    javax.imageio.ImageIO.write(img, "png", folder.resolve(i + ".png").toFile());
                }
            }
        }
    }

    /**
     * A real HDFS in this JVM ({@code MiniDFSCluster}: a NameNode and a DataNode) with every address on 127.0.0.1 and
     * its storage under {@code base}, configured from {@code conf} (which then names it); up when returned.
     */
    static org.apache.hadoop.hdfs.MiniDFSCluster miniDfs(Configuration conf, Path base) throws IOException {
        conf.set(org.apache.hadoop.hdfs.MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.toString());
        for (String k : java.util.List.of("dfs.namenode.rpc-address", "dfs.namenode.http-address", "dfs.datanode.address",
                "dfs.datanode.http.address", "dfs.datanode.ipc.address")) conf.set(k, "127.0.0.1:0");
        var hdfs = new org.apache.hadoop.hdfs.MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        hdfs.waitActive();
        return hdfs;
    }

    /**
     * Trains, with {@code train} on local[2], an MLP (32 hidden units, Adam) on 3 classes of generated colour PNGs of
     * {@code width}×{@code height} in class folders under {@code dir/data}, read at 16×16, into {@code dir/run};
     * returns the run directory. Sets the {@code spark.master} property the jobs read (clear it after the class).
     */
    static Path trainColourMlp(Path dir, int width, int height, int trainPerClass, int testPerClass, int epochs) throws IOException {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        SyntheticImages.write(new Configuration(), dir.resolve("data").toString(), "split", new SyntheticImages.Spec(3, width, height, 7),
                trainPerClass, testPerClass);
        Path run = dir.resolve("run");
        Path conf = dir.resolve("c.yaml");
        Files.writeString(conf, """
                model: {name: mlp, hidden: [32]}
                data: {train: %s, test: %s, imageSize: [16, 16], channels: 3, numClasses: 3}
                training: {workers: 2, batchSize: 8, epochs: %d, seed: 3, optimizer: {type: adam, learningRate: 0.003}}
                output: %s
                """.formatted(dir.resolve("data/train"), dir.resolve("data/test"), epochs, run));
        TrainJobIT.Run r = TrainJobIT.run("train", conf.toString());
        if (r.exit() != 0) throw new IllegalStateException("training the fixture model failed: " + r.err());
        return run;
    }
}
