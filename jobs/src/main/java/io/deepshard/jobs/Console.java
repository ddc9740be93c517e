package io.deepshard.jobs;

import io.deepshard.core.train.EpochMetrics;
import io.deepshard.spark.train.TrainingListener;

import java.io.PrintStream;
import java.util.Locale;

/**
 * What the user sees: one line per epoch on stdout, and within an epoch a progress bar on stderr (redrawn in place on
 * a terminal; a line per quarter of the epoch in logs, so CI and YARN logs stay readable).
 */
final class Console implements TrainingListener {
    private final PrintStream out;
    private final PrintStream err;
    private final boolean tty;
    private final String prefix;
    private int lastQuarter = -1;
    private boolean headerPrinted;

    Console(PrintStream out, PrintStream err, boolean tty) {
        this(out, err, tty, "");
    }

    private Console(PrintStream out, PrintStream err, boolean tty, String prefix) {
        this.out = out;
        this.err = err;
        this.tty = tty;
        this.prefix = prefix;
    }

    /** A console whose every line starts with {@code prefix} (runs printing at the same time, e.g. tune's trials); no redrawn bars. */
    Console prefixed(String prefix) { return new Console(out, err, false, this.prefix + prefix); }

    static Console system() {
        boolean tty = System.console() != null && !"true".equalsIgnoreCase(System.getenv("CI"));
        return new Console(System.out, System.err, tty);
    }

    void info(String line) {
        for (String l : line.split("\n", -1)) out.println(prefix + l);
        out.flush();
    }

    @Override public void onRound(int epoch, int round, int rounds, double loss) {
        double frac = (double) round / rounds;
        if (tty) {
            int width = 30, done = (int) Math.round(frac * width);
            err.printf(Locale.ROOT, "\r  epoch %d [%s%s] %3.0f%%  round %d/%d  loss %.4f ", epoch + 1,
                    "=".repeat(done), " ".repeat(width - done), frac * 100, round, rounds, loss);
            if (round == rounds) err.print("\r" + " ".repeat(80) + "\r");
            err.flush();
        } else {
            int quarter = (int) Math.floor(frac * 4);
            if (round == 1) lastQuarter = 0;
            if (quarter > lastQuarter && round < rounds) {
                lastQuarter = quarter;
                err.printf(Locale.ROOT, "%s  epoch %d: %d%% (round %d/%d, loss %.4f)%n", prefix, epoch + 1, quarter * 25, round, rounds, loss);
                err.flush();
            }
        }
    }

    private boolean showValidation, showTest;

    /** One line per epoch; validation and test columns appear when the run has those splits. */
    @Override public void onEpoch(EpochMetrics m) {
        boolean seg = m.meanIoU() != null;
        if (!headerPrinted) {
            showValidation = !Double.isNaN(m.validationLoss());
            showTest = !Double.isNaN(m.testLoss());
            out.println(prefix + "epoch  train-loss" + (showValidation ? "  val-loss  val-acc" : "") + (showTest ? (seg ? "  test-loss  pixel-acc" : "  test-loss  test-acc") : "")
                    + (seg ? "  mean-IoU" : "") + "   images/s   elapsed");
            headerPrinted = true;
        }
        var line = new StringBuilder(String.format(Locale.ROOT, "%5d  %10.4f", m.epoch(), m.trainLoss()));
        if (showValidation) line.append(String.format(Locale.ROOT, "  %8.4f  %7.4f", m.validationLoss(), m.validationAccuracy()));
        if (showTest) line.append(String.format(Locale.ROOT, seg ? "  %9.4f  %9.4f" : "  %9.4f  %8.4f", m.testLoss(), m.testAccuracy()));
        if (seg) line.append(String.format(Locale.ROOT, "  %8.4f", m.meanIoU()));
        line.append(String.format(Locale.ROOT, seg ? "  %9.1f  %8s" : "  %9.0f  %8s", m.imagesPerSecond(), duration(m.elapsedSeconds())));
        if (m.best()) line.append("  * best");
        out.println(prefix + line);
        out.flush();
    }

    @Override public void onEarlyStop(int epoch, int bestEpoch, double bestValue, io.deepshard.core.config.EarlyStoppingSpec spec) {
        info(String.format(Locale.ROOT, "early stopping after epoch %d: %s has not improved by more than %s for %d epoch(s); "
                + "best %.4f at epoch %d%s", epoch, spec.monitor(), spec.minDelta(), spec.patience(), bestValue, bestEpoch,
                spec.restoreBest() ? " (restored)" : ""));
    }

    /** Per-class IoU and Dice of a segmentation evaluation, one line per class ({@code -}: in neither truth nor prediction). */
    static String perClass(io.deepshard.core.train.EvalStats test, java.util.List<String> names) {
        var sb = new StringBuilder(String.format(Locale.ROOT, "%-20s %8s %8s%n", "class", "IoU", "Dice"));
        for (int k = 0; k < test.numClasses(); k++) {
            String name = k + " " + (k < names.size() ? names.get(k) : "");
            sb.append(String.format(Locale.ROOT, "%-20s %8s %8s%n", name, fmt(test.iou(k)), fmt(test.dice(k))));
        }
        sb.append(String.format(Locale.ROOT, "%-20s %8s %8s", "mean", fmt(test.meanIoU()), fmt(test.meanDice())));
        return sb.toString();
    }

    private static String fmt(double v) { return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.4f", v); }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format("%d:%02d", s / 60, s % 60);
    }
}
