package io.deepshard.core.data;

/** Input data that cannot be read as what it claims to be. The message names the file (and record) and what was found. */
public final class DataFormatException extends RuntimeException {
    public DataFormatException(String message) { super(message); }

    public DataFormatException(String message, Throwable cause) { super(message, cause); }
}
