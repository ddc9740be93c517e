package io.deepshard.core.zoo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.config.Section;

import java.util.List;

/** Looks up zoo models by name and reads their options from the config ({@code model: lenet5} or a mapping). */
public final class ModelZoo {
    public static final ObjectMapper MAPPER = new ObjectMapper();
    public static final List<String> NAMES = List.of(LeNet5.NAME, Mlp.NAME, ResNet.NAME, UNet.NAME);

    private ModelZoo() {}

    private static double dropout(Section opts) {
        return opts.doubleValue("dropout", 0.0, p -> p >= 0 && p < 1, "in [0, 1): the probability of dropping a unit");
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
            case LeNet5.NAME -> new LeNet5(opts.choice("variant", "modern", List.of("modern", "classic")), dropout(opts));
            case Mlp.NAME -> new Mlp(
                    opts.intList("hidden", new int[] {256, 128}, -1, x -> x >= 1, "a list of positive layer sizes"),
                    opts.choice("activation", "relu", Mlp.ACTIVATIONS), dropout(opts));
            case ResNet.NAME -> {
                int depth = opts.intValue("depth", 18, d -> ResNet.DEPTHS.contains((int) d), "one of 18, 34, 50");
                yield new ResNet(ResNet.DEPTHS.contains(depth) ? depth : 18, opts.bool("small", false)); // error already recorded
            }
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
