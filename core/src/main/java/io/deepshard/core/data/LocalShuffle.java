package io.deepshard.core.data;

import io.deepshard.core.transform.Augmenter;

import java.util.Arrays;

/**
 * {@code training.shuffle: local}: the examples are dealt to the workers once (epoch 0's {@link StratifiedDeal}); in
 * every later epoch each worker trains on the same examples in a new order, with that epoch's augmentation. No data
 * moves between workers after the first deal: without augmentation an epoch's shard is a view of the dealt one that
 * holds only its order (4 bytes per example), instead of a Spark shuffle of every image; BigDL's
 * cached datasets and Petastorm/Horovod's per-worker shuffles do the same. The price is that a worker never sees the
 * other workers' examples, so the averaged model sees fewer distinct mini-batch mixes than under the global re-deal
 * ({@code training.shuffle: global}, the default).
 *
 * <p>The order is the global deal's own: examples sorted by {@link StratifiedDeal#order} of the epoch, a seeded
 * permutation of the record ids. Epoch 0 is therefore the same under both settings, and with one worker every epoch
 * is: one shard holds every example, in the same order either way (the trainer then skips the shuffle). An epoch's
 * shards depend only on (seed, epoch), so task retries and resumed runs see the same data.
 */
public final class LocalShuffle {
    private LocalShuffle() {}

    /**
     * The training order of {@code shard}'s examples in {@code epoch}: {@code order[k]} is the index in the shard of
     * the example trained k-th, by the epoch's order keys ({@code new StratifiedDeal(..., seed, epoch, idSpace).order(id)}).
     */
    public static int[] order(Shard shard, long seed, int epoch, long idSpace) {
        int n = shard.size();
        int[] order = new int[n];
        if (n == 0) return order;
        var perm = new SeededPermutation(idSpace, seed, epoch);   // StratifiedDeal's within-shard order
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) keys[i] = perm.apply(shard.id(i));
        long[] sorted = keys.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < n; i++) order[Arrays.binarySearch(sorted, keys[i])] = i;   // ids, and so keys, are unique
        return order;
    }

    /**
     * {@code dealt} (a shard of epoch 0's deal, not augmented) in {@code epoch}'s order, augmented for that epoch.
     * Epoch 0 without augmentation is {@code dealt} itself: the deal already put it in that order.
     */
    public static Shard apply(Shard dealt, long seed, int epoch, long idSpace, Augmenter augmenter) {
        boolean augment = augmenter != null && !augmenter.isEmpty();
        if (!augment && epoch == 0) return dealt;
        int[] order = epoch == 0 ? identity(dealt.size()) : order(dealt, seed, epoch, idSpace);
        return dealt.reordered(order, augment ? r -> augmenter.apply(r, epoch) : null);
    }

    private static int[] identity(int n) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        return order;
    }
}
