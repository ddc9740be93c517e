package io.deepshard.spark.train;

import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.config.TrainingConfig;
import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.EarlyStopping;
import io.deepshard.core.train.EvalStats;
import io.deepshard.core.train.NetworkState;
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

    public DistributedTrainer(JavaSparkContext sc, DeepshardConfig config) {
        this.sc = sc;
        this.config = config;
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
        return fit(train, null, testShards, normalizer, listener);
    }

    /**
     * Trains for {@code training.epochs}, evaluating the validation and test shards (either may be null) after every
     * epoch. With {@code training.earlyStopping}, the validation metric decides: a new best is reported to
     * {@link TrainingListener#onBest} (the job checkpoints it), training stops after {@code patience} epochs without
     * improvement, and with {@code restoreBest} the best epoch's state is the result.
     */
    public Result fit(LoadedSplit train, JavaRDD<Shard> validationShards, JavaRDD<Shard> testShards, Normalizer normalizer,
                      TrainingListener listener) {
        TrainingConfig t = config.training();
        if (t.earlyStopping() != null && validationShards == null) {
            throw new IllegalArgumentException("training.earlyStopping needs a validation split (data.validationFraction)");
        }
        checkRecordsFitTheModel(train);
        int workers = workers();
        warnIfOversubscribed(workers);
        BatchPlan plan = new BatchPlan(train.count(), workers, t.batchSize(), t.averagingFrequency());
        ComputationGraph net = NetworkFactory.create(config.model(), config.data(), t, plan.stepsPerEpoch());
        NetworkState state = NetworkState.of(net);
        TrainingRecipe recipe = new TrainingRecipe(net.getConfiguration().toJson(), normalizer, config.data().numClasses(), plan);
        Augmenter augmenter = augmenter(train);
        Sharder sharder = new Sharder(train.records(), config.data().numClasses(), config.data().inputShape());
        // segmentation records are counted by their dominant class only: a class may be in masks yet dominate none
        if (!config.model().segmentation()) warnAboutEmptyClasses(sharder.classCounts(), train.classNames());
        var history = new ArrayList<EpochMetrics>();
        long start = System.nanoTime();
        double trainSecondsTotal = 0;
        long examplesTotal = 0;
        EvalStats test = null, validation = null;
        EarlyStopping early = t.earlyStopping() == null ? null : new EarlyStopping(t.earlyStopping());
        NetworkState best = null;
        EvalStats bestValidation = null;
        int bestEpoch = 0;
        boolean stopped = false;
        try (TrainingStrategy strategy = t.strategy().equals("dl4j-paramavg")
                ? new Dl4jParamAvgStrategy(sc, recipe, state, t.batchSize(), t.averagingFrequency(), t.seed())
                : new AveragingStrategy(sc, recipe)) {
            JavaRDD<Shard> previous = null;
            for (int epoch = 0; epoch < t.epochs() && !stopped; epoch++) {
                long t0 = System.nanoTime();
                sc.setJobDescription("epoch " + (epoch + 1) + ": shuffle into " + workers + " shards");
                JavaRDD<Shard> shards = sharder.shard(plan, t.seed(), epoch, augmenter);
                shards.count(); // materialize before the rounds so every round reads cached shards
                if (previous != null) previous.unpersist(false);
                previous = shards;
                double shardSeconds = (System.nanoTime() - t0) / 1e9;
                TrainingStrategy.Outcome out = strategy.trainEpoch(new EpochContext(shards, state, epoch, listener));
                LOG.debug("epoch {}: shuffle into shards {} s, rounds {} s", epoch + 1, shardSeconds,
                        (System.nanoTime() - t0) / 1e9 - shardSeconds);
                state = out.state();
                double trainSeconds = (System.nanoTime() - t0) / 1e9;
                trainSecondsTotal += trainSeconds;
                examplesTotal += out.examples();
                if (validationShards != null) {
                    sc.setJobDescription("epoch " + (epoch + 1) + ": evaluate on the validation split");
                    validation = DistributedEvaluator.evaluate(sc, validationShards, recipe, state);
                }
                if (testShards != null) {
                    sc.setJobDescription("epoch " + (epoch + 1) + ": evaluate on the test split");
                    test = DistributedEvaluator.evaluate(sc, testShards, recipe, state);
                }
                EarlyStopping.Decision decision = null;
                if (early != null) {
                    decision = early.observe(epoch + 1, t.earlyStopping().higherIsBetter() ? validation.accuracy() : validation.loss());
                    stopped = decision.stop();
                }
                Double meanIoU = null;                       // segmentation: test IoU (validation IoU without a test split)
                if (config.model().segmentation()) {
                    EvalStats iouFrom = test != null ? test : validation;
                    meanIoU = iouFrom == null ? Double.NaN : iouFrom.meanIoU();
                }
                var m = new EpochMetrics(epoch + 1, out.trainLoss(), nan(validation, true), nan(validation, false),
                        nan(test, true), nan(test, false), out.examples(), out.rounds(), trainSeconds,
                        out.examples() / trainSeconds, (System.nanoTime() - start) / 1e9, decision != null && decision.improved(),
                        meanIoU);
                history.add(m);
                listener.onEpoch(m);
                if (decision == null || decision.improved()) {
                    best = state;
                    bestEpoch = epoch + 1;
                    bestValidation = validation;
                    if (decision != null) {
                        state.loadInto(net);
                        listener.onBest(m, net);
                    }
                }
                if (stopped) {
                    listener.onEarlyStop(epoch + 1, decision.bestEpoch(), decision.bestValue(), t.earlyStopping());
                }
            }
            if (previous != null) previous.unpersist(false);
        }
        boolean restore = early != null && t.earlyStopping().restoreBest() && bestEpoch != history.size();
        if (restore) {
            state = best;
            validation = bestValidation;
            if (testShards != null) {
                sc.setJobDescription("evaluate the best epoch's model (" + bestEpoch + ") on the test split");
                test = DistributedEvaluator.evaluate(sc, testShards, recipe, state);
            }
        }
        state.loadInto(net);
        return new Result(net, state, history, workers, examplesTotal / Math.max(1e-9, trainSecondsTotal), validation, test,
                restore || early == null ? bestEpoch : history.size(), stopped);
    }

    private static double nan(EvalStats s, boolean loss) {
        return s == null ? Double.NaN : loss ? s.loss() : s.accuracy();
    }
}
