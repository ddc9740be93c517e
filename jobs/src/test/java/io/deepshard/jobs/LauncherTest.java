package io.deepshard.jobs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** bin/deepshard's own logic (argument handling, master, native settings), run for real in dry-run mode. */
class LauncherTest {
    static final Path LAUNCHER = Path.of("..", "bin", "deepshard").toAbsolutePath().normalize();

    static List<String> dryRun(Map<String, String> env, String... args) throws IOException, InterruptedException {
        var cmd = new ArrayList<String>();
        cmd.add(LAUNCHER.toString());
        cmd.addAll(List.of(args));
        var pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("OPENBLAS_CORETYPE");
        pb.environment().remove("OMP_NUM_THREADS");
        pb.environment().put("DEEPSHARD_SKIP_BUILD", "1");
        pb.environment().put("DEEPSHARD_PRINT_COMMAND", "1");
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        return out.lines().toList();
    }

    @Test
    void setArgumentsPassThroughVerbatimAndMasterIsExtracted() throws Exception {
        List<String> lines = dryRun(Map.of(), "train", "conf/x.yaml", "--set", "training.optimizer={type: adam, learningRate: 0.001}",
                "--master", "spark://127.0.0.1:7077", "--set", "data.inputShape=[1,28,28]");
        int main = lines.indexOf("io.deepshard.jobs.Cli");
        assertThat(lines.subList(main + 1, lines.size())).containsExactly("train", "conf/x.yaml",
                "--set", "training.optimizer={type: adam, learningRate: 0.001}", "--set", "data.inputShape=[1,28,28]");
        assertThat(lines).contains("-Dspark.master=spark://127.0.0.1:7077")
                .anyMatch(l -> l.startsWith("-Dspark.executor.extraClassPath="))
                .contains("--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "-Dspark.executorEnv.OMP_NUM_THREADS=1");
    }

    @Test
    void localSparkWithOneTaskSlotPerCoreByDefault() throws Exception {
        List<String> lines = dryRun(Map.of(), "train", "c.yaml", "--master=local[3]");
        assertThat(lines).contains("-Dspark.master=local[3]", "OMP_NUM_THREADS=1")
                .noneMatch(l -> l.startsWith("-Dspark.executor.extraClassPath="));
        lines = dryRun(Map.of(), "train", "c.yaml");
        assertThat(lines).contains("-Dspark.master=local[" + Runtime.getRuntime().availableProcessors() + "]");
    }

    @Test
    void openBlasKernelFollowsTheCpuFlagsUnlessTheUserChose() throws Exception {
        String flags = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("flags")).findFirst().orElse("");
        List<String> have = List.of(flags.split("\\s+"));
        String expected = have.contains("avx512f") ? "SkylakeX" : have.contains("avx2") && have.contains("fma") ? "Haswell" : "";
        assertThat(dryRun(Map.of(), "train", "c.yaml")).contains("OPENBLAS_CORETYPE=" + expected);
        assertThat(dryRun(Map.of("OPENBLAS_CORETYPE", "Zen"), "train", "c.yaml"))
                .contains("OPENBLAS_CORETYPE=Zen", "-Dspark.executorEnv.OPENBLAS_CORETYPE=Zen");
    }

    @Test
    void nativeDefaultsLeaveThreadsAndKernelToNd4jAndOpenBlas() throws Exception {
        List<String> lines = dryRun(Map.of("DEEPSHARD_NATIVE_DEFAULTS", "1"), "train", "c.yaml");
        assertThat(lines).contains("OPENBLAS_CORETYPE=", "OMP_NUM_THREADS=")
                .noneMatch(l -> l.startsWith("-Dspark.executorEnv.OMP_NUM_THREADS") || l.startsWith("-Dspark.executorEnv.OPENBLAS"));
    }
}
