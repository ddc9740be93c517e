package io.deepshard.jobs;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import static org.assertj.core.api.Assertions.assertThat;

/** slf4j must reach log4j2 (an slf4j-api 1.7 on the classpath would silently drop every log line). */
class LoggingTest {
    @Test
    void slf4jIsBoundToLog4jWithOurQuietDefaults() {
        assertThat(LoggerFactory.getILoggerFactory().getClass().getName()).isEqualTo("org.apache.logging.slf4j.Log4jLoggerFactory");
        assertThat(LoggerFactory.getLogger("io.deepshard.x").isInfoEnabled()).isTrue();
        assertThat(LoggerFactory.getLogger("org.apache.spark.x").isInfoEnabled()).isFalse();
        assertThat(LoggerFactory.getLogger("org.apache.spark.x").isWarnEnabled()).isTrue();
    }
}
