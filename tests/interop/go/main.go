// Command interop-peer is the go-libp2p test peer for the p2pchat interop
// tests (not part of the product). The subcommand contract is in
// tests/interop/README.md.
//
// Usage: interop-peer <subcommand> [args...]
//
// Subcommands:
//
//	peerid-from-seed N   print the PeerId of the Ed25519 key whose 32-byte
//	                     secret (seed) is [N, 0, 0, ..., 0] (the convention
//	                     of rust-libp2p's relay-server --secret-key-seed).
//	listen [--seed N] [--port P] [--ip6]
//	                     serve identify, ping and /p2pchat/echo/1.0.0 on
//	                     /ip4/127.0.0.1/tcp/P (/ip6/::1/tcp/P with --ip6)
//	                     until killed, printing events.
//	dial <multiaddr/p2p/ID> [--streams K] [--bytes B] [--pings N]
//	     [--seed N] [--timeout S] [--slow]
//	                     dial, wait for identify, ping N times, run K
//	                     concurrent echo streams of B bytes (reading slowly
//	                     with --slow); print DONE.
//	pubsub --topic T [--port P] [--seed N] [--connect MADDR]...
//	       [--publish-every MS] [--count N] [--expect K] [--timeout S]
//	       [--start-file PATH]
//	                     gossipsub (go-libp2p-pubsub, StrictSign): listen,
//	                     dial, join T, publish N messages once a peer is in
//	                     the mesh, print RECV for each message received and
//	                     DONE after K from others.
//
// Transport: TCP + Noise + Yamux only (no QUIC, TLS, WebTransport, websocket
// or relay), no resource-manager limits.
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

const usage = `usage: interop-peer <subcommand> [args...]
subcommands:
  peerid-from-seed N   print the PeerId of the Ed25519 key with secret [N,0,...,0]
  listen [--seed N] [--port P] [--ip6]
  dial <multiaddr-with-/p2p/> [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S] [--slow]
  pubsub --topic T [--port P] [--seed N] [--connect MADDR]... [--publish-every MS] [--count N] [--expect K] [--timeout S] [--start-file PATH]
  autonat [--seed N] [--port P]   listen, with go-libp2p's AutoNAT v1 service (libp2p.EnableNATService)`

const echoProtocol = protocol.ID("/p2pchat/echo/1.0.0")

// With dial --slow, each echo stream stops reading for slowPause after
// every slowEvery bytes received (the contract's slow reader).
const (
	slowEvery = 512 * 1024
	slowPause = 20 * time.Millisecond
)

// chunk is the size of the pieces the echo data is written, read and
// checked in: no stream is ever held in memory whole.
const chunk = 64 * 1024

// errUsage marks errors that should be followed by the usage text.
var errUsage = errors.New("usage error")

// exitError ends the program with the given status (the message, if any,
// has been printed already).
type exitError int

func (e exitError) Error() string { return "exit status " + strconv.Itoa(int(e)) }

type subcommand func(args []string) error

var subcommands = map[string]subcommand{
	"peerid-from-seed": cmdPeerIDFromSeed,
	"listen":           cmdListen,
	"dial":             cmdDial,
	"pubsub":           cmdPubsub,
	"autonat":          cmdAutonat,
}

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

var outMu sync.Mutex

// out prints one line of the stdout protocol (os.Stdout is unbuffered, so
// each line is written at once); newlines inside it (error messages) become
// spaces.
func out(format string, a ...any) {
	line := strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", " ")
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintln(os.Stdout, line)
}

// keyFromSeed returns the Ed25519 private key whose 32-byte seed is
// [seed, 0, 0, ..., 0].
func keyFromSeed(seed byte) (crypto.PrivKey, error) {
	var s [ed25519.SeedSize]byte
	s[0] = seed
	return crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(s[:]))
}

func parseSeedValue(v string) (byte, error) {
	n, err := strconv.ParseUint(v, 10, 8)
	if err != nil {
		return 0, usageErr("seed must be an integer 0..255, got %q", v)
	}
	return byte(n), nil
}

