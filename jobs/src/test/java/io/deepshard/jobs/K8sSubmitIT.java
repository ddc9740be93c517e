package io.deepshard.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import okhttp3.Headers;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import okio.Buffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringReader;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code spark-submit --master k8s://… --deploy-mode cluster --properties-file conf/spark-defaults-k8s.conf} against a
 * <b>mock Kubernetes API server</b>: no Kubernetes cluster or container engine can run on the build machine, so
 * fabric8's CRUD mock ({@code kubernetes-server-mock} 6.7.2, the client version Spark 3.5 uses, plus the server-side
 * apply Spark needs) stands in for the API server and keeps what it is sent. The rest is real: Spark's
 * {@code SparkSubmit} and Kubernetes client (spark-kubernetes 3.5.5) in a separate JVM, as spark-submit runs them, with
 * the file as users submit it. Read back: the driver pod (image, the entrypoint's arguments ending with the
 * application's own, memory request and limit = driver memory + overhead, CPU request, environment, service account,
 * namespace), its ConfigMap ({@code spark.properties}: the file's executor sizes and scheduling settings) and its
 * headless service. Then the driver is started as the pod's entrypoint would start it (TrainJob under SparkSubmit in
 * client mode, with that ConfigMap's properties), and the executor pods it asks the API server for carry Deepshard's
 * derived settings ({@link ExecutorSettings}: one native thread per task slot, JavaCPP's memory bounds), which the
 * driver adds when its session starts. Not shown: that the image exists and its containers start, RBAC, scheduling.
 */
class K8sSubmitIT {
    static final Path CONF = Path.of("..", "conf", "spark-defaults-k8s.conf").toAbsolutePath().normalize();
    static final String IMAGE = "deepshard/deepshard:0.1.0";
    static final String APP_JAR = "local:///opt/deepshard/deepshard-jobs-app.jar";
    static final List<String> APP_ARGS = List.of("/opt/deepshard/conf/lenet5-fashion.yaml",
            "--set", "output=hdfs://namenode:8020/runs/x", "--set", "training.epochs=3");

    @TempDir static Path dir;
    static KubernetesMockServer server;
    static KubernetesClient client;

    @BeforeAll
    static void startApiServer() throws Exception {
        server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), new ApplyingCrudDispatcher(), false);
        server.init(InetAddress.getByName("127.0.0.1"), 0);
        client = server.createClient();
    }

    @AfterAll
    static void stopApiServer() {
        if (client != null) client.close();
        if (server != null) server.destroy();
    }

    /**
     * The CRUD mock with server-side apply ({@code PATCH}, {@code application/apply-patch+yaml}, which it answers with
     * 415): a create when the object is new, else a JSON merge patch. Enough for Spark's client, which applies whole
     * objects it owns.
     */
    static class ApplyingCrudDispatcher extends KubernetesCrudDispatcher {
        static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

        @Override
        public MockResponse handlePatch(RecordedRequest request) {
            String type = request.getHeader("Content-Type");
            if (type == null || !type.startsWith("application/apply-patch")) return super.handlePatch(request);
            try {
                String json = new ObjectMapper().writeValueAsString(YAML.readTree(request.getBody().readUtf8()));
                String path = request.getPath().replaceFirst("\\?.*", "");
                boolean exists = handleGet(path).getStatus().contains(" 200");
                return exists
                        ? super.handlePatch(request("PATCH", path, "application/merge-patch+json", json))
                        : handleCreate(request("POST", path.substring(0, path.lastIndexOf('/')), "application/json", json));
            } catch (Exception e) {
                return new MockResponse().setResponseCode(500).setBody(e.toString());
            }
        }

        static RecordedRequest request(String method, String path, String contentType, String body) {
            Buffer buffer = new Buffer().writeUtf8(body);
            return new RecordedRequest(method + " " + path + " HTTP/1.1", Headers.of("Content-Type", contentType),
                    List.of(), buffer.size(), buffer, 0, new Socket());
        }
    }

    /** {@code java ... SparkSubmit} with this test's classpath, C1 only (these JVMs live for seconds: starts faster). */
    static List<String> sparkSubmit() {
        var cmd = JobFixtures.javaCommand();
        cmd.addAll(List.of("-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), "org.apache.spark.deploy.SparkSubmit"));
        return cmd;
    }

    /** Runs SparkSubmit in cluster mode against the mock with the conf file and {@code extra} options. */
    static void submit(String... extra) throws Exception {
        var cmd = sparkSubmit();
        cmd.addAll(List.of("--master", "k8s://http://127.0.0.1:" + server.getPort(), "--deploy-mode", "cluster",
                "--properties-file", CONF.toString(),
                "--class", "io.deepshard.jobs.TrainJob",
                // return once the driver pod is created, instead of watching it (it never starts: nothing runs pods here)
                "--conf", "spark.kubernetes.submission.waitAppCompletion=false"));
        cmd.addAll(List.of(extra));
        cmd.add(APP_JAR);
        cmd.addAll(APP_ARGS);
        Path log = Files.createTempFile(dir, "submit", ".log");
        var pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        // the client must not configure itself from a kubeconfig found on the machine
        pb.environment().put("KUBECONFIG", dir.resolve("no-kubeconfig").toString());
        Process p = pb.start();
        boolean finished = p.waitFor(60, TimeUnit.SECONDS);
        if (!finished) p.destroyForcibly().waitFor();
        String out = Files.readString(log);
        assertThat(finished).as("spark-submit finished within 60 s: %s", out).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
    }

    /** The namespace's one driver pod, also written with its ConfigMap and service to target/k8s-submit-NAMESPACE.yaml. */
    static Pod driverPod(String namespace) throws Exception {
        var pods = client.pods().inNamespace(namespace).withLabel("spark-role", "driver").list().getItems();
        assertThat(pods).as("driver pods in %s", namespace).hasSize(1);
        var created = new ArrayList<Object>(pods);
        created.addAll(client.configMaps().inNamespace(namespace).list().getItems());
        created.addAll(client.services().inNamespace(namespace).list().getItems());
        Files.writeString(Path.of("target", "k8s-submit-" + namespace + ".yaml"),
                created.stream().map(Serialization::asYaml).collect(Collectors.joining()));
        return pods.get(0);
    }

    static Map<String, EnvVar> env(Container c) {
        return c.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
    }

    static Properties sparkProperties(Pod driver) throws Exception {
        Properties p = new Properties();
        p.load(new StringReader(sparkPropertiesText(driver)));
        return p;
    }

    /** The driver's spark.properties, from the ConfigMap its pod mounts at /opt/spark/conf. */
    static String sparkPropertiesText(Pod driver) {
        String name = driver.getSpec().getVolumes().stream().filter(v -> v.getConfigMap() != null).findFirst()
                .orElseThrow().getConfigMap().getName();
        ConfigMap cm = client.configMaps().inNamespace(driver.getMetadata().getNamespace()).withName(name).get();
        assertThat(cm).as("ConfigMap %s", name).isNotNull();
        return cm.getData().get("spark.properties");
    }

    /**
     * Starts the driver as the pod's entrypoint would ({@code spark-submit --conf spark.driver.bindAddress=<pod IP>
     * --deploy-mode client <the pod's args>}), in a JVM here: its spark.properties from the ConfigMap, the image's
     * {@code /opt/deepshard} played by a local folder holding the jobs jar (the driver copies its jars into its working
     * directory), the tiny job {@code config} instead of the image's, and the mock as its API server (in a pod:
     * kubernetes.default.svc). Returns the executor pods it asks for once they are all there; the driver is stopped
     * then (they never start).
     */
    static List<Pod> executorPodsOfDriver(Pod driver, Path config) throws Exception {
        Path image = Files.createDirectories(dir.resolve("image/opt/deepshard"));
        Files.createSymbolicLink(image.resolve("deepshard-jobs-app.jar"), JobFixtures.jobsJar());
        Path workDir = Files.createDirectories(dir.resolve("work-dir"));
        String inImage = "local:///opt/deepshard/", here = "local://" + image + "/";
        Properties conf = sparkProperties(driver);
        conf.replaceAll((k, v) -> v.toString().replace(inImage, here));
        Path props = dir.resolve("spark.properties");
        try (var w = Files.newBufferedWriter(props)) { conf.store(w, null); }
        List<String> args = driver.getSpec().getContainers().get(0).getArgs();
        assertThat(args.subList(0, 3)).containsExactly("driver", "--properties-file", "/opt/spark/conf/spark.properties");
        var cmd = sparkSubmit();
        cmd.addAll(List.of("--conf", "spark.driver.bindAddress=127.0.0.1", "--deploy-mode", "client", "--properties-file", props.toString(),
                "--conf", "spark.kubernetes.driver.master=http://127.0.0.1:" + server.getPort(), "--conf", "spark.ui.enabled=false"));
        // --class TrainJob and the application jar
        args.subList(3, 6).forEach(a -> cmd.add(a.replace(inImage, here)));
        cmd.add(config.toString());
        Path log = dir.resolve("driver.log");
        // the pod running and ready, as the kubelet reports it once the container is up (the driver waits for that)
        client.pods().resource(driver).editStatus(d -> new PodBuilder(d).withNewStatus().withPhase("Running")
                .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus().build());
        var pb = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("KUBECONFIG", dir.resolve("no-kubeconfig").toString());
        Process p = pb.start();
        try {
            String namespace = driver.getMetadata().getNamespace();
            int wanted = Integer.parseInt(sparkProperties(driver).getProperty("spark.executor.instances"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            List<Pod> executors = List.of();
            while (executors.size() < wanted && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(250);
                executors = client.pods().inNamespace(namespace).withLabel("spark-role", "executor").list().getItems();
            }
            assertThat(executors).as("executor pods (driver log: %s)", Files.readString(log)).hasSize(wanted);
            Files.copy(log, Path.of("target", "k8s-driver.log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(Path.of("target", "k8s-executor-pod.yaml"), Serialization.asYaml(executors.get(0)));
            return executors;
        } finally {
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
        }
    }

    @Test
    void submitCreatesTheDriverFromTheConfFileAndTheDriverAsksForExecutorPodsWithNd4jSettings() throws Exception {
        submit();
        Pod pod = driverPod("deepshard");

        assertThat(pod.getSpec().getServiceAccountName()).isEqualTo("deepshard-spark");
        assertThat(pod.getSpec().getRestartPolicy()).isEqualTo("Never");
        Container c = pod.getSpec().getContainers().get(0);
        assertThat(c.getImage()).isEqualTo(IMAGE);
        assertThat(c.getImagePullPolicy()).isEqualTo("IfNotPresent");
        // Spark's image entrypoint runs: spark-submit --deploy-mode client <these>, in the pod
        var expectedArgs = new ArrayList<>(List.of("driver", "--properties-file", "/opt/spark/conf/spark.properties",
                "--class", "io.deepshard.jobs.TrainJob", APP_JAR));
        expectedArgs.addAll(APP_ARGS);
        assertThat(c.getArgs()).containsExactlyElementsOf(expectedArgs);
        // 4g heap + 1g overhead
        assertThat(c.getResources().getRequests()).containsEntry("memory", new Quantity("5120Mi")).containsEntry("cpu", new Quantity("1"));
        assertThat(c.getResources().getLimits()).containsEntry("memory", new Quantity("5120Mi")).doesNotContainKey("cpu");
        Map<String, EnvVar> env = env(c);
        assertThat(env.get("OMP_NUM_THREADS").getValue()).isEqualTo("1");
        assertThat(env.get("OPENBLAS_NUM_THREADS").getValue()).isEqualTo("1");
        assertThat(env.get("SPARK_DRIVER_BIND_ADDRESS").getValueFrom().getFieldRef().getFieldPath()).isEqualTo("status.podIP");

        // every setting of the file reaches the driver's Spark as it is written there
        Properties conf = sparkProperties(pod);
        Properties file = new Properties();
        try (var r = Files.newBufferedReader(CONF)) { file.load(r); }
        assertThat(file).containsEntry("spark.executor.memoryOverhead", "3g").containsEntry("spark.executor.instances", "4")
                .containsEntry("spark.dynamicAllocation.enabled", "false").hasSizeGreaterThan(15);
        assertThat(conf).containsAllEntriesOf(file)
                .containsEntry("spark.master", "k8s://http://127.0.0.1:" + server.getPort())
                .containsEntry("spark.kubernetes.driver.pod.name", pod.getMetadata().getName())
                .containsEntry("spark.jars", APP_JAR);

        var services = client.services().inNamespace("deepshard").list().getItems();
        assertThat(services).hasSize(1);
        Service svc = services.get(0);
        assertThat(svc.getSpec().getClusterIP()).isEqualTo("None");
        assertThat(svc.getSpec().getSelector()).containsEntry("spark-role", "driver")
                .containsEntry("spark-app-selector", pod.getMetadata().getLabels().get("spark-app-selector"));
        assertThat(svc.getSpec().getPorts()).extracting(ServicePort::getName, ServicePort::getPort)
                .contains(org.assertj.core.api.Assertions.tuple("driver-rpc-port", 7078));
        assertThat(conf).containsEntry("spark.driver.host", svc.getMetadata().getName() + ".deepshard.svc");
        // the driver pod owns its ConfigMap and service (deleted with it)
        assertThat(svc.getMetadata().getOwnerReferences()).singleElement()
                .satisfies(o -> assertThat(o.getName()).isEqualTo(pod.getMetadata().getName()));

        // the driver's session start (Spark.session) adds Deepshard's executor settings, derived from these
        // properties, before Spark asks the API server for the executor pods
        List<Pod> executors = executorPodsOfDriver(pod, JobFixtures.tinyFolderJob(dir, 4, 1, dir.resolve("run")));
        for (Pod e : executors) {
            assertThat(e.getMetadata().getOwnerReferences()).singleElement()
                    .satisfies(o -> assertThat(o.getName()).isEqualTo(pod.getMetadata().getName()));
            Container ec = e.getSpec().getContainers().get(0);
            assertThat(ec.getImage()).isEqualTo(IMAGE);
            // 4g heap + 3g overhead for ND4J's native memory; 2 cores
            assertThat(ec.getResources().getRequests()).containsEntry("memory", new Quantity("7168Mi")).containsEntry("cpu", new Quantity("2"));
            assertThat(ec.getResources().getLimits()).containsEntry("memory", new Quantity("7168Mi"));
            Map<String, EnvVar> eenv = env(ec);
            assertThat(eenv.get("SPARK_DRIVER_URL").getValue()).contains("@" + svc.getMetadata().getName() + ".deepshard.svc:7078");
            // one native thread per task slot (spark.task.cpus = 1)
            assertThat(eenv.get("OMP_NUM_THREADS").getValue()).isEqualTo("1");
            assertThat(eenv.get("OPENBLAS_NUM_THREADS").getValue()).isEqualTo("1");
            // JavaCPP's bounds: 3/4 of the 3g overhead, and heap + overhead
            assertThat(eenv.values().stream().filter(v -> v.getName().startsWith("SPARK_JAVA_OPT_")).map(EnvVar::getValue))
                    .contains("-Dorg.bytedeco.javacpp.maxbytes=2304m", "-Dorg.bytedeco.javacpp.maxphysicalbytes=7168m");
        }
    }

    @Test
    void commandLineSettingsWinOverTheConfFile() throws Exception {
        submit("--conf", "spark.kubernetes.namespace=overrides", "--conf", "spark.kubernetes.container.image=registry.example/deepshard:dev",
                "--conf", "spark.driver.memory=2g", "--conf", "spark.driver.memoryOverhead=512m",
                "--conf", "spark.executor.memoryOverhead=1g", "--conf", "spark.executor.instances=2");
        Pod pod = driverPod("overrides");
        Container c = pod.getSpec().getContainers().get(0);
        assertThat(c.getImage()).isEqualTo("registry.example/deepshard:dev");
        assertThat(c.getResources().getLimits()).containsEntry("memory", new Quantity("2560Mi"));
        assertThat(sparkProperties(pod)).containsEntry("spark.executor.memoryOverhead", "1g")
                .containsEntry("spark.executor.instances", "2")
                // the file's other settings stay
                .containsEntry("spark.executor.memory", "4g")
                .containsEntry("spark.dynamicAllocation.enabled", "false");
    }
}
