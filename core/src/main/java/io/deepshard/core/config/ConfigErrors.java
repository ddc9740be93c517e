package io.deepshard.core.config;

import java.util.ArrayList;
import java.util.List;

/** Collects configuration problems so that all of them are reported at once, not the first one only. */
public final class ConfigErrors {
    private final String source;
    private final List<String> problems = new ArrayList<>();

    public ConfigErrors(String source) { this.source = source; }

    /** Records {@code "key.path: message"}. */
    public void add(String keyPath, String message) { problems.add(keyPath + ": " + message); }

    public void check(boolean ok, String keyPath, String message) { if (!ok) add(keyPath, message); }

    public boolean isEmpty() { return problems.isEmpty(); }

    public List<String> problems() { return List.copyOf(problems); }

    public void throwIfAny() { if (!problems.isEmpty()) throw new ConfigException(source, problems); }
}
