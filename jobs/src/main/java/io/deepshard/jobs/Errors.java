package io.deepshard.jobs;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Turns what a failed job threw into the one message a user needs, even when Spark wrapped it in a task failure. */
final class Errors {
    private static final Pattern OURS = Pattern.compile("(?m)(io\\.deepshard\\.[\\w.$]+(?:Exception|Error)): (.*)$");

    private Errors() {}

    static String userMessage(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getClass().getName().startsWith("io.deepshard.") && c.getMessage() != null) return c.getMessage();
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            Matcher m = OURS.matcher(String.valueOf(c.getMessage()));
            if (m.find()) return m.group(2);
        }
        Throwable root = t;
        while (root.getCause() != null) root = root.getCause();
        return root == t ? String.valueOf(t) : t + "\n  caused by " + root;
    }
}
