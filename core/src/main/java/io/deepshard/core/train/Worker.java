package io.deepshard.core.train;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.Shard;
import io.deepshard.core.engine.OneDnnNet;
import org.deeplearning4j.nn.graph.ComputationGraph;
import io.deepshard.core.data.SeededPermutation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The worker's inner loop: continue from the broadcast state, run one round's mini-batches of this worker's shard,
 * return the weighted result. Deterministic given (state, shard, round): a retried task returns the same result,
 * which is what makes rounds idempotent.
 */
public final class Worker {
    private Worker() {}

    public static RoundResult runRound(TrainingRecipe recipe, NetworkState state, Shard shard, int round) {
        ComputationGraph net = NetworkPool.borrow(recipe.graphJson(), recipe.engine());
        try {
            state.loadInto(net);
            seedRandom(recipe.seed(), state.iteration(), shard.partition());
            return train(net, recipe, shard, round);
        } finally {
            NetworkPool.release(recipe.graphJson(), recipe.engine(), net);
        }
    }

    /**
     * Seeds this thread's ND4J generator (dropout masks and other in-training draws) from the run's seed, the round's
     * first iteration and the worker: a retried task, a resumed run and an uninterrupted run draw the same masks,
     * whatever executor thread or pooled network the task lands on.
     */
    public static void seedRandom(long seed, long iteration, int partition) {
        Nd4j.getRandom().setSeed(SeededPermutation.mix(seed ^ SeededPermutation.mix(0xD209L + iteration)
                ^ SeededPermutation.mix(partition * 0x9E3779B97F4A7C15L + 1)));
    }

    /** Runs round {@code round} of {@code shard} on {@code net} as it is. */
    public static RoundResult train(ComputationGraph net, TrainingRecipe recipe, Shard shard, int round) {
        long t0 = System.nanoTime();
        BatchPlan plan = recipe.plan();
        int n = shard.size();
        long examples = 0;
        double loss = 0;
        OneDnnNet direct = NetworkPool.directEngine(net, recipe.engine());
        try (Shard.Buffers buffers = new Shard.Buffers()) {
            for (int step = plan.firstStep(round), end = step + plan.stepsInRound(round); step < end; step++) {
                int from = plan.batchStart(n, step), to = plan.batchStart(n, step + 1);
                if (to == from) continue;
                DataSet batch = shard.batch(from, to, recipe.normalizer(), recipe.numClasses(), buffers);
                double score;
                if (direct != null) {
                    score = direct.fit(net, batch.getFeatures(), batch.getLabels());
                } else {
                    net.fit(batch);
                    score = net.score();
                }
                if (!Double.isFinite(score)) {
                    throw new TrainingDivergedException("loss became " + score + " in worker " + shard.partition()
                            + ", iteration " + net.getConfiguration().getIterationCount()
                            + ": lower training.optimizer.learningRate or check the data normalization");
                }
                loss += score * (to - from);
                examples += to - from;
            }
        }
        return RoundResult.of(shard.partition(), plan.workers(), NetworkState.of(net), examples, loss, (System.nanoTime() - t0) / 1e9);
    }
}
