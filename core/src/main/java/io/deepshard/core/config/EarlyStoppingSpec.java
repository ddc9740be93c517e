package io.deepshard.core.config;

import java.io.Serializable;
import java.util.List;

/**
 * {@code training.earlyStopping}: stop when the validation metric has not improved for {@code patience} epochs.
 *
 * @param monitor     {@code validation-loss} (lower is better) or {@code validation-accuracy} (higher is better)
 * @param patience    epochs without improvement after which training stops (&gt;= 1)
 * @param minDelta    the smallest change that counts as an improvement (in the metric's units, &gt;= 0)
 * @param restoreBest whether the final model is the best epoch's (true) or the last epoch's (false)
 */
public record EarlyStoppingSpec(String monitor, int patience, double minDelta, boolean restoreBest) implements Serializable {
    public static final List<String> MONITORS = List.of("validation-loss", "validation-accuracy");

    static EarlyStoppingSpec from(Section s) {
        String monitor = s.choice("monitor", "validation-loss", MONITORS);
        int patience = s.intValue("patience", 3, v -> v >= 1 && v <= 100_000, ">= 1");
        double minDelta = s.doubleValue("minDelta", 0.0, v -> v >= 0, ">= 0");
        boolean restore = s.bool("restoreBest", true);
        s.finish();
        return new EarlyStoppingSpec(monitor, patience, minDelta, restore);
    }

    /** Whether larger values of the monitored metric are better. */
    public boolean higherIsBetter() { return monitor.equals("validation-accuracy"); }
}
