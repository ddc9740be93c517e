package io.deepshard.core.data;

import io.deepshard.core.util.Fs;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.geom.AffineTransform;
import java.awt.geom.Area;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Seeded synthetic image data, written as real JPEG/PNG files in the layouts users have, so that the real loaders are
 * what tests and demos exercise. Image {@code i} depends only on (seed, split, i): regenerating gives the same bytes.
 *
 * <ul>
 *   <li>Classification: one coloured shape (circle, square, triangle, cross, ring, diamond; with more than 6 classes,
 *       shape × a warm or cool colour family) of random size, position and rotation on a textured background
 *       (stripes, checks or blotches in random colours).</li>
 *   <li>Segmentation: 1–3 shapes per image and a mask PNG whose pixel values are class ids (0 = background,
 *       k = the k-th shape class).</li>
 * </ul>
 * Layouts: {@code imagenet} ({@code train/n9000000k/n9000000k_i.JPEG}, {@code val/...}), {@code caltech}
 * ({@code 00k.name/00k_i.jpg}, one tree), {@code split} ({@code train/name/i.png}, {@code test/name/i.png}),
 * {@code segmentation} ({@code train/images/i.png} + {@code train/masks/i.png}, {@code test/...}, and the class names,
 * background first, in {@code classes.txt}).
 */
public final class SyntheticImages {
    public static final List<String> SHAPES = List.of("circle", "square", "triangle", "cross", "ring", "diamond");
    public static final List<String> LAYOUTS = List.of("imagenet", "caltech", "split", "segmentation");

    private SyntheticImages() {}

    /** What to generate: class count (2..12), image size, and the seed. */
    public record Spec(int classes, int height, int width, long seed) {
        public Spec {
            if (classes < 2 || classes > 2 * SHAPES.size()) throw new IllegalArgumentException("classes must be 2.." + 2 * SHAPES.size() + ", found " + classes);
            if (height < 8 || width < 8) throw new IllegalArgumentException("images must be at least 8x8, found " + height + "x" + width);
        }
    }

    public static List<String> classNames(int classes) {
        var out = new ArrayList<String>();
        for (int k = 0; k < classes; k++) {
            String shape = SHAPES.get(k % SHAPES.size());
            out.add(classes > SHAPES.size() ? (k < SHAPES.size() ? "warm-" : "cool-") + shape : shape);
        }
        return out;
    }

    /** The classes of segmentation data of {@code classes} classes: background (mask value 0), then the shapes. */
    public static List<String> segmentationClassNames(int classes) {
        var seg = new ArrayList<String>(List.of("background"));
        seg.addAll(classNames(classes).subList(0, Math.min(classes - 1, SHAPES.size())));
        return List.copyOf(seg);
    }

    /** The classification image {@code index} of class {@code label}. */
    public static BufferedImage classification(Spec spec, String split, int index, int label) {
        SplittableRandom r = rng(spec.seed(), split, index);
        BufferedImage img = background(spec, r);
        Graphics2D g = graphics(img);
        g.setColor(shapeColour(r, spec.classes() > SHAPES.size() ? label / SHAPES.size() : r.nextInt(2)));
        g.fill(shape(label % SHAPES.size(), spec, r, 0.45, 0.8));
        g.dispose();
        return img;
    }

    /** A segmentation sample: the image and its mask (TYPE_BYTE_GRAY, pixel = class id, 0 = background). */
    public record Segmented(BufferedImage image, BufferedImage mask) {}

    public static Segmented segmentation(Spec spec, String split, int index) {
        SplittableRandom r = rng(spec.seed(), split, index);
        BufferedImage img = background(spec, r);
        BufferedImage mask = new BufferedImage(spec.width(), spec.height(), BufferedImage.TYPE_BYTE_GRAY);
        Graphics2D g = graphics(img), m = mask.createGraphics(); // mask without anti-aliasing: exact class ids
        int objects = 1 + r.nextInt(3);
        for (int o = 0; o < objects; o++) {
            int cls = r.nextInt(Math.min(spec.classes() - 1, SHAPES.size())); // classes-1 object classes + background
            Shape s = shape(cls, spec, r, 0.25, 0.55);
            g.setColor(shapeColour(r, r.nextInt(2)));
            g.fill(s);
            m.setColor(new Color(cls + 1, cls + 1, cls + 1));
            m.fill(s);
        }
        g.dispose();
        m.dispose();
        return new Segmented(img, mask);
    }

