package io.deepshard.core.data;

import java.io.Serializable;

/**
 * An input record that cannot be used, with why. Under {@code data.onBadRecord: fail} the first one stops the job
 * (as a {@link DataFormatException} naming it); under {@code skip} they are counted per reason and reported.
 *
 * @param id     the record's id in its dataset (-1 when it has none, e.g. an empty class folder)
 * @param source file path or record locator
 */
public record BadRecord(long id, String source, Reason reason, String detail) implements Serializable {

    /** Why a record was rejected; the names appear in logs and in {@code metrics.json} under {@code badRecords}. */
    public enum Reason {
        EMPTY_FILE("emptyFile"),
        UNREADABLE("unreadable"),
        NOT_AN_IMAGE("notAnImage"),
        CORRUPT_IMAGE("corruptImage"),
        WRONG_CHANNELS("wrongChannels"),
        SIZE_MISMATCH("sizeMismatch"),
        LABEL_OUT_OF_RANGE("labelOutOfRange"),
        UNKNOWN_CLASS("unknownClass"),
        NON_FINITE("nonFinite"),
        BAD_VALUE("badValue"),
        EMPTY_CLASS_FOLDER("emptyClassFolder"),
        NOT_IN_CLASS_FOLDER("notInClassFolder"),
        MISSING_MASK("missingMask"),
        MISSING_IMAGE("missingImage"),
        MASK_VALUE_OUT_OF_RANGE("maskValueOutOfRange");

        public final String key;

        Reason(String key) { this.key = key; }
    }

    public String message() { return source + ": " + detail + " (" + reason.key + ")"; }

    public DataFormatException toException() { return new DataFormatException(message()); }
}
