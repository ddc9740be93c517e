package io.deepshard.spark.train;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.RoundResult;
import io.deepshard.core.train.RoundTiming;
import io.deepshard.core.train.TrainingRecipe;
import io.deepshard.core.train.Worker;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple2;

/**
 * Deepshard's synchronous parameter averaging. A round: broadcast the state (parameters, updater state, counters) →
 * every worker runs {@code averagingFrequency} mini-batches of its shard from that state → the example-weighted sums
 * are merged in a fixed binary tree over the workers ({@link RoundResult}) → the driver divides. A round is a pure function of (state, shards, round number), so a
 * retried task recomputes the same result and re-running a round changes nothing.
 */
public final class AveragingStrategy implements TrainingStrategy {
    private final JavaSparkContext sc;
    private final Broadcast<TrainingRecipe> recipe;
    private final int[] frozenParams;
    private final BatchPlan plan;
    private final int groupLevel;
    private final int groups;
    private final LongAccumulator nativeBytes;
    private final LongAccumulator physicalBytes;

    public AveragingStrategy(JavaSparkContext sc, TrainingRecipe recipe) {
        this.sc = sc;
        this.recipe = sc.broadcast(recipe);
        this.plan = recipe.plan();
        this.frozenParams = recipe.frozenParams();
        // up to 8 workers the driver merges the leaves itself; beyond, executors first merge groups of 2^k consecutive
        // workers (2^k ≈ √W), so the driver receives ≈ √W subtree sums — like treeAggregate with depth 2, but in a
        // fixed tree (see RoundResult)
        int w = plan.workers();
        this.groupLevel = w <= 8 ? 0 : (int) Math.ceil(Math.log(Math.sqrt(w)) / Math.log(2));
        this.groups = (w + (1 << groupLevel) - 1) >> groupLevel;
        this.nativeBytes = sc.sc().longAccumulator(NativeMemoryReadings.NATIVE_BYTES);
        this.physicalBytes = sc.sc().longAccumulator(NativeMemoryReadings.PHYSICAL_BYTES);
    }

    @Override public Outcome trainEpoch(EpochContext ctx) {
        NetworkState state = ctx.start();
        int rounds = plan.roundsPerEpoch();
        long examples = ctx.examplesSoFar();
        double lossSum = ctx.lossSumSoFar();
        RoundTiming timing = ctx.timingSoFar();
        for (int round = ctx.roundsDone(); round < rounds; round++) {
            final int r = round;
            long t0 = System.nanoTime();
            Broadcast<NetworkState> current = sc.broadcast(state);
            Broadcast<TrainingRecipe> rec = recipe;
            LongAccumulator nativeAcc = nativeBytes, physicalAcc = physicalBytes;
            RoundResult result;
            try {
                sc.setJobDescription("epoch " + (ctx.epoch() + 1) + " round " + (r + 1) + "/" + rounds);
                JavaRDD<RoundResult> leaves = ctx.shards().map(shard -> {
                    long fetch = System.nanoTime();
                    TrainingRecipe recipeValue = rec.value();
                    NetworkState start = current.value();
                    double waited = (System.nanoTime() - fetch) / 1e9;
                    RoundResult out = Worker.runRound(recipeValue, start, shard, r).withBroadcastSeconds(waited);
                    // this task's reading of its executor's native memory (per-task values: NativeMemoryReadings)
                    nativeAcc.add(org.bytedeco.javacpp.Pointer.totalBytes());
                    physicalAcc.add(org.bytedeco.javacpp.Pointer.physicalBytes());
                    return out;
                });
                final int level = groupLevel;   // a local: the lambda must not capture this strategy
                result = level == 0
                        ? leaves.reduce(RoundResult::merge)
                        : leaves.mapToPair(x -> new Tuple2<>(x.group(level), x))
                                .reduceByKey(RoundResult::merge, groups).values().reduce(RoundResult::merge);
            } finally {
                current.destroy();
            }
            state = result.average(state, state.iteration() + plan.stepsInRound(r), ctx.epoch()).keeping(frozenParams, state);
            examples += result.examples();
            lossSum += result.lossSum();
            RoundTiming t = RoundTiming.of((System.nanoTime() - t0) / 1e9, result.maxComputeSeconds(), result.maxBroadcastSeconds());
            timing = timing.plus(t);
            ctx.listener().onRound(ctx.epoch(), r + 1, rounds, result.meanLoss());
            ctx.listener().onRoundTiming(ctx.epoch(), r + 1, result.meanLoss(), result.examples(), t);
            ctx.afterRound().afterRound(r + 1, rounds, state, examples, lossSum, timing);
        }
        return new Outcome(state.withCounters(state.iteration(), ctx.epoch() + 1),
                examples == 0 ? Double.NaN : lossSum / examples, examples, rounds, timing);
    }

    @Override public void close() { recipe.destroy(); }
}
