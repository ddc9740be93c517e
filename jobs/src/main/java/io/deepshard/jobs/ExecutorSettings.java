package io.deepshard.jobs;

import org.apache.spark.SparkConf;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What executors need for ND4J, derived from the Spark config before the context starts, unless the user set it:
 * <ul>
 *   <li><b>One native thread per task slot</b>: {@code spark.executorEnv.OMP_NUM_THREADS} and
 *   {@code OPENBLAS_NUM_THREADS} = {@code spark.task.cpus} (default 1). An executor runs {@code executor.cores /
 *   task.cpus} tasks at once; more threads per task oversubscribe its cores (measured: -35% with 2 x 2 threads on 2
 *   cores). A user value that oversubscribes is kept, with a warning.</li>
 *   <li><b>Bounded native memory</b>: ND4J's arrays live outside the heap, in the container's memory overhead.
 *   {@code -Dorg.bytedeco.javacpp.maxbytes} = 3/4 of {@code spark.executor.memoryOverhead} (the rest is the JVM's own
 *   native memory: metaspace, threads, code) and {@code maxphysicalbytes} = heap + overhead, added to
 *   {@code spark.executor.extraJavaOptions}. The one that bounds ND4J is {@code maxphysicalbytes}: ND4J 1.0.0-M2.1
 *   allocates its arrays outside JavaCPP's byte count (measured: {@code Pointer.totalBytes()} stays under 1 KB with
 *   220 MB of arrays), but JavaCPP compares the process's resident memory with {@code maxphysicalbytes} whenever a
 *   pointer is allocated, which ND4J does on every op. An executor that needs more then fails with
 *   {@code OutOfMemoryError: Physical memory usage is too high: physicalBytes (418M) > maxPhysicalBytes (400M)},
 *   instead of being killed by YARN or the kernel without a word.</li>
 * </ul>
 * Nothing is derived for {@code local[...]} masters: there the driver JVM is the executor, and the launcher sets it up.
 */
final class ExecutorSettings {
    private static final Pattern LOCAL_CLUSTER = Pattern.compile("local-cluster\\[\\s*(\\d+)\\s*,\\s*(\\d+)\\s*,\\s*(\\d+)\\s*]");

    /** Settings to add to the config, and warnings about the user's own. */
    record Derived(Map<String, String> settings, List<String> warnings) {}

    private ExecutorSettings() {}

    static Derived derive(SparkConf conf) {
        var settings = new LinkedHashMap<String, String>();
        var warnings = new ArrayList<String>();
        String master = conf.get("spark.master", "");
        if (master.equals("local") || master.startsWith("local[")) return new Derived(settings, warnings);

        int taskCpus = conf.getInt("spark.task.cpus", 1);
        Matcher lc = LOCAL_CLUSTER.matcher(master);
        int cores = lc.matches() ? Integer.parseInt(lc.group(2)) : conf.getInt("spark.executor.cores", 1);
        for (String var : List.of("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")) {
            String key = "spark.executorEnv." + var;
            if (!conf.contains(key)) {
                settings.put(key, Integer.toString(taskCpus));
            } else if (var.equals("OMP_NUM_THREADS")) {
                int threads = parseOr(conf.get(key), -1);
                int slots = Math.max(1, cores / taskCpus);
                if (threads > taskCpus) {
                    warnings.add(String.format(Locale.ROOT, "%s=%d with %d task slot(s) per executor (%d cores, spark.task.cpus=%d): "
                            + "%d native threads on %d cores oversubscribe them; set it to spark.task.cpus (%d)",
                            key, threads, slots, cores, taskCpus, threads * slots, cores, taskCpus));
                }
            }
        }

        String opts = conf.get("spark.executor.extraJavaOptions", "");
        if (!opts.contains("org.bytedeco.javacpp.maxbytes")) {
            // on local-cluster[N, cores, MB] too: MB is the Worker's capacity, not the executor's heap
            long heapMb = conf.getSizeAsMb("spark.executor.memory", "1g");
            long overheadMb = conf.contains("spark.executor.memoryOverhead")
                    ? conf.getSizeAsMb("spark.executor.memoryOverhead")
                    : Math.max(384, (long) (conf.getDouble("spark.executor.memoryOverheadFactor", 0.10) * heapMb));
            String limits = String.format(Locale.ROOT, "-Dorg.bytedeco.javacpp.maxbytes=%dm -Dorg.bytedeco.javacpp.maxphysicalbytes=%dm",
                    overheadMb * 3 / 4, heapMb + overheadMb);
            settings.put("spark.executor.extraJavaOptions", opts.isBlank() ? limits : opts + " " + limits);
        }
        return new Derived(settings, warnings);
    }

    private static int parseOr(String s, int dflt) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            return dflt;
        }
    }
}
