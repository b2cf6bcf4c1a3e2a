// Circuit Relay v2 and DCUtR subcommands of the go-libp2p test peer
// (tests/interop/README.md, "Circuit relay" and "DCUtR"):
//
//	relay [--seed N] [--port P] [--ip IP] [--unlimited]
//	    a relay server: relay.New(h) (p2p/protocol/circuitv2/relay) with
//	    its default resources, on a host with identify and ping;
//	    --unlimited (bench/run.sh's relayed throughput): WithInfiniteLimits
//	    (no circuit duration or data limit);
//	relay-listen --relay MADDR [--seed N] [--port P] [--ip IP]
//	    `listen`, and reachable through the relay MADDR (/p2p/ included):
//	    client.Reserve there; RESERVED once accepted; serves /perf/1.0.0
//	    too (bench.go);
//	relay-dial CIRCUIT-MADDR [dial options]
//	    `dial` through a relay (streams allowed on limited connections);
//	dcutr --mode listen|dial --relay-address MADDR [--remote-peer-id ID]
//	      [--seed N] [--port P] [--ip IP] [--timeout S] [--public-net CIDR]
//	    go-libp2p's hole punching (libp2p.EnableHolePunching) like
//	    rust-libp2p's examples/dcutr: connect to the relay, then reserve
//	    there (listen) or dial the remote peer through it (dial); prints the
//	    connections (limited or direct), the hole-punch tracer's events and
//	    DIRECT once only direct connections to a peer that had a relayed one
//	    are left. --public-net makes the addresses of CIDR public for
//	    go-libp2p (see publicNet).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

func init() {
	subcommands["relay"] = cmdRelay
	subcommands["relay-listen"] = cmdRelayListen
	subcommands["relay-dial"] = func(args []string) error { return dialMain("relay-dial", args, true) }
	subcommands["dcutr"] = cmdDcutr
}

// listenFlags are the --seed, --port and --ip options of the relay and
// dcutr subcommands.
type listenFlags struct {
	fs   *flag.FlagSet
	seed seedFlag
	port *uint
	ip   *string
}

func newListenFlags(name, defaultIP string) *listenFlags {
	l := &listenFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	l.fs.Var(&l.seed, "seed", "")
	l.port = l.fs.Uint("port", 0, "")
	l.ip = l.fs.String("ip", defaultIP, "")
	return l
}

// parse parses args; there must be no positional argument.
func (l *listenFlags) parse(args []string) error {
	pos, err := parseFlags(l.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr("%s takes no positional arguments", l.fs.Name())
	}
	return nil
}

// host makes a host listening on the options' address that prints
// IDENTIFIED for every identify exchange.
func (l *listenFlags) host(extra ...libp2p.Option) (host.Host, error) {
	listen, err := tcpListenAddr(*l.ip, *l.port)
	if err != nil {
		return nil, err
	}
	h, err := newHost(l.seed, []string{listen}, extra...)
	if err != nil {
		return nil, err
	}
	if err := printIdentifications(h); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// tcpListenAddr is /ip4/IP/tcp/PORT or /ip6/IP/tcp/PORT.
func tcpListenAddr(ip string, port uint) (string, error) {
	a := net.ParseIP(ip)
	if a == nil || port > 65535 {
		return "", usageErr("bad --ip %q or --port %d", ip, port)
	}
	if a.To4() != nil {
		return fmt.Sprintf("/ip4/%s/tcp/%d", a, port), nil
	}
	return fmt.Sprintf("/ip6/%s/tcp/%d", a, port), nil
}

// printListen prints PEERID and one LISTEN line per (non-circuit) listen
// address.
func printListen(h host.Host) error {
	out("PEERID %s", h.ID())
	p2p, err := ma.NewComponent("p2p", h.ID().String())
	if err != nil {
		return err
	}
	for _, a := range h.Network().ListenAddresses() {
		if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
			continue // the relay transport's /p2p-circuit: RESERVED says more
		}
		out("LISTEN %s", a.Encapsulate(p2p))
	}
	return nil
}

