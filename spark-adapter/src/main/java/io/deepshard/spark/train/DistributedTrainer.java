package io.deepshard.spark.train;

import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.config.TrainingConfig;
import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.Checkpoint;
import io.deepshard.core.train.CheckpointException;
import io.deepshard.core.train.CheckpointStore;
import io.deepshard.core.train.EarlyStopping;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.core.train.EvalStats;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.OneDnnHelpers;
import io.deepshard.core.train.RoundTiming;
import io.deepshard.core.train.TrainingRecipe;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.zoo.NetworkFactory;
import io.deepshard.spark.data.LoadedSplit;
import io.deepshard.spark.data.Normalization;
import io.deepshard.spark.data.Sharder;
import io.deepshard.core.transform.Augmenter;
import io.deepshard.core.transform.ColorPca;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.graph.ComputationGraph;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * The epoch loop on the driver: reshuffle into shards, let the strategy train the epoch, evaluate, report.
 * Data, model and settings come from the validated config; the strategy decides how workers are combined.
 */
public final class DistributedTrainer {
    private static final Logger LOG = LoggerFactory.getLogger(DistributedTrainer.class);
    private final JavaSparkContext sc;
    private final DeepshardConfig config;
    private final java.util.function.IntFunction<ComputationGraph> initialNetwork;

    public DistributedTrainer(JavaSparkContext sc, DeepshardConfig config) {
        this(sc, config, null);
    }

    /**
     * @param initialNetwork builds the network to start from, given the optimizer steps per epoch (learning-rate
     *                       schedules are resolved for it), e.g. a transferred model with frozen layers; null: a new
     *                       network of {@code config.model()} initialized with the training seed
     */
    public DistributedTrainer(JavaSparkContext sc, DeepshardConfig config, java.util.function.IntFunction<ComputationGraph> initialNetwork) {
        this.sc = sc;
        this.config = config;
        this.initialNetwork = initialNetwork;
    }

    /**
     * The result: the trained network (on the driver) and its state — the best epoch's when early stopping restored
     * it —, per-epoch metrics, and the final model's evaluation on the validation and test splits (null without them).
     *
     * @param bestEpoch    the epoch whose state is returned (1-based)
     * @param stoppedEarly whether early stopping ended training before {@code training.epochs}
     */
    public record Result(ComputationGraph network, NetworkState state, List<EpochMetrics> history, int workers,
                         double imagesPerSecond, EvalStats finalValidation, EvalStats finalTest, int bestEpoch,
                         boolean stoppedEarly) {}

    /** Number of workers: {@code training.workers}, or Spark's default parallelism (all task slots) when 0. */
    public int workers() {
        int w = config.training().workers();
        return w > 0 ? w : Math.max(1, sc.defaultParallelism());
    }

    /** {@code data.augment} for this split, checked before any work starts (PCA noise fitted on the split). */
    private Augmenter augmenter(LoadedSplit train) {
        var d = config.data();
        Augmenter augmenter = new Augmenter(d.augment(), config.training().seed(), d.channels(), d.height(), d.width());
        if (augmenter.isEmpty()) return augmenter;
        if (train.records().first().isFloat()) {
            throw new io.deepshard.core.data.DataFormatException("data.augment works on 8-bit images, but " + train.description().get("uri")
                    + " holds float values (Parquet float arrays): remove data.augment or store the images as bytes");
        }
        return augmenter.needsColorPca() ? augmenter.withColorPca(ColorPca.of(Normalization.stats(train.records(), d.channels()))) : augmenter;
    }

    private static void warnAboutEmptyClasses(long[] counts, List<String> names) {
        for (int c = 0; c < counts.length; c++) {
            if (counts[c] == 0) {
                LOG.warn("class {} ({}) has no training examples: the model can never learn to predict it", c,
                        c < names.size() ? names.get(c) : "?");
            }
        }
    }

