#!/usr/bin/env python3
"""bench/report.py - results file and tables of bench/run.sh.

  report.py collect --samples FILE.jsonl --out RESULTS.json ...
      machine description, versions, every sample and the summaries
  report.py doc --results RESULTS.json --doc docs/BENCHMARKS.md [--plots DIR]
      regenerate the generated part of docs/BENCHMARKS.md; the text after
      the line '<!-- analysis -->' (written by hand) is kept; with --plots,
      draw PNG plots into DIR with gnuplot (bench/plots.py) and link them
"""
import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys

MiB = 1 << 20
GiB = 1 << 30
IMPLS = ["c", "rust", "go", "js", "rust1", "go1"]
NAMES = {"c": "C (this project)", "rust": "rust-libp2p", "go": "go-libp2p", "js": "js-libp2p",
         "rust1": "rust-libp2p, 1 thread", "go1": "go-libp2p, GOMAXPROCS=1"}
MARK = "<!-- analysis -->"


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f"{kib / (1 << 20):.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "os": os_name,
        "cc": sh("cc", "--version").splitlines()[0] if sh("cc", "--version") else "",
        "rustc": sh("rustc", "--version"),
        "go": sh("go", "version"),
        "node": sh("node", "--version"),
        "libsodium": sh("pkg-config", "--modversion", "libsodium"),
        "libuv": sh("pkg-config", "--modversion", "libuv"),
    }


def lock_versions(rust_lock, go_mod, js_lock):
    v = {}
    try:
        text = open(rust_lock).read()
        for name in ["libp2p", "libp2p-noise", "libp2p-yamux", "libp2p-tcp", "yamux", "tokio"]:
            found = re.findall(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), text)
            if found:
                v["rust " + name] = ", ".join(found)
    except OSError:
        pass
    try:
        for line in open(go_mod):
            m = re.match(r"\s*(github.com/libp2p/go-libp2p|github.com/libp2p/go-yamux/v5|github.com/flynn/noise) (v\S+)", line)
            if m:
                v["go " + m.group(1).replace("github.com/", "")] = m.group(2)
    except OSError:
        pass
    try:
        pkgs = json.load(open(js_lock)).get("packages", {})
        for name in ["libp2p", "@libp2p/tcp", "@libp2p/noise", "@libp2p/yamux", "@chainsafe/as-chacha20poly1305"]:
            p = pkgs.get("node_modules/" + name)
            if p:
                v["js " + name] = p["version"]
    except (OSError, ValueError):
        pass
    return v


def stats(xs):
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fairness(rates):
    return min(rates) / max(rates) if rates and max(rates) > 0 else None


