package io.deepshard.core.zoo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.config.Section;

import java.util.List;

/** Looks up zoo models by name and reads their options from the config ({@code model: lenet5} or a mapping). */
public final class ModelZoo {
    public static final ObjectMapper MAPPER = new ObjectMapper();
    public static final List<String> NAMES = List.of(LeNet5.NAME, Mlp.NAME, ResNet.NAME, Vgg.NAME, InceptionV1.NAME, UNet.NAME);

    private ModelZoo() {}

    /** The dropout option; a bad value is recorded as an error and replaced by the default, so parsing goes on. */
    private static double dropout(Section opts, double dflt) {
        double p = opts.doubleValue("dropout", dflt, x -> x >= 0 && x < 1, "in [0, 1): the probability of dropping a unit");
        return p >= 0 && p < 1 ? p : dflt;
    }

    /** Reads {@code key} of {@code parent}: a zoo name, or a mapping with {@code name} and the model's options. */
    public static ZooModel fromConfig(Section parent, String key) {
        JsonNode v = parent.raw(key);
        String path = parent.keyPath(key);
        Section opts;
        String name;
        if (v == null) {
            parent.errors().add(path, "is required (one of " + String.join(", ", NAMES) + ", or a mapping with name and options)");
            return null;
        } else if (v.isTextual()) {
            name = v.asText().trim().toLowerCase(java.util.Locale.ROOT);
            opts = new Section(path, null, parent.errors());
        } else if (v.isObject()) {
            opts = new Section(path, v, parent.errors());
            name = opts.string("name", null);
            if (name == null) return null;
            name = name.trim().toLowerCase(java.util.Locale.ROOT);
        } else {
            parent.errors().add(path, "must be a model name or a mapping with name and options, found " + v);
            return null;
        }
        ZooModel model = switch (name) {
            case LeNet5.NAME -> {
                String variant = opts.choice("variant", "modern", List.of("modern", "classic"));
                if (variant == null) variant = "modern"; // error already recorded
                yield new LeNet5(variant, dropout(opts, 0.0), ActivationSpec.from(opts, "activation", LeNet5.defaultActivation(variant)),
                        opts.bool("batchNorm", false));
            }
            case Mlp.NAME -> new Mlp(
                    opts.intList("hidden", new int[] {256, 128}, -1, x -> x >= 1, "a list of positive layer sizes"),
                    ActivationSpec.from(opts, "activation", ActivationSpec.RELU), dropout(opts, 0.0), opts.bool("batchNorm", false));
            case ResNet.NAME -> {
                int depth = opts.intValue("depth", 18, d -> ResNet.DEPTHS.contains((int) d), ResNet.DEPTH_RULE);
                if (!ResNet.DEPTHS.contains(depth)) depth = 18; // error already recorded
                boolean cifar = ResNet.CIFAR_DEPTHS.contains(depth);
                boolean small = opts.bool("small", cifar);
                if (cifar && !small) {
                    opts.errors().add(opts.keyPath("small"), "must be true for depth " + depth
                            + " (the CIFAR ResNets of section 4.2 are for 28–32 px inputs), found false");
                }
                yield new ResNet(depth, small || cifar);
            }
            case Vgg.NAME -> {
                int depth = opts.intValue("depth", 16, d -> Vgg.DEPTHS.contains((int) d), "one of 11, 13, 16, 19");
                yield new Vgg(Vgg.DEPTHS.contains(depth) ? depth : 16, opts.bool("small", false), opts.bool("batchNorm", false),
                        dropout(opts, 0.5));
            }
            case InceptionV1.NAME, InceptionV1.ALIAS -> new InceptionV1(opts.bool("small", false), dropout(opts, 0.4));
            case UNet.NAME -> {
                int base = opts.intValue("base", 64, b -> b >= 1 && b <= 1024, "in 1..1024: filters of the first level");
                int depth = opts.intValue("depth", 4, d -> d >= 1 && d <= UNet.MAX_DEPTH, "in 1.." + UNet.MAX_DEPTH + ": the number of 2x2 downsamplings");
                boolean bn = opts.bool("batchNorm", true);
                yield new UNet(Math.max(1, Math.min(1024, base)), Math.max(1, Math.min(UNet.MAX_DEPTH, depth)), bn); // errors already recorded
            }
            default -> {
                parent.errors().add(v.isObject() ? path + ".name" : path, "unknown model '" + name + "' (known: "
                        + String.join(", ", NAMES) + ")");
                yield null;
            }
        };
        opts.finish();
        return model;
    }
}
