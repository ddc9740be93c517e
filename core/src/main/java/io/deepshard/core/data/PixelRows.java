package io.deepshard.core.data;

/**
 * CSV pixel rows ({@code label,pixel0,pixel1,...}, the Kaggle MNIST layout): one record per line, pixels as integers
 * 0..255 in CHW order. A header line (first field not a number) is recognized by the caller and skipped.
 */
public final class PixelRows {
    private PixelRows() {}

    public static boolean isHeader(String line) {
        int comma = line.indexOf(',');
        String first = (comma < 0 ? line : line.substring(0, comma)).trim();
        return !first.isEmpty() && !first.matches("-?\\d+");
    }

    /** Parses one row; {@code source} names it in errors (file and line). */
    public static Decoded parse(String line, long id, String source, int exampleSize, int numClasses) {
        String[] f = line.split(",", -1);
        if (f.length != exampleSize + 1) {
            return Decoded.bad(new BadRecord(id, source, BadRecord.Reason.SIZE_MISMATCH,
                    "row has " + (f.length - 1) + " pixel values, expected " + exampleSize + " (data.inputShape)"));
        }
        int label;
        try {
            label = Integer.parseInt(f[0].trim());
        } catch (NumberFormatException e) {
            return Decoded.bad(new BadRecord(id, source, BadRecord.Reason.BAD_VALUE, "label '" + f[0] + "' is not an integer"));
        }
        if (label < 0 || label >= numClasses) {
            return Decoded.bad(new BadRecord(id, source, BadRecord.Reason.LABEL_OUT_OF_RANGE,
                    "label " + label + " is outside [0, " + numClasses + ") (data.numClasses = " + numClasses + ")"));
        }
        byte[] px = new byte[exampleSize];
        for (int i = 0; i < exampleSize; i++) {
            String v = f[i + 1].trim();
            int x;
            try {
                x = Integer.parseInt(v);
            } catch (NumberFormatException e) {
                return Decoded.bad(new BadRecord(id, source, v.matches("(?i)[+-]?(nan|inf|infinity)") ? BadRecord.Reason.NON_FINITE
                        : BadRecord.Reason.BAD_VALUE, "pixel " + i + " is '" + v + "', not an integer 0..255"));
            }
            if (x < 0 || x > 255) {
                return Decoded.bad(new BadRecord(id, source, BadRecord.Reason.BAD_VALUE, "pixel " + i + " is " + x + ", outside 0..255"));
            }
            px[i] = (byte) x;
        }
        return Decoded.ok(new ImageRecord(id, label, px));
    }
}
