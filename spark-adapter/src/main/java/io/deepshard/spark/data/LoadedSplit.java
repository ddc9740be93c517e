package io.deepshard.spark.data;

import io.deepshard.core.data.BadRecordPolicy;
import io.deepshard.core.data.ImageRecord;
import org.apache.spark.api.java.JavaRDD;

import java.util.List;
import java.util.Map;

/**
 * A split read into Spark: the usable records (cached, in id order across partitions; ids are below
 * {@code idSpace}, with gaps where bad records were skipped), their class names, what was skipped and why, and a
 * description of where they came from (for provenance).
 */
public record LoadedSplit(JavaRDD<ImageRecord> records, long count, List<String> classNames, Map<String, Object> description,
                          BadRecordPolicy.Counts badRecords) {}
