"""Cost model of an averaging round, checked against bench/run rounds and projected to 1-128 executors.

    python3 bench/costmodel.py            # prints the check and the projection (Markdown), writes docs/scaling.svg

Reads the newest `bench/run rounds` invocation in bench/results.jsonl (all its rows share one commit and date). The
model adds up Spark's latency for an empty job and parts of the round that were each timed alone in that run
(RoundsBenchJob.components): nothing is fitted; docs/scaling.md explains it. Standard library only.
"""
import json
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Assumptions for the projection (not measurable on one machine; change them to match a cluster):
NETWORK_BYTES_PER_S = 10e9 / 8      # 10 Gbit/s per node, the driver's included
TASK_LAUNCH_S = 0.002               # driver-side cost per task (serialize + launch), Spark's order of magnitude
BATCH = {"lenet5": 64, "resnet18": 32, "vgg16": 32}   # per-worker mini-batch of the projection's training step


def newest_rounds_run():
    rows = [json.loads(l) for l in open(os.path.join(ROOT, "bench", "results.jsonl")) if '"benchmark": "rounds"' in l]
    if not rows:
        sys.exit("no rounds rows in bench/results.jsonl: run bench/run rounds first")
    last = (rows[-1]["commit"], rows[-1]["date"])
    return [r for r in rows if (r["commit"], r["date"]) == last]


def worker_part(r):
    """What each worker does per round besides its mini-batches (seconds)."""
    return r["loadSeconds"] + r["extractSeconds"] + r["weightSeconds"] + r["serializeResultSeconds"]


def driver_part(r, results):
    """What the driver does: encode the broadcast, decode `results` results, merge them, average."""
    return (r["serializeStateSeconds"] + results * r["deserializeResultSeconds"] + (results - 1) * r["mergeSeconds"]
            + r["averageSeconds"])


DIRECT_RESULT_BYTES = 16 * 1024 * 1024  # spark.task.maxDirectResultSize as the jobs set it


def moved_bytes(r):
    """Bytes that go through Spark's block transfer in a round: the broadcast (executor JVMs only) and the results
    larger than the direct-result limit (which go through the block manager, even in local mode)."""
    state = r["stateMB"] * 1e6
    results = r["workers"] * state if state > DIRECT_RESULT_BYTES else 0.0
    return results + (0.0 if r["master"].startswith("local[") else state)


def measured_model(r, cores):
    """Overhead on the measuring machine from the parts timed alone: Spark's empty job, the workers' and the driver's
    work on the state (workers take turns when there are more of them than cores), and executors decoding the state."""
    waves = math.ceil(r["workers"] / cores)
    local = r["master"].startswith("local[")
    broadcast = 0.0 if local else r["deserializeResultSeconds"]
    return r["emptyJobSeconds"] + waves * worker_part(r) + driver_part(r, r["workers"]) + broadcast


def fit_transfer(rows, cores):
    """Least squares of the residual (measured - parts) = latency (executor JVMs only) + moved bytes x per-byte cost:
    the two constants the parts do not give (block fetches, copies through Netty)."""
    xs = [(0.0 if r["master"].startswith("local[") else 1.0, moved_bytes(r)) for r in rows]
    ys = [r["overheadSeconds"] - measured_model(r, cores) for r in rows]
    a11 = sum(x[0] * x[0] for x in xs); a12 = sum(x[0] * x[1] for x in xs); a22 = sum(x[1] * x[1] for x in xs)
    b1 = sum(x[0] * y for x, y in zip(xs, ys)); b2 = sum(x[1] * y for x, y in zip(xs, ys))
    det = a11 * a22 - a12 * a12
    return (b1 * a22 - b2 * a12) / det, (a11 * b2 - a12 * b1) / det


