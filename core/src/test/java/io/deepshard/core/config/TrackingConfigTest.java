package io.deepshard.core.config;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class TrackingConfigTest {
    static DeepshardConfig parse(String... overrides) {
        return ConfigLoader.parse(ConfigLoaderTest.VALID, "t.yaml", List.of(overrides));
    }

    @Test
    void defaultsAndTheResolvedConfig() {
        DeepshardConfig none = parse();
        assertThat(none.tracking()).isEqualTo(TrackingConfig.NONE);
        assertThat(none.tracking().server()).isFalse();
        assertThat(none.tracking().experimentName()).isEqualTo("deepshard");
        assertThat(none.resolved()).contains("tracking:\n  uri: \"\"\n  experiment: deepshard");

        DeepshardConfig on = parse("tracking={uri: 'HTTP://127.0.0.1:5000/', experiment: fashion runs}");
        assertThat(on.tracking()).isEqualTo(new TrackingConfig("HTTP://127.0.0.1:5000", "fashion runs"));
        assertThat(on.tracking().server()).isTrue();
        assertThat(on.resolved()).contains("uri: HTTP://127.0.0.1:5000").contains("experiment: fashion runs");
        assertThat(ConfigLoader.parse(on.resolved(), "resolved", List.of()).tracking()).isEqualTo(on.tracking());
        assertThat(parse("tracking.uri=none").tracking().uri()).isEmpty();
        assertThat(parse("tracking.uri=").tracking().server()).isFalse();
        // where the run is logged does not change what is trained: a run may resume with other tracking settings
        assertThat(on.trainingSettings()).isEqualTo(none.trainingSettings());
        assertThat(DeepshardConfig.RESUMABLE_KEYS).contains("tracking");
    }

    @Test
    void badValuesAreNamedWithoutTheirSecrets() {
        var e = catchThrowableOfType(ConfigException.class, () -> parse("tracking.uri=file:///tmp/mlruns", "tracking.experiment=", "tracking.urls=x"));
        assertThat(e.problems()).containsExactly(
                "tracking.uri: must be the http:// or https:// URL of an MLflow tracking server, or empty for the run directory's MLflow file "
                        + "store only (which every run directory already is), found 'file:///tmp/mlruns'",
                "tracking.experiment: must be a non-empty experiment name, found ''",
                "tracking.urls: unknown key (did you mean 'uri'?) (known here: uri, experiment)");
        var secret = catchThrowableOfType(ConfigException.class, () -> parse("tracking.uri=https://ann:pa55word@mlflow.example/x?y=1"));
        assertThat(secret.getMessage()).doesNotContain("pa55word").doesNotContain("ann");
        assertThat(secret.problems()).containsExactly(
                "tracking.uri: must not hold credentials (found 'https://***@mlflow.example/x?y=1'): set MLFLOW_TRACKING_USERNAME and "
                        + "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN, in the environment instead",
                "tracking.uri: must not have a query or fragment, found 'https://***@mlflow.example/x?y=1'");
        assertThat(TrackingConfig.uriProblems("http://")).containsExactly("is not a valid URL (Expected authority), found 'http://'");
        assertThat(TrackingConfig.uriProblems("databricks")).singleElement().asString().startsWith("must be the http:// or https:// URL");
        assertThat(TrackingConfig.uriProblems("https://mlflow.example:8443/prefix")).isEmpty();
    }
}