// waitSignal waits for SIGINT/SIGTERM and prints RSS_MAX_KIB.
func waitSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	out("RSS_MAX_KIB %d", rssMaxKiB())
}

// relayACL lets everything through and prints what the relay was asked
// for (go-libp2p's relay reports no events with peer ids).
type relayACL struct{}

func (relayACL) AllowReserve(p peer.ID, _ ma.Multiaddr) bool {
	out("RESERVE_REQUEST %s", p)
	return true
}

func (relayACL) AllowConnect(src peer.ID, _ ma.Multiaddr, dst peer.ID) bool {
	out("CONNECT_REQUEST %s %s", src, dst)
	return true
}

func cmdRelay(args []string) error {
	fl := newListenFlags("relay", "127.0.0.1")
	unlimited := false
	rest := args[:0:0]
	for _, a := range args {
		if a == "--unlimited" {
			unlimited = true
		} else {
			rest = append(rest, a)
		}
	}
	if err := fl.parse(rest); err != nil {
		return err
	}
	h, err := fl.host()
	if err != nil {
		return err
	}
	defer h.Close()
	watchConnections(h)
	// The default resources: reservations 1 h, circuits 2 min and 128 KiB
	// per direction, 128 reservations (8 per IP, 32 per ASN), 16 circuits.
	opts := []relayv2.Option{relayv2.WithACL(relayACL{})}
	if unlimited {
		opts = append(opts, relayv2.WithInfiniteLimits())
	}
	r, err := relayv2.New(h, opts...)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := printListen(h); err != nil {
		return err
	}
	waitSignal()
	return nil
}

// parseRelayAddr parses a relay multiaddr ending with /p2p/<id>.
func parseRelayAddr(a string) (*peer.AddrInfo, ma.Multiaddr, error) {
	addr, err := ma.NewMultiaddr(a)
	if err != nil {
		return nil, nil, usageErr("bad relay multiaddr %q: %v", a, err)
	}
	info, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return nil, nil, usageErr("the relay multiaddr must end with /p2p/<peer id>: %v", err)
	}
	return info, addr, nil
}

// reserve makes a reservation on the relay and prints RESERVED with our
// circuit address and the limits the relay announced.
func reserve(ctx context.Context, h host.Host, relay *peer.AddrInfo, relayAddr ma.Multiaddr) error {
	if err := h.Connect(ctx, *relay); err != nil {
		out("ERROR dial failed: %v", err)
		return exitError(1)
	}
	rsvp, err := client.Reserve(ctx, h, *relay)
	if err != nil {
		out("ERROR reservation: %v", err)
		return exitError(1)
	}
	circuit := relayAddr.Encapsulate(ma.StringCast("/p2p-circuit/p2p/" + h.ID().String()))
	dur, data := "none", "none"
	if rsvp.LimitDuration > 0 {
		dur = fmt.Sprintf("%ds", int64(rsvp.LimitDuration/time.Second))
	}
	if rsvp.LimitData > 0 {
		data = fmt.Sprintf("%d", rsvp.LimitData)
	}
	out("RESERVED %s limit duration=%s data=%s", circuit, dur, data)
	return nil
}

func cmdRelayListen(args []string) error {
	fl := newListenFlags("relay-listen", "127.0.0.1")
	relayArg := fl.fs.String("relay", "", "")
	if err := fl.parse(args); err != nil {
		return err
	}
	if *relayArg == "" {
		return usageErr("relay-listen needs --relay")
	}
	relay, relayAddr, err := parseRelayAddr(*relayArg)
	if err != nil {
		return err
	}
	h, err := fl.host(libp2p.EnableRelay())
	if err != nil {
		return err
	}
	defer h.Close()
	watchConnections(h)
	h.SetStreamHandler(echoProtocol, echoHandler)
	h.SetStreamHandler(perfID, perfHandler) // bench/run.sh's relayed throughput
	if err := printListen(h); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = reserve(ctx, h, relay, relayAddr)
	cancel()
	if err != nil {
		return err
	}
	waitSignal()
	return nil
}

