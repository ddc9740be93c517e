package io.deepshard.spark.ml;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.transform.Augmenter;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.List;

/**
 * Spark ML {@code Transformer} applying a {@code data.augment} chain to a binary CHW image column, seeded per
 * (seed, epoch, record id) exactly as training does: set {@code epoch} to get that epoch's augmentation.
 * The chain is given in the config's own syntax, e.g. {@code [flip, {type: translate, pixels: 2}]}.
 */
public final class ImageAugmenter extends Transformer implements DefaultParamsWritable {
    private final String uid;
    final Param<String> inputCol;
    final Param<String> outputCol;
    final Param<String> idCol;
    final Param<String> augment;
    final IntArrayParam shape;
    final LongParam seed;
    final IntParam epoch;

    // Spark ML finds params through public no-argument methods (as Scala vals compile to), not fields.
    public Param<String> inputCol() { return inputCol; }
    public Param<String> outputCol() { return outputCol; }
    public Param<String> idCol() { return idCol; }
    public Param<String> augment() { return augment; }
    public IntArrayParam shape() { return shape; }
    public LongParam seed() { return seed; }
    public IntParam epoch() { return epoch; }


    public ImageAugmenter() { this(Identifiable.randomUID("imageAugmenter")); }

    public ImageAugmenter(String uid) {
        this.uid = uid;
        inputCol = new Param<>(this, "inputCol", "binary image column, CHW bytes");
        outputCol = new Param<>(this, "outputCol", "augmented binary image column");
        idCol = new Param<>(this, "idCol", "long record id column (seeds each record's randomness)");
        augment = new Param<>(this, "augment", "augmentation list in data.augment syntax (YAML/JSON)");
        shape = new IntArrayParam(this, "shape", "[channels, height, width]");
        seed = new LongParam(this, "seed", "seed");
        epoch = new IntParam(this, "epoch", "epoch (each epoch augments differently)");
        setDefault(inputCol, "image");
        setDefault(outputCol, "image");
        setDefault(idCol, "id");
        setDefault(augment, "[]");
        setDefault(seed, 42L);
        setDefault(epoch, 0);
    }

    public ImageAugmenter setInputCol(String v) { set(inputCol, v); return this; }
    public ImageAugmenter setOutputCol(String v) { set(outputCol, v); return this; }
    public ImageAugmenter setIdCol(String v) { set(idCol, v); return this; }
    public ImageAugmenter setAugment(String v) { set(augment, v); return this; }
    public ImageAugmenter setShape(int channels, int height, int width) { set(shape, new int[] {channels, height, width}); return this; }
    public ImageAugmenter setSeed(long v) { set(seed, v); return this; }
    public ImageAugmenter setEpoch(int v) { set(epoch, v); return this; }

    /** The core augmenter these parameters describe (validated like a config). */
    public Augmenter augmenter() {
        int[] s = $(shape);
        String yaml = "model: mlp\ndata: {train: fashion-mnist:train, inputShape: [" + s[0] + ", " + s[1] + ", " + s[2]
                + "], numClasses: 2, augment: " + $(augment) + "}\n";
        List<io.deepshard.core.transform.Augmentation> steps = ConfigLoader.parse(yaml, uid + ".augment", List.of()).data().augment();
        return new Augmenter(steps, (Long) $(seed), s[0], s[1], s[2]);
    }

    @Override public Dataset<Row> transform(Dataset<?> dataset) {
        transformSchema(dataset.schema(), true);
        Augmenter a = augmenter();
        if (a.needsColorPca()) throw new IllegalArgumentException("pcaNoise needs the training split's colour statistics: use it in training configs");
        int e = (Integer) $(epoch);
        UserDefinedFunction f = functions.udf((UDF2<byte[], Long, byte[]>) (b, id) -> a.apply(b, id, e), DataTypes.BinaryType);
        return dataset.withColumn($(outputCol), f.apply(functions.col($(inputCol)), functions.col($(idCol))));
    }

    @Override public StructType transformSchema(StructType schema) {
        for (String c : new String[] {$(inputCol), $(idCol)}) {
            if (!java.util.Arrays.asList(schema.fieldNames()).contains(c)) {
                throw new IllegalArgumentException("column '" + c + "' not found; columns are " + java.util.Arrays.toString(schema.fieldNames()));
            }
        }
        if (!isDefined(shape)) throw new IllegalArgumentException("set shape [channels, height, width]");
        return java.util.Arrays.asList(schema.fieldNames()).contains($(outputCol)) ? schema : schema.add($(outputCol), DataTypes.BinaryType, false);
    }

    @Override public ImageAugmenter copy(ParamMap extra) { return defaultCopy(extra); }

    @Override public String uid() { return uid; }

    public static MLReader<ImageAugmenter> read() { return new org.apache.spark.ml.util.DefaultParamsReader<>(); }
}
