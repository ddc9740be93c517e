package io.deepshard.core.viz;

import io.deepshard.core.report.Png;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tiles equally sized images (grey or RGB, CHW, values in [0, 1]) into one PNG: row-major in a near-square grid of
 * {@code ceil(sqrt(n))} columns, each tile enlarged by an integer factor (nearest neighbour, so single weights and
 * pixels stay visible as blocks) and separated by a {@link #GAP}-pixel white border.
 *
 * @param columns    tiles per row
 * @param rows       rows of tiles
 * @param tileWidth  a tile's width in the PNG (enlarged)
 * @param tileHeight a tile's height in the PNG (enlarged)
 * @param width      the PNG's width in pixels: {@code GAP + columns * (tileWidth + GAP)}
 * @param height     the PNG's height in pixels: {@code GAP + rows * (tileHeight + GAP)}
 * @param png        the encoded image
 */
public record Grid(int columns, int rows, int tileWidth, int tileHeight, int width, int height, byte[] png) {
    public static final int GAP = 2;
    private static final byte BACKGROUND = (byte) 255;

    /**
     * Lays out {@code tiles}, each {@code channels x h x w} values in [0, 1] (clipped), enlarged until the longer side
     * is at least {@code minSide} pixels.
     */
    public static Grid of(List<float[]> tiles, int channels, int h, int w, int minSide) {
        if (tiles.isEmpty()) throw new IllegalArgumentException("no tiles");
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("tiles must have 1 or 3 channels, found " + channels);
        int scale = Math.max(1, (minSide + Math.max(h, w) - 1) / Math.max(h, w));
        int n = tiles.size(), cols = (int) Math.ceil(Math.sqrt(n)), rows = (n + cols - 1) / cols;
        int th = h * scale, tw = w * scale;
        int width = GAP + cols * (tw + GAP), height = GAP + rows * (th + GAP), plane = width * height;
        byte[] chw = new byte[channels * plane];
        java.util.Arrays.fill(chw, BACKGROUND);
        for (int t = 0; t < n; t++) {
            float[] tile = tiles.get(t);
            if (tile.length != channels * h * w) {
                throw new IllegalArgumentException("tile " + t + " has " + tile.length + " values, expected " + channels * h * w);
            }
            int x0 = GAP + (t % cols) * (tw + GAP), y0 = GAP + (t / cols) * (th + GAP);
            for (int c = 0; c < channels; c++) {
                for (int y = 0; y < th; y++) {
                    for (int x = 0; x < tw; x++) {
                        float v = tile[c * h * w + (y / scale) * w + x / scale];
                        int p = (int) Math.round(255.0 * Math.max(0f, Math.min(1f, v)));
                        chw[c * plane + (y0 + y) * width + x0 + x] = (byte) p;
                    }
                }
            }
        }
        return new Grid(cols, rows, tw, th, width, height, Png.of(chw, channels, height, width));
    }

    /** Values mapped linearly from [min, max] of {@code v} onto [0, 1] (a constant array becomes 0.5). */
    public static float[] minMax(float[] v) {
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        for (float x : v) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }
        return scaled(v, lo, hi);
    }

    /** Values mapped linearly from [lo, hi] onto [0, 1] (0.5 everywhere when lo == hi). */
    public static float[] scaled(float[] v, float lo, float hi) {
        float[] out = new float[v.length];
        float range = hi - lo;
        for (int i = 0; i < v.length; i++) out[i] = range > 0 ? (v[i] - lo) / range : 0.5f;
        return out;
    }

    /** 8-bit pixels as tile values in [0, 1]. */
    public static float[] fromPixels(byte[] pixels) {
        float[] out = new float[pixels.length];
        for (int i = 0; i < pixels.length; i++) out[i] = (pixels[i] & 0xFF) / 255f;
        return out;
    }

    /** The layout as JSON: columns, rows, tile size and gap, image size (pixels). */
    public Map<String, Object> toJson() {
        var m = new LinkedHashMap<String, Object>();
        m.put("columns", columns);
        m.put("rows", rows);
        m.put("tileWidth", tileWidth);
        m.put("tileHeight", tileHeight);
        m.put("gap", GAP);
        m.put("width", width);
        m.put("height", height);
        return m;
    }
}