func cmdPeerIDFromSeed(args []string) error {
	if len(args) != 1 {
		return usageErr("peerid-from-seed takes exactly one argument")
	}
	seed, err := parseSeedValue(args[0])
	if err != nil {
		return err
	}
	priv, err := keyFromSeed(seed)
	if err != nil {
		return err
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return err
	}
	fmt.Println(id.String())
	return nil
}

// seedFlag is the optional --seed N.
type seedFlag struct {
	set  bool
	seed byte
}

func (s *seedFlag) String() string { return strconv.Itoa(int(s.seed)) }
func (s *seedFlag) Set(v string) error {
	n, err := parseSeedValue(v)
	if err != nil {
		return err
	}
	s.seed, s.set = n, true
	return nil
}

// parseFlags parses args (flags and positional arguments in any order).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageErr("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// agentVersion is "go-libp2p/<module version>". (go-libp2p's own default is
// the main module's path and VCS revision, i.e. this test program's.)
func agentVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/libp2p/go-libp2p" {
				return "go-libp2p/" + d.Version
			}
		}
	}
	return "go-libp2p"
}

// newHost makes a host with only TCP, Noise and Yamux (no relay); extra
// options (relay.go: EnableRelay, hole punching) are applied last.
// generateKey makes a fresh identity of the type INTEROP_KEY_TYPE names
// (ed25519 when unset; secp256k1, ecdsa for P-256, rsa for 2048 bits), so
// the interop tests can run with identities that are not Ed25519.
func generateKey(keyType string) (crypto.PrivKey, error) {
	var priv crypto.PrivKey
	var err error
	switch keyType {
	case "", "ed25519":
		priv, _, err = crypto.GenerateEd25519Key(nil)
	case "secp256k1":
		priv, _, err = crypto.GenerateSecp256k1Key(nil)
	case "ecdsa":
		priv, _, err = crypto.GenerateKeyPair(crypto.ECDSA, 0)
	case "rsa":
		priv, _, err = crypto.GenerateKeyPair(crypto.RSA, 2048)
	default:
		err = fmt.Errorf("INTEROP_KEY_TYPE %q: want ed25519, secp256k1, ecdsa or rsa", keyType)
	}
	return priv, err
}

func newHost(seed seedFlag, listen []string, extra ...libp2p.Option) (host.Host, error) {
	var priv crypto.PrivKey
	var err error
	if seed.set {
		priv, err = keyFromSeed(seed.seed)
	} else {
		priv, err = generateKey(os.Getenv("INTEROP_KEY_TYPE"))
	}
	if err != nil {
		return nil, err
	}
	opts := []libp2p.Option{
		libp2p.Identity(priv),
		libp2p.UserAgent(agentVersion()),
		// Only TCP + Noise + Yamux: giving these explicitly replaces the
		// defaults (QUIC, WebTransport, WebRTC, websocket, TLS).
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableMetrics(),
	}
	if len(listen) > 0 {
		opts = append(opts, libp2p.ListenAddrStrings(listen...))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	return libp2p.New(append(opts, extra...)...)
}

// withoutP2P returns a without a trailing /p2p/<id>.
func withoutP2P(a ma.Multiaddr) ma.Multiaddr {
	t, last := ma.SplitLast(a)
	if last != nil && last.Protocol().Code == ma.P_P2P {
		return t
	}
	return a
}

func printIdentified(ev event.EvtPeerIdentificationCompleted) {
	protos := make([]string, 0, len(ev.Protocols))
	for _, p := range ev.Protocols {
		protos = append(protos, string(p))
	}
	sort.Strings(protos)
	addrs := make([]string, 0, len(ev.ListenAddrs))
	for _, a := range ev.ListenAddrs {
		addrs = append(addrs, a.String())
	}
	observed := ""
	if ev.ObservedAddr != nil {
		observed = ev.ObservedAddr.String()
	}
	out("IDENTIFIED %s agent=%s protocols=%s listen=%s observed=%s",
		ev.Peer, ev.AgentVersion, strings.Join(protos, ","), strings.Join(addrs, ","), observed)
}

// printIdentifications prints IDENTIFIED for every identify exchange.
func printIdentifications(h host.Host) error {
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return err
	}
	go func() {
		for e := range sub.Out() {
			printIdentified(e.(event.EvtPeerIdentificationCompleted))
		}
	}()
	return nil
}

