package io.deepshard.jobs;

import io.deepshard.core.train.EpochMetrics;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The live view over real HTTP: loopback only by default, the curves and progress as they come in, gone when closed. */
class LiveViewTest {
    static final HttpClient HTTP = HttpClient.newHttpClient();

    static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static EpochMetrics epoch(int e, double acc) {
        return new EpochMetrics(e, 1.0 / e, Double.NaN, Double.NaN, 0.9 / e, acc, 100, 4, 2.0, 50.0, 2.0 * e, false, null, null, 0.01);
    }

    @Test
    void servesTheCurvesSoFarOnLoopbackAndStopsWithTheTraining() throws Exception {
        String base;
        try (LiveView live = TrainJob.liveView("127.0.0.1", 0, "Deepshard train: r1")) {
            assertThat(live.address().getAddress().isLoopbackAddress()).isTrue();
            base = live.url();
            HttpResponse<String> first = get(base);
            assertThat(first.statusCode()).isEqualTo(200);
            assertThat(first.body()).contains("http-equiv=\"refresh\"", "Deepshard train: r1 (live)", "starting").doesNotContain("loss-curve");

            live.onEpoch(epoch(1, 0.61));
            live.onRound(1, 3, 4, 0.4321);
            live.onEpoch(epoch(2, 0.7345));
            live.onRound(2, 1, 4, 0.3456);
            String page = get(base).body();
            assertThat(page).contains("loss-curve", "accuracy-curve", "epoch 3: round 1 of 4 (25%), loss 0.3456", "0.7345");
            String json = get(base + "metrics.json").body();
            assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(json).get("history")).hasSize(2);
            assertThat(get(base + "nope").statusCode()).isEqualTo(404);
        }
        assertThatThrownBy(() -> get(base)).isInstanceOf(ConnectException.class);
    }

    @Test
    void aTakenPortIsAClearUsageError() throws Exception {
        try (LiveView a = TrainJob.liveView("127.0.0.1", 0, "a")) {
            int port = a.address().getPort();
            assertThatThrownBy(() -> TrainJob.liveView("127.0.0.1", port, "b"))
                    .isInstanceOf(io.deepshard.core.config.ConfigException.class)
                    .hasMessageContaining("--live-view").hasMessageContaining("127.0.0.1:" + port).hasMessageContaining("0: any free one");
        }
    }
}
