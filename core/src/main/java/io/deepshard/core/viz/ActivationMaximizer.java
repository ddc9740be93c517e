package io.deepshard.core.viz;

import io.deepshard.core.transform.Normalizer;

import java.util.Arrays;
import java.util.Random;

/**
 * Activation maximization (Erhan et al. 2009; Simonyan et al. 2014): the input that a unit, channel or class responds
 * to most, found by gradient ascent on the input from seeded noise, with the regularization of Yosinski et al.,
 * "Understanding Neural Networks Through Deep Visualization" (ICML DL workshop 2015) so that the result looks like an
 * image rather than adversarial noise:
 * <ul>
 *   <li>start: mid-grey (pixel 127.5) plus Gaussian noise of 10% of the pixel range, seeded;</li>
 *   <li>step: {@code x += lr * range * g / rms(g)}: the gradient of the target's objective ({@link Probe}) normalized
 *       per image, so {@code learningRate} is the RMS change per step as a fraction of the pixel range whatever the
 *       layer's scale; {@code lr} falls linearly from {@code learningRate} to 0 over the steps (a constant step
 *       ends oscillating around the optimum);</li>
 *   <li>L2 decay towards mid-grey: {@code x = grey + (1 - l2Decay) (x - grey)} every step;</li>
 *   <li>Gaussian blur of {@code blurSigma} pixels every {@code blurEvery} steps (suppresses high-frequency patterns);</li>
 *   <li>clipping to the inputs the normalizer can produce (pixels 0..255) every step.</li>
 * </ul>
 * All targets of one layer are optimized together as one batch (their examples do not interact). The objective is
 * measured before (on the start image) and after (on the final image) as 8-bit pixels, i.e. exactly what the PNG
 * shows, normalized again: the numbers are reproducible from the pictures.
 */
public final class ActivationMaximizer {
    /** Targets optimized in one batch (bounds memory for large inputs). */
    static final int BATCH = 16;

    /**
     * @param steps        gradient-ascent steps
     * @param learningRate RMS change of the input at the first step, as a fraction of the pixel range (annealed to 0)
     * @param l2Decay      per-step shrink factor of the distance to mid-grey, in [0, 1)
     * @param blurEvery    blur every this many steps
     * @param blurSigma    Gaussian blur radius in pixels (0 = no blur)
     * @param seed         of the start noise
     */
    public record Settings(int steps, double learningRate, double l2Decay, int blurEvery, double blurSigma, long seed) {
        public Settings {
            if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, found " + steps);
            if (!(learningRate > 0)) throw new IllegalArgumentException("learning rate must be > 0, found " + learningRate);
            if (!(l2Decay >= 0 && l2Decay < 1)) throw new IllegalArgumentException("L2 decay must be in [0, 1), found " + l2Decay);
            if (blurEvery < 1) throw new IllegalArgumentException("blur interval must be >= 1, found " + blurEvery);
            if (!(blurSigma >= 0 && blurSigma <= 10)) throw new IllegalArgumentException("blur sigma must be in [0, 10], found " + blurSigma);
        }

        public static Settings defaults(long seed) { return new Settings(100, 0.05, 0.01, 4, 0.5, seed); }
    }

    /**
     * The optimized inputs of one layer's targets.
     *
     * @param pixels           per target, the image as 8-bit CHW pixels
     * @param before           per target, the objective at the start image
     * @param after            per target, the objective at the result
     * @param activationBefore per target, the activation at the start (for a class: its output, the probability with softmax)
     * @param activationAfter  per target, the activation at the result
     */
    public record Result(String layer, int[] units, byte[][] pixels, double[] before, double[] after, double[] activationBefore,
                         double[] activationAfter) {}

    private final Probe probe;
    private final Normalizer normalizer;

    public ActivationMaximizer(Probe probe, Normalizer normalizer) {
        if (normalizer.channels() != probe.inputShape()[0]) {
            throw new IllegalArgumentException("the normalizer has " + normalizer.channels() + " channels, the network's input "
                    + probe.inputShape()[0]);
        }
        this.probe = probe;
        this.normalizer = normalizer;
    }

