package io.deepshard.core.train;

import io.deepshard.core.util.FloatArrays;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.updater.graph.ComputationGraphUpdater;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;

/**
 * Everything a worker needs to continue training exactly where the driver is: the flat parameter vector, the flat
 * updater state (momentum, Adam moments, ... — averaging it too is what keeps momentum methods converging) and the
 * iteration/epoch counters that drive learning-rate schedules and bias corrections. Plain arrays: what is broadcast,
 * averaged and checkpointed does not depend on ND4J's serialization.
 */
public record NetworkState(float[] params, float[] updaterState, long iteration, int epoch) implements Serializable {

    /** Copies the state out of a network. */
    public static NetworkState of(ComputationGraph net) {
        INDArray u = updaterView(net);
        return new NetworkState(FloatArrays.copyOf(net.params()), u == null ? new float[0] : FloatArrays.copyOf(u),
                net.getConfiguration().getIterationCount(), net.getConfiguration().getEpochCount());
    }

    /** Overwrites the network's parameters, updater state and counters with this state. */
    public void loadInto(ComputationGraph net) {
        if (net.numParams() != params.length) {
            throw new IllegalArgumentException("state has " + params.length + " parameters, network has " + net.numParams());
        }
        FloatArrays.copyInto(params, net.params());   // the network's own flat parameter buffer
        INDArray u = updaterView(net);
        long uLen = u == null ? 0 : u.length();
        if (uLen != updaterState.length) {
            throw new IllegalArgumentException("state has " + updaterState.length + " updater values, network has " + uLen);
        }
        if (u != null) FloatArrays.copyInto(updaterState, u);
        net.getConfiguration().setIterationCount(Math.toIntExact(iteration));
        net.getConfiguration().setEpochCount(epoch);
    }

    public NetworkState withCounters(long newIteration, int newEpoch) {
        return new NetworkState(params, updaterState, newIteration, newEpoch);
    }

    /**
     * This state with the parameters of the {@code [from, to)} ranges taken from {@code from}. Frozen layers train on no
     * worker, yet the example-weighted average of equal values (Σ nᵢ·x / Σ nᵢ in float) can differ from x in the last
     * bit; copying them back keeps frozen parameters bit-identical to the source model for the whole run.
     */
    public NetworkState keeping(int[] ranges, NetworkState from) {
        if (ranges.length == 0) return this;
        float[] p = params.clone();
        for (int i = 0; i < ranges.length; i += 2) System.arraycopy(from.params, ranges[i], p, ranges[i], ranges[i + 1] - ranges[i]);
        return new NetworkState(p, updaterState, iteration, epoch);
    }

    /** Serialized (broadcast every round) as its arrays' bytes in bulk: see {@link FloatArrays}. */
    private Object writeReplace() { return new Serial(this); }

    private static final class Serial implements java.io.Externalizable {
        private static final long serialVersionUID = 1L;
        private NetworkState state;

        public Serial() {}              // for deserialization

        Serial(NetworkState state) { this.state = state; }

        @Override public void writeExternal(java.io.ObjectOutput out) throws java.io.IOException {
            FloatArrays.write(out, state.params);
            FloatArrays.write(out, state.updaterState);
            out.writeLong(state.iteration);
            out.writeInt(state.epoch);
        }

        @Override public void readExternal(java.io.ObjectInput in) throws java.io.IOException {
            float[] p = FloatArrays.read(in), u = FloatArrays.read(in);
            state = new NetworkState(p, u, in.readLong(), in.readInt());
        }

        private Object readResolve() { return state; }
    }

    static INDArray updaterView(ComputationGraph net) {
        ComputationGraphUpdater up = net.getUpdater(true);
        return up == null ? null : up.getStateViewArray();
    }
}
