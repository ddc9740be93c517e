package io.deepshard.core.config;

import io.deepshard.core.train.LearningRateSchedule;

import java.io.Serializable;
import java.util.List;

/** {@code training.schedule}: how the learning rate changes; see {@link LearningRateSchedule}. */
public record ScheduleSpec(String type, double warmupEpochs, double stepEpochs, double gamma, double minLearningRate)
        implements Serializable {
    public static final List<String> TYPES = List.of("constant", "step", "exponential", "cosine");
    public static final ScheduleSpec CONSTANT = new ScheduleSpec("constant", 0, 1, 0.1, 0);

    static ScheduleSpec from(Section s) {
        String type = s.choice("type", "constant", TYPES);
        double warmup = s.doubleValue("warmupEpochs", 0.0, v -> v >= 0 && v <= 1000, "in [0, 1000]");
        double step = s.doubleValue("stepEpochs", 1.0, v -> v > 0, "> 0");
        double gamma = s.doubleValue("gamma", "exponential".equals(type) ? 0.9 : 0.1, v -> v > 0 && v <= 1, "in (0, 1]");
        double min = s.doubleValue("minLearningRate", 0.0, v -> v >= 0, ">= 0");
        s.finish();
        return new ScheduleSpec(type, warmup, step, gamma, min);
    }

    /** The DL4J schedule for a base rate, a number of epochs and the steps per epoch of this training. */
    public LearningRateSchedule resolve(double base, int epochs, int stepsPerEpoch) {
        return new LearningRateSchedule(type, base, warmupEpochs, stepEpochs, gamma, minLearningRate, epochs, stepsPerEpoch);
    }
}
