package io.deepshard.core.config;

import io.deepshard.core.data.BadRecordPolicy;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.transform.Augmentation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * {@code data}: where the images are, what the network sees, and what to do with bad input.
 *
 * @param train              a built-in name, an IDX images file (labels by the MNIST naming rule) or
 *                           {@code {images, labels}}, or a folder of class folders; any Hadoop URI
 * @param test               the same for the test split (optional)
 * @param format             {@code auto} (decided when read: a folder of class folders, an IDX images file, a
 *                           {@code .csv} file, a folder of Parquet files, or a folder holding {@code images/} and
 *                           {@code masks/}, itself or in its {@code train/}), {@code idx}, {@code folder}, {@code csv},
 *                           {@code parquet}, {@code image} (a class-per-folder tree read through Spark's own image data
 *                           source), or {@code segmentation} (images with per-pixel class masks)
 * @param inputShape         [channels, height, width] the images are decoded and resized to
 * @param numClasses         number of classes (segmentation: of mask values, background 0 included)
 * @param resize             {@code stretch}, {@code center-crop}, {@code pad} or {@code none} (sizes must match)
 * @param normalization      {@code standardize}, {@code minmax} (per-channel [min, max] → [0, 1]), {@code scale} or {@code none}
 * @param validationFraction the seeded, stratified part of the training split held out as the validation split
 *                           (evaluated every epoch, used by early stopping; 0 = none)
 * @param badRecords         {@code onBadRecord} and {@code maxBadFraction}
 * @param augment            augmentations applied to the training split, in order ({@code data.augment})
 */
