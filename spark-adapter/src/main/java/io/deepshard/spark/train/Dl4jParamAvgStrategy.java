package io.deepshard.spark.train;

import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.OneDnnHelpers;
import io.deepshard.core.train.TrainingRecipe;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.nd4j.linalg.dataset.DataSet;

import java.util.ArrayList;
import java.util.List;

/**
 * DL4J's stock {@code ParameterAveragingTrainingMaster} (dl4j-spark3 1.0.0-M2, deprecated upstream), kept to compare
 * against on the same model, shards, batch size, averaging frequency and normalization. It averages the updater state
 * too ({@code saveUpdater(true)}); the Direct approach, because the default export approach needs a shared FS.
 * Its reported training loss is DL4J's {@code getScore()}: the mean loss of the last averaging only, not of the epoch.
 */
public final class Dl4jParamAvgStrategy implements TrainingStrategy {
    private final JavaSparkContext sc;
    private final TrainingRecipe recipe;
    private final SparkComputationGraph sparkNet;
    private final int batchSize;

    public Dl4jParamAvgStrategy(JavaSparkContext sc, TrainingRecipe recipe, NetworkState start, int batchSize,
                                int averagingFrequency, long seed) {
        this.sc = sc;
        this.recipe = recipe;
        this.batchSize = batchSize;
        OneDnnHelpers.enable();
        ComputationGraph net = new ComputationGraph(ComputationGraphConfiguration.fromJson(recipe.graphJson()));
        net.init();
        start.loadInto(net);
        var tm = new ParameterAveragingTrainingMaster.Builder(recipe.plan().workers(), batchSize)
                .batchSizePerWorker(batchSize)
                .averagingFrequency(averagingFrequency)
                .workerPrefetchNumBatches(0)
                .saveUpdater(true)
                .rddTrainingApproach(RDDTrainingApproach.Direct)
                .repartionData(Repartition.Never)
                .rngSeed(seed)
                .build();
        this.sparkNet = new SparkComputationGraph(sc, net, tm);
    }

    @Override public Outcome trainEpoch(EpochContext ctx) {
        if (ctx.roundsDone() > 0) {
            throw new IllegalStateException("dl4j-paramavg trains whole epochs: it cannot continue epoch " + (ctx.epoch() + 1)
                    + " after round " + ctx.roundsDone());
        }
        Broadcast<TrainingRecipe> rec = sc.broadcast(recipe);
        int b = batchSize;
        JavaRDD<DataSet> batches = ctx.shards().flatMap(shard -> toBatches(shard, rec.value(), b).iterator());
        sc.setJobDescription("epoch " + (ctx.epoch() + 1) + " (dl4j-paramavg)");
        ComputationGraph net = sparkNet.fit(batches);
        rec.destroy();
        ctx.listener().onRound(ctx.epoch(), 1, 1, sparkNet.getScore());
        NetworkState s = NetworkState.of(net);
        // DL4J splits the data into chunks of workers x batch x frequency examples and averages once per chunk
        BatchPlan p = recipe.plan();
        long perRound = (long) p.workers() * batchSize * p.averagingFrequency();
        int rounds = (int) ((p.examples() + perRound - 1) / perRound);
        return new Outcome(s.withCounters(s.iteration(), ctx.epoch() + 1), sparkNet.getScore(), p.examples(), rounds, null);
    }

    private static List<DataSet> toBatches(Shard shard, TrainingRecipe recipe, int batchSize) {
        var out = new ArrayList<DataSet>();
        for (int from = 0; from < shard.size(); from += batchSize) {
            out.add(shard.batch(from, Math.min(shard.size(), from + batchSize), recipe.normalizer(), recipe.numClasses()));
        }
        return out;
    }
}
