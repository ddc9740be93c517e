package io.deepshard.core.config;

import java.io.Serializable;
import java.util.List;

/**
 * {@code training}: how the distributed training runs.
 *
 * @param strategy           {@code averaging} (Deepshard's parameter averaging) or {@code dl4j-paramavg} (DL4J's stock
 *                           ParameterAveragingTrainingMaster on the same model and data, for comparison)
 * @param epochs             passes over the training data
 * @param batchSize          mini-batch size per worker
 * @param averagingFrequency local mini-batches each worker runs between two averagings (one round)
 * @param workers            data partitions trained in parallel; 0 = Spark's default parallelism (all task slots)
 * @param seed               seed of every random choice: initialization, per-epoch shuffles, dropout
 * @param l1                 L1 weight penalty on weights (not biases)
 * @param l2                 L2 weight penalty on weights (not biases)
 * @param optimizer          the optimizer and its learning rate
 * @param schedule           how the learning rate changes over epochs (warm-up, step, exponential, cosine)
 * @param clipBy             gradient clipping: {@code none}, {@code norm} (each layer's gradient scaled down to L2 norm
 *                           at most the threshold) or {@code value} (each element clipped to ±threshold)
 * @param loss               {@code cross-entropy} (softmax outputs, the default), {@code binary-cross-entropy} (sigmoid
 *                           outputs, each class scored on its own), {@code mse} or {@code mae} (on the outputs)
 * @param outputActivation   activation of the output layer: {@code softmax}, {@code sigmoid} or {@code identity};
 *                           defaults to what the loss needs (softmax, sigmoid for binary cross-entropy)
 * @param weightInit         weight initialization ({@link WeightInitSpec}; {@code model} = each model's own)
 * @param earlyStopping      early stopping on the validation split, or null
 * @param checkpointEvery    also checkpoint after every this many averaging rounds (0: at epoch ends only)
 * @param checkpointKeep     checkpoints kept in {@code <run>/checkpoints} (older ones are deleted); 0 = none written
 * @param resume             {@code never} (the default; {@code --resume} on the command line still resumes) or
 *                           {@code auto}: continue from the newest valid checkpoint of an unfinished run when there is
 *                           one, else start a new run (for schedulers that simply re-run a failed task)
 * @param engine             the layer implementations: {@code auto} (the default: {@code onednn} when the loaded ND4J
 *                           build has oneDNN, else {@code dl4j}), {@code dl4j} (DL4J's built-in Java/BLAS layers) or
 *                           {@code onednn} (convolution, pooling, batch norm and LRN on oneDNN primitives, an error when
 *                           oneDNN is missing); both keep DL4J's parameter and updater layout ({@code Engine})
 * @param shuffle            how examples move between epochs: {@code global} (the default: every epoch deals all
 *                           examples to the workers anew, one Spark shuffle per epoch) or {@code local} (dealt once,
 *                           then each worker re-orders its own examples every epoch, no shuffle; {@code LocalShuffle})
 */
public record TrainingConfig(String strategy, int epochs, int batchSize, int averagingFrequency, int workers,
                             long seed, double l1, double l2, OptimizerSpec optimizer, ScheduleSpec schedule, String clipBy,
                             double clipThreshold, String loss, String outputActivation, WeightInitSpec weightInit,
                             EarlyStoppingSpec earlyStopping, int checkpointEvery, int checkpointKeep,
                             String resume, String engine, String shuffle) implements Serializable {
    public static final List<String> STRATEGIES = List.of("averaging", "dl4j-paramavg");
    public static final List<String> LOSSES = List.of("cross-entropy", "binary-cross-entropy", "mse", "mae");
    public static final List<String> OUTPUT_ACTIVATIONS = List.of("softmax", "sigmoid", "identity");
    public static final List<String> RESUME = List.of("never", "auto");
    public static final List<String> ENGINES = List.of("auto", "dl4j", "onednn");
    public static final List<String> SHUFFLES = List.of("global", "local");

    static TrainingConfig from(Section s) {
        String strategy = s.choice("strategy", "averaging", STRATEGIES);
        int epochs = s.intValue("epochs", 3, v -> v >= 1 && v <= 100_000, ">= 1");
        int batch = s.intValue("batchSize", 64, v -> v >= 1 && v <= 1_000_000, ">= 1");
        int freq = s.intValue("averagingFrequency", 5, v -> v >= 1, ">= 1");
        int workers = s.intValue("workers", 0, v -> v >= 0 && v <= 100_000, ">= 1, or 0 for all task slots");
        long seed = s.longValue("seed", 42L, v -> true, "");
        double l1 = s.doubleValue("l1", 0.0, v -> v >= 0 && v < 1, "in [0, 1)");
        double l2 = s.doubleValue("l2", 0.0, v -> v >= 0 && v < 1, "in [0, 1)");
        OptimizerSpec opt = OptimizerSpec.from(s.section("optimizer"));
        ScheduleSpec schedule = s.has("schedule") ? ScheduleSpec.from(s.section("schedule")) : ScheduleSpec.CONSTANT;
        Section clip = s.section("gradientClipping");
        String clipBy = clip.choice("by", "none", List.of("none", "norm", "value"));
        double threshold = clip.doubleValue("threshold", 1.0, v -> v > 0, "> 0");
        clip.finish();
        String loss = s.choice("loss", "cross-entropy", LOSSES);
        String needed = "binary-cross-entropy".equals(loss) ? "sigmoid" : "softmax";
        String outAct = s.choice("outputActivation", needed, OUTPUT_ACTIVATIONS);
        if ("cross-entropy".equals(loss) && !"softmax".equals(outAct)) {
            s.errors().add(s.keyPath("outputActivation"), "must be softmax with loss cross-entropy (found '" + outAct
                    + "'); use loss binary-cross-entropy for sigmoid outputs");
        } else if ("binary-cross-entropy".equals(loss) && !"sigmoid".equals(outAct)) {
            s.errors().add(s.keyPath("outputActivation"), "must be sigmoid with loss binary-cross-entropy (found '" + outAct + "')");
        }
        WeightInitSpec init = WeightInitSpec.from(s, "weightInit");
        EarlyStoppingSpec early = s.has("earlyStopping") ? EarlyStoppingSpec.from(s.section("earlyStopping")) : null;
        int checkpointEvery = s.intValue("checkpointEvery", 0, v -> v >= 0, ">= 0 (rounds; 0 = at epoch ends only)");
        int checkpointKeep = s.intValue("checkpointKeep", 2, v -> v >= 0 && v <= 1000, ">= 0 (0 = no checkpoints)");
        String resume = s.choice("resume", "never", RESUME);
        if (checkpointKeep == 0 && "auto".equals(resume)) {
            s.errors().add(s.keyPath("resume"), "is auto but checkpointKeep is 0 (no checkpoints are written): keep at least 1");
        }
        String engine = s.choice("engine", "auto", ENGINES);
        String shuffle = s.choice("shuffle", "global", SHUFFLES);
        s.finish();
        return new TrainingConfig(strategy, epochs, batch, freq, workers, seed, l1, l2, opt, schedule, clipBy, threshold,
                loss, outAct, init, early, checkpointEvery, checkpointKeep, resume, engine, shuffle);
    }

    /** The updater with its learning-rate schedule resolved for {@code stepsPerEpoch}. */
    public org.nd4j.linalg.learning.config.IUpdater updater(int stepsPerEpoch) {
        return optimizer.toUpdater(schedule.resolve(optimizer.learningRate(), epochs, stepsPerEpoch));
    }
}
