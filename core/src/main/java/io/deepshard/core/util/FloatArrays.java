package io.deepshard.core.util;

import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.ObjectInput;
import java.io.ObjectOutput;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Model-sized float arrays moved in bulk. Every averaging round ships the state to the workers and their sums back,
 * and copies the state into and out of the network: Java serialization writes a {@code float[]} one value at a time
 * (9 ms for LeNet-5's 862,160 values of parameters and momentum, measured) and ND4J's {@code Nd4j.create(float[])}
 * fills its buffer one {@code put} at a time; a block copy takes 0.3 ms.
 */
public final class FloatArrays {
    private static final int CHUNK = 1 << 18;   // floats per block written: 1 MB of bytes, whatever the array's size

    private FloatArrays() {}

    /** Writes {@code values} (may be null) as its length and its little-endian bytes. */
    public static void write(ObjectOutput out, float[] values) throws IOException {
        out.writeInt(values == null ? -1 : values.length);
        if (values == null) return;
        byte[] bytes = new byte[Math.min(values.length, CHUNK) * Float.BYTES];
        var floats = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        for (int from = 0; from < values.length; from += CHUNK) {
            int n = Math.min(CHUNK, values.length - from);
            floats.clear();
            floats.put(values, from, n);
            out.write(bytes, 0, n * Float.BYTES);
        }
    }

    /** Reads what {@link #write} wrote. */
    public static float[] read(ObjectInput in) throws IOException {
        int length = in.readInt();
        if (length < -1) throw new java.io.StreamCorruptedException("float array of length " + length);
        if (length == -1) return null;
        float[] values = new float[length];
        byte[] bytes = new byte[Math.min(length, CHUNK) * Float.BYTES];
        var floats = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        for (int from = 0; from < length; from += CHUNK) {
            int n = Math.min(CHUNK, length - from);
            in.readFully(bytes, 0, n * Float.BYTES);
            floats.clear();
            floats.get(values, from, n);
        }
        return values;
    }

    /** Whether {@code a}'s values are its buffer's whole float memory in order (then it can be block-copied). */
    private static boolean whole(INDArray a) {
        return a.dataType() == DataType.FLOAT && !a.isView() && a.data().length() == a.length()
                && (a.ordering() == 'c' || a.isVector());
    }

    /** Overwrites {@code into}'s values with {@code values} (same length). */
    public static void copyInto(float[] values, INDArray into) {
        if (into.length() != values.length) {
            throw new IllegalArgumentException("copying " + values.length + " values into an array of " + into.length());
        }
        if (whole(into)) {
            new FloatPointer(into.data().addressPointer()).put(values, 0, values.length);
        } else {
            try (INDArray tmp = org.nd4j.linalg.factory.Nd4j.createUninitialized(DataType.FLOAT, into.shape(), 'c')) {
                new FloatPointer(tmp.data().addressPointer()).put(values, 0, values.length);
                into.assign(tmp);
            }
        }
    }

    /** {@code a}'s values in c order. */
    public static float[] copyOf(INDArray a) {
        if (!whole(a)) return a.toFloatVector();
        float[] out = new float[Math.toIntExact(a.length())];
        new FloatPointer(a.data().addressPointer()).get(out, 0, out.length);
        return out;
    }
}
