package io.deepshard.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.util.List;

/**
 * Applies command-line overrides of the form {@code dotted.key=yaml-value} to a config tree, e.g.
 * {@code training.epochs=2}, {@code data.inputShape=[1,28,28]}, {@code training.optimizer={type: adam}}.
 * The value is parsed as YAML, so numbers, lists and maps keep their types; a value that is not valid YAML is kept
 * as a plain string. Intermediate mappings are created as needed; a scalar in the way is replaced by a mapping.
 */
public final class ConfigOverrides {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private ConfigOverrides() {}

    public static void apply(ObjectNode root, List<String> overrides) {
        var errors = new ConfigErrors("--set");
        for (String o : overrides) {
            int eq = o.indexOf('=');
            String key = eq < 0 ? o : o.substring(0, eq).trim();
            if (eq <= 0 || key.isEmpty() || key.startsWith(".") || key.endsWith(".") || key.contains("..")) {
                errors.add(o, "must look like dotted.key=value (e.g. training.epochs=2)");
                continue;
            }
            String[] parts = key.split("\\.");
            ObjectNode node = root;
            for (int i = 0; i < parts.length - 1; i++) {
                JsonNode child = node.get(parts[i]);
                if (!(child instanceof ObjectNode)) {
                    // 'model: lenet5' followed by --set model.variant=classic: keep the name, add the option.
                    ObjectNode created = JsonNodeFactory.instance.objectNode();
                    if (child != null && child.isTextual() && "model".equals(parts[i]) && i == 0) created.put("name", child.asText());
                    node.set(parts[i], created);
                    child = created;
                }
                node = (ObjectNode) child;
            }
            node.set(parts[parts.length - 1], parseValue(o.substring(eq + 1)));
        }
        errors.throwIfAny();
    }

    static JsonNode parseValue(String text) {
        if (text.isBlank()) return TextNode.valueOf("");
        try {
            JsonNode v = YAML.readTree(text);
            return v == null || v.isMissingNode() ? TextNode.valueOf(text) : v;
        } catch (Exception e) {
            return TextNode.valueOf(text);
        }
    }
}
