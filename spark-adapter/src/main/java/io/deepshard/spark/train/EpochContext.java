package io.deepshard.spark.train;

import io.deepshard.core.data.Shard;
import io.deepshard.core.train.NetworkState;
import org.apache.spark.api.java.JavaRDD;

/** The input of one epoch of training: this epoch's shards (one per worker) and the state to start from. */
public record EpochContext(JavaRDD<Shard> shards, NetworkState start, int epoch, TrainingListener listener) {}
