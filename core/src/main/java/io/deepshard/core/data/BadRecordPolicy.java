package io.deepshard.core.data;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code data.onBadRecord} and {@code data.maxBadFraction}: fail on the first bad record (naming it), or skip bad
 * records, count them per reason, and fail only when their fraction of all records exceeds the limit.
 */
public record BadRecordPolicy(boolean skip, double maxBadFraction) implements Serializable {
    public static final List<String> MODES = List.of("fail", "skip");
    public static final BadRecordPolicy FAIL = new BadRecordPolicy(false, 0.01);

    /** Counted bad records of one split, as reported in the log and in metrics.json ({@code badRecords}). */
    public record Counts(String split, long examined, long total, Map<String, Long> byReason, List<String> examples)
            implements Serializable {
        public Map<String, Object> toJson() {
            var m = new LinkedHashMap<String, Object>();
            m.put("total", total);
            m.put("examined", examined);
            m.put("byReason", byReason);
            m.put("examples", examples);
            return m;
        }

        public double fraction() { return examined == 0 ? 0 : (double) total / examined; }

        public String summary() {
            return String.format(Locale.ROOT, "%s: skipped %d of %d records (%.2f%%): %s", split, total, examined,
                    100 * fraction(), byReason);
        }
    }

    /** Throws when the skipped fraction is above the limit. */
    public void check(Counts c) {
        if (c.total() > 0 && c.fraction() > maxBadFraction) {
            throw new DataFormatException(String.format(Locale.ROOT,
                    "%s: %d of %d records are bad (%.2f%%), more than data.maxBadFraction = %s; by reason %s; for example:%n  %s",
                    c.split(), c.total(), c.examined(), 100 * c.fraction(), maxBadFraction, c.byReason(),
                    String.join("\n  ", c.examples())));
        }
    }
}
