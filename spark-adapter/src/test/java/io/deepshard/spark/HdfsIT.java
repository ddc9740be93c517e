package io.deepshard.spark;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.data.DatasetFetcher;
import io.deepshard.core.data.IdxWriter;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.SyntheticImages;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.data.SparkDatasets;
import io.deepshard.spark.train.DistributedTrainer;
import io.deepshard.spark.train.TrainingListener;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Datasets on a real HDFS ({@code MiniDFSCluster}: NameNode and DataNode in this JVM, on loopback): a folder dataset
 * and an IDX dataset are read from hdfs:// and trained for one round with two workers on local[2]; checkpoints are
 * written to hdfs:// and a run resumed from them ends where an uninterrupted one does.
 */
class HdfsIT extends SparkTestBase {
    static MiniDFSCluster hdfs;
    static String uri;

    @BeforeAll
    static void startHdfs() throws Exception {
        java.nio.file.Path base = java.nio.file.Path.of("target", "minidfs-" + System.nanoTime()).toAbsolutePath();
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.toString());
        conf.set("dfs.namenode.rpc-address", "127.0.0.1:0");
        conf.set("dfs.namenode.http-address", "127.0.0.1:0");
        conf.set("dfs.datanode.address", "127.0.0.1:0");
        conf.set("dfs.datanode.http.address", "127.0.0.1:0");
        conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
        hdfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        hdfs.waitActive();
        uri = "hdfs://127.0.0.1:" + hdfs.getNameNodePort();
    }

    @AfterAll
    static void stopHdfs() {
        if (hdfs != null) hdfs.shutdown(true);
    }

    static DeepshardConfig config(String train, String shape, int classes) {
        return ConfigLoader.parse("""
                model: {name: mlp, hidden: [16]}
                data: {train: '%s', inputShape: %s, numClasses: %d}
                training: {workers: 2, batchSize: 8, averagingFrequency: 2, epochs: 1, seed: 3,
                           optimizer: {type: adam, learningRate: 0.01}}
                """.formatted(train, shape, classes), "hdfs", List.of());
    }

    DistributedTrainer.Result trainOneRoundWorth(DeepshardConfig c) {
        SparkDatasets.Splits s = SparkDatasets.load(sc, c.data(), 2, DatasetFetcher.fromEnvironment(m -> { }), 1);
        var norm = Normalization.fit(s.train().records(), "standardize", c.data().channels());
        return new DistributedTrainer(sc, c).fit(s.train(), null, norm, TrainingListener.NONE);
    }

    @Test
    void folderDatasetOnHdfsTrains() {
        var w = SyntheticImages.write(sc.hadoopConfiguration(), uri + "/data/shapes", "split", new SyntheticImages.Spec(3, 12, 12, 2), 8, 2);
        assertThat(w.root()).startsWith("hdfs://");
        DeepshardConfig c = config(uri + "/data/shapes", "[3, 12, 12]", 3);
        DistributedTrainer.Result r = trainOneRoundWorth(c);
        assertThat(r.workers()).isEqualTo(2);
        assertThat(r.history().get(0).examples()).isEqualTo(24);
        assertThat(r.history().get(0).rounds()).isEqualTo(1); // 12 per worker / 8 -> 2 steps, every 2 -> 1 round
        assertThat(r.state().iteration()).isEqualTo(2);
    }

    @Test
    void idxDatasetOnHdfsTrains() throws Exception {
        java.nio.file.Path local = Files.createTempDirectory("idx");
        var recs = bands(40, 8, 2, 1);
        IdxWriter.write(local.resolve("train-images-idx3-ubyte.gz"), local.resolve("train-labels-idx1-ubyte.gz"),
                recs.stream().map(ImageRecord::pixels).toArray(byte[][]::new), recs.stream().mapToInt(ImageRecord::label).toArray(), 8, 8, true);
        FileSystem fs = hdfs.getFileSystem();
        fs.copyFromLocalFile(new Path(local.resolve("train-images-idx3-ubyte.gz").toUri()), new Path("/data/idx/train-images-idx3-ubyte.gz"));
        fs.copyFromLocalFile(new Path(local.resolve("train-labels-idx1-ubyte.gz").toUri()), new Path("/data/idx/train-labels-idx1-ubyte.gz"));
        DistributedTrainer.Result r = trainOneRoundWorth(config(uri + "/data/idx/train-images-idx3-ubyte.gz", "[1, 8, 8]", 2));
        assertThat(r.history().get(0).examples()).isEqualTo(40);
        assertThat(r.state().iteration()).isEqualTo(3); // 20 per worker / 8 -> 3 steps
    }

    @Test
    void checkpointsOnHdfsResumeExactly() {
        var recs = bands(120, 8, 2, 5);
        var split = new io.deepshard.spark.data.LoadedSplit(sc.parallelize(recs, 2).cache(), recs.size(), List.of("a", "b"),
                java.util.Map.of(), NO_BAD);
        DeepshardConfig c = ConfigLoader.parse("""
                model: {name: mlp, hidden: [16], dropout: 0.2}
                data: {train: /unused, inputShape: [1, 8, 8], numClasses: 2}
                training: {workers: 2, batchSize: 8, averagingFrequency: 2, epochs: 2, seed: 3, checkpointEvery: 2,
                           optimizer: {type: adam, learningRate: 0.01}}
                """, "hdfs-ckpt", List.of());
        var norm = io.deepshard.core.transform.Normalizer.fixed("scale", 1);
        var whole = new io.deepshard.core.train.CheckpointStore(sc.hadoopConfiguration(), uri + "/runs/whole");
        DistributedTrainer.Result reference = new DistributedTrainer(sc, c).fit(split, null, null, norm, TrainingListener.NONE,
                new DistributedTrainer.Checkpointing(whole, null));
        assertThat(whole.names()).containsExactly("ckpt-e0001-r000002", "ckpt-e0002-r000000");

        // 60 per worker / 8 = 8 steps = 4 rounds per epoch; crash after round 3 of epoch 2 (checkpoint at round 2)
        var store = new io.deepshard.core.train.CheckpointStore(sc.hadoopConfiguration(), uri + "/runs/crashed");
        assertThat(store.directory().toString()).startsWith("hdfs://");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new DistributedTrainer(sc, c).fit(split, null, null, norm,
                new TrainingListener() {
                    @Override public void onRound(int epoch, int round, int rounds, double loss) {
                        if (epoch == 1 && round == 3) throw new IllegalStateException("simulated crash");
                    }
                }, new DistributedTrainer.Checkpointing(store, null))).hasMessageContaining("simulated crash");
        var found = store.latest();
        assertThat(found.name()).isEqualTo("ckpt-e0001-r000002");
        DistributedTrainer.Result resumed = new DistributedTrainer(sc, c).fit(split, null, null, found.checkpoint().normalizer(),
                TrainingListener.NONE, new DistributedTrainer.Checkpointing(store, found.checkpoint()));
        assertThat(resumed.state().params()).isEqualTo(reference.state().params());
        assertThat(resumed.state().updaterState()).isEqualTo(reference.state().updaterState());
    }
}
