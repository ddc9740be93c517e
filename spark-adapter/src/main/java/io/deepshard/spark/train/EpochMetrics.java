package io.deepshard.spark.train;

/**
 * One epoch as the console, metrics.json and benchmarks see it.
 *
 * @param imagesPerSecond training examples per second of training time (sharding + rounds; evaluation excluded)
 */
public record EpochMetrics(int epoch, double trainLoss, double testLoss, double testAccuracy, long examples,
                           int rounds, double trainSeconds, double imagesPerSecond, double elapsedSeconds) {}
