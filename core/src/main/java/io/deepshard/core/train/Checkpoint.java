package io.deepshard.core.train;

import io.deepshard.core.transform.Normalizer;

import java.util.List;
import java.util.SortedMap;

/**
 * Everything needed to continue a training run exactly where it stopped, at the end of an averaging round.
 *
 * <p>There is no separate random-number state to save: every random choice of a run is derived from
 * {@code training.seed} and the counters held here (the epoch's shuffle and augmentation from the epoch, each worker's
 * dropout masks from the iteration and its partition), so continuing from a checkpoint replays exactly the draws an
 * uninterrupted run makes.
 *
 * @param state      parameters, updater state and iteration/epoch counters after the last completed round
 * @param best       with early stopping and {@code restoreBest}: the best epoch's state when it is not {@code state}
 *                   (null otherwise)
 * @param normalizer the input normalization fitted on the training split at the start of the run
 * @param progress   where in the run the checkpoint was taken, and what the run has reported so far
 */
public record Checkpoint(NetworkState state, NetworkState best, Normalizer normalizer, Progress progress) {

    /**
     * @param epoch             0-based index of the epoch to continue (after the last epoch of a finished run:
     *                          {@code training.epochs})
     * @param roundsDone        rounds of that epoch already done (0 at an epoch boundary)
     * @param epochExamples     examples trained in those rounds
     * @param epochLossSum      their summed losses (example-weighted), for the epoch's mean training loss
     * @param epochTrainSeconds training time spent in those rounds
     * @param epochTiming       and how their time divided (null for {@code dl4j-paramavg})
     * @param workers           the number of workers (shards) of the run: resuming with another number would deal
     *                          the examples differently
     * @param trainExamples     the size of the training split: resuming on other data is refused
     * @param history           the metrics of the completed epochs
     * @param settings          the run's training settings ({@code DeepshardConfig.trainingSettings()})
     */
    public record Progress(int epoch, int roundsDone, long epochExamples, double epochLossSum, double epochTrainSeconds,
                           RoundTiming epochTiming, int workers, long trainExamples, List<EpochMetrics> history, SortedMap<String, String> settings) {
        public Progress {
            history = List.copyOf(history);
            settings = new java.util.TreeMap<>(settings);
        }

        /** A sortable name: epochs completed, then rounds completed in the next epoch. */
        public String name() {
            return String.format(java.util.Locale.ROOT, "ckpt-e%04d-r%06d", epoch, roundsDone);
        }

        /** As the log prints it. */
        public String describe() {
            return roundsDone == 0 ? "end of epoch " + epoch : "epoch " + (epoch + 1) + " after round " + roundsDone;
        }
    }
}
