package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code summary}: no Spark, no data; layers, shapes and counts that add up to the published totals. */
class SummaryJobTest {
    @TempDir Path dir;

    String run(String... args) {
        PrintStream old = System.out;
        var out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            assertThat(Cli.run(new Cli(), args)).isZero();
        } finally {
            System.setOut(old);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void jsonListsEveryLayerWithShapesAndCountsThatAddUp() throws Exception {
        Path c = dir.resolve("m.yaml");
        Files.writeString(c, "model: lenet5\ndata: {inputShape: [1, 28, 28], numClasses: 10}\n"); // no data sources needed
        JsonNode j = new ObjectMapper().readTree(run("summary", c.toString(), "--json"));
        assertThat(j.get("totalParameters").asLong()).isEqualTo(431_080);
        assertThat(j.at("/model/name").asText()).isEqualTo("lenet5");
        assertThat(j.get("layers")).hasSize(7);
        assertThat(j.at("/layers/1/name").asText()).isEqualTo("conv1");
        assertThat(j.at("/layers/1/type").asText()).isEqualTo("ConvolutionLayer");
        assertThat(j.at("/layers/1/outputShape").toString()).isEqualTo("[20,24,24]");
        assertThat(j.at("/layers/1/parameters").asLong()).isEqualTo(520);
        assertThat(j.at("/layers/6/outputShape").toString()).isEqualTo("[10]");
        long sum = 0;
        for (JsonNode l : j.get("layers")) sum += l.get("parameters").asLong();
        assertThat(sum).isEqualTo(431_080);

        JsonNode r = new ObjectMapper().readTree(run("summary", c.toString(), "--json", "--set", "model={name: resnet, depth: 50}",
                "--set", "data.inputShape=[3,224,224]", "--set", "data.numClasses=1000"));
        assertThat(r.get("totalParameters").asLong()).isEqualTo(25_557_032);
        sum = 0;
        for (JsonNode l : r.get("layers")) sum += l.get("parameters").asLong();
        assertThat(sum).isEqualTo(25_557_032);
        assertThat(run("summary", c.toString())).contains("total (trainable)").contains("431,080");
    }

    @Test
    void mergeAndScaleVerticesHaveShapesAndTheCountsAddUp() throws Exception {
        Path c = dir.resolve("m.yaml");
        Files.writeString(c, "model: googlenet\ndata: {inputShape: [3, 224, 224], numClasses: 1000}\n");
        JsonNode g = new ObjectMapper().readTree(run("summary", c.toString(), "--json"));
        assertThat(g.get("totalParameters").asLong()).isEqualTo(6_998_552);
        assertThat(g.at("/model/name").asText()).isEqualTo("inception");
        assertThat(layer(g, "i3a").get("type").asText()).isEqualTo("Merge vertex");
        assertThat(layer(g, "i3a").get("outputShape").toString()).isEqualTo("[256,28,28]");
        assertThat(layer(g, "i5b").get("outputShape").toString()).isEqualTo("[1024,7,7]");
        assertThat(sum(g)).isEqualTo(6_998_552);

        JsonNode r = new ObjectMapper().readTree(run("summary", c.toString(), "--json", "--set", "model={name: resnet, depth: 20}",
                "--set", "data.inputShape=[3,32,32]", "--set", "data.numClasses=10"));
        assertThat(r.get("totalParameters").asLong()).isEqualTo(269_722);
        assertThat(layer(r, "s2b1_zeros").get("type").asText()).isEqualTo("Scale vertex");
        assertThat(layer(r, "s2b1_pad").get("outputShape").toString()).isEqualTo("[32,16,16]");
        assertThat(sum(r)).isEqualTo(269_722);

        JsonNode v = new ObjectMapper().readTree(run("summary", c.toString(), "--json", "--set", "model={name: vgg, small: true}",
                "--set", "data.inputShape=[1,28,28]", "--set", "data.numClasses=10"));
        assertThat(layer(v, "pool4").get("outputShape").toString()).isEqualTo("[512,1,1]");
        assertThat(layer(v, "pool5")).isNull(); // 1×1 is not pooled again
        assertThat(sum(v)).isEqualTo(v.get("totalParameters").asLong()).isEqualTo(14_718_666);
    }

    static JsonNode layer(JsonNode summary, String name) {
        for (JsonNode l : summary.get("layers")) if (l.get("name").asText().equals(name)) return l;
        return null;
    }

    static long sum(JsonNode summary) {
        long n = 0;
        for (JsonNode l : summary.get("layers")) n += l.get("parameters").asLong();
        return n;
    }
}
