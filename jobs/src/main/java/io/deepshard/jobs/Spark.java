package io.deepshard.jobs;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * Starts (or joins) the Spark session of a job. Never sets the master: spark-submit supplies it on a cluster, and the
 * launcher supplies {@code local[N]} by default ({@code -Dspark.master}). On a cluster, executors get ND4J's thread
 * and native-memory settings unless the user gave them ({@link ExecutorSettings}).
 */
final class Spark {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Spark.class);

    private Spark() {}

    static SparkSession session(String appName) {
        SparkConf probe = new SparkConf();
        if (!probe.contains("spark.master")) {
            throw new IllegalStateException("no Spark master is set: run jobs through bin/deepshard (local Spark by default, "
                    + "--master URL for a cluster) or spark-submit, or pass -Dspark.master=local[*] to java");
        }
        var builder = SparkSession.builder();
        ExecutorSettings.Derived executors = ExecutorSettings.derive(probe);
        executors.settings().forEach((k, v) -> {
            LOG.info("executors: {}={}", k, v);
            builder.config(k, v);
        });
        executors.warnings().forEach(LOG::warn);
        return builder
                .appName(appName)
                .config("spark.ui.showConsoleProgress", "false") // our own progress line instead of Spark's stage bars
                // executors' resident memory in their heartbeats (metrics.json -> executorMemory), unless set otherwise
                .config("spark.executor.processTreeMetrics.enabled", probe.get("spark.executor.processTreeMetrics.enabled", "true"))
                // a round's results (one model-sized state per worker) go straight back in the task's status message
                // instead of through the block manager above 1 MB: LeNet-5 rounds 74 -> 43 ms, ResNet-18 0.51 -> 0.41 s
                // (bench/ROUNDS.md). Spark caps it at spark.rpc.message.maxSize (128 MB); larger results go the old way.
                .config("spark.task.maxDirectResultSize", probe.get("spark.task.maxDirectResultSize", "128m"))
                .getOrCreate();
    }
}