    private void warnIfOversubscribed(int workers) {
        int slots = sc.defaultParallelism();
        if (workers > slots) {
            LOG.warn("training.workers = {} but Spark has {} task slots: every round runs in {} waves, each as slow as "
                    + "the slowest task; use training.workers = {} (or 0) for synchronous rounds without waiting",
                    workers, slots, (workers + slots - 1) / slots, slots);
        }
    }

    /** A per-pixel model needs records with masks, a classifier records without: checked on the first record. */
    private void checkRecordsFitTheModel(LoadedSplit train) {
        boolean masks = train.records().first().hasMask(), perPixel = config.model().segmentation();
        if (masks != perPixel) {
            throw new io.deepshard.core.data.DataFormatException(perPixel
                    ? "model " + config.model().name() + " predicts a class per pixel, but the training data " + train.description()
                            + " has one label per image: give segmentation data (images/ and masks/ folders, data.format: segmentation)"
                    : "model " + config.model().name() + " predicts one class per image, but the training data " + train.description()
                            + " is segmentation data (images with masks): use a segmentation model such as unet");
        }
    }

    public Result fit(LoadedSplit train, JavaRDD<Shard> testShards, Normalizer normalizer, TrainingListener listener) {
        return fit(train, null, testShards, normalizer, listener, Checkpointing.NONE);
    }

    public Result fit(LoadedSplit train, JavaRDD<Shard> validationShards, JavaRDD<Shard> testShards, Normalizer normalizer,
                      TrainingListener listener) {
        return fit(train, validationShards, testShards, normalizer, listener, Checkpointing.NONE);
    }

    /**
     * Where checkpoints go and what to resume from.
     *
     * @param store      the run's checkpoint store, or null for none
     * @param resumeFrom the checkpoint to continue from, or null to start a new run
     */
    public record Checkpointing(CheckpointStore store, Checkpoint resumeFrom) {
        public static final Checkpointing NONE = new Checkpointing(null, null);
    }

