package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.data.SyntheticImages;
import org.apache.commons.io.FileUtils;
import org.apache.hadoop.conf.Configuration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code transfer}: a model trained on three shapes (circle, square, triangle) fine-tuned on two others (cross, ring).
 * Frozen layers come out bit-identical to the source's, the head has the new class count, the second (unfrozen) phase
 * does change the first layers, and a transfer resumed after its first phase skips it and ends with the same parameters.
 */
class TransferIT {
    @TempDir static Path dir;
    static Path source;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void trainTheSource() throws Exception {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        Configuration conf = new Configuration();
        SyntheticImages.write(conf, dir.resolve("three").toString(), "split", new SyntheticImages.Spec(3, 16, 16, 7), 40, 20);
        // the new task: shapes 4 and 5 of the generator (its first three classes removed)
        SyntheticImages.write(conf, dir.resolve("two").toString(), "split", new SyntheticImages.Spec(5, 16, 16, 11), 30, 15);
        for (String split : new String[] {"train", "test"}) {
            for (String c : SyntheticImages.classNames(3)) FileUtils.deleteDirectory(dir.resolve("two").resolve(split).resolve(c).toFile());
        }
        source = dir.resolve("source");
        Path c = dir.resolve("source.yaml");
        Files.writeString(c, """
                model: {name: mlp, hidden: [32, 16]}
                data: {train: %s, test: %s, imageSize: [16, 16], channels: 3, numClasses: 3}
                training: {workers: 2, batchSize: 8, epochs: 3, seed: 3, optimizer: {type: adam, learningRate: 0.003}}
                output: %s
                """.formatted(dir.resolve("three/train"), dir.resolve("three/test"), source));
        TrainJobIT.Run r = TrainJobIT.run("train", c.toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(0);
    }

    @AfterAll
    static void clear() { System.clearProperty("spark.master"); }

    static Path config(String name, String transfer, String run) throws Exception {
        Path c = dir.resolve(name + ".yaml");
        Files.writeString(c, """
                transfer: %s
                data: {train: %s, test: %s, imageSize: [16, 16], channels: 3, numClasses: 2}
                training: {workers: 2, batchSize: 8, epochs: 8, seed: 5, optimizer: {type: adam, learningRate: 0.01}}
                output: %s
                """.formatted(transfer, dir.resolve("two/train"), dir.resolve("two/test"), run));
        return c;
    }

    static float[] params(ComputationGraph net, String layer) { return net.getLayer(layer).params().toFloatVector(); }

    @Test
    void frozenLayersStayBitIdenticalAndTheHeadFitsTheNewClasses() throws Exception {
        Path run = dir.resolve("head-only");
        TrainJobIT.Run r = TrainJobIT.run("transfer", config("head", "{from: %s, freezeUpTo: dense1}".formatted(source), run.toString()).toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(0);
        assertThat(r.out()).contains("frozen: dense1", "head 'output' new with 2 outputs", "normalization (the source model's)");

        var conf = new Configuration();
        ModelBundle src = ModelBundle.load(conf, source.toString()), out = ModelBundle.load(conf, run.toString());
        assertThat(params(out.network(), "dense1")).isEqualTo(params(src.network(), "dense1"));
        assertThat(params(out.network(), "dense2")).isNotEqualTo(params(src.network(), "dense2"));
        assertThat(out.network().getLayer("output").getParam("W").shape()).containsExactly(16, 2);
        assertThat(out.labels()).containsExactly("cross", "ring");
        assertThat(out.normalizer()).isEqualTo(src.normalizer());
        assertThat(out.configYaml()).contains("from: " + source);
        JsonNode prov = JSON.valueToTree(out.provenance());
        assertThat(prov.at("/transfer/frozenLayers").toString()).isEqualTo("[\"dense1\"]");
        assertThat(prov.at("/transfer/sourceLabels").toString()).isEqualTo("[\"circle\",\"square\",\"triangle\"]");
        // the new head learns the new classes on the frozen features (60 images: the training loss, not accuracy, is the signal)
        JsonNode history = JSON.readTree(run.resolve("metrics.json").toFile()).get("history");
        assertThat(history.get(history.size() - 1).get("trainLoss").asDouble()).isLessThan(0.6 * history.get(0).get("trainLoss").asDouble());
    }

    @Test
    void theUnfrozenPhaseTrainsEverythingAndResumesAfterTheFrozenPhase() throws Exception {
        Path run = dir.resolve("two-phase");
        Path c = config("phases", "{from: %s, freeze: 2, unfreeze: {epochs: 2, learningRateFactor: 0.1}}".formatted(source), run.toString());
        TrainJobIT.Run r = TrainJobIT.run("transfer", c.toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(0);
        assertThat(r.out()).contains("phase 1", "phase 2: every layer trainable, learning rate 0.001, 2 epoch(s)");

        var conf = new Configuration();
        ModelBundle src = ModelBundle.load(conf, source.toString());
        ModelBundle frozen = ModelBundle.load(conf, run.resolve("frozen").toString());
        ModelBundle done = ModelBundle.load(conf, run.toString());
        for (String l : new String[] {"dense1", "dense2"}) assertThat(params(frozen.network(), l)).as(l).isEqualTo(params(src.network(), l));
        assertThat(params(done.network(), "dense1")).isNotEqualTo(params(frozen.network(), "dense1"));
        assertThat(io.deepshard.core.zoo.Transfer.frozenParamRanges(done.network())).isEmpty();
        assertThat(done.configYaml()).contains("learningRate: 0.001").contains("epochs: 2");
        assertThat(JSON.valueToTree(done.provenance()).at("/transfer/phase").asText()).isEqualTo("unfrozen");

        // interrupted after phase 1: the resumed transfer does not train it again and ends where the whole run ended
        float[] finished = done.network().params().toFloatVector();
        FileUtils.deleteDirectory(run.resolve("model").toFile());
        TrainJobIT.Run again = TrainJobIT.run("transfer", c.toString());
        assertThat(again.exit()).isEqualTo(2);
        assertThat(again.err()).contains("first phase of an unfinished transfer", "--resume");
        TrainJobIT.Run resumed = TrainJobIT.run("transfer", c.toString(), "--resume");
        assertThat(resumed.exit()).as(resumed.err()).isEqualTo(0);
        assertThat(resumed.out()).contains("phase 1 (frozen layers) already trained").doesNotContain("phase 1: train");
        assertThat(ModelBundle.load(conf, run.toString()).network().params().toFloatVector()).isEqualTo(finished);
    }

    @Test
    void badConfigsFailBeforeSparkStarts() throws Exception {
        TrainJobIT.Run r = TrainJobIT.run("transfer", config("nosrc", "{from: %s}".formatted(dir.resolve("nope")), dir.resolve("x").toString()).toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("transfer.from", "no model bundle at " + dir.resolve("nope"));

        r = TrainJobIT.run("transfer", config("badlayer", "{from: %s, freezeUpTo: conv9}".formatted(source), dir.resolve("x").toString()).toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("no layer 'conv9'", "[dense1, dense2, output]");

        r = TrainJobIT.run("transfer", config("toomany", "{from: %s, freeze: 3}".formatted(source), dir.resolve("x").toString()).toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("would freeze the output head 'output'");

        r = TrainJobIT.run("transfer", config("shape", "{from: %s}".formatted(source), dir.resolve("x").toString()).toString(),
                "--set", "data.imageSize=[12,12]");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("data.inputShape: the source model takes [3, 16, 16], found [3, 12, 12]");

        r = TrainJobIT.run("train", config("viaTrain", "{from: %s}".formatted(source), dir.resolve("x").toString()).toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("deepshard transfer");
        assertThat(dir.resolve("x")).doesNotExist();
    }
}
