package io.deepshard.core.transform;

import io.deepshard.core.data.SeededPermutation;

import java.io.Serializable;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One random image augmentation on 8-bit CHW arrays. Shapes and labels never change. Randomness comes from the
 * {@link SplittableRandom} the caller seeds per (seed, epoch, record id) — see {@link Augmenter}.
 *
 * <p>Segmentation: {@link #apply(byte[], byte[], int, int, int, SplittableRandom)} transforms an image and its class
 * mask with the same random draws. Geometric augmentations (translate, crop, flip, rotate, scale) move the mask
 * exactly as the image but never interpolate class ids: nearest neighbour, background (0) where nothing comes in, as
 * the image gets zeros. Photometric ones (colour and PCA noise) and random erasing (an occlusion, not a change of
 * what each pixel belongs to) leave the mask as it is.
 */
public sealed interface Augmentation extends Serializable {
    List<String> TYPES = List.of("translate", "crop", "flip", "rotate", "scale", "colorNoise", "pcaNoise", "erase");

    /** Returns the augmented image (may be {@code src} itself when nothing changes). */
    byte[] apply(byte[] src, int channels, int height, int width, SplittableRandom rng);

    /**
     * Augments an image and its mask ({@code height*width} class ids) alike; returns {image, mask}. The image part
     * equals {@link #apply(byte[], int, int, int, SplittableRandom)} with the same random stream.
     */
    default byte[][] apply(byte[] image, byte[] mask, int channels, int height, int width, SplittableRandom rng) {
        return new byte[][] {apply(image, channels, height, width, rng), mask}; // photometric: the mask stays
    }

    /** Random shift by up to {@code pixels} in x and y (zeros shifted in). */
    record Translate(int pixels) implements Augmentation {
        @Override public byte[] apply(byte[] src, int c, int h, int w, SplittableRandom rng) {
            return randomShift(src, null, c, h, w, pixels, rng)[0];
        }

        @Override public byte[][] apply(byte[] image, byte[] mask, int c, int h, int w, SplittableRandom rng) {
            return randomShift(image, mask, c, h, w, pixels, rng);
        }
    }

    /**
     * Random crop of the image zero-padded by {@code padding} on each side, back to its own size (the CIFAR recipe):
     * a random integer shift in [-padding, padding]. At evaluation this is the centre crop, i.e. the image itself.
     */
    record Crop(int padding) implements Augmentation {
        @Override public byte[] apply(byte[] src, int c, int h, int w, SplittableRandom rng) {
            return randomShift(src, null, c, h, w, padding, rng)[0];
        }

        @Override public byte[][] apply(byte[] image, byte[] mask, int c, int h, int w, SplittableRandom rng) {
            return randomShift(image, mask, c, h, w, padding, rng);
        }
    }

    /** Horizontal mirror with probability {@code probability}. */
    record Flip(double probability) implements Augmentation {
        @Override public byte[] apply(byte[] src, int c, int h, int w, SplittableRandom rng) {
            return rng.nextDouble() >= probability ? src : mirror(src, c, h, w);
        }

        @Override public byte[][] apply(byte[] image, byte[] mask, int c, int h, int w, SplittableRandom rng) {
            if (rng.nextDouble() >= probability) return new byte[][] {image, mask};
            return new byte[][] {mirror(image, c, h, w), mirror(mask, 1, h, w)};
        }

        private static byte[] mirror(byte[] src, int c, int h, int w) {
            byte[] out = new byte[src.length];
            for (int ch = 0; ch < c; ch++) {
                for (int y = 0; y < h; y++) {
                    int row = (ch * h + y) * w;
                    for (int x = 0; x < w; x++) out[row + x] = src[row + w - 1 - x];
                }
            }
            return out;
        }
    }

    /** Rotation about the centre by a uniform angle in [-degrees, degrees], bilinear, zeros outside. */
    record Rotate(double degrees) implements Augmentation {
        @Override public byte[] apply(byte[] src, int c, int h, int w, SplittableRandom rng) {
            double a = Math.toRadians(rng.nextDouble(-degrees, degrees));
            return warp(src, c, h, w, Math.cos(a), -Math.sin(a), Math.sin(a), Math.cos(a), false);
        }

        @Override public byte[][] apply(byte[] image, byte[] mask, int c, int h, int w, SplittableRandom rng) {
            double a = Math.toRadians(rng.nextDouble(-degrees, degrees));
            return new byte[][] {warp(image, c, h, w, Math.cos(a), -Math.sin(a), Math.sin(a), Math.cos(a), false),
                    warp(mask, 1, h, w, Math.cos(a), -Math.sin(a), Math.sin(a), Math.cos(a), true)};
        }
    }

    /** Zoom about the centre by a uniform factor in [min, max], bilinear, zeros outside. */
    record Scale(double min, double max) implements Augmentation {
        @Override public byte[] apply(byte[] src, int c, int h, int w, SplittableRandom rng) {
            double s = min == max ? min : rng.nextDouble(min, max);
            return warp(src, c, h, w, 1 / s, 0, 0, 1 / s, false);
        }

        @Override public byte[][] apply(byte[] image, byte[] mask, int c, int h, int w, SplittableRandom rng) {
            double s = min == max ? min : rng.nextDouble(min, max);
            return new byte[][] {warp(image, c, h, w, 1 / s, 0, 0, 1 / s, false), warp(mask, 1, h, w, 1 / s, 0, 0, 1 / s, true)};
        }
    }

    /** Adds N(0, std) (in units of the full 0..255 range) to each channel of the image, one draw per channel. */
    record ColorNoise(double std) implements Augmentation {
        @Override public byte[] apply(byte[] src, int c, int h, int w, SplittableRandom rng) {
            double[] shift = new double[c];
            for (int ch = 0; ch < c; ch++) shift[ch] = gaussian(rng) * std * 255;
            return addPerChannel(src, c, h * w, shift);
        }
    }

    /**
     * AlexNet's "fancy PCA" colour noise (Krizhevsky, Sutskever, Hinton 2012, §4.1): adds
     * {@code sum_i alpha_i * lambda_i * p_i} with alpha_i ~ N(0, std) and (lambda_i, p_i) the eigenvalues/vectors of
     * the training split's RGB covariance ({@link ColorPca}). Grey images: plain brightness noise.
     */
    record PcaNoise(double std, ColorPca pca) implements Augmentation {
        @Override public byte[] apply(byte[] src, int c, int h, int w, SplittableRandom rng) {
            double[] shift = new double[c];
            if (pca == null || c != pca.channels()) {
                double d = gaussian(rng) * std * 255 * 0.1;
                java.util.Arrays.fill(shift, d);
            } else {
                double[] alpha = new double[c];
                for (int i = 0; i < c; i++) alpha[i] = gaussian(rng) * std;
                for (int ch = 0; ch < c; ch++) {
                    double s = 0;
                    for (int i = 0; i < c; i++) s += pca.vectors()[i][ch] * alpha[i] * pca.values()[i];
                    shift[ch] = s * 255;
                }
            }
            return addPerChannel(src, c, h * w, shift);
        }
    }

    /**
     * Random Erasing (Zhong, Zheng, Kang, Li, Yang, AAAI 2020, Algorithm 1): with {@code probability}, a rectangle of
     * area {@code minArea..maxArea} of the image and aspect ratio (height/width) log-uniform in
     * [{@code minAspect}, 1/{@code minAspect}] is filled with uniform random values in every channel. Up to 100 draws
     * look for a rectangle that fits; none fitting leaves the image as it is. The paper's defaults (p 0.5, area
     * 0.02..0.4, aspect 0.3) took ResNet-20 on Fashion-MNIST from 93.79% to 94.96% (its Table 1, "RE-R").
     */
    record Erase(double probability, double minArea, double maxArea, double minAspect) implements Augmentation {
        @Override public byte[] apply(byte[] src, int c, int h, int w, SplittableRandom rng) {
            if (rng.nextDouble() >= probability) return src;
            double logAspect = Math.log(minAspect);
            for (int attempt = 0; attempt < 100; attempt++) {
                double area = rng.nextDouble(minArea, Math.nextUp(maxArea)) * h * w;
                double aspect = Math.exp(rng.nextDouble(logAspect, Math.nextUp(-logAspect)));
                int eh = (int) Math.round(Math.sqrt(area * aspect)), ew = (int) Math.round(Math.sqrt(area / aspect));
                if (eh < 1 || ew < 1 || eh >= h || ew >= w) continue;
                int y0 = rng.nextInt(h - eh + 1), x0 = rng.nextInt(w - ew + 1);
                byte[] out = src.clone();
                for (int ch = 0; ch < c; ch++) {
                    for (int y = y0; y < y0 + eh; y++) {
                        int row = (ch * h + y) * w;
                        for (int x = x0; x < x0 + ew; x++) out[row + x] = (byte) rng.nextInt(256);
                    }
                }
                return out;
            }
            return src;
        }
    }

    /**
     * Translate and Crop are the same zero-filled shift by (dx, dy), each drawn from [-max, max] (dx first); the mask,
     * when given, moves with the image. Returns {image} or {image, mask}.
     */
    private static byte[][] randomShift(byte[] image, byte[] mask, int c, int h, int w, int max, SplittableRandom rng) {
        int dx = rng.nextInt(-max, max + 1), dy = rng.nextInt(-max, max + 1);
        return mask == null ? new byte[][] {shift(image, c, h, w, dx, dy)}
                : new byte[][] {shift(image, c, h, w, dx, dy), shift(mask, 1, h, w, dx, dy)};
    }

    private static byte[] shift(byte[] src, int c, int h, int w, int dx, int dy) {
        if (dx == 0 && dy == 0) return src;
        byte[] out = new byte[src.length];
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < h; y++) {
                int sy = y - dy;
                if (sy < 0 || sy >= h) continue;
                for (int x = 0; x < w; x++) {
                    int sx = x - dx;
                    if (sx >= 0 && sx < w) out[(ch * h + y) * w + x] = src[(ch * h + sy) * w + sx];
                }
            }
        }
        return out;
    }

    /**
     * Output pixel p samples the source at centre + M·(p − centre), M = [[m00, m01], [m10, m11]]: bilinear, or the
     * nearest source pixel ({@code nearest}, for class masks).
     */
    private static byte[] warp(byte[] src, int c, int h, int w, double m00, double m01, double m10, double m11, boolean nearest) {
        byte[] out = new byte[src.length];
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double sx = cx + m00 * (x - cx) + m01 * (y - cy), sy = cy + m10 * (x - cx) + m11 * (y - cy);
                if (nearest) {
                    int nx = (int) Math.floor(sx + 0.5), ny = (int) Math.floor(sy + 0.5);
                    for (int ch = 0; ch < c; ch++) out[ch * h * w + y * w + x] = (byte) px(src, ch * h * w, w, h, nx, ny);
                    continue;
                }
                int x0 = (int) Math.floor(sx), y0 = (int) Math.floor(sy);
                double fx = sx - x0, fy = sy - y0;
                for (int ch = 0; ch < c; ch++) {
                    int base = ch * h * w;
                    double v = (1 - fx) * (1 - fy) * px(src, base, w, h, x0, y0) + fx * (1 - fy) * px(src, base, w, h, x0 + 1, y0)
                            + (1 - fx) * fy * px(src, base, w, h, x0, y0 + 1) + fx * fy * px(src, base, w, h, x0 + 1, y0 + 1);
                    out[base + y * w + x] = (byte) Math.round(v);
                }
            }
        }
        return out;
    }

    private static int px(byte[] src, int base, int w, int h, int x, int y) {
        return x < 0 || y < 0 || x >= w || y >= h ? 0 : src[base + y * w + x] & 0xFF;
    }

    private static byte[] addPerChannel(byte[] src, int c, int plane, double[] shift) {
        byte[] out = new byte[src.length];
        for (int ch = 0; ch < c; ch++) {
            for (int i = ch * plane, end = i + plane; i < end; i++) {
                out[i] = (byte) Math.max(0, Math.min(255, (int) Math.round((src[i] & 0xFF) + shift[ch])));
            }
        }
        return out;
    }

    private static double gaussian(SplittableRandom rng) {
        double u = rng.nextDouble(), v = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    /** The per-record random stream: a pure function of (seed, epoch, id). */
    static SplittableRandom rng(long seed, int epoch, long id) {
        return new SplittableRandom(SeededPermutation.mix(seed ^ SeededPermutation.mix(0xA06L + epoch) ^ SeededPermutation.mix(id * 0x9E3779B97F4A7C15L)));
    }
}
