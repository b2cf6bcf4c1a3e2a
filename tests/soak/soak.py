#!/usr/bin/env python3
"""soak.py - churn and soak test of p2pchat on loopback.

One `p2pchat relay` (circuit relay server, DHT server, bootstrap node) and
N `p2pchat peer --json` processes in one room (`--without mdns`, the relay
as bootstrap peer, room discovery through the DHT). A few peers (--stable)
live for the whole run; the others join and leave at random: a process
stops (SIGTERM, the quit command, or SIGKILL) and comes back later with
the same identity and data directory, or leaves the room and joins it
again in the same process. Live peers publish messages whose text carries
a unique id and the send time.

Delivery rule. A message M published at time t by P is *expected* at a
peer R when, during the whole window [t - warm, t + grace] (defaults 3 s,
i.e. three gossipsub heartbeats, and 5 s):
  - R is running and subscribed to the room, and
  - there is a chain P = X0, X1, ..., Xk = R of running peers in which each
    Xi saw X(i+1) subscribed (a "join" event with no "leave" after it: a
    live connection and a known subscription) for the whole window.
That is the condition under which gossipsub must deliver (flood publish to
every known subscriber, mesh forwarding, IHAVE/IWANT gossip for the rest).
An expected message that never arrives is *lost*. Deliveries outside the
rule are counted but not required.

Also checked: no process ends unless the driver stopped it, every stop by
SIGTERM or quit exits 0 in time, no sanitizer report, no duplicate
delivery, and the resources of the long-lived peers (and the relay) stay
flat after the warm-up: peak RSS of the last part of the run within
--rss-slack of the part before it, and open fds minus open direct
connections constant (+-1 for a connection being set up or torn down).

Output (in --out): results.json, results.md (the table), soak.dat,
latency.dat and, when gnuplot is installed, soak.png (a gnuplot that
fails to draw it fails the run; without gnuplot the PNG is skipped). Exit status 0 when every check
passed, 1 otherwise, 77 when it cannot run.

  soak.py --bin build/release/bin/p2pchat --peers 10 --duration 60      # CI
  soak.py --bin ... --peers 50 --duration 600 --out soak-long           # long
"""
import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chatnet  # noqa: E402

SAN_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")


def parse_range(s):
    a, _, b = s.partition(":")
    return float(a), float(b or a)


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


class Slot:
    """One peer identity (data directory); its processes come and go."""

    def __init__(self, idx, stable, data_dir):
        self.idx, self.stable, self.data_dir = idx, stable, data_dir
        self.run = None          # the current Proc
        self.runs = []
        self.next_at = 0.0       # next churn action
        self.state = "down"      # down | up | out (process up, room left)


