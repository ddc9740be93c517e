package io.deepshard.core.train;

/** The loss became NaN or infinite: training cannot meaningfully continue. */
public final class TrainingDivergedException extends RuntimeException {
    public TrainingDivergedException(String message) { super(message); }
}
