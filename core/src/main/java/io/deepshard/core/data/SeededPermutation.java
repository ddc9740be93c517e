package io.deepshard.core.data;

import java.io.Serializable;

/**
 * A pseudo-random permutation of {@code [0, n)} computed per element, without a table: a 4-round Feistel network on
 * the smallest even-bit power of two ≥ n, with cycle walking. Executors can compute an element's position in an
 * epoch's shuffle from (seed, epoch, id) alone, so a reshuffle needs no driver-side array, whatever n is.
 */
public final class SeededPermutation implements Serializable {
    private final long n;
    private final int halfBits;
    private final long halfMask;
    private final long[] keys = new long[4];

    public SeededPermutation(long n, long seed, long stream) {
        if (n <= 0) throw new IllegalArgumentException("permutation size must be > 0, found " + n);
        this.n = n;
        int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(n - 1));
        this.halfBits = (bits + 1) / 2;
        this.halfMask = (1L << halfBits) - 1;
        long k = mix(seed ^ mix(stream + 0x9E3779B97F4A7C15L));
        for (int i = 0; i < keys.length; i++) { k = mix(k + 0x9E3779B97F4A7C15L); keys[i] = k; }
    }

    /** The position of {@code x} in the permutation. */
    public long apply(long x) {
        if (x < 0 || x >= n) throw new IndexOutOfBoundsException(x + " not in [0, " + n + ")");
        long y = x;
        do { y = encrypt(y); } while (y >= n); // cycle walking keeps it a bijection on [0, n)
        return y;
    }

    private long encrypt(long x) {
        long l = x >>> halfBits, r = x & halfMask;
        for (long key : keys) {
            long t = l ^ (mix(r ^ key) & halfMask);
            l = r;
            r = t;
        }
        return (l << halfBits) | r;
    }

    /** SplitMix64's finalizer. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
