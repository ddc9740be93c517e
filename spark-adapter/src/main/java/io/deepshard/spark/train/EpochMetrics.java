package io.deepshard.spark.train;

/**
 * One epoch as the console, metrics.json and benchmarks see it. Validation and test values are NaN without those
 * splits.
 *
 * @param imagesPerSecond training examples per second of training time (sharding + rounds; evaluation excluded)
 * @param best            whether early stopping found this epoch the best so far (false without early stopping)
 */
public record EpochMetrics(int epoch, double trainLoss, double validationLoss, double validationAccuracy, double testLoss,
                           double testAccuracy, long examples, int rounds, double trainSeconds, double imagesPerSecond,
                           double elapsedSeconds, boolean best) {}
