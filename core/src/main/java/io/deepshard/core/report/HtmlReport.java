package io.deepshard.core.report;

import io.deepshard.core.train.EpochMetrics;
import io.deepshard.core.train.EvalStats;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * A self-contained HTML report of a run (no scripts, fonts or images from the network: charts are inline SVG, images
 * inline PNG data URIs), built section by section: learning curves, learning rate and throughput per epoch, the
 * confusion matrix as a heat map, the per-class table, sample predictions, config and provenance. Each chart is an
 * {@code <svg>} with an {@code id} and its numbers also in a {@code data-values} attribute, so a test (or a reader's
 * tool) can check what is drawn.
 */
public final class HtmlReport {
    private final String title;
    private final StringBuilder body = new StringBuilder();

    public HtmlReport(String title) { this.title = title; }

    /** A headline of key numbers, e.g. test accuracy, epochs, images/s. */
    public HtmlReport summary(Map<String, String> items) {
        body.append("<section id=\"summary\"><div class=\"cards\">");
        items.forEach((k, v) -> body.append("<div class=\"card\"><div class=\"k\">").append(esc(k)).append("</div><div class=\"v\">")
                .append(esc(v)).append("</div></div>"));
        body.append("</div></section>\n");
        return this;
    }

    /** Loss and accuracy per epoch (train, validation, test where present), learning rate and throughput per epoch. */
    public HtmlReport history(List<EpochMetrics> h) {
        if (h.isEmpty()) return this;
        body.append("<section><h2>Learning curves</h2><div class=\"row\">");
        var loss = new ArrayList<Series>();
        loss.add(series("train loss", h, EpochMetrics::trainLoss, "#1f77b4"));
        loss.add(series("validation loss", h, EpochMetrics::validationLoss, "#ff7f0e"));
        loss.add(series("test loss", h, EpochMetrics::testLoss, "#2ca02c"));
        body.append(lineChart("loss-curve", "loss per epoch", "epoch", "loss", loss, false));
        var acc = new ArrayList<Series>();
        acc.add(series("validation accuracy", h, EpochMetrics::validationAccuracy, "#ff7f0e"));
        acc.add(series("test accuracy", h, EpochMetrics::testAccuracy, "#2ca02c"));
        if (h.stream().anyMatch(m -> m.meanIoU() != null)) acc.add(series("test mean IoU", h, m -> m.meanIoU() == null ? Double.NaN : m.meanIoU(), "#9467bd"));
        body.append(lineChart("accuracy-curve", "accuracy per epoch", "epoch", "accuracy", acc, false));
        body.append("</div><div class=\"row\">");
        body.append(lineChart("learning-rate", "learning rate per epoch (last step)", "epoch", "learning rate",
                List.of(series("learning rate", h, m -> m.learningRate() == null ? Double.NaN : m.learningRate(), "#d62728")), false));
        body.append(lineChart("throughput", "training throughput per epoch", "epoch", "images/s",
                List.of(series("images/s", h, EpochMetrics::imagesPerSecond, "#8c564b")), false));
        body.append("</div>");
        body.append("<table class=\"t\"><tr><th>epoch</th><th>train loss</th><th>val loss</th><th>val acc</th><th>test loss</th>"
                + "<th>test acc</th><th>lr</th><th>images/s</th><th>elapsed s</th></tr>");
        for (EpochMetrics m : h) {
            body.append("<tr><td>").append(m.epoch()).append("</td>").append(td(m.trainLoss())).append(td(m.validationLoss()))
                    .append(td(m.validationAccuracy())).append(td(m.testLoss())).append(td(m.testAccuracy()))
                    .append(td(m.learningRate() == null ? Double.NaN : m.learningRate(), "%.3g"))
                    .append(td(m.imagesPerSecond(), "%.0f")).append(td(m.elapsedSeconds(), "%.1f")).append("</tr>");
        }
        body.append("</table></section>\n");
        return this;
    }

