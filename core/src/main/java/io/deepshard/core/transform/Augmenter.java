package io.deepshard.core.transform;

import io.deepshard.core.data.ImageRecord;

import java.io.Serializable;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A chain of augmentations ({@code data.augment}) applied to training records only. Record {@code id} in
 * {@code epoch} always gets the same result (its random stream is a function of seed, epoch and id), so an epoch is
 * reproducible — also after a task retry or resume — and two epochs differ. Labels and shapes are preserved; a
 * segmentation record's mask is transformed with its image (see {@link Augmentation}).
 */
public record Augmenter(List<Augmentation> steps, long seed, int channels, int height, int width) implements Serializable {

    public boolean isEmpty() { return steps.isEmpty(); }

    public byte[] apply(byte[] chw, long id, int epoch) {
        if (steps.isEmpty()) return chw;
        SplittableRandom rng = Augmentation.rng(seed, epoch, id);
        byte[] x = chw;
        for (Augmentation a : steps) x = a.apply(x, channels, height, width, rng.split());
        return x;
    }

    public ImageRecord apply(ImageRecord r, int epoch) {
        if (steps.isEmpty()) return r;
        if (r.isFloat()) {
            throw new io.deepshard.core.data.DataFormatException("data.augment works on 8-bit images; record " + r.id()
                    + " holds float values (Parquet float arrays): remove data.augment or store the images as bytes");
        }
        if (r.hasMask()) { // the mask moves with the image, by the same random draws
            SplittableRandom rng = Augmentation.rng(seed, epoch, r.id());
            byte[][] x = {r.pixels(), r.mask()};
            for (Augmentation a : steps) x = a.apply(x[0], x[1], channels, height, width, rng.split());
            return new ImageRecord(r.id(), r.label(), x[0], null, x[1]);
        }
        byte[] px = apply(r.pixels(), r.id(), epoch);
        return px == r.pixels() ? r : new ImageRecord(r.id(), r.label(), px);
    }

    /** The same chain with PCA noise given the training split's colour statistics. */
    public Augmenter withColorPca(ColorPca pca) {
        return new Augmenter(steps.stream().map(a -> a instanceof Augmentation.PcaNoise p ? new Augmentation.PcaNoise(p.std(), pca) : a).toList(),
                seed, channels, height, width);
    }

    public boolean needsColorPca() { return steps.stream().anyMatch(a -> a instanceof Augmentation.PcaNoise); }
}
