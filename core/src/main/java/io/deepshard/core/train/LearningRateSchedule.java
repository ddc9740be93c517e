package io.deepshard.core.train;

import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * The learning rate per iteration ({@code training.schedule}), defined in epochs and evaluated per iteration as the
 * fractional epoch {@code iteration / stepsPerEpoch}, so every worker of a round sees the same rate:
 * <ul>
 *   <li>linear warm-up over {@code warmupEpochs} from base/steps to base (Goyal et al. 2017, for the linear scaling
 *       rule of large effective batches);</li>
 *   <li>then {@code constant}; {@code step}: × gamma every {@code stepEpochs}; {@code exponential}: × gamma per epoch;
 *       {@code cosine}: from base to {@code minLearningRate} over the remaining epochs (Loshchilov and Hutter 2017).</li>
 * </ul>
 * A DL4J {@link ISchedule}: it travels inside the network's JSON to executors and into the saved model.
 */
public final class LearningRateSchedule implements ISchedule {
    private final String type;
    private final double base;
    private final double warmupEpochs;
    private final double stepEpochs;
    private final double gamma;
    private final double minLearningRate;
    private final double epochs;
    private final int stepsPerEpoch;

    @JsonCreator
    public LearningRateSchedule(@JsonProperty("type") String type, @JsonProperty("base") double base,
                                @JsonProperty("warmupEpochs") double warmupEpochs, @JsonProperty("stepEpochs") double stepEpochs,
                                @JsonProperty("gamma") double gamma, @JsonProperty("minLearningRate") double minLearningRate,
                                @JsonProperty("epochs") double epochs, @JsonProperty("stepsPerEpoch") int stepsPerEpoch) {
        this.type = type;
        this.base = base;
        this.warmupEpochs = warmupEpochs;
        this.stepEpochs = stepEpochs;
        this.gamma = gamma;
        this.minLearningRate = minLearningRate;
        this.epochs = epochs;
        this.stepsPerEpoch = Math.max(1, stepsPerEpoch);
    }

    @Override public double valueAt(int iteration, int epoch) {
        double e = (double) iteration / stepsPerEpoch;
        if (e < warmupEpochs) return base * (iteration + 1) / (warmupEpochs * stepsPerEpoch);
        double t = e - warmupEpochs;
        return switch (type) {
            case "step" -> base * Math.pow(gamma, Math.floor(t / stepEpochs));
            case "exponential" -> base * Math.pow(gamma, t);
            case "cosine" -> {
                double span = Math.max(1e-9, epochs - warmupEpochs);
                yield minLearningRate + (base - minLearningRate) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, t / span)));
            }
            default -> base;
        };
    }

    @Override public ISchedule clone() {
        return new LearningRateSchedule(type, base, warmupEpochs, stepEpochs, gamma, minLearningRate, epochs, stepsPerEpoch);
    }

    @JsonProperty("type") public String type() { return type; }
    @JsonProperty("base") public double base() { return base; }
    @JsonProperty("warmupEpochs") public double warmupEpochs() { return warmupEpochs; }
    @JsonProperty("stepEpochs") public double stepEpochs() { return stepEpochs; }
    @JsonProperty("gamma") public double gamma() { return gamma; }
    @JsonProperty("minLearningRate") public double minLearningRate() { return minLearningRate; }
    @JsonProperty("epochs") public double epochs() { return epochs; }
    @JsonProperty("stepsPerEpoch") public int stepsPerEpoch() { return stepsPerEpoch; }

    @Override public boolean equals(Object o) {
        return o instanceof LearningRateSchedule s && s.type.equals(type) && s.base == base && s.warmupEpochs == warmupEpochs
                && s.stepEpochs == stepEpochs && s.gamma == gamma && s.minLearningRate == minLearningRate && s.epochs == epochs
                && s.stepsPerEpoch == stepsPerEpoch;
    }

    @Override public int hashCode() { return java.util.Objects.hash(type, base, warmupEpochs, stepsPerEpoch); }
}
