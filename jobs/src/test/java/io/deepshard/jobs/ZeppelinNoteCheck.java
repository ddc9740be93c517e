package io.deepshard.jobs;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Runs in a JVM of its own with Zeppelin's notebook model on the classpath ({@link ZeppelinNotesIT}): reads each
 * {@code .zpln} file with Zeppelin's own {@code Note.fromJson} and prints, per note, its id, name, default
 * interpreter group and each paragraph's id, interpreter and text length, tab-separated. Reflection only: Zeppelin is
 * not on the tests' classpath.
 */
public final class ZeppelinNoteCheck {
    public static void main(String[] args) throws Exception {
        Class<?> note = Class.forName("org.apache.zeppelin.notebook.Note");
        Method fromJson = note.getMethod("fromJson", String.class, String.class);
        for (String file : args) {
            String name = Path.of(file).getFileName().toString();
            String id = name.substring(name.lastIndexOf('_') + 1, name.length() - ".zpln".length());
            Object n = fromJson.invoke(null, id, Files.readString(Path.of(file)));
            System.out.println(String.join("\t", "note", file, (String) note.getMethod("getId").invoke(n),
                    (String) note.getMethod("getName").invoke(n), String.valueOf(note.getMethod("getDefaultInterpreterGroup").invoke(n))));
            for (Object p : (List<?>) note.getMethod("getParagraphs").invoke(n)) {
                Class<?> pc = p.getClass();
                String text = (String) pc.getMethod("getText").invoke(p);
                System.out.println(String.join("\t", "paragraph", (String) pc.getMethod("getId").invoke(p),
                        String.valueOf(pc.getMethod("getIntpText").invoke(p)), Integer.toString(text.length())));
            }
        }
    }
}
