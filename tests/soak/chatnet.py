"""chatnet.py - run p2pchat processes (a relay and --json peers) from a test.

Python 3 standard library only. Used by the churn/soak driver (soak.py)
and the fault tests (faults.py). Each process is one `Proc`; a reader
thread per process turns its stdout lines into events on one queue, and
`Net.pump()` applies them on the caller's thread, so every piece of state
below is touched by one thread only.

What a Proc tracks from the events of docs/SCRIPTING.md:
  - `ready`: PeerId and addresses;
  - `join`/`leave` in its rooms: which peers it sees subscribed, as
    intervals (`links`: PeerId -> [[start, end or None], ...]);
  - `connected`/`disconnected`: open connections (direct and relayed);
  - `message`: first delivery of each text (`received`: text -> time_ms),
    and duplicates;
  - `result`/`error` of commands by their "id".
Times are the driver's wall clock (time.time(), seconds) unless named _ms.
"""
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time

MADDR_RE = re.compile(r"(/ip[46]/\S+/tcp/\d+/p2p/\w+)")


def proc_stats(pid):
    """(rss_kib, peak_rss_kib, open_fds, open_sockets) of a live process, or None."""
    try:
        rss = hwm = None
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        fds = socks = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            fds += 1
            try:
                socks += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
            except OSError:
                pass   # closed meanwhile
        return rss, hwm, fds, socks
    except (OSError, ValueError):
        return None


