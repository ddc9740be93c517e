package io.deepshard.core.config;

import java.util.List;

/** A configuration that cannot be used; carries every problem found, each naming its key path and the value found. */
public final class ConfigException extends RuntimeException {
    private final String source;
    private final List<String> problems;

    public ConfigException(String source, List<String> problems) {
        super(format(source, problems));
        this.source = source;
        this.problems = List.copyOf(problems);
    }

    public String source() { return source; }

    public List<String> problems() { return problems; }

    private static String format(String source, List<String> problems) {
        var sb = new StringBuilder(source).append(": ")
                .append(problems.size() == 1 ? "1 problem" : problems.size() + " problems");
        for (String p : problems) sb.append("\n  - ").append(p);
        return sb.toString();
    }
}
