package io.deepshard.spark.data;

import io.deepshard.core.data.ImageRecord;
import org.apache.spark.api.java.JavaRDD;

import java.util.List;
import java.util.Map;

/**
 * A split read into Spark: records with ids {@code 0..count-1} (cached), their class names and a description of where
 * they came from (for provenance).
 */
public record LoadedSplit(JavaRDD<ImageRecord> records, long count, List<String> classNames, Map<String, Object> description) {}