def projected(r, workers, sched, latency, per_byte):
    """Round overhead on a cluster of `workers` executors (one worker each, own cores, 10 Gbit/s): every transfer
    pays the per-byte cost measured here (copies) plus the wire."""
    state_bytes = r["stateMB"] * 1e6
    move = state_bytes * (per_byte + 1 / NETWORK_BYTES_PER_S)
    decode, merge = r["deserializeResultSeconds"], r["mergeSeconds"]
    broadcast = 2 * move + decode                  # torrent broadcast: each executor receives the state once
    if workers <= 8:                               # reduce: the driver receives every result
        gather = workers * (move + decode) + (workers - 1) * merge
        stages = 1
    else:                                          # groups of g ~ sqrt(W) merged on executors, then W/g on the driver
        g = 2 ** math.ceil(math.log2(math.sqrt(workers)))
        gather = g * (move + decode) + (g - 1) * merge + math.ceil(workers / g) * (move + decode + merge)
        gather += r["serializeResultSeconds"]      # the group sums are encoded again for the driver
        stages = 2
    return (stages * (sched + latency) + workers * TASK_LAUNCH_S + worker_part(r) + r["serializeStateSeconds"]
            + broadcast + gather + r["averageSeconds"])


def step_seconds(r, trained):
    """One training step of BATCH images on one core: from a real training run's img/s per worker when the newest
    scaling benchmark has one for this model, else extrapolated from the rounds bench's batch of 2 (too high for
    small models, whose fixed per-step costs dominate at batch 2)."""
    if r["row"] in trained:
        return BATCH[r["row"]] / trained[r["row"]], "measured"
    return r["computeSeconds"] / 2 * BATCH[r["row"]], "from batch 2"


def trained_rates():
    rows = [json.loads(l) for l in open(os.path.join(ROOT, "bench", "results.jsonl")) if '"benchmark": "scaling"' in l]
    one = [r for r in rows if r["variant"] == "local-1w"]
    return {"lenet5": one[-1]["imagesPerSecond"]} if one else {}


