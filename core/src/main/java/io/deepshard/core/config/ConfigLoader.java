package io.deepshard.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads a YAML config, applies {@code --set} overrides and validates all of it before anything else runs. Every
 * problem is reported in one {@link ConfigException}, each with its key path and the value found.
 */
public final class ConfigLoader {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    private ConfigLoader() {}

    public static DeepshardConfig load(Path file, List<String> overrides) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file.toString(), List.of("config file not found (looked at " + file.toAbsolutePath() + ")"));
        } catch (IOException e) {
            throw new ConfigException(file.toString(), List.of("cannot read the config file: " + e));
        }
        return parse(text, file.toString(), overrides);
    }

    public static DeepshardConfig parse(String yamlText, String source, List<String> overrides) {
        return parse(yamlText, source, overrides, true);
    }

    /** For jobs that only build the model ({@code summary}): data sources may be absent, the shape must not. */
    public static DeepshardConfig loadModelOnly(Path file, List<String> overrides) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException(file.toString(), List.of("cannot read the config file: " + e));
        }
        return parse(text, file.toString(), overrides, false);
    }

    static DeepshardConfig parse(String yamlText, String source, List<String> overrides, boolean needsData) {
        JsonNode tree;
        try {
            tree = YAML.readTree(yamlText);
        } catch (IOException e) {
            String msg = e instanceof com.fasterxml.jackson.core.JsonProcessingException j
                    ? j.getOriginalMessage() + (j.getLocation() == null ? ""
                    : " (line " + j.getLocation().getLineNr() + ", column " + j.getLocation().getColumnNr() + ")")
                    : e.getMessage();
            throw new ConfigException(source, List.of("not valid YAML: " + msg));
        }
        if (tree == null || tree.isMissingNode() || tree.isNull()) tree = JsonNodeFactory.instance.objectNode();
        if (!tree.isObject()) {
            throw new ConfigException(source, List.of("(top level): must be a mapping of keys to values, found " + Section.describe(tree)));
        }
        ObjectNode root = (ObjectNode) tree;
        ConfigOverrides.apply(root, overrides);
        var errors = new ConfigErrors(source);
        DeepshardConfig config = DeepshardConfig.from(new Section("", root, errors), source, needsData);
        errors.throwIfAny();
        DeepshardConfig.writeDefaults(root, config);
        try {
            return config.withResolved(YAML.writeValueAsString(root));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
