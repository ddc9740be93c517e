package io.deepshard.core.data;

import java.io.Serializable;

/**
 * One labelled image, kept compact: 8-bit pixels in CHW order.
 *
 * @param id     stable index of the record in its dataset (0-based); drives the per-epoch shuffle
 * @param label  class index
 * @param pixels {@code channels*height*width} unsigned bytes
 */
public record ImageRecord(long id, int label, byte[] pixels) implements Serializable {}