    /** Maximizes each of {@code units} of {@code layer} (classes for the output layer). */
    public Result maximize(String layer, int[] units, Settings s) {
        int n = units.length, size = probe.exampleSize(), c = probe.inputShape()[0], plane = size / c;
        float[] lo = new float[c], hi = new float[c];
        for (int k = 0; k < c; k++) {
            lo[k] = normalizer.min(k);
            hi[k] = normalizer.max(k);
        }
        Random rng = new Random(s.seed());
        float[] start = new float[n * size];
        for (int i = 0; i < n * size; i++) {
            int k = i % size / plane;
            start[i] = (float) ((lo[k] + hi[k]) / 2 + 0.1 * (hi[k] - lo[k]) * rng.nextGaussian());
        }
        clip(start, lo, hi, plane);
        byte[][] pixels = new byte[n][];
        double[] before = new double[n], after = new double[n], actBefore = new double[n], actAfter = new double[n];
        for (int from = 0; from < n; from += BATCH) {
            int m = Math.min(BATCH, n - from);
            int[] u = Arrays.copyOfRange(units, from, from + m);
            float[] x = Arrays.copyOfRange(start, from * size, (from + m) * size);
            Probe.Step b = probe.evaluate(layer, u, quantized(x, m));
            ascend(layer, u, x, s, lo, hi, plane);
            byte[] px = new byte[m * size];
            normalizer.toPixels(x, 0, px, 0, m, size);
            Probe.Step a = probe.evaluate(layer, u, quantized(x, m));
            for (int i = 0; i < m; i++) {
                pixels[from + i] = Arrays.copyOfRange(px, i * size, (i + 1) * size);
                before[from + i] = b.values()[i];
                after[from + i] = a.values()[i];
                actBefore[from + i] = b.activations()[i];
                actAfter[from + i] = a.activations()[i];
            }
        }
        return new Result(layer, units.clone(), pixels, before, after, actBefore, actAfter);
    }

    private void ascend(String layer, int[] units, float[] x, Settings s, float[] lo, float[] hi, int plane) {
        int size = probe.exampleSize(), h = probe.inputShape()[1], w = probe.inputShape()[2];
        for (int step = 1; step <= s.steps(); step++) {
            float[] g = probe.gradient(layer, units, x);
            double lr = s.learningRate() * (1 - (step - 1.0) / s.steps());
            for (int i = 0; i < units.length; i++) {
                double ss = 0;
                for (int j = i * size; j < (i + 1) * size; j++) ss += (double) g[j] * g[j];
                double rms = Math.sqrt(ss / size);
                for (int j = i * size; j < (i + 1) * size; j++) {
                    int k = j % size / plane;
                    double mid = (lo[k] + hi[k]) / 2, range = hi[k] - lo[k];
                    double v = x[j] + (rms > 0 ? lr * range * g[j] / rms : 0);
                    x[j] = (float) (mid + (1 - s.l2Decay()) * (v - mid));
                }
            }
            if (s.blurSigma() > 0 && step % s.blurEvery() == 0) blur(x, h, w, s.blurSigma());
            clip(x, lo, hi, plane);
        }
    }

    /** {@code x} as the network sees it after a round trip through 8-bit pixels. */
    private float[] quantized(float[] x, int n) {
        int size = probe.exampleSize();
        byte[] px = new byte[n * size];
        normalizer.toPixels(x, 0, px, 0, n, size);
        float[] q = new float[n * size];
        normalizer.apply(px, 0, q, 0, n, size);
        return q;
    }

    private static void clip(float[] x, float[] lo, float[] hi, int plane) {
        for (int j = 0; j < x.length; j++) {
            int k = j / plane % lo.length;
            x[j] = Math.max(lo[k], Math.min(hi[k], x[j]));
        }
    }

    /** Separable Gaussian blur of every {@code h x w} plane of {@code x}, edges clamped. */
    static void blur(float[] x, int h, int w, double sigma) {
        int r = (int) Math.ceil(3 * sigma);
        float[] kernel = new float[2 * r + 1];
        double sum = 0;
        for (int d = -r; d <= r; d++) sum += kernel[d + r] = (float) Math.exp(-d * d / (2 * sigma * sigma));
        for (int d = 0; d < kernel.length; d++) kernel[d] /= (float) sum;
        float[] tmp = new float[h * w];
        for (int p = 0; p < x.length; p += h * w) {
            for (int y = 0; y < h; y++) {
                for (int xx = 0; xx < w; xx++) {
                    float v = 0;
                    for (int d = -r; d <= r; d++) v += kernel[d + r] * x[p + y * w + Math.max(0, Math.min(w - 1, xx + d))];
                    tmp[y * w + xx] = v;
                }
            }
            for (int y = 0; y < h; y++) {
                for (int xx = 0; xx < w; xx++) {
                    float v = 0;
                    for (int d = -r; d <= r; d++) v += kernel[d + r] * tmp[Math.max(0, Math.min(h - 1, y + d)) * w + xx];
                    x[p + y * w + xx] = v;
                }
            }
        }
    }
}
