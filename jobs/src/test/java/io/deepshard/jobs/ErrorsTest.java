package io.deepshard.jobs;

import io.deepshard.core.data.DataFormatException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ErrorsTest {
    @Test
    void ourExceptionAnywhereInTheChainWins() {
        var e = new RuntimeException("outer", new IllegalStateException("mid", new DataFormatException("f.idx is truncated")));
        assertThat(Errors.userMessage(e)).isEqualTo("f.idx is truncated");
    }

    @Test
    void sparkTaskFailureTextIsUnwrapped() {
        var e = new org.apache.spark.SparkException("Job aborted due to stage failure: Task 1 in stage 3.0 failed 1 times, "
                + "most recent failure: Lost task 1.0 in stage 3.0 (TID 7) (127.0.0.1 executor driver): "
                + "io.deepshard.core.data.DataFormatException: file:/d/x.gz is truncated: it ends before record 30\n\tat io.deepshard...");
        assertThat(Errors.userMessage(e)).isEqualTo("file:/d/x.gz is truncated: it ends before record 30");
    }

    @Test
    void otherwiseTheExceptionAndItsRootCause() {
        var e = new RuntimeException("top", new java.io.IOException("disk full"));
        assertThat(Errors.userMessage(e)).isEqualTo("java.lang.RuntimeException: top\n  caused by java.io.IOException: disk full");
    }
}
