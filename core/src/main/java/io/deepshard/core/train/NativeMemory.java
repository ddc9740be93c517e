package io.deepshard.core.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Frees ND4J arrays' off-heap memory as soon as the training loop is done with them. Left to the garbage collector,
 * the native buffers of every mini-batch (tiny Java objects, large native memory) pile up until a GC happens to run:
 * executor memory grows far beyond the heap, and YARN kills the container. Mini-batches and evaluation outputs are
 * created outside ND4J workspaces, so they can be closed.
 */
public final class NativeMemory {
    private NativeMemory() {}

    public static void free(INDArray... arrays) {
        for (INDArray a : arrays) {
            if (a != null && !a.wasClosed() && a.closeable()) a.close();
        }
    }

    public static void free(DataSet batch) {
        free(batch.getFeatures(), batch.getLabels(), batch.getFeaturesMaskArray(), batch.getLabelsMaskArray());
    }
}
