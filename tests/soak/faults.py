#!/usr/bin/env python3
"""faults.py - p2pchat under faults, each scenario a CTest test.

  faults.py relay-restart BIN   relayed clients re-reserve after the relay
                                is killed and restarted, and chat resumes
  faults.py no-bootstrap BIN    the bootstrap node is down at start: peers
                                start, chat with those they reach, and join
                                the rest once it comes up
  faults.py disk-full BIN       (root) the data directory on a full disk:
                                clear errors, the chat goes on, no corruption
  faults.py partition BIN NS... (run by partition-netns.sh) the mesh heals
                                after a network partition

Environment: FAULTS_LOG sets P2P_LOG of every process (default warn; their
stderr is in the work directory), FAULTS_KEEP keeps the work directory.

Prints "ok - ..." / "FAIL - ..." lines; exit 0 when all passed, 1 if not.
Python 3 standard library only (chatnet.py)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chatnet  # noqa: E402


NETS = []


def new_net(binary, work):
    net = chatnet.Net(binary, work, log=os.environ.get("FAULTS_LOG", "warn"))
    NETS.append(net)
    return net


class Check:
    def __init__(self, net):
        self.net = net
        self.fails = 0
        self.passes = 0

    def ok(self, cond, what, detail=""):
        if cond:
            self.passes += 1
            print(f"ok - {what}", flush=True)
        else:
            self.fails += 1
            print(f"FAIL - {what}{': ' + detail if detail else ''}", flush=True)
        return cond

    def dump(self):
        for pr in self.net.procs:
            print(f"---- {pr.name} (rc {pr.rc}, pid {pr.pid}) stderr tail:")
            for line in pr.stderr_tail(25):
                print("    " + line.rstrip())

    def finish(self):
        print(f"{self.passes} passed, {self.fails} failed")
        if self.fails:
            self.dump()
        return 0 if self.fails == 0 else 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sees(a, b):
    """a currently sees b subscribed to its room."""
    iv = a.links.get(b.peer_id)
    return bool(iv) and iv[-1][1] is None


def has_conn(a, b, kind=None):
    return any(p == b.peer_id and (kind is None or k == kind) for (p, _, k) in a.conns)


def exchange(net, c, src, dsts, tag, timeout=20):
    """src publishes a message; it must reach every peer of dsts."""
    text = f"{tag} from {src.name} at {time.time():.3f}"
    src.send({"cmd": "send", "text": text, "id": tag})
    net.wait_for(lambda: tag in src.results, 10)
    res = src.results.get(tag, {})
    if not c.ok(res.get("event") == "result", f"{tag}: {src.name} published", str(res)):
        return False
    ok = net.wait_for(lambda: all(text in d.received for d in dsts), timeout)
    return c.ok(ok, f"{tag}: reached {', '.join(d.name for d in dsts)}",
                "missing at " + ", ".join(d.name for d in dsts if text not in d.received))


def ask_addrs(net, pr, tag):
    pr.send({"cmd": "addrs", "id": tag})
    net.wait_for(lambda: tag in pr.results, 10)
    return pr.results.get(tag, {}).get("addrs", [])


# ---- relay killed and restarted mid-chat ---------------------------------------------

def relay_restart(binary, work):
    """A and B have no direct address: they listen only through the relay
    (--relay, /p2p-circuit), so their chat runs over a relayed connection.
    The relay is SIGKILLed (no goodbye), then restarted on the same port with
    the same key. Both must re-reserve (circuit address advertised again),
    find each other again and chat."""
    net = new_net(binary, work)
    c = Check(net)
    room = f"faults-{os.getpid()}"
    relay = net.relay("relay-1", seed=7)
    if not c.ok(net.wait_for(lambda: relay.t_ready and relay.addrs, 15), "relay started"):
        return c.finish()
    raddr = relay.addrs[0]
    port = raddr.split("/tcp/")[1].split("/")[0]
    # Relayed clients: no direct listen address, chat over limited connections.
    sets = ["host.listen=", "plugin.gossipsub.use_limited_connections=true",
            "app.chat.room_lookup_interval=2s", "plugin.relay.retry_interval=1s", "plugin.relay.retry_max=4s"]
    a = net.peer("a", room, relays=[raddr], listen=None, sets=sets)
    b = net.peer("b", room, relays=[raddr], listen=None, sets=sets)
    c.ok(net.wait_for(lambda: a.peer_id and b.peer_id, 15), "a and b started")
    c.ok(net.wait_for(lambda: any("/p2p-circuit" in x for x in ask_addrs(net, a, f"ad{time.time()}")), 20),
         "a reserved a slot: its circuit address is advertised")
    c.ok(net.wait_for(lambda: sees(a, b) and sees(b, a), 30), "a and b see each other in the room")
    c.ok(has_conn(a, b, "relayed") and not has_conn(a, b, "direct"), "their connection is relayed",
         str(a.conns))
    exchange(net, c, a, [b], "before-1")
    exchange(net, c, b, [a], "before-2")

    relay.stop("kill")
    net.reap(relay, 5)
    c.ok(net.wait_for(lambda: not has_conn(a, b) and not has_conn(b, a), 15),
         "the relayed connection ends with the relay")
    c.ok(net.wait_for(lambda: not any("/p2p-circuit" in x for x in ask_addrs(net, a, f"ad{time.time()}")), 15),
         "a no longer advertises the circuit address")
    time.sleep(1)
    relay2 = net.relay("relay-2", port=port, seed=7)
    c.ok(net.wait_for(lambda: relay2.t_ready, 15), "relay restarted on the same port")
    c.ok(net.wait_for(lambda: any("/p2p-circuit" in x for x in ask_addrs(net, a, f"ad{time.time()}"))
                      and any("/p2p-circuit" in x for x in ask_addrs(net, b, f"ad{time.time()}")), 40),
         "a and b re-reserved (circuit addresses advertised again)")
    c.ok(net.wait_for(lambda: sees(a, b) and sees(b, a), 40), "a and b find each other again through the relay")
    exchange(net, c, a, [b], "after-1")
    exchange(net, c, b, [a], "after-2")
    net.shutdown()
    for pr in (a, b, relay2):
        c.ok(pr.rc == 0, f"{pr.name} exits 0 on SIGTERM", f"rc {pr.rc}")
    return c.finish()


# ---- the bootstrap node is down at start -----------------------------------------------

def no_bootstrap(binary, work):
    """Every peer's bootstrap list starts with a relay that is not running
    (nothing listens on its port). They start anyway, and the ones given a
    second, live peer chat with it; a peer that knows only the dead node
    runs on alone. When the node comes up on its port, the chat's redial
    (every 10 s) reaches it and the room lookup brings the lone peer in."""
    net = new_net(binary, work)
    c = Check(net)
    room = f"faults-{os.getpid()}"
    port = free_port()
    # The relay's PeerId for seed 9, found by starting it once elsewhere.
    probe = net.relay("probe", seed=9)
    net.wait_for(lambda: probe.peer_id and probe.t_ready, 15)
    probe.stop("term")
    net.reap(probe)
    dead = f"/ip4/127.0.0.1/tcp/{port}/p2p/{probe.peer_id}"
    sets = ["app.chat.room_lookup_interval=2s"]
    a = net.peer("a", room, bootstrap=[dead], sets=sets)
    c.ok(net.wait_for(lambda: a.peer_id, 15), "a starts although its bootstrap node is down")
    b = net.peer("b", room, bootstrap=[dead, a.addrs[0]], sets=sets)
    c.ok(net.wait_for(lambda: b.peer_id, 15), "b starts (first bootstrap node down, second up)")
    lone = net.peer("lone", room, bootstrap=[dead], sets=sets)
    c.ok(net.wait_for(lambda: lone.peer_id, 15), "a peer with only the dead bootstrap node starts")
    c.ok(net.wait_for(lambda: sees(a, b) and sees(b, a), 20), "a and b chat with each other")
    exchange(net, c, b, [a], "reached-1")
    c.ok(net.wait_for(lambda: "cannot reach bootstrap peer" in "".join(b.stderr_tail(50)), 15),
         "b says it cannot reach the dead bootstrap node")
    c.ok(lone.alive() and not lone.links, "the lone peer keeps running, alone")
    relay = net.relay("relay", port=port, seed=9)
    c.ok(net.wait_for(lambda: relay.t_ready, 15), "the bootstrap node comes up")
    c.ok(net.wait_for(lambda: sees(lone, a) and sees(lone, b) and sees(a, lone), 45),
         "the lone peer finds the room through it")
    exchange(net, c, lone, [a, b], "late-1")
    net.shutdown()
    for pr in (a, b, lone, relay):
        c.ok(pr.rc == 0, f"{pr.name} exits 0 on SIGTERM", f"rc {pr.rc}")
    return c.finish()


# ---- disk full for the key and history files ------------------------------------------

def fill(path):
    """Write zeros to path until the file system is full."""
    with open(path, "wb", buffering=0) as f:
        block = b"\0" * 4096
        try:
            while True:
                f.write(block)
        except OSError:
            pass
    # Whatever is left (less than a block).
    with open(path + "-tail", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


def unfill(path):
    for p in (path, path + "-tail"):
        if os.path.exists(p):
            os.unlink(p)


def leftovers(d):
    """Temporary files left in d: the identity file is written as
    identity.key.tmp-XXXXXX, the kad state file as kad-<id>.txt.tmp, both
    then renamed."""
    return [f for f in os.listdir(d) if ".tmp" in f]


def disk_full(binary, work):
    """A 1 MiB tmpfs (in a private mount namespace) holds the data
    directory: the identity file cannot be created on a full disk (exit 1,
    one sentence, no partial file); history that cannot be opened, or whose
    writes start failing, is turned off with an error event while the chat
    goes on; after space is freed the key is unchanged and the history
    database passes SQLite's integrity check with the rows written before."""
    import hashlib
    import sqlite3
    net = new_net(binary, work)
    c = Check(net)
    room = f"faults-{os.getpid()}"
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "p2pfaults", mnt], capture_output=True)
    if r.returncode != 0:
        print(f"SKIP: cannot mount a tmpfs: {r.stderr.decode().strip()}")
        return 77
    filler = os.path.join(mnt, "filler")

    # 1. No room for the identity file.
    d1 = os.path.join(mnt, "d1")
    os.makedirs(d1)
    fill(filler)
    env = net.env(d1)
    r = subprocess.run([binary, "--without", "mdns", "peer", "--json", "--listen", "/ip4/127.0.0.1/tcp/0"],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    err = r.stderr.decode(errors="replace")
    c.ok(r.returncode == 1, "full disk at the first start: exit 1", f"exit {r.returncode}")
    c.ok("identity" in err and "No space left on device" in err, "the error names the identity file and ENOSPC",
         err.strip()[-300:])
    left = [f for f in os.listdir(os.path.join(d1, "p2pchat"))] if os.path.isdir(os.path.join(d1, "p2pchat")) else []
    c.ok(not left, "no partial identity file left", str(left))
    unfill(filler)

    # 2. The identity exists; the history database cannot be created.
    d2 = os.path.join(mnt, "d2")
    b = net.peer("b", room, sets=["app.chat.history=false"])
    c.ok(net.wait_for(lambda: b.peer_id, 15), "b started (data elsewhere)")
    r = subprocess.run([binary, "--without", "mdns", "--set", "app.chat.history=false", "peer", "--json",
                        "--listen", "/ip4/127.0.0.1/tcp/0"], env=net.env(d2), input=b'{"cmd":"quit"}\n',
                       capture_output=True, timeout=30)
    key = os.path.join(d2, "p2pchat", "identity.key")
    if not c.ok(r.returncode == 0 and os.path.exists(key), "a first run made the identity file",
                f"exit {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}"):
        return c.finish()
    key_hash = hashlib.sha256(open(key, "rb").read()).hexdigest()
    fill(filler)
    a = net.peer("a", room, data_dir=d2, bootstrap=[b.addrs[0]], sets=["app.chat.history_show=0"])
    c.ok(net.wait_for(lambda: a.peer_id, 15), "a starts with its existing identity on the full disk")
    c.ok(net.wait_for(lambda: any("history" in e.get("message", "") for _, e in a.errors), 10),
         "a reports that history is off", str(a.errors))
    c.ok("history" not in a.ready, "a runs without history", str(a.ready))
    c.ok(net.wait_for(lambda: sees(a, b) and sees(b, a), 20), "a and b see each other")
    exchange(net, c, b, [a], "nohist-1")
    a.stop("term")
    net.reap(a)
    c.ok(a.rc == 0, "a exits 0", f"rc {a.rc}")
    unfill(filler)

    # 3. History works, then the disk fills up under it.
    a2 = net.peer("a2", room, data_dir=d2, bootstrap=[b.addrs[0]], sets=["app.chat.history_show=0"])
    c.ok(net.wait_for(lambda: a2.peer_id, 15), "a restarted with free space")
    c.ok(a2.peer_id == a.peer_id, "same identity as before the full disk")
    c.ok(bool(a2.ready.get("history")), "history on", str(a2.ready))
    c.ok(net.wait_for(lambda: sees(a2, b) and sees(b, a2), 20), "a2 and b see each other")
    for i in range(5):
        exchange(net, c, b, [a2], f"stored-{i}")
    dbpath = os.path.join(d2, "p2pchat", "history.db")
    c.ok(os.path.exists(dbpath), "history database created")
    fill(filler)
    # Messages until a history write fails (SQLite first uses the space its
    # files already have).
    big = "x" * 2000
    n = 0
    while n < 400 and not any("history" in e.get("message", "") for _, e in a2.errors):
        b.send({"cmd": "send", "text": f"filler {n} {big}"})
        n += 1
        net.pump(0.02)
    c.ok(net.wait_for(lambda: any("history" in e.get("message", "") for _, e in a2.errors), 15),
         f"a history write fails on the full disk and a2 says so (after {n} messages)",
         str(a2.errors[-3:]))
    print("# " + "; ".join(e.get("message", "") for _, e in a2.errors), flush=True)
    exchange(net, c, b, [a2], "after-full-1")
    exchange(net, c, a2, [b], "after-full-2")
    a2.stop("term")
    net.reap(a2)
    c.ok(a2.rc == 0, "a2 exits 0 on SIGTERM with the disk full", f"rc {a2.rc}")
    unfill(filler)

    # 4. Nothing corrupt.
    c.ok(hashlib.sha256(open(key, "rb").read()).hexdigest() == key_hash, "the key file is unchanged")
    c.ok(not leftovers(os.path.join(d2, "p2pchat")), "no temporary files left",
         str(os.listdir(os.path.join(d2, "p2pchat"))))
    db = sqlite3.connect(dbpath)
    check = db.execute("PRAGMA integrity_check").fetchone()[0]
    texts = [r[0] for r in db.execute("SELECT CAST(text AS TEXT) FROM messages")] if check == "ok" else []
    db.close()
    c.ok(check == "ok", "history.db passes PRAGMA integrity_check", check)
    c.ok(all(any(t.startswith(f"stored-{i} ") for t in texts) for i in range(5)),
         "the messages stored before the disk filled are there", f"{len(texts)} rows")
    a3 = net.peer("a3", room, data_dir=d2, bootstrap=[b.addrs[0]], sets=["app.chat.history_show=50"])
    c.ok(net.wait_for(lambda: a3.peer_id, 15), "a restarts after space was freed")
    c.ok(bool(a3.ready.get("history")), "history on again", str(a3.ready))
    c.ok(net.wait_for(lambda: "stored-0" in a3.history_texts(), 10), "the old messages are replayed on join")
    net.shutdown()
    c.ok(b.rc == 0 and a3.rc == 0, "b and a3 exit 0", f"{b.rc} {a3.rc}")
    subprocess.run(["umount", mnt], check=False)
    return c.finish()


# ---- network partition and heal (namespaces made by partition-netns.sh) --------------

def partition(binary, work, ns_bridge, ns_relay, relay_ip, side_a, side_b):
    """Hosts on two bridges joined by one link (trunk0 in ns_bridge). The
    link goes down for longer than the keep-alive timeout, so connections
    across it die; the two sides keep chatting inside; after the heal the
    peers of side b redial the bootstrap node (side a), find the room again
    and messages from either side reach every peer."""
    net = new_net(binary, work)
    c = Check(net)
    room = f"faults-{os.getpid()}"
    ns = lambda n: ["ip", "netns", "exec", n]  # noqa: E731
    relay = net.relay("relay", seed=11, listen_ip=relay_ip, prefix=ns(ns_relay))
    if not c.ok(net.wait_for(lambda: relay.t_ready and relay.addrs, 15), "relay started"):
        return c.finish()
    raddr = f"/ip4/{relay_ip}/tcp/{relay.addrs[0].split('/tcp/')[1]}"
    # Short keep-alives, so connections across the partition die quickly.
    sets = ["app.chat.room_lookup_interval=2s", "plugin.yamux.keepalive_interval=2s",
            "plugin.yamux.ping_timeout=3s"]
    peers = {}
    for side, hosts in (("a", side_a), ("b", side_b)):
        for i, (nsn, ip) in enumerate(hosts):
            name = f"{side}{i}"
            peers[name] = net.peer(name, room, bootstrap=[raddr], listen=f"/ip4/{ip}/tcp/0", sets=sets,
                                   prefix=ns(nsn))
    A = [p for n, p in peers.items() if n[0] == "a"]
    B = [p for n, p in peers.items() if n[0] == "b"]
    allp = A + B
    full = lambda: all(sees(x, y) for x in allp for y in allp if x is not y)  # noqa: E731
    c.ok(net.wait_for(full, 40), "every peer sees every other in the room")
    exchange(net, c, A[0], allp[1:], "before")

    subprocess.run(["ip", "-n", ns_bridge, "link", "set", "trunk0", "down"], check=True)
    t_cut = time.time()
    cut = lambda: not any(has_conn(x, y) for x in A for y in B)  # noqa: E731
    c.ok(net.wait_for(cut, 20), "connections across the partition time out",
         f"after {time.time() - t_cut:.1f} s")
    print(f"# connections across closed {time.time() - t_cut:.1f} s after the cut", flush=True)
    exchange(net, c, A[0], A[1:], "inside-a")
    exchange(net, c, B[0], B[1:], "inside-b")
    c.ok(not any("inside-a" in t for p in B for t in p.received), "side b did not get side a's message")

    subprocess.run(["ip", "-n", ns_bridge, "link", "set", "trunk0", "up"], check=True)
    t_heal = time.time()
    c.ok(net.wait_for(full, 60), "the mesh heals: every peer sees every other again",
         f"after {time.time() - t_heal:.1f} s")
    print(f"# healed {time.time() - t_heal:.1f} s after the link came back", flush=True)
    exchange(net, c, A[0], allp[1:], "after-a")
    exchange(net, c, B[-1], allp[:-1], "after-b")
    net.shutdown()
    for pr in allp + [relay]:
        c.ok(pr.rc == 0, f"{pr.name} exits 0 on SIGTERM", f"rc {pr.rc}")
    return c.finish()


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 64
    what, binary = sys.argv[1], os.path.abspath(sys.argv[2])
    if what == "disk-full" and not os.environ.get("FAULTS_UNSHARED"):
        # Mounts go into a private mount namespace: they vanish with us.
        if os.geteuid() != 0:
            print("SKIP: disk-full needs root (to mount a small tmpfs)")
            return 77
        if not shutil.which("unshare"):
            print("SKIP: disk-full needs unshare (util-linux)")
            return 77
        os.environ["FAULTS_UNSHARED"] = "1"
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, *sys.argv])
        return r.returncode
    keep = os.environ.get("FAULTS_KEEP")
    work = tempfile.mkdtemp(prefix=f"p2pfaults-{what}.")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    net_rc = 1
    try:
        if what == "relay-restart":
            net_rc = relay_restart(binary, work)
        elif what == "no-bootstrap":
            net_rc = no_bootstrap(binary, work)
        elif what == "disk-full":
            net_rc = disk_full(binary, work)
        elif what == "partition":
            nsb, nsr, rip = sys.argv[3:6]
            side = lambda s: [tuple(x.split("=")) for x in s.split(",")]  # noqa: E731
            net_rc = partition(binary, work, nsb, nsr, rip, side(sys.argv[6]), side(sys.argv[7]))
        else:
            print(f"faults.py: unknown scenario {what}")
            return 64
    finally:
        for net in NETS:   # whatever happened, leave no process behind
            net.kill_all()
    if keep or net_rc not in (0, 77):
        print(f"outputs in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return net_rc


if __name__ == "__main__":
    sys.exit(main())
