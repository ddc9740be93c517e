package io.deepshard.jobs;

import io.deepshard.core.bundle.ModelBundle;
import io.deepshard.core.config.DataConfig;
import io.deepshard.core.data.ImageRecord;
import io.deepshard.core.report.HtmlReport;
import io.deepshard.core.report.Png;
import io.deepshard.core.train.EpochMetrics;
import io.deepshard.core.train.EvalStats;
import org.apache.spark.api.java.JavaRDD;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The {@code report.html} of a training run and of an evaluation. */
final class RunReports {
    /** Sample predictions shown in a report. */
    static final int SAMPLES = 24;

    private RunReports() {}

    static String train(String runDir, Map<String, Object> metrics, List<EpochMetrics> history, EvalStats test, ModelBundle bundle,
                        List<HtmlReport.Sample> samples) {
        var head = new LinkedHashMap<String, String>();
        head.put("model", String.valueOf(bundle.provenance().get("model")).replaceAll("[{}]", ""));
        if (metrics.get("testAccuracy") != null) head.put("test accuracy", fmt(metrics.get("testAccuracy")));
        if (metrics.get("validationAccuracy") != null) head.put("validation accuracy", fmt(metrics.get("validationAccuracy")));
        head.put("epochs", String.valueOf(metrics.get("epochs")) + (Boolean.TRUE.equals(metrics.get("stoppedEarly")) ? " (stopped early)" : ""));
        head.put("model of epoch", String.valueOf(metrics.get("modelEpoch")));
        head.put("images/s", String.format(Locale.ROOT, "%.0f", ((Number) metrics.get("imagesPerSecond")).doubleValue()));
        head.put("workers", String.valueOf(metrics.get("workers")));
        var r = new HtmlReport("Deepshard run " + org.apache.hadoop.fs.Path.getPathWithoutSchemeAndAuthority(
                new org.apache.hadoop.fs.Path(runDir)).getName()).summary(head).history(history);
        if (test != null) r.evaluation("Test split", test, bundle.labels());
        r.samples(samples);
        return r.text("Config", bundle.configYaml()).text("Provenance", json(bundle.provenance())).html();
    }

    static String evaluation(Map<String, Object> json, EvalStats stats, ModelBundle bundle, List<HtmlReport.Sample> samples) {
        var head = new LinkedHashMap<String, String>();
        head.put("model", String.valueOf(json.get("model")));
        head.put(stats.isPerPixel() ? "pixel accuracy" : "accuracy", String.format(Locale.ROOT, "%.4f", stats.accuracy()));
        head.put("top-" + stats.topK() + " accuracy", String.format(Locale.ROOT, "%.4f", stats.topKAccuracy()));
        head.put("loss", String.format(Locale.ROOT, "%.4f", stats.loss()));
        head.put(stats.isPerPixel() ? "pixels" : "examples", String.format(Locale.ROOT, "%,d", stats.count()));
        return new HtmlReport("Deepshard evaluation").summary(head).evaluation("Evaluation", stats, bundle.labels()).samples(samples)
                .text("Data", json(json.get("data"))).text("Model config", bundle.configYaml()).html();
    }

    /**
     * Predictions of the first {@link #SAMPLES} records (8-bit classification records; none for float or segmentation
     * records), made on the driver with the bundle, as report samples.
     */
    static List<HtmlReport.Sample> samples(JavaRDD<ImageRecord> records, ModelBundle bundle, DataConfig data) {
        if (records == null) return List.of();
        List<ImageRecord> first = records.take(SAMPLES);
        if (first.isEmpty() || first.get(0).isFloat() || first.get(0).hasMask()) return List.of();
        byte[][] images = first.stream().map(ImageRecord::pixels).toArray(byte[][]::new);
        float[][] p = bundle.predict(images);
        var out = new ArrayList<HtmlReport.Sample>();
        for (int i = 0; i < first.size(); i++) {
            int best = 0;
            for (int k = 1; k < p[i].length; k++) if (p[i][k] > p[i][best]) best = k;
            int truth = first.get(i).label();
            out.add(new HtmlReport.Sample(Png.of(images[i], data.channels(), data.height(), data.width()),
                    truth >= 0 && truth < bundle.labels().size() ? bundle.labels().get(truth) : null, bundle.labels().get(best), p[i][best]));
        }
        return out;
    }

    private static String fmt(Object v) { return String.format(Locale.ROOT, "%.4f", ((Number) v).doubleValue()); }

    private static String json(Object o) {
        try {
            return ModelBundle.JSON.writeValueAsString(o);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
