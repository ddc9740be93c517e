package io.deepshard.core.train;

import io.deepshard.core.util.FloatArrays;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a round returns, as example-weighted sums that merge in a <b>fixed binary tree over the worker indexes</b>, so
 * the averaged state is the same bit for bit whatever order the workers' results arrive in, whichever executor
 * computed them, and however Spark groups them on the way to the driver.
 *
 * <p>Why a tree: float addition is commutative but not associative, so summing W results in arrival order gives a
 * different last bit from run to run as soon as W &gt; 2 (and a retried task changes the arrival order). Here a node
 * (level L, index j) holds the sums of workers [j·2^L, (j+1)·2^L); two nodes merge only when they are siblings, and
 * x + y == y + x exactly, so every merge order yields the same root. A node whose sibling covers no worker
 * (W not a power of two) moves up unchanged.
 *
 * <p>Each leaf carries parameters and updater state multiplied by the examples a worker trained on, those example
 * counts, and the summed mini-batch losses. A worker with no examples in a round is a leaf that adds nothing.
 * {@link #average} refuses a result that is not the complete tree: a missing or doubled worker is an error, never a
 * silently different average.
 */
public final class RoundResult implements Serializable {
    private final int workers;
    private final TreeMap<Long, Node> nodes = new TreeMap<>();   // key: level << 32 | index

    /** The sums of one subtree; serialized with its arrays in bulk (a round's result is model-sized, see FloatArrays). */
    private static final class Node implements java.io.Externalizable {
        private static final long serialVersionUID = 1L;
        float[] weightedParams;    // null while no examples
        float[] weightedUpdater;
        long examples;
        double lossSum;            // sum over mini-batches of (mean batch loss × batch size)
        int contributors;          // workers with examples
        double maxComputeSeconds;  // the slowest worker's time in the round
        double maxBroadcastSeconds; // the slowest worker's wait for the round's state

        public Node() {}           // for deserialization

        @Override public void writeExternal(java.io.ObjectOutput out) throws java.io.IOException {
            FloatArrays.write(out, weightedParams);
            FloatArrays.write(out, weightedUpdater);
            out.writeLong(examples);
            out.writeDouble(lossSum);
            out.writeInt(contributors);
            out.writeDouble(maxComputeSeconds);
            out.writeDouble(maxBroadcastSeconds);
        }

        @Override public void readExternal(java.io.ObjectInput in) throws java.io.IOException {
            weightedParams = FloatArrays.read(in);
            weightedUpdater = FloatArrays.read(in);
            examples = in.readLong();
            lossSum = in.readDouble();
            contributors = in.readInt();
            maxComputeSeconds = in.readDouble();
            maxBroadcastSeconds = in.readDouble();
        }

        Node plus(Node right) {
            if (right.examples > 0) {
                if (examples == 0) {
                    weightedParams = right.weightedParams;
                    weightedUpdater = right.weightedUpdater;
                } else {
                    addInto(weightedParams, right.weightedParams);
                    addInto(weightedUpdater, right.weightedUpdater);
                }
            }
            examples += right.examples;
            lossSum += right.lossSum;
            contributors += right.contributors;
            maxComputeSeconds = Math.max(maxComputeSeconds, right.maxComputeSeconds);
            maxBroadcastSeconds = Math.max(maxBroadcastSeconds, right.maxBroadcastSeconds);
            return this;
        }
    }

    private RoundResult(int workers) {
        if (workers < 1) throw new IllegalArgumentException("workers must be >= 1, found " + workers);
        this.workers = workers;
    }

    /** The leaf of worker {@code worker} (0-based) of {@code workers}. */
    public static RoundResult of(int worker, int workers, NetworkState trained, long examples, double lossSum, double computeSeconds) {
        if (worker < 0 || worker >= workers) throw new IllegalArgumentException("worker " + worker + " of " + workers);
        RoundResult r = new RoundResult(workers);
        Node n = new Node();
        if (examples > 0) {
            n.weightedParams = scaled(trained.params(), examples);
            n.weightedUpdater = scaled(trained.updaterState(), examples);
            n.examples = examples;
            n.lossSum = lossSum;
            n.contributors = 1;
        }
        n.maxComputeSeconds = computeSeconds;
        r.nodes.put(key(0, worker), n);
        return r;
    }

    /**
     * Adds {@code other}'s subtrees into this result and merges every pair of siblings (returns this). Associative and
     * commutative in effect: any grouping of the same leaves gives the same root, bit for bit.
     */
    public RoundResult merge(RoundResult other) {
        if (other.workers != workers) throw new IllegalArgumentException("merging results of " + other.workers + " and " + workers + " workers");
        for (Map.Entry<Long, Node> e : other.nodes.entrySet()) {
            for (long k : nodes.keySet()) {
                if (overlap(k, e.getKey())) {
                    throw new IllegalStateException("round result: " + describe(e.getKey()) + " reported twice (already have "
                            + describe(k) + ")");
                }
            }
            nodes.put(e.getKey(), e.getValue());
        }
        collapse();
        return this;
    }

    private void collapse() {
        int top = topLevel();
        boolean changed = true;
        while (changed) {
            changed = false;
            for (Long k : nodes.keySet().toArray(new Long[0])) {
                if (!nodes.containsKey(k)) continue;
                int level = (int) (k >>> 32), index = (int) (long) k;
                if (level >= top) continue;
                int sibling = index ^ 1;
                long siblingFirstWorker = (long) sibling << level;
                Node merged;
                if (siblingFirstWorker >= workers) {
                    merged = nodes.remove(k);                              // no sibling: move up as is
                } else if (nodes.containsKey(key(level, sibling))) {
                    Node left = nodes.remove(key(level, Math.min(index, sibling)));
                    Node right = nodes.remove(key(level, Math.max(index, sibling)));
                    merged = left.plus(right);
                } else {
                    continue;
                }
                nodes.put(key(level + 1, index >> 1), merged);
                changed = true;
            }
        }
    }

    /** The level of the root: ⌈log2 W⌉. */
    private int topLevel() { return 32 - Integer.numberOfLeadingZeros(workers - 1); }

    private Node root() {
        Node root = nodes.get(key(topLevel(), 0));
        if (root == null || nodes.size() != 1) {
            throw new IllegalStateException("round result incomplete: " + workers + " workers, have " + nodes.keySet().stream()
                    .map(RoundResult::describe).toList());
        }
        return root;
    }

    /** The example-weighted average, with the given counters; {@code fallback} when no worker had examples. */
    public NetworkState average(NetworkState fallback, long iteration, int epoch) {
        Node r = root();
        if (r.examples == 0) return fallback.withCounters(iteration, epoch);
        return new NetworkState(divided(r.weightedParams, r.examples), divided(r.weightedUpdater, r.examples), iteration, epoch);
    }

    /** Whether every worker's result is in (the tree has its root). */
    public boolean complete() { return nodes.size() == 1 && nodes.containsKey(key(topLevel(), 0)); }

    /** The group of worker results this result belongs to when results are merged in groups of {@code 2^groupLevel}. */
    public int group(int groupLevel) {
        long k = nodes.firstKey();
        int level = (int) (k >>> 32), index = (int) k;
        return (int) (((long) index << level) >> groupLevel);
    }

    /** Examples trained on by the workers in this result (complete or not). */
    public long examples() { return nodes.values().stream().mapToLong(n -> n.examples).sum(); }
    public double lossSum() { return root().lossSum; }
    /** Workers in this result that trained on examples. */
    public int workers() { return nodes.values().stream().mapToInt(n -> n.contributors).sum(); }
    public double meanLoss() { Node r = root(); return r.examples == 0 ? Double.NaN : r.lossSum / r.examples; }
    /** The slowest worker's compute time in the round (seconds). */
    public double maxComputeSeconds() { return nodes.values().stream().mapToDouble(n -> n.maxComputeSeconds).max().orElse(0); }

    /** The slowest worker's wait for the broadcast state (seconds). */
    public double maxBroadcastSeconds() { return nodes.values().stream().mapToDouble(n -> n.maxBroadcastSeconds).max().orElse(0); }

    /** Records the time this (single-worker) result's task waited for the round's state; returns this. */
    public RoundResult withBroadcastSeconds(double seconds) {
        for (Node n : nodes.values()) n.maxBroadcastSeconds = Math.max(n.maxBroadcastSeconds, seconds);
        return this;
    }

    /** Whether two nodes cover a common worker. */
    private static boolean overlap(long a, long b) {
        long aFrom = (long) (int) a << (a >>> 32), aTo = ((long) (int) a + 1) << (a >>> 32);
        long bFrom = (long) (int) b << (b >>> 32), bTo = ((long) (int) b + 1) << (b >>> 32);
        return aFrom < bTo && bFrom < aTo;
    }

    private static long key(int level, int index) { return ((long) level << 32) | (index & 0xffffffffL); }

    private static String describe(long k) {
        int level = (int) (k >>> 32), index = (int) k;
        return level == 0 ? "worker " + index : "workers " + ((long) index << level) + "-" + (((long) (index + 1) << level) - 1);
    }

    private static float[] scaled(float[] a, long w) {
        float[] out = new float[a.length];
        float f = (float) w;
        for (int i = 0; i < a.length; i++) out[i] = a[i] * f;
        return out;
    }

    private static float[] divided(float[] a, long w) {
        float[] out = new float[a.length];
        float f = (float) w;
        for (int i = 0; i < a.length; i++) out[i] = a[i] / f;
        return out;
    }

    private static void addInto(float[] acc, float[] x) {
        if (acc.length != x.length) throw new IllegalArgumentException("length " + x.length + " != " + acc.length);
        for (int i = 0; i < acc.length; i++) acc[i] += x[i];
    }
}
