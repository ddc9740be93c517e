package io.deepshard.spark.ml;

import io.deepshard.core.transform.ChannelStats;
import io.deepshard.core.transform.Normalizer;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;

/**
 * Spark ML {@code Estimator}: fits per-channel normalization ({@code standardize}, {@code minmax} or {@code scale})
 * on a binary image column with one distributed aggregation, giving an {@link ImageNormalizerModel} that turns the
 * images into normalized float vectors. The same statistics and arithmetic as training
 * ({@link io.deepshard.spark.data.Normalization}).
 */
public final class ImageNormalizer extends Estimator<ImageNormalizerModel> implements DefaultParamsWritable {
    private final String uid;
    final Param<String> inputCol;
    final Param<String> outputCol;
    final Param<String> kind;
    final IntParam channels;

    // Spark ML finds params through public no-argument methods (as Scala vals compile to), not fields.
    public Param<String> inputCol() { return inputCol; }
    public Param<String> outputCol() { return outputCol; }
    public Param<String> kind() { return kind; }
    public IntParam channels() { return channels; }


    public ImageNormalizer() { this(Identifiable.randomUID("imageNormalizer")); }

    public ImageNormalizer(String uid) {
        this.uid = uid;
        inputCol = new Param<>(this, "inputCol", "binary image column, CHW bytes");
        outputCol = new Param<>(this, "outputCol", "normalized float vector column");
        kind = new Param<>(this, "kind", "standardize, minmax or scale",
                ParamValidators.inArray(new String[] {"standardize", "minmax", "scale"}));
        channels = new IntParam(this, "channels", "1 or 3", ParamValidators.inArray(new int[] {1, 3}));
        setDefault(inputCol, "image");
        setDefault(outputCol, "features");
        setDefault(kind, "standardize");
        setDefault(channels, 1);
    }

    public ImageNormalizer setInputCol(String v) { set(inputCol, v); return this; }
    public ImageNormalizer setOutputCol(String v) { set(outputCol, v); return this; }
    public ImageNormalizer setKind(String v) { set(kind, v); return this; }
    public ImageNormalizer setChannels(int v) { set(channels, v); return this; }

    @Override public ImageNormalizerModel fit(Dataset<?> dataset) {
        transformSchema(dataset.schema(), true);
        int c = (Integer) $(channels);
        ChannelStats stats = dataset.select($(inputCol)).javaRDD()
                .treeAggregate(new ChannelStats(c), (s, r) -> s.add((byte[]) ((Row) r).get(0)), ChannelStats::merge);
        Normalizer n = Normalizer.fit($(kind), stats);
        ImageNormalizerModel model = new ImageNormalizerModel(uid, n).setInputCol($(inputCol)).setOutputCol($(outputCol));
        model.setParent(this);
        return model;
    }

    @Override public StructType transformSchema(StructType schema) {
        return ImageNormalizerModel.outputSchema(schema, $(inputCol), $(outputCol));
    }

    @Override public ImageNormalizer copy(ParamMap extra) { return defaultCopy(extra); }

    @Override public String uid() { return uid; }

    public static MLReader<ImageNormalizer> read() { return new org.apache.spark.ml.util.DefaultParamsReader<>(); }
}