def summarize(samples):
    s = {"throughput": {}, "handshakes": {}, "ceilings": {}, "streams": {}, "idle": {}, "gossip": {}, "relay": {},
         "gossipNet": {}, "shaped": {}}
    groups = {}
    for x in samples:
        k = x["kind"]
        if k in ("streams1", "streams"):
            r = x["result"]
            g = groups.setdefault(("s", x["server"]), {})
            g.setdefault(k, []).append(r["uploadBytes"] / MiB / r["timeSeconds"])
            if k == "streams":
                g.setdefault("fair", []).append(fairness(r["perStreamMiBs"]))
            continue
        if k == "idle-rss":
            r = x["result"]
            s["idle"][x["server"]] = {
                "count": r["count"], "rssBeforeKiB": r["rssBeforeKiB"], "rssAfterKiB": r["rssAfterKiB"],
                "kibPerConn": (r["rssAfterKiB"] - r["rssBeforeKiB"]) / r["count"],
                "connectSeconds": r["connectSeconds"]}
            continue
        if k == "gossip-net":
            r = x["result"]
            key = ("signed" if x.get("signed", True) else "unsigned") + ("-rt" if x.get("sched") == "fifo" else "")
            g = groups.setdefault(("n", key), {"p50": [], "p99": [], "max": [], "lost": [], "cpuMsPerMsg": [],
                                               "hosts": [], "rate": [], "copiesPerMsg": [],
                                               "cancelledPerMsg": [], "dupPerMsg": [], "cpuUsPerCopy": [],
                                               "tablePct": []})
            for f in ("p50", "p99", "max"):
                g[f].append(r[f + "Us"] / 1000 if r[f + "Us"] is not None else None)
            g["lost"].append(r["lost"])
            g["cpuMsPerMsg"].append(r["cpuSeconds"] * 1000 / r["count"])
            g["hosts"].append(r["hosts"])
            g["rate"].append(x["rate"])
            if "copies" in r:   # runs before 2026-11-27e have no copy counts
                n = r["count"]
                g["copiesPerMsg"].append(r["copies"] / n)
                g["cancelledPerMsg"].append(r["cancelled"] / n)
                g["dupPerMsg"].append(r["duplicates"] / n)
                if r["copies"]:
                    g["cpuUsPerCopy"].append(r["cpuDeliverySeconds"] * 1e6 / r["copies"])
            if r.get("verifyFast", 0) + r.get("verifySlow", 0):   # since 2026-11-27g
                g["tablePct"].append(100 * r["verifyFast"] / (r["verifyFast"] + r["verifySlow"]))
            continue
        if k == "gossip":
            pub, subs = x["result"], x["subscribers"]
            # "<impl>:<rate>[-unsigned][-rt]" (samples without "impl" are C's)
            key = x.get("impl", "c") + ":" + str(x["rate"]) + ("" if x.get("signed", True) else "-unsigned") + (
                "-rt" if x.get("sched") == "fifo" else "")
            g = groups.setdefault(("g", key), {"pubRate": [], "deliveredRate": [], "p50": [], "p99": [],
                                                     "max": [], "eagain": [], "lost": [], "cpuUsPerMsg": []})
            if x.get("pubEnd") and "cpuSeconds" in subs[0]:
                cpu = x["pubEnd"]["cpuSeconds"] + sum(sb["cpuSeconds"] for sb in subs)
                g["cpuUsPerMsg"].append(cpu * 1e6 / pub["sent"])
            g["pubRate"].append(pub["sent"] / pub["timeSeconds"] if pub["timeSeconds"] > 0 else None)
            last = max(sb["lastNs"] for sb in subs)
            g["deliveredRate"].append(pub["sent"] / ((last - pub["startNs"]) / 1e9) if last > pub["startNs"] else None)
            g["p50"].append(statistics.median(sb["p50Us"] for sb in subs) / 1000)
            g["p99"].append(max(sb["p99Us"] for sb in subs) / 1000)
            g["max"].append(max(sb["maxUs"] for sb in subs) / 1000)
            g["eagain"].append(pub["eagain"])
            g["lost"].append(sum(pub["sent"] - sb["received"] for sb in subs))
            continue
        if k == "relay-capacity":
            s.setdefault("relayCapacity", []).append(x["result"])
            continue
        if k == "kad-lookup":
            s.setdefault("kad", []).append(x["result"])
            continue
        if k == "shaped-failed":
            s.setdefault("shapedFailed", []).append(
                f"{x['client']} {x['direction']} " + (f"through {x['relay']}'s relay" if x["relay"] else "direct")
                + f" (round {x['round']})")
            continue
        if k in ("shaped-direct", "shaped-relayed"):
            # (j): "<endpoints>@<relay or direct>", per direction; CPU as
            # the share of one core over the transfer (the client's from
            # its start: an upper bound)
            r = x["result"]
            t = r["timeSeconds"]
            g = groups.setdefault(("x", x.get("sched", "other"), x["client"], x["relay"] or "direct", x["direction"]), {
                "MiBs": [], "clientCpu": [], "serverCpu": [], "relayCpu": [], "relayRssKiB": [], "relayHwmKiB": [],
                "rateMbit": []})
            g["MiBs"].append((r["uploadBytes"] + r["downloadBytes"]) / MiB / t)
            for f in ("clientCpu", "serverCpu", "relayCpu"):
                if x[f] is not None:
                    g[f].append(x[f] / t)
            for f in ("relayRssKiB", "relayHwmKiB", "rateMbit"):
                if x[f] is not None:
                    g[f].append(x[f])
            continue
        if k == "relayed":
            # server "circuit-<relay impl>[-<server impl>]" (older files:
            # "circuit", the C relay); the client is the endpoints' impl
            r = x["result"]
            relay = x["server"].split("-")[1] if x["server"].startswith("circuit-") else "c"
            groups.setdefault(("r", relay, x["client"]), {"rate": []})["rate"].append(
                r["uploadBytes"] / MiB / r["timeSeconds"])
            continue
        if k in ("upload", "download"):
            r = x["result"]
            moved = r["uploadBytes"] + r["downloadBytes"]
            g = groups.setdefault(("t", k, x["client"], x["server"]), {"rate": [], "cpu": []})
            g["rate"].append(moved / MiB / r["timeSeconds"])
            g["cpu"].append((x["clientCpu"] + x["serverCpu"]) / (moved / GiB))
        elif k == "handshakes":
            r = x["result"]
            g = groups.setdefault(("h", x["client"], x["server"]), {"rate": [], "cpu": []})
            g["rate"].append(r["count"] / r["timeSeconds"])
            g["cpu"].append((x["clientCpu"] + x["serverCpu"]) * 1000 / r["count"])
        elif k == "handshakes-first":
            r = x["result"]
            g = groups.setdefault(("hf", x["server"]), {"rate": [], "cpu": [], "serverCpu": []})
            g["rate"].append(r["count"] / r["timeSeconds"])
            g["cpu"].append((x["clientCpu"] + x["serverCpu"]) * 1000 / r["count"])
            g["serverCpu"].append(x["serverCpu"] * 1000 / r["count"])
        elif k == "ceiling-tcp":
            groups.setdefault(("c", "tcp"), {}).setdefault("MiBs", []).append(x["result"]["MiBs"])
        elif k == "ceiling-handshake":
            g = groups.setdefault(("c", "handshake"), {})
            for f in ("handshakesPerCoreSecond", "connectionUs", "x25519KeygenUs", "x25519DhUs", "ed25519SignUs",
                      "ed25519VerifyUs"):
                g.setdefault(f, []).append(x["result"][f])
            o = x["result"].get("openssl")
            if o:
                g.setdefault("opensslHandshakesPerCoreSecond", []).append(o["handshakesPerCoreSecond"])
        elif k == "ceiling-aead":
            g = groups.setdefault(("c", "aead"), {})
            for f in ("encryptMiBs", "decryptMiBs", "encryptDecryptMiBs", "opensslEncryptMiBs", "opensslDecryptMiBs"):
                if f in x["result"]:
                    g.setdefault(f, []).append(x["result"][f])
    for key, g in groups.items():
        if key[0] == "t":
            s["throughput"].setdefault(key[1], {})[f"{key[2]}->{key[3]}"] = {
                "MiBs": stats(g["rate"]), "cpuSecondsPerGiB": stats(g["cpu"])}
        elif key[0] == "h":
            s["handshakes"][f"{key[1]}->{key[2]}"] = {
                "perSecond": stats(g["rate"]), "cpuMsPerHandshake": stats(g["cpu"])}
        elif key[0] == "hf":
            s.setdefault("handshakesFirst", {})[key[1]] = {
                "perSecond": stats(g["rate"]), "cpuMsPerHandshake": stats(g["cpu"]),
                "serverCpuMs": stats(g["serverCpu"])}
        elif key[0] == "s":
            s["streams"][key[1]] = {"one": stats(g.get("streams1", [])), "many": stats(g.get("streams", [])),
                                    "fairness": stats([f for f in g.get("fair", []) if f is not None])}
        elif key[0] == "g":
            s["gossip"][str(key[1])] = {f: stats([v for v in vs if v is not None]) for f, vs in g.items()}
        elif key[0] == "n":
            s["gossipNet"][str(key[1])] = {f: stats([v for v in vs if v is not None]) for f, vs in g.items()}
        elif key[0] == "r":
            s["relay"][f"{key[2]}@{key[1]}"] = {"MiBs": stats(g["rate"])}
        elif key[0] == "x":
            s["shaped"].setdefault(key[1], {}).setdefault(f"{key[2]}@{key[3]}", {})[key[4]] = {
                f: stats(v) for f, v in g.items()}
        else:
            s["ceilings"][key[1]] = {f: stats(v) for f, v in g.items()}
    return s


