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
//	listen [--seed N] [--port P]
//	                     serve identify, ping and /p2pchat/echo/1.0.0 on
//	                     /ip4/127.0.0.1/tcp/P until killed, printing events.
//	dial <multiaddr/p2p/ID> [--streams K] [--bytes B] [--pings N]
//	     [--seed N] [--timeout S]
//	                     dial, wait for identify, ping N times, run K
//	                     concurrent echo streams of B bytes; print DONE.
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
  listen [--seed N] [--port P]
  dial <multiaddr-with-/p2p/> [--streams K] [--bytes B] [--pings N] [--seed N] [--timeout S]`

const echoProtocol = protocol.ID("/p2pchat/echo/1.0.0")

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

func newHost(seed seedFlag, listen []string) (host.Host, error) {
	var priv crypto.PrivKey
	var err error
	if seed.set {
		priv, err = keyFromSeed(seed.seed)
	} else {
		priv, _, err = crypto.GenerateEd25519Key(nil)
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
	return libp2p.New(opts...)
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
	out("IDENTIFIED %s agent=%s protocols=%s listen=%s",
		ev.Peer, ev.AgentVersion, strings.Join(protos, ","), strings.Join(addrs, ","))
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

func echoHandler(s network.Stream) {
	defer s.Close()
	data, err := io.ReadAll(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop-peer: echo read: %v\n", err)
		s.Reset()
		return
	}
	if _, err := s.Write(data); err != nil {
		fmt.Fprintf(os.Stderr, "interop-peer: echo write: %v\n", err)
		s.Reset()
		return
	}
	if err := s.CloseWrite(); err != nil {
		fmt.Fprintf(os.Stderr, "interop-peer: echo close: %v\n", err)
	}
}

func cmdListen(args []string) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	var seed seedFlag
	fs.Var(&seed, "seed", "")
	port := fs.Uint("port", 0, "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *port > 65535 {
		return usageErr("listen takes no positional arguments and a port 0..65535")
	}
	h, err := newHost(seed, []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", *port)})
	if err != nil {
		return err
	}
	defer h.Close()
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return err
	}
	go func() {
		for e := range sub.Out() {
			printIdentified(e.(event.EvtPeerIdentificationCompleted))
		}
	}()
	watchConnections(h)
	h.SetStreamHandler(echoProtocol, echoHandler)

	out("PEERID %s", h.ID())
	p2p, err := ma.NewComponent("p2p", h.ID().String())
	if err != nil {
		return err
	}
	for _, a := range h.Network().ListenAddresses() {
		out("LISTEN %s", a.Encapsulate(p2p))
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}

// pseudoRandomBytes returns n pseudo-random bytes, different per stream.
func pseudoRandomBytes(stream, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(stream) + 1)).Read(b)
	return b
}

// echoOne writes n bytes on a new echo stream, half-closes it, reads the
// echo to EOF (concurrently with writing) and compares.
func echoOne(ctx context.Context, h host.Host, p peer.ID, i, n int) error {
	s, err := h.NewStream(ctx, p, echoProtocol)
	if err != nil {
		return fmt.Errorf("stream %d: open: %w", i, err)
	}
	defer s.Close()
	data := pseudoRandomBytes(i, n)
	werr := make(chan error, 1)
	go func() {
		if _, err := s.Write(data); err != nil {
			werr <- fmt.Errorf("stream %d: write: %w", i, err)
			return
		}
		if err := s.CloseWrite(); err != nil {
			werr <- fmt.Errorf("stream %d: close write: %w", i, err)
			return
		}
		werr <- nil
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		s.Reset()
		return fmt.Errorf("stream %d: read: %w", i, err)
	}
	if err := <-werr; err != nil {
		return err
	}
	if len(got) != len(data) {
		return fmt.Errorf("stream %d: echoed %d bytes, sent %d", i, len(got), len(data))
	}
	if !bytes.Equal(got, data) {
		for j := range got {
			if got[j] != data[j] {
				return fmt.Errorf("stream %d: echo differs at byte %d", i, j)
			}
		}
	}
	return nil
}

func cmdDial(args []string) error {
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	var seed seedFlag
	fs.Var(&seed, "seed", "")
	streams := fs.Int("streams", 8, "")
	nbytes := fs.Int("bytes", 65536, "")
	pings := fs.Int("pings", 3, "")
	timeout := fs.Float64("timeout", 30, "")
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

	h, err := newHost(seed, nil)
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

	ctx := context.Background()
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
			errs[i] = echoOne(ctx, h, info.ID, i, *nbytes)
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
	out("DONE")
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
