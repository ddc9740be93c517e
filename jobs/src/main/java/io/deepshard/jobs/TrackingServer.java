package io.deepshard.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.config.TrackingConfig;
import io.deepshard.core.tracking.MlflowHttpRun;
import io.deepshard.core.tracking.MlflowRestClient;
import io.deepshard.core.tracking.MlflowServerException;
import org.apache.hadoop.conf.Configuration;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The train job's side of {@code tracking}: the environment variables MLflow's own clients read, and the connection
 * to the tracking server, made before Spark starts so that a server that cannot be reached or rejects the credentials
 * fails the job at once (exit code 2), naming the URI and the server's answer.
 */
final class TrackingServer {
    private TrackingServer() {}

    /**
     * {@code --set} overrides for what the config leaves open: {@code tracking.uri} from {@code MLFLOW_TRACKING_URI} when
     * that is an http(s) URL (other MLflow URIs, e.g. {@code file:} or {@code databricks}, are for other tools and are
     * ignored with a note), {@code tracking.experiment} from {@code MLFLOW_EXPERIMENT_NAME}. As overrides, the resolved
     * config states them. An http(s) {@code MLFLOW_TRACKING_URI} that is not valid is an error naming the variable.
     */
    static List<String> environmentOverrides(DeepshardConfig config, Map<String, String> env, Console console) {
        var out = new ArrayList<String>();
        String uri = env.getOrDefault("MLFLOW_TRACKING_URI", "").trim();
        if (config.tracking().uri() == null && !uri.isEmpty()) {
            if (uri.matches("(?i)^https?:.*")) {
                List<String> problems = TrackingConfig.uriProblems(uri);
                if (!problems.isEmpty()) throw new ConfigException("MLFLOW_TRACKING_URI", problems);
                out.add("tracking.uri=" + yamlString(uri));
            } else {
                console.info("MLFLOW_TRACKING_URI (" + TrackingConfig.redact(uri) + ") is not an http(s) URL: not used (the run directory "
                        + "is an MLflow file-store run already)");
            }
        }
        String experiment = env.getOrDefault("MLFLOW_EXPERIMENT_NAME", "");
        if (config.tracking().experiment() == null && !experiment.isBlank()) out.add("tracking.experiment=" + yamlString(experiment));
        return out;
    }

    /**
     * Connects to {@code tracking.uri} with the environment's credentials: the server answers, accepts them, and has
     * (or now has) the experiment; null without a server. Failures are {@link ConfigException}s (exit code 2).
     */
    static MlflowHttpRun connect(DeepshardConfig config, Configuration hadoop, String runDir, Map<String, String> env, Console console) {
        TrackingConfig t = config.tracking();
        if (!t.server()) return null;
        MlflowRestClient.Credentials credentials;
        try {
            credentials = MlflowRestClient.Credentials.fromEnvironment(env);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(config.source(), List.of("tracking.uri (" + t.uri() + "): " + e.getMessage()));
        }
        var client = new MlflowRestClient(t.uri(), credentials, MlflowRestClient.Retry.DEFAULT);
        try {
            MlflowHttpRun run = MlflowHttpRun.connect(client, t.experimentName(), hadoop, runDir, w -> console.info("warning: " + w));
            console.info("MLflow tracking server " + t.uri() + " (" + credentials + "): experiment '" + t.experimentName() + "'"
                    + (run.continued() ? ", continuing run " + run.runId() : ""));
            return run;
        } catch (MlflowServerException e) {
            String hint = e.status() == 0 ? "start the server or correct tracking.uri; tracking.uri: '' logs to the run directory only"
                    : e.authentication() ? "the server rejected " + credentials + "; set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
                    + "MLFLOW_TRACKING_PASSWORD, to credentials it accepts"
                    : "is tracking.uri the URL of an MLflow tracking server?";
            throw new ConfigException(config.source(), List.of("tracking.uri: " + e.getMessage() + " — " + hint));
        } catch (IllegalStateException e) {
            throw new ConfigException(config.source(), List.of("tracking.experiment: " + e.getMessage()));
        }
    }

    private static String yamlString(String s) {
        try {
            return new ObjectMapper().writeValueAsString(s); // a JSON string is a YAML double-quoted scalar
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
