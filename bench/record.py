"""Appends benchmark rows to bench/results.jsonl and the Markdown tables (called by bench/run)."""
import datetime
import json
import os
import statistics
import sys


def cpu():
    model, flags = "unknown", []
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and model == "unknown":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            have = set(line.split(":", 1)[1].split())
            flags = [f for f in ("avx512f", "avx2", "fma") if f in have]
    return model, flags


def fmt(x):
    return "" if x is None else (f"{x:.4f}" if isinstance(x, float) else str(x))


def table(path, header, rows):
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(header)
    with open(path, "a") as f:
        f.writelines(rows)


def training(name, out, common):
    rows = []
    for line in open(os.path.join(out, "variants.txt")):
        label, cmd = line.rstrip("\n").split("|", 1)
        m = json.load(open(os.path.join(out, label, "metrics.json")))
        prov = json.load(open(os.path.join(out, label, "model", "provenance.json")))
        acc = {e["epoch"]: e["testAccuracy"] for e in m["history"]}
        rows.append(dict(common, benchmark=name, variant=label,
                         openblasCoretype=prov["machine"].get("nativeSettings", {}).get("OPENBLAS_CORETYPE", ""),
                         strategy=m["strategy"], workers=m["workers"], epochs=m["epochs"],
                         imagesPerSecond=round(m["imagesPerSecond"], 1), acc1=acc.get(1), acc3=acc.get(3),
                         accFinal=m["testAccuracy"], elapsedSeconds=round(m["elapsedSeconds"], 1), command=cmd))
        if m.get("meanIoU") is not None:  # segmentation: accuracies are pixel accuracies
            rows[-1]["meanIoU"] = m["meanIoU"]
    base = {r["workers"]: r["imagesPerSecond"] for r in rows if r["strategy"] == "dl4j-paramavg"}
    for r in rows:
        if r["strategy"] == "averaging" and r["workers"] in base:
            r["speedVsDl4jParamavg"] = round(r["imagesPerSecond"] / base[r["workers"]], 3)
    header = ("# Benchmark results\n\nAppended by `bench/run <name>`; raw rows in `results.jsonl`. Compare speeds only "
              "within one run (same date and commit): machines are shared and CPUs differ.\n\n"
              "| date | commit | benchmark | variant | workers | epochs | img/s | vs dl4j | acc@1 | acc@3 | final acc | elapsed s | CPU | OpenBLAS | command |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    table("bench/RESULTS.md", header, [
        f"| {r['date']} | {r['commit']} | {r['benchmark']} | {r['variant']} | {r['workers']} | {r['epochs']} | "
        f"{r['imagesPerSecond']:.0f} | {r.get('speedVsDl4jParamavg', '')} | {fmt(r['acc1'])} | {fmt(r['acc3'])} | "
        f"{fmt(r['accFinal'])}{' (mean IoU ' + fmt(r['meanIoU']) + ')' if 'meanIoU' in r else ''} | {r['elapsedSeconds']} | {r['cpu']} ({'+'.join(r['cpuFlags'])}) | {r['openblasCoretype']} | `{r['command']}` |\n"
        for r in rows])
    if name == "soak":
        soak(out, rows)
    if name == "scaling":
        scaling(out, rows)
    if name == "helpers":
        helpers(out, rows)
    if name == "vs-pytorch":
        rows += vs_pytorch(out, rows, common)
    if name == "native":
        rows += native(out, rows, common)
    return rows


