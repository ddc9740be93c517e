package io.deepshard.spark.train;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.RoundResult;
import io.deepshard.core.train.RoundTiming;
import io.deepshard.core.train.TrainingRecipe;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.Worker;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.TaskContext;
import scala.Tuple2;
import scala.collection.JavaConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

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
            RoundTask task = new RoundTask(recipe, current, r, nativeBytes, physicalBytes);
            RoundResult result;
            try {
                sc.setJobDescription("epoch " + (ctx.epoch() + 1) + " round " + (r + 1) + "/" + rounds);
                if (groupLevel == 0) {
                    // the driver merges the leaves as they arrive (any order gives the same root, see RoundResult)
                    Merged merged = new Merged();
                    List<Object> all = new ArrayList<>();
                    for (int p = 0; p < ctx.shards().getNumPartitions(); p++) all.add(p);
                    sc.sc().runJob(ctx.shards().rdd(), task, JavaConverters.asScalaBuffer(all).toSeq(), merged,
                            ClassTag$.MODULE$.apply(RoundResult.class));
                    result = merged.result;
                    if (result == null) throw new IllegalStateException("round " + (r + 1) + " returned no result");
                } else {
                    final int level = groupLevel;   // a local: the lambda must not capture this strategy
                    result = ctx.shards().map(task::leaf).mapToPair(x -> new Tuple2<>(x.group(level), x))
                            .reduceByKey(RoundResult::merge, groups).values().reduce(RoundResult::merge);
                }
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

    /**
     * A round's task: trains the partition's shard from the broadcast state. A named class, not a lambda, and run by
     * {@code SparkContext.runJob} itself, not by {@code reduce}: Spark's ClosureCleaner parses the declaring class of
     * every Scala closure with ASM (reading its class file from the jar) on every job, and an action such as
     * {@code reduce} wraps its functions in such closures; it leaves classes that are not closures alone. That was
     * half the driver's time in a LeNet-5 round with two workers (JFR, {@code bench-rounds}).
     */
    private static final class RoundTask extends AbstractFunction2<TaskContext, scala.collection.Iterator<Shard>, RoundResult>
            implements Serializable {
        private final Broadcast<TrainingRecipe> recipe;
        private final Broadcast<NetworkState> state;
        private final int round;
        private final LongAccumulator nativeBytes, physicalBytes;

        RoundTask(Broadcast<TrainingRecipe> recipe, Broadcast<NetworkState> state, int round, LongAccumulator nativeBytes,
                  LongAccumulator physicalBytes) {
            this.recipe = recipe;
            this.state = state;
            this.round = round;
            this.nativeBytes = nativeBytes;
            this.physicalBytes = physicalBytes;
        }

        @Override public RoundResult apply(TaskContext context, scala.collection.Iterator<Shard> shards) {
            RoundResult out = null;
            while (shards.hasNext()) {
                RoundResult leaf = leaf(shards.next());
                out = out == null ? leaf : out.merge(leaf);
            }
            return out;
        }

        RoundResult leaf(Shard shard) {
            long fetch = System.nanoTime();
            TrainingRecipe recipeValue = recipe.value();
            NetworkState start = state.value();
            double waited = (System.nanoTime() - fetch) / 1e9;
            RoundResult out = Worker.runRound(recipeValue, start, shard, round).withBroadcastSeconds(waited);
            // this task's reading of its executor's native memory (per-task values: NativeMemoryReadings)
            nativeBytes.add(org.bytedeco.javacpp.Pointer.totalBytes());
            physicalBytes.add(org.bytedeco.javacpp.Pointer.physicalBytes());
            return out;
        }
    }

    /** Merges the round's leaves on the driver as tasks finish (Spark calls it once per partition, one at a time). */
    private static final class Merged extends AbstractFunction2<Object, RoundResult, BoxedUnit> implements Serializable {
        private RoundResult result;

        @Override public synchronized BoxedUnit apply(Object partition, RoundResult leaf) {
            if (leaf != null) result = result == null ? leaf : result.merge(leaf);
            return BoxedUnit.UNIT;
        }
    }
}