def collect(a):
    samples = [json.loads(line) for line in open(a.samples) if line.strip()]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rev = sh("git", "-C", root, "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", root, "status", "--porcelain", "--untracked-files=no")
    res = {
        "date": a.started,
        "revision": a.revision or rev + (" with uncommitted changes" if dirty else ""),
        "command": a.command,
        "durationSeconds": a.seconds,
        "params": {"reps": a.reps, "bytes": a.bytes, "handshakes": a.handshakes, "nice": a.nice,
                   "streams": a.streams, "idle": a.idle, "gossip": a.gossip, "gossipOthers": a.gossip_others,
                   "gossip100": a.gossip100, "gossip100Shape": a.gossip100_shape,
                   "relayCapacity": a.relay_capacity, "relayCircuits": a.relay_circuits,
                   "kad": a.kad, "kadLookups": a.kad_lookups, "shapedRateMbit": a.shaped_rate,
                   "shapedBytes": a.shaped_bytes, "shapedSkipped": a.shaped_skipped},
        "loadavg": {"start": a.load_start, "end": a.load_end},
        "machine": machine(),
        "versions": lock_versions(a.rust_lock, a.go_mod, a.js_lock),
        "samples": samples,
    }
    res["summary"] = summarize(samples)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


def aead_rates(ae):
    """(library, encrypt, decrypt) medians of the AEAD the noise plugin
    uses: OpenSSL's when the run measured it (plugins/noise/noise_aead.c
    prefers it), else libsodium's."""
    lib, encf, decf = ("OpenSSL", "opensslEncryptMiBs", "opensslDecryptMiBs") if ae.get("opensslEncryptMiBs") \
        else ("libsodium", "encryptMiBs", "decryptMiBs")
    enc, dec = ae.get(encf), ae.get(decf)
    return lib, enc and enc["median"], dec and dec["median"]


def relay_ceiling(enc, dec, cores=2):
    """The CPU-bound ceilings of one stream on loopback if the AEAD were
    all the work: direct, the sender encrypts once and the receiver
    decrypts once, each on its own core; relayed, three processes share
    the cores: the client encrypts twice (inner and outer Noise), the relay
    decrypts and encrypts once, the server decrypts twice (6 passes
    against 2). Returns (direct MiB/s, relayed MiB/s)."""
    direct = min(enc, dec, cores / (1 / enc + 1 / dec))
    relayed = min(cores / (3 / enc + 3 / dec), enc / 2, dec / 2, 1 / (1 / enc + 1 / dec))
    return direct, relayed


