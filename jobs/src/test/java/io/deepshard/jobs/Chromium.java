package io.deepshard.jobs;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Headless Chromium (Debian's {@code chromium}; bin/test installs it) rendering a local HTML file. */
final class Chromium {
    private Chromium() {}

    static String binary() {
        for (String b : List.of("chromium", "chromium-browser", "google-chrome")) {
            for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
                if (Files.isExecutable(Path.of(dir, b))) return Path.of(dir, b).toString();
            }
        }
        throw new IllegalStateException("headless Chromium is needed to test the HTML reports and none is on the PATH: "
                + "apt-get install chromium (bin/test installs it when run as root)");
    }

    /** The DOM after the page loaded and ran, as Chromium serializes it. */
    static String dumpDom(Path html, Path profile) throws IOException, InterruptedException {
        return run(profile, "--dump-dom", html.toUri().toString());
    }

    /** A screenshot of the page at the given window size. */
    static BufferedImage screenshot(Path html, Path png, Path profile, int width, int height) throws IOException, InterruptedException {
        run(profile, "--screenshot=" + png, "--window-size=" + width + "," + height, html.toUri().toString());
        if (!Files.exists(png)) throw new IllegalStateException("Chromium wrote no screenshot " + png);
        return ImageIO.read(png.toFile());
    }

    /** Distinct colours in the image: a blank page has 1, a page with text and charts hundreds. */
    static int distinctColours(BufferedImage img) {
        var seen = new HashSet<Integer>();
        for (int y = 0; y < img.getHeight(); y += 2) for (int x = 0; x < img.getWidth(); x += 2) seen.add(img.getRGB(x, y));
        return seen.size();
    }

    private static String run(Path profile, String... args) throws IOException, InterruptedException {
        var cmd = new ArrayList<>(List.of(binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--user-data-dir=" + profile));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("Chromium did not finish in 120 s: " + cmd);
        }
        if (p.exitValue() != 0) throw new IllegalStateException("Chromium exited with " + p.exitValue() + ": " + cmd);
        return new String(out, StandardCharsets.UTF_8);
    }
}
