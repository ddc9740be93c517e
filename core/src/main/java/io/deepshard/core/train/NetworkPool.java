package io.deepshard.core.train;

import io.deepshard.core.engine.OneDnnNet;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;
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
    /** The direct oneDNN engine made for a network, by identity (ComputationGraph.equals compares parameters). */
    private static final Map<ComputationGraph, Optional<OneDnnNet>> DIRECT = new IdentityHashMap<>();
    /** {@code -Ddeepshard.onednn.direct=false}: engine onednn uses DL4J's oneDNN layer helpers only. */
    public static final String DIRECT_PROPERTY = "deepshard.onednn.direct";

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

    /**
     * The direct oneDNN engine for {@code net} when {@code engine} resolves to onednn, the network is one it runs
     * ({@link OneDnnNet#unsupported}) and {@code -Ddeepshard.onednn.direct=false} is not set; else null, and the
     * network trains on its own layers (DL4J's, or DL4J's oneDNN helpers). Made once per network and kept with it.
     */
    public static OneDnnNet directEngine(ComputationGraph net, String engine) {
        if (!directWanted(engine)) return null;
        synchronized (DIRECT) {
            return DIRECT.computeIfAbsent(net, n -> OneDnnNet.unsupported(n).isEmpty() ? Optional.of(OneDnnNet.of(n)) : Optional.empty()).orElse(null);
        }
    }

    /**
     * A new direct oneDNN engine for inference on a loaded network (serving), under the same conditions as
     * {@link #directEngine}; else null, and the network computes its outputs on its own layers. The caller closes it.
     */
    public static OneDnnNet inferenceEngine(ComputationGraph net, String engine) {
        if (!directWanted(engine) || OneDnnNet.unsupported(net).isPresent()) return null;
        return OneDnnNet.forInference(net);
    }

    /** Whether {@code engine} resolves to onednn and the direct engine is not switched off. */
    private static boolean directWanted(String engine) {
        return "onednn".equals(OneDnnHelpers.resolve(engine)) && !directSwitchedOff();
    }

    /** Whether {@code -Ddeepshard.onednn.direct=false} keeps engine onednn to DL4J's layer helpers. */
    static boolean directSwitchedOff() {
        return "false".equals(System.getProperty(DIRECT_PROPERTY));
    }

    /** Frees the direct engine made for {@code net}, if any (a network that is not pooled). */
    public static void forget(ComputationGraph net) {
        Optional<OneDnnNet> fast;
        synchronized (DIRECT) {
            fast = DIRECT.remove(net);
        }
        if (fast != null) fast.ifPresent(OneDnnNet::close);
    }

    public static void release(String graphJson, String engine, ComputationGraph net) {
        if (disabled()) {
            forget(net);
            return;
        }
        POOL.computeIfAbsent(key(graphJson, engine), k -> new ConcurrentLinkedQueue<>()).add(net);
    }

    private static String key(String graphJson, String engine) {
        return OneDnnHelpers.resolve(engine) + "\n" + graphJson;
    }
}
