package io.deepshard.core.zoo;

import io.deepshard.core.config.DataConfig;
import io.deepshard.core.config.TrainingConfig;
import io.deepshard.core.train.OneDnnHelpers;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.graph.ComputationGraph;

/** Builds the DL4J network of a zoo model for a dataset shape and the training settings (seed, optimizer, L2). */
public final class NetworkFactory {
    private NetworkFactory() {}

    public static ComputationGraphConfiguration configuration(ZooModel model, DataConfig data, TrainingConfig training) {
        return configuration(model, data, training, 1);
    }

    /** With the learning-rate schedule resolved for {@code stepsPerEpoch} optimizer steps per epoch. */
    public static ComputationGraphConfiguration configuration(ZooModel model, DataConfig data, TrainingConfig training, int stepsPerEpoch) {
        int[] s = data.inputShape();
        var g = new NeuralNetConfiguration.Builder()
                .seed(training.seed())
                .updater(training.updater(stepsPerEpoch))
                .l1(training.l1())
                .l2(training.l2())
                .weightDecay(training.optimizer().weightDecay(), true) // adamw's decoupled decay (0 otherwise)
                .gradientNormalization(switch (training.clipBy()) {
                    case "norm" -> org.deeplearning4j.nn.conf.GradientNormalization.ClipL2PerLayer;
                    case "value" -> org.deeplearning4j.nn.conf.GradientNormalization.ClipElementWiseAbsoluteValue;
                    default -> org.deeplearning4j.nn.conf.GradientNormalization.None;
                })
                .gradientNormalizationThreshold(training.clipThreshold())
                .trainingWorkspaceMode(WorkspaceMode.ENABLED)
                .inferenceWorkspaceMode(WorkspaceMode.ENABLED)
                .graphBuilder()
                .addInputs(ZooModel.INPUT)
                .setInputTypes(inputType(model, data));
        model.addLayers(g, s, data.numClasses());
        ComputationGraphConfiguration conf = g.setOutputs(ZooModel.OUTPUT).build();
        dedupeRegularization(conf);
        applyLoss(conf, training);
        applyWeightInit(conf, training);
        return conf;
    }

    /**
     * {@code training.loss} and {@code training.outputActivation} replace the output layer's (softmax cross-entropy in
     * every zoo model). Left untouched for the default, so the zoo's layers stay exactly as written.
     */
    static void applyLoss(ComputationGraphConfiguration conf, TrainingConfig training) {
        if (training.loss().equals("cross-entropy") && training.outputActivation().equals("softmax")) return;
        var v = conf.getVertices().get(ZooModel.OUTPUT);
        if (!(v instanceof org.deeplearning4j.nn.conf.graph.LayerVertex lv)) {
            throw new IllegalStateException("the model has no output layer named " + ZooModel.OUTPUT);
        }
        org.nd4j.linalg.lossfunctions.ILossFunction loss = switch (training.loss()) {
            case "binary-cross-entropy" -> new org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT();
            case "mse" -> new org.nd4j.linalg.lossfunctions.impl.LossMSE();
            case "mae" -> new org.nd4j.linalg.lossfunctions.impl.LossMAE();
            default -> new org.nd4j.linalg.lossfunctions.impl.LossMCXENT();
        };
        org.nd4j.linalg.activations.IActivation act = switch (training.outputActivation()) {
            case "sigmoid" -> new org.nd4j.linalg.activations.impl.ActivationSigmoid();
            case "identity" -> new org.nd4j.linalg.activations.impl.ActivationIdentity();
            default -> new org.nd4j.linalg.activations.impl.ActivationSoftmax();
        };
        var layer = lv.getLayerConf().getLayer();
        if (layer instanceof org.deeplearning4j.nn.conf.layers.BaseOutputLayer o) {
            o.setLossFn(loss);
            o.setActivationFn(act);
        } else if (layer instanceof org.deeplearning4j.nn.conf.layers.CnnLossLayer c) {
            c.setLossFn(loss);
            c.setActivationFn(act);
        } else {
            throw new IllegalStateException("cannot set the loss of output layer type " + layer.getClass().getSimpleName());
        }
    }

    /** {@code training.weightInit} other than {@code model}: the same rule for every layer that has weights. */
    static void applyWeightInit(ComputationGraphConfiguration conf, TrainingConfig training) {
        if (training.weightInit().isModelDefault()) return;
        var init = training.weightInit().toDl4j();
        for (var v : conf.getVertices().values()) {
            if (v instanceof org.deeplearning4j.nn.conf.graph.LayerVertex lv
                    && lv.getLayerConf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer bl
                    && !(bl instanceof org.deeplearning4j.nn.conf.layers.BatchNormalization) && bl.getWeightInitFn() != null) {
                bl.setWeightInitFn(init);
            }
        }
    }

    /**
     * DL4J 1.0.0-M2.1 copies a global {@code weightDecay} into every layer twice, so weights decayed at twice the
     * configured rate (measured: -0.010·W per step for lr 0.1 × decay 0.05). Identical entries are removed.
     */
    static void dedupeRegularization(ComputationGraphConfiguration conf) {
        for (var v : conf.getVertices().values()) {
            if (v instanceof org.deeplearning4j.nn.conf.graph.LayerVertex lv
                    && lv.getLayerConf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer bl) {
                if (bl.getRegularization() != null) {
                    bl.setRegularization(new java.util.ArrayList<>(new java.util.LinkedHashSet<>(bl.getRegularization())));
                }
                if (bl.getRegularizationBias() != null) {
                    bl.setRegularizationBias(new java.util.ArrayList<>(new java.util.LinkedHashSet<>(bl.getRegularizationBias())));
                }
            }
        }
    }

    /** Examples travel flat (C*H*W, CHW order); conv models get the reshape as a preprocessor. */
    public static InputType inputType(ZooModel model, DataConfig data) {
        int[] s = data.inputShape();
        return model instanceof Mlp ? InputType.feedForward(data.exampleSize()) : InputType.convolutionalFlat(s[1], s[2], s[0]);
    }

    /** A new, initialized network (parameters drawn with the training seed). */
    public static ComputationGraph create(ZooModel model, DataConfig data, TrainingConfig training) {
        return create(model, data, training, 1);
    }

    public static ComputationGraph create(ZooModel model, DataConfig data, TrainingConfig training, int stepsPerEpoch) {
        ComputationGraphConfiguration conf = configuration(model, data, training, stepsPerEpoch);
        return OneDnnHelpers.build(training.engine(), () -> {
            ComputationGraph net = new ComputationGraph(conf);
            net.init();
            return net;
        });
    }
}