// rssMaxKiB returns the peak resident set size of the process (VmHWM of
// /proc/self/status) in KiB, 0 when unknown.
func rssMaxKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// watchConnections prints CONNECTED / DISCONNECTED for every connection.
func watchConnections(h host.Host) {
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			out("CONNECTED %s %s", c.RemotePeer(), withoutP2P(c.RemoteMultiaddr()))
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			out("DISCONNECTED %s", c.RemotePeer())
		},
	})
}

// echoHandler writes back every chunk as it arrives (a write blocks until
// the remote's Yamux window takes it, so a slow reader slows the writer down
// instead of making us buffer), and half-closes after EOF.
func echoHandler(s network.Stream) {
	defer s.Close()
	buf := make([]byte, chunk)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				fmt.Fprintf(os.Stderr, "interop-peer: echo write: %v\n", werr)
				s.Reset()
				return
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "interop-peer: echo read: %v\n", err)
			s.Reset()
			return
		}
	}
	if err := s.CloseWrite(); err != nil {
		fmt.Fprintf(os.Stderr, "interop-peer: echo close: %v\n", err)
	}
}

func cmdListen(args []string) error {
	return listenWith("listen", args)
}

// cmdAutonat is listen plus go-libp2p's AutoNAT v1 service, which answers
// dial-back requests (from a second host of its own, as go does). It
// refuses loopback and other non-public clients: on loopback the interop
// test checks that it decodes our DIAL and answers E_DIAL_REFUSED.
func cmdAutonat(args []string) error {
	return listenWith("autonat", args, libp2p.EnableNATService())
}

func listenWith(name string, args []string, extra ...libp2p.Option) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var seed seedFlag
	fs.Var(&seed, "seed", "")
	port := fs.Uint("port", 0, "")
	ip6 := fs.Bool("ip6", false, "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *port > 65535 {
		return usageErr("%s takes no positional arguments and a port 0..65535", name)
	}
	ip := "/ip4/127.0.0.1"
	if *ip6 {
		ip = "/ip6/::1"
	}
	h, err := newHost(seed, []string{fmt.Sprintf("%s/tcp/%d", ip, *port)}, extra...)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := printIdentifications(h); err != nil {
		return err
	}
	watchConnections(h)
	h.SetStreamHandler(echoProtocol, echoHandler)

	if err := printSelf(h); err != nil {
		return err
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	out("RSS_MAX_KIB %d", rssMaxKiB())
	return nil
}

// newPRNG returns the source of a stream's pseudo-random bytes: two
// generators of the same stream produce the same bytes, whatever the sizes
// of the reads (rand.Rand.Read keeps its position between calls).
func newPRNG(stream int) *rand.Rand {
	return rand.New(rand.NewSource(int64(stream) + 1))
}

// echoOne writes n pseudo-random bytes on a new echo stream, half-closes
// it, and reads the echo to EOF (concurrently with writing), checking it
// chunk by chunk. With slow, reading pauses for slowPause after every
// slowEvery bytes.
func echoOne(ctx context.Context, h host.Host, p peer.ID, i, n int, slow bool) error {
	s, err := h.NewStream(ctx, p, echoProtocol)
	if err != nil {
		return fmt.Errorf("stream %d: open: %w", i, err)
	}
	defer s.Close()
	werr := make(chan error, 1)
	go func() {
		src := newPRNG(i)
		buf := make([]byte, chunk)
		for sent := 0; sent < n; {
			m := min(chunk, n-sent)
			src.Read(buf[:m])
			if _, err := s.Write(buf[:m]); err != nil {
				werr <- fmt.Errorf("stream %d: write: %w", i, err)
				return
			}
			sent += m
		}
		if err := s.CloseWrite(); err != nil {
			werr <- fmt.Errorf("stream %d: close write: %w", i, err)
			return
		}
		werr <- nil
	}()
	check := newPRNG(i)
	buf := make([]byte, chunk)
	want := make([]byte, chunk)
	got, sincePause := 0, 0
	for {
		m, err := s.Read(buf)
		if m > 0 {
			if got+m > n {
				s.Reset()
				return fmt.Errorf("stream %d: echoed more than the %d bytes sent", i, n)
			}
			check.Read(want[:m])
			if !bytes.Equal(buf[:m], want[:m]) {
				s.Reset()
				for j := range m {
					if buf[j] != want[j] {
						return fmt.Errorf("stream %d: echo differs at byte %d", i, got+j)
					}
				}
			}
			got += m
			sincePause += m
			if slow && sincePause >= slowEvery {
				sincePause = 0
				time.Sleep(slowPause)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			s.Reset()
			return fmt.Errorf("stream %d: read: %w", i, err)
		}
	}
	if err := <-werr; err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("stream %d: echoed %d bytes, sent %d", i, got, n)
	}
	return nil
}