    /** The confusion matrix as a heat map (row-normalized colour, counts in the cells) and the per-class table. */
    public HtmlReport evaluation(String heading, EvalStats s, List<String> classes) {
        body.append("<section><h2>").append(esc(heading)).append("</h2>");
        body.append(String.format(Locale.ROOT, "<p>%s %,d: %s %.4f, top-%d accuracy %.4f, loss %.4f, macro F1 %.4f%s</p>",
                s.isPerPixel() ? "pixels" : "examples", s.count(), s.isPerPixel() ? "pixel accuracy" : "accuracy", s.accuracy(),
                s.topK(), s.topKAccuracy(), s.loss(), s.macroF1(),
                s.isPerPixel() ? String.format(Locale.ROOT, ", mean IoU %.4f, mean Dice %.4f", s.meanIoU(), s.meanDice()) : ""));
        body.append("<div class=\"row\">").append(heatMap(s.confusion(), classes)).append("<table class=\"t\" id=\"per-class\"><tr><th>class</th>"
                + "<th>precision</th><th>recall</th><th>F1</th>").append(s.isPerPixel() ? "<th>IoU</th>" : "").append("<th>support</th></tr>");
        for (int k = 0; k < s.numClasses(); k++) {
            body.append("<tr><td>").append(esc(name(classes, k))).append("</td>").append(td(s.precision(k))).append(td(s.recall(k)))
                    .append(td(s.f1(k))).append(s.isPerPixel() ? td(s.iou(k)) : "").append("<td>").append(s.support(k)).append("</td></tr>");
        }
        body.append("</table></div></section>\n");
        return this;
    }

    /** One predicted example: a PNG, its true class (or null) and the predicted class with its probability. */
    public record Sample(byte[] png, String truth, String predicted, double confidence) {}

    public HtmlReport samples(List<Sample> samples) {
        if (samples.isEmpty()) return this;
        body.append("<section><h2>Sample predictions</h2><div class=\"grid\" id=\"samples\">");
        for (Sample s : samples) {
            boolean right = s.truth() == null || s.truth().equals(s.predicted());
            body.append("<figure class=\"").append(right ? "ok" : "bad").append("\"><img alt=\"").append(esc(s.predicted()))
                    .append("\" src=\"data:image/png;base64,").append(java.util.Base64.getEncoder().encodeToString(s.png())).append("\">")
                    .append("<figcaption>").append(esc(s.predicted())).append(String.format(Locale.ROOT, " %.2f", s.confidence()));
            if (s.truth() != null && !right) body.append("<br><span class=\"truth\">true: ").append(esc(s.truth())).append("</span>");
            body.append("</figcaption></figure>");
        }
        body.append("</div></section>\n");
        return this;
    }

    /** A tuning run: the objective against a hyper-parameter (log x axis for learning rates) and the trials table. */
    public HtmlReport trials(String param, boolean logX, String objective, List<double[]> points, List<String> header, List<List<String>> rows) {
        body.append("<section><h2>Trials</h2>");
        var s = new Series(objective, points.stream().map(p -> p[0]).mapToDouble(Double::doubleValue).toArray(),
                points.stream().map(p -> p[1]).mapToDouble(Double::doubleValue).toArray(), "#1f77b4");
        body.append(lineChart("trials-chart", objective + " vs " + param, param, objective, List.of(s), logX));
        body.append("<table class=\"t\" id=\"trials\"><tr>");
        header.forEach(h -> body.append("<th>").append(esc(h)).append("</th>"));
        body.append("</tr>");
        for (List<String> r : rows) {
            body.append("<tr>");
            r.forEach(c -> body.append("<td>").append(esc(c)).append("</td>"));
            body.append("</tr>");
        }
        body.append("</table></section>\n");
        return this;
    }

    /** A preformatted block, e.g. the config YAML or the provenance JSON. */
    public HtmlReport text(String heading, String text) {
        body.append("<section><h2>").append(esc(heading)).append("</h2><pre>").append(esc(text)).append("</pre></section>\n");
        return this;
    }

    public String html() {
        return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + esc(title) + "</title><style>" + CSS
                + "</style></head><body><h1>" + esc(title) + "</h1>\n" + body + "</body></html>\n";
    }

    // ---- charts ----

    record Series(String name, double[] x, double[] y, String color) {}

    private static Series series(String name, List<EpochMetrics> h, ToDoubleFunction<EpochMetrics> f, String color) {
        return new Series(name, h.stream().mapToDouble(EpochMetrics::epoch).toArray(), h.stream().mapToDouble(f).toArray(), color);
    }

    static final int W = 460, H = 260, L = 64, R = 16, T = 28, B = 44;