def native(out, rows, common):
    """bench/run native: one Markdown block per run (training, 2 workers, inference, GEMM) with every ratio."""
    def jsonl(name):
        path = os.path.join(out, name)
        return [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
    torch_rows, nat = jsonl("pytorch.jsonl"), jsonl("native.jsonl")
    by = {r["variant"]: r for r in rows}
    extra = [dict(common, benchmark="native", variant=f"pytorch-{t['model']}" + (f"-b{t['batch']}" if "batch" in t else f"-n{t.get('n')}"), **t)
             for t in torch_rows] + [dict(common, benchmark="native", **n) for n in nat]

    def torch_for(model, batch, epochs=1):
        return next((t for t in torch_rows if t.get("model") == model and t.get("batch") == batch and t.get("epochs", 1) == epochs), {})

    def ratio(a, b):
        return f"{a / b:.2f}" if a and b else ""

    cpu = f"{common['cpu']} ({'+'.join(common['cpuFlags'])}), {common['cores']} cores"
    lines = [f"\n## {common['date']}, commit {common['commit']}, {cpu}\n\n",
             "Training, 1 epoch on one core (`local[1]`, 1 worker; PyTorch on 1 thread). img/s (test accuracy).\n\n",
             "Ours is the whole epoch through Spark (sharding, rounds, scheduling); PyTorch's is its loop over tensors in "
             "memory. *onednn compute* counts only the workers' compute time (`rounds.jsonl`), the closer comparison. "
             "*stock DL4J* runs ND4J's default native threads, here one per core of the machine.\n\n",
             "| row | stock DL4J | DL4J tuned | onednn | PyTorch | onednn / PyTorch | onednn compute | compute / PyTorch | tuned / PyTorch | onednn / stock |\n",
             "|---|---|---|---|---|---|---|---|---|---|\n"]
    def compute_only(variant):
        """img/s of the workers' compute alone (rounds.jsonl): no sharding, broadcast or scheduling, like PyTorch's loop."""
        path = os.path.join(out, variant, "rounds.jsonl")
        rs = [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
        seconds = sum(r["compute"] for r in rs)
        return sum(r["examples"] for r in rs) / seconds if seconds else None

    for row, model, batch in (("lenet5-b64", "lenet5", 64), ("lenet5-b128", "lenet5", 128), ("mlp-b128", "mlp", 128),
                              ("resnet20-b64", "resnet20", 64)):
        st, tu, od = (by.get(f"{row}-{v}", {}) for v in ("stock", "dl4j", "onednn"))
        t = torch_for(model, batch)
        cell = lambda r: f"{r['imagesPerSecond']:.0f} ({fmt(r['accFinal'])})" if r else "missing"
        tcell = f"{t['trainImagesPerSecond']:.0f} ({fmt(t['testAccuracy'])})" if "trainImagesPerSecond" in t else "unavailable"
        ti = t.get("trainImagesPerSecond")
        oc = compute_only(f"{row}-onednn")
        if od and oc:
            od["computeImagesPerSecond"] = round(oc, 1)
        lines.append(f"| {row} | {cell(st)} | {cell(tu)} | {cell(od)} | {tcell} | **{ratio(od.get('imagesPerSecond'), ti)}** | "
                     f"{f'{oc:.0f}' if oc else ''} | {ratio(oc, ti)} | "
                     f"{ratio(tu.get('imagesPerSecond'), ti)} | {ratio(od.get('imagesPerSecond'), st.get('imagesPerSecond'))} |\n")
    # steady state: the MLP's third epoch, ours (history in metrics.json) against PyTorch's third
    path = os.path.join(out, "mlp-b128-3ep-onednn", "metrics.json")
    t3 = torch_for("mlp", 128, 3).get("epochImagesPerSecond") or []
    if os.path.exists(path):
        ours = [e["imagesPerSecond"] for e in json.load(open(path))["history"]]
        by.get("mlp-b128-3ep-onednn", {})["epochImagesPerSecond"] = [round(x, 1) for x in ours]
        lines.append(f"\nSteady state, MLP b128, 3 epochs (`training.epochs=3`; PyTorch `--epochs 3`), img/s per epoch: ours "
                     f"{' / '.join(f'{x:.0f}' for x in ours)}, PyTorch {' / '.join(f'{x:.0f}' for x in t3) or 'unavailable'}; "
                     f"**epoch 3: {ratio(ours[-1] if ours else None, t3[-1] if t3 else None)}** of PyTorch.\n")
    # three alternating pairs (older runs: one pair without the -r suffix)
    pairs = [(by.get(f"lenet5-1w2t-onednn{s}", {}), by.get(f"lenet5-2w-onednn{s}", {})) for s in ("", "-r1", "-r2", "-r3")]
    pairs = [(o, t) for o, t in pairs if o and t]
    ones = [o["imagesPerSecond"] for o, _ in pairs]
    twos = [t["imagesPerSecond"] for _, t in pairs]
    one_med = statistics.median(ones) if ones else None
    two_med = statistics.median(twos) if twos else None
    lines.append(f"\nTwo workers with averaging (`local[2]`, every 5 steps) vs one worker given both cores (2 native threads), "
                 f"LeNet-5 b64, engine onednn, 1 epoch, {len(pairs)} alternating pair(s): 2 workers "
                 f"{', '.join(f'{x:.0f}' for x in twos)} img/s, 1 worker {', '.join(f'{x:.0f}' for x in ones)} img/s; "
                 f"pair ratios {', '.join(ratio(t['imagesPerSecond'], o['imagesPerSecond']) for o, t in pairs)}; "
                 f"**median 2 workers / median 1 worker = {ratio(two_med, one_med)}** (target >= 0.9); "
                 f"test accuracy {', '.join(fmt(t.get('accFinal')) for _, t in pairs)} / {', '.join(fmt(o.get('accFinal')) for o, _ in pairs)}.\n\n")
    lines += ["Inference, batch 256, one thread, img/s (ours: `bin/deepshard bench-native`, random inputs; PyTorch: its trained "
              "model over the 10,000 test images, `torch.no_grad`).\n\n",
              "| model | DL4J tuned | onednn (DL4J's helpers) | onednn (direct engine) | PyTorch | onednn / PyTorch |\n|---|---|---|---|---|---|\n"]
    for model, tb in (("lenet5", 64), ("resnet20", 64)):
        d = next((n for n in nat if n.get("row") == "inference" and n.get("model") == model and n.get("engine") == "dl4j"), {})
        o = next((n for n in nat if n.get("row") == "inference" and n.get("model") == model and n.get("engine") == "onednn"), {})
        x = next((n for n in nat if n.get("row") == "inference" and n.get("model") == model and n.get("engine") == "onednn-direct"), {})
        t = torch_for(model, tb).get("inferenceImagesPerSecond")
        best = x.get("imagesPerSecond") or o.get("imagesPerSecond")   # evaluation uses the direct engine where it runs
        lines.append(f"| {model} | {d.get('imagesPerSecond', '')} | {o.get('imagesPerSecond', '')} | {x.get('imagesPerSecond', 'not supported')} | "
                     f"{t or 'unavailable'} | **{ratio(best, t)}** |\n")
    grads = [n for n in nat if n.get("row") == "gradient"]
    if grads:
        lines += ["\nOne training step, one thread, in one process (`bench-native`, rows `gradient`): DL4J's `computeGradientAndScore` / "
                  "`fit` against the direct oneDNN engine (`OneDnnNet`) on the same network, batches and array.\n\n",
                  "| model | batch | DL4J side | forward + backward, DL4J / direct (ms) | speed-up | whole step with optimizer (ms) | "
                  "speed-up | direct img/s |\n|---|---|---|---|---|---|---|---|\n"]
        for g in grads:
            lines.append(f"| {g['model']} | {g['batch']} | {g.get('dl4jLayers', 'DL4J')} | {g['dl4jMs']} / {g['onednnDirectMs']} | "
                         f"{g['speedup']}x | {g.get('fitDl4jMs', '')} / {g.get('fitOnednnDirectMs', '')} | **{g.get('fitSpeedup', '')}x** | "
                         f"{g.get('directImagesPerSecond', '')} |\n")
    peak = next((n["gflops"] for n in nat if n.get("row") == "peak"), None)
    vbits = next((n["vectorBits"] for n in nat if n.get("row") == "peak"), "")
    lines += [f"\nFP32 GEMM, n x n, one thread, GFLOPS. Peak measured by `bench/peak.c` ({vbits}-bit FMA chains, one core): "
              f"**{peak if peak else 'not measured (no gcc)'}** GFLOPS.\n\n",
              "| n | ND4J (OpenBLAS, our kernel choice) | % of peak | ND4J (OpenBLAS's own detection) | PyTorch |\n|---|---|---|---|---|\n"]
    for n in sorted({x["n"] for x in nat if x.get("row") == "gemm"}):
        tuned = next((x["gflops"] for x in nat if x.get("row") == "gemm" and x["n"] == n and x.get("variant") == "tuned"), None)
        auto = next((x["gflops"] for x in nat if x.get("row") == "gemm" and x["n"] == n and x.get("variant") == "openblas-autodetect"), "")
        tg = next((t["gflops"] for t in torch_rows if t.get("model") == "gemm" and t.get("n") == n), "")
        pct = f"**{100 * tuned / peak:.0f}%**" if tuned and peak else ""
        lines.append(f"| {n} | {tuned} | {pct} | {auto} | {tg} |\n")
    cmds = "; ".join(f"`{r['command']}`" for r in rows)
    lines.append(f"\nCommand: `bench/run native` (torch {next((t.get('torch') for t in torch_rows if t.get('torch')), 'unavailable')}). "
                 f"Variants: {cmds}\n")
    header = ("# Native performance suite (issue 7)\n\nAppended by `bench/run native`: everything in one run on one machine, "
              "so the ratios hold even where absolute speeds differ between machines. *stock DL4J* = ND4J's and OpenBLAS's own "
              "threads and kernel detection, DL4J's built-in layers (`DEEPSHARD_NATIVE_DEFAULTS=1`, engine dl4j); *DL4J tuned* = "
              "bin/deepshard's settings (OpenBLAS kernel from the CPU flags, one native thread per task slot), engine dl4j; "
              "*onednn* = the same with `training.engine: onednn`. Targets: onednn >= 1.0x PyTorch for LeNet-5 and the MLP, "
              "inference >= 1.0x, 2 workers >= 0.9x one worker on the same cores, GEMM >= 85% of the measured peak.\n")
    table("bench/NATIVE_SUITE.md", header, lines)
    return extra


def vs_pytorch(out, rows, common):
    """Our one-worker rows against PyTorch-CPU's rows of the same run: img/s ratios (target: oneDNN path >= 1.0)."""
    refs = [dict(common, benchmark="vs-pytorch", variant=f"pytorch-{j['model']}", **j)
            for j in map(json.loads, open(os.path.join(out, "pytorch.jsonl"))) if j]
    ref = {r["model"]: r for r in refs}
    lines = []
    for r in rows:
        model = r["variant"].split("-")[0]
        p = ref.get(model, {})
        if "trainImagesPerSecond" in p:
            r["ratioVsPytorch"] = round(r["imagesPerSecond"] / p["trainImagesPerSecond"], 3)
        torch_cell = (f"{p['trainImagesPerSecond']:.0f} | {fmt(p['testAccuracy'])}" if "trainImagesPerSecond" in p
                      else f"unavailable ({p.get('unavailable', 'no row')}) | ")
        lines.append(f"| {r['date']} | {r['commit']} | {r['variant']} | {r['imagesPerSecond']:.0f} | {fmt(r['accFinal'])} | "
                     f"{torch_cell} | **{r.get('ratioVsPytorch', '')}** | {r['cpu']} ({'+'.join(r['cpuFlags'])}) | "
                     f"{r['openblasCoretype']} | {p.get('torch', '')} | `{r['command']}` |\n")
    header = ("# Deepshard vs PyTorch-CPU\n\nAppended by `bench/run vs-pytorch` (issue 7). One worker on one core "
              "(`local[1]`, one native thread, never averaging), 1 epoch of Fashion-MNIST, against "
              "`bench/torch_reference.py`: PyTorch-CPU training the identical model, optimizer and batch on one thread "
              "in the same run (its loop only; ours is the whole epoch through Spark). *ratio* = our img/s / "
              "PyTorch's; target for the oneDNN path: >= 1.0. Compare within a run only.\n\n"
              "| date | commit | variant | img/s | acc | PyTorch img/s | PyTorch acc | ratio | CPU | OpenBLAS | torch | command |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    table("bench/VS_PYTORCH.md", header, lines)
    return refs


def helpers(out, rows):
    """oneDNN layer helpers on vs off: pairs of variants <model>-builtin-<N>w / <model>-onednn-<N>w of one run."""
    by = {r["variant"]: r for r in rows}
    for r in rows:
        prov = json.load(open(os.path.join(out, r["variant"], "model", "provenance.json")))
        r["onednnLayerHelpers"] = prov.get("training", {}).get("onednnLayerHelpers", "")
    lines = []
    for label, on in by.items():
        if "-onednn-" not in label or label.replace("-onednn-", "-builtin-") not in by:
            continue
        off = by[label.replace("-onednn-", "-builtin-")]
        on["speedupVsBuiltin"] = round(on["imagesPerSecond"] / off["imagesPerSecond"], 3)
        lines.append(f"| {on['date']} | {on['commit']} | {label.split('-onednn-')[0]} | {on['workers']} | {on['epochs']} | "
                     f"{off['imagesPerSecond']:.0f} | {on['imagesPerSecond']:.0f} | **{on['speedupVsBuiltin']}** | "
                     f"{fmt(off['accFinal'])} | {fmt(on['accFinal'])} | {on['cpu']} ({'+'.join(on['cpuFlags'])}) | {on['openblasCoretype']} | "
                     f"`{on['command']}` |\n")
    header = ("# Native speed: DL4J's oneDNN layer helpers\n\nAppended by `bench/run helpers` (issue 7, step 1). Each pair runs "
              "in the same invocation: *built-in* = `-Dorg.eclipse.deeplearning4j.helpers.disable=true` (DL4J's own layers), "
              "*oneDNN* = the default (`OneDnnHelpers`: conv, pooling and batch norm on oneDNN). Speeds are comparable only "
              "within one row.\n\n| date | commit | model | workers | epochs | built-in img/s | oneDNN img/s | speed-up | "
              "built-in acc | oneDNN acc | CPU | OpenBLAS | command (oneDNN) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    table("bench/NATIVE.md", header, lines)


def scaling(out, rows):
    """Throughput against one process using every core, and the round overhead measured in the same runs."""
    base = next((r["imagesPerSecond"] for r in rows if r["variant"] == "single-process"), None)
    per_core = next((r["imagesPerSecond"] for r in rows if r["variant"] == "local-1w"), None)
    lines = []
    for r in rows:
        timings = [json.loads(l) for l in open(os.path.join(out, r["variant"], "rounds.jsonl"))]
        timings = [t for t in timings if t["round"] > 3]          # JIT and executors fetching the recipe
        r["roundSecondsMedian"] = round(statistics.median([t["seconds"] for t in timings]), 4)
        r["roundOverheadMedian"] = round(statistics.median([t["overhead"] + t["broadcast"] for t in timings]), 4)
        r["overheadShare"] = round(sum(t["overhead"] + t["broadcast"] for t in timings) / sum(t["seconds"] for t in timings), 4)
        if base:
            r["vsSingleProcess"] = round(r["imagesPerSecond"] / base, 3)
        if per_core:
            r["efficiencyVs1w"] = round(r["imagesPerSecond"] / (per_core * r["workers"]), 3)
        lines.append(f"| {r['date']} | {r['commit']} | {r['variant']} | {r['workers']} | {r['epochs']} | {r['imagesPerSecond']:.0f} | "
                     f"{r.get('vsSingleProcess', '')} | {r.get('efficiencyVs1w', '')} | {fmt(r['accFinal'])} | {r['roundSecondsMedian']} | "
                     f"{r['roundOverheadMedian']} | {r['overheadShare'] * 100:.1f}% | {r['cpu']} ({'+'.join(r['cpuFlags'])}) | `{r['command']}` |\n")
    header = ("# Scaling benchmark\n\nAppended by `bench/run scaling` (LeNet-5, Fashion-MNIST, batch 64 per worker, averaging every 5 "
              "steps). *vs single* = img/s / img/s of one process training one network with every core as ND4J threads "
              "(target for 2 workers: >= 0.90). *eff. vs 1w* = img/s / (workers x img/s of one 1-thread worker). Round "
              "times are medians after round 3; *overhead* = round time - slowest worker's compute (broadcast, scheduling, "
              "results, merge, averaging); *share* = overhead / round time over the run. Cost model: `docs/scaling.md`.\n\n"
              "| date | commit | variant | workers | epochs | img/s | vs single | eff. vs 1w | final acc | round s | overhead s | share | CPU | command |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    table("bench/SCALING.md", header, lines)


def rounds(common):
    rows = [dict(common, benchmark="rounds", command=os.environ["BENCH_CMD"].replace("<master>", json.loads(l)["master"]), **json.loads(l))
            for l in os.environ["BENCH_OUTPUT"].splitlines() if l.startswith("{")]
    header = ("# Round overhead benchmark\n\nAppended by `bench/run rounds`: real averaging rounds on random images (batch 2 per "
              "worker, averaging every step, Nesterov: the state is parameters + one momentum value each), medians after 15 "
              "warm-up rounds. *overhead* = round time - slowest worker's compute = broadcast wait + scheduling, shipping and "
              "merging results, averaging on the driver; *empty job* = a Spark job of one no-op task per worker; *load+extract* = "
              "copying the state into a network and out again; *serialize result* = one worker's result. Target: overhead "
              "<= 0.05 s for LeNet-5 (431k parameters) on local[N]. Cost model fitted to these rows: `docs/scaling.md`.\n\n"
              "| date | commit | master | executors | workers | model | parameters | state MB | round s | compute s | broadcast s | "
              "aggregate s | overhead s | p90 | empty job s | load+extract s | serialize result s | CPU |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    table("bench/ROUNDS.md", header, [
        f"| {r['date']} | {r['commit']} | {r['master']} | {r['executors']} | {r['workers']} | {r['row']} | {r['parameters']} | "
        f"{r['stateMB']} | {r['roundSeconds']} | {r['computeSeconds']} | {r['broadcastSeconds']} | {r['aggregateSeconds']} | "
        f"{r['overheadSeconds']} | {r['overheadP90Seconds']} | {r['emptyJobSeconds']} | {round(r['loadSeconds'] + r['extractSeconds'], 4)} | "
        f"{r['serializeResultSeconds']} | {r['cpu']} ({'+'.join(r['cpuFlags'])}) |\n"
        for r in rows])
    return rows


def soak(out, rows):
    """Executor memory at each epoch end over a long run, flat or growing: RSS from Spark's heartbeats, and the peaks of
    JavaCPP's own counts read by the training tasks (native = what JavaCPP tracks, which excludes ND4J 1.0.0-M2.1's arrays; physical = the process's RSS)."""
    def windows(series):
        # medians of the 5 epochs after the first (JIT, pools, workspaces set up) and of the last 5: single readings
        # swing by a few hundred MB with the garbage collector's heap sizing
        epochs = sorted(series)
        q = max(1, min(5, (len(epochs) - 1) // 2))
        return statistics.median(series[e] for e in epochs[1:1 + q]), statistics.median(series[e] for e in epochs[-q:])

    lines = []
    for r in rows:
        m = json.load(open(os.path.join(out, r["variant"], "metrics.json")))
        per, nat, phys = {}, {}, {}
        for e in m.get("executorMemory", []):
            if e["rssMb"] > 0:
                per.setdefault(e["executor"], {})[e["epoch"]] = e["rssMb"]
            if "nativeMb" in e:
                nat.setdefault(e["executor"], {})[e["epoch"]] = e["nativeMb"]
                phys.setdefault(e["executor"], {})[e["epoch"]] = e["physicalMb"]
        r["executorRssMb"], r["executorNativeMb"], r["executorPhysicalMb"] = per, nat, phys
        for ex, series in sorted(per.items()):
            epochs = sorted(series)
            if len(epochs) < 3:
                continue
            warm, late = windows(series)
            last, peak = series[epochs[-1]], max(series.values())
            growth = (late - warm) / warm
            r.setdefault("rssGrowthAfterEpoch2", {})[ex] = round(growth, 4)
            native = ["", "", "", ""]
            if len(nat.get(ex, {})) >= 3:
                nw, nl = windows(nat[ex])
                ngrowth = (nl - nw) / nw if nw else 0.0
                r.setdefault("nativeGrowthAfterEpoch2", {})[ex] = round(ngrowth, 4)
                native = [f"{nw:g}", f"{nl:g}", f"{ngrowth * 100:+.1f}%", str(max(phys[ex].values()))]
            lines.append(f"| {r['date']} | {r['commit']} | {r['variant']} | {ex} | {len(epochs)} | {series[epochs[0]]} | {warm:g} | "
                         f"{series[epochs[len(epochs) // 2]]} | {last} | {peak} | {growth * 100:+.1f}% | {' | '.join(native)} | `{r['command']}` |\n")
    header = ("# Soak benchmark: executor memory over a long run\n\nAppended by `bench/run soak`. Resident set size (RSS, MB) "
              "of each executor JVM's process tree, from Spark's executor heartbeats (`spark.executor.processTreeMetrics.enabled`), "
              "as recorded at each epoch end in `metrics.json` → `executorMemory`. *growth* = (median of the last 5 epochs − median of epochs 2–6) / the latter "
              "(rows before 2026-11-23 17:10: last − epoch 2); flat means |growth| within a few percent. *native* = the bytes JavaCPP "
              "tracks (`Pointer.totalBytes()`, what `maxbytes` bounds; ND4J 1.0.0-M2.1's arrays are not among them, so these stay near 0), the peak of each epoch's "
              "training tasks, medians over the same windows; *physical peak* = the highest `Pointer.physicalBytes()` "
              "(process RSS) a task read; the native columns are empty in rows recorded before they existed.\n\n| date | commit | variant | executor | epochs | RSS epoch 1 | "
              "epochs 2–6 | middle | last | peak | growth | native 2–6 | native last 5 | native growth | physical peak | command |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    table("bench/SOAK.md", header, lines)


def pipeline(common):
    rows = [dict(common, benchmark="pipeline", command=os.environ["BENCH_CMD"], **json.loads(l))
            for l in os.environ["BENCH_OUTPUT"].splitlines() if l.startswith("{")]
    header = ("# Data pipeline benchmark\n\nAppended by `bench/run pipeline`. One thread = one core. *ratio* = images the "
              "pipeline delivers / images training consumes, both per core and measured in the same process "
              "(target: >= 3).\n\n| date | commit | row | decode+augment img/s/core | model | train img/s/core | ratio | CPU | command |\n"
              "|---|---|---|---|---|---|---|---|---|\n")
    table("bench/PIPELINE.md", header, [
        f"| {r['date']} | {r['commit']} | {r['row']} | {r['decodeAugmentPerCore']} | {r['model']} | {r['trainPerCore']} | "
        f"{r['ratio']} | {r['cpu']} ({'+'.join(r['cpuFlags'])}) | `{r['command']}` |\n" for r in rows])
    return rows


def main():
    model, flags = cpu()
    # BENCH_DATE: re-recording an earlier run's directory keeps the date it was measured on
    common = dict(date=os.environ.get("BENCH_DATE") or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  commit=os.environ.get("BENCH_COMMIT", "unknown"), cpu=model, cpuFlags=flags, cores=os.cpu_count())
    kind = sys.argv[1]
    rows = pipeline(common) if kind == "pipeline" else rounds(common) if kind == "rounds" else training(sys.argv[2], sys.argv[3], common)
    with open("bench/results.jsonl", "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
