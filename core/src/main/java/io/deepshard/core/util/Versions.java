package io.deepshard.core.util;

import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/** Versions of the libraries actually on the classpath, read from their Maven metadata. */
public final class Versions {
    private Versions() {}

    public static String of(String groupId, String artifactId) {
        String res = "META-INF/maven/" + groupId + "/" + artifactId + "/pom.properties";
        try (InputStream in = Versions.class.getClassLoader().getResourceAsStream(res)) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (Exception e) {
            return "unknown";
        }
    }

    /** Deepshard's own version and git commit (set by the launcher or the build), and DL4J/ND4J's. */
    public static Map<String, String> core() {
        var m = new LinkedHashMap<String, String>();
        m.put("deepshard", of("io.deepshard", "deepshard-core"));
        m.put("gitCommit", gitCommit());
        m.put("deeplearning4j", of("org.deeplearning4j", "deeplearning4j-nn"));
        m.put("nd4j", of("org.nd4j", "nd4j-api"));
        m.put("java", System.getProperty("java.version"));
        return m;
    }

    public static String gitCommit() {
        String c = System.getProperty("deepshard.gitCommit");
        if (c == null || c.isBlank()) c = System.getenv("DEEPSHARD_GIT_COMMIT");
        return c == null || c.isBlank() ? "unknown" : c;
    }
}
