package io.deepshard.core.serve;

/**
 * An image the model cannot take: empty, not an image, damaged, or of the wrong size when the model does not resize
 * ({@code resize: none}). The message names the image (its file, or "image i" of a batch) and says what is wrong;
 * {@link #reason()} is the machine-readable kind ({@code emptyFile}, {@code notAnImage}, {@code corruptImage},
 * {@code sizeMismatch}), as the training reader reports bad records. A server answers these with "bad request".
 */
public final class BadImageException extends IllegalArgumentException {
    private final String reason;

    BadImageException(String image, String reason, String detail, Throwable cause) {
        super(image + ": " + detail + " (" + reason + ")", cause);
        this.reason = reason;
    }

    public String reason() { return reason; }
}