func cmdDial(args []string) error { return dialMain("dial", args, false) }

// dialMain runs dial, or with relayed relay-dial: the address goes through
// a relay (the relay transport is enabled) and streams may use the
// limited connection.
func dialMain(name string, args []string, relayed bool) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var seed seedFlag
	fs.Var(&seed, "seed", "")
	streams := fs.Int("streams", 8, "")
	nbytes := fs.Int("bytes", 65536, "")
	pings := fs.Int("pings", 3, "")
	timeout := fs.Float64("timeout", 30, "")
	slow := fs.Bool("slow", false, "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("dial takes exactly one multiaddr")
	}
	if *streams < 0 || *nbytes < 0 || *pings < 0 || !(*timeout > 0) {
		return usageErr("--streams, --bytes, --pings must be >= 0 and --timeout > 0")
	}
	addr, err := ma.NewMultiaddr(pos[0])
	if err != nil {
		return usageErr("bad multiaddr %q: %v", pos[0], err)
	}
	info, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return usageErr("the multiaddr must end with /p2p/<peer id>: %v", err)
	}

	// Global timeout: report what was pending and exit 2.
	var pending atomic.Value
	pending.Store("connect")
	time.AfterFunc(time.Duration(*timeout*float64(time.Second)), func() {
		out("TIMEOUT %s", pending.Load().(string))
		os.Exit(2)
	})

	var extra []libp2p.Option
	ctx := context.Background()
	if relayed {
		extra = append(extra, libp2p.EnableRelay())
		ctx = network.WithAllowLimitedConn(ctx, name)
	}
	h, err := newHost(seed, nil, extra...)
	if err != nil {
		return err
	}
	defer h.Close()
	out("PEERID %s", h.ID())
	sub, err := h.EventBus().Subscribe([]any{
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtPeerIdentificationFailed),
	})
	if err != nil {
		return err
	}
	watchConnections(h)

	if err := h.Connect(ctx, *info); err != nil {
		out("ERROR dial failed: %v", err)
		return exitError(1)
	}

	pending.Store("identify")
	conns := h.Network().ConnsToPeer(info.ID)
	if len(conns) == 0 {
		out("ERROR no connection to %s after dialing", info.ID)
		return exitError(1)
	}
	ids := h.(interface{ IDService() identify.IDService }).IDService()
	<-ids.IdentifyWait(conns[0])
	for identified := false; !identified; {
		switch ev := (<-sub.Out()).(type) {
		case event.EvtPeerIdentificationCompleted:
			printIdentified(ev)
			identified = ev.Peer == info.ID
		case event.EvtPeerIdentificationFailed:
			if ev.Peer == info.ID {
				out("ERROR identify failed: %v", ev.Reason)
				return exitError(1)
			}
		}
	}
	// Keep printing later identify events (pushes).
	go func() {
		for e := range sub.Out() {
			if ev, ok := e.(event.EvtPeerIdentificationCompleted); ok {
				printIdentified(ev)
			}
		}
	}()

	if *pings > 0 {
		pending.Store(fmt.Sprintf("ping (0/%d done)", *pings))
		pctx, cancel := context.WithCancel(ctx)
		results := ping.Ping(pctx, h, info.ID)
		for i := 0; i < *pings; i++ {
			r, ok := <-results
			if !ok {
				cancel()
				out("PING FAIL ping stream closed")
				return exitError(1)
			}
			if r.Error != nil {
				cancel()
				out("PING FAIL %v", r.Error)
				return exitError(1)
			}
			out("PING rtt_us=%d", r.RTT.Microseconds())
			pending.Store(fmt.Sprintf("ping (%d/%d done)", i+1, *pings))
		}
		cancel()
	}

	var done atomic.Int64
	setEchoPending := func() {
		pending.Store(fmt.Sprintf("echo (%d/%d streams done)", done.Load(), *streams))
	}
	setEchoPending()
	errs := make([]error, *streams)
	var wg sync.WaitGroup
	for i := 0; i < *streams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = echoOne(ctx, h, info.ID, i, *nbytes, *slow)
			done.Add(1)
			setEchoPending()
		}(i)
	}
	wg.Wait()
	var failed []error
	for _, e := range errs {
		if e != nil {
			failed = append(failed, e)
		}
	}
	if len(failed) > 0 {
		out("ECHO FAIL %d of %d streams failed; %v", len(failed), *streams, failed[0])
		return exitError(1)
	}
	out("ECHO ok streams=%d bytes=%d", *streams, *nbytes)
	out("RSS_MAX_KIB %d", rssMaxKiB())
	out("DONE")
	return nil
}

