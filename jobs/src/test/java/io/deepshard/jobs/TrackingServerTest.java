package io.deepshard.jobs;

import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The MLflow environment variables the train job honours, and the credential check before any request. */
class TrackingServerTest {
    static final String CONFIG = """
            model: mlp
            data: {train: /data/train, inputShape: [1, 8, 8], numClasses: 2}
            """;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final Console console = new Console(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream()), false);

    static DeepshardConfig load(List<String> overrides) { return ConfigLoader.parse(CONFIG, "c.yaml", overrides); }

    DeepshardConfig withEnvironment(List<String> overrides, Map<String, String> env) {
        var all = new ArrayList<>(overrides);
        all.addAll(TrackingServer.environmentOverrides(load(overrides), env, console));
        return load(all);
    }

    @Test
    void theEnvironmentFillsWhatTheConfigLeavesOpen() {
        var env = Map.of("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000/", "MLFLOW_EXPERIMENT_NAME", "team: vision");
        DeepshardConfig c = withEnvironment(List.of(), env);
        assertThat(c.tracking().uri()).isEqualTo("http://mlflow.internal:5000");
        assertThat(c.tracking().experimentName()).isEqualTo("team: vision");
        assertThat(c.resolved()).contains("uri: http://mlflow.internal:5000").contains("experiment: \"team: vision\"");
        // the config wins; tracking.uri: '' switches the server off whatever the environment says
        assertThat(withEnvironment(List.of("tracking.uri=http://other:80", "tracking.experiment=x"), env).tracking())
                .extracting(t -> t.uri(), t -> t.experiment()).containsExactly("http://other:80", "x");
        assertThat(withEnvironment(List.of("tracking.uri="), env).tracking().server()).isFalse();
        // other MLflow URIs are for other tools: a note, no server
        assertThat(withEnvironment(List.of(), Map.of("MLFLOW_TRACKING_URI", "file:///home/me/mlruns")).tracking().server()).isFalse();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("MLFLOW_TRACKING_URI (file:///home/me/mlruns) is not an http(s) URL: not used");
    }

    @Test
    void badEnvironmentValuesAreNamedWithoutSecrets() {
        var e = catchThrowableOfType(ConfigException.class,
                () -> withEnvironment(List.of(), Map.of("MLFLOW_TRACKING_URI", "https://ann:pa55@mlflow.internal")));
        assertThat(e.source()).isEqualTo("MLFLOW_TRACKING_URI");
        assertThat(e.getMessage()).contains("must not hold credentials (found 'https://***@mlflow.internal')").doesNotContain("pa55");

        DeepshardConfig c = load(List.of("tracking.uri=http://127.0.0.1:9"));
        var half = catchThrowableOfType(ConfigException.class, () -> TrackingServer.connect(c, new Configuration(), "/tmp/never",
                Map.of("MLFLOW_TRACKING_PASSWORD", "pa55"), console));
        assertThat(half.problems()).containsExactly("tracking.uri (http://127.0.0.1:9): MLFLOW_TRACKING_PASSWORD is set but "
                + "MLFLOW_TRACKING_USERNAME is not: set both for HTTP Basic authentication, or neither");
        assertThat(TrackingServer.connect(load(List.of()), new Configuration(), "/tmp/never", Map.of(), console)).isNull();
    }
}