    static String lineChart(String id, String caption, String xLabel, String yLabel, List<Series> all, boolean logX) {
        List<Series> series = all.stream().filter(s -> java.util.Arrays.stream(s.y()).anyMatch(Double::isFinite)).toList();
        var sb = new StringBuilder("<figure class=\"chart\"><svg id=\"").append(id).append("\" width=\"").append(W).append("\" height=\"")
                .append(H).append("\" viewBox=\"0 0 ").append(W).append(' ').append(H).append("\" role=\"img\" aria-label=\"")
                .append(esc(caption)).append("\">");
        if (series.isEmpty()) {
            return sb.append("<text x=\"").append(W / 2).append("\" y=\"").append(H / 2).append("\" text-anchor=\"middle\">no data</text></svg><figcaption>")
                    .append(esc(caption)).append("</figcaption></figure>").toString();
        }
        double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY, y0 = Double.POSITIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (!Double.isFinite(s.y()[i])) continue;
                double x = logX ? Math.log10(s.x()[i]) : s.x()[i];
                x0 = Math.min(x0, x); x1 = Math.max(x1, x);
                y0 = Math.min(y0, s.y()[i]); y1 = Math.max(y1, s.y()[i]);
            }
        }
        if (x1 - x0 < 1e-12) { x0 -= 0.5; x1 += 0.5; }
        if (y1 - y0 < 1e-12) { y0 -= Math.max(1e-6, Math.abs(y0) * 0.05); y1 += Math.max(1e-6, Math.abs(y1) * 0.05); }
        double pad = (y1 - y0) * 0.05;
        y0 -= pad; y1 += pad;
        final double fx0 = x0, fx1 = x1, fy0 = y0, fy1 = y1;
        java.util.function.DoubleUnaryOperator px = x -> L + ((logX ? Math.log10(x) : x) - fx0) / (fx1 - fx0) * (W - L - R);
        java.util.function.DoubleUnaryOperator py = y -> H - B - (y - fy0) / (fy1 - fy0) * (H - T - B);
        // axes and ticks
        sb.append("<g class=\"axis\"><line x1=\"").append(L).append("\" y1=\"").append(H - B).append("\" x2=\"").append(W - R).append("\" y2=\"")
                .append(H - B).append("\"/><line x1=\"").append(L).append("\" y1=\"").append(T).append("\" x2=\"").append(L).append("\" y2=\"")
                .append(H - B).append("\"/>");
        for (int i = 0; i <= 4; i++) {
            double y = y0 + (y1 - y0) * i / 4;
            double yy = py.applyAsDouble(y);
            sb.append(String.format(Locale.ROOT, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                    L, yy, W - R, yy, L - 6, yy + 4, tick(y)));
        }
        boolean integral = !logX && series.stream().allMatch(s -> java.util.Arrays.stream(s.x()).allMatch(v -> v == Math.rint(v)));
        var xTicks = new ArrayList<Double>();
        if (integral) {              // epochs: whole numbers only
            double step = Math.max(1, Math.ceil((Math.rint(x1) - Math.rint(x0)) / 6));
            for (double v = Math.ceil(x0); v <= x1 + 1e-9; v += step) xTicks.add(v);
        } else {
            for (int i = 0; i <= 4; i++) xTicks.add(x0 + (x1 - x0) * i / 4);
        }
        for (double xv : xTicks) {
            double label = logX ? Math.pow(10, xv) : xv;
            double xx = L + (xv - x0) / (x1 - x0) * (W - L - R);
            sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>", xx, H - B + 16,
                    logX ? String.format(Locale.ROOT, "%.0e", label) : integral ? String.format(Locale.ROOT, "%.0f", label) : tick(label)));
        }
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s%s</text>", (L + W - R) / 2, H - 8, esc(xLabel),
                logX ? " (log scale)" : ""));
        sb.append(String.format(Locale.ROOT, "<text transform=\"translate(14,%d) rotate(-90)\" text-anchor=\"middle\">%s</text></g>", (T + H - B) / 2, esc(yLabel)));
        int legendX = L + 8;
        for (Series s : series) {
            var pts = new StringBuilder();
            var values = new StringBuilder();
            for (int i = 0; i < s.x().length; i++) {
                if (!Double.isFinite(s.y()[i])) continue;
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px.applyAsDouble(s.x()[i]), py.applyAsDouble(s.y()[i])));
                values.append(String.format(Locale.ROOT, "%s%g:%g", values.length() == 0 ? "" : " ", s.x()[i], s.y()[i]));
            }
            sb.append("<polyline class=\"series\" fill=\"none\" stroke=\"").append(s.color()).append("\" stroke-width=\"2\" points=\"")
                    .append(pts.toString().trim()).append("\" data-name=\"").append(esc(s.name())).append("\" data-values=\"").append(values).append("\"/>");
            for (String p : pts.toString().trim().split(" ")) {
                String[] xy = p.split(",");
                sb.append("<circle cx=\"").append(xy[0]).append("\" cy=\"").append(xy[1]).append("\" r=\"2.5\" fill=\"").append(s.color()).append("\"/>");
            }
            sb.append("<rect x=\"").append(legendX).append("\" y=\"8\" width=\"10\" height=\"10\" fill=\"").append(s.color()).append("\"/><text x=\"")
                    .append(legendX + 14).append("\" y=\"17\">").append(esc(s.name())).append("</text>");
            legendX += 22 + 7 * s.name().length();
        }
        return sb.append("</svg><figcaption>").append(esc(caption)).append("</figcaption></figure>").toString();
    }

    static String heatMap(long[][] cm, List<String> classes) {
        int n = cm.length, cell = Math.max(18, Math.min(44, 440 / Math.max(1, n))), left = 110, top = 30;
        int w = left + n * cell + 10, h = top + n * cell + 40;
        var sb = new StringBuilder("<figure class=\"chart\"><svg id=\"confusion-matrix\" width=\"").append(w).append("\" height=\"").append(h)
                .append("\" viewBox=\"0 0 ").append(w).append(' ').append(h).append("\" role=\"img\" aria-label=\"confusion matrix\">");
        for (int t = 0; t < n; t++) {
            long row = 0;
            for (long v : cm[t]) row += v;
            sb.append("<text x=\"").append(left - 6).append("\" y=\"").append(top + t * cell + cell / 2 + 4).append("\" text-anchor=\"end\">")
                    .append(esc(shorten(name(classes, t)))).append("</text>");
            for (int p = 0; p < n; p++) {
                double f = row == 0 ? 0 : (double) cm[t][p] / row;
                int shade = (int) Math.round(255 - f * 200);
                String fill = t == p ? String.format("rgb(%d,%d,255)", shade, shade) : String.format("rgb(255,%d,%d)", shade, shade);
                sb.append(String.format(Locale.ROOT, "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" data-count=\"%d\"><title>true %s, predicted %s: %d</title></rect>",
                        left + p * cell, top + t * cell, cell - 1, cell - 1, fill, cm[t][p], esc(name(classes, t)), esc(name(classes, p)), cm[t][p]));
                if (cell >= 24) {
                    sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%d</text>",
                            left + p * cell + cell / 2, top + t * cell + cell / 2 + 4, cm[t][p]));
                }
            }
        }
        for (int p = 0; p < n; p++) {
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%d</text>", left + p * cell + cell / 2, top - 8, p));
        }
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">predicted class (columns 0..%d in the row order)</text>",
                left + n * cell / 2, top + n * cell + 24, n - 1));
        return sb.append("</svg><figcaption>confusion matrix (rows: true class; colour: share of the row)</figcaption></figure>").toString();
    }

    private static String name(List<String> classes, int k) { return k < classes.size() ? classes.get(k) : Integer.toString(k); }

    private static String shorten(String s) { return s.length() > 16 ? s.substring(0, 15) + "…" : s; }

    private static String tick(double v) {
        double a = Math.abs(v);
        if (a != 0 && (a < 1e-3 || a >= 1e5)) return String.format(Locale.ROOT, "%.1e", v);
        if (a >= 100) return String.format(Locale.ROOT, "%.0f", v);
        return String.format(Locale.ROOT, "%.3g", v);
    }

    private static String td(double v) { return td(v, "%.4f"); }

    private static String td(double v, String fmt) { return "<td>" + (Double.isNaN(v) ? "-" : String.format(Locale.ROOT, fmt, v)) + "</td>"; }

    static String esc(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static final String CSS = """
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
            h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
            .cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ccc;border-radius:6px;padding:8px 14px;background:#f7f9fc}
            .card .k{font-size:12px;color:#666}.card .v{font-size:18px;font-weight:600}
            .row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
            figure{margin:0}figcaption{font-size:12px;color:#555;text-align:center}
            svg text{font-size:11px;fill:#333}.axis line{stroke:#444}line.grid{stroke:#e5e5e5}
            table.t{border-collapse:collapse;margin:10px 0}table.t td,table.t th{border:1px solid #ddd;padding:3px 8px;text-align:right}
            table.t th{background:#f0f0f0}table.t td:first-child{text-align:left}
            .grid{display:flex;flex-wrap:wrap;gap:10px}.grid figure{border:2px solid #8c8;padding:4px;text-align:center}
            .grid figure.bad{border-color:#e66}.grid img{width:64px;height:64px;image-rendering:pixelated}.truth{color:#c00}
            pre{background:#f6f6f6;padding:10px;overflow:auto;max-height:420px}
            """;
}
