// The benchmark subcommands of bench/run.sh (the contract, the same for the
// rust, js and C peers, is in bench/README.md), and the /perf/1.0.0 peer
// of the interop.perf tests:
//
//	perf-server [--port P]
//	    listen on /ip4/127.0.0.1/tcp/P; serve /perf/1.0.0 (and go-libp2p's
//	    default identify and ping); print LISTEN <multiaddr>/p2p/<id>; run
//	    until killed.
//	perf <multiaddr/p2p/ID> [--upload B] [--download B]
//	    dial, run one /perf/1.0.0 exchange, print one JSON line
//	    {"type":"final","timeSeconds":..,"uploadBytes":..,"downloadBytes":..}
//	    (exit 1 when fewer bytes than asked came back); a /p2p-circuit
//	    address is dialed through the relay it names.
//	handshakes <multiaddr/p2p/ID> [--count N]
//	    N sequential connections (dial, Noise, Yamux, identify: go's
//	    Connect waits for it), each closed; print
//	    {"type":"handshakes","count":N,"timeSeconds":..}
//	gossip-sub [--expect N] [--idle-ms MS] [--unsigned]
//	gossip-pub --rate R --count N [--size B] [--unsigned] <multiaddr/p2p/ID>...
//	    gossipsub throughput and latency, the contract of cbench_gossip.c
//	    (bench/peers/c): each message starts with its sequence number and
//	    the publisher's CLOCK_MONOTONIC time (8 bytes big-endian each).
//	    Signed messages (go-libp2p-pubsub's default StrictSign); --unsigned:
//	    WithNoAuthor (StrictNoSign), message ids from the content. go's
//	    Publish never refuses a message (a full peer queue drops it, which
//	    the subscribers count as lost): "eagain" is always 0.
//
// Transport: the interop peer's host (TCP + Noise + Yamux only, no
// resource-manager limits), default GOMAXPROCS.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/sys/unix"
)

const (
	perfID     = protocol.ID("/perf/1.0.0")
	benchTopic = "bench"
)

func init() {
	subcommands["perf-server"] = cmdPerfServer
	subcommands["perf"] = cmdPerf
	subcommands["handshakes"] = cmdHandshakes
	subcommands["gossip-sub"] = cmdGossipSub
	subcommands["gossip-pub"] = cmdGossipPub
}

// benchErr marks a failed run (exit 1, as the bench contract says), not a
// usage error (exit 2).
func benchErr(err error) error {
	out("ERROR %v", err)
	return exitError(1)
}

// perfHandler serves one perf stream: the 8-byte big-endian size, the
// upload drained to EOF, then that many bytes and a half-close.
func perfHandler(s network.Stream) {
	defer s.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		s.Reset()
		return
	}
	left := binary.BigEndian.Uint64(hdr[:])
	buf := make([]byte, chunk)
	for {
		_, err := s.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			s.Reset()
			return
		}
	}
	for left > 0 {
		k := min(left, uint64(chunk))
		if _, err := s.Write(buf[:k]); err != nil {
			s.Reset()
			return
		}
		left -= k
	}
	s.CloseWrite()
}

// benchFlags: the options of every bench subcommand.
type benchFlags struct {
	port, upload, download, count, rate, size, expect, idleMs *uint64
	unsigned                                                  *bool
}

func parseBench(name string, args []string) (benchFlags, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := benchFlags{
		port:     fs.Uint64("port", 0, ""),
		upload:   fs.Uint64("upload", 0, ""),
		download: fs.Uint64("download", 0, ""),
		count:    fs.Uint64("count", 100, ""),
		rate:     fs.Uint64("rate", 0, ""),
		size:     fs.Uint64("size", 1024, ""),
		expect:   fs.Uint64("expect", 10000, ""),
		idleMs:   fs.Uint64("idle-ms", 3000, ""),
		unsigned: fs.Bool("unsigned", false, ""),
	}
	pos, err := parseFlags(fs, args)
	if err == nil && (*f.port > 65535 || *f.size < 16 || *f.size > 1<<20 || *f.expect == 0 ||
		*f.expect > 100000000 || *f.idleMs > 600000) {
		err = usageErr("%s: an option is out of range", name)
	}
	return f, pos, err
}

func parseTarget(s string) (*peer.AddrInfo, error) {
	addr, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, usageErr("bad multiaddr %q: %v", s, err)
	}
	info, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return nil, usageErr("the multiaddr must end with /p2p/<peer id>: %v", err)
	}
	return info, nil
}

