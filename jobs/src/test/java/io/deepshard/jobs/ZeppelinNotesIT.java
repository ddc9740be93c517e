package io.deepshard.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Zeppelin notes in {@code notebooks/zeppelin/} parse as Zeppelin 0.10 notes with Zeppelin's own
 * {@code Note.fromJson} (no Zeppelin server with {@code %spark} can be had here, so they are not run): the id in the
 * file name is the note's, paragraph ids are unique, every paragraph names an interpreter of the note's default
 * group ({@code %spark}) or {@code %md}, and the Deepshard API the Scala paragraphs call exists with those names.
 */
class ZeppelinNotesIT {
    @TempDir static Path dir;
    static final Path NOTES = Path.of("..", "notebooks", "zeppelin").toAbsolutePath().normalize();

    static String exec(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("out.txt").toFile()).start();
        int code = p.waitFor();
        String out = Files.readString(dir.resolve("out.txt"), StandardCharsets.UTF_8);
        assertThat(code).as(String.join(" ", cmd) + "\n" + out).isZero();
        return out;
    }

    @Test
    void notesParseWithZeppelinsOwnModelAndCallTheRealApi() throws Exception {
        // Zeppelin's notebook model and its dependencies, resolved apart from Spark's (they clash on one classpath)
        Path cpFile = dir.resolve("zeppelin.classpath");
        exec(List.of("mvn", "-q", "-B", "-f", Path.of("src", "test", "zeppelin", "pom.xml").toAbsolutePath().toString(),
                "dependency:build-classpath", "-Dmdep.outputFile=" + cpFile));
        List<Path> notes;
        try (var s = Files.list(NOTES)) {
            notes = s.filter(p -> p.toString().endsWith(".zpln")).sorted().toList();
        }
        assertThat(notes).isNotEmpty();
        var cmd = new ArrayList<>(JobFixtures.javaCommand());
        cmd.addAll(List.of("-cp", Files.readString(cpFile).trim() + java.io.File.pathSeparator + Path.of("target", "test-classes").toAbsolutePath(),
                ZeppelinNoteCheck.class.getName()));
        notes.forEach(n -> cmd.add(n.toString()));
        String out = exec(cmd);

        var ids = new HashSet<String>();
        int paragraphs = 0;
        for (String line : out.split("\n")) {
            String[] f = line.split("\t");
            if (f[0].equals("note")) {
                String file = Path.of(f[1]).getFileName().toString();
                assertThat(file).endsWith("_" + f[2] + ".zpln");
                assertThat(f[2]).matches("2[A-Z0-9]{8}");
                assertThat(f[4]).isEqualTo("spark");
            } else if (f[0].equals("paragraph")) {
                paragraphs++;
                assertThat(ids.add(f[1])).as("paragraph id %s unique", f[1]).isTrue();
                assertThat(f[2]).isIn("spark", "md");
                assertThat(Integer.parseInt(f[3])).isPositive();
            }
        }
        assertThat(paragraphs).isGreaterThanOrEqualTo(5);

        // the Scala paragraphs cannot be compiled here; their calls into Deepshard must at least name real methods
        for (Path n : notes) {
            Matcher m = Pattern.compile("Notebook\\.(\\w+)\\(").matcher(Files.readString(n));
            while (m.find()) {
                String method = m.group(1);
                boolean exists = method.equals("Run") || java.util.Arrays.stream(Notebook.class.getMethods()).anyMatch(x -> x.getName().equals(method));
                assertThat(exists).as("%s calls Notebook.%s", n.getFileName(), method).isTrue();
            }
        }
    }
}
