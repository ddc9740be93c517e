package io.deepshard.core.data;

/** Thrown by decoders for one record; callers turn it into a {@link BadRecord} (skip) or a job failure (fail). */
public final class BadRecordException extends Exception {
    private final BadRecord.Reason reason;

    public BadRecordException(BadRecord.Reason reason, String detail) {
        super(detail);
        this.reason = reason;
    }

    public BadRecord.Reason reason() { return reason; }

    public BadRecord toBadRecord(long id, String source) { return new BadRecord(id, source, reason, getMessage()); }
}
