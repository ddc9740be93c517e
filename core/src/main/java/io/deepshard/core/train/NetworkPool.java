package io.deepshard.core.train;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;

import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Networks built on an executor, kept for the JVM's lifetime and reused across rounds: building a graph costs far
 * more than loading a state into it. Concurrent tasks in one executor each borrow their own instance.
 */
public final class NetworkPool {
    private static final Map<String, Queue<ComputationGraph>> POOL = new ConcurrentHashMap<>();

    private NetworkPool() {}

    public static ComputationGraph borrow(String graphJson) {
        ComputationGraph net = POOL.computeIfAbsent(graphJson, k -> new ConcurrentLinkedQueue<>()).poll();
        if (net == null) {
            net = new ComputationGraph(ComputationGraphConfiguration.fromJson(graphJson));
            net.init();
        }
        return net;
    }

    public static void release(String graphJson, ComputationGraph net) {
        POOL.computeIfAbsent(graphJson, k -> new ConcurrentLinkedQueue<>()).add(net);
    }
}
