package io.deepshard.spark.train;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One epoch as the console, metrics.json and benchmarks see it.
 *
 * @param testAccuracy    fraction of correct test predictions; for segmentation the pixel accuracy
 * @param imagesPerSecond training examples per second of training time (sharding + rounds; evaluation excluded)
 * @param meanIoU         segmentation only (null otherwise): test IoU averaged over the classes present in the truth or
 *                        the prediction
 */
public record EpochMetrics(int epoch, double trainLoss, double testLoss, double testAccuracy, long examples,
                           int rounds, double trainSeconds, double imagesPerSecond, double elapsedSeconds,
                           @JsonInclude(JsonInclude.Include.NON_NULL) Double meanIoU) {

    /** A classification epoch. */
    public EpochMetrics(int epoch, double trainLoss, double testLoss, double testAccuracy, long examples,
                        int rounds, double trainSeconds, double imagesPerSecond, double elapsedSeconds) {
        this(epoch, trainLoss, testLoss, testAccuracy, examples, rounds, trainSeconds, imagesPerSecond, elapsedSeconds, null);
    }
}