def svg(curves, path):
    """Two log-x panels: overhead per round (s) and the averaging frequency for 90% efficiency."""
    w, h, pad = 460, 300, 55
    colors = {"lenet5": "#1f77b4", "resnet18": "#d62728", "vgg16": "#2ca02c"}
    xs = [1, 2, 4, 8, 16, 32, 64, 128]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">'
           % (2 * w, h + 40), '<rect width="100%" height="100%" fill="white"/>']

    def panel(x0, title, key, ylog, ylabel):
        vals = [v for c in curves.values() for v in c[key]]
        lo, hi = (min(vals), max(vals))
        if ylog:
            lo, hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
            fy = lambda v: h - pad - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (h - 2 * pad)
            ticks = [10 ** k for k in range(round(math.log10(lo)), round(math.log10(hi)) + 1)]
        else:
            lo, hi = 0, max(1, math.ceil(hi / 10) * 10)
            fy = lambda v: h - pad - (v - lo) / (hi - lo) * (h - 2 * pad)
            ticks = [hi * k / 4 for k in range(5)]
        fx = lambda n: x0 + pad + math.log2(n) / 7 * (w - 2 * pad)
        out.append('<text x="%d" y="20" font-size="13" font-weight="bold">%s</text>' % (x0 + pad, title))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (fx(1), h - pad, fx(128), h - pad))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (fx(1), h - pad, fx(1), pad))
        for n in xs:
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (fx(n), h - pad + 15, n))
        for t in ticks:
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>' % (fx(1), fy(t), fx(128), fy(t)))
            out.append('<text x="%.1f" y="%.1f" text-anchor="end">%s</text>' % (fx(1) - 4, fy(t) + 4, ("%g" % t)))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">executors (workers)</text>' % ((fx(1) + fx(128)) / 2, h - pad + 32))
        out.append('<text x="%d" y="%d" transform="rotate(-90 %d %d)" text-anchor="middle">%s</text>'
                   % (x0 + 14, h // 2, x0 + 14, h // 2, ylabel))
        for i, (name, c) in enumerate(curves.items()):
            pts = " ".join("%.1f,%.1f" % (fx(n), fy(v)) for n, v in zip(xs, c[key]))
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (colors[name], pts))
            for n, v in zip(xs, c[key]):
                out.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (fx(n), fy(v), colors[name]))
            out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (x0 + pad + 10, pad - 15 + 13 * i, colors[name], c["label"]))

    panel(0, "Round overhead (broadcast + aggregate), 10 Gbit/s", "overhead", True, "seconds per round")
    panel(w, "Averaging frequency for 90% compute time", "frequency", True, "steps per round (batch 64/32/32)")
    out.append('<text x="10" y="%d" fill="#555">Projected by bench/costmodel.py from parts measured by bench/run rounds'
               ' (bench/ROUNDS.md); docs/scaling.md.</text>' % (h + 30))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    rows = newest_rounds_run()
    cores = rows[0].get("cores", 2)
    latency, per_byte = fit_transfer(rows, cores)
    print(f"Rounds run {rows[0]['date']} at {rows[0]['commit']} on {rows[0]['cpu']} ({cores} cores)\n")
    print(f"Fitted to the residuals: latency of a round on executor JVMs {latency * 1000:.0f} ms, block transfer "
          f"{1 / per_byte / 1e6:.0f} MB/s (copies through Spark's block manager on this machine, no wire)\n")
    print("| master | workers | model | state MB | measured overhead s | empty job s | parts s | moved MB | model s | error |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        local = r["master"].startswith("local[")
        parts = measured_model(r, cores) - r["emptyJobSeconds"]
        pred = measured_model(r, cores) + (0 if local else latency) + moved_bytes(r) * per_byte
        print(f"| {r['master']} | {r['workers']} | {r['row']} | {r['stateMB']:.1f} | {r['overheadSeconds']:.3f} | "
              f"{r['emptyJobSeconds']:.3f} | {parts:.3f} | {moved_bytes(r) / 1e6:.0f} | {pred:.3f} | "
              f"{(pred - r['overheadSeconds']) / r['overheadSeconds'] * 100:+.0f}% |")
    sched = max(r["emptyJobSeconds"] for r in rows if not r["master"].startswith("local["))
    base = {}
    for r in rows:
        if not r["master"].startswith("local[") and (r["row"] not in base or r["workers"] < base[r["row"]]["workers"]):
            base[r["row"]] = r
    trained = trained_rates()
    xs = [1, 2, 4, 8, 16, 32, 64, 128]
    curves = {}
    print("\nProjected round overhead (s) at 10 Gbit/s, and the averaging frequency F for >= 90% compute time "
          "(F steps of the batch shown, 1 core per worker):\n")
    print("| model | parameters | state MB | step s (batch) | " + " | ".join(f"W={n}" for n in xs) + " |")
    print("|---|---|---|---|" + "---|" * len(xs))
    for name in ("lenet5", "resnet18", "vgg16"):
        if name not in base:
            continue
        r = base[name]
        over = [projected(r, n, sched, latency, per_byte) for n in xs]
        step, how = step_seconds(r, trained)
        freq = [max(1, math.ceil(9 * o / step)) for o in over]
        curves[name] = dict(label=f"{name} ({r['parameters'] / 1e6:.2g}M params, b{BATCH[name]})", overhead=over, frequency=freq)
        print(f"| {name} | {r['parameters']:,} | {r['stateMB']:.1f} | {step:.2f} (b{BATCH[name]}, {how}) | "
              + " | ".join(f"{o:.2f} (F {f})" for o, f in zip(over, freq)) + " |")
    os.makedirs(os.path.join(ROOT, "docs"), exist_ok=True)
    svg(curves, os.path.join(ROOT, "docs", "scaling.svg"))
    print("\nwrote docs/scaling.svg")


if __name__ == "__main__":
    main()
