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

    static SparkSession session(String appName) { return session(appName, java.util.Map.of()); }

    /** With {@code settings} applied unless the user set them (e.g. {@code spark.scheduler.mode=FAIR} for concurrent trials). */
    static SparkSession session(String appName, java.util.Map<String, String> settings) {
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
        settings.forEach((k, v) -> builder.config(k, probe.get(k, v)));
        // Kryo (often set in a cluster's spark-defaults) needs help with Java records
        String registrator = io.deepshard.spark.KryoRecords.registratorSetting(probe);
        if (registrator != null) {
            LOG.info("Kryo serializer: spark.kryo.registrator={}", registrator);
            builder.config("spark.kryo.registrator", registrator);
        }
        return builder
                .appName(appName)
                .config("spark.ui.showConsoleProgress", "false") // our own progress line instead of Spark's stage bars
                // executors' resident memory in their heartbeats (metrics.json -> executorMemory), unless set otherwise
                .config("spark.executor.processTreeMetrics.enabled", probe.get("spark.executor.processTreeMetrics.enabled", "true"))
                // a round's results (one model-sized state per worker) up to 16 MB go straight back in the task's
                // status message instead of through the block manager (Spark's default stops at 1 MB): LeNet-5 rounds
                // 74 -> 43 ms on local[2]. Not higher: the message is copied several times on the executor's heap, and
                // an 89 MB ResNet-18 result sent that way killed a 2 GB executor (exit 52, OutOfMemoryError).
                .config("spark.task.maxDirectResultSize", probe.get("spark.task.maxDirectResultSize", "16m"))
                .getOrCreate();
    }
}
