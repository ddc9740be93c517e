package io.deepshard.core.viz;

import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The weights of the network's first layer drawn as images, one tile per filter or unit, each min/max scaled on its
 * own (so every tile uses the whole grey or colour range; compare patterns, not magnitudes):
 * <ul>
 *   <li>a convolution layer {@code [nOut, nIn, kh, kw]}: one {@code kh x kw} tile per filter, RGB when it reads 3
 *       channels, grey for 1, and the mean over the input channels otherwise;</li>
 *   <li>a dense layer on the image (an MLP): each unit's {@code C*H*W} input weights reshaped to the image, the
 *       classic picture of what a perceptron unit looks for.</li>
 * </ul>
 * At most {@link #MAX_TILES} tiles (the first ones) are drawn.
 */
public final class Filters {
    public static final int MAX_TILES = 256;

    /**
     * @param layer    the layer drawn
     * @param kind     {@code convolution} or {@code dense}
     * @param count    its filters or units
     * @param channels channels of a tile (1 or 3)
     * @param height   tile height before enlargement (kernel height, or the image's)
     * @param width    tile width before enlargement
     * @param grid     the PNG, tiles in filter order
     */
    public record Result(String layer, String kind, int count, int channels, int height, int width, Grid grid) {
        public int shown() { return Math.min(count, MAX_TILES); }
    }

    private Filters() {}

    /** The first layer with weights, if it is a convolution or a dense layer on the whole image; else empty. */
    public static Optional<Result> of(ComputationGraph net, int[] inputShape) {
        for (int i : net.topologicalSortOrder()) {
            GraphVertex v = net.getVertices()[i];
            if (!v.hasLayer() || v.getLayer().numParams() == 0) continue;
            Object conf = v.getLayer().conf().getLayer();
            INDArray w = v.getLayer().getParam("W");
            if (w == null) return Optional.empty();
            w = w.castTo(DataType.FLOAT);
            if (conf.getClass() == ConvolutionLayer.class && w.rank() == 4) return Optional.of(convolution(v.getVertexName(), w));
            int size = inputShape[0] * inputShape[1] * inputShape[2];
            if (conf instanceof DenseLayer && w.rank() == 2 && w.size(0) == size) return Optional.of(dense(v.getVertexName(), w, inputShape));
            return Optional.empty();
        }
        return Optional.empty();
    }

    private static Result convolution(String name, INDArray w) {
        int nOut = (int) w.size(0), nIn = (int) w.size(1), kh = (int) w.size(2), kw = (int) w.size(3);
        int channels = nIn == 1 || nIn == 3 ? nIn : 1;
        var tiles = new ArrayList<float[]>();
        for (int f = 0; f < Math.min(nOut, MAX_TILES); f++) {
            INDArray filter = w.slice(f); // [nIn, kh, kw]
            if (channels != nIn) filter = filter.mean(0);
            tiles.add(Grid.minMax(filter.dup('c').reshape(filter.length()).toFloatVector()));
        }
        return new Result(name, "convolution", nOut, channels, kh, kw, Grid.of(tiles, channels, kh, kw, 40));
    }

    private static Result dense(String name, INDArray w, int[] shape) {
        int units = (int) w.size(1);
        List<float[]> tiles = new ArrayList<>();
        for (int u = 0; u < Math.min(units, MAX_TILES); u++) {
            tiles.add(Grid.minMax(w.getColumn(u).dup('c').reshape(w.size(0)).toFloatVector())); // CHW, as the input is flattened
        }
        return new Result(name, "dense", units, shape[0], shape[1], shape[2], Grid.of(tiles, shape[0], shape[1], shape[2], 40));
    }
}
