package io.deepshard.core.serve;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import io.deepshard.core.config.DataConfig;
import io.deepshard.core.data.ImageDecoder;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code input.json} of a serving bundle: what the network takes and gives, stated so that a client in any language
 * can prepare an image exactly as training did. Written by {@code export} from the data settings training used
 * ({@code data.inputShape}, {@code data.resize}, {@code data.normalization}); the Java API decodes with
 * {@link #decoder()}. The per-channel mean and std of the normalization are in {@code normalizer.json}.
 *
 * @param formatVersion  version of the bundle layout ({@value #FORMAT_VERSION}); a loader refuses newer ones
 * @param channels       1 (grey) or 3 (RGB)
 * @param height         height the image is resized to
 * @param width          width the image is resized to
 * @param colorMode      {@code rgb} or {@code grey}
 * @param layout         how the pixels are laid out in the network's input row
 * @param decoding       how encoded images become pixels
 * @param resize         {@code stretch}, {@code center-crop}, {@code pad} or {@code none} (see {@link ImageDecoder})
 * @param interpolation  the resampling used by resize
 * @param normalization  {@code standardize}, {@code minmax}, {@code scale} or {@code none}
 * @param formula        what the normalization computes per pixel value
 * @param output         {@code classifier} (one class per image) or {@code segmentation} (one class per pixel)
 * @param outputShape    the network's output per image: {@code [classes]} or {@code [classes, height, width]}, softmax over classes
 * @param trainingFormat {@code data.format} of the training data ({@code auto}: decided when read)
 */
@JsonIgnoreProperties(ignoreUnknown = true) // fields added by a later minor version are informative
public record InputSpec(int formatVersion, int channels, int height, int width, String colorMode, String layout, String decoding,
                        String resize, String interpolation, String normalization, String formula, String output, int[] outputShape,
                        String trainingFormat) {
    public static final int FORMAT_VERSION = 1;
    public static final String CLASSIFIER = "classifier";
    public static final String SEGMENTATION = "segmentation";

    public InputSpec {
        var problems = new ArrayList<String>();
        if (formatVersion < 1 || formatVersion > FORMAT_VERSION) {
            problems.add("formatVersion is " + formatVersion + ", this Deepshard reads 1.." + FORMAT_VERSION + " (a newer Deepshard wrote it)");
        }
        if (channels != 1 && channels != 3) problems.add("channels must be 1 or 3, found " + channels);
        if (height < 1 || width < 1) problems.add("height and width must be positive, found " + height + "x" + width);
        if (!ImageDecoder.RESIZE_MODES.contains(resize)) problems.add("resize must be one of " + ImageDecoder.RESIZE_MODES + ", found " + resize);
        if (!CLASSIFIER.equals(output) && !SEGMENTATION.equals(output)) {
            problems.add("output must be " + CLASSIFIER + " or " + SEGMENTATION + ", found " + output);
        }
        if (outputShape == null || outputShape.length != (SEGMENTATION.equals(output) ? 3 : 1)) {
            problems.add("outputShape must be [classes] for a classifier, [classes, height, width] for segmentation, found "
                    + Arrays.toString(outputShape));
        }
        if (!problems.isEmpty()) throw new IllegalArgumentException("input.json: " + String.join("; ", problems));
        outputShape = outputShape.clone();
    }

    /** The spec of a network trained on {@code data}; {@code segmentation} for per-pixel models. */
    public static InputSpec of(DataConfig data, boolean segmentation) {
        int k = data.numClasses();
        return new InputSpec(FORMAT_VERSION, data.channels(), data.height(), data.width(), data.channels() == 3 ? "rgb" : "grey",
                "one row of channels*height*width float32 values: channel planes (R, G, B or grey), each row-major",
                ImageDecoder.DECODING, data.resize(), "bilinear", data.normalization(),
                "(pixel / 255 - mean[c]) / std[c], per channel c; mean and std in normalizer.json",
                segmentation ? SEGMENTATION : CLASSIFIER, segmentation ? new int[] {k, data.height(), data.width()} : new int[] {k},
                data.format());
    }

    public boolean segmentation() { return SEGMENTATION.equals(output); }

    public int numClasses() { return outputShape[0]; }

    /** Values per image in the network's input row. */
    public int exampleSize() { return channels * height * width; }

    /** The decoder training used for these settings. */
    public ImageDecoder decoder() { return new ImageDecoder(channels, height, width, resize); }

    /** {@code 3x32x32 rgb, resize stretch, normalization standardize, classifier of 10 classes}. */
    public String describe() {
        return channels + "x" + height + "x" + width + " " + colorMode + ", resize " + resize + ", normalization " + normalization + ", "
                + (segmentation() ? "segmentation (a class per pixel) of " : "classifier of ") + numClasses() + " classes";
    }

    @Override public int[] outputShape() { return outputShape.clone(); }

    @Override public boolean equals(Object o) {
        return o instanceof InputSpec s && formatVersion == s.formatVersion && channels == s.channels && height == s.height
                && width == s.width && colorMode.equals(s.colorMode) && layout.equals(s.layout) && decoding.equals(s.decoding)
                && resize.equals(s.resize) && interpolation.equals(s.interpolation) && normalization.equals(s.normalization)
                && formula.equals(s.formula) && output.equals(s.output) && Arrays.equals(outputShape, s.outputShape)
                && trainingFormat.equals(s.trainingFormat);
    }

    @Override public int hashCode() { return List.of(channels, height, width, resize, output).hashCode() * 31 + Arrays.hashCode(outputShape); }

    @Override public String toString() { return "InputSpec[" + describe() + "]"; }
}
