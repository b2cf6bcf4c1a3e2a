#!/usr/bin/env python3
"""nfqueue_delay.py QUEUE DELAY_MS - hold every packet of an NFQUEUE for
DELAY_MS milliseconds, then accept it (order kept). Standard library only:
nfnetlink_queue spoken over a raw netlink socket. For the namespace labs
(tests/netns/lib.sh, netns_delay), where tc netem is not available: put it
behind `iptables -t raw -I PREROUTING -j NFQUEUE --queue-num QUEUE` in a
namespace, so that packets wait before conntrack and routing see them.
Runs until SIGTERM/SIGINT."""
import collections
import os
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_ACCEPT = 1
NLM_F_REQUEST = 1
NLMSG_ERROR = 2


def attr(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * ((4 - n % 4) % 4)


def message(msg, queue, attrs, seq):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, NLM_F_REQUEST, seq, 0) + body


def main():
    if len(sys.argv) != 3:
        print("usage: nfqueue_delay.py QUEUE DELAY_MS", file=sys.stderr)
        return 64
    queue, delay = int(sys.argv[1]), float(sys.argv[2]) / 1000.0
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((0, 0))
    seq = 1
    s.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0))], seq))
    seq += 1
    s.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META) + b"\0\0\0")], seq))
    held = collections.deque()   # (due, packet id): FIFO, every packet has the same delay
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    signal.signal(signal.SIGINT, lambda *_: running.__setitem__(0, False))
    print("nfqueue_delay: queue %d, %.0f ms" % (queue, delay * 1000), flush=True)
    while running[0] or held:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, pid = held.popleft()
            seq += 1
            s.send(message(NFQNL_MSG_VERDICT, queue, [attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid))], seq))
        if not running[0]:
            continue
        timeout = max(0.0, held[0][0] - now) if held else 0.5
        try:
            ready, _, _ = select.select([s], [], [], timeout)
        except InterruptedError:
            continue
        if not ready:
            continue
        data = s.recv(1 << 16)
        off = 0
        while off + 16 <= len(data):
            n, kind = struct.unpack_from("=IH", data, off)
            if n < 16:
                break
            if kind & 0xff == NFQNL_MSG_PACKET and kind >> 8 == NFNL_SUBSYS_QUEUE:
                a = off + 20   # nlmsghdr + nfgenmsg
                while a + 4 <= off + n:
                    alen, akind = struct.unpack_from("=HH", data, a)
                    if alen < 4:
                        break
                    if akind & 0x7fff == NFQA_PACKET_HDR:
                        held.append((time.monotonic() + delay, struct.unpack_from("!I", data, a + 4)[0]))
                    a += (alen + 3) & ~3
            elif kind == NLMSG_ERROR:
                err = struct.unpack_from("=i", data, off + 16)[0]
                if err:
                    print("nfqueue_delay: netlink error %s" % os.strerror(-err), file=sys.stderr, flush=True)
                    return 1
            off += (n + 3) & ~3
    return 0


if __name__ == "__main__":
    sys.exit(main())