// publicNet makes go-libp2p treat the IPv4 network cidr as public:
// manet.IsPublicAddr (which decides what go offers and accepts for hole
// punching, and whether its hole-punch service starts at all) rejects
// every address in manet.Unroutable4, which includes the benchmarking
// range 198.18.0.0/15 that the namespace lab uses. The entries that
// contain cidr are replaced by the parts of them outside it, so that the
// lab's "internet" (198.18.0.0/16) is public and its LANs (198.19.x) stay
// unroutable. Called before any host exists (the list is read unlocked).
func publicNet(cidr string) error {
	_, pub, err := net.ParseCIDR(cidr)
	if err != nil || pub.IP.To4() == nil {
		return usageErr("bad --public-net %q (an IPv4 CIDR)", cidr)
	}
	var kept []*net.IPNet
	for _, n := range manet.Unroutable4 {
		kept = append(kept, subtractNet(n, pub)...)
	}
	manet.Unroutable4 = kept
	return nil
}

// subtractNet returns the parts of n outside sub, as CIDR blocks (n itself
// when they do not overlap, nothing when sub covers n).
func subtractNet(n, sub *net.IPNet) []*net.IPNet {
	nOnes, bits := n.Mask.Size()
	subOnes, _ := sub.Mask.Size()
	if !n.Contains(sub.IP) && !sub.Contains(n.IP) {
		return []*net.IPNet{n}
	}
	if subOnes <= nOnes {
		return nil // sub covers n
	}
	// Halve n: keep the half without sub, split the one with it.
	mask := net.CIDRMask(nOnes+1, bits)
	lo := &net.IPNet{IP: n.IP.Mask(n.Mask), Mask: mask}
	hiIP := make(net.IP, len(lo.IP))
	copy(hiIP, lo.IP)
	hiIP[nOnes/8] |= 0x80 >> (nOnes % 8)
	hi := &net.IPNet{IP: hiIP, Mask: mask}
	if lo.Contains(sub.IP) {
		return append(subtractNet(lo, sub), hi)
	}
	return append([]*net.IPNet{lo}, subtractNet(hi, sub)...)
}

// holePunchTracer prints go's hole-punching events.
type holePunchTracer struct{}

func (holePunchTracer) Trace(e *holepunch.Event) {
	switch ev := e.Evt.(type) {
	case *holepunch.DirectDialEvt:
		out("DCUTR direct-dial %s success=%v %s", e.Remote, ev.Success, ev.Error)
	case *holepunch.ProtocolErrorEvt:
		out("DCUTR protocol-error %s %s", e.Remote, ev.Error)
	case *holepunch.StartHolePunchEvt:
		out("DCUTR start %s rtt=%s addrs=%v", e.Remote, ev.RTT, ev.RemoteAddrs)
	case *holepunch.HolePunchAttemptEvt:
		out("DCUTR attempt %s %d", e.Remote, ev.Attempt)
	case *holepunch.EndHolePunchEvt:
		if ev.Success {
			out("DCUTR ok %s %s", e.Remote, ev.EllapsedTime)
		} else {
			out("DCUTR FAIL %s %s", e.Remote, ev.Error)
		}
	}
}

// directWatch prints every connection with its direction and whether it
// is limited (relayed), and DIRECT once a peer that had a relayed
// connection has only direct ones.
type directWatch struct {
	mu       sync.Mutex
	since    map[peer.ID]time.Time // peers that had a relayed connection, not yet DIRECT
	reported map[peer.ID]bool
}

func kindOf(c network.Conn) string {
	if c.Stat().Limited {
		return "limited"
	}
	return "direct"
}

func (w *directWatch) check(n network.Network, p peer.ID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t0, ok := w.since[p]
	if !ok || w.reported[p] {
		return
	}
	var direct network.Conn
	for _, c := range n.ConnsToPeer(p) {
		if c.Stat().Limited {
			return
		}
		direct = c
	}
	if direct != nil {
		w.reported[p] = true
		out("DIRECT %s %s %d", p, withoutP2P(direct.RemoteMultiaddr()), time.Since(t0).Milliseconds())
	}
}