class Proc:
    """One p2pchat process lifetime."""

    def __init__(self, net, name, argv, env, kind):
        self.net, self.name, self.argv, self.kind = net, name, argv, kind
        self.peer_id = None
        self.ready = {}              # the ready event
        self.history = []            # history events (replayed on join, or asked for)
        self.addrs = []
        self.t_start = time.time()
        self.t_ready = None
        self.t_end = None            # when the driver stopped it or saw it exit
        self.rc = None
        self.stop_how = None         # None (still up / crashed), "term", "kill", "quit"
        self.links = {}              # PeerId -> list of [start, end|None] (seen subscribed)
        self.conns = {}              # (peer, addr, connection) -> open count
        self.received = {}           # text -> (time_ms, driver time)
        self.duplicates = 0
        self.results = {}            # command id -> event
        self.errors = []             # error events
        self.lines = 0
        self.bad_lines = []
        self.joined_rooms = set()
        self.subscribed = []         # our own room membership: [start, end|None]
        self.samples = []            # (t, rss_kib, hwm_kib, fds, sockets, direct conns)
        self.listeners = []          # callables(proc, t, event)
        self.out_path = os.path.join(net.work, f"{name}.out")
        self.err_path = os.path.join(net.work, f"{name}.err")
        self._out = open(self.out_path, "a")
        err = open(self.err_path, "a")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                  env=env, close_fds=True, start_new_session=True)
        err.close()
        self.pid = self.p.pid
        self._eof = False
        threading.Thread(target=self._reader, daemon=True).start()

    # ---- the reader thread: only puts lines on the queue
    def _reader(self):
        for raw in self.p.stdout:
            self.net.q.put((time.time(), self, raw))
        self.net.q.put((time.time(), self, None))

    # ---- applied on the driver's thread (Net.pump)
    def _apply(self, t, raw):
        if raw is None:
            self._eof = True
            return
        text = raw.decode("utf-8", "replace").rstrip("\n")
        self._out.write(f"{t:.3f} {text}\n")
        self.lines += 1
        if self.kind == "relay":
            m = MADDR_RE.search(text)
            if text.startswith("PeerId: "):
                self.peer_id = text.split()[1]
            elif m:
                self.addrs.append(m.group(1))
            elif text.startswith("Plugins:"):
                self.t_ready = t
            ev = {"event": "line", "text": text}
        else:
            try:
                ev = json.loads(text)
                if not isinstance(ev, dict) or not isinstance(ev.get("event"), str):
                    raise ValueError("not an event object")
            except ValueError as e:
                self.bad_lines.append(f"{text[:200]} ({e})")
                return
            self._event(t, ev)
        for f in list(self.listeners):
            f(self, t, ev)

    def _event(self, t, ev):
        kind = ev["event"]
        if kind == "ready":
            self.ready = ev
            self.peer_id, self.addrs, self.t_ready = ev["peer_id"], ev["addrs"], t
            self.subscribed.append([t, None])   # the --room given at start
        elif kind in ("join", "leave") and ev.get("room") in self.joined_rooms:
            iv = self.links.setdefault(ev["peer"], [])
            if kind == "join" and (not iv or iv[-1][1] is not None):
                iv.append([t, None])
            elif kind == "leave" and iv and iv[-1][1] is None:
                iv[-1][1] = t
        elif kind in ("connected", "disconnected"):
            key = (ev["peer"], ev["addr"], ev["connection"])
            n = self.conns.get(key, 0) + (1 if kind == "connected" else -1)
            if n > 0:
                self.conns[key] = n
            else:
                self.conns.pop(key, None)
        elif kind == "message":
            if ev["text"] in self.received:
                self.duplicates += 1
            else:
                self.received[ev["text"]] = (ev["time_ms"], t)
        elif kind == "history":
            self.history.append(ev)
        elif kind == "result":
            if "id" in ev:
                self.results[ev["id"]] = ev
            if ev.get("cmd") == "join":
                if not self.joined_rooms:
                    self.subscribed.append([t, None])
                self.joined_rooms.add(ev["room"])
            elif ev.get("cmd") == "leave":
                self._left_room(t, ev["room"])
        elif kind == "error":
            self.errors.append((t, ev))
            if "id" in ev:
                self.results[ev["id"]] = ev

    def _left_room(self, t, room):
        """We left our only room (the soak uses one): we are unsubscribed, and
        we no longer hear who joins or leaves it. After a re-join, the chat
        reports only peers that subscribe later, so our view of the others
        stays closed (the analysis then relies on their view of us)."""
        self.joined_rooms.discard(room)
        if not self.joined_rooms:
            self.close_intervals(t)

    # ---- control
    def history_texts(self):
        return " ".join(e.get("text", "") for e in self.history)

    def alive(self):
        return self.p.poll() is None

    def direct_conns(self):
        return sum(n for (_, _, kind), n in self.conns.items() if kind == "direct")

    def send(self, obj):
        """Write one command (a dict becomes JSON); False if stdin is gone."""
        line = obj if isinstance(obj, str) else json.dumps(obj)
        try:
            self.p.stdin.write(line.encode() + b"\n")
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def signal(self, sig):
        try:
            self.p.send_signal(sig)
        except ProcessLookupError:
            pass

    def stop(self, how="term"):
        """Ask the process to end: "term" (SIGTERM), "quit" (the command), "kill" (SIGKILL)."""
        if self.stop_how is None:
            self.stop_how = how
        if self.t_end is None:
            self.t_end = time.time()
        if how == "kill":
            self.signal(signal.SIGKILL)
        elif how == "quit":
            if not self.send({"cmd": "quit"}):
                self.signal(signal.SIGTERM)
        else:
            self.signal(signal.SIGTERM)

    def close_intervals(self, t):
        for iv in list(self.links.values()) + [self.subscribed]:
            if iv and iv[-1][1] is None:
                iv[-1][1] = t

    @staticmethod
    def _covers(ivs, t0, t1):
        return any(s <= t0 and (e is None or e >= t1) for s, e in ivs)

    def sees(self, peer, t0, t1):
        """Did this process see `peer` subscribed during the whole of [t0, t1]?"""
        return self._covers(self.links.get(peer, ()), t0, t1)

    def in_room(self, t0, t1):
        """Were we subscribed ourselves during the whole of [t0, t1]?"""
        return self._covers(self.subscribed, t0, t1)

    def sample(self, t):
        st = proc_stats(self.pid) if self.alive() else None
        if st:
            self.samples.append((t, st[0], st[1], st[2], st[3], self.direct_conns()))
        return st

    def finish(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        self._out.close()

    def stderr_tail(self, n=30):
        try:
            with open(self.err_path, errors="replace") as f:
                return f.readlines()[-n:]
        except OSError:
            return []


class Net:
    """A set of processes sharing one work directory and event queue."""

    def __init__(self, binary, work, log="warn", prefix=None):
        self.bin = binary
        self.work = work
        self.log = log
        self.prefix = prefix or []   # e.g. ["ip", "netns", "exec", "ns1"]
        self.q = queue.Queue()
        self.procs = []
        os.makedirs(work, exist_ok=True)

    def env(self, data_dir):
        env = dict(os.environ)
        for k in ("P2P_LOG", "P2P_PLUGIN_PATH"):
            env.pop(k, None)
        env.update(HOME=data_dir, XDG_DATA_HOME=data_dir, P2P_LOG=self.log, NO_COLOR="1")
        os.makedirs(data_dir, exist_ok=True)
        return env

    def relay(self, name, port=0, seed=0, listen_ip="127.0.0.1", extra=(), prefix=None):
        argv = list(prefix if prefix is not None else self.prefix) + [self.bin, "--set",
                                                                     f"host.listen=/ip4/{listen_ip}/tcp/{port}"]
        argv += list(extra) + ["relay", "--secret-key-seed", str(seed)]
        pr = Proc(self, name, argv, self.env(os.path.join(self.work, name + ".data")), "relay")
        self.procs.append(pr)
        return pr

    def peer(self, name, room, data_dir=None, bootstrap=(), relays=(), listen="/ip4/127.0.0.1/tcp/0", extra=(),
             sets=(), prefix=None):
        argv = list(prefix if prefix is not None else self.prefix) + [self.bin, "--without", "mdns"]
        for s in sets:
            argv += ["--set", s]
        argv += list(extra) + ["peer", "--json", "--room", room]
        if listen:
            argv += ["--listen", listen]
        for b in bootstrap:
            argv += ["--bootstrap", b]
        for r in relays:
            argv += ["--relay", r]
        pr = Proc(self, name, argv, self.env(data_dir or os.path.join(self.work, name + ".data")), "peer")
        pr.joined_rooms.add(room)
        self.procs.append(pr)
        return pr

    def pump(self, timeout=0.0):
        """Apply queued events; wait up to `timeout` seconds for the first one."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            try:
                t, pr, raw = self.q.get(timeout=left) if left > 0 else self.q.get_nowait()
            except queue.Empty:
                return
            pr._apply(t, raw)
            timeout = 0
            deadline = 0

    def wait_for(self, pred, timeout):
        """Pump until pred() is true (returns True) or timeout (False)."""
        end = time.time() + timeout
        while not pred():
            left = end - time.time()
            if left <= 0:
                return False
            self.pump(min(left, 0.1))
        return True

    def reap(self, pr, timeout=15.0):
        """Wait for a stopped process to exit; SIGKILL after `timeout`. Returns its exit code."""
        try:
            pr.rc = pr.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pr.signal(signal.SIGKILL)
            pr.rc = pr.p.wait()
            pr.stop_how = (pr.stop_how or "") + "+hung"
        self.wait_for(lambda: pr._eof, 5)
        pr.close_intervals(pr.t_end or time.time())
        pr.finish()
        return pr.rc

    def shutdown(self, timeout=15.0):
        for pr in self.procs:
            if pr.alive():
                pr.stop("term")
        for pr in self.procs:
            if pr.rc is None:
                self.reap(pr, timeout)

    def kill_all(self):
        for pr in self.procs:
            if pr.alive():
                pr.signal(signal.SIGKILL)
