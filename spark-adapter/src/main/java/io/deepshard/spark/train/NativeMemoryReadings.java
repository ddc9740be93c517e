package io.deepshard.spark.train;

import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Executors' native memory as JavaCPP sees it, read by every training task when it finishes a round and sent with the
 * task's result as the update of a named accumulator: {@value #PHYSICAL_BYTES} = {@code Pointer.physicalBytes()}
 * (the process's resident memory, what {@code maxphysicalbytes} bounds: the reading that matters) and
 * {@value #NATIVE_BYTES} = {@code Pointer.totalBytes()} (the bytes JavaCPP tracks, what {@code maxbytes} bounds;
 * ND4J 1.0.0-M2.1's arrays are not among them, measured under 1 KB with 220 MB of arrays, but other JavaCPP users
 * and other ND4J versions count there). The sums of these accumulators mean nothing; each task's own update is one
 * reading, and the Spark UI shows it in the task table. {@link ClusterEvents} keeps each executor's peak since the
 * last {@link #drain()}: the training job records them at every epoch end (metrics.json → executorMemory), so a
 * leak shows as a rising series instead of a container killed hours later.
 */
final class NativeMemoryReadings {
    static final String NATIVE_BYTES = "deepshard.nativeBytes";
    static final String PHYSICAL_BYTES = "deepshard.physicalBytes";

    private final Map<String, long[]> peaks = new TreeMap<>();   // executor -> {native, physical}

    synchronized void onTaskEnd(SparkListenerTaskEnd e) {
        if (e.taskInfo() == null) return;
        for (AccumulableInfo a : scala.collection.JavaConverters.seqAsJavaList(e.taskInfo().accumulables())) {
            if (a.name().isEmpty() || a.update().isEmpty()) continue;
            String name = a.name().get();
            int slot = NATIVE_BYTES.equals(name) ? 0 : PHYSICAL_BYTES.equals(name) ? 1 : -1;
            if (slot < 0 || !(a.update().get() instanceof Number n)) continue;
            long[] p = peaks.computeIfAbsent(e.taskInfo().executorId(), k -> new long[2]);
            p[slot] = Math.max(p[slot], n.longValue());
        }
    }

    /**
     * Each executor's peak readings since the last call, in MB to the KB (a small model's native bytes are well under
     * a MB): executor → {nativeMb, physicalMb}; then forgets them.
     */
    synchronized Map<String, double[]> drain() {
        var out = new LinkedHashMap<String, double[]>();
        peaks.forEach((id, p) -> out.put(id, new double[] {mb(p[0]), mb(p[1])}));
        peaks.clear();
        return out;
    }

    private static double mb(long bytes) {
        return Math.round(bytes / 1048.576) / 1000.0;   // MB with 3 decimals (~1 KB)
    }
}