    /**
     * Trains for {@code training.epochs}, evaluating the validation and test shards (either may be null) after every
     * epoch. With {@code training.earlyStopping}, the validation metric decides: a new best is reported to
     * {@link TrainingListener#onBest} (the job checkpoints it), training stops after {@code patience} epochs without
     * improvement, and with {@code restoreBest} the best epoch's state is the result.
     *
     * <p>With a checkpoint store, a checkpoint is written at every epoch end and every {@code training.checkpointEvery}
     * rounds. Resumed from a checkpoint, the run continues at the round after it and ends with exactly the parameters
     * an uninterrupted run ends with: rounds are pure functions of (state, shards, round), the shards and augmentations
     * of an epoch depend only on the seed and the epoch, and dropout draws on the seed, iteration and worker.
     * {@code normalizer} must then be the checkpoint's.
     */
    public Result fit(LoadedSplit train, JavaRDD<Shard> validationShards, JavaRDD<Shard> testShards, Normalizer normalizer,
                      TrainingListener listener, Checkpointing checkpointing) {
        TrainingConfig t = config.training();
        if (t.earlyStopping() != null && validationShards == null) {
            throw new IllegalArgumentException("training.earlyStopping needs a validation split (data.validationFraction)");
        }
        checkRecordsFitTheModel(train);
        int workers = workers();
        warnIfOversubscribed(workers);
        BatchPlan plan = new BatchPlan(train.count(), workers, t.batchSize(), t.averagingFrequency());
        ComputationGraph net = initialNetwork != null ? initialNetwork.apply(plan.stepsPerEpoch())
                : NetworkFactory.create(config.model(), config.data(), t, plan.stepsPerEpoch());
        NetworkState state = NetworkState.of(net);
        LOG.info("engine {}", OneDnnHelpers.describe(OneDnnHelpers.resolve(t.engine()), net));
        int[] frozen = io.deepshard.core.zoo.Transfer.frozenParamRanges(net);
        if (frozen.length > 0 && !t.strategy().equals("averaging")) {
            throw new IllegalArgumentException("frozen layers (transfer learning) need training.strategy averaging, found " + t.strategy());
        }
        TrainingRecipe recipe = new TrainingRecipe(net.getConfiguration().toJson(), normalizer, config.data().numClasses(), plan, t.seed(), frozen,
                t.engine());
        Augmenter augmenter = augmenter(train);
        Sharder sharder = new Sharder(train.records(), config.data().numClasses(), config.data().inputShape());
        // segmentation records are counted by their dominant class only: a class may be in masks yet dominate none
        if (!config.model().segmentation()) warnAboutEmptyClasses(sharder.classCounts(), train.classNames());
        var run = new RunState(t, checkpointing.store() != null && t.checkpointKeep() > 0 ? checkpointing.store() : null,
                workers, train.count());
        Checkpoint from = checkpointing.resumeFrom();
        if (from != null) {
            state = run.resume(from, state.params().length, state.updaterState().length);
        }
        EvalStats test = null, validation = null;
        try (TrainingStrategy strategy = t.strategy().equals("dl4j-paramavg")
                ? new Dl4jParamAvgStrategy(sc, recipe, state, t.batchSize(), t.averagingFrequency(), t.seed())
                : new AveragingStrategy(sc, recipe)) {
            JavaRDD<Shard> previous = null;
            JavaRDD<Shard> dealt = null;     // training.shuffle local: the first deal, kept for the whole run
            // one worker: its shard holds every example in the epoch's order either way, so the re-deal is skipped
            boolean local = "local".equals(t.shuffle()) || workers == 1;
            for (int epoch = run.firstEpoch; epoch < t.epochs() && !run.stopped; epoch++) {
                long t0 = System.nanoTime();
                JavaRDD<Shard> shards;
                if (local) {
                    // the RDDs are lazy: the description set here names the job that count() below runs
                    sc.setJobDescription("epoch " + (epoch + 1) + (dealt == null ? ": deal into " + workers
                            + " shard(s), once per run (training.shuffle: " + t.shuffle() + ")" : ": re-order each of " + workers + " shard(s)"));
                    if (dealt == null) dealt = sharder.shard(plan, t.seed(), 0, null);
                    shards = sharder.shuffleLocally(dealt, t.seed(), epoch, augmenter);
                } else {
                    sc.setJobDescription("epoch " + (epoch + 1) + ": shuffle into " + workers + " shards");
                    shards = sharder.shard(plan, t.seed(), epoch, augmenter);
                }
                shards.count(); // materialize before the rounds so every round reads cached shards
                if (previous != null && previous != dealt) previous.unpersist(false);
                previous = shards;
                double shardSeconds = (System.nanoTime() - t0) / 1e9;
                final int e = epoch;
                final double priorSeconds = run.resumedEpochSeconds(epoch);
                // a resumed run continues its checkpoint's epoch after the rounds already done, with their sums
                Checkpoint.Progress part = run.resumesInside(epoch) ? from.progress() : null;
                EpochContext ctx = new EpochContext(shards, state, epoch, listener, part == null ? 0 : part.roundsDone(),
                        part == null ? 0 : part.epochExamples(), part == null ? 0 : part.epochLossSum(),
                        part == null || part.epochTiming() == null ? RoundTiming.ZERO : part.epochTiming(),
                        (done, rounds, s, ex, loss, timing) -> run.afterRound(e, done, rounds, s, ex, loss, timing,
                                priorSeconds + (System.nanoTime() - t0) / 1e9, normalizer, listener));
                TrainingStrategy.Outcome out = strategy.trainEpoch(ctx);
                LOG.debug("epoch {}: shards ({} shuffle) {} s, rounds {} s", epoch + 1, local ? "local" : "global", shardSeconds,
                        (System.nanoTime() - t0) / 1e9 - shardSeconds);
                state = out.state();
                double trainSeconds = priorSeconds + (System.nanoTime() - t0) / 1e9;
                run.trainSeconds += trainSeconds;
                run.examples += out.examples();
                if (validationShards != null) {
                    sc.setJobDescription("epoch " + (epoch + 1) + ": evaluate on the validation split");
                    validation = DistributedEvaluator.evaluate(sc, validationShards, recipe, state);
                }
                if (testShards != null) {
                    sc.setJobDescription("epoch " + (epoch + 1) + ": evaluate on the test split");
                    test = DistributedEvaluator.evaluate(sc, testShards, recipe, state);
                }
                EarlyStopping.Decision decision = null;
                if (run.early != null) {
                    decision = run.early.observe(epoch + 1, t.earlyStopping().higherIsBetter() ? validation.accuracy() : validation.loss());
                    run.stopped = decision.stop();
                }
                Double meanIoU = null;                       // segmentation: test IoU (validation IoU without a test split)
                if (config.model().segmentation()) {
                    EvalStats iouFrom = test != null ? test : validation;
                    meanIoU = iouFrom == null ? Double.NaN : iouFrom.meanIoU();
                }
                var m = new EpochMetrics(epoch + 1, out.trainLoss(), nan(validation, true), nan(validation, false),
                        nan(test, true), nan(test, false), out.examples(), out.rounds(), trainSeconds,
                        out.examples() / trainSeconds, run.elapsed(), decision != null && decision.improved(), meanIoU,
                        out.timing(), EpochMetrics.learningRateOf(net, state.iteration(), epoch));
                run.history.add(m);
                listener.onEpoch(m);
                if (decision == null || decision.improved()) {
                    run.best = state;
                    run.bestEpoch = epoch + 1;
                    run.bestValidation = validation;
                    if (decision != null) {
                        state.loadInto(net);
                        listener.onBest(m, net);
                    }
                }
                if (run.stopped) {
                    listener.onEarlyStop(epoch + 1, decision.bestEpoch(), decision.bestValue(), t.earlyStopping());
                }
                run.checkpoint(new Checkpoint.Progress(epoch + 1, 0, 0, 0, 0, null, workers, train.count(), run.history, run.settings),
                        state, normalizer, listener);
            }
            if (previous != null) previous.unpersist(false);
            if (dealt != null) dealt.unpersist(false);
        }
        if (run.history.isEmpty()) throw new IllegalStateException("no epoch was trained");
        boolean restore = run.early != null && t.earlyStopping().restoreBest() && run.bestEpoch != run.history.size();
        if (restore) {
            state = run.best;
            validation = run.bestValidation;
            test = null;
        }
        // a run resumed after its last epoch (or with the best epoch before the resume) evaluates here
        if (validationShards != null && validation == null) {
            sc.setJobDescription("evaluate the final model on the validation split");
            validation = DistributedEvaluator.evaluate(sc, validationShards, recipe, state);
        }
        if (testShards != null && test == null) {
            sc.setJobDescription(restore ? "evaluate the best epoch's model (" + run.bestEpoch + ") on the test split"
                    : "evaluate the final model on the test split");
            test = DistributedEvaluator.evaluate(sc, testShards, recipe, state);
        }
        state.loadInto(net);
        return new Result(net, state, List.copyOf(run.history), workers, run.examples / Math.max(1e-9, run.trainSeconds),
                validation, test, restore || run.early == null ? run.bestEpoch : run.history.size(), run.stopped);
    }

