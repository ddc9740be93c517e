package io.deepshard.spark.train;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.RoundResult;
import io.deepshard.core.train.TrainingRecipe;
import io.deepshard.core.train.Worker;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * Deepshard's synchronous parameter averaging. A round: broadcast the state (parameters, updater state, counters) →
 * every worker runs {@code averagingFrequency} mini-batches of its shard from that state → {@code treeAggregate} the
 * example-weighted sums → the driver divides. A round is a pure function of (state, shards, round number), so a
 * retried task recomputes the same result and re-running a round changes nothing.
 */
public final class AveragingStrategy implements TrainingStrategy {
    private final JavaSparkContext sc;
    private final Broadcast<TrainingRecipe> recipe;
    private final BatchPlan plan;
    private final int aggregationDepth;

    public AveragingStrategy(JavaSparkContext sc, TrainingRecipe recipe) {
        this.sc = sc;
        this.recipe = sc.broadcast(recipe);
        this.plan = recipe.plan();
        this.aggregationDepth = plan.workers() > 16 ? 3 : 2;
    }

    @Override public Outcome trainEpoch(EpochContext ctx) {
        NetworkState state = ctx.start();
        int rounds = plan.roundsPerEpoch();
        long examples = ctx.examplesSoFar();
        double lossSum = ctx.lossSumSoFar();
        for (int round = ctx.roundsDone(); round < rounds; round++) {
            final int r = round;
            Broadcast<NetworkState> current = sc.broadcast(state);
            Broadcast<TrainingRecipe> rec = recipe;
            RoundResult result;
            try {
                sc.setJobDescription("epoch " + (ctx.epoch() + 1) + " round " + (r + 1) + "/" + rounds);
                result = ctx.shards()
                        .map(shard -> Worker.runRound(rec.value(), current.value(), shard, r))
                        .treeAggregate(RoundResult.empty(), RoundResult::merge, RoundResult::merge, aggregationDepth);
            } finally {
                current.destroy();
            }
            state = result.average(state, state.iteration() + plan.stepsInRound(r), ctx.epoch());
            examples += result.examples();
            lossSum += result.lossSum();
            ctx.listener().onRound(ctx.epoch(), r + 1, rounds, result.meanLoss());
            ctx.afterRound().afterRound(r + 1, rounds, state, examples, lossSum);
        }
        return new Outcome(state.withCounters(state.iteration(), ctx.epoch() + 1),
                examples == 0 ? Double.NaN : lossSum / examples, examples, rounds);
    }

    @Override public void close() { recipe.destroy(); }
}
