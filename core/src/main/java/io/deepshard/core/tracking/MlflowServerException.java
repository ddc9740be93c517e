package io.deepshard.core.tracking;

/**
 * An MLflow tracking server call that did not succeed: the server answered with an error (HTTP status, MLflow's
 * {@code error_code} and message when the body is MLflow's error JSON, else the body's start), or did not answer at all
 * (status 0). The message names the server, the method and the endpoint; it never holds credentials.
 */
public final class MlflowServerException extends RuntimeException {
    private final int status;
    private final String errorCode;

    MlflowServerException(String message, int status, String errorCode, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.errorCode = errorCode;
    }

    /** The HTTP status, or 0 when the server could not be reached or did not answer in time. */
    public int status() { return status; }

    /** MLflow's {@code error_code} (e.g. {@code RESOURCE_DOES_NOT_EXIST}), or null when the body had none. */
    public String errorCode() { return errorCode; }

    public boolean notFound() { return "RESOURCE_DOES_NOT_EXIST".equals(errorCode); }

    /** The server rejected the credentials (401) or the user's rights (403). */
    public boolean authentication() { return status == 401 || status == 403; }
}
