package io.deepshard.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code bench-rounds} runs real averaging rounds on local[2] and reports a row the cost model can use: the model's
 * real size, a round split into compute and overhead that add up, and every timed part present and positive.
 */
class RoundsBenchJobIT {
    @BeforeAll
    static void local() {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
    }

    @AfterAll
    static void clear() { System.clearProperty("spark.master"); }

    @Test
    void reportsTheRoundOverheadOfLeNet5AndItsParts() throws Exception {
        var r = TrainJobIT.run("bench-rounds", "--models", "lenet5", "--rounds", "8", "--warmup", "3");
        assertThat(r.exit()).as(r.err()).isEqualTo(0);
        String line = r.out().lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow();
        JsonNode row = new ObjectMapper().readTree(line);
        assertThat(row.get("row").asText()).isEqualTo("lenet5");
        assertThat(row.get("master").asText()).isEqualTo("local[2]");
        assertThat(row.get("workers").asInt()).isEqualTo(2);
        assertThat(row.get("parameters").asInt()).isEqualTo(431_080);          // the published LeNet-5 (conv20/50, fc500)
        assertThat(row.get("updaterValues").asInt()).isEqualTo(431_080);       // Nesterov: one momentum value each
        assertThat(row.get("stateMB").asDouble()).isCloseTo(3.449, within(0.001));
        assertThat(row.get("rounds").asInt()).isEqualTo(5);
        assertThat(row.get("computeSeconds").asDouble()).isPositive();
        assertThat(row.get("overheadSeconds").asDouble()).isPositive()
                .isLessThanOrEqualTo(row.get("overheadP90Seconds").asDouble());
        for (String part : new String[] {"emptyJobSeconds", "loadSeconds", "extractSeconds", "serializeResultSeconds",
                "deserializeResultSeconds", "serializeStateSeconds"}) {
            assertThat(row.get(part).asDouble()).as(part).isPositive();
        }
    }

    @Test
    void refusesAnUnknownModel() {
        var r = TrainJobIT.run("bench-rounds", "--models", "alexnet");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("unknown model 'alexnet'").contains("lenet5, resnet18, vgg16");
    }

    @Test
    void quantilesInterpolate() {
        assertThat(RoundsBenchJob.median(new double[] {3, 1, 2})).isEqualTo(2);
        assertThat(RoundsBenchJob.median(new double[] {4, 1, 2, 3})).isEqualTo(2.5);
        assertThat(RoundsBenchJob.quantile(new double[] {0, 10}, 0.9)).isCloseTo(9, within(1e-12));
    }
}