// dialBench parses the options of a dialing bench subcommand and its one
// target multiaddr (returned as given in pos[0] too).
func dialBench(name string, args []string) (benchFlags, *peer.AddrInfo, []string, error) {
	f, pos, err := parseBench(name, args)
	if err != nil {
		return f, nil, nil, err
	}
	if len(pos) != 1 {
		return f, nil, nil, usageErr("%s: exactly one multiaddr expected", name)
	}
	info, err := parseTarget(pos[0])
	return f, info, pos, err
}

// listenBench parses the options of a listening bench subcommand (no
// positional arguments) and makes its host on 127.0.0.1:--port.
func listenBench(name string, args []string) (benchFlags, host.Host, error) {
	f, pos, err := parseBench(name, args)
	if err != nil {
		return f, nil, err
	}
	if len(pos) != 0 {
		return f, nil, usageErr("%s takes no positional arguments", name)
	}
	h, err := newHost(seedFlag{}, []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", *f.port)})
	return f, h, err
}

func cmdPerfServer(args []string) error {
	_, h, err := listenBench("perf-server", args)
	if err != nil {
		return err
	}
	h.SetStreamHandler(perfID, perfHandler)
	if err := printListen(h); err != nil {
		return err
	}
	select {}
}

func cmdPerf(args []string) error {
	f, info, pos, err := dialBench("perf", args)
	if err != nil {
		return err
	}
	upload, download := *f.upload, *f.download
	// through a relay (bench/run.sh's relayed throughput): the relay
	// transport, and streams on limited connections allowed
	var extra []libp2p.Option
	ctx := context.Background()
	if strings.Contains(pos[0], "/p2p-circuit") {
		extra = append(extra, libp2p.EnableRelay())
		ctx = network.WithAllowLimitedConn(ctx, "perf")
	}
	h, err := newHost(seedFlag{}, nil, extra...)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.Connect(ctx, *info); err != nil {
		return benchErr(err)
	}
	t0 := time.Now()
	s, err := h.NewStream(ctx, info.ID, perfID)
	if err != nil {
		return benchErr(err)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], download)
	if _, err := s.Write(hdr[:]); err != nil {
		return benchErr(err)
	}
	buf := make([]byte, chunk)
	for left := upload; left > 0; {
		k := min(left, uint64(chunk))
		if _, err := s.Write(buf[:k]); err != nil {
			return benchErr(err)
		}
		left -= k
	}
	if err := s.CloseWrite(); err != nil {
		return benchErr(err)
	}
	var got uint64
	for {
		n, err := s.Read(buf)
		got += uint64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return benchErr(err)
		}
	}
	elapsed := time.Since(t0)
	s.Close()
	if got != download {
		return benchErr(fmt.Errorf("downloaded %d bytes, asked for %d", got, download))
	}
	out(`{"type":"final","timeSeconds":%.6f,"uploadBytes":%d,"downloadBytes":%d}`, elapsed.Seconds(), upload, got)
	return nil
}

func cmdHandshakes(args []string) error {
	f, info, _, err := dialBench("handshakes", args)
	if err != nil {
		return err
	}
	h, err := newHost(seedFlag{}, nil)
	if err != nil {
		return err
	}
	defer h.Close()
	ctx := context.Background()
	t0 := time.Now()
	for i := uint64(0); i < *f.count; i++ {
		// Connect returns once the connection is up and identify ran.
		if err := h.Connect(ctx, *info); err != nil {
			return benchErr(fmt.Errorf("connection %d: %w", i, err))
		}
		if err := h.Network().ClosePeer(info.ID); err != nil {
			return benchErr(err)
		}
	}
	out(`{"type":"handshakes","count":%d,"timeSeconds":%.6f}`, *f.count, time.Since(t0).Seconds())
	return nil
}

// monotonicNs is CLOCK_MONOTONIC in nanoseconds: the clock of every bench
// process (the C peer's uv_hrtime), so that latencies compare across
// processes.
func monotonicNs() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return uint64(ts.Sec)*1e9 + uint64(ts.Nsec)
}

// newBenchPubsub joins the bench topic with go-libp2p-pubsub's defaults
// (StrictSign), or anonymous (StrictNoSign) messages with content ids.
func newBenchPubsub(h host.Host, unsigned bool) (*pubsub.Topic, error) {
	var opts []pubsub.Option
	if unsigned {
		opts = append(opts, pubsub.WithNoAuthor(), pubsub.WithMessageIdFn(func(m *pb.Message) string {
			sum := sha256.Sum256(m.Data)
			return string(sum[:])
		}))
	}
	ps, err := pubsub.NewGossipSub(context.Background(), h, opts...)
	if err != nil {
		return nil, err
	}
	return ps.Join(benchTopic)
}

