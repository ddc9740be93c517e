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
 * {@code -Ddeepshard.networkPool.disabled=true} builds a fresh network for every task: tests use it to prove that a
 * round takes its whole state from the broadcast, not from what an executor's network still remembers.
 */
public final class NetworkPool {
    private static final Map<String, Queue<ComputationGraph>> POOL = new ConcurrentHashMap<>();

    private NetworkPool() {}

    private static boolean disabled() { return Boolean.getBoolean("deepshard.networkPool.disabled"); }

    /** A pooled network of this definition and engine ({@code training.engine}), or a new one. */
    public static ComputationGraph borrow(String graphJson, String engine) {
        ComputationGraph net = disabled() ? null : POOL.computeIfAbsent(key(graphJson, engine), k -> new ConcurrentLinkedQueue<>()).poll();
        return net != null ? net : build(graphJson, engine);
    }

    /** A new, initialized network of this definition with the layer implementations of {@code engine}. */
    public static ComputationGraph build(String graphJson, String engine) {
        return OneDnnHelpers.build(engine, () -> {
            ComputationGraph net = new ComputationGraph(ComputationGraphConfiguration.fromJson(graphJson));
            net.init();
            return net;
        });
    }

    public static void release(String graphJson, String engine, ComputationGraph net) {
        if (disabled()) return;
        POOL.computeIfAbsent(key(graphJson, engine), k -> new ConcurrentLinkedQueue<>()).add(net);
    }

    private static String key(String graphJson, String engine) {
        return OneDnnHelpers.resolve(engine) + "\n" + graphJson;
    }
}
