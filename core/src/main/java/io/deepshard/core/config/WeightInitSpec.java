package io.deepshard.core.config;

import org.deeplearning4j.nn.conf.distribution.NormalDistribution;
import org.deeplearning4j.nn.conf.distribution.UniformDistribution;
import org.deeplearning4j.nn.weights.IWeightInit;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.nn.weights.WeightInitDistribution;

import java.io.Serializable;
import java.util.List;

/**
 * {@code training.weightInit}: how weights are drawn (with the training seed). {@code model} keeps each zoo model's
 * own choice (the paper's). Otherwise every layer with weights uses the same rule:
 * {@code xavier} (Glorot and Bengio 2010, normal, variance 2/(fanIn+fanOut)), {@code xavier-uniform},
 * {@code he} (He et al. 2015, normal, variance 2/fanIn), {@code he-uniform}, {@code lecun} (normal, variance 1/fanIn),
 * {@code normal} (N(0, std²), {@code std} default 0.01) or {@code uniform} (U(-range, range), {@code range} default 0.05).
 * Biases start at zero.
 */
public record WeightInitSpec(String type, double scale) implements Serializable {
    public static final List<String> TYPES = List.of("model", "xavier", "xavier-uniform", "he", "he-uniform", "lecun", "normal", "uniform");
    public static final WeightInitSpec MODEL = new WeightInitSpec("model", 0);

    static WeightInitSpec from(Section parent, String key) {
        if (!parent.has(key)) return MODEL;
        if (parent.raw(key).isTextual()) {
            String t = parent.choice(key, "model", TYPES);
            return new WeightInitSpec(t, defaultScale(t));
        }
        Section s = parent.section(key);
        String t = s.choice("type", "model", TYPES);
        double scale = defaultScale(t);
        if (t.equals("normal")) scale = s.doubleValue("std", scale, v -> v > 0, "> 0");
        else if (t.equals("uniform")) scale = s.doubleValue("range", scale, v -> v > 0, "> 0");
        s.finish();
        return new WeightInitSpec(t, scale);
    }

    private static double defaultScale(String type) {
        return switch (type) {
            case "normal" -> 0.01;
            case "uniform" -> 0.05;
            default -> 0;
        };
    }

    public boolean isModelDefault() { return type.equals("model"); }

    /** The DL4J rule; not for {@code model}. */
    public IWeightInit toDl4j() {
        return switch (type) {
            case "xavier" -> WeightInit.XAVIER.getWeightInitFunction();
            case "xavier-uniform" -> WeightInit.XAVIER_UNIFORM.getWeightInitFunction();
            case "he" -> WeightInit.RELU.getWeightInitFunction();
            case "he-uniform" -> WeightInit.RELU_UNIFORM.getWeightInitFunction();
            case "lecun" -> WeightInit.LECUN_NORMAL.getWeightInitFunction();
            case "normal" -> new WeightInitDistribution(new NormalDistribution(0, scale));
            case "uniform" -> new WeightInitDistribution(new UniformDistribution(-scale, scale));
            default -> throw new IllegalStateException("weightInit 'model' has no single rule");
        };
    }
}
