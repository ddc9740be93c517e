package io.deepshard.core.train;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import io.deepshard.core.data.Shard;
import io.deepshard.core.transform.Normalizer;

import java.io.Serializable;

/**
 * Mergeable evaluation statistics: cross-entropy, accuracy, confusion matrix (rows = true class).
 *
 * <p>For segmentation ({@link #isPerPixel()}) every pixel counts as one prediction: {@link #accuracy()} is the pixel
 * accuracy, {@link #loss()} the mean per-pixel cross-entropy and {@link #confusion()} counts pixels. From the
 * confusion matrix come per-class IoU (Jaccard: TP / (TP + FP + FN)) and Dice (2TP / (2TP + FP + FN)); a class absent
 * from both the truth and the predictions has neither (NaN) and is left out of {@link #meanIoU()} and
 * {@link #meanDice()}, so the mean is over the classes present in the truth or the prediction.
 */
public final class EvalStats implements Serializable {
    /** Segmentation evaluation batches hold at most this many pixels (the network's activations scale with it). */
    static final int MAX_BATCH_PIXELS = 1 << 18;
    /** Top-k accuracy counts a prediction right when the true class is among the k most probable (ties: not counted). */
    public static final int DEFAULT_TOP_K = 5;

    private final int numClasses;
    private int topK;              // adopted like perPixel
    private long topKCorrect;
    private boolean perPixel;      // adopted from the other side when merging into empty statistics
    private final long[] confusion;
    private double lossSum;
    private long count;

    public EvalStats(int numClasses) { this(numClasses, false); }

    public EvalStats(int numClasses, boolean perPixel) { this(numClasses, perPixel, DEFAULT_TOP_K); }

    /** @param topK the k of {@link #topKAccuracy()}, capped at the number of classes */
    public EvalStats(int numClasses, boolean perPixel, int topK) {
        if (topK < 1) throw new IllegalArgumentException("top-k must be at least 1, got " + topK);
        this.numClasses = numClasses;
        this.topK = Math.min(topK, numClasses);
        this.perPixel = perPixel;
        this.confusion = new long[numClasses * numClasses];
    }

    /**
     * Evaluates {@code net} (inference mode) on every example of {@code shard}, {@code batchSize} at a time (fewer for
     * segmentation, so a batch holds at most {@value #MAX_BATCH_PIXELS} pixels). Shards with masks are evaluated per pixel.
     */
    public static EvalStats of(ComputationGraph net, Shard shard, Normalizer normalizer, int numClasses, int batchSize) {
        return of(net, shard, normalizer, numClasses, batchSize, DEFAULT_TOP_K);
    }

    /** As {@link #of(ComputationGraph, Shard, Normalizer, int, int)} with the k of the top-k accuracy. */
    public static EvalStats of(ComputationGraph net, Shard shard, Normalizer normalizer, int numClasses, int batchSize, int topK) {
        return of(x -> net.output(false, x)[0], shard, normalizer, numClasses, batchSize, topK);
    }

    /**
     * As {@link #of(ComputationGraph, Shard, Normalizer, int, int, int)} with the network's inference-mode forward pass
     * given ({@code features -> probabilities}, a new array each call): DL4J's {@code output}, or the direct oneDNN engine's.
     */
    public static EvalStats of(java.util.function.UnaryOperator<INDArray> forward, Shard shard, Normalizer normalizer, int numClasses, int batchSize, int topK) {
        EvalStats stats = new EvalStats(numClasses, shard.hasMasks(), topK);
        int plane = shard.maskSize();
        int b = shard.hasMasks() ? Math.max(1, Math.min(batchSize, MAX_BATCH_PIXELS / plane)) : batchSize;
        for (int from = 0; from < shard.size(); from += b) {
            int to = Math.min(shard.size(), from + b);
            DataSet batch = shard.batch(from, to, normalizer, numClasses);
            INDArray out = forward.apply(batch.getFeatures());
            if (shard.hasMasks()) {
                int[] truth = new int[(to - from) * plane];
                for (int i = from; i < to; i++) for (int p = 0; p < plane; p++) truth[(i - from) * plane + p] = shard.maskValue(i, p);
                INDArray flat = Nd4j.toFlattened('c', out);
                stats.addPixels(flat.toFloatVector(), truth, plane);
                NativeMemory.free(flat);
            } else {
                int[] labels = new int[to - from];
                for (int i = from; i < to; i++) labels[i - from] = shard.label(i);
                stats.add(out.toFloatMatrix(), labels);
            }
            NativeMemory.free(batch);
            NativeMemory.free(out);
        }
        return stats;
    }

