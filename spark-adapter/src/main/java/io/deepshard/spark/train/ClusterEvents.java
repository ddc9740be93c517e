package io.deepshard.spark.train;

import org.apache.spark.TaskEndReason;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.executor.ExecutorMetrics;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cluster events a training run should leave a trace of: executors lost and added, and failed tasks (which Spark
 * retries; a round is idempotent, so a retry recomputes the same result). Each is logged as it happens and kept for
 * the run's {@code metrics.json} ({@code clusterEvents}). Register with {@code sc.sc().addSparkListener(events)}.
 */
public final class ClusterEvents extends SparkListener {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterEvents.class);
    private final List<Map<String, Object>> events = new ArrayList<>();
    private boolean executorLost;
    private final Map<String, long[]> memory = new java.util.TreeMap<>();   // executor -> {RSS, heap} bytes, latest
    private final NativeMemoryReadings nativeMemory = new NativeMemoryReadings();

    @Override public void onExecutorRemoved(SparkListenerExecutorRemoved e) {
        LOG.warn("executor {} lost: {}", e.executorId(), e.reason());
        record("executorLost", "executor " + e.executorId() + ": " + e.reason());
        synchronized (this) { executorLost = true; }
    }

    @Override public void onExecutorAdded(SparkListenerExecutorAdded e) {
        boolean replacement;
        synchronized (this) { replacement = executorLost; }
        if (replacement) {
            LOG.warn("executor {} added on {} ({} cores)", e.executorId(), e.executorInfo().executorHost(), e.executorInfo().totalCores());
            record("executorAdded", "executor " + e.executorId() + " on " + e.executorInfo().executorHost());
        }
    }

    @Override public void onTaskEnd(SparkListenerTaskEnd e) {
        nativeMemory.onTaskEnd(e);
        TaskEndReason reason = e.reason();
        if (e.taskInfo() != null && e.taskInfo().failed()) {
            String what = "stage " + e.stageId() + " task " + e.taskInfo().index() + " attempt " + e.taskInfo().attemptNumber()
                    + " on executor " + e.taskInfo().executorId() + " failed (" + reason.getClass().getSimpleName().replace("$", "")
                    + "); Spark retries it";
            LOG.warn(what);
            record("taskFailed", what);
        }
    }

    /**
     * Executors' memory from their heartbeats: the JVM process tree's resident set (needs
     * {@code spark.executor.processTreeMetrics.enabled}, which jobs turn on) and the JVM heap in use.
     */
    @Override public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate e) {
        long rss = 0, heap = 0;
        for (ExecutorMetrics m : scala.collection.JavaConverters.mapAsJavaMap(e.executorUpdates()).values()) {
            rss = Math.max(rss, m.getMetricValue("ProcessTreeJVMRSSMemory"));
            heap = Math.max(heap, m.getMetricValue("JVMHeapMemory"));
        }
        if (rss > 0 || heap > 0) {
            synchronized (this) { memory.put(e.execId(), new long[] {rss, heap}); }
        }
    }

    /**
     * Every executor's memory: {executor, rssMb, heapMb} from its latest heartbeat (rssMb 0 where unavailable), and
     * {nativeMb, physicalMb}, the peaks of JavaCPP's readings by its training tasks since the previous call
     * ({@link NativeMemoryReadings}; absent for an executor that ran no training task since).
     */
    public synchronized List<Map<String, Object>> latestMemory() {
        var out = new ArrayList<Map<String, Object>>();
        Map<String, double[]> natives = nativeMemory.drain();
        var ids = new java.util.TreeSet<>(memory.keySet());
        ids.addAll(natives.keySet());
        for (String id : ids) {
            var m = new LinkedHashMap<String, Object>();
            m.put("executor", id);
            long[] v = memory.getOrDefault(id, new long[2]);
            m.put("rssMb", v[0] >> 20);
            m.put("heapMb", v[1] >> 20);
            double[] n = natives.get(id);
            if (n != null) {
                m.put("nativeMb", n[0]);
                m.put("physicalMb", n[1]);
            }
            out.add(m);
        }
        return out;
    }

    private synchronized void record(String type, String detail) {
        var m = new LinkedHashMap<String, Object>();
        m.put("time", Instant.now().toString());
        m.put("type", type);
        m.put("detail", detail);
        events.add(m);
    }

    /** The events so far, oldest first. */
    public synchronized List<Map<String, Object>> events() { return List.copyOf(events); }
}
