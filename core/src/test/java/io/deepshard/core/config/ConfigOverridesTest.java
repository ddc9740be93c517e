package io.deepshard.core.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The launcher's {@code --set key=value} parsing: dotted keys, YAML-typed values. */
class ConfigOverridesTest {
    final ObjectMapper json = new ObjectMapper();

    ObjectNode apply(String start, String... sets) throws Exception {
        ObjectNode root = (ObjectNode) json.readTree(start);
        ConfigOverrides.apply(root, List.of(sets));
        return root;
    }

    @Test
    void valuesKeepTheirYamlTypes() throws Exception {
        ObjectNode r = apply("{}", "training.epochs=2", "data.inputShape=[1,28,28]", "training.l2=5e-4",
                "a.flag=true", "a.name=lenet5", "a.map={x: 1, y: [2]}", "a.quoted='007'", "a.empty=", "a.eq=x=y");
        assertThat(r.at("/training/epochs").isInt()).isTrue();
        assertThat(r.at("/training/epochs").asInt()).isEqualTo(2);
        assertThat(r.at("/data/inputShape").toString()).isEqualTo("[1,28,28]");
        assertThat(r.at("/training/l2").asDouble()).isEqualTo(5e-4);
        assertThat(r.at("/a/flag").isBoolean()).isTrue();
        assertThat(r.at("/a/name").asText()).isEqualTo("lenet5");
        assertThat(r.at("/a/map/y/0").asInt()).isEqualTo(2);
        assertThat(r.at("/a/quoted").asText()).isEqualTo("007");
        assertThat(r.at("/a/empty").asText()).isEmpty();
        assertThat(r.at("/a/eq").asText()).isEqualTo("x=y");
    }

    @Test
    void laterOverridesWinAndNestedMapsAreKept() throws Exception {
        ObjectNode r = apply("{\"training\": {\"epochs\": 1, \"seed\": 3}}", "training.epochs=2", "training.epochs=4");
        assertThat(r.at("/training/epochs").asInt()).isEqualTo(4);
        assertThat(r.at("/training/seed").asInt()).isEqualTo(3);
    }

    @Test
    void modelNameIsKeptWhenAnOptionIsSet() throws Exception {
        ObjectNode r = apply("{\"model\": \"lenet5\"}", "model.variant=classic");
        assertThat(r.at("/model/name").asText()).isEqualTo("lenet5");
        assertThat(r.at("/model/variant").asText()).isEqualTo("classic");
    }

    @Test
    void malformedOverridesAreAllReported() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> apply("{}", "epochs", "=3", "a..b=1", "ok.key=1"));
        assertThat(e.problems()).containsExactly(
                "epochs: must look like dotted.key=value (e.g. training.epochs=2)",
                "=3: must look like dotted.key=value (e.g. training.epochs=2)",
                "a..b=1: must look like dotted.key=value (e.g. training.epochs=2)");
    }
}
