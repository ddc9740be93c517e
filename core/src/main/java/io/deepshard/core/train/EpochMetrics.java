package io.deepshard.core.train;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One epoch as the console, metrics.json and benchmarks see it. Validation and test values are NaN without those
 * splits.
 *
 * @param testAccuracy    fraction of correct test predictions; for segmentation the pixel accuracy
 * @param imagesPerSecond training examples per second of training time (sharding + rounds; evaluation excluded)
 * @param best            whether early stopping found this epoch the best so far (false without early stopping)
 * @param meanIoU         segmentation only (null otherwise): IoU averaged over the classes present in the truth or
 *                        the prediction, on the test split (the validation split when there is no test split)
 * @param roundTiming     the epoch's averaging rounds: wall time split into compute, broadcast and overhead (null
 *                        with {@code dl4j-paramavg}, whose rounds are inside DL4J)
 * @param learningRate    the learning rate of the epoch's last step (null in checkpoints of older versions)
 */
public record EpochMetrics(int epoch, double trainLoss, double validationLoss, double validationAccuracy, double testLoss,
                           double testAccuracy, long examples, int rounds, double trainSeconds, double imagesPerSecond,
                           double elapsedSeconds, boolean best, @JsonInclude(JsonInclude.Include.NON_NULL) Double meanIoU,
                           @JsonInclude(JsonInclude.Include.NON_NULL) RoundTiming roundTiming,
                           @JsonInclude(JsonInclude.Include.NON_NULL) Double learningRate) {

    /** The learning rate {@code net}'s updater uses at {@code iteration} (its first layer with an updater), or null. */
    public static Double learningRateOf(org.deeplearning4j.nn.graph.ComputationGraph net, long iteration, int epoch) {
        for (var layer : net.getLayers()) {
            if (layer.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer b && b.getIUpdater() != null
                    && layer.numParams() > 0) {
                double lr = b.getIUpdater().getLearningRate(Math.toIntExact(Math.max(0, iteration - 1)), epoch);
                return Double.isNaN(lr) ? null : lr;
            }
        }
        return null;
    }
}
