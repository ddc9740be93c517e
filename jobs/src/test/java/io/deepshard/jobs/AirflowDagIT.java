package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.data.SyntheticImages;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Airflow DAG {@code conf/airflow/deepshard_train_dag.py} without Airflow (it cannot be installed here): the file
 * compiles and imports with stub {@code airflow} modules that record its tasks and edges; then its tasks run for real,
 * in order, with the templates filled in as Airflow would — each SparkSubmitOperator's main class and arguments
 * through the job it names, each Python task through the DAG file's own function. Two DAG runs: the first publishes,
 * the second (a worse model) does not; retried tasks are harmless.
 */
class AirflowDagIT {
    @TempDir static Path dir;
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path DAG = Path.of("..", "conf", "airflow", "deepshard_train_dag.py").toAbsolutePath().normalize();
    static final Path CHECK = Path.of("src", "test", "python", "airflow_dag_check.py").toAbsolutePath();

    @BeforeAll
    static void data() {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        SyntheticImages.write(new Configuration(), dir.resolve("data").toString(), "split", new SyntheticImages.Spec(3, 16, 16, 7), 30, 10);
    }

    @AfterAll
    static void clear() { System.clearProperty("spark.master"); }

    static String python(String... args) throws Exception {
        var cmd = new ArrayList<>(List.of("python3", CHECK.toString(), DAG.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(err).isZero();
        return out;
    }

    /** Airflow's template rendering for the templates the DAG uses. */
    static String render(String s, Map<String, String> values) {
        for (Map.Entry<String, String> e : values.entrySet()) s = s.replace("{{ " + e.getKey() + " }}", e.getValue());
        assertThat(s).as("unrendered template").doesNotContain("{{");
        return s;
    }

    static Map<String, String> context(String ds, Path config) {
        var v = new LinkedHashMap<String, String>();
        v.put("var.value.deepshard_runs", dir.resolve("runs").toString());
        v.put("var.value.deepshard_published", dir.resolve("published").toString());
        v.put("var.value.deepshard_jar", "deepshard-jobs.jar");
        v.put("var.value.get('deepshard_jars', '')", "");
        v.put("dag.dag_id", "deepshard_train");
        v.put("ds_nodash", ds);
        v.put("params.config", config.toString());
        v.put("params.test_data", dir.resolve("data/test").toString());
        return v;
    }

    /** Runs one task as Airflow would; returns the ShortCircuit result for those, else null. */
    static Boolean runTask(JsonNode task, Map<String, String> ctx) throws Exception {
        String type = task.get("type").asText();
        if (type.equals("SparkSubmitOperator")) {
            Class<?> main = Class.forName(task.get("java_class").asText());
            main.getMethod("main", String[].class);   // a job class spark-submit can run
            String name = main.getAnnotation(CommandLine.Command.class).name();
            var args = new ArrayList<>(List.of(name));
            task.get("application_args").forEach(a -> args.add(render(a.asText(), ctx)));
            TrainJobIT.Run r = TrainJobIT.run(args.toArray(String[]::new));
            assertThat(r.exit()).as(task.get("task_id") + ": " + r.err()).isZero();
            return null;
        }
        var kwargs = new LinkedHashMap<String, String>();
        task.get("op_kwargs").fields().forEachRemaining(e -> kwargs.put(e.getKey(), render(e.getValue().asText(), ctx)));
        String fn = task.get("python_callable").asText().substring("callable:".length());
        String[] lines = python("--call", fn, JSON.writeValueAsString(kwargs)).strip().split("\n");   // the task's log, then the result
        JsonNode result = JSON.readTree(lines[lines.length - 1]).get("result");
        return type.equals("ShortCircuitOperator") ? result.asBoolean() : null;
    }

    /** One DAG run: the tasks in edge order, a short circuit skipping everything after it; every task retried once. */
    static List<String> dagRun(JsonNode dag, String ds, Path config) throws Exception {
        Map<String, String> ctx = context(ds, config);
        var ran = new ArrayList<String>();
        for (JsonNode task : dag.get("tasks")) {   // the DAG is a chain, listed in order (asserted below)
            Boolean go = runTask(task, ctx);
            ran.add(task.get("task_id").asText());
            Boolean again = runTask(task, ctx);   // an Airflow retry after success changes nothing
            assertThat(again).isEqualTo(go);
            if (Boolean.FALSE.equals(go)) break;
        }
        return ran;
    }

    @Test
    void theDagsTasksTrainEvaluateAndPublishOnlyABetterModel() throws Exception {
        JsonNode dag = JSON.readTree(python()).get(0);
        assertThat(dag.get("dag_id").asText()).isEqualTo("deepshard_train");
        assertThat(dag.at("/kwargs/default_args/retries").asInt()).isPositive();
        List<String> ids = new ArrayList<>();
        dag.get("tasks").forEach(t -> ids.add(t.get("task_id").asText()));
        assertThat(ids).containsExactly("train", "evaluate", "beats_published", "publish", "record_published");
        assertThat(dag.get("edges").toString()).isEqualTo("[[\"train\",\"evaluate\"],[\"evaluate\",\"beats_published\"],"
                + "[\"beats_published\",\"publish\"],[\"publish\",\"record_published\"]]");
        for (JsonNode t : dag.get("tasks")) {
            if (!t.get("type").asText().equals("SparkSubmitOperator")) continue;
            assertThat(t.get("application").asText()).isEqualTo("{{ var.value.deepshard_jar }}");
            t.get("conf").fieldNames().forEachRemaining(k -> assertThat(k).startsWith("spark."));
        }
        assertThat(dag.at("/tasks/0/application_args").toString()).contains("--resume");

        Path good = dir.resolve("good.yaml"), bad = dir.resolve("bad.yaml");
        String base = """
                model: {name: mlp, hidden: [32]}
                data: {train: %s, imageSize: [16, 16], channels: 3, numClasses: 3}
                training: {workers: 2, batchSize: 8, epochs: %d, seed: 3, optimizer: {type: adam, learningRate: %s}}
                """;
        Files.writeString(good, base.formatted(dir.resolve("data/train"), 4, "0.005"));
        Files.writeString(bad, base.formatted(dir.resolve("data/train"), 1, "0.000001"));

        assertThat(dagRun(dag, "20260105", good)).containsExactly(ids.toArray(String[]::new));
        JsonNode published = JSON.readTree(dir.resolve("published/evaluation.json").toFile());
        assertThat(published.get("run").asText()).endsWith("deepshard_train-20260105");
        assertThat(dir.resolve("published/model.deepshard.zip")).exists();
        long publishedAt = Files.getLastModifiedTime(dir.resolve("published/model.deepshard.zip")).toMillis();

        assertThat(dagRun(dag, "20260112", bad)).containsExactly("train", "evaluate", "beats_published");
        JsonNode second = JSON.readTree(dir.resolve("runs/deepshard_train-20260112/evaluations/airflow/evaluation.json").toFile());
        assertThat(second.get("accuracy").asDouble()).isLessThan(published.get("accuracy").asDouble());
        assertThat(JSON.readTree(dir.resolve("published/evaluation.json").toFile()).get("run").asText()).endsWith("deepshard_train-20260105");
        assertThat(Files.getLastModifiedTime(dir.resolve("published/model.deepshard.zip")).toMillis()).isEqualTo(publishedAt);
    }
}
