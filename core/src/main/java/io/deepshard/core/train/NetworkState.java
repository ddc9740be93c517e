package io.deepshard.core.train;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.updater.graph.ComputationGraphUpdater;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

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
        return new NetworkState(net.params().toFloatVector(), u == null ? new float[0] : u.toFloatVector(),
                net.getConfiguration().getIterationCount(), net.getConfiguration().getEpochCount());
    }

    /** Overwrites the network's parameters, updater state and counters with this state. */
    public void loadInto(ComputationGraph net) {
        if (net.numParams() != params.length) {
            throw new IllegalArgumentException("state has " + params.length + " parameters, network has " + net.numParams());
        }
        INDArray p = Nd4j.create(params, new long[] {1, params.length}, 'c');
        net.setParams(p);                 // copies into the network's own parameter view
        NativeMemory.free(p);             // every round: do not leave a model-sized native buffer to the GC
        INDArray u = updaterView(net);
        long uLen = u == null ? 0 : u.length();
        if (uLen != updaterState.length) {
            throw new IllegalArgumentException("state has " + updaterState.length + " updater values, network has " + uLen);
        }
        if (u != null) {
            INDArray state = Nd4j.create(updaterState, u.shape(), 'c');
            u.assign(state);
            NativeMemory.free(state);
        }
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

    static INDArray updaterView(ComputationGraph net) {
        ComputationGraphUpdater up = net.getUpdater(true);
        return up == null ? null : up.getStateViewArray();
    }
}
