package io.deepshard.core.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

import java.util.Map;
import java.util.Objects;

/**
 * Classical (heavy-ball) momentum, which DL4J lacks (it has Nesterov only): {@code v = momentum * v + g;
 * w -= lr * v} (Polyak 1964; the form of PyTorch's SGD with momentum). The velocity is the updater state — one value
 * per parameter — so it is averaged across workers like every other updater state.
 */
public final class Momentum implements IUpdater {
    private final double learningRate;
    private final ISchedule learningRateSchedule;
    private final double momentum;

    @JsonCreator
    public Momentum(@JsonProperty("learningRate") double learningRate,
                    @JsonProperty("learningRateSchedule") ISchedule learningRateSchedule,
                    @JsonProperty("momentum") double momentum) {
        this.learningRate = learningRate;
        this.learningRateSchedule = learningRateSchedule;
        this.momentum = momentum;
    }

    @JsonProperty("learningRate") public double learningRate() { return learningRate; }
    @JsonProperty("learningRateSchedule") public ISchedule learningRateSchedule() { return learningRateSchedule; }
    @JsonProperty("momentum") public double momentum() { return momentum; }

    @Override public long stateSize(long numParams) { return numParams; }

    @Override public GradientUpdater instantiate(INDArray viewArray, boolean initialize) {
        Updater u = new Updater(this);
        u.setStateViewArray(viewArray, viewArray.shape(), viewArray.ordering(), initialize);
        return u;
    }

    @Override public GradientUpdater instantiate(Map<String, INDArray> state, boolean initialize) {
        Updater u = new Updater(this);
        u.setState(state, initialize);
        return u;
    }

    @Override public IUpdater clone() {
        return new Momentum(learningRate, learningRateSchedule == null ? null : learningRateSchedule.clone(), momentum);
    }

    @Override public double getLearningRate(int iteration, int epoch) {
        return learningRateSchedule != null ? learningRateSchedule.valueAt(iteration, epoch) : learningRate;
    }

    @Override public boolean hasLearningRate() { return true; }

    @Override public void setLrAndSchedule(double lr, ISchedule schedule) {
        throw new UnsupportedOperationException("Momentum is immutable: build a new one");
    }

    @Override public boolean equals(Object o) {
        return o instanceof Momentum m && m.learningRate == learningRate && m.momentum == momentum
                && Objects.equals(m.learningRateSchedule, learningRateSchedule);
    }

    @Override public int hashCode() { return Objects.hash(learningRate, learningRateSchedule, momentum); }

    @Override public String toString() { return "Momentum(lr=" + learningRate + ", schedule=" + learningRateSchedule + ", momentum=" + momentum + ")"; }

    /** The velocity lives in the updater state view, so it is saved, broadcast and averaged with the rest. */
    static final class Updater implements GradientUpdater<Momentum> {
        static final String VELOCITY = "V";
        private final Momentum config;
        private INDArray v;

        Updater(Momentum config) { this.config = config; }

        @Override public Momentum getConfig() { return config; }

        @Override public void setState(Map<String, INDArray> state, boolean initialize) {
            if (!state.containsKey(VELOCITY) || state.size() != 1) throw new IllegalStateException("expected state key " + VELOCITY + ", found " + state.keySet());
            v = state.get(VELOCITY);
            if (initialize) v.assign(0);
        }

        @Override public Map<String, INDArray> getState() { return Map.of(VELOCITY, v); }

        @Override public void setStateViewArray(INDArray view, long[] gradientShape, char order, boolean initialize) {
            if (initialize) view.assign(0);
            v = view.reshape(order, gradientShape);
        }

        @Override public void applyUpdater(INDArray gradient, int iteration, int epoch) {
            if (v == null) throw new IllegalStateException("updater state not set");
            double lr = config.getLearningRate(iteration, epoch);
            v.muli(config.momentum).addi(gradient);   // v = momentum * v + g
            gradient.assign(v).muli(lr);              // the step DL4J subtracts: lr * v
        }
    }
}
