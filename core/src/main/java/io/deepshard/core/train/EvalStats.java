package io.deepshard.core.train;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import io.deepshard.core.data.Shard;
import io.deepshard.core.transform.Normalizer;

import java.io.Serializable;

/** Mergeable classification statistics: cross-entropy, accuracy, confusion matrix (rows = true class). */
public final class EvalStats implements Serializable {
    private final int numClasses;
    private final long[] confusion;
    private double lossSum;
    private long count;

    public EvalStats(int numClasses) {
        this.numClasses = numClasses;
        this.confusion = new long[numClasses * numClasses];
    }

    /** Evaluates {@code net} (inference mode) on every example of {@code shard}, {@code batchSize} at a time. */
    public static EvalStats of(ComputationGraph net, Shard shard, Normalizer normalizer, int numClasses, int batchSize) {
        EvalStats stats = new EvalStats(numClasses);
        for (int from = 0; from < shard.size(); from += batchSize) {
            int to = Math.min(shard.size(), from + batchSize);
            DataSet batch = shard.batch(from, to, normalizer, numClasses);
            INDArray out = net.output(false, batch.getFeatures())[0];
            int[] labels = new int[to - from];
            for (int i = from; i < to; i++) labels[i - from] = shard.label(i);
            stats.add(out.toFloatMatrix(), labels);
        }
        return stats;
    }

    /** Adds rows of class probabilities with their true labels. */
    public EvalStats add(float[][] probs, int[] labels) {
        for (int i = 0; i < probs.length; i++) {
            float[] p = probs[i];
            int best = 0;
            for (int k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
            confusion[labels[i] * numClasses + best]++;
            lossSum += -Math.log(Math.max(p[labels[i]], 1e-12));
            count++;
        }
        return this;
    }

    public EvalStats merge(EvalStats o) {
        for (int i = 0; i < confusion.length; i++) confusion[i] += o.confusion[i];
        lossSum += o.lossSum;
        count += o.count;
        return this;
    }

    public long count() { return count; }

    public double loss() { return count == 0 ? Double.NaN : lossSum / count; }

    public double accuracy() {
        long correct = 0;
        for (int k = 0; k < numClasses; k++) correct += confusion[k * numClasses + k];
        return count == 0 ? Double.NaN : (double) correct / count;
    }

    /** confusion[trueClass][predictedClass]. */
    public long[][] confusion() {
        long[][] m = new long[numClasses][numClasses];
        for (int t = 0; t < numClasses; t++) System.arraycopy(confusion, t * numClasses, m[t], 0, numClasses);
        return m;
    }
}
