package io.deepshard.core.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.deepshard.core.transform.Augmentation;
import io.deepshard.core.zoo.ModelZoo;
import io.deepshard.core.zoo.ZooModel;

import java.io.Serializable;
import java.util.List;

/**
 * The whole, validated configuration of a job: built by {@link ConfigLoader}, immutable, serializable (it travels
 * to executors as part of the training recipe).
 *
 * @param transfer the {@code transfer} section (fine-tuning a trained model), or null
 * @param tune     the {@code tune} section (hyper-parameter search), or null
 * @param source   where it was read from (for messages)
 * @param resolved the config tree after overrides and defaults, as written into the run directory
 */
public record DeepshardConfig(ZooModel model, DataConfig data, TrainingConfig training, TrackingConfig tracking, String output,
                              TransferSpec transfer, TuneSpec tune, String source, String resolved) implements Serializable {

    static DeepshardConfig from(Section root, String source, boolean needsData) {
        ZooModel model = ModelZoo.fromConfig(root, "model");
        DataConfig data = DataConfig.from(root.section("data"), needsData);
        TrainingConfig training = TrainingConfig.from(root.section("training"));
        TrackingConfig tracking = TrackingConfig.from(root.section("tracking"));
        String output = root.string("output", "runs/{model}-{timestamp}");
        TransferSpec transfer = root.has("transfer") ? TransferSpec.from(root.section("transfer")) : null;
        TuneSpec tune = root.has("tune") ? TuneSpec.from(root.section("tune")) : null;
        if (needsData && training.earlyStopping() != null && data.validationFraction() == 0) {
            root.errors().add("training.earlyStopping", "needs a validation split: set data.validationFraction (e.g. 0.1) to hold "
                    + "out part of the training data; the test split is never used to choose the model");
        }
        root.finish();
        checkModelAgainstData(model, data, root.errors());
        return new DeepshardConfig(model, data, training, tracking, output, transfer, tune, source, null);
    }

    /**
     * The model must fit the data: its input shape, and a per-pixel (segmentation) model needs images with masks, a
     * classifier images with labels — as far as the config tells (with {@code data.format: auto}, the trainer checks
     * the records once read).
     */
    static void checkModelAgainstData(ZooModel model, DataConfig data, ConfigErrors errors) {
        if (model == null || data == null) return;
        if (data.inputShape() != null && data.inputShape().length == 3) for (String p : model.inputShapeProblems(data.inputShape())) errors.add("data.inputShape", p);
        String format = data.format();
        DataSource segBuiltIn = segmentationBuiltIn(data.train()) != null ? data.train()
                : segmentationBuiltIn(data.test()) != null ? data.test() : null;
        DataSource otherBuiltIn = data.train() != null && data.train().isBuiltIn() && segmentationBuiltIn(data.train()) == null ? data.train() : null;
        if (model.segmentation()) {
            if (!format.equals("auto") && !format.equals("segmentation")) {
                errors.add("data.format", "model " + model.name() + " predicts a class per pixel and needs segmentation data (images with "
                        + "masks: data.format segmentation or auto), found '" + format + "'");
            } else if (otherBuiltIn != null || data.train() != null && data.train().isIdx()) {
                errors.add("data.train", "model " + model.name() + " predicts a class per pixel and needs segmentation data (images with "
                        + "masks, e.g. shapes-segmentation:train), found " + data.train() + ", which has one label per image");
            }
        } else if (format.equals("segmentation") || segBuiltIn != null) {
            errors.add("model", model.name() + " predicts one class per image, but the data is segmentation data ("
                    + (segBuiltIn != null ? segBuiltIn.builtIn() : "data.format segmentation") + "): use a segmentation model such as unet");
        }
        if (segBuiltIn != null && data.numClasses() != segmentationBuiltIn(segBuiltIn).size()) {
            List<String> names = segmentationBuiltIn(segBuiltIn);
            errors.add("data.numClasses", segBuiltIn.builtIn() + " has " + names.size() + " classes " + names
                    + " (background included), found " + data.numClasses());
        }
    }

    private static List<String> segmentationBuiltIn(DataSource s) {
        if (s == null || !s.isBuiltIn() || !DataSource.BuiltInNames.isSegmentation(s.builtIn())) return null;
        return io.deepshard.core.data.BuiltInDatasets.generatedOf(s.builtIn()).classNames();
    }

    /** Keys that do not change what is trained: a run may resume with other values for them. */
    public static final List<String> RESUMABLE_KEYS = List.of("output", "training.resume", "training.checkpointEvery",
            "training.checkpointKeep", "tracking");

    /**
     * Settings added after checkpoints were first written, with the value that trained as the older versions did: a
     * checkpoint that does not record such a key was trained with this value ({@code CheckpointStore.differences}).
     */
    public static final java.util.Map<String, String> ADDED_SETTINGS = java.util.Map.of("training.shuffle", "global");

    /**
     * The resolved config without {@link #RESUMABLE_KEYS}, as flat {@code key.path -> value} pairs in key order: what
     * a checkpoint records, so that resuming with a config that would train differently is refused, naming the keys.
     */
    public java.util.SortedMap<String, String> trainingSettings() {
        var out = new java.util.TreeMap<String, String>();
        try {
            flatten("", ConfigLoader.YAML.readTree(resolved == null ? "{}" : resolved), out);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("the resolved config does not parse: " + e.getMessage(), e);
        }
        RESUMABLE_KEYS.forEach(k -> out.keySet().removeIf(x -> x.equals(k) || x.startsWith(k + ".")));
        return out;
    }

    private static void flatten(String prefix, com.fasterxml.jackson.databind.JsonNode n, java.util.Map<String, String> out) {
        if (n.isObject()) {
            n.fields().forEachRemaining(e -> flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), out));
        } else if (n.isArray()) {
            out.put(prefix, n.toString());
        } else {
            out.put(prefix, n.isNull() ? "null" : n.asText());
        }
    }

    DeepshardConfig withResolved(String yaml) { return new DeepshardConfig(model, data, training, tracking, output, transfer, tune, source, yaml); }

    /** Fills the defaults that were not given into the tree so that the saved config states every choice made. */
    static void writeDefaults(ObjectNode tree, DeepshardConfig c) {
        ObjectNode t = tree.with("training");
        t.put("strategy", c.training.strategy());
        t.put("epochs", c.training.epochs());
        t.put("batchSize", c.training.batchSize());
        t.put("averagingFrequency", c.training.averagingFrequency());
        t.put("workers", c.training.workers());
        t.put("seed", c.training.seed());
        t.put("l1", c.training.l1());
        t.put("l2", c.training.l2());
        t.put("loss", c.training.loss());
        t.put("outputActivation", c.training.outputActivation());
        t.put("checkpointEvery", c.training.checkpointEvery());
        t.put("checkpointKeep", c.training.checkpointKeep());
        t.put("resume", c.training.resume());
        t.put("engine", c.training.engine());
        t.put("shuffle", c.training.shuffle());
        WeightInitSpec wi = c.training.weightInit();
        t.remove("weightInit");
        if (wi.type().equals("normal")) t.with("weightInit").put("type", "normal").put("std", wi.scale());
        else if (wi.type().equals("uniform")) t.with("weightInit").put("type", "uniform").put("range", wi.scale());
        else t.put("weightInit", wi.type());
        EarlyStoppingSpec es = c.training.earlyStopping();
        if (es != null) {
            t.with("earlyStopping").put("monitor", es.monitor()).put("patience", es.patience()).put("minDelta", es.minDelta())
                    .put("restoreBest", es.restoreBest());
        }
        ObjectNode o = t.with("optimizer");
        OptimizerSpec opt = c.training.optimizer();
        o.put("type", opt.type());
        o.put("learningRate", opt.learningRate());
        switch (opt.type()) {
            case "nesterov", "momentum" -> o.put("momentum", opt.momentum());
            case "adam" -> { o.put("beta1", opt.beta1()); o.put("beta2", opt.beta2()); o.put("epsilon", opt.epsilon()); }
            case "adamw" -> { o.put("beta1", opt.beta1()); o.put("beta2", opt.beta2()); o.put("epsilon", opt.epsilon());
                o.put("weightDecay", opt.weightDecay()); }
            case "rmsprop" -> { o.put("rmsDecay", opt.rmsDecay()); o.put("epsilon", opt.epsilon()); }
            case "adagrad" -> o.put("epsilon", opt.epsilon());
            default -> { }
        }
        t.with("gradientClipping").put("by", c.training.clipBy()).put("threshold", c.training.clipThreshold());
        ScheduleSpec lrs = c.training.schedule();
        t.with("schedule").put("type", lrs.type()).put("warmupEpochs", lrs.warmupEpochs()).put("stepEpochs", lrs.stepEpochs())
                .put("gamma", lrs.gamma()).put("minLearningRate", lrs.minLearningRate());
        ObjectNode d = tree.with("data");
        d.put("format", c.data.format());
        d.set("inputShape", ModelZoo.MAPPER.valueToTree(c.data.inputShape()));
        d.remove("imageSize");
        d.remove("channels");
        d.put("resize", c.data.resize());
        d.put("normalization", c.data.normalization());
        d.put("validationFraction", c.data.validationFraction());
        d.put("onBadRecord", c.data.badRecords().skip() ? "skip" : "fail");
        d.put("maxBadFraction", c.data.badRecords().maxBadFraction());
        var augment = d.putArray("augment");
        for (Augmentation a : c.data.augment()) {
            ObjectNode n = augment.addObject();
            if (a instanceof Augmentation.Translate tr) n.put("type", "translate").put("pixels", tr.pixels());
            else if (a instanceof Augmentation.Crop cr) n.put("type", "crop").put("padding", cr.padding());
            else if (a instanceof Augmentation.Flip f) n.put("type", "flip").put("probability", f.probability());
            else if (a instanceof Augmentation.Rotate r) n.put("type", "rotate").put("degrees", r.degrees());
            else if (a instanceof Augmentation.Scale sc) n.put("type", "scale").put("min", sc.min()).put("max", sc.max());
            else if (a instanceof Augmentation.ColorNoise cn) n.put("type", "colorNoise").put("std", cn.std());
            else if (a instanceof Augmentation.PcaNoise p) n.put("type", "pcaNoise").put("std", p.std());
            else if (a instanceof Augmentation.Erase e) n.put("type", "erase").put("probability", e.probability())
                    .put("minArea", e.minArea()).put("maxArea", e.maxArea()).put("minAspect", e.minAspect());
        }
        tree.with("tracking").put("uri", c.tracking.uri() == null ? "" : c.tracking.uri()).put("experiment", c.tracking.experimentName());
        tree.set("model", ModelZoo.MAPPER.valueToTree(c.model.describe()));
        tree.put("output", c.output);
        if (c.transfer != null) c.transfer.writeDefaults(tree.with("transfer"));
        if (c.tune != null) c.tune.writeDefaults(tree.with("tune"));
    }
}