    /** What {@link #write} produced. */
    public record Written(String root, List<String> classNames, int trainImages, int testImages, List<String> splits) {}

    /** Writes {@code perClassTrain}/{@code perClassTest} images per class in {@code layout} under {@code rootUri}. */
    public static Written write(Configuration conf, String rootUri, String layout, Spec spec, int perClassTrain, int perClassTest) {
        Path root = Fs.path(rootUri);
        FileSystem fs = Fs.fs(root, conf);
        List<String> names = classNames(spec.classes());
        int train = 0, test = 0;
        try {
            switch (layout) {
                case "segmentation" -> {
                    int n = perClassTrain * spec.classes(), m = perClassTest * spec.classes();
                    for (String split : List.of("train", "test")) {
                        for (int i = 0; i < (split.equals("train") ? n : m); i++) {
                            Segmented s = segmentation(spec, split, i);
                            write(fs, new Path(root, split + "/images/" + String.format("%05d.png", i)), s.image(), "png");
                            write(fs, new Path(root, split + "/masks/" + String.format("%05d.png", i)), s.mask(), "png");
                        }
                    }
                    List<String> seg = segmentationClassNames(spec.classes());
                    try (OutputStream out = fs.create(new Path(root, SegmentationListing.CLASSES_FILE), true)) { // mask value k = line k
                        out.write((String.join("\n", seg) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    }
                    return new Written(root.toString(), seg, n, m, List.of("train", "test"));
                }
                case "imagenet", "split", "caltech" -> {
                    for (int k = 0; k < spec.classes(); k++) {
                        for (int i = 0; i < perClassTrain + perClassTest; i++) {
                            boolean isTrain = i < perClassTrain;
                            String split = layout.equals("caltech") ? "all" : isTrain ? "train" : layout.equals("imagenet") ? "val" : "test";
                            int index = k * (perClassTrain + perClassTest) + i;
                            BufferedImage img = classification(spec, split, index, k);
                            write(fs, new Path(root, relativePath(layout, split, k, names.get(k), i)), img,
                                    layout.equals("split") ? "png" : "jpg");
                            if (isTrain) train++; else test++;
                        }
                    }
                    List<String> dirNames = new ArrayList<>();
                    for (int k = 0; k < spec.classes(); k++) dirNames.add(classDir(layout, k, names.get(k)));
                    return new Written(root.toString(), dirNames, train, test,
                            layout.equals("caltech") ? List.of() : List.of("train", layout.equals("imagenet") ? "val" : "test"));
                }
                default -> throw new IllegalArgumentException("layout must be one of " + LAYOUTS + ", found " + layout);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write synthetic images under " + rootUri + ": " + e.getMessage(), e);
        }
    }

    static String classDir(String layout, int k, String name) {
        return switch (layout) {
            case "imagenet" -> String.format(Locale.ROOT, "n9%07d", k + 1);
            case "caltech" -> String.format(Locale.ROOT, "%03d.%s", k + 1, name);
            default -> name;
        };
    }

    static String relativePath(String layout, String split, int k, String name, int i) {
        String dir = classDir(layout, k, name);
        return switch (layout) {
            case "imagenet" -> split + "/" + dir + "/" + dir + "_" + i + ".JPEG";
            case "caltech" -> dir + "/" + String.format(Locale.ROOT, "%03d_%04d.jpg", k + 1, i + 1);
            default -> split + "/" + dir + "/" + i + ".png";
        };
    }

    /** Encodes as JPEG (quality 0.92) or PNG. */
    public static byte[] encode(BufferedImage img, String format) {
        var bos = new ByteArrayOutputStream();
        try {
            if (format.equals("jpg")) {
                ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
                ImageWriteParam p = w.getDefaultWriteParam();
                p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                p.setCompressionQuality(0.92f);
                try (var out = new MemoryCacheImageOutputStream(bos)) {
                    w.setOutput(out);
                    w.write(null, new IIOImage(img, null, null), p);
                } finally {
                    w.dispose();
                }
            } else if (!ImageIO.write(img, format, bos)) {
                throw new IllegalArgumentException("no image writer for " + format);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bos.toByteArray();
    }

    private static void write(FileSystem fs, Path p, BufferedImage img, String format) throws IOException {
        try (OutputStream out = fs.create(p, true)) {
            out.write(encode(img, format));
        }
    }

    private static SplittableRandom rng(long seed, String split, int index) {
        return new SplittableRandom(SeededPermutation.mix(seed ^ SeededPermutation.mix(split.hashCode() * 31L + index)));
    }

    private static Graphics2D graphics(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        return g;
    }

    private static BufferedImage background(Spec spec, SplittableRandom r) {
        int w = spec.width(), h = spec.height();
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = graphics(img);
        Color a = muted(r), b = muted(r);
        g.setColor(a);
        g.fillRect(0, 0, w, h);
        g.setColor(b);
        int kind = r.nextInt(3), step = Math.max(2, Math.min(w, h) / (4 + r.nextInt(6)));
        if (kind == 0) { // stripes at a random angle
            g.rotate(r.nextDouble() * Math.PI, w / 2.0, h / 2.0);
            g.setStroke(new BasicStroke(step / 2f));
            for (int x = -2 * w; x < 3 * w; x += step) g.drawLine(x, -2 * h, x, 3 * h);
        } else if (kind == 1) { // checks
            for (int y = 0; y < h; y += step) for (int x = 0; x < w; x += step) if (((x + y) / step) % 2 == 0) g.fillRect(x, y, step, step);
        } else { // blotches
            for (int i = 0; i < 12; i++) {
                int d = step + r.nextInt(2 * step);
                g.fillOval(r.nextInt(w) - d / 2, r.nextInt(h) - d / 2, d, d);
            }
        }
        g.dispose();
        return img;
    }

    private static Color muted(SplittableRandom r) {
        return new Color(60 + r.nextInt(110), 60 + r.nextInt(110), 60 + r.nextInt(110));
    }

    /** Saturated colours of a warm (0) or cool (1) family: easy to tell from the muted backgrounds. */
    private static Color shapeColour(SplittableRandom r, int family) {
        float hue = family == 0 ? (float) (r.nextDouble() * 0.15 - 0.05) : (float) (0.45 + r.nextDouble() * 0.2);
        return Color.getHSBColor((hue + 1) % 1, 0.75f + (float) r.nextDouble() * 0.25f, 0.85f + (float) r.nextDouble() * 0.15f);
    }

    private static Shape shape(int kind, Spec spec, SplittableRandom r, double minFrac, double maxFrac) {
        double size = Math.min(spec.width(), spec.height()) * (minFrac + r.nextDouble() * (maxFrac - minFrac));
        double cx = size / 2 + r.nextDouble() * (spec.width() - size), cy = size / 2 + r.nextDouble() * (spec.height() - size);
        double s = size / 2;
        Shape base = switch (kind) {
            case 0 -> new Ellipse2D.Double(-s, -s, 2 * s, 2 * s);
            case 1 -> new Rectangle2D.Double(-s * 0.85, -s * 0.85, 1.7 * s, 1.7 * s);
            case 2 -> new Polygon(new int[] {0, (int) Math.round(s), (int) Math.round(-s)},
                    new int[] {(int) Math.round(-s), (int) Math.round(s * 0.8), (int) Math.round(s * 0.8)}, 3);
            case 3 -> {
                Area a = new Area(new Rectangle2D.Double(-s, -s / 3, 2 * s, 2 * s / 3));
                a.add(new Area(new Rectangle2D.Double(-s / 3, -s, 2 * s / 3, 2 * s)));
                yield a;
            }
            case 4 -> {
                Area a = new Area(new Ellipse2D.Double(-s, -s, 2 * s, 2 * s));
                a.subtract(new Area(new Ellipse2D.Double(-s / 2, -s / 2, s, s)));
                yield a;
            }
            default -> new Polygon(new int[] {0, (int) Math.round(s), 0, (int) Math.round(-s)},
                    new int[] {(int) Math.round(-s), 0, (int) Math.round(s), 0}, 4);
        };
        AffineTransform t = new AffineTransform();
        t.translate(cx, cy);
        if (kind != 0 && kind != 4) t.rotate((r.nextDouble() - 0.5) * (kind == 5 ? 0.5 : 1.2));
        return t.createTransformedShape(base);
    }
}