// stringList is a repeatable string option (--connect).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// meshTracer follows our mesh for one topic through the router's graft
// and prune events (go-libp2p-pubsub has no public accessor for the mesh).
type meshTracer struct {
	topic string
	mu    sync.Mutex
	mesh  map[peer.ID]bool
}

func (t *meshTracer) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.mesh)
}

func (t *meshTracer) Graft(p peer.ID, topic string) {
	if topic == t.topic {
		t.mu.Lock()
		if !t.mesh[p] {
			out("MESH %s", p)
		}
		t.mesh[p] = true
		t.mu.Unlock()
	}
}

func (t *meshTracer) Prune(p peer.ID, topic string) {
	if topic == t.topic {
		t.mu.Lock()
		delete(t.mesh, p)
		t.mu.Unlock()
	}
}

func (t *meshTracer) AddPeer(peer.ID, protocol.ID)                         {}
func (t *meshTracer) RemovePeer(p peer.ID)                                 { t.Prune(p, t.topic) }
func (t *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (t *meshTracer) OnClosedOutboundStream(peer.ID)                       {}
func (t *meshTracer) Join(string)                                          {}
func (t *meshTracer) Leave(string)                                         {}
func (t *meshTracer) ValidateMessage(*pubsub.Message)                      {}
func (t *meshTracer) DeliverMessage(*pubsub.Message)                       {}
func (t *meshTracer) DuplicateMessage(*pubsub.Message)                     {}
func (t *meshTracer) ThrottlePeer(peer.ID)                                 {}
func (t *meshTracer) RecvRPC(*pubsub.RPC)                                  {}
func (t *meshTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (t *meshTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (t *meshTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (t *meshTracer) UndeliverableMessage(*pubsub.Message)                 {}

// RejectMessage reports every message the router rejected or ignored
// (invalid or missing signature, ...):
// REJECTED <author> <reason> <peer it came from> <text>.
func (t *meshTracer) RejectMessage(m *pubsub.Message, reason string) {
	author := "anonymous"
	if len(m.From) > 0 {
		author = m.GetFrom().String()
	}
	out("REJECTED %s %s %s %s", author, strings.ReplaceAll(reason, " ", "_"), m.ReceivedFrom,
		printable(m.GetData()))
}

// printable returns message data as one token: bytes outside '!'..'~'
// become '?'.
func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x21 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}

func cmdPubsub(args []string) error {
	fs := flag.NewFlagSet("pubsub", flag.ContinueOnError)
	topicName := fs.String("topic", "", "")
	var seed seedFlag
	fs.Var(&seed, "seed", "")
	port := fs.Uint("port", 0, "")
	var connects stringList
	fs.Var(&connects, "connect", "")
	every := fs.Uint("publish-every", 200, "")
	count := fs.Int("count", 5, "")
	expect := fs.Int("expect", 0, "")
	timeout := fs.Float64("timeout", 30, "")
	startFile := fs.String("start-file", "", "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *topicName == "" || *port > 65535 || *count < 0 || *expect < 0 || !(*timeout > 0) {
		return usageErr("pubsub needs --topic, takes no positional arguments, counts >= 0 and --timeout > 0")
	}
	var targets []*peer.AddrInfo
	for _, c := range connects {
		a, err := ma.NewMultiaddr(c)
		if err != nil {
			return usageErr("bad multiaddr %q: %v", c, err)
		}
		info, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return usageErr("--connect needs a multiaddr ending with /p2p/<peer id>: %v", err)
		}
		targets = append(targets, info)
	}

	var mu sync.Mutex
	published, done := 0, false
	seen := map[string]bool{}
	pending := func() string {
		if published < *count {
			if published == 0 {
				return "mesh peer or start file"
			}
			return fmt.Sprintf("publish (%d/%d done)", published, *count)
		}
		return fmt.Sprintf("receive (%d/%d)", len(seen), *expect)
	}
	// call with mu held
	checkDone := func() {
		if !done && published >= *count && len(seen) >= *expect {
			done = true
			out("DONE")
		}
	}
	time.AfterFunc(time.Duration(*timeout*float64(time.Second)), func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			os.Exit(0)
		}
		out("TIMEOUT %s", pending())
		os.Exit(2)
	})

	h, err := newHost(seed, []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", *port)})
	if err != nil {
		return err
	}
	defer h.Close()
	watchConnections(h)
	ctx := context.Background()
	tracer := &meshTracer{topic: *topicName, mesh: map[peer.ID]bool{}}
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithRawTracer(tracer))
	if err != nil {
		return err
	}
	topic, err := ps.Join(*topicName)
	if err != nil {
		return err
	}
	sub, err := topic.Subscribe()
	if err != nil {
		return err
	}
	events, err := topic.EventHandler()
	if err != nil {
		return err
	}
	go func() {
		for {
			ev, err := events.NextPeerEvent(ctx)
			if err != nil {
				return
			}
			if ev.Type == pubsub.PeerJoin {
				out("SUBSCRIBED %s", ev.Peer)
			} else {
				out("UNSUBSCRIBED %s", ev.Peer)
			}
		}
	}()

	if err := printSelf(h); err != nil {
		return err
	}
	for _, t := range targets {
		if err := h.Connect(ctx, *t); err != nil {
			out("ERROR dial failed: %v", err)
			return exitError(1)
		}
	}

	// Messages: go-libp2p-pubsub also hands our own publications to our
	// subscription; those are not "received".
	go func() {
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			author := m.GetFrom()
			if author == h.ID() {
				continue
			}
			text := printable(m.GetData())
			out("RECV %s %s", author, text)
			mu.Lock()
			seen[author.String()+" "+text] = true
			checkDone()
			mu.Unlock()
		}
	}()

	suffix := h.ID().String()
	suffix = suffix[len(suffix)-6:]
	go func() {
		for tracer.size() == 0 {
			time.Sleep(20 * time.Millisecond)
		}
		for *startFile != "" {
			if _, err := os.Stat(*startFile); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		for i := 1; i <= *count; {
			text := fmt.Sprintf("go-%s-%d", suffix, i)
			if err := topic.Publish(ctx, []byte(text)); err != nil {
				out("PUBLISH_RETRY %s %v", text, err)
			} else {
				out("PUBLISHED %s", text)
				mu.Lock()
				published = i
				checkDone()
				mu.Unlock()
				i++
			}
			time.Sleep(time.Duration(*every) * time.Millisecond)
		}
	}()
	mu.Lock()
	checkDone()
	mu.Unlock()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	out("RSS_MAX_KIB %d", rssMaxKiB())
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Println(usage)
		return
	}
	cmd, ok := subcommands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "interop-peer: unknown subcommand %q\n%s\n", name, usage)
		os.Exit(2)
	}
	if err := cmd(os.Args[2:]); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(int(ee))
		}
		fmt.Fprintf(os.Stderr, "interop-peer: %v\n", err)
		if errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, usage)
		}
		os.Exit(2)
	}
}
