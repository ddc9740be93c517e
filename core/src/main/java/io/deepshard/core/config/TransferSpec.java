package io.deepshard.core.config;

import java.io.Serializable;

/**
 * {@code transfer}: fine-tune a trained model on new data (the {@code transfer} job). The source's layers are copied,
 * the first ones frozen, the output head replaced for the new class list; optionally a second phase unfreezes every
 * layer and trains on at a lower learning rate.
 *
 * @param from       the source model: a run directory or its {@code model/} folder (local or hdfs://)
 * @param freeze     freeze the first {@code freeze} layers, in the order {@code deepshard summary} lists them (-1: not set)
 * @param freezeUpTo freeze this layer and every layer it depends on (null: not set). With neither set, every layer
 *                   below the new head is frozen (the network is a fixed feature extractor)
 * @param unfreezeEpochs             epochs of the second phase with every layer trainable (0: no second phase)
 * @param unfreezeLearningRateFactor the second phase's learning rate = {@code training.optimizer.learningRate} × this
 */
public record TransferSpec(String from, int freeze, String freezeUpTo, int unfreezeEpochs, double unfreezeLearningRateFactor)
        implements Serializable {

    static TransferSpec from(Section s) {
        String from = s.string("from", null);
        int freeze = s.has("freeze") ? s.intValue("freeze", 0, v -> v >= 0 && v <= 100_000, ">= 0 (layers)") : -1;
        String upTo = s.has("freezeUpTo") ? s.string("freezeUpTo", null) : null;
        if (freeze >= 0 && upTo != null) {
            s.errors().add(s.keyPath("freezeUpTo"), "and " + s.keyPath("freeze") + " are both set ('" + upTo + "' and " + freeze
                    + "): give one of them");
        }
        int epochs = 0;
        double factor = 0.1;
        if (s.has("unfreeze")) {
            Section u = s.section("unfreeze");
            epochs = u.intValue("epochs", null, v -> v >= 1 && v <= 100_000, ">= 1");
            factor = u.doubleValue("learningRateFactor", 0.1, v -> v > 0 && v <= 1, "in (0, 1]");
            u.finish();
        }
        s.finish();
        return new TransferSpec(from, freeze, upTo, epochs, factor);
    }

    /** Whether the layers to freeze are given ({@code freeze} or {@code freezeUpTo}); else everything below the head. */
    public boolean freezeGiven() { return freeze >= 0 || freezeUpTo != null; }

    public boolean unfreezes() { return unfreezeEpochs > 0; }

    void writeDefaults(com.fasterxml.jackson.databind.node.ObjectNode t) {
        t.put("from", from);
        if (freeze >= 0) t.put("freeze", freeze);
        if (freezeUpTo != null) t.put("freezeUpTo", freezeUpTo);
        if (unfreezes()) t.with("unfreeze").put("epochs", unfreezeEpochs).put("learningRateFactor", unfreezeLearningRateFactor);
    }
}