def fmt(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def ratio(a, b):
    return "—" if not a or not b else f"{a / b:.2f}"


def doc(a):
    r = json.load(open(a.results))
    # from the samples, so that older results files get the current tables
    s = summarize(r["samples"])
    m = r["machine"]
    p = r["params"]
    L = []
    w = L.append
    w("# Benchmarks")
    w("")
    w("Generated by `bench/run.sh` (tables: `bench/report.py doc`; the raw samples are in")
    w(f"`bench/results/{os.path.basename(a.results)}`). The analysis at the end is written by hand.")
    w("")
    w(f"- **Machine**: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['os']}, Linux {m['kernel']}.")
    w("  A shared machine: other jobs ran during the benchmark (load average "
      f"{r['loadavg']['start'].split()[0]} at the start, {r['loadavg']['end'].split()[0]} at the end; "
      "each sample's load is in the results file), so compare within one run only.")
    w(f"- **Toolchains**: {m['cc']}; {m['rustc']}; {m['go']}; node {m['node']}; libsodium {m['libsodium']}, libuv {m['libuv']}.")
    w("- **Versions**: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()) + ".")
    w(f"- **Command**: `{r['command']}` ({r['date']}, {r['durationSeconds']} s including builds that were up to date); "
      f"C built from {r.get('revision', '?')}.")
    w(f"- **Parameters**: {p['reps']} repetitions of each measurement; {p['bytes'] / GiB:g} GiB per throughput run; "
      f"{p['handshakes']} connections per handshake run; every benchmark process at nice {p.get('nice', 0)}.")
    w("- **Setup**: every peer is a separate process on 127.0.0.1 (client and server of a pair share the 2 cores); "
      "TCP + Noise + Yamux with each library's defaults, identify and ping enabled on both sides. "
      "C: `p2pchat -c bench/peers/c/server.ini` (server), `p2pchat perf` (client), `bench/peers/c/cbench` (handshakes); "
      "rust: multi-threaded tokio runtime (\"1 thread\": a current-thread runtime); go: default GOMAXPROCS "
      "(2 here); js: Node's one thread. The C peer is one libuv loop, i.e. one thread.")
    w("")

    w(f"## Throughput: one Noise + Yamux stream, /perf/1.0.0, {p['bytes'] / GiB:g} GiB")
    w("")
    w("MiB/s = bytes / time from the stream's opening to the server's close (the perf client's `final` line). "
      "CPU s/GiB = user + system CPU seconds of client and server together per GiB moved (median): "
      "what the machine spends, less sensitive to other load than the wall-clock rate.")
    w("")
    w("| client → server | direction | MiB/s median | min | max | CPU s/GiB | C ÷ this (MiB/s) | C ÷ this (CPU) |")
    w("|---|---|---:|---:|---:|---:|---:|---:|")
    tp = s["throughput"]
    for kind in ("upload", "download"):
        c = tp.get(kind, {}).get("c->c")
        for i in IMPLS:
            e = tp.get(kind, {}).get(f"{i}->{i}")
            if not e:
                continue
            w(f"| {NAMES[i]} | {kind} | {fmt(e['MiBs']['median'])} | {fmt(e['MiBs']['min'])} | {fmt(e['MiBs']['max'])} "
              f"| {fmt(e['cpuSecondsPerGiB']['median'], 2)} "
              f"| {'' if i == 'c' else ratio(c and c['MiBs']['median'], e['MiBs']['median'])} "
              f"| {'' if i == 'c' else ratio(e['cpuSecondsPerGiB']['median'], c and c['cpuSecondsPerGiB']['median'])} |")
    w("")
    w("\"C ÷ this (CPU)\" > 1 means C spends less CPU per byte.")
    w("")
    mixed = {k: v for k, v in tp.get("upload", {}).items() if k.split("->")[0] != k.split("->")[1]}
    if mixed:
        w(f"### C against the other implementations (upload, {p['bytes'] / GiB:g} GiB)")
        w("")
        w("| client → server | MiB/s median | min | max | CPU s/GiB |")
        w("|---|---:|---:|---:|---:|")
        for i in IMPLS[1:]:
            for k in (f"c->{i}", f"{i}->c"):
                e = mixed.get(k)
                if e:
                    cl, sv = k.split("->")
                    w(f"| {NAMES[cl]} → {NAMES[sv]} | {fmt(e['MiBs']['median'])} | {fmt(e['MiBs']['min'])} "
                      f"| {fmt(e['MiBs']['max'])} | {fmt(e['cpuSecondsPerGiB']['median'], 2)} |")
        w("")

    w(f"## Handshakes: sequential dial + Noise + Yamux + identify + close, {p['handshakes']} per run")
    w("")
    w("One client dials the server again and again, waits for the server's identify on the new connection "
      "(go's `Connect` waits for it by design), closes the connection and waits until it is closed.")
    w("")
    hc = s["ceilings"].get("handshake", {})
    hceil = hc.get("handshakesPerCoreSecond", {}).get("median")
    hcost = hc.get("connectionUs", {}).get("median")
    if hceil:
        w(f"\"÷ crypto ceiling\" = connections/s ÷ the handshake crypto ceiling of the same run "
          f"({fmt(hceil)} connections per core-second: both sides' X25519 and Ed25519 operations, "
          "see the ceilings below; target for C ≥ 0.5); \"crypto share\" = that cryptography's CPU time "
          f"({fmt(hcost and hcost / 1000, 2)} ms per connection) ÷ the CPU ms per connection measured.")
        w("")
    w("| implementation | connections/s median | min | max | CPU ms per connection | C ÷ this "
      "| ÷ crypto ceiling | crypto share |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    hs = s["handshakes"]
    c = hs.get("c->c")
    for i in IMPLS:
        e = hs.get(f"{i}->{i}")
        if e:
            w(f"| {NAMES[i]} | {fmt(e['perSecond']['median'])} | {fmt(e['perSecond']['min'])} | {fmt(e['perSecond']['max'])} "
              f"| {fmt(e['cpuMsPerHandshake']['median'], 2)} | {'' if i == 'c' else ratio(c and c['perSecond']['median'], e['perSecond']['median'])} "
              f"| {ratio(e['perSecond']['median'], hceil)} "
              f"| {ratio(hcost and hcost / 1000, e['cpuMsPerHandshake']['median'])} |")
    w("")
    hf = s.get("handshakesFirst", {})
    if hf:
        w("First contact: the C client (`cbench handshakes --identities N`) dials each server N times from N "
          "identities made before the clock starts, so every connection is a peer the server has not met: it "
          "verifies a new Noise identity signature and a new signed peer record each time, as the crypto "
          "ceiling counts (both sides: 2 Ed25519 verifications each). Above, every client dials with one "
          "identity and servers keep what they verified of it. Server CPU = the server process's CPU time per "
          "connection (the C client's N hosts share one loop, so the client's share says little of the "
          "server's implementation).")
        w("")
        w("| C client → server | connections/s median | min | max | CPU ms per connection | server CPU ms "
          "| ÷ crypto ceiling |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        for i in IMPLS:
            e = hf.get(i)
            if e:
                w(f"| {NAMES[i]} | {fmt(e['perSecond']['median'])} | {fmt(e['perSecond']['min'])} "
                  f"| {fmt(e['perSecond']['max'])} | {fmt(e['cpuMsPerHandshake']['median'], 2)} "
                  f"| {fmt(e['serverCpuMs']['median'], 2)} "
                  f"| {ratio(e['perSecond']['median'], hceil) if i == 'c' else ''} |")
        w("")

    st = s.get("streams", {})
    if st:
        n = p.get("streams", 16)
        w(f"## Concurrent streams: {n} /perf/1.0.0 uploads on one connection")
        w("")
        w(f"The C client (`cbench streams`) opens one connection to each server, then {n} streams at once, "
          f"each uploading {p['bytes'] / n / MiB:g} MiB ({p['bytes'] / GiB:g} GiB in all), against one stream of "
          f"{p['bytes'] / GiB:g} GiB by the same client on a fresh connection. Aggregate = all bytes / time to the "
          "last stream's end; fairness = slowest ÷ fastest stream (each stream's bytes over its own duration; "
          "1 = perfectly fair; target ≥ 0.8).")
        w("")
        w(f"| C client → server | 1 stream MiB/s | {n} streams MiB/s (aggregate) | min | max | {n} ÷ 1 "
          "| fairness median | fairness min |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for i in IMPLS:
            e = st.get(i)
            if not e or not e["many"]:
                continue
            w(f"| {NAMES[i]} | {fmt(e['one'] and e['one']['median'])} | {fmt(e['many']['median'])} "
              f"| {fmt(e['many']['min'])} | {fmt(e['many']['max'])} "
              f"| {ratio(e['many']['median'], e['one'] and e['one']['median'])} "
              f"| {fmt(e['fairness'] and e['fairness']['median'], 2)} | {fmt(e['fairness'] and e['fairness']['min'], 2)} |")
        w("")

    idl = s.get("idle", {})
    if idl:
        c_idle = idl.get("c")
        w(f"## Memory per idle connection ({p.get('idle', 1000):,} connections)")
        w("")
        w("A fresh server of each implementation; `cbench idle` (one process, one host per connection, each "
          "with its own identity) opens the connections, waits until every one is identified and holds them "
          "(ping running). RSS of the server before and 2 s after; one sample per run (first round). "
          "Target for C: ≤ 16 KiB per connection.")
        w("")
        w("| server | RSS before KiB | RSS after KiB | KiB per connection | this ÷ C | set-up time s |")
        w("|---|---:|---:|---:|---:|---:|")
        for i in IMPLS:
            e = idl.get(i)
            if e:
                w(f"| {NAMES[i]} | {fmt(e['rssBeforeKiB'])} | {fmt(e['rssAfterKiB'])} | {fmt(e['kibPerConn'], 1)} "
                  f"| {'' if i == 'c' else ratio(e['kibPerConn'], c_idle and c_idle['kibPerConn'])} "
                  f"| {fmt(e['connectSeconds'], 1)} |")
        w("")

    gs = s.get("gossip", {})
    if gs:
        w("## Gossipsub: 1 KiB messages, 1 publisher → 4 subscribers")
        w("")
        w("Each implementation with itself, five processes (C: `cbench gossip-pub` and 4 × `cbench gossip-sub`; "
          "rust, go, js: the interop peers' `gossip-pub` / `gossip-sub`, the same contract), each with its own "
          "default signing (signed; strict-sign), then unsigned (strict-no-sign: rust anonymous, go "
          "WithNoAuthor, js StrictNoSign). "
          f"\"As fast as accepted\": {p.get('gossip', 0):,} messages (the others: {p.get('gossipOthers') or p.get('gossip', 0):,}), "
          "the publisher retrying a refused publish (C: P2P_EAGAIN, every send queue full; rust: "
          "AllQueuesFull; js: a publish that throws) on its next 1 ms tick (go's Publish never refuses: a "
          "full peer queue drops the message); published/s = messages / time to the "
          "last accepted publish, delivered/s = messages / time from the first publish to the last delivery "
          "at the slowest subscriber. \"lost\" counts messages publish accepted that some subscriber never "
          "got (silent loss; C must have 0). Latency = "
          "publish call to delivery, one clock (CLOCK_MONOTONIC, written into each message by the publisher) "
          "for all processes; p50 is the median of "
          "the subscribers', p99 and max the worst subscriber's.")
        w("")
        unfinished = sorted({(x["impl"], x["rate"], x.get("signed", True)) for x in r["samples"]
                             if x["kind"] == "gossip-unfinished"})
        if unfinished:
            w("Runs whose publisher did not finish before every subscriber gave up (10 s without a message; "
              "not in the table): " + ", ".join(f"{NAMES[i]} at {'as fast as accepted' if rt == 0 else f'{rt}/s'}"
                                                 f"{'' if sg else ' unsigned'}" for i, rt, sg in unfinished) + ".")
            w("")
        w("CPU µs/msg: user + system CPU of the publisher and the 4 subscribers per message (C only).")
        w("")
        w("| implementation | run | published/s | delivered/s | EAGAIN | lost | p50 ms | p99 ms | max ms | CPU µs/msg |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for impl in IMPLS:
            for rate, label in (("0", "signed, as fast as accepted"), ("1000", "signed, 1,000 msg/s"),
                                ("0-unsigned", "unsigned (strict-no-sign), as fast as accepted"),
                                ("1000-unsigned", "unsigned, 1,000 msg/s"),
                                ("1000-rt", "signed, 1,000 msg/s, SCHED_FIFO"),
                                ("1000-unsigned-rt", "unsigned, 1,000 msg/s, SCHED_FIFO")):
                e = gs.get(f"{impl}:{rate}")
                if not e:
                    continue
                med = lambda f: e[f]["median"] if e.get(f) else None
                w(f"| {NAMES[impl]} | {label} | {fmt(med('pubRate'))} | {fmt(med('deliveredRate'))} | {fmt(med('eagain'))} "
                  f"| {fmt(e['lost']['max'] if e.get('lost') else None)} "
                  f"| {fmt(med('p50'), 2)} | {fmt(med('p99'), 2)} | {fmt(med('max'), 2)} | {fmt(med('cpuUsPerMsg'), 1)} |")
        w("")
        w("Medians over the rounds; \"lost\" is the worst round. CPU µs/msg: the CPU time (user + system) of "
          "all five processes over the whole run, divided by the messages (what the run would need of an idle "
          "machine's cores per message). SCHED_FIFO (`--rt`): every process under `chrt -f 10`, so that the "
          "machine's other jobs do not delay it.")
        w("")

    gn = s.get("gossipNet", {})
    if gn:
        w(f"## Gossipsub: {p.get('gossip100Shape') or '100 peers'} (C only)")
        w("")
        w("`cbench gossip-net` processes, each running its hosts (own identities) on one libuv loop; each host "
          "dials 3 random others and the next one (a connected graph), the mesh forms by GRAFT/PRUNE with the "
          "default parameters (D = 6). After a warm-up, one host publishes "
          f"{p.get('gossip100', 0):,} messages of 1 KiB. Latency of a message = publish call to its delivery at "
          "the LAST of all other peers (one clock for all processes); \"lost\" = messages some peer never "
          "got. CPU ms/msg: all processes' CPU time (warm-up included) per message. Copies/msg: copies "
          "of a message sent between hosts (each host's `p2p_gossipsub_messages_total` forwarded minus "
          "cancelled, summed), of which the first to reach each of the 99 receivers is needed; "
          "cancelled/msg: copies queued and taken out unsent because the peer's own copy or IDONTWANT came "
          "first; duplicates/msg: copies read by hosts that had the message. CPU µs/copy: all processes' "
          "CPU from each one's first delivery to its end, divided by the copies sent (a copy's sending and "
          "reading, and everything else the hosts did meanwhile). Tables: the share of the processes' "
          "Ed25519 verifications (messages, handshakes, records) done with the key's precomputed table "
          "(`p2p_verify_cache_stats`).")
        w("")
        w("| run | peers | msg/s | lost | p50 ms | p99 ms | max ms | CPU ms/msg | copies/msg | cancelled/msg "
          "| duplicates/msg | CPU µs/copy | tables % |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key, label in (("signed", "signed"), ("unsigned", "unsigned"), ("signed-rt", "signed, SCHED_FIFO"),
                           ("unsigned-rt", "unsigned, SCHED_FIFO")):
            e = gn.get(key)
            if not e:
                continue
            med = lambda f: e[f]["median"] if e.get(f) else None
            w(f"| {label} | {fmt(med('hosts'))} | {fmt(med('rate'))} "
              f"| {fmt(e['lost']['max'] if e.get('lost') else None)} "
              f"| {fmt(med('p50'), 2)} | {fmt(med('p99'), 2)} | {fmt(med('max'), 2)} | {fmt(med('cpuMsPerMsg'), 2)} "
              f"| {fmt(med('copiesPerMsg'))} | {fmt(med('cancelledPerMsg'))} | {fmt(med('dupPerMsg'))} "
              f"| {fmt(med('cpuUsPerCopy'), 1)} | {fmt(med('tablePct'))} |")
        w("")

    rl = s.get("relay", {})
    if rl:
        direct = tp.get("upload", {}).get("c->c")
        w(f"## Relayed stream: one upload through a circuit relay, {p['bytes'] / GiB:g} GiB")
        w("")
        w("`p2pchat -c bench/peers/c/relayed.ini perf <relay>/p2p-circuit/p2p/<server>`: a C client, a relay "
          "and a C server (`bench/peers/c/relayed.ini`, reserved on the relay), three processes; the relay is "
          "each implementation's circuit relay v2 server without circuit byte or time limits (C: "
          "`bench/peers/c/relay.ini`; rust, go, js: the interop peers' `relay --unlimited`: rust "
          "max_circuit_bytes u64::MAX, go WithInfiniteLimits, js applyDefaultLimit false). The relay decrypts "
          "and re-encrypts the outer Noise session of each side, the inner one is end to end. "
          "Target for the C relay: ≥ 0.8 of direct. ")
        w("")
        w("Each other implementation's client and server (its `perf` through the circuit, its `relay-listen` "
          "reserved on the relay, which serves /perf/1.0.0 too) through the C relay and through its own; "
          "direct = that implementation's own upload of the throughput table.")
        w("")
        lib, enc, dec = aead_rates(s["ceilings"].get("aead", {}))
        cd, cr = relay_ceiling(enc, dec) if enc and dec else (None, None)
        w("| client and server | relay | MiB/s median | min | max | direct MiB/s | ÷ direct | CPU-bound ceiling "
          "÷ direct |")
        w("|---|---|---:|---:|---:|---:|---:|---:|")
        for ends in IMPLS:
            d = tp.get("upload", {}).get(f"{ends}->{ends}")
            dm = d and d["MiBs"]["median"]
            for relay in IMPLS:
                e = rl.get(f"{ends}@{relay}", {}).get("MiBs")
                if e:
                    w(f"| {NAMES[ends]} | {NAMES[relay]} | {fmt(e['median'])} | {fmt(e['min'])} | {fmt(e['max'])} "
                      f"| {fmt(dm)} | {ratio(e['median'], dm)} | {ratio(cr, cd) if ends == 'c' else ''} |")
        w("")
        cc, dc = rl.get("c@c", {}).get("MiBs"), tp.get("upload", {}).get("c->c")
        if cd and cc and dc:
            w(f"CPU-bound ceiling: on loopback every process shares this machine's 2 cores, so a relayed stream "
              f"is bounded by its AEAD passes: 6 per byte (client: inner and outer Noise; relay: decrypt, encrypt; "
              f"server: two decrypts) against 2 for a direct one. With {lib}'s one-core ChaCha20-Poly1305 rates "
              f"of this run ({fmt(enc)} MiB/s encrypt, {fmt(dec)} decrypt), a direct stream can reach "
              f"{fmt(cd)} MiB/s and a relayed one {fmt(cr)} MiB/s: {ratio(cr, cd)} of direct. C through the C relay "
              f"reaches {ratio(cc['median'], cr)} of its ceiling, direct C {ratio(dc['MiBs']['median'], cd)} of its "
              f"own; for C endpoints the ÷ direct column is to be read against {ratio(cr, cd)}, not 1 (the other "
              f"implementations' direct streams spend most of their CPU elsewhere than in the AEAD, so the relayed "
              f"path's extra passes weigh less for them). Part (j) of `bench/run.sh` measures relayed against "
              f"direct where the network is the limit.")
            w("")

    shs = s.get("shaped", {})
    if shs:
        rate = next((v[d]["rateMbit"]["median"] for sh in shs.values() for v in sh.values() for d in v
                     if v[d].get("rateMbit")), None)
        w(f"## Relayed vs direct where the network is the limit: {fmt(rate)} Mbit/s links")
        w("")
        w("Network namespaces made by `bench/run.sh` (part (j), `bench/relay-shaped.sh`; `tests/netns/lib.sh` "
          "`netns_star`): a relay R, hosts A and B on one \"internet\" bridge, 198.18.0.0/24, every host's link "
          f"limited to {fmt(rate)} Mbit/s ({fmt(rate * 1e6 / 8 / MiB, 1) if rate else '—'} MiB/s of frames) in "
          "both directions by tbf. The client in A, the server in B (the same process for both paths: "
          "reserved on the relay, it also listens on its own address), one /perf/1.0.0 stream up, then down: "
          "directly A → B, and through the circuit relay in R (A → R → B). Same pairs as on loopback. "
          f"{p.get('shapedBytes', 0) / MiB:g} MiB per run, medians over the rounds. CPU: each process's user + "
          "system time over the transfer time (share of one core; the client's counts its start-up too): "
          "none of them may be near 100 %, or the CPU is the limit again. Relay RSS: its VmRSS after the run "
          "(peak: VmHWM since it started). A relayed run's bytes are checked on R's link, and a direct run "
          "faster than the link stops the benchmark. SCHED_FIFO (`--rt`): the C pair again with every process "
          "under `chrt -f 10`, so that the machine's other jobs do not delay the three processes of a relayed "
          "path.")
        w("")
        for sched, label in (("other", ""), ("fifo", ", SCHED_FIFO")):
            sh = shs.get(sched)
            if not sh:
                continue
            w(f"| client and server{label} | path | upload MiB/s | ÷ direct | download MiB/s | ÷ direct "
              "| relay CPU % | relay RSS MiB (peak) | busiest process CPU % |")
            w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
            for ends in IMPLS:
                d = sh.get(f"{ends}@direct", {})
                for relay in ["direct"] + IMPLS:
                    e = sh.get(f"{ends}@{relay}")
                    if not e:
                        continue
                    med = lambda dr, f: e.get(dr, {}).get(f) and e[dr][f]["median"]
                    dmed = lambda dr: d.get(dr, {}).get("MiBs") and d[dr]["MiBs"]["median"]
                    busiest = max(med(dr, f) or 0 for dr in ("upload", "download")
                                  for f in ("clientCpu", "serverCpu", "relayCpu"))
                    rcpu = max(med(dr, "relayCpu") or 0 for dr in ("upload", "download"))
                    mx = lambda f: max((e.get(dr, {}).get(f) or {}).get("max", 0) for dr in ("upload", "download"))
                    path = "direct" if relay == "direct" else f"relay: {NAMES[relay]}"
                    via = relay != "direct"
                    w(f"| {NAMES[ends]} | {path} | {fmt(med('upload', 'MiBs'), 1)} "
                      f"| {ratio(med('upload', 'MiBs'), dmed('upload')) if via else ''} "
                      f"| {fmt(med('download', 'MiBs'), 1)} "
                      f"| {ratio(med('download', 'MiBs'), dmed('download')) if via else ''} "
                      f"| {fmt(100 * rcpu) if via else ''} "
                      f"| {fmt(mx('relayRssKiB') / 1024, 1) + ' (' + fmt(mx('relayHwmKiB') / 1024, 1) + ')' if via else ''} "
                      f"| {fmt(100 * busiest)} |")
            w("")
        if s.get("shapedFailed"):
            w("Runs that failed (not in the medians): " + "; ".join(s["shapedFailed"]) + ".")
            w("")

    rcs = s.get("relayCapacity", [])
    if rcs:
        w("## Relay server capacity (C only)")
        w("")
        w("A fresh C relay (`p2pchat -c bench/peers/c/relay-capacity.ini`: reservation and circuit limits "
          "raised, no per-circuit byte or time limit, circuit_buffer 64 KiB) and `cbench relay-capacity` (one "
          "process, one host per identity): every identity reserves a slot, then C of "
          "them each dial one other reserved identity through the relay and upload through the circuit "
          "without pause (/perf/1.0.0 runs of 1 MiB back to back). Reservations held and circuits busy are "
          "counted at the end of the measured window (a circuit is busy when it moved bytes in it); bytes/s "
          "is the payload through all circuits; RSS is the relay's VmRSS once every reservation is held and "
          "at the end of the busy window, peak its VmHWM; CPU is the relay's user + system time over the "
          "window. Target: 1,000 reservations and 256 busy circuits at ≤ 64 MiB RSS. One row per round, in "
          "order (results files up to 2026-11-27c have one, from the first round).")
        w("")
        w("| reservations held | circuits busy | window s | MiB/s through | relay CPU % | RSS start MiB "
          "| RSS reserved MiB | RSS busy MiB | peak MiB | reserve time s | circuits set-up s |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for e in rcs:
            rel = e["relay"]
            mib = lambda k: fmt(rel[k] / 1024, 1) if rel.get(k, -1) >= 0 else "—"
            cpu = 100 * rel["cpuSeconds"] / e["seconds"] if e["seconds"] and rel["cpuSeconds"] >= 0 else None
            w(f"| {e['reservationsHeld']:,} of {e['reservations']:,} | {e['circuitsBusy']} of {e['circuits']} "
              f"| {fmt(e['seconds'], 1)} | {fmt(e['bytesPerSecond'] / MiB, 1)} | {fmt(cpu)} | {mib('rssStartKiB')} "
              f"| {mib('rssReservedKiB')} | {mib('rssBusyKiB')} | {mib('hwmKiB')} | {fmt(e['reserveSeconds'], 1)} "
              f"| {fmt(e['connectSeconds'], 1)} |")
        w("")

    kads = s.get("kad", [])
    if kads:
        w("## Kademlia lookups (C only)")
        w("")
        w("`cbench kad-lookup`: N DHT servers (the kad plugin: k = 20, alpha = 3) as N hosts in one process on "
          "127.0.0.1, bootstrapped through 3 of them and then once more each; 20 signed records put from random "
          "nodes; then lookups one after the other from random nodes, half FIND_NODE of a random key (ok = the "
          "result is exactly the true 20 closest, computed here from every PeerId) and half GET_VALUE of a "
          "stored key (quorum 3; ok = the value put). Rounds and requests come from the routing service's "
          "stats() (v3): rounds = 1 + the longest chain of responses before a peer was asked (1: only the seeds "
          "from the asker's table), requests = peers contacted. Reference: log2 N / log2(alpha·k) "
          "(Kademlia's hop estimate with alpha·k new candidates per round) and log2 N.")
        w("")
        w("| nodes | lookup | ok | rounds mean | p50 | max | histogram (1, 2, 3, 4+) | requests mean | p99 "
          "| ms p50 | ms p99 | ms max | log2 N / log2(αk) | log2 N |")
        w("|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for e in kads:
            est = e["log2N"] / math.log2(e["alpha"] * e["k"])
            for key, label in (("findNode", "FIND_NODE"), ("getValue", "GET_VALUE")):
                q = e[key]
                h = q["roundsHist"]
                hist = ", ".join(str(v) for v in (h[1], h[2], h[3], sum(h[4:])))
                w(f"| {e['nodes']} | {label} | {q['ok']}/{q['lookups']} | {fmt(q['roundsMean'], 2)} | {q['roundsP50']} "
                  f"| {q['roundsMax']} | {hist} | {fmt(q['requestsMean'], 1)} | {q['requestsP99']} "
                  f"| {fmt(q['msP50'], 1)} | {fmt(q['msP99'], 1)} | {fmt(q['msMax'], 1)} | {est:.2f} | {e['log2N']:.2f} |")
        w("")
        e = kads[-1]
        w(f"Network set-up: {fmt(e['bootstrapSeconds'], 1)} s; routing tables median {e['tableMedian']} peers, "
          f"smallest {e['tableMin']}.")
        w("")

    # Per round: the implementations ran one after the other within a round,
    # so each round's row compares them under (nearly) the same load.
    rounds = sorted({x.get("round", 0) for x in r["samples"] if x.get("round")})
    present = [i for i in IMPLS if tp.get("upload", {}).get(f"{i}->{i}")]
    if len(rounds) > 1 and present:
        w("## Round by round")
        w("")
        w("Each round ran every measurement once, the implementations one after the other; the load average "
          "is the one at the round's first sample. Upload / download in MiB/s, handshakes in connections/s.")
        w("")
        w("| round | load | " + " | ".join(NAMES[i] for i in present) + " |")
        w("|---|---:|" + "---:|" * len(present))
        for rd in rounds:
            xs = [x for x in r["samples"] if x.get("round") == rd]
            load = next((x["load"] for x in xs), None)
            cells = []
            for i in present:
                vals = []
                for x in xs:
                    if x.get("client") != i or x.get("server") != i:
                        continue
                    res = x["result"]
                    if x["kind"] in ("upload", "download"):
                        vals.append((x["kind"], (res["uploadBytes"] + res["downloadBytes"]) / MiB / res["timeSeconds"]))
                    elif x["kind"] == "handshakes":
                        vals.append((x["kind"], res["count"] / res["timeSeconds"]))
                d = dict(vals)
                cells.append(" / ".join(fmt(d.get(k)) for k in ("upload", "download", "handshakes")))
            w(f"| {rd} | {fmt(load, 1)} | " + " | ".join(cells) + " |")
        w("")

    w("## Ceilings (same run)")
    w("")
    ce = s["ceilings"]
    w("| ceiling | median | min | max |")
    w("|---|---:|---:|---:|")
    tcp = ce.get("tcp", {}).get("MiBs")
    if tcp:
        w(f"| raw TCP loopback, one connection, 64 KiB writes (`bench/ceiling/tcp.c`), MiB/s | {fmt(tcp['median'])} "
          f"| {fmt(tcp['min'])} | {fmt(tcp['max'])} |")
    ae = ce.get("aead", {})
    for f, label in (("encryptMiBs", "libsodium ChaCha20-Poly1305, encrypt"),
                     ("decryptMiBs", "libsodium ChaCha20-Poly1305, decrypt + verify"),
                     ("encryptDecryptMiBs", "libsodium ChaCha20-Poly1305, encrypt then decrypt on one core"),
                     ("opensslEncryptMiBs", "OpenSSL EVP ChaCha20-Poly1305, encrypt (for comparison)"),
                     ("opensslDecryptMiBs", "OpenSSL EVP ChaCha20-Poly1305, decrypt + verify (for comparison)")):
        e = ae.get(f)
        if e:
            w(f"| {label}, 65519-byte frames, MiB/s per CPU-second "
              f"(`bench/ceiling/aead.c`) | {fmt(e['median'])} | {fmt(e['min'])} | {fmt(e['max'])} |")
    hc = ce.get("handshake", {})
    # operations per side as the run's handshake.c counted them (runs
    # before the per-host static key: 2 keygens and 1 signature)
    ops = next((x["result"].get("perSide") for x in r["samples"] if x["kind"] == "ceiling-handshake"), None) or {
        "x25519Keygen": 2, "x25519Dh": 3, "ed25519Sign": 1, "ed25519Verify": 2}
    if hc.get("handshakesPerCoreSecond"):
        e = hc["handshakesPerCoreSecond"]
        med = lambda f: hc[f]["median"] if hc.get(f) else None
        w(f"| handshake crypto, libsodium: connections (both sides) per core-second (`bench/ceiling/handshake.c`: "
          f"per side {ops['x25519Keygen']} X25519 keygens at {fmt(med('x25519KeygenUs'), 1)} µs, "
          f"{ops['x25519Dh']} X25519 DH at {fmt(med('x25519DhUs'), 1)} µs, {ops['ed25519Sign']} Ed25519 sign at "
          f"{fmt(med('ed25519SignUs'), 1)} µs, {ops['ed25519Verify']} Ed25519 verify "
          f"at {fmt(med('ed25519VerifyUs'), 1)} µs) | {fmt(e['median'])} | {fmt(e['min'])} | {fmt(e['max'])} |")
        o = hc.get("opensslHandshakesPerCoreSecond")
        if o:
            w(f"| handshake crypto, OpenSSL X25519 + Ed25519 (for comparison) | {fmt(o['median'])} | {fmt(o['min'])} "
              f"| {fmt(o['max'])} |")
    w("")
    ch = s["handshakes"].get("c->c")
    if ch and hc.get("handshakesPerCoreSecond"):
        w("One connection's public-key cryptography, per side of the Noise XX handshake: "
          + ("one X25519 key generation (the ephemeral key; the static key and the payload's signature are "
             "made once per host), three X25519 DH (ee, es, se), no Ed25519 signature "
             if ops["x25519Keygen"] == 1 and ops["ed25519Sign"] == 0 else
             "two X25519 key generations (the ephemeral key and the static key, which the noise plugin drew "
             "afresh for every handshake when this run was made), three X25519 DH (ee, es, se), one Ed25519 "
             "signature (the handshake payload over the static key) ")
          + "and two Ed25519 verifications (the remote's payload and its signed peer record in "
          "identify; our own record is sealed once and cached). The noise plugin and the core use libsodium "
          "for all of them (OpenSSL only for the transport AEAD). "
          f"C's handshake rate (median) is {ratio(ch['perSecond']['median'], hc['handshakesPerCoreSecond']['median'])} "
          "of this ceiling (target ≥ 0.5); the cryptography is "
          f"{ratio(hc['connectionUs']['median'] / 1000, ch['cpuMsPerHandshake']['median'])} of the CPU that "
          "client and server spend per connection.")
        w("")
    cu = tp.get("upload", {}).get("c->c")
    # The noise plugin uses OpenSSL's ChaCha20-Poly1305 when libcrypto is
    # there (plugins/noise/noise_aead.c), else libsodium's: compare with
    # the one it uses.
    lib, enc, dec = aead_rates(ae)
    if cu and (tcp or enc):
        w("C's single-stream upload (median) against the ceilings: "
          + (f"{ratio(cu['MiBs']['median'], tcp['median'])} of raw TCP" if tcp else "")
          + (f"; {ratio(cu['MiBs']['median'], enc)} of {lib}'s one-core encryption rate "
             "(the AEAD the noise plugin uses; target ≥ 0.75)" if enc else "")
          + (f"; CPU: {fmt(cu['cpuSecondsPerGiB']['median'], 2)} s/GiB for client + server, of which the AEAD alone "
             f"(encrypt on one side, decrypt on the other) is {fmt(1024 / enc + 1024 / dec, 2)} s/GiB"
             if enc and dec else "")
          + ".")
        w("")

    if a.plots:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import plots
        made = plots.draw(r, a.plots, IMPLS, NAMES)
        if made:
            rel = os.path.relpath(a.plots, os.path.dirname(os.path.abspath(a.doc)))
            w("## Plots")
            w("")
            for f, caption in made:
                w(f"![{caption}]({rel}/{f})")
                w("")

    gen = "\n".join(L)
    analysis = ""
    if os.path.exists(a.doc):
        old = open(a.doc).read()
        if MARK in old:
            analysis = old[old.index(MARK):]
    if not analysis:
        analysis = MARK + "\n\n## Analysis\n\n(to be written)\n"
    with open(a.doc, "w") as f:
        f.write(gen + "\n" + analysis)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    for opt in ("samples", "out", "started", "command", "load-start", "load-end", "rust-lock", "go-mod", "js-lock"):
        c.add_argument("--" + opt, required=True)
    for opt in ("seconds", "reps", "bytes", "handshakes", "nice"):
        c.add_argument("--" + opt, type=int, required=True)
    for opt in ("streams", "idle", "gossip", "gossip-others", "gossip100", "relay-capacity", "relay-circuits", "kad",
                "kad-lookups", "shaped-rate", "shaped-bytes"):
        c.add_argument("--" + opt, type=int, default=0)
    c.add_argument("--gossip100-shape", default="")
    c.add_argument("--shaped-skipped", default="", help="why (j) did not run, if it did not")
    c.add_argument("--revision", help="what the C programs were built from (default: now)")
    d = sub.add_parser("doc")
    d.add_argument("--results", required=True)
    d.add_argument("--doc", required=True)
    d.add_argument("--plots", help="draw PNG plots into this directory (gnuplot)")
    a = ap.parse_args()
    if a.cmd == "collect":
        collect(a)
    else:
        doc(a)


if __name__ == "__main__":
    sys.exit(main())
