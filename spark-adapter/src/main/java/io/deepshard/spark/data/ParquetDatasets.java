package io.deepshard.spark.data;

import com.fasterxml.jackson.core.type.TypeReference;
import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.DataConfig;
import io.deepshard.core.data.BadRecord;
import io.deepshard.core.data.BadRecordException;
import io.deepshard.core.data.DataFormatException;
import io.deepshard.core.data.Decoded;
import io.deepshard.core.data.ImageDecoder;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.util.Fs;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.collection.JavaConverters;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parquet image datasets: a {@code label} column (integer class index, or class name string) and either
 * <ul>
 *   <li>an {@code image} binary column holding an encoded image (JPEG/PNG/..., decoded and resized like files) or,
 *       with a {@code shape} column {@code [C, H, W]}, raw 8-bit CHW pixels — what {@link #write} produces for
 *       {@code prepare} (decode once, train many times); or</li>
 *   <li>a {@code values} column of floats (or doubles) in CHW order on the scale of pixel/255, with {@code shape}:
 *       kept as floats; NaN or infinite values make a record bad ({@code nonFinite}).</li>
 * </ul>
 * A {@code _deepshard.json} sidecar carries the class names.
 */
public final class ParquetDatasets {
    public static final String SIDECAR = "_deepshard.json";
    public static final StructType PREPARED = new StructType()
            .add("id", DataTypes.LongType, false)
            .add("label", DataTypes.IntegerType, false)
            .add("image", DataTypes.BinaryType, false)
            .add("shape", DataTypes.createArrayType(DataTypes.IntegerType, false), false);

    public static final StructType PREPARED_FLOATS = new StructType()
            .add("id", DataTypes.LongType, false)
            .add("label", DataTypes.IntegerType, false)
            .add("values", DataTypes.createArrayType(DataTypes.FloatType, false), false)
            .add("shape", DataTypes.createArrayType(DataTypes.IntegerType, false), false);

    private ParquetDatasets() {}

    private static List<Float> toList(float[] f) {
        var out = new java.util.ArrayList<Float>(f.length);
        for (float v : f) out.add(v);
        return out;
    }

    public static LoadedSplit load(JavaSparkContext sc, String uri, DataConfig data, String split, List<String> trainClasses) {
        String path = Fs.path(uri).toString();
        SparkSession spark = SparkSession.builder().getOrCreate();
        Dataset<Row> df = spark.read().parquet(path);
        StructType schema = df.schema();
        List<String> cols = Arrays.asList(schema.fieldNames());
        boolean floats = cols.contains("values");
        if (!cols.contains("label") || !(cols.contains("image") || floats)) {
            throw new DataFormatException(path + ": a Parquet image dataset needs columns label and image (or values with shape), found " + cols);
        }
        if (floats && !cols.contains("shape")) {
            throw new DataFormatException(path + ": a values column needs a shape column [C, H, W]");
        }
        if (!floats && !(schema.apply("image").dataType().equals(DataTypes.BinaryType))) {
            throw new DataFormatException(path + ": column image must be binary (encoded image or raw CHW bytes), found "
                    + schema.apply("image").dataType().simpleString());
        }
        DataType labelType = schema.apply("label").dataType();
        boolean named = labelType.equals(DataTypes.StringType);
        if (!named && !(labelType.equals(DataTypes.IntegerType) || labelType.equals(DataTypes.LongType)
                || labelType.equals(DataTypes.ShortType) || labelType.equals(DataTypes.ByteType))) {
            throw new DataFormatException(path + ": column label must be an integer class index or a class name, found " + labelType.simpleString());
        }
        boolean raw = cols.contains("shape");
        List<String> classes = classNames(sc, path, df, named, data.numClasses(), trainClasses);
        int k = data.numClasses();
        int[] expect = data.inputShape();
        ImageDecoder decoder = data.decoder();
        String shapeCol = raw ? "shape" : "label";
        JavaRDD<Decoded> decoded = df.select("label", floats ? "values" : "image", shapeCol).javaRDD().zipWithIndex().map(t -> {
            Row r = t._1();
            long id = t._2();
            String src = path + " row " + id;
            int label;
            if (r.isNullAt(0) || r.isNullAt(1)) {
                return Decoded.bad(new BadRecord(id, src, BadRecord.Reason.BAD_VALUE, "label or image is null"));
            }
            if (named) {
                label = classes.indexOf(r.getString(0));
                if (label < 0) {
                    return Decoded.bad(new BadRecord(id, src, BadRecord.Reason.UNKNOWN_CLASS, "class '" + r.getString(0)
                            + "' is not one of " + classes));
                }
            } else {
                long l = ((Number) r.get(0)).longValue();
                if (l < 0 || l >= k) {
                    return Decoded.bad(new BadRecord(id, src, BadRecord.Reason.LABEL_OUT_OF_RANGE,
                            "label " + l + " is outside [0, " + k + ") (data.numClasses = " + k + ")"));
                }
                label = (int) l;
            }
            if (floats) return floatRecord(r, id, label, src, expect);
            byte[] bytes = (byte[]) r.get(1);
            if (raw) {
                List<Integer> shape = r.getList(2);
                int[] s = shape.stream().mapToInt(Integer::intValue).toArray();
                if (!Arrays.equals(s, expect) || bytes.length != expect[0] * expect[1] * expect[2]) {
                    return Decoded.bad(new BadRecord(id, src, BadRecord.Reason.SIZE_MISMATCH, "raw image of shape "
                            + Arrays.toString(s) + " and " + bytes.length + " bytes, expected " + Arrays.toString(expect)));
                }
                return Decoded.ok(new ImageRecord(id, label, bytes));
            }
            try {
                return Decoded.ok(new ImageRecord(id, label, decoder.decode(bytes)));
            } catch (BadRecordException e) {
                return Decoded.bad(e.toBadRecord(id, src));
            }
        });
        var desc = new LinkedHashMap<String, Object>();
        desc.put("format", "parquet");
        desc.put("uri", path);
        desc.put("images", floats ? "float values" : raw ? "raw CHW bytes" : "encoded");
        desc.put("shape", List.of(expect[0], expect[1], expect[2]));
        return SparkDatasets.finish(decoded, List.of(), classes, desc, data.badRecords(), split, path);
    }

    private static Decoded floatRecord(Row r, long id, int label, String src, int[] expect) {
        int[] s = r.<Integer>getList(2).stream().mapToInt(Integer::intValue).toArray();
        List<Object> v = r.getList(1);
        int n = expect[0] * expect[1] * expect[2];
        if (!Arrays.equals(s, expect) || v.size() != n) {
            return Decoded.bad(new BadRecord(id, src, BadRecord.Reason.SIZE_MISMATCH, "values of shape " + Arrays.toString(s)
                    + " and length " + v.size() + ", expected " + Arrays.toString(expect)));
        }
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            Object o = v.get(i);
            double d = o == null ? Double.NaN : ((Number) o).doubleValue();
            if (!Double.isFinite(d)) {
                return Decoded.bad(new BadRecord(id, src, BadRecord.Reason.NON_FINITE, "value " + i + " is " + (o == null ? "null" : d)));
            }
            f[i] = (float) d;
        }
        return Decoded.ok(ImageRecord.ofFloats(id, label, f));
    }

    private static List<String> classNames(JavaSparkContext sc, String path, Dataset<Row> df, boolean named, int k, List<String> trainClasses) {
        if (trainClasses != null) return trainClasses;
        Path sidecar = new Path(path, SIDECAR);
        try {
            if (Fs.fs(sidecar, sc.hadoopConfiguration()).exists(sidecar)) {
                Map<String, Object> meta = ModelBundle.JSON.readValue(Fs.readString(sc.hadoopConfiguration(), sidecar), new TypeReference<>() {});
                @SuppressWarnings("unchecked") List<String> names = (List<String>) meta.get("classNames");
                if (names != null) return names;
            }
        } catch (java.io.IOException e) {
            throw new DataFormatException("cannot read " + sidecar + ": " + e.getMessage(), e);
        }
        if (named) {
            return df.select("label").distinct().javaRDD().map(r -> r.getString(0)).filter(java.util.Objects::nonNull).collect()
                    .stream().sorted().toList();
        }
        return java.util.stream.IntStream.range(0, k).mapToObj(Integer::toString).toList();
    }

    /** Writes records as prepared Parquet (raw CHW bytes, or float values, + shape) with the class names in the sidecar. */
    public static void write(SparkSession spark, LoadedSplit split, int[] shape, String uri, Map<String, Object> meta) {
        String path = Fs.path(uri).toString();
        List<Integer> s = Arrays.stream(shape).boxed().toList();
        boolean floats = split.records().first().isFloat();
        if (split.records().first().hasMask()) {
            throw new DataFormatException("prepare writes images with one label each; the segmentation masks of "
                    + split.description().get("root") + " would be lost: preparing segmentation data is not supported yet");
        }
        JavaRDD<Row> rows = split.records().map(r -> RowFactory.create(r.id(), r.label(),
                floats ? JavaConverters.asScalaBuffer(toList(r.values())).toSeq() : r.pixels(), JavaConverters.asScalaBuffer(s).toSeq()));
        spark.createDataFrame(rows, floats ? PREPARED_FLOATS : PREPARED).write().mode(SaveMode.ErrorIfExists).parquet(path);
        var m = new LinkedHashMap<String, Object>(meta);
        m.put("classNames", split.classNames());
        m.put("shape", s);
        m.put("examples", split.count());
        try {
            Fs.writeString(spark.sparkContext().hadoopConfiguration(), new Path(path, SIDECAR), ModelBundle.JSON.writeValueAsString(m));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
