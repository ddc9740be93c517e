package io.deepshard.core.zoo;

import io.deepshard.core.config.Section;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationTanH;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A hidden-layer activation: {@code activation: relu}, or {@code activation: {type: leakyrelu, alpha: 0.1}}.
 * {@code alpha} is LeakyReLU's negative slope (default 0.01, Maas et al. 2013) or ELU's saturation value (default 1.0,
 * Clevert et al. 2016); the other functions have no parameter.
 */
public record ActivationSpec(String type, double alpha) implements Serializable {
    public static final List<String> TYPES = List.of("relu", "leakyrelu", "elu", "tanh", "sigmoid");
    public static final ActivationSpec RELU = new ActivationSpec("relu", 0);
    public static final ActivationSpec TANH = new ActivationSpec("tanh", 0);

    public ActivationSpec {
        if (!TYPES.contains(type)) throw new IllegalArgumentException("activation must be one of " + TYPES + ", found " + type);
    }

    static double defaultAlpha(String type) {
        return switch (type) {
            case "leakyrelu" -> 0.01;
            case "elu" -> 1.0;
            default -> 0.0;
        };
    }

    /** Reads {@code key} of {@code opts} (a name or {@code {type, alpha}}); {@code dflt} when absent. */
    static ActivationSpec from(Section opts, String key, ActivationSpec dflt) {
        if (!opts.has(key)) return dflt;
        var node = opts.raw(key);
        if (node.isTextual()) {
            String t = opts.choice(key, dflt.type(), TYPES);
            return t == null ? dflt : new ActivationSpec(t, defaultAlpha(t));
        }
        Section s = opts.section(key);
        String t = s.choice("type", dflt.type(), TYPES);
        if (t == null) return dflt;
        double alpha = defaultAlpha(t);
        if (s.has("alpha")) {
            if (!t.equals("leakyrelu") && !t.equals("elu")) {
                s.errors().add(s.keyPath("alpha"), "applies to leakyrelu and elu only, not " + t);
            } else {
                alpha = s.doubleValue("alpha", alpha, v -> v > 0 && v < 100, "> 0");
            }
        }
        s.finish();
        return new ActivationSpec(t, alpha);
    }

    public IActivation toDl4j() {
        return switch (type) {
            case "relu" -> new ActivationReLU();
            case "leakyrelu" -> new ActivationLReLU(alpha);
            case "elu" -> new ActivationELU(alpha);
            case "tanh" -> new ActivationTanH();
            default -> new ActivationSigmoid();
        };
    }

    /** He initialization for the ReLU family (He et al. 2015), Xavier for tanh and sigmoid (Glorot and Bengio 2010). */
    public WeightInit defaultInit() {
        return type.endsWith("relu") || type.equals("elu") ? WeightInit.RELU : WeightInit.XAVIER;
    }

    /** The config form: a bare name unless alpha applies. */
    public Object describe() {
        if (!type.equals("leakyrelu") && !type.equals("elu")) return type;
        var m = new LinkedHashMap<String, Object>();
        m.put("type", type);
        m.put("alpha", alpha);
        return m;
    }

    @Override public String toString() { return describe().toString(); }

    static Map<String, Object> put(Map<String, Object> m, String key, ActivationSpec a) {
        m.put(key, a.describe());
        return m;
    }
}
