package io.deepshard.core.config;

import java.io.Serializable;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code tracking}: where a training run is logged besides its run directory (which is always an MLflow file-store run).
 *
 * @param uri        an {@code http://} or {@code https://} URL of an MLflow tracking server (no trailing slash); {@code ""}
 *                   for none; null when the config does not say (the train job then honours {@code MLFLOW_TRACKING_URI})
 * @param experiment the server-side experiment's name; null when the config does not say ({@code MLFLOW_EXPERIMENT_NAME},
 *                   else {@link #DEFAULT_EXPERIMENT})
 */
public record TrackingConfig(String uri, String experiment) implements Serializable {
    public static final String DEFAULT_EXPERIMENT = "deepshard";
    /** MLflow's longest experiment name ({@code MAX_EXPERIMENT_NAME_LENGTH}). */
    static final int MAX_EXPERIMENT_NAME = 500;

    public static final TrackingConfig NONE = new TrackingConfig(null, null);

    static TrackingConfig from(Section s) {
        String uri = s.has("uri") ? s.string("uri", "") : null;
        if (uri != null) {
            uri = uri.trim();
            if (uri.equalsIgnoreCase("none")) uri = "";
            List<String> problems = uriProblems(uri);
            problems.forEach(p -> s.errors().add(s.keyPath("uri"), p));
            if (problems.isEmpty()) uri = normalized(uri);
        }
        String experiment = s.has("experiment") ? s.string("experiment", DEFAULT_EXPERIMENT) : null;
        if (experiment != null) {
            List<String> problems = experimentProblems(experiment);
            problems.forEach(p -> s.errors().add(s.keyPath("experiment"), p));
        }
        s.finish();
        return new TrackingConfig(uri, experiment);
    }

    /** Whether runs are also logged to a tracking server. */
    public boolean server() { return uri != null && !uri.isEmpty(); }

    public String experimentName() { return experiment != null ? experiment : DEFAULT_EXPERIMENT; }

    /**
     * What is wrong with {@code uri} as a tracking server URL (empty: nothing; {@code ""} means none and is fine). The
     * messages show the URI with any user:password part masked.
     */
    public static List<String> uriProblems(String uri) {
        var problems = new ArrayList<String>();
        if (uri.isEmpty()) return problems;
        URI u;
        try {
            u = new URI(uri);
        } catch (URISyntaxException e) {
            problems.add("is not a valid URL (" + e.getReason() + "), found '" + redact(uri) + "'");
            return problems;
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            problems.add("must be the http:// or https:// URL of an MLflow tracking server, or empty for the run directory's "
                    + "MLflow file store only" + (scheme.equals("file") ? " (which every run directory already is)" : "")
                    + ", found '" + redact(uri) + "'");
            return problems;
        }
        if (u.getHost() == null || u.getHost().isEmpty()) problems.add("has no host, found '" + redact(uri) + "'");
        if (u.getRawUserInfo() != null) {
            problems.add("must not hold credentials (found '" + redact(uri) + "'): set MLFLOW_TRACKING_USERNAME and "
                    + "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN, in the environment instead");
        }
        if (u.getRawQuery() != null || u.getRawFragment() != null) problems.add("must not have a query or fragment, found '" + redact(uri) + "'");
        return problems;
    }

    static List<String> experimentProblems(String name) {
        if (name.isBlank()) return List.of("must be a non-empty experiment name, found '" + name + "'");
        if (name.length() > MAX_EXPERIMENT_NAME) {
            return List.of("must be at most " + MAX_EXPERIMENT_NAME + " characters (MLflow's limit), found " + name.length());
        }
        return List.of();
    }

    /** A valid URL without its trailing slashes ({@code http://host:5000/} → {@code http://host:5000}). */
    static String normalized(String uri) {
        String s = uri;
        while (s.endsWith("/")) s = s.substring(0, s.length() - 1);
        return s;
    }

    /** {@code uri} with any {@code user:password@} part replaced by {@code ***@}, for messages and logs. */
    public static String redact(String uri) {
        return uri.replaceFirst("^([A-Za-z][A-Za-z0-9+.\\-]*://)[^/@?#]*@", "$1***@");
    }
}