func (w *directWatch) notifee() *network.NotifyBundle {
	return &network.NotifyBundle{
		ConnectedF: func(n network.Network, c network.Conn) {
			dir := "outbound"
			if c.Stat().Direction == network.DirInbound {
				dir = "inbound"
			}
			out("CONNECTED %s %s %s %s", c.RemotePeer(), withoutP2P(c.RemoteMultiaddr()), dir, kindOf(c))
			if c.Stat().Limited {
				w.mu.Lock()
				if _, ok := w.since[c.RemotePeer()]; !ok {
					w.since[c.RemotePeer()] = time.Now()
				}
				w.mu.Unlock()
			}
			// Not from the notifee itself: the swarm holds locks.
			go w.check(n, c.RemotePeer())
		},
		DisconnectedF: func(n network.Network, c network.Conn) {
			out("DISCONNECTED %s %s", c.RemotePeer(), kindOf(c))
			go w.check(n, c.RemotePeer())
		},
	}
}

func cmdDcutr(args []string) error {
	fl := newListenFlags("dcutr", "0.0.0.0")
	mode := fl.fs.String("mode", "", "")
	relayArg := fl.fs.String("relay-address", "", "")
	remoteArg := fl.fs.String("remote-peer-id", "", "")
	timeout := fl.fs.Float64("timeout", 60, "")
	pubNet := fl.fs.String("public-net", "", "")
	if err := fl.parse(args); err != nil {
		return err
	}
	if *relayArg == "" || !(*timeout > 0) ||
		!(*mode == "listen" && *remoteArg == "" || *mode == "dial" && *remoteArg != "") {
		return usageErr("dcutr needs --relay-address and --mode listen, or --mode dial with --remote-peer-id")
	}
	relay, relayAddr, err := parseRelayAddr(*relayArg)
	if err != nil {
		return err
	}
	var remote peer.ID
	if *mode == "dial" {
		if remote, err = peer.Decode(*remoteArg); err != nil {
			return usageErr("bad --remote-peer-id %q: %v", *remoteArg, err)
		}
	}
	if *pubNet != "" {
		if err := publicNet(*pubNet); err != nil {
			return err
		}
	}
	time.AfterFunc(time.Duration(*timeout*float64(time.Second)), func() {
		out("TIMEOUT")
		out("RSS_MAX_KIB %d", rssMaxKiB())
		os.Exit(2)
	})
	h, err := fl.host(libp2p.EnableRelay(), libp2p.EnableHolePunching(holepunch.WithTracer(holePunchTracer{})))
	if err != nil {
		return err
	}
	defer h.Close()
	w := &directWatch{since: map[peer.ID]time.Time{}, reported: map[peer.ID]bool{}}
	h.Network().Notify(w.notifee())
	if err := printListen(h); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Connect(ctx, *relay); err != nil {
		out("ERROR dial failed: %v", err)
		return exitError(1)
	}
	// The hole-punch service starts once the host has a public address
	// (from identify with the relay): until then it does not even speak
	// /libp2p/dcutr, and a peer would not try.
	for !supports(h, string(holepunch.Protocol)) {
		select {
		case <-ctx.Done():
			out("ERROR the hole-punch service did not start: no public address")
			return exitError(1)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if *mode == "listen" {
		if err := reserve(ctx, h, relay, relayAddr); err != nil {
			return err
		}
	} else {
		circuit := relayAddr.Encapsulate(ma.StringCast("/p2p-circuit/p2p/" + remote.String()))
		info, _ := peer.AddrInfoFromP2pAddr(circuit)
		if err := h.Connect(network.WithAllowLimitedConn(ctx, "dcutr"), *info); err != nil {
			out("ERROR dial failed: %v", err)
			return exitError(1)
		}
	}
	waitSignal()
	return nil
}

// supports tells whether h has a handler for protocol p.
func supports(h host.Host, p string) bool {
	for _, q := range h.Mux().Protocols() {
		if string(q) == p {
			return true
		}
	}
	return false
}