    /** The driver's bookkeeping of a run: history, early stopping, best state, checkpoints, resume. */
    private final class RunState {
        final TrainingConfig t;
        final CheckpointStore store;
        final int workers;
        final long trainCount;
        final java.util.SortedMap<String, String> settings = config.trainingSettings();
        final List<EpochMetrics> history = new ArrayList<>();
        final EarlyStopping early;
        final long startNanos = System.nanoTime();
        double elapsedBefore;            // seconds of earlier sessions of a resumed run
        double trainSeconds;
        long examples;
        NetworkState best;
        EvalStats bestValidation;
        int bestEpoch;
        boolean stopped;
        int firstEpoch;
        Checkpoint resumed;

        RunState(TrainingConfig t, CheckpointStore store, int workers, long trainCount) {
            this.t = t;
            this.store = store;
            this.workers = workers;
            this.trainCount = trainCount;
            this.early = t.earlyStopping() == null ? null : new EarlyStopping(t.earlyStopping());
        }

        double elapsed() { return elapsedBefore + (System.nanoTime() - startNanos) / 1e9; }

        /** Takes over a checkpoint's counters, history and early-stopping standing; returns its state. */
        NetworkState resume(Checkpoint c, int params, int updaterValues) {
            var p = c.progress();
            var problems = new ArrayList<>(CheckpointStore.differences(p.settings(), settings));
            if (p.workers() != workers) problems.add("workers: checkpoint " + p.workers() + ", now " + workers
                    + " (set training.workers: " + p.workers() + " to resume)");
            if (p.trainExamples() != trainCount) problems.add("training examples: checkpoint " + p.trainExamples() + ", now " + trainCount);
            if (c.state().params().length != params || c.state().updaterState().length != updaterValues) {
                problems.add("parameters/updater values: checkpoint " + c.state().params().length + "/" + c.state().updaterState().length
                        + ", model " + params + "/" + updaterValues);
            }
            if (!problems.isEmpty()) {
                throw new CheckpointException("cannot resume from the checkpoint at " + p.describe()
                        + ": it was written by a run that trains differently (" + String.join("; ", problems) + ")");
            }
            resumed = c;
            history.addAll(p.history());
            for (EpochMetrics m : history) {
                trainSeconds += m.trainSeconds();
                examples += m.examples();
                if (early != null) {
                    var d = early.observe(m.epoch(), t.earlyStopping().higherIsBetter() ? m.validationAccuracy() : m.validationLoss());
                    stopped = d.stop();
                    if (d.improved()) bestEpoch = m.epoch();
                } else {
                    bestEpoch = m.epoch();
                }
            }
            elapsedBefore = (history.isEmpty() ? 0 : history.get(history.size() - 1).elapsedSeconds()) + p.epochTrainSeconds();
            firstEpoch = p.epoch();
            boolean atBoundary = p.roundsDone() == 0;
            best = c.best() != null ? c.best() : atBoundary && bestEpoch == history.size() ? c.state() : null;
            LOG.info("resuming at {} (iteration {}), {} epoch(s) in the history", p.describe(), c.state().iteration(), history.size());
            return c.state();
        }

