package io.deepshard.spark.train;

import io.deepshard.core.data.Shard;
import io.deepshard.core.train.EvalStats;
import io.deepshard.core.train.NetworkPool;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.TrainingRecipe;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.function.UnaryOperator;

/** Evaluates a state on cached evaluation shards, in parallel, merging per-shard statistics. */
public final class DistributedEvaluator {
    private static final int EVAL_BATCH = 256;

    private DistributedEvaluator() {}

    public static EvalStats evaluate(JavaSparkContext sc, JavaRDD<Shard> shards, TrainingRecipe recipe, NetworkState state) {
        return evaluate(sc, shards, recipe, state, EvalStats.DEFAULT_TOP_K);
    }

    /** As {@link #evaluate(JavaSparkContext, JavaRDD, TrainingRecipe, NetworkState)}, with the k of the top-k accuracy. */
    public static EvalStats evaluate(JavaSparkContext sc, JavaRDD<Shard> shards, TrainingRecipe recipe, NetworkState state, int topK) {
        Broadcast<NetworkState> bc = sc.broadcast(state);
        Broadcast<TrainingRecipe> rec = sc.broadcast(recipe);
        try {
            int k = recipe.numClasses();
            return shards.map(shard -> {
                TrainingRecipe r = rec.value();
                ComputationGraph net = NetworkPool.borrow(r.graphJson(), r.engine());
                try {
                    bc.value().loadInto(net);
                    // the direct oneDNN engine where the network trains on it (same output as DL4J's, OneDnnNetTest)
                    var fast = NetworkPool.directEngine(net, r.engine());
                    UnaryOperator<INDArray> forward =
                            fast != null ? x -> fast.output(net, x) : x -> net.output(false, x)[0];
                    return EvalStats.of(forward, shard, r.normalizer(), r.numClasses(), EVAL_BATCH, topK);
                } finally {
                    NetworkPool.release(r.graphJson(), r.engine(), net);
                }
            }).fold(new EvalStats(k, false, topK), EvalStats::merge);
        } finally {
            bc.destroy();
            rec.destroy();
        }
    }
}
