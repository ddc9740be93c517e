package io.deepshard.spark.train;

import org.apache.spark.TaskEndReason;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
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
        TaskEndReason reason = e.reason();
        if (e.taskInfo() != null && e.taskInfo().failed()) {
            String what = "stage " + e.stageId() + " task " + e.taskInfo().index() + " attempt " + e.taskInfo().attemptNumber()
                    + " on executor " + e.taskInfo().executorId() + " failed (" + reason.getClass().getSimpleName().replace("$", "")
                    + "); Spark retries it";
            LOG.warn(what);
            record("taskFailed", what);
        }
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
