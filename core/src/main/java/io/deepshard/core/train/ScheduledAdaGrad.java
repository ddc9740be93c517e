package io.deepshard.core.train;

import org.nd4j.linalg.learning.config.AdaGrad;
import org.nd4j.linalg.schedule.ISchedule;

/**
 * DL4J's AdaGrad with a learning-rate schedule that survives copying. In ND4J 1.0.0-M2.1 {@code AdaGrad.clone()}
 * keeps the fixed rate and drops the schedule, and DL4J clones the updater into every layer, so a scheduled AdaGrad
 * silently trained at its base rate (TrainingFeaturesTest reads the rate back per iteration). The constructor taking
 * a schedule is no way out either: it sets the fixed rate to NaN, which AdaGrad's state initialization reads.
 */
public class ScheduledAdaGrad extends AdaGrad {
    /** For JSON deserialization (DL4J stores updaters by class name). */
    public ScheduledAdaGrad() {}

    public ScheduledAdaGrad(double learningRate, ISchedule schedule, double epsilon) {
        super(learningRate, epsilon);
        setLearningRateSchedule(schedule);
    }

    @Override public ScheduledAdaGrad clone() {
        ISchedule s = getLearningRateSchedule();
        return new ScheduledAdaGrad(getLearningRate(), s == null ? null : s.clone(), getEpsilon());
    }
}
