package io.deepshard.spark.predict;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.NativeMemory;
import io.deepshard.core.train.NetworkPool;
import io.deepshard.core.transform.Normalizer;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Batch inference of a trained model over records in Spark. The model (network definition, parameters, normalizer)
 * is broadcast, so each executor receives it once; each executor JVM then builds a network from it once per
 * concurrently running task and keeps it for the following tasks of the same job ({@link #LOADS} counts those
 * builds). Records are predicted per partition in batches of {@value #BATCH}, normalized exactly as in training.
 */
public final class DistributedPredictor {
    /** Name of the accumulator counting networks built on executors (at most one per task slot per executor). */
    public static final String LOADS = "deepshard.modelLoads";
    static final int BATCH = 256;

    private DistributedPredictor() {}

    /**
     * One record's prediction: class probabilities for a classifier; for a segmentation model {@code mask} holds the
     * most probable class of every pixel (row-major) and {@code probabilities} each class's share of the pixels.
     */
    public record Prediction(long id, int label, float[] probabilities, byte[] mask) implements Serializable {
        /** The most probable class (segmentation: the class covering most pixels). */
        public int predicted() {
            int best = 0;
            for (int k = 1; k < probabilities.length; k++) if (probabilities[k] > probabilities[best]) best = k;
            return best;
        }
    }

    /** What is broadcast: everything an executor needs to rebuild the network and use it. */
    record ShippedModel(String graphJson, float[] params, Normalizer normalizer, int numClasses, String engine) implements Serializable {}

    /**
     * Predictions of {@code records} (records of shape {@code inputShape}), in the records' partitions and order. The
     * result is lazy: the caller runs it (and then destroys nothing: the broadcast is released with the returned RDD's
     * lineage by Spark's cleaner).
     */
    public static JavaRDD<Prediction> predict(JavaSparkContext sc, JavaRDD<ImageRecord> records, int[] inputShape, ModelBundle bundle,
                                              LongAccumulator loads) {
        ComputationGraph net = bundle.network();
        int numClasses = bundle.labels().size();
        var shipped = new ShippedModel(net.getConfiguration().toJson(), net.params().toFloatVector(), bundle.normalizer(), numClasses,
                bundle.engine());
        Broadcast<ShippedModel> model = sc.broadcast(shipped);
        // not the broadcast's id: ids restart with every SparkContext, and a JVM may see several (local mode, tests,
        // notebooks), so an id could name another context's model still cached here
        String key = java.util.UUID.randomUUID().toString();
        int[] shape = inputShape.clone();
        return records.mapPartitionsWithIndex((p, it) -> {
            List<ImageRecord> list = new ArrayList<>();
            it.forEachRemaining(list::add);
            if (list.isEmpty()) return java.util.Collections.<Prediction>emptyIterator();
            Shard shard = Shard.of(p, list, shape);
            ComputationGraph g = Loaded.borrow(key, model, loads);
            try {
                return predictShard(g, shard, model.value()).iterator();
            } finally {
                Loaded.release(key, g);
            }
        }, true);
    }

    static List<Prediction> predictShard(ComputationGraph g, Shard shard, ShippedModel m) {
        var out = new ArrayList<Prediction>(shard.size());
        // the direct oneDNN engine where the model's engine is onednn and it runs the network (the same probabilities
        // as DL4J's output, OneDnnNetTest), else DL4J's layers
        var fast = NetworkPool.directEngine(g, m.engine());
        for (int from = 0; from < shard.size(); from += BATCH) {
            int to = Math.min(shard.size(), from + BATCH);
            DataSet batch = shard.batch(from, to, m.normalizer(), m.numClasses());
            INDArray y = fast != null ? fast.output(g, batch.getFeatures()) : g.output(false, batch.getFeatures())[0];
            if (y.rank() == 2) {
                float[][] rows = y.toFloatMatrix();
                for (int i = from; i < to; i++) out.add(new Prediction(shard.id(i), shard.label(i), rows[i - from], null));
            } else {                       // [n, classes, H, W]
                int k = (int) y.size(1), px = (int) (y.size(2) * y.size(3));
                INDArray flatView = Nd4j.toFlattened('c', y);
                float[] flat = flatView.toFloatVector();
                NativeMemory.free(flatView);
                for (int i = from; i < to; i++) {
                    int base = (i - from) * k * px;
                    byte[] mask = new byte[px];
                    int[] count = new int[k];
                    for (int q = 0; q < px; q++) {
                        int best = 0;
                        for (int c = 1; c < k; c++) if (flat[base + c * px + q] > flat[base + best * px + q]) best = c;
                        mask[q] = (byte) best;
                        count[best]++;
                    }
                    float[] share = new float[k];   // exact count / pixels (summing 1/px drifted by up to 1e-4)
                    for (int c = 0; c < k; c++) share[c] = (float) count[c] / px;
                    out.add(new Prediction(shard.id(i), shard.label(i), share, mask));
                }
            }
            NativeMemory.free(batch);
            NativeMemory.free(y);
        }
        return out;
    }

    /** Networks built on this JVM for the newest shipped model, one per concurrently running task. */
    static final class Loaded {
        private static final Map<String, Queue<ComputationGraph>> BY_MODEL = new ConcurrentHashMap<>();

        static ComputationGraph borrow(String key, Broadcast<ShippedModel> model, LongAccumulator loads) {
            if (!BY_MODEL.containsKey(key)) {
                // an older job's model: its networks go, with the direct engines made for them
                BY_MODEL.entrySet().removeIf(e -> {
                    if (e.getKey().equals(key)) return false;
                    e.getValue().forEach(NetworkPool::forget);
                    return true;
                });
            }
            Queue<ComputationGraph> q = BY_MODEL.computeIfAbsent(key, k -> new ConcurrentLinkedQueue<>());
            ComputationGraph g = q.poll();
            if (g == null) {
                ShippedModel m = model.value();
                g = NetworkPool.build(m.graphJson(), m.engine());
                INDArray p = Nd4j.create(m.params(), new long[] {1, m.params().length}, 'c');
                g.setParams(p);
                NativeMemory.free(p);
                if (loads != null) loads.add(1);
            }
            return g;
        }

        static void release(String key, ComputationGraph g) {
            Queue<ComputationGraph> q = BY_MODEL.get(key);
            if (q != null) q.add(g);
        }
    }
}
