package io.deepshard.core.viz;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;

/**
 * A layer's response to one image as a grey grid: one tile per channel of an NCHW activation, or for a dense layer
 * one tile with a cell per unit (row-major, {@code ceil(sqrt(n))} cells wide; cells past the last unit are black).
 * One scale for the whole layer, from its minimum (black) to its maximum (white): bright means strongly active, and
 * channels that do not respond to the image stay dark, which per-channel scaling would hide.
 */
public final class FeatureMaps {
    private FeatureMaps() {}

    /**
     * @param grid  the PNG
     * @param tiles tiles drawn (channels, or 1 for a dense layer)
     * @param min   the activation shown black
     * @param max   the activation shown white
     */
    public record Result(Grid grid, int tiles, float min, float max) {}

    /** The grid of {@code activation}, one example's activations {@code [1, C, H, W]} or {@code [1, units]}. */
    public static Result of(INDArray activation) {
        INDArray a = activation.castTo(DataType.FLOAT);
        float lo = a.minNumber().floatValue(), hi = a.maxNumber().floatValue();
        List<float[]> tiles = new ArrayList<>();
        int h, w;
        if (a.rank() == 4) {
            h = (int) a.size(2);
            w = (int) a.size(3);
            for (int c = 0; c < a.size(1); c++) {
                tiles.add(Grid.scaled(a.slice(0).slice(c).dup('c').reshape((long) h * w).toFloatVector(), lo, hi));
            }
        } else if (a.rank() == 2) {
            float[] units = a.dup('c').reshape(a.length()).toFloatVector();
            w = (int) Math.ceil(Math.sqrt(units.length));
            h = (units.length + w - 1) / w;
            float[] cells = new float[h * w];
            java.util.Arrays.fill(cells, lo);
            System.arraycopy(units, 0, cells, 0, units.length);
            tiles.add(Grid.scaled(cells, lo, hi));
        } else {
            throw new IllegalArgumentException("feature maps need a [1, C, H, W] or [1, units] activation, found rank " + a.rank());
        }
        return new Result(Grid.of(tiles, 1, h, w, 48), tiles.size(), lo, hi);
    }
}