public record DataConfig(DataSource train, DataSource test, String format, int[] inputShape, int numClasses,
                         String resize, String normalization, double validationFraction, BadRecordPolicy badRecords,
                         List<Augmentation> augment)
        implements Serializable {
    public static final List<String> NORMALIZATIONS = List.of("standardize", "minmax", "scale", "none");
    public static final List<String> FORMATS = List.of("auto", "idx", "folder", "image", "csv", "parquet", "segmentation");

    static DataConfig from(Section s, boolean needsData) {
        String format = s.choice("format", "auto", FORMATS);
        DataSource train = DataSource.from(s, "train", needsData, format == null ? "auto" : format);
        DataSource test = DataSource.from(s, "test", false, format == null ? "auto" : format);
        int[] shape = shape(s);
        int classes = s.intValue("numClasses", null, v -> v >= 2, ">= 2");
        String resize = s.choice("resize", "stretch", ImageDecoder.RESIZE_MODES);
        String norm = s.choice("normalization", "standardize", NORMALIZATIONS);
        double val = s.doubleValue("validationFraction", 0.0, v -> v >= 0 && v < 1, "in [0, 1)");
        String onBad = s.choice("onBadRecord", "fail", BadRecordPolicy.MODES);
        double maxBad = s.doubleValue("maxBadFraction", 0.01, v -> v >= 0 && v <= 1, "in [0, 1]");
        List<Augmentation> augment = augmentations(s);
        s.finish();
        return new DataConfig(train, test, format, shape, classes, resize, norm, val,
                new BadRecordPolicy("skip".equals(onBad), maxBad), augment);
    }

    /** {@code augment: [flip, {type: translate, pixels: 2}, ...]}: a name alone takes the defaults. */
    private static List<Augmentation> augmentations(Section s) {
        JsonNode list = s.raw("augment");
        if (list == null) return List.of();
        if (!list.isArray()) {
            s.errors().add(s.keyPath("augment"), "must be a list such as [flip, {type: translate, pixels: 2}], found " + Section.describe(list));
            return List.of();
        }
        var out = new ArrayList<Augmentation>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode e = list.get(i);
            String path = s.keyPath("augment") + "[" + i + "]";
            ObjectNode node;
            if (e.isTextual()) {
                node = JsonNodeFactory.instance.objectNode().put("type", e.asText());
            } else if (e.isObject()) {
                node = (ObjectNode) e;
            } else {
                s.errors().add(path, "must be an augmentation name or a mapping with type, found " + Section.describe(e));
                continue;
            }
            Section a = new Section(path, node, s.errors());
            String type = a.string("type", null);
            if (type == null) continue;
            Augmentation aug = switch (type) {
                case "translate" -> new Augmentation.Translate(a.intValue("pixels", 2, v -> v >= 1 && v <= 1024, ">= 1"));
                case "crop" -> new Augmentation.Crop(a.intValue("padding", 4, v -> v >= 1 && v <= 1024, ">= 1"));
                case "flip" -> new Augmentation.Flip(a.doubleValue("probability", 0.5, v -> v > 0 && v <= 1, "in (0, 1]"));
                case "rotate" -> new Augmentation.Rotate(a.doubleValue("degrees", 10.0, v -> v > 0 && v <= 180, "in (0, 180]"));
                case "scale" -> {
                    double min = a.doubleValue("min", 0.9, v -> v > 0 && v <= 4, "in (0, 4]");
                    double max = a.doubleValue("max", 1.1, v -> v > 0 && v <= 4, "in (0, 4]");
                    if (min > max) s.errors().add(path, "min " + min + " is larger than max " + max);
                    yield new Augmentation.Scale(min, max);
                }
                case "colorNoise" -> new Augmentation.ColorNoise(a.doubleValue("std", 0.05, v -> v > 0 && v <= 1, "in (0, 1]"));
                case "pcaNoise" -> new Augmentation.PcaNoise(a.doubleValue("std", 0.1, v -> v > 0 && v <= 10, "in (0, 10]"), null);
                case "erase" -> {
                    double p = a.doubleValue("probability", 0.5, v -> v > 0 && v <= 1, "in (0, 1]");
                    double min = a.doubleValue("minArea", 0.02, v -> v > 0 && v < 1, "in (0, 1)");
                    double max = a.doubleValue("maxArea", 0.4, v -> v > 0 && v < 1, "in (0, 1)");
                    double aspect = a.doubleValue("minAspect", 0.3, v -> v > 0 && v <= 1, "in (0, 1]");
                    if (min > max) s.errors().add(path, "minArea " + min + " is larger than maxArea " + max);
                    yield new Augmentation.Erase(p, min, max, aspect);
                }
                default -> {
                    s.errors().add(path + ".type", "must be one of " + String.join(", ", Augmentation.TYPES) + ", found '" + type + "'"
                            + Section.suggestion(type, Augmentation.TYPES));
                    yield null;
                }
            };
            a.finish();
            if (aug != null) out.add(aug);
        }
        return List.copyOf(out);
    }

    /** {@code inputShape: [C, H, W]}, or {@code imageSize: [H, W]} with {@code channels}; both forms must agree. */
    private static int[] shape(Section s) {
        boolean alt = s.has("imageSize") || s.has("channels");
        int[] shape = s.intList("inputShape", alt ? new int[0] : null, 3, v -> v > 0 && v <= 65_536,
                "[channels, height, width] of positive integers");
        int[] size = s.intList("imageSize", new int[0], 2, v -> v > 0 && v <= 65_536, "[height, width] of positive integers");
        int channels = s.intValue("channels", shape != null && shape.length == 3 ? shape[0] : 1, v -> v == 1 || v == 3, "1 or 3");
        if (shape != null && shape.length == 0 && size != null && size.length == 2) shape = new int[] {channels, size[0], size[1]};
        if (shape == null || shape.length != 3) {
            if (alt && (size == null || size.length != 2)) s.errors().add(s.keyPath("imageSize"), "is required with data.channels (or give data.inputShape)");
            return null;
        }
        if (size != null && size.length == 2 && (size[0] != shape[1] || size[1] != shape[2])) {
            s.errors().add(s.keyPath("imageSize"), "is " + Arrays.toString(size) + " but data.inputShape is " + Arrays.toString(shape));
        }
        if (channels != shape[0]) s.errors().add(s.keyPath("channels"), "is " + channels + " but data.inputShape is " + Arrays.toString(shape));
        if (shape[0] != 1 && shape[0] != 3) s.errors().add(s.keyPath("inputShape"), "channels must be 1 or 3, found " + shape[0]);
        return shape;
    }

    /** The same settings with no validation hold-out (e.g. to prepare the complete training split). */
    public DataConfig withoutValidation() {
        return new DataConfig(train, test, format, inputShape, numClasses, resize, normalization, 0.0, badRecords, augment);
    }

    public int channels() { return inputShape[0]; }
    public int height() { return inputShape[1]; }
    public int width() { return inputShape[2]; }
    public int exampleSize() { return inputShape[0] * inputShape[1] * inputShape[2]; }

    public ImageDecoder decoder() { return new ImageDecoder(channels(), height(), width(), resize); }

    @Override public boolean equals(Object o) {
        return o instanceof DataConfig d && Objects.equals(train, d.train) && Objects.equals(test, d.test) && format.equals(d.format)
                && Arrays.equals(inputShape, d.inputShape) && numClasses == d.numClasses && resize.equals(d.resize)
                && normalization.equals(d.normalization) && validationFraction == d.validationFraction
                && badRecords.equals(d.badRecords) && augment.equals(d.augment);
    }

    @Override public int hashCode() { return Objects.hash(train, test, format, Arrays.hashCode(inputShape), numClasses, resize, normalization); }

    @Override public String toString() {
        return "DataConfig[train=" + train + ", test=" + test + ", format=" + format + ", inputShape=" + Arrays.toString(inputShape)
                + ", numClasses=" + numClasses + ", resize=" + resize + ", normalization=" + normalization
                + ", validationFraction=" + validationFraction + ", badRecords=" + badRecords + ", augment=" + augment + "]";
    }
}
