package io.deepshard.core.zoo;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * A model of the zoo: a small, serializable recipe (its options only) that adds its layers to a DL4J graph.
 * Executors receive the recipe and build the network themselves, once.
 *
 * <p>Contract: the graph has one input named {@value #INPUT} fed with flat examples of
 * {@code channels*height*width} values in CHW order, and ends in an output layer named {@value #OUTPUT}: class
 * probabilities {@code [n, classes]}, or for {@link #segmentation()} models {@code [n, classes, H, W]}.
 */
public interface ZooModel extends Serializable {
    String INPUT = "input";
    String OUTPUT = "output";

    /** The zoo name, e.g. {@code lenet5}. */
    String name();

    /** Name and options, as written into the resolved config and provenance. */
    Map<String, Object> describe();

    /** Adds the layers from {@link #INPUT} to {@link #OUTPUT}; input types are already set on the builder. */
    void addLayers(GraphBuilder graph, int[] inputShape, int numClasses);

    /**
     * True for models that predict a class per pixel: their output is {@code [n, classes, H, W]} and they train on
     * segmentation data (images with masks). Classifiers predict one class per image.
     */
    default boolean segmentation() { return false; }

    /** Why this model cannot take inputs of shape {@code [C, H, W]} (empty when it can); reported as config errors. */
    default List<String> inputShapeProblems(int[] inputShape) { return List.of(); }
}
