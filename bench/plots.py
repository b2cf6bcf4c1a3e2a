"""bench/plots.py - PNG plots of a bench/run.sh results file, drawn with
gnuplot (Debian package gnuplot-nox; scripts/setup.sh --bench). Used by
`report.py doc --plots DIR`; draw() returns [(file name, caption)].

Every plot shows each sample (one per round) as a point and the median as a
bar, so that the spread of a noisy machine stays visible."""
import os
import statistics
import subprocess
import tempfile

MiB = 1 << 20


def _run(script, tmp):
    path = os.path.join(tmp, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", path], check=True, timeout=60, capture_output=True)


def _bars_and_points(tmp, name, cats, series, ylabel, title, out, logscale=False, slanted=False):
    """cats: [label]; series: [(legend, {cat_index: [values]})] -> one PNG;
    slanted: the category labels at an angle (many or long ones)."""
    nser = len(series)
    width = 0.8 / nser
    plots = []
    for si, (legend, vals) in enumerate(series):
        med = os.path.join(tmp, f"{name}-{si}-med.dat")
        pts = os.path.join(tmp, f"{name}-{si}-pts.dat")
        with open(med, "w") as fm, open(pts, "w") as fp:
            for ci, _ in enumerate(cats):
                xs = vals.get(ci, [])
                if not xs:
                    continue
                x = ci - 0.4 + width * (si + 0.5)
                fm.write(f"{x} {statistics.median(xs)}\n")
                for v in xs:
                    fp.write(f"{x} {v}\n")
        plots.append(f"'{med}' using 1:2 with boxes lc {si + 1} fs transparent solid 0.35 title '{legend}'")
        plots.append(f"'{pts}' using 1:2 with points pt 7 ps 0.8 lc {si + 1} notitle")
    xtics = ", ".join(f'"{c}" {i}' for i, c in enumerate(cats))
    script = f"""set terminal pngcairo size 900,420 font ",10"
set output '{out}'
set title "{title}"
set ylabel "{ylabel}"
set xtics ({xtics}){" rotate by -30 offset -1,0" if slanted else ""}
{"set bmargin 5" if slanted else ""}
set xrange [-0.6:{len(cats) - 0.4}]
set boxwidth {width * 0.9}
set grid ytics
set key top right
{"set logscale y" if logscale else "set yrange [0:*]"}
plot {", ".join(plots)}
"""
    _run(script, tmp)


def draw(r, outdir, impls, names):
    os.makedirs(outdir, exist_ok=True)
    samples = r["samples"]
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        cats = [i for i in impls if any(x.get("client") == i and x.get("server") == i and x["kind"] == "upload"
                                        for x in samples)]
        if cats:
            series = []
            for kind in ("upload", "download"):
                vals = {}
                for ci, i in enumerate(cats):
                    vals[ci] = [(x["result"]["uploadBytes"] + x["result"]["downloadBytes"]) / MiB
                                / x["result"]["timeSeconds"]
                                for x in samples if x["kind"] == kind and x["client"] == i and x["server"] == i]
                series.append((kind, vals))
            _bars_and_points(tmp, "tp", [names[i] for i in cats], series, "MiB/s",
                             "One Noise+Yamux stream, /perf/1.0.0 (each implementation against itself)",
                             os.path.join(outdir, "throughput.png"))
            made.append(("throughput.png", "single-stream throughput, every sample and the median"))
            vals = {}
            for ci, i in enumerate(cats):
                vals[ci] = [1000 * x["result"]["timeSeconds"] / x["result"]["count"]
                            for x in samples if x["kind"] == "handshakes" and x["client"] == i and x["server"] == i]
            if any(vals.values()):
                _bars_and_points(tmp, "hs", [names[i] for i in cats], [("dial to identified and closed", vals)],
                                 "ms per connection (log)",
                                 "Connection latency: dial + Noise + Yamux + identify + close, sequential",
                                 os.path.join(outdir, "handshake-latency.png"), logscale=True)
                made.append(("handshake-latency.png", "time per sequential connection, every run and the median"))
        scats = [i for i in impls if any(x["kind"] == "streams" and x.get("server") == i for x in samples)]
        if scats:
            one, per = {}, {}
            for ci, i in enumerate(scats):
                one[ci] = [x["result"]["uploadBytes"] / MiB / x["result"]["timeSeconds"]
                           for x in samples if x["kind"] == "streams1" and x["server"] == i]
                per[ci] = [v for x in samples if x["kind"] == "streams" and x["server"] == i
                           for v in x["result"]["perStreamMiBs"]]
            agg = {ci: [x["result"]["uploadBytes"] / MiB / x["result"]["timeSeconds"]
                        for x in samples if x["kind"] == "streams" and x["server"] == i] for ci, i in enumerate(scats)}
            n = r["params"].get("streams", 16)
            _bars_and_points(tmp, "st", [names[i] for i in scats],
                             [("1 stream", one), (f"{n} streams, aggregate", agg), (f"{n} streams, each", per)],
                             "MiB/s", f"C client, {n} concurrent streams on one connection vs one stream",
                             os.path.join(outdir, "streams.png"))
            made.append(("streams.png", "concurrent streams: aggregate, and each stream's rate (fairness)"))
        # (j): relayed and direct on shaped links, one bar group per
        # endpoints/path (SCHED_FIFO samples as their own groups)
        sh = [x for x in samples if x["kind"] in ("shaped-direct", "shaped-relayed")]
        if sh:
            keys = []
            for x in sh:
                k = (x["client"], x["relay"], x.get("sched", "other"))
                if k not in keys:
                    keys.append(k)
            keys.sort(key=lambda k: (impls.index(k[0]), k[2] != "other", k[1] != "", k[1] and impls.index(k[1])))
            label = lambda k: f"{k[0]} {'direct' if not k[1] else 'via ' + k[1]}{' FIFO' if k[2] == 'fifo' else ''}"
            series = []
            for d in ("upload", "download"):
                series.append((d, {ci: [(x["result"]["uploadBytes"] + x["result"]["downloadBytes"]) / MiB
                                        / x["result"]["timeSeconds"] for x in sh
                                        if (x["client"], x["relay"], x.get("sched", "other")) == k
                                        and x["direction"] == d] for ci, k in enumerate(keys)}))
            rate = sh[0]["rateMbit"]
            _bars_and_points(tmp, "sh", [label(k) for k in keys], series, "MiB/s",
                             f"Relayed vs direct on {rate} Mbit/s links (network namespaces)",
                             os.path.join(outdir, "relay-shaped.png"), slanted=True)
            made.append(("relay-shaped.png", f"relayed vs direct where the network ({rate} Mbit/s) is the limit"))
        gl = [x for x in samples if x["kind"] == "gossip" and x.get("rate") == 1000 and x.get("signed", True) and x.get("sched", "other") != "fifo"]
        if gl:
            # one colour per implementation (samples without "impl" are C's)
            gimpls = [i for i in impls if any(x.get("impl", "c") == i for x in gl)]
            lines = []
            titled = set()
            for gi, x in enumerate(gl):
                gimpl = x.get("impl", "c")
                for si, sb in enumerate(x["subscribers"]):
                    path = os.path.join(tmp, f"g-{gi}-{si}.dat")
                    with open(path, "w") as f:
                        for pct, us in enumerate(sb["cdfUs"]):
                            f.write(f"{max(us, 1) / 1000} {pct}\n")
                    first = gimpl not in titled
                    titled.add(gimpl)
                    lines.append(f"'{path}' using 1:2 with lines lc {gimpls.index(gimpl) + 1} "
                                 + (f"title '{names[gimpl]}'" if first else "notitle"))
            script = f"""set terminal pngcairo size 900,420 font ",10"
set output '{os.path.join(outdir, "gossip-latency.png")}'
set title "Gossipsub, 1 KiB at 1,000 msg/s, 1 publisher -> 4 subscribers: latency CDF (one line per subscriber and round)"
set xlabel "publish to delivery, ms (log)"
set ylabel "percentile"
set logscale x
set grid
set key bottom right
set yrange [0:100]
plot {", ".join(lines)}
"""
            _run(script, tmp)
            made.append(("gossip-latency.png", "gossipsub delivery latency distribution at 1,000 msg/s"))
    return made
