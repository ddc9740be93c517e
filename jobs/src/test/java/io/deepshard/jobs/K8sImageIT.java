package io.deepshard.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Spark-on-Kubernetes image ({@code conf/kubernetes/Dockerfile}). No container engine runs on the build machine,
 * so the image itself is not built here; what can be checked is: every file the Dockerfile copies exists after
 * {@code mvn package} (the app jar's name follows the project version), the paths the Kubernetes settings use
 * ({@code local:///opt/deepshard/...}, {@code /opt/deepshard/conf/*.yaml}) are ones the Dockerfile creates, the image
 * tag agrees, and the image's entrypoint picks OpenBLAS's kernel from the node's CPU flags exactly as the launcher
 * does, keeps a preset value, and hands its arguments to Spark's entrypoint unchanged (run here with bash).
 */
class K8sImageIT {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path DOCKERFILE = ROOT.resolve("conf/kubernetes/Dockerfile");
    static final Path ENTRYPOINT = ROOT.resolve("conf/kubernetes/deepshard-entrypoint.sh");

    @TempDir Path dir;

    /** ARG defaults, then each COPY's sources (with ARGs substituted) and destination. */
    record Copy(List<String> sources, String destination) {}

    static Map<String, String> args(List<String> lines) {
        Map<String, String> args = new LinkedHashMap<>();
        for (String l : lines) {
            Matcher m = Pattern.compile("^ARG (\\w+)=(\\S+)$").matcher(l.trim());
            if (m.matches()) args.put(m.group(1), m.group(2));
        }
        return args;
    }

    static List<Copy> copies(List<String> lines, Map<String, String> args) {
        List<Copy> out = new ArrayList<>();
        for (String l : lines) {
            if (!l.startsWith("COPY ")) continue;
            String s = l.substring(5).trim();
            for (var a : args.entrySet()) s = s.replace("${" + a.getKey() + "}", a.getValue());
            List<String> parts = List.of(s.split("\\s+"));
            assertThat(parts).as("COPY without options: %s", l).noneMatch(p -> p.startsWith("--"));
            out.add(new Copy(parts.subList(0, parts.size() - 1), parts.get(parts.size() - 1)));
        }
        return out;
    }

    static String projectVersion() throws Exception {
        Matcher m = Pattern.compile("<artifactId>deepshard-parent</artifactId>\\s*<version>([^<]+)</version>")
                .matcher(Files.readString(ROOT.resolve("pom.xml")));
        assertThat(m.find()).as("parent version in pom.xml").isTrue();
        return m.group(1);
    }

    @Test
    void everyCopiedFileExistsAndEveryPathTheSettingsUseIsInTheImage() throws Exception {
        List<String> lines = Files.readAllLines(DOCKERFILE);
        Map<String, String> args = args(lines);
        assertThat(args.get("DEEPSHARD_VERSION")).as("the app jar's version in the Dockerfile").isEqualTo(projectVersion());
        assertThat(args.get("SPARK_IMAGE")).as("Spark of the image = Spark we build against").startsWith("apache/spark:3.5.5-scala2.12-java17");

        List<Copy> copies = copies(lines, args);
        Map<String, Path> inImage = new LinkedHashMap<>();   // path in the image -> source in the checkout
        for (Copy c : copies) {
            for (String src : c.sources()) {
                var matcher = FileSystems.getDefault().getPathMatcher("glob:" + src);
                List<Path> found;
                try (var s = Files.walk(ROOT.resolve(src.contains("/") ? src.substring(0, src.lastIndexOf('/')) : "."), 1)) {
                    found = s.filter(Files::isRegularFile).filter(p -> matcher.matches(ROOT.relativize(p))).toList();
                }
                assertThat(found).as("COPY %s (after mvn package)", src).isNotEmpty();
                for (Path f : found) {
                    String dest = c.destination().endsWith("/") ? c.destination() + f.getFileName() : c.destination();
                    inImage.put(dest, f);
                }
            }
        }
        assertThat(inImage).containsKeys("/opt/deepshard/deepshard-jobs-app.jar", "/opt/deepshard/deepshard-entrypoint.sh",
                "/opt/deepshard/conf/lenet5-fashion.yaml");
        assertThat(inImage.get("/opt/deepshard/deepshard-jobs-app.jar").getFileName().toString())
                .isEqualTo(AppJarIT.appJar().getFileName().toString());
        assertThat(Files.readString(DOCKERFILE)).contains("ENTRYPOINT [\"/opt/deepshard/deepshard-entrypoint.sh\"]");

        // every /opt/deepshard path named by the Kubernetes settings, manifests and docs is in the image
        List<Path> users = new ArrayList<>(List.of(ROOT.resolve("conf/spark-defaults-k8s.conf"), ROOT.resolve("README.md")));
        try (var s = Files.walk(ROOT.resolve("conf/kubernetes"))) {
            s.filter(p -> p.toString().matches(".*\\.(ya?ml|tpl|txt)$")).forEach(users::add);
        }
        Pattern path = Pattern.compile("(?:local://)?(/opt/deepshard/[\\w./-]+\\w)");
        int checked = 0;
        for (Path u : users) {
            Matcher m = path.matcher(Files.readString(u));
            while (m.find()) {
                String p = m.group(1);
                boolean known = inImage.containsKey(p) || p.equals("/opt/deepshard/data") || p.startsWith("/opt/deepshard/job/")
                        || inImage.keySet().stream().anyMatch(k -> k.startsWith(p + "/"));
                assertThat(known).as("%s names %s, which the image does not have", ROOT.relativize(u), p).isTrue();
                checked++;
            }
        }
        assertThat(checked).as("paths checked").isGreaterThanOrEqualTo(3);

        // the image the settings pull is the one the Dockerfile's build line tags
        Properties k8s = new Properties();
        try (var r = Files.newBufferedReader(ROOT.resolve("conf/spark-defaults-k8s.conf"))) { k8s.load(r); }
        String image = k8s.getProperty("spark.kubernetes.container.image");
        assertThat(Files.readString(DOCKERFILE)).contains("docker build -f conf/kubernetes/Dockerfile -t " + image + " .");
        assertThat(image).endsWith(":" + projectVersion().replace("-SNAPSHOT", ""));
    }

    String entrypoint(String flags, Map<String, String> env, String... args) throws Exception {
        Path cpuinfo = dir.resolve("cpuinfo");
        Files.writeString(cpuinfo, "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: " + flags + "\n\nprocessor\t: 1\nflags\t\t: fpu\n");
        Path spark = dir.resolve("spark-entrypoint.sh");
        Files.writeString(spark, "#!/usr/bin/env bash\necho \"coretype=${OPENBLAS_CORETYPE:-unset}\"\nfor a in \"$@\"; do echo \"arg=$a\"; done\nexit 7\n");
        spark.toFile().setExecutable(true);
        List<String> cmd = new ArrayList<>(List.of("bash", ENTRYPOINT.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("OPENBLAS_CORETYPE");
        pb.environment().put("DEEPSHARD_CPUINFO", cpuinfo.toString());
        pb.environment().put("DEEPSHARD_SPARK_ENTRYPOINT", spark.toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.exitValue()).as("Spark's exit code passes through: %s", out).isEqualTo(7);
        return out;
    }

    @Test
    void theEntrypointChoosesOpenBlasKernelFromTheNodesCpuAndPassesArgumentsThrough() throws Exception {
        assertThat(entrypoint("fpu sse2 avx avx2 fma avx512f avx512bw", Map.of(), "driver", "--class", "io.deepshard.jobs.TrainJob", "a b"))
                .isEqualTo("coretype=SkylakeX\narg=driver\narg=--class\narg=io.deepshard.jobs.TrainJob\narg=a b\n");
        assertThat(entrypoint("fpu sse2 avx avx2 fma", Map.of(), "executor")).isEqualTo("coretype=Haswell\narg=executor\n");
        // avx2 without fma, and a flag that only starts like one, choose nothing: OpenBLAS's own detection
        assertThat(entrypoint("fpu sse2 avx avx2 avx512fx", Map.of())).isEqualTo("coretype=unset\n");
        assertThat(entrypoint("fpu sse2 avx avx2 fma avx512f", Map.of("OPENBLAS_CORETYPE", "Zen"))).isEqualTo("coretype=Zen\n");
    }
}
