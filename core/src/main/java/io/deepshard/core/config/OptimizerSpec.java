package io.deepshard.core.config;

import org.nd4j.linalg.learning.config.AdaGrad;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.RmsProp;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.schedule.ISchedule;

import java.io.Serializable;
import java.util.List;

/**
 * The optimizer ({@code training.optimizer}). {@code momentum} applies to momentum (heavy ball) and nesterov, {@code beta1/beta2} to adam and
 * adamw, {@code rmsDecay} to rmsprop, {@code epsilon} to adam, adamw, rmsprop and adagrad, {@code weightDecay} to
 * adamw: Adam with decoupled weight decay (Loshchilov and Hutter 2019), {@code w -= lr * weightDecay * w} after the
 * Adam step, on weights, not biases.
 */
public record OptimizerSpec(String type, double learningRate, double momentum, double beta1, double beta2,
                            double rmsDecay, double epsilon, double weightDecay) implements Serializable {
    public static final List<String> TYPES = List.of("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad");

    static OptimizerSpec from(Section s) {
        String type = s.choice("type", "nesterov", TYPES);
        double lr = s.doubleValue("learningRate", 0.01, x -> x > 0 && x <= 10, "in (0, 10]");
        double momentum = s.doubleValue("momentum", 0.9, x -> x >= 0 && x < 1, "in [0, 1)");
        double beta1 = s.doubleValue("beta1", 0.9, x -> x >= 0 && x < 1, "in [0, 1)");
        double beta2 = s.doubleValue("beta2", 0.999, x -> x >= 0 && x < 1, "in [0, 1)");
        double rmsDecay = s.doubleValue("rmsDecay", 0.95, x -> x > 0 && x < 1, "in (0, 1)");
        double eps = s.doubleValue("epsilon", 1e-8, x -> x > 0 && x < 1, "in (0, 1)");
        double wd = s.doubleValue("weightDecay", "adamw".equals(type) ? 0.01 : 0.0, x -> x >= 0 && x < 1, "in [0, 1)");
        if (wd > 0 && !"adamw".equals(type)) {
            s.errors().add(s.keyPath("weightDecay"), "applies to adamw only (use training.l2 for coupled L2), found " + wd);
        }
        s.finish();
        return new OptimizerSpec(type, lr, momentum, beta1, beta2, rmsDecay, eps, wd);
    }

    /** The DL4J updater; its state (momentum, moments) is what the averaging rounds average alongside parameters. */
    public IUpdater toUpdater(ISchedule lr) {
        return switch (type) {
            case "sgd" -> new Sgd(lr);
            case "momentum" -> new io.deepshard.core.train.Momentum(learningRate, lr, momentum);
            case "nesterov" -> new Nesterovs(lr, momentum);
            case "adam", "adamw" -> Adam.builder().learningRateSchedule(lr).beta1(beta1).beta2(beta2).epsilon(epsilon).build();
            case "rmsprop" -> {
                RmsProp r = new RmsProp(lr);
                r.setRmsDecay(rmsDecay);
                r.setEpsilon(epsilon);
                yield r;
            }
            case "adagrad" -> {
                // ND4J's AdaGrad loses its schedule when cloned, and its schedule constructor makes the state NaN
                yield new io.deepshard.core.train.ScheduledAdaGrad(learningRate, lr, epsilon);
            }
            default -> throw new IllegalStateException("unvalidated optimizer type " + type);
        };
    }
}