    /** Adds rows of class probabilities with their true labels. */
    public EvalStats add(float[][] probs, int[] labels) {
        for (int i = 0; i < probs.length; i++) {
            float[] p = probs[i];
            int best = 0, above = 0;
            float truth = p[labels[i]];
            for (int k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
            for (float v : p) if (v > truth) above++;
            if (above < topK) topKCorrect++;
            confusion[labels[i] * numClasses + best]++;
            lossSum += -Math.log(Math.max(p[labels[i]], 1e-12));
            count++;
        }
        return this;
    }

    /**
     * Adds per-pixel class probabilities {@code [n, classes, H, W]} (flat, C order; {@code plane} = H*W) with the true
     * class of every pixel ({@code n*plane} ids, example by example, row-major).
     */
    public EvalStats addPixels(float[] probs, int[] truth, int plane) {
        int n = truth.length / plane;
        if ((long) n * plane != truth.length || (long) n * numClasses * plane != probs.length) {
            throw new IllegalArgumentException("probabilities of length " + probs.length + " do not match " + truth.length
                    + " labels of " + plane + " pixels per example and " + numClasses + " classes");
        }
        for (int i = 0; i < n; i++) {
            int base = i * numClasses * plane;
            for (int p = 0; p < plane; p++) {
                int best = 0;
                float bestP = probs[base + p];
                for (int k = 1; k < numClasses; k++) {
                    float v = probs[base + k * plane + p];
                    if (v > bestP) { bestP = v; best = k; }
                }
                int t = truth[i * plane + p];
                float tp = probs[base + t * plane + p];
                int above = 0;
                for (int k = 0; k < numClasses; k++) if (probs[base + k * plane + p] > tp) above++;
                if (above < topK) topKCorrect++;
                confusion[t * numClasses + best]++;
                lossSum += -Math.log(Math.max(probs[base + t * plane + p], 1e-12));
            }
        }
        count += truth.length;
        return this;
    }

    /** Adds {@code o} into these statistics; empty statistics (of an empty shard) merge with either kind. */
    public EvalStats merge(EvalStats o) {
        if (o.count == 0 && o.numClasses == numClasses) return this;
        if (count == 0) {
            perPixel = o.perPixel;
            topK = o.topK;
        }
        if (o.numClasses != numClasses || o.perPixel != perPixel || o.topK != topK) {
            throw new IllegalArgumentException("cannot merge statistics of " + o.numClasses + (o.perPixel ? " per-pixel" : "")
                    + " classes (top-" + o.topK + ") into " + numClasses + (perPixel ? " per-pixel" : "") + " (top-" + topK + ")");
        }
        topKCorrect += o.topKCorrect;
        for (int i = 0; i < confusion.length; i++) confusion[i] += o.confusion[i];
        lossSum += o.lossSum;
        count += o.count;
        return this;
    }

    public int numClasses() { return numClasses; }

    /** True for segmentation: counts, accuracy, loss and the confusion matrix are per pixel. */
    public boolean isPerPixel() { return perPixel; }

    /** Predictions counted: examples, or pixels for segmentation. */
    public long count() { return count; }

    public double loss() { return count == 0 ? Double.NaN : lossSum / count; }

    /** Fraction of correct predictions (segmentation: pixel accuracy). */
    public double accuracy() {
        long correct = 0;
        for (int k = 0; k < numClasses; k++) correct += confusion[k * numClasses + k];
        return count == 0 ? Double.NaN : (double) correct / count;
    }

    /** The k of {@link #topKAccuracy()}. */
    public int topK() { return topK; }

    /** Fraction of predictions whose true class is among the {@link #topK()} most probable (segmentation: per pixel). */
    public double topKAccuracy() { return count == 0 ? Double.NaN : (double) topKCorrect / count; }

    /** Of the predictions of class {@code k}, the fraction that are right; NaN when {@code k} was never predicted. */
    public double precision(int k) {
        long predicted = predictedCount(k);
        return predicted == 0 ? Double.NaN : (double) confusion[k * numClasses + k] / predicted;
    }

    /** Of the examples of class {@code k}, the fraction predicted as {@code k}; NaN when {@code k} is absent from the truth. */
    public double recall(int k) {
        long truth = truthCount(k);
        return truth == 0 ? Double.NaN : (double) confusion[k * numClasses + k] / truth;
    }

    /** Harmonic mean of precision and recall of class {@code k} (= {@link #dice}); NaN when k is in neither. */
    public double f1(int k) { return dice(k); }

    /** Examples (pixels) whose true class is {@code k}. */
    public long support(int k) { return truthCount(k); }

    /** Unweighted mean of the per-class F1 over the classes present in the truth or the prediction. */
    public double macroF1() { return meanOver(this::f1); }

    /**
     * The statistics as JSON-ready maps ({@code evaluation.json}): counts, accuracy, top-k, loss, per-class precision,
     * recall, F1 and support by class name, the confusion matrix (rows = true class); for segmentation also IoU and
     * Dice. Undefined values (a class never predicted) are null.
     */
    public java.util.Map<String, Object> toJson(java.util.List<String> classNames) {
        var m = new java.util.LinkedHashMap<String, Object>();
        m.put("kind", perPixel ? "segmentation" : "classification");
        m.put(perPixel ? "pixels" : "examples", count);
        m.put(perPixel ? "pixelAccuracy" : "accuracy", nullIfNaN(accuracy()));
        m.put("top" + topK + "Accuracy", nullIfNaN(topKAccuracy()));
        m.put("loss", nullIfNaN(loss()));
        m.put("macroF1", nullIfNaN(macroF1()));
        if (perPixel) {
            m.put("meanIoU", nullIfNaN(meanIoU()));
            m.put("meanDice", nullIfNaN(meanDice()));
        }
        var perClass = new java.util.LinkedHashMap<String, Object>();
        for (int k = 0; k < numClasses; k++) {
            var c = new java.util.LinkedHashMap<String, Object>();
            c.put("precision", nullIfNaN(precision(k)));
            c.put("recall", nullIfNaN(recall(k)));
            c.put("f1", nullIfNaN(f1(k)));
            if (perPixel) c.put("iou", nullIfNaN(iou(k)));
            c.put("support", support(k));
            perClass.put(k < classNames.size() ? classNames.get(k) : Integer.toString(k), c);
        }
        m.put("perClass", perClass);
        m.put("classes", classNames);
        m.put("confusionMatrix", confusion());
        return m;
    }

    private static Double nullIfNaN(double v) { return Double.isNaN(v) ? null : v; }

    /** Intersection over union of class {@code k}: TP / (TP + FP + FN); NaN when k is in neither truth nor prediction. */
    public double iou(int k) {
        long tp = confusion[k * numClasses + k], union = truthCount(k) + predictedCount(k) - tp;
        return union == 0 ? Double.NaN : (double) tp / union;
    }

    /** Dice (F1) of class {@code k}: 2TP / (2TP + FP + FN); NaN when k is in neither truth nor prediction. */
    public double dice(int k) {
        long tp = confusion[k * numClasses + k], both = truthCount(k) + predictedCount(k);
        return both == 0 ? Double.NaN : 2.0 * tp / both;
    }

    /** Mean of {@link #iou} over the classes present in the truth or the prediction. */
    public double meanIoU() { return meanOver(this::iou); }

    /** Mean of {@link #dice} over the classes present in the truth or the prediction. */
    public double meanDice() { return meanOver(this::dice); }

    public double[] perClassIoU() {
        double[] out = new double[numClasses];
        for (int k = 0; k < numClasses; k++) out[k] = iou(k);
        return out;
    }

    public double[] perClassDice() {
        double[] out = new double[numClasses];
        for (int k = 0; k < numClasses; k++) out[k] = dice(k);
        return out;
    }

    /** confusion[trueClass][predictedClass]. */
    public long[][] confusion() {
        long[][] m = new long[numClasses][numClasses];
        for (int t = 0; t < numClasses; t++) System.arraycopy(confusion, t * numClasses, m[t], 0, numClasses);
        return m;
    }

    private long truthCount(int k) {
        long s = 0;
        for (int p = 0; p < numClasses; p++) s += confusion[k * numClasses + p];
        return s;
    }

    private long predictedCount(int k) {
        long s = 0;
        for (int t = 0; t < numClasses; t++) s += confusion[t * numClasses + k];
        return s;
    }

    private double meanOver(java.util.function.IntToDoubleFunction perClass) {
        double sum = 0;
        int n = 0;
        for (int k = 0; k < numClasses; k++) {
            double v = perClass.applyAsDouble(k);
            if (!Double.isNaN(v)) { sum += v; n++; }
        }
        return n == 0 ? Double.NaN : sum / n;
    }
}