        boolean resumesInside(int epoch) { return resumed != null && epoch == resumed.progress().epoch() && resumed.progress().roundsDone() > 0; }

        double resumedEpochSeconds(int epoch) { return resumesInside(epoch) ? resumed.progress().epochTrainSeconds() : 0; }

        void afterRound(int epoch, int done, int rounds, NetworkState s, long ex, double loss, RoundTiming timing, double epochSeconds,
                        Normalizer normalizer, TrainingListener listener) {
            if (store == null || t.checkpointEvery() <= 0 || done == rounds) return;   // the epoch end checkpoints anyway
            long global = (long) epoch * rounds + done;
            if (global % t.checkpointEvery() != 0) return;
            checkpoint(new Checkpoint.Progress(epoch, done, ex, loss, epochSeconds, timing, workers, trainCount, history, settings),
                    s, normalizer, listener);
        }

        void checkpoint(Checkpoint.Progress p, NetworkState s, Normalizer normalizer, TrainingListener listener) {
            if (store == null) return;
            NetworkState keepBest = early != null && t.earlyStopping().restoreBest() && best != null && best != s ? best : null;
            var path = store.save(new Checkpoint(s, keepBest, normalizer, p), t.checkpointKeep());
            listener.onCheckpoint(p.describe(), path.toString());
        }
    }

    private static double nan(EvalStats s, boolean loss) {
        return s == null ? Double.NaN : loss ? s.loss() : s.accuracy();
    }
}
