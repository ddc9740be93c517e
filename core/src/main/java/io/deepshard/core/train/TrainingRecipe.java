package io.deepshard.core.train;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.transform.Normalizer;

import java.io.Serializable;

/**
 * What executors need, once per training, to run rounds: the network definition (DL4J JSON), the normalizer, the
 * number of classes, the epoch's batch arithmetic and the run's seed (each worker's dropout masks are drawn from
 * a generator seeded with it, the round's first iteration and the worker's partition). Broadcast once; the
 * {@link NetworkState} changes every round.
 *
 * @param frozenParams {@code [from, to)} ranges of the flattened parameters that belong to frozen layers (transfer
 *                     learning): the averaged state keeps them exactly ({@link NetworkState#keeping}); empty otherwise
 * @param engine       {@code training.engine}: the layer implementations executors build the network with
 *                     ({@link OneDnnHelpers#build})
 */
public record TrainingRecipe(String graphJson, Normalizer normalizer, int numClasses, BatchPlan plan, long seed, int[] frozenParams,
                             String engine) implements Serializable {

    public TrainingRecipe(String graphJson, Normalizer normalizer, int numClasses, BatchPlan plan, long seed) {
        this(graphJson, normalizer, numClasses, plan, seed, new int[0], "auto");
    }
}
