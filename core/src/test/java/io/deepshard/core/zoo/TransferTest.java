package io.deepshard.core.zoo;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.config.TransferSpec;
import io.deepshard.core.data.BatchPlan;
import io.deepshard.core.data.Shard;
import io.deepshard.core.train.NetworkPool;
import io.deepshard.core.train.NetworkState;
import io.deepshard.core.train.RoundResult;
import io.deepshard.core.train.TrainingRecipe;
import io.deepshard.core.train.Worker;
import io.deepshard.core.transform.Normalizer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Transfer learning on the network level: which layers freeze, the new head's shape, frozen parameters bit-identical
 * through rounds of two workers with unequal example counts (whose weighted average alone would not return them
 * exactly), and the unfrozen second-phase network.
 */
class TransferTest {
    static final DeepshardConfig SOURCE = ConfigLoader.parse("""
            model: {name: mlp, hidden: [8, 6], batchNorm: true}
            data: {train: fashion-mnist:train, inputShape: [1, 4, 5], numClasses: 3}
            training: {seed: 2, batchSize: 8, averagingFrequency: 3, optimizer: {type: sgd, learningRate: 0.01}}
            """, "source", List.of());
    static final DeepshardConfig TARGET = ConfigLoader.parse("""
            model: {name: mlp, hidden: [8, 6], batchNorm: true}
            data: {train: fashion-mnist:train, inputShape: [1, 4, 5], numClasses: 2}
            training: {seed: 5, batchSize: 8, averagingFrequency: 3, optimizer: {type: adam, learningRate: 0.01}}
            """, "target", List.of());

    static List<io.deepshard.core.data.ImageRecord> records(int n, int base, long seed) {
        Random r = new Random(seed);
        var out = new ArrayList<io.deepshard.core.data.ImageRecord>();
        for (int i = 0; i < n; i++) {
            byte[] px = new byte[20];
            for (int k = 0; k < 20; k++) px[k] = (byte) (base + r.nextInt(60));
            out.add(new io.deepshard.core.data.ImageRecord(i, r.nextInt(2), px));
        }
        return out;
    }

    static float[] params(ComputationGraph net, String layer) {
        var p = net.getLayer(layer).params();
        return p == null ? new float[0] : p.toFloatVector();
    }

    static ComputationGraph source() { return NetworkFactory.create(SOURCE.model(), SOURCE.data(), SOURCE.training()); }

    static TransferSpec spec(int freeze, String upTo) { return new TransferSpec("x", freeze, upTo, 0, 0.1); }

    @Test
    void choosesTheLayersToFreeze() {
        ComputationGraph src = source();
        List<String> names = Transfer.layerNames(src);
        assertThat(Transfer.head(src)).isEqualTo(ZooModel.OUTPUT).isEqualTo(names.get(names.size() - 1));
        assertThat(Transfer.layersToFreeze(src, spec(2, null))).isEqualTo(names.subList(0, 2));
        assertThat(Transfer.layersToFreeze(src, spec(-1, names.get(1)))).isEqualTo(names.subList(0, 2));
        assertThat(Transfer.layersToFreeze(src, spec(-1, null))).isEqualTo(names.subList(0, names.size() - 1));
        assertThatThrownBy(() -> Transfer.layersToFreeze(src, spec(-1, "nope"))).hasMessageContaining("no layer 'nope'")
                .hasMessageContaining(names.get(0));
        assertThatThrownBy(() -> Transfer.layersToFreeze(src, spec(names.size(), null))).hasMessageContaining("would freeze the output head");
        assertThatThrownBy(() -> Transfer.layersToFreeze(src, spec(-1, ZooModel.OUTPUT))).hasMessageContaining("output head");
    }

    @Test
    void frozenParametersStayBitIdenticalThroughAveragedRoundsAndTheHeadIsNew() {
        ComputationGraph src = source();
        List<String> names = Transfer.layerNames(src);
        List<String> frozenNames = names.subList(0, 3);
        Transfer.Prepared p = Transfer.prepare(src, spec(3, null), 2, TARGET.training(), 5);
        ComputationGraph net = p.network();
        assertThat(p.frozen()).isEqualTo(frozenNames);
        assertThat(net.getLayer(p.head()).getParam("W").shape()).containsExactly(6, 2);
        assertThat(net.getLayer(p.head()).getParam("b").length()).isEqualTo(2);
        for (String n : frozenNames) assertThat(params(net, n)).isEqualTo(params(src, n));
        int[] ranges = Transfer.frozenParamRanges(net);
        assertThat(ranges).hasSize(2 * (int) frozenNames.stream().filter(n -> net.getLayer(n).numParams() > 0).count());

        var recipe = new TrainingRecipe(net.getConfiguration().toJson(), Normalizer.fixed("scale", 1), 2, new BatchPlan(40, 2, 8, 3), 7L, ranges, "auto");
        NetworkState state = NetworkState.of(net);
        for (int round = 0; round < 3; round++) {
            ComputationGraph a = NetworkPool.build(recipe.graphJson(), "auto"), b = NetworkPool.build(recipe.graphJson(), "auto");
            state.loadInto(a);
            state.loadInto(b);
            // 24 and 16 examples: Σ nᵢ·x / Σ nᵢ in float is not always x
            RoundResult r = Worker.train(a, recipe, Shard.of(0, records(24, 100, round), 20), round)
                    .merge(Worker.train(b, recipe, Shard.of(1, records(16, 30, 10 + round), 20), round));
            state = r.average(state, state.iteration() + 3, 0).keeping(ranges, state);
        }
        state.loadInto(net);
        for (String n : frozenNames) {
            assertThat(params(net, n)).as(n).isEqualTo(params(src, n));
        }
        // the trainable layers did train
        String trainable = names.stream().skip(3).filter(n -> net.getLayer(n).numParams() > 0).findFirst().orElseThrow();
        assertThat(params(net, trainable)).isNotEqualTo(params(src, trainable));

        ComputationGraph open = Transfer.unfreeze(net, TARGET.training().updater(5));
        assertThat(Transfer.frozenParamRanges(open)).isEmpty();
        assertThat(open.params().toFloatVector()).isEqualTo(net.params().toFloatVector());
        assertThat(open.getUpdater(true).getStateViewArray().length()).isGreaterThan(net.getUpdater(true).getStateViewArray().length());
    }

    @Test
    void aUNetGetsANewPerPixelHeadBeforeItsLossLayer() {
        DeepshardConfig seg = ConfigLoader.parse("""
                model: {name: unet, base: 4, depth: 2}
                data: {train: shapes-segmentation:train, inputShape: [3, 16, 16], numClasses: 4}
                training: {seed: 1, optimizer: {type: adam, learningRate: 0.01}}
                """, "unet", List.of());
        ComputationGraph src = NetworkFactory.create(seg.model(), seg.data(), seg.training());
        String head = Transfer.head(src);
        assertThat(head).isNotEqualTo(ZooModel.OUTPUT);   // the output is a parameter-free per-pixel loss layer
        Transfer.Prepared p = Transfer.prepare(src, spec(-1, null), 3, seg.training(), 1);
        assertThat(p.head()).isEqualTo(head);
        assertThat(p.frozen()).hasSize(Transfer.layerNames(src).indexOf(head));
        var out = p.network().outputSingle(org.nd4j.linalg.factory.Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 3 * 16 * 16));
        assertThat(out.shape()).containsExactly(2, 3, 16, 16);
    }
}
