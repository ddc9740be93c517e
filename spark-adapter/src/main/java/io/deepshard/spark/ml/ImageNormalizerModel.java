package io.deepshard.spark.ml;

import io.deepshard.core.transform.Normalizer;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.DoubleArrayParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.BinaryType$;
import org.apache.spark.sql.types.StructType;

/** The fitted normalization as a Spark ML {@code Model}: binary CHW image column → normalized dense vector. */
public final class ImageNormalizerModel extends Model<ImageNormalizerModel> implements DefaultParamsWritable {
    private final String uid;
    final Param<String> inputCol;
    final Param<String> outputCol;
    final Param<String> kind;
    final DoubleArrayParam mean;
    final DoubleArrayParam std;

    // Spark ML finds params through public no-argument methods (as Scala vals compile to), not fields.
    public Param<String> inputCol() { return inputCol; }
    public Param<String> outputCol() { return outputCol; }
    public Param<String> kind() { return kind; }
    public DoubleArrayParam mean() { return mean; }
    public DoubleArrayParam std() { return std; }


    public ImageNormalizerModel(String uid) {
        this.uid = uid;
        inputCol = new Param<>(this, "inputCol", "binary image column, CHW bytes");
        outputCol = new Param<>(this, "outputCol", "normalized vector column");
        kind = new Param<>(this, "kind", "normalization kind");
        mean = new DoubleArrayParam(this, "mean", "per-channel offset of pixel/255");
        std = new DoubleArrayParam(this, "std", "per-channel scale of pixel/255");
        setDefault(inputCol, "image");
        setDefault(outputCol, "features");
    }

    public ImageNormalizerModel(String uid, Normalizer n) {
        this(uid);
        set(kind, n.kind());
        set(mean, toDouble(n.mean()));
        set(std, toDouble(n.std()));
    }

    public ImageNormalizerModel setInputCol(String v) { set(inputCol, v); return this; }
    public ImageNormalizerModel setOutputCol(String v) { set(outputCol, v); return this; }

    /** The core normalizer this model applies (what training and the model bundle use). */
    public Normalizer normalizer() { return new Normalizer($(kind), toFloat($(mean)), toFloat($(std))); }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    private static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    @Override public Dataset<Row> transform(Dataset<?> dataset) {
        transformSchema(dataset.schema(), true);
        Normalizer n = normalizer();
        UserDefinedFunction f = functions.udf((UDF1<byte[], org.apache.spark.ml.linalg.Vector>) b -> {
            float[] out = new float[b.length];
            n.apply(b, 0, out, 0, 1, b.length);
            double[] d = new double[out.length];
            for (int i = 0; i < d.length; i++) d[i] = out[i];
            return Vectors.dense(d);
        }, SQLDataTypes.VectorType());
        return dataset.withColumn($(outputCol), f.apply(functions.col($(inputCol))));
    }

    static StructType outputSchema(StructType schema, String in, String out) {
        if (!java.util.Arrays.asList(schema.fieldNames()).contains(in)) {
            throw new IllegalArgumentException("column '" + in + "' not found; columns are " + java.util.Arrays.toString(schema.fieldNames()));
        }
        if (!(schema.apply(in).dataType() instanceof BinaryType$)) {
            throw new IllegalArgumentException("column '" + in + "' must be binary (CHW image bytes), found " + schema.apply(in).dataType());
        }
        return schema.add(out, SQLDataTypes.VectorType(), false);
    }

    @Override public StructType transformSchema(StructType schema) { return outputSchema(schema, $(inputCol), $(outputCol)); }

    @Override public ImageNormalizerModel copy(ParamMap extra) {
        return copyValues(new ImageNormalizerModel(uid), extra).setParent(parent());
    }

    @Override public String uid() { return uid; }

    public static MLReader<ImageNormalizerModel> read() { return new org.apache.spark.ml.util.DefaultParamsReader<>(); }
}
