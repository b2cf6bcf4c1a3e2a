#!/usr/bin/env python3
"""bench/report.py - results file and tables of bench/run.sh.

  report.py collect --samples FILE.jsonl --out RESULTS.json ...
      machine description, versions, every sample and the summaries
  report.py doc --results RESULTS.json --doc docs/BENCHMARKS.md
      regenerate the generated part of docs/BENCHMARKS.md; the text after
      the line '<!-- analysis -->' (written by hand) is kept
"""
import argparse
import json
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


def summarize(samples):
    s = {"throughput": {}, "handshakes": {}, "ceilings": {}}
    groups = {}
    for x in samples:
        k = x["kind"]
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
        elif k == "ceiling-tcp":
            groups.setdefault(("c", "tcp"), {}).setdefault("MiBs", []).append(x["result"]["MiBs"])
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
        "revision": rev + (" with uncommitted changes" if dirty else ""),
        "command": a.command,
        "durationSeconds": a.seconds,
        "params": {"reps": a.reps, "bytes": a.bytes, "handshakes": a.handshakes, "nice": a.nice},
        "loadavg": {"start": a.load_start, "end": a.load_end},
        "machine": machine(),
        "versions": lock_versions(a.rust_lock, a.go_mod, a.js_lock),
        "samples": samples,
    }
    res["summary"] = summarize(samples)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


def fmt(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def ratio(a, b):
    return "—" if not a or not b else f"{a / b:.2f}"


def doc(a):
    r = json.load(open(a.results))
    s = r["summary"]
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
    w("| implementation | connections/s median | min | max | CPU ms per connection | C ÷ this |")
    w("|---|---:|---:|---:|---:|---:|")
    hs = s["handshakes"]
    c = hs.get("c->c")
    for i in IMPLS:
        e = hs.get(f"{i}->{i}")
        if e:
            w(f"| {NAMES[i]} | {fmt(e['perSecond']['median'])} | {fmt(e['perSecond']['min'])} | {fmt(e['perSecond']['max'])} "
              f"| {fmt(e['cpuMsPerHandshake']['median'], 2)} | {'' if i == 'c' else ratio(c and c['perSecond']['median'], e['perSecond']['median'])} |")
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
    w("")
    cu = tp.get("upload", {}).get("c->c")
    enc = ae.get("encryptMiBs")
    if cu and (tcp or enc):
        w("C's single-stream upload (median) against the ceilings: "
          + (f"{ratio(cu['MiBs']['median'], tcp['median'])} of raw TCP" if tcp else "")
          + (f"; {ratio(cu['MiBs']['median'], enc['median'])} of the encryption rate of one core" if enc else "")
          + (f"; CPU: {fmt(cu['cpuSecondsPerGiB']['median'], 2)} s/GiB for client + server, of which the AEAD alone "
             f"(encrypt on one side, decrypt on the other) is {fmt(1024 / enc['median'] + 1024 / ae['decryptMiBs']['median'], 2)} s/GiB"
             if enc and ae.get("decryptMiBs") else "")
          + ".")
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
    d = sub.add_parser("doc")
    d.add_argument("--results", required=True)
    d.add_argument("--doc", required=True)
    a = ap.parse_args()
    if a.cmd == "collect":
        collect(a)
    else:
        doc(a)


if __name__ == "__main__":
    sys.exit(main())
