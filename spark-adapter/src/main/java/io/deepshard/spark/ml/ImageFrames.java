package io.deepshard.spark.ml;

import io.deepshard.core.data.ImageRecord;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** Records as a DataFrame {@code (id: long, label: int, image: binary CHW bytes)} — what the ML stages work on. */
public final class ImageFrames {
    public static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.LongType, false)
            .add("label", DataTypes.IntegerType, false)
            .add("image", DataTypes.BinaryType, false);

    private ImageFrames() {}

    public static Dataset<Row> of(SparkSession spark, JavaRDD<ImageRecord> records) {
        return spark.createDataFrame(records.map(r -> RowFactory.create(r.id(), r.label(), r.pixels())), SCHEMA);
    }

    public static JavaRDD<ImageRecord> records(Dataset<Row> df, String imageCol) {
        return df.select("id", "label", imageCol).javaRDD().map(r -> new ImageRecord(r.getLong(0), r.getInt(1), (byte[]) r.get(2)));
    }
}
