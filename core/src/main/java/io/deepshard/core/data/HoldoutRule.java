package io.deepshard.core.data;

/**
 * The one rule that chooses a validation hold-out, shared by file listings (folders, segmentation pairs) and loaded
 * records: of a group of {@code n} items (a class, or a whole unlabelled set), round(fraction × n) are held out — at
 * least one when the group has two or more, never all of them —, chosen by a seeded permutation of the items in
 * their stable order (sorted paths or ids). Same seed, same hold-out.
 */
public final class HoldoutRule {
    private final int n;
    private final long k;
    private final SeededPermutation perm;

    /** {@code stream} separates independent groups (e.g. one per class) under one seed. */
    public HoldoutRule(int n, double fraction, long seed, long stream) {
        long k = Math.round(fraction * n);
        if (k == 0 && n >= 2 && fraction > 0) k = 1;
        if (k == n && n > 0) k = n - 1;
        this.n = n;
        this.k = k;
        this.perm = n == 0 ? null : new SeededPermutation(n, seed, stream);
    }

    /** Whether item {@code i} (0-based, in the group's stable order) is held out. */
    public boolean heldOut(int i) {
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException("item " + i + " of " + n);
        return perm.apply(i) < k;
    }

    public long heldOutCount() { return k; }
}
