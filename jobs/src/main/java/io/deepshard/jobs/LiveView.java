package io.deepshard.jobs;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.deepshard.core.report.HtmlReport;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.spark.train.TrainingListener;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A live view of a training, served by the driver while it runs ({@code train --live-view [PORT]}): {@code /} is the
 * report's learning curves so far plus the current epoch's progress, refreshing itself every few seconds;
 * {@code /metrics.json} the same as JSON. Bound to 127.0.0.1 unless another address is given (the page shows the
 * config's paths: expose it on purpose only). Stopped when the training ends.
 */
final class LiveView implements TrainingListener, AutoCloseable {
    private final HttpServer server;
    private final String title;
    private final List<EpochMetrics> history = new ArrayList<>();
    private volatile String progress = "starting";
    private final int refreshSeconds;

    LiveView(String host, int port, String title, int refreshSeconds) throws IOException {
        this.title = title;
        this.refreshSeconds = refreshSeconds;
        server = HttpServer.create(new InetSocketAddress(host, port), 0);
        server.createContext("/", this::page);
        server.createContext("/metrics.json", this::json);
        server.setExecutor(null);   // the server's own single thread: a page at a time is plenty
        server.start();
    }

    String url() {
        InetSocketAddress a = server.getAddress();
        String host = a.getAddress().getHostAddress();
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort() + "/";
    }

    InetSocketAddress address() { return server.getAddress(); }

    @Override public void onRound(int epoch, int round, int rounds, double loss) {
        progress = String.format(Locale.ROOT, "epoch %d: round %d of %d (%.0f%%), loss %.4f", epoch + 1, round, rounds, 100.0 * round / rounds, loss);
    }

    @Override public synchronized void onEpoch(EpochMetrics m) {
        history.add(m);
        progress = "epoch " + m.epoch() + " done";
    }

    private synchronized List<EpochMetrics> snapshot() { return List.copyOf(history); }

    private void page(HttpExchange ex) throws IOException {
        if (!ex.getRequestURI().getPath().equals("/")) {
            send(ex, 404, "text/plain", "not found");
            return;
        }
        List<EpochMetrics> h = snapshot();
        var summary = new LinkedHashMap<String, String>();
        summary.put("now", progress);
        summary.put("epochs done", Integer.toString(h.size()));
        if (!h.isEmpty()) {
            EpochMetrics last = h.get(h.size() - 1);
            summary.put("train loss", String.format(Locale.ROOT, "%.4f", last.trainLoss()));
            if (!Double.isNaN(last.validationAccuracy())) summary.put("validation accuracy", String.format(Locale.ROOT, "%.4f", last.validationAccuracy()));
            if (!Double.isNaN(last.testAccuracy())) summary.put("test accuracy", String.format(Locale.ROOT, "%.4f", last.testAccuracy()));
            summary.put("images/s", String.format(Locale.ROOT, "%.0f", last.imagesPerSecond()));
        }
        var report = new HtmlReport(title + " (live)").summary(summary);
        if (!h.isEmpty()) report.history(h);
        String html = report.html().replaceFirst("<head>", "<head><meta http-equiv=\"refresh\" content=\"" + refreshSeconds + "\">");
        send(ex, 200, "text/html; charset=utf-8", html);
    }

    private void json(HttpExchange ex) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("progress", progress);
        m.put("history", snapshot());
        send(ex, 200, "application/json", TrainJob.json(m));
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    @Override public void close() { server.stop(0); }
}