// gossipSubReport prints the subscriber's result line, as cbench_gossip.c.
func gossipSubReport(lat []uint32, dups, firstNs, lastNs uint64) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) uint32 {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p/100+0.5)]
	}
	cdf := make([]string, 101)
	for p := range cdf {
		cdf[p] = fmt.Sprint(pct(float64(p)))
	}
	out(`{"type":"gossip-sub","received":%d,"duplicates":%d,"firstNs":%d,"lastNs":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,"cdfUs":[%s]}`,
		len(lat), dups, firstNs, lastNs, pct(50), pct(99), pct(100), strings.Join(cdf, ","))
}

func cmdGossipSub(args []string) error {
	f, h, err := listenBench("gossip-sub", args)
	if err != nil {
		return err
	}
	defer h.Close()
	topic, err := newBenchPubsub(h, *f.unsigned)
	if err != nil {
		return err
	}
	sub, err := topic.Subscribe()
	if err != nil {
		return err
	}
	if err := printListen(h); err != nil {
		return err
	}
	expect := *f.expect
	seen := make([]bool, expect)
	lat := make([]uint32, 0, expect)
	var dups, firstNs, lastNs uint64
	// before the first message: 30 s, then idle-ms after the last one
	wait := 30 * time.Second
	for uint64(len(lat)) < expect {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		m, err := sub.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			return benchErr(err)
		}
		now := monotonicNs()
		if len(m.Data) < 16 {
			continue
		}
		wait = time.Duration(*f.idleMs) * time.Millisecond
		seq, t := binary.BigEndian.Uint64(m.Data), binary.BigEndian.Uint64(m.Data[8:])
		if seq >= expect || seen[seq] {
			dups++
			continue
		}
		seen[seq] = true
		if firstNs == 0 {
			firstNs = now
		}
		lastNs = now
		var us uint32
		if now > t {
			us = uint32((now - t) / 1000)
		}
		lat = append(lat, us)
	}
	gossipSubReport(lat, dups, firstNs, lastNs)
	return nil
}

func cmdGossipPub(args []string) error {
	f, pos, err := parseBench("gossip-pub", args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageErr("gossip-pub: no subscriber address")
	}
	var targets []*peer.AddrInfo
	for _, a := range pos {
		info, err := parseTarget(a)
		if err != nil {
			return err
		}
		targets = append(targets, info)
	}
	h, err := newHost(seedFlag{}, nil)
	if err != nil {
		return err
	}
	defer h.Close()
	topic, err := newBenchPubsub(h, *f.unsigned)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, len(targets))
	for _, t := range targets {
		wg.Add(1)
		go func(t *peer.AddrInfo) {
			defer wg.Done()
			if err := h.Connect(ctx, *t); err != nil {
				errs <- err
			}
		}(t)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return benchErr(fmt.Errorf("connect: %w", err))
	}
	// wait until every subscriber is in the topic
	joinedBy := time.Now().Add(30 * time.Second)
	for {
		in := map[peer.ID]bool{}
		for _, p := range topic.ListPeers() {
			in[p] = true
		}
		all := true
		for _, t := range targets {
			all = all && in[t.ID]
		}
		if all {
			break
		}
		if time.Now().After(joinedBy) {
			return benchErr(errors.New("the subscribers did not join within 30 s"))
		}
		time.Sleep(time.Millisecond)
	}
	buf := make([]byte, *f.size)
	count, rate := *f.count, *f.rate
	t0, startNs := time.Now(), monotonicNs()
	for sent := uint64(0); sent < count; {
		due := count
		if rate > 0 {
			due = min(uint64(time.Since(t0).Nanoseconds())*rate/1e9+1, count)
		}
		for ; sent < due; sent++ {
			binary.BigEndian.PutUint64(buf, sent)
			binary.BigEndian.PutUint64(buf[8:], monotonicNs())
			// Publish keeps no reference to the slice after it returns
			// (the message is marshalled), but a copy costs little.
			if err := topic.Publish(ctx, append([]byte(nil), buf...)); err != nil {
				return benchErr(fmt.Errorf("publish %d: %w", sent, err))
			}
		}
		if sent < count {
			time.Sleep(time.Millisecond)
		}
	}
	out(`{"type":"gossip-pub","sent":%d,"timeSeconds":%.6f,"eagain":0,"size":%d,"startNs":%d}`,
		count, time.Since(t0).Seconds(), *f.size, startNs)
	select {} // hold the connections until killed, so that the queues drain
}
