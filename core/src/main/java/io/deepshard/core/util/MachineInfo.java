package io.deepshard.core.util;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Facts about the machine a run happens on, read (never assumed): CPU model, the SIMD flags that matter, cores. */
public final class MachineInfo {
    private static final List<String> FLAGS = List.of("avx512f", "avx512_bf16", "avx2", "fma", "avx");

    private MachineInfo() {}

    public static Map<String, Object> describe() {
        var m = new LinkedHashMap<String, Object>();
        String model = "unknown";
        var flags = new java.util.ArrayList<String>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") && model.equals("unknown")) model = line.substring(line.indexOf(':') + 1).trim();
                if (line.startsWith("flags") && flags.isEmpty()) {
                    var have = java.util.Set.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
                    for (String f : FLAGS) if (have.contains(f)) flags.add(f);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: leave unknown
        }
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "unknown";
        }
        m.put("host", host);
        m.put("cpuModel", model);
        m.put("cpuFlags", flags);
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("arch", System.getProperty("os.arch"));
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        m.put("maxHeapBytes", Runtime.getRuntime().maxMemory());
        var env = new LinkedHashMap<String, String>();
        for (String k : List.of("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")) {
            String v = System.getenv(k);
            if (v != null) env.put(k, v);
        }
        m.put("nativeSettings", env);
        return m;
    }
}