class Soak:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.room = f"soak-{os.getpid()}"
        self.net = chatnet.Net(a.bin, a.out, log=a.log)
        self.msgs = []           # dicts: seq, text, slot, run, t, status
        self.pending = {}        # command id -> message
        self.crashes = []
        self.problems = []
        self.stops = {"term": 0, "quit": 0, "kill": 0, "room": 0}
        self.relay = None
        self.relay_socks0 = self.relay_socks_end = None

    # ---- processes
    def start_peer(self, s, t):
        name = f"p{s.idx:02d}-{len(s.runs)}"
        sets = [f"app.chat.room_lookup_interval={self.a.lookup}"] + list(self.a.set)
        try:
            pr = self.net.peer(name, self.room, data_dir=s.data_dir, bootstrap=[self.relay.addrs[0]], sets=sets)
        except OSError as e:
            self.problems.append(f"cannot start {name}: {e}")
            s.next_at = t + 1
            return
        s.run, s.state = pr, "up"
        s.runs.append(pr)
        s.next_at = t + self.rng.uniform(*self.a.up)

    def stop_peer(self, s, t):
        how = self.rng.choices(["term", "quit", "kill", "room"], weights=self.a.stop_weights)[0]
        self.stops[how] += 1
        if how == "room":
            s.run.send({"cmd": "leave", "id": "leave"})
            s.state = "out"
        else:
            s.run.stop(how)
            s.state = "down"
        s.next_at = t + self.rng.uniform(*self.a.down)

    def churn(self, t):
        for s in self.slots:
            if s.stable or t < s.next_at:
                continue
            if s.state == "up":
                self.stop_peer(s, t)
            elif s.state == "out":
                s.run.send({"cmd": "join", "room": self.room, "id": "rejoin"})
                s.state = "up"
                s.next_at = t + self.rng.uniform(*self.a.up)
            else:
                self.start_peer(s, t)

    def check_exits(self):
        now = time.time()
        for pr in self.net.procs:
            if pr.rc is None and pr.stop_how and pr.alive() and now - pr.t_end > 15:
                self.net.reap(pr, 0)   # stopped but still running: hung, killed and reported
            elif pr.rc is None and not pr.alive():
                if pr.stop_how is None:
                    pr.t_end = time.time()
                    self.crashes.append(pr)
                    pr.stop_how = "crashed"
                self.net.reap(pr, 1)

    def publish(self, t):
        live = [s for s in self.slots if s.state == "up" and s.run.t_ready and s.run.alive()]
        if not live:
            return
        s = self.rng.choice(live)
        seq = len(self.msgs)
        text = f"soak m{seq} {int(t * 1000)} p{s.idx:02d}"
        m = {"seq": seq, "text": text, "slot": s.idx, "run": s.run, "t": t, "status": "sent"}
        self.msgs.append(m)
        self.pending[f"m{seq}"] = m
        if not s.run.send({"cmd": "send", "text": text, "id": f"m{seq}"}):
            m["status"] = "stdin closed"

    def settle_results(self):
        for cid, m in list(self.pending.items()):
            ev = m["run"].results.get(cid)
            if ev is not None:
                m["status"] = "ok" if ev["event"] == "result" else "refused: " + ev.get("message", "?")
                del self.pending[cid]

    def sample(self, t):
        for s in self.slots:
            if s.run and s.run.rc is None:
                s.run.sample(t)
        self.relay.sample(t)

    # ---- the run
    def run(self):
        a = self.a
        self.relay = self.net.relay("relay", seed=0)
        if not self.net.wait_for(lambda: self.relay.t_ready and self.relay.addrs, 15):
            self.problems.append("the relay did not start: " + "".join(self.relay.stderr_tail()))
            return
        time.sleep(0.5)
        self.relay_socks0 = chatnet.proc_stats(self.relay.pid)[3]
        data = os.path.join(a.out, "data")
        self.slots = [Slot(i, i < a.stable, os.path.join(data, f"p{i:02d}")) for i in range(a.peers)]
        t0 = self.t0 = time.time()
        # Stagger the first starts over the first seconds (1/5 s apart).
        for i, s in enumerate(self.slots):
            s.next_at = t0 + 0.2 * i
        end = t0 + a.duration
        next_pub = t0 + a.publish_after
        next_sample = t0
        while True:
            t = time.time()
            if t >= end:
                break
            for s in self.slots:
                if s.state == "down" and s.stable and t >= s.next_at and not s.runs:
                    self.start_peer(s, t)
            self.churn(t)
            while next_pub <= t and t < end - a.grace:
                self.publish(t)
                next_pub += 1.0 / a.rate
            if t >= next_sample:
                self.sample(t)
                next_sample += a.sample_interval
            self.net.pump(0.02)
            self.settle_results()
            self.check_exits()
        self.finish()

    def finish(self):
        """Stop the churning peers, measure, then the stable peers, then the relay."""
        a = self.a
        self.net.pump(0.5)
        for s in self.slots:
            if not s.stable and s.run and s.run.rc is None:
                s.run.stop("term")
        for s in self.slots:
            if not s.stable and s.run and s.run.rc is None:
                self.net.reap(s.run, 15)
        # The stable peers and the relay with every other peer gone.
        self.net.wait_for(lambda: False, 3)
        self.settle_results()
        self.end_samples = {}
        t = time.time()
        for s in self.slots:
            if s.stable and s.run and s.run.rc is None:
                s.run.sample(t)
        stable_runs = [s.run for s in self.slots if s.stable and s.run]
        for pr in stable_runs:
            if pr.rc is None:
                pr.stop("term")
        for pr in stable_runs:
            if pr.rc is None:
                self.net.reap(pr, 15)
        self.net.wait_for(lambda: False, 2)
        self.relay.sample(time.time())
        self.relay_socks_end = self.relay.samples[-1][4] if self.relay.alive() else None
        self.relay.stop("term")
        self.net.reap(self.relay, 15)
        self.check_exits()

    # ---- analysis
    def live_runs(self, m):
        """Peers running and subscribed during the whole window of m."""
        t0, t1 = m["t"] - self.a.warm, m["t"] + self.a.grace
        return [pr for pr in self.net.procs
                if pr.kind == "peer" and pr.t_ready and pr.t_ready <= t0 and (pr.t_end is None or pr.t_end >= t1)
                and pr.peer_id and pr.in_room(t0, t1)]

    def expected_receivers(self, m):
        t0, t1 = m["t"] - self.a.warm, m["t"] + self.a.grace
        runs = self.live_runs(m)
        sender = m["run"]
        if sender not in runs:
            return []
        by_id = {}
        for pr in runs:
            by_id.setdefault(pr.peer_id, []).append(pr)
        seen, todo = {sender}, [sender]
        while todo:
            x = todo.pop()
            for peer in x.links:
                for y in by_id.get(peer, ()):
                    if y not in seen and x.sees(peer, t0, t1) and y.in_room(t0, t1):
                        seen.add(y)
                        todo.append(y)
        seen.discard(sender)
        return list(seen)

    def analyse(self):
        a = self.a
        res = {"config": {k: v for k, v in vars(a).items() if k not in ("bin",)}}
        peer_runs = [pr for pr in self.net.procs if pr.kind == "peer"]
        sent = [m for m in self.msgs if m["status"] == "ok"]
        refused = [m for m in self.msgs if m["status"] != "ok"]
        expected = delivered = 0
        lost = []
        lat = []
        extra = 0
        live_n = live_got = 0
        for m in sent:
            exp = set(self.expected_receivers(m))
            expected += len(exp)
            if m["run"] in self.live_runs(m):
                for pr in self.live_runs(m):
                    if pr is not m["run"]:
                        live_n += 1
                        live_got += m["text"] in pr.received
            for pr in peer_runs:
                if pr is m["run"]:
                    continue
                got = pr.received.get(m["text"])
                if pr in exp:
                    if got:
                        delivered += 1
                        lat.append(got[0] - int(m["t"] * 1000))
                    else:
                        lost.append((m, pr))
                elif got:
                    extra += 1
        dup = sum(pr.duplicates for pr in peer_runs)
        res["messages"] = {
            "published": len(sent), "refused": len(refused),
            "refused_reasons": sorted({m["status"] for m in refused}),
            "expected_deliveries": expected, "delivered": delivered, "lost": len(lost),
            "delivered_outside_rule": extra, "duplicates": dup,
            "live_in_window": live_n, "live_in_window_delivered": live_got,
            "latency_ms": {"p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat) if lat else None},
        }
        res["lost_detail"] = [{"msg": m["text"], "to": pr.name, "peer": pr.peer_id} for m, pr in lost[:50]]
        # Processes.
        res["processes"] = {
            "peer_processes": len(peer_runs), "stops": self.stops,
            "crashes": [{"name": pr.name, "rc": pr.rc, "stderr": pr.stderr_tail(20)} for pr in self.crashes],
            "bad_exits": [], "sanitizer_reports": [], "bad_json_lines": [],
        }
        for pr in self.net.procs:
            if pr.stop_how in ("term", "quit") and pr.rc != 0 or (pr.stop_how or "").endswith("+hung"):
                res["processes"]["bad_exits"].append({"name": pr.name, "how": pr.stop_how, "rc": pr.rc,
                                                      "stderr": pr.stderr_tail(20)})
            tail = "".join(pr.stderr_tail(200))
            if any(k in tail for k in SAN_MARKERS):
                res["processes"]["sanitizer_reports"].append(pr.name)
            if pr.bad_lines:
                res["processes"]["bad_json_lines"].append({"name": pr.name, "lines": pr.bad_lines[:3]})
        # Resources of the long-lived processes.
        res["resources"] = self.resources()
        return res

    def resources(self):
        """RSS and fds of the long-lived processes after the warm-up.

        fds are split into sockets and the rest (files, pipes, epoll,
        eventfds). Both move for a moment now and then (a state file being
        written; dials and handshakes under way, which have sockets but no
        connection yet), so single samples may be above the usual value;
        what must hold is that at the end, with the churning peers gone,
        the non-socket fds and the sockets minus open direct connections
        are back to their usual (median) value after the warm-up: a leak
        would leave them above it. The relay must have as many sockets
        after every peer left as before the first one came."""
        a = self.a
        warm_end = self.t0 + a.warmup
        out = {"long_lived": [], "relay": None}
        stable = [s.run for s in self.slots if s.stable and s.run]
        for pr in stable + [self.relay]:
            smp = [x for x in pr.samples if x[0] >= warm_end]
            if len(smp) < 4:
                continue
            body = smp[:-1] if pr.kind == "peer" else smp   # peers: the last sample is the final one
            half = len(body) // 2
            mid_peak = max(x[1] for x in body[:half])
            end_peak = max(x[1] for x in body[half:])
            other = [x[3] - x[4] for x in smp]
            info = {"name": pr.name, "rss_kib_after_warmup": smp[0][1], "rss_kib_mid_peak": mid_peak,
                    "rss_kib_end_peak": end_peak, "rss_kib_peak": max(x[2] for x in pr.samples),
                    "fds_max": max(x[3] for x in pr.samples), "other_fds": [min(other), max(other)]}
            slack = max(a.rss_slack_kib, mid_peak * a.rss_slack_pct / 100.0)
            info["rss_flat"] = end_peak <= mid_peak + slack
            if pr.kind == "peer":
                excess = [x[4] - x[5] for x in smp]
                info["sockets_minus_conns"] = [min(excess), max(excess)]
                info["sockets_minus_conns_end"] = excess[-1]
                # The driver reads connection events a little after the
                # kernel closed or opened the socket: single samples may be
                # off by one; the end must be back at the usual value.
                info["fds_flat"] = (other[-1] <= statistics.median(other)
                                    and excess[-1] <= statistics.median(excess))
                out["long_lived"].append(info)
            else:
                info["sockets_start"] = self.relay_socks0
                info["sockets_after_peers_left"] = self.relay_socks_end
                info["fds_flat"] = (other[-1] <= statistics.median(other)
                                    and self.relay_socks_end == self.relay_socks0)
                out["relay"] = info
        return out

    def verdict(self, res):
        fails = list(self.problems)
        m = res["messages"]
        if m["lost"]:
            fails.append(f"{m['lost']} expected deliveries lost (first: {res['lost_detail'][:3]})")
        if m["duplicates"]:
            fails.append(f"{m['duplicates']} duplicate deliveries")
        if m["published"] < self.a.min_published:
            fails.append(f"only {m['published']} messages published (want >= {self.a.min_published})")
        if m["expected_deliveries"] == 0:
            fails.append("no delivery was expected: the peers never formed a mesh")
        p = res["processes"]
        for k in ("crashes", "bad_exits", "sanitizer_reports", "bad_json_lines"):
            if p[k]:
                fails.append(f"{k}: {p[k]}")
        r = res["resources"]
        for info in r["long_lived"] + ([r["relay"]] if r["relay"] else []):
            if not info["rss_flat"]:
                fails.append(f"{info['name']}: RSS grew after warm-up ({info['rss_kib_mid_peak']} -> "
                             f"{info['rss_kib_end_peak']} KiB)")
            if not info["fds_flat"]:
                fails.append(f"{info['name']}: open fds not flat ({info})")
        if not r["long_lived"]:
            fails.append("no resource samples of long-lived peers (run longer than --warmup)")
        return fails

    # ---- output
    def write(self, res, fails):
        a = self.a
        res["verdict"] = {"ok": not fails, "failures": fails}
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(res, f, indent=1, default=str)
        m, r = res["messages"], res["resources"]
        ll = r["long_lived"]
        peak = max([x["rss_kib_peak"] for x in ll], default=0)
        fds = max([x["fds_max"] for x in ll], default=0)
        lat = m["latency_ms"]
        rows = [
            "| peers (long-lived) | duration | messages sent | expected deliveries | delivered | lost "
            "| p50 latency | p99 latency | peak RSS (long-lived peer) | max fds (long-lived peer) |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| {a.peers} ({a.stable}) | {a.duration:.0f} s | {m['published']} | {m['expected_deliveries']} "
            f"| {m['delivered']} | {m['lost']} | {lat['p50']} ms | {lat['p99']} ms | {peak / 1024:.1f} MiB | {fds} |",
        ]
        extra = [
            "",
            f"- peer processes started: {res['processes']['peer_processes']}; stops: "
            + ", ".join(f"{k} {v}" for k, v in res['processes']['stops'].items()),
            f"- publications refused by the sender: {m['refused']} {m['refused_reasons']}",
            f"- deliveries outside the rule (not required, received): {m['delivered_outside_rule']}; "
            f"duplicates: {m['duplicates']}; max latency {lat['max']} ms",
            f"- receivers running and subscribed over the whole window, whatever their links: {m['live_in_window']}, "
            f"of which received: {m['live_in_window_delivered']}",
        ]
        for x in ll + ([r["relay"]] if r["relay"] else []):
            line = (f"- {x['name']}: RSS after warm-up {x['rss_kib_after_warmup'] / 1024:.1f} MiB, peak of the middle "
                    f"{x['rss_kib_mid_peak'] / 1024:.1f}, of the end {x['rss_kib_end_peak'] / 1024:.1f} MiB; fds max "
                    f"{x['fds_max']}, non-socket fds {x['other_fds'][0]}..{x['other_fds'][1]}")
            if "sockets_minus_conns" in x:
                line += (f", sockets minus direct connections {x['sockets_minus_conns'][0]}.."
                         f"{x['sockets_minus_conns'][1]} (at the end {x['sockets_minus_conns_end']})")
            else:
                line += f", sockets at start {x['sockets_start']}, after every peer left {x['sockets_after_peers_left']}"
            extra.append(line)
        extra.append("- verdict: " + ("PASS" if not fails else "FAIL: " + "; ".join(fails)))
        md = "\n".join(rows + extra) + "\n"
        with open(os.path.join(a.out, "results.md"), "w") as f:
            f.write(md)
        print(md)

    def plot(self):
        """Write soak.dat and latency.dat, and soak.png when gnuplot is
        installed. Returns None, or why the PNG could not be made."""
        a = self.a
        dat = os.path.join(a.out, "soak.dat")
        stable = [s.run for s in self.slots if s.stable and s.run] + [self.relay]
        with open(dat, "w") as f:
            for i, pr in enumerate(stable):
                f.write(f"# {pr.name}\n")
                for t, rss, _, fds, _, conns in pr.samples:
                    f.write(f"{t - self.t0:.1f} {rss / 1024:.2f} {fds} {conns}\n")
                f.write("\n\n")
        lat = os.path.join(a.out, "latency.dat")
        with open(lat, "w") as f:   # time, latency, 1 when the delivery was required (expected)
            for m in self.msgs:
                if m["status"] != "ok":
                    continue
                exp = set(self.expected_receivers(m))
                for pr in self.net.procs:
                    got = pr.received.get(m["text"]) if pr.kind == "peer" else None
                    if got:
                        f.write(f"{m['t'] - self.t0:.2f} {got[0] - int(m['t'] * 1000)} {int(pr in exp)}\n")
        gp = shutil.which("gnuplot")
        if a.no_plot:
            return None
        if not gp:
            print("soak: gnuplot not installed: soak.dat and latency.dat written, no soak.png "
                  "(scripts/setup.sh --plot)")
            return None
        # pngcairo where gnuplot has it, else the plain png terminal.
        terms = subprocess.run([gp, "-e", "set terminal"], capture_output=True, text=True)
        term = "pngcairo size 1000,900 font ',9'" if "pngcairo" in terms.stdout + terms.stderr \
            else "png size 1000,900"
        names = [pr.name for pr in stable]
        rss = ", ".join(f"'{dat}' index {i} using 1:2 with lines title '{n}'" for i, n in enumerate(names))
        fdp = ", ".join(f"'{dat}' index {i} using 1:3 with lines title '{n}'" for i, n in enumerate(names))
        script = f"""
set terminal {term}
set output '{os.path.join(a.out, "soak.png")}'
set multiplot layout 3,1 title 'p2pchat soak: {a.peers} peers ({a.stable} long-lived), {a.duration:.0f} s'
set xlabel 'time (s)'
set xrange [0:{a.duration + 10:.0f}]
set key outside right
set ylabel 'RSS (MiB)'
plot {rss}
set ylabel 'open fds'
plot {fdp}
set ylabel 'latency (ms)'
set logscale y
plot '{lat}' using 1:($3 == 0 ? ($2 < 1 ? 1 : $2) : 1/0) with points pt 6 ps 0.3 title 'outside the rule', \\
     '{lat}' using 1:($3 == 1 ? ($2 < 1 ? 1 : $2) : 1/0) with points pt 7 ps 0.3 title 'expected (the rule)'
unset multiplot
"""
        with open(os.path.join(a.out, "soak.gp"), "w") as f:   # to re-plot by hand
            f.write(script)
        png = os.path.join(a.out, "soak.png")
        r = subprocess.run([gp], input=script.encode(), capture_output=True)
        if r.returncode != 0 or not os.path.exists(png) or os.path.getsize(png) < 1000:
            return "gnuplot failed: " + r.stderr.decode(errors="replace")[:500]
        print(f"soak: plot in {png}")
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the p2pchat binary")
    ap.add_argument("--peers", type=int, default=10)
    ap.add_argument("--stable", type=int, help="peers that never leave (default: a fifth, at least 2)")
    ap.add_argument("--duration", type=float, default=60, help="seconds of churn and publishing")
    ap.add_argument("--rate", type=float, default=4, help="messages per second (all peers together)")
    ap.add_argument("--up", type=parse_range, default=(10, 40), help="MIN:MAX seconds a churning peer stays")
    ap.add_argument("--down", type=parse_range, default=(2, 12), help="MIN:MAX seconds it stays away")
    ap.add_argument("--stop-weights", type=lambda s: [float(x) for x in s.split(",")], default=[4, 2, 2, 2],
                    help="relative weights of the ways to leave: SIGTERM, quit, SIGKILL, room leave")
    ap.add_argument("--warm", type=float, default=3, help="seconds a receiver must be in the mesh before")
    ap.add_argument("--grace", type=float, default=5, help="seconds it must stay after a publication")
    ap.add_argument("--publish-after", type=float, default=5, help="first publication after this many seconds")
    ap.add_argument("--warmup", type=float, help="resource warm-up in seconds (default: a third of the run)")
    ap.add_argument("--sample-interval", type=float, default=2)
    ap.add_argument("--rss-slack-kib", type=float, default=2048, help="allowed RSS growth after warm-up")
    ap.add_argument("--rss-slack-pct", type=float, default=10, help="... or this percentage, if larger")
    ap.add_argument("--min-published", type=int, default=20)
    ap.add_argument("--lookup", default="10s", help="[app chat] room_lookup_interval of the peers")
    ap.add_argument("--set", action="append", default=[], help="extra --set S.K=V for every peer")
    ap.add_argument("--log", default="warn", help="P2P_LOG of every process (stderr in --out)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", help="output directory (default: a temporary one, removed when the run passes)")
    ap.add_argument("--no-plot", action="store_true")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        print(f"soak: {a.bin} is not an executable")
        return 77
    if a.stable is None:
        a.stable = max(2, a.peers // 5)
    a.stable = min(a.stable, a.peers)
    if a.warmup is None:
        a.warmup = a.duration / 3
    if a.seed is None:
        a.seed = int(time.time()) & 0xFFFF
    keep = a.out is not None
    a.out = os.path.abspath(a.out) if a.out else tempfile.mkdtemp(prefix="p2psoak.")
    os.makedirs(a.out, exist_ok=True)
    print(f"soak: {a.peers} peers ({a.stable} long-lived), {a.duration:.0f} s, {a.rate}/s, seed {a.seed}, "
          f"outputs in {a.out}", flush=True)
    s = Soak(a)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        s.run()
    finally:
        s.net.kill_all()
    res = s.analyse()
    fails = s.verdict(res)
    plot_err = s.plot()
    if plot_err:
        fails.append(plot_err)
    s.write(res, fails)
    if not fails and not keep:
        shutil.rmtree(a.out, ignore_errors=True)
    elif fails:
        print(f"soak: outputs kept in {a.out}")
    return 0 if not fails else 1


if __name__ == "__main__":
    sys.exit(main())
