package io.deepshard.core.data;

import java.io.Serializable;

/** What a reader made of one input record: the record, or why it could not be used (exactly one is set). */
public record Decoded(ImageRecord record, BadRecord bad) implements Serializable {
    public static Decoded ok(ImageRecord r) { return new Decoded(r, null); }

    public static Decoded bad(BadRecord b) { return new Decoded(null, b); }

    public boolean isBad() { return bad != null; }
}
