package io.deepshard.jobs;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.core.serve.ImageModel;
import io.deepshard.core.serve.Prediction;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code export} of a run directory on a real HDFS ({@code MiniDFSCluster}) into a bundle on HDFS, written atomically
 * (no temporary left), which the serving API then loads after a copy to local disk. The model is saved here, untrained.
 */
class ExportHdfsIT {
    @TempDir static java.nio.file.Path dir;
    static MiniDFSCluster hdfs;
    static String uri;

    @BeforeAll
    static void startHdfs() throws Exception {
        hdfs = JobFixtures.miniDfs(new Configuration(), dir.resolve("hdfs"));
        uri = "hdfs://127.0.0.1:" + hdfs.getNameNodePort();
    }

    @AfterAll
    static void stopHdfs() {
        if (hdfs != null) hdfs.shutdown(true);
    }

    @Test
    void exportsFromAndToHdfs() throws Exception {
        DeepshardConfig c = ConfigLoader.parse("""
                model: {name: mlp, hidden: [8]}
                data: {train: /data/train, inputShape: [3, 12, 12], numClasses: 2}
                training: {seed: 9, optimizer: {type: nesterov, learningRate: 0.01}}
                """, "t.yaml", List.of());
        var bundle = new ModelBundle(NetworkFactory.create(c.model(), c.data(), c.training()),
                new Normalizer("standardize", new float[] {0.5f, 0.4f, 0.3f}, new float[] {0.2f, 0.2f, 0.2f}),
                List.of("cats", "dogs"), c.resolved(), Map.of("seed", 9));
        Configuration conf = new Configuration();
        bundle.save(conf, uri + "/runs/r1");

        TrainJobIT.Run e = TrainJobIT.run("export", "--model", uri + "/runs/r1");
        assertThat(e.exit()).as(e.err()).isEqualTo(0);
        Path exported = new Path(uri + "/runs/r1/export/r1.deepshard.zip");
        assertThat(e.out()).contains("serving bundle: " + exported + " (");
        FileSystem fs = exported.getFileSystem(conf);
        FileStatus[] listing = fs.listStatus(exported.getParent());
        assertThat(Arrays.stream(listing).map(s -> s.getPath().getName())).containsExactly("r1.deepshard.zip");

        java.nio.file.Path local = dir.resolve("r1.deepshard.zip");
        fs.copyToLocalFile(exported, new Path(local.toUri()));
        byte[] png = SyntheticImages.encode(SyntheticImages.classification(new SyntheticImages.Spec(2, 12, 12, 1), "test", 0, 1), "png");
        float[] expected = bundle.predict(new byte[][] {c.data().decoder().decode(png)})[0];
        try (ImageModel model = ImageModel.load(local)) {
            Prediction p = model.predict(png);
            assertThat(p.probabilities().keySet()).containsExactly("cats", "dogs");
            assertThat(p.probabilityArray()[0]).isCloseTo(expected[0], within(1e-6f));
            assertThat(p.probabilityArray()[1]).isCloseTo(expected[1], within(1e-6f));
            assertThat(model.provenance()).containsEntry("seed", 9);
            assertThat(model.provenance().get("export").toString()).contains("sourceRun=" + uri + "/runs/r1");
        }
    }
}
