package io.deepshard.core.train;

/**
 * A run cannot continue from its checkpoints: none is readable, or they were written by a run that trains differently
 * (another config, worker count or dataset). The message names the run, the checkpoint and what differs.
 */
public final class CheckpointException extends RuntimeException {
    public CheckpointException(String message) { super(message); }
}
