package io.deepshard.jobs;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** ND4J's executor settings derived from the Spark config: threads per task slot, native memory from the overhead. */
class ExecutorSettingsTest {
    static SparkConf conf(String... kv) {
        SparkConf c = new SparkConf(false);
        for (int i = 0; i < kv.length; i += 2) c.set(kv[i], kv[i + 1]);
        return c;
    }

    @Test
    void localMastersAreLeftToTheLauncher() {
        assertThat(ExecutorSettings.derive(conf("spark.master", "local[2]")).settings()).isEmpty();
        assertThat(ExecutorSettings.derive(conf("spark.master", "local")).settings()).isEmpty();
    }

    @Test
    void yarnDefaultsGiveOneThreadPerSlotAndLimitsFromTheOverhead() {
        var d = ExecutorSettings.derive(conf("spark.master", "yarn", "spark.executor.memory", "4g", "spark.executor.cores", "4"));
        assertThat(d.settings()).containsEntry("spark.executorEnv.OMP_NUM_THREADS", "1")
                .containsEntry("spark.executorEnv.OPENBLAS_NUM_THREADS", "1")
                // overhead max(384 MB, 10% of 4096) = 409 MB: 306 MB for ND4J, 4505 MB in all
                .containsEntry("spark.executor.extraJavaOptions",
                        "-Dorg.bytedeco.javacpp.maxbytes=306m -Dorg.bytedeco.javacpp.maxphysicalbytes=4505m");
        assertThat(d.warnings()).isEmpty();
    }

    @Test
    void userValuesAreKeptAndAppendedTo() {
        var d = ExecutorSettings.derive(conf("spark.master", "spark://h:7077", "spark.executor.memory", "2g",
                "spark.executor.memoryOverhead", "2g", "spark.executor.extraJavaOptions", "-XX:+UseG1GC",
                "spark.executorEnv.OPENBLAS_NUM_THREADS", "1", "spark.task.cpus", "2"));
        assertThat(d.settings()).containsEntry("spark.executorEnv.OMP_NUM_THREADS", "2")
                .doesNotContainKey("spark.executorEnv.OPENBLAS_NUM_THREADS")
                .containsEntry("spark.executor.extraJavaOptions",
                        "-XX:+UseG1GC -Dorg.bytedeco.javacpp.maxbytes=1536m -Dorg.bytedeco.javacpp.maxphysicalbytes=4096m");
        var own = ExecutorSettings.derive(conf("spark.master", "yarn",
                "spark.executor.extraJavaOptions", "-Dorg.bytedeco.javacpp.maxbytes=10g"));
        assertThat(own.settings()).doesNotContainKey("spark.executor.extraJavaOptions");
    }

    @Test
    void oversubscriptionIsWarnedAbout() {
        var d = ExecutorSettings.derive(conf("spark.master", "yarn", "spark.executor.cores", "4",
                "spark.executorEnv.OMP_NUM_THREADS", "4"));
        assertThat(d.warnings()).singleElement().asString()
                .contains("spark.executorEnv.OMP_NUM_THREADS=4 with 4 task slot(s) per executor")
                .contains("16 native threads on 4 cores");
    }

    @Test
    void localClusterTakesCoresFromTheMasterAndTheHeapFromExecutorMemory() {
        // local-cluster[workers, cores, MB]: MB is each Worker's capacity; an executor's heap is spark.executor.memory
        // (default 1g: a soak run with -Xms2048m in local-cluster[2,1,2048] had executors fail to start, -Xmx1024M)
        var d = ExecutorSettings.derive(conf("spark.master", "local-cluster[2,1,2048]"));
        assertThat(d.settings()).containsEntry("spark.executor.extraJavaOptions",
                "-Dorg.bytedeco.javacpp.maxbytes=288m -Dorg.bytedeco.javacpp.maxphysicalbytes=1408m");
        var big = ExecutorSettings.derive(conf("spark.master", "local-cluster[2,1,2048]", "spark.executor.memory", "1536m"));
        assertThat(big.settings()).containsEntry("spark.executor.extraJavaOptions",
                "-Dorg.bytedeco.javacpp.maxbytes=288m -Dorg.bytedeco.javacpp.maxphysicalbytes=1920m");
    }
}
