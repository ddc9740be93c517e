package io.deepshard.core.train;

import io.deepshard.core.config.ConfigException;
import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.EarlyStoppingSpec;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The early-stopping rule on scripted validation curves. */
class EarlyStoppingTest {

    /** Feeds the curve until the rule says stop; returns {stop epoch (0 = never), best epoch}. */
    static int[] run(EarlyStoppingSpec spec, double... curve) {
        EarlyStopping es = new EarlyStopping(spec);
        for (int e = 1; e <= curve.length; e++) {
            if (es.observe(e, curve[e - 1]).stop()) return new int[] {e, es.bestEpoch()};
        }
        return new int[] {0, es.bestEpoch()};
    }

    @Test
    void stopsAfterPatienceEpochsWithoutImprovement() {
        var spec = new EarlyStoppingSpec("validation-loss", 2, 0.0, true);
        // best at epoch 3 (0.5); epochs 4 and 5 are worse -> stop at 5
        assertThat(run(spec, 0.9, 0.7, 0.5, 0.55, 0.6, 0.4)).containsExactly(5, 3);
        // an improvement resets the count
        assertThat(run(spec, 0.9, 0.95, 0.8, 0.85, 0.7, 0.75, 0.76)).containsExactly(7, 5);
        // never two bad epochs in a row: runs to the end
        assertThat(run(spec, 1, 0.9, 0.8, 0.7)).containsExactly(0, 4);
        // NaN is never an improvement
        assertThat(run(spec, 0.5, Double.NaN, Double.NaN)).containsExactly(3, 1);
    }

    @Test
    void minDeltaIgnoresTinyImprovements() {
        var spec = new EarlyStoppingSpec("validation-loss", 2, 0.01, true);
        // 0.495 and 0.492 are within 0.01 of the best 0.5 -> not improvements
        assertThat(run(spec, 0.6, 0.5, 0.495, 0.492, 0.3)).containsExactly(4, 2);
    }

    @Test
    void accuracyIsBetterWhenHigher() {
        var spec = new EarlyStoppingSpec("validation-accuracy", 1, 0.0, true);
        assertThat(run(spec, 0.80, 0.85, 0.84)).containsExactly(3, 2);
        assertThat(run(spec, 0.80, 0.85, 0.85)).containsExactly(3, 2); // equal is not better
    }

    @Test
    void configNeedsAValidationSplit() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("""
                model: lenet5
                data: {train: fashion-mnist:train, test: fashion-mnist:test, inputShape: [1, 28, 28], numClasses: 10}
                training: {earlyStopping: {patience: 0, monitor: val-loss}}
                """, "t", List.of()));
        assertThat(e.problems()).containsExactly(
                "training.earlyStopping.monitor: must be one of validation-loss, validation-accuracy, found 'val-loss'",
                "training.earlyStopping.patience: must be an integer >= 1, found 0",
                "training.earlyStopping: needs a validation split: set data.validationFraction (e.g. 0.1) to hold out part of "
                        + "the training data; the test split is never used to choose the model");
        var ok = ConfigLoader.parse("""
                model: lenet5
                data: {train: fashion-mnist:train, test: fashion-mnist:test, inputShape: [1, 28, 28], numClasses: 10, validationFraction: 0.1}
                training: {earlyStopping: {patience: 4, minDelta: 0.001}}
                """, "t", List.of());
        assertThat(ok.training().earlyStopping()).isEqualTo(new EarlyStoppingSpec("validation-loss", 4, 0.001, true));
        assertThat(ok.resolved()).contains("monitor: validation-loss").contains("restoreBest: true");
    }
}
