package io.deepshard.core.data;

import java.io.Serializable;

/**
 * How one epoch deals examples to workers, stratified by class and computed per record (no table, no sort):
 * <ul>
 *   <li>the record of class c with within-class index j (0 ≤ j &lt; n_c, fixed once per dataset) gets the epoch rank
 *       {@code offset[c] + perm_{c,epoch}(j)}, a seeded permutation per class and epoch;</li>
 *   <li>rank r goes to shard {@code r mod W}: every shard gets ⌊n_c/W⌋ or ⌈n_c/W⌉ examples of each class c and
 *       ⌊N/W⌋ or ⌈N/W⌉ in all (as {@link BatchPlan} counts them);</li>
 *   <li>within a shard, examples are ordered by a seeded permutation of the record ids for that epoch, so classes are
 *       mixed in every mini-batch.</li>
 * </ul>
 * A different epoch gives a different deal and order; the same (seed, epoch, within-class indices) gives the same,
 * so a recomputed epoch (task retry, resume) sees exactly the same shards.
 */
public final class StratifiedDeal implements Serializable {
    private final long examples;
    private final int workers;
    private final long[] offsets;
    private final SeededPermutation[] perClass;
    private final SeededPermutation order;
    private final long idSpace;

    /** Records have ids below {@code idSpace} (the number of records read, counting skipped ones). */
    public StratifiedDeal(long[] classCounts, int workers, long seed, int epoch, long idSpace) {
        this.workers = workers;
        this.offsets = new long[classCounts.length];
        this.perClass = new SeededPermutation[classCounts.length];
        long total = 0;
        for (int c = 0; c < classCounts.length; c++) {
            offsets[c] = total;
            total += classCounts[c];
            if (classCounts[c] > 0) {
                perClass[c] = new SeededPermutation(classCounts[c], seed, SeededPermutation.mix(epoch * 0x9E3779B97F4A7C15L + c + 1));
            }
        }
        this.examples = total;
        if (idSpace < total) throw new IllegalArgumentException("id space " + idSpace + " < " + total + " examples");
        this.idSpace = idSpace;
        this.order = total == 0 ? null : new SeededPermutation(idSpace, seed, epoch);
    }

    public long examples() { return examples; }

    /** The epoch rank of the record of class {@code label} with within-class index {@code classIndex}. */
    public long rank(int label, long classIndex) { return offsets[label] + perClass[label].apply(classIndex); }

    public int shard(int label, long classIndex) { return (int) (rank(label, classIndex) % workers); }

    /** The record's place within its shard's training order (smaller first); unique across the dataset. */
    public long order(long id) { return order.apply(id); }

    /** One sort key carrying both: shards are contiguous key ranges, ordered within. */
    public long key(int label, long classIndex, long id) { return shard(label, classIndex) * idSpace + order(id); }

    public int shardOfKey(long key) { return (int) (key / idSpace); }
}
