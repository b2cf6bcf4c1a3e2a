// Command bench-peer is the go-libp2p benchmark peer of bench/run.sh (not
// part of the product). The contract, the same for the rust, js and C
// bench peers, is in bench/README.md.
//
//	bench-peer server [--port P]
//	    listen on /ip4/127.0.0.1/tcp/P; serve /perf/1.0.0 (and go-libp2p's
//	    default identify and ping); print LISTEN <multiaddr>/p2p/<id>; run
//	    until killed.
//	bench-peer perf <multiaddr/p2p/ID> [--upload B] [--download B]
//	    dial, run one /perf/1.0.0 exchange, print one JSON line
//	    {"type":"final","timeSeconds":..,"uploadBytes":..,"downloadBytes":..}
//	bench-peer handshakes <multiaddr/p2p/ID> [--count N]
//	    N sequential connections (dial, Noise, Yamux, identify: go's
//	    Connect waits for it), each closed; print
//	    {"type":"handshakes","count":N,"timeSeconds":..}
//
// Transport: TCP + Noise + Yamux only, no resource-manager limits, default
// GOMAXPROCS.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

const (
	perfID  = protocol.ID("/perf/1.0.0")
	bufSize = 64 * 1024
	usage   = `usage: bench-peer server [--port P]
       bench-peer perf <multiaddr/p2p/ID> [--upload B] [--download B]
       bench-peer handshakes <multiaddr/p2p/ID> [--count N]`
)

func newHost(listen []string) (host.Host, error) {
	opts := []libp2p.Option{
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
	buf := make([]byte, bufSize)
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
		k := min(left, uint64(bufSize))
		if _, err := s.Write(buf[:k]); err != nil {
			s.Reset()
			return
		}
		left -= k
	}
	s.CloseWrite()
}

func parse(name string, args []string) (*flag.FlagSet, []string, map[string]*uint64) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	vals := map[string]*uint64{
		"port":     fs.Uint64("port", 0, ""),
		"upload":   fs.Uint64("upload", 0, ""),
		"download": fs.Uint64("download", 0, ""),
		"count":    fs.Uint64("count", 100, ""),
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			fail(err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return fs, pos, vals
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench-peer: %v\n", err)
	os.Exit(1)
}

func target(pos []string) *peer.AddrInfo {
	if len(pos) != 1 {
		fail(errors.New("exactly one multiaddr expected\n" + usage))
	}
	addr, err := ma.NewMultiaddr(pos[0])
	if err != nil {
		fail(err)
	}
	info, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		fail(err)
	}
	return info
}

func cmdServer(args []string) {
	_, _, v := parse("server", args)
	h, err := newHost([]string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", *v["port"])})
	if err != nil {
		fail(err)
	}
	h.SetStreamHandler(perfID, perfHandler)
	p2p, err := ma.NewComponent("p2p", h.ID().String())
	if err != nil {
		fail(err)
	}
	for _, a := range h.Network().ListenAddresses() {
		fmt.Printf("LISTEN %s\n", a.Encapsulate(p2p))
	}
	select {}
}

func cmdPerf(args []string) {
	_, pos, v := parse("perf", args)
	info := target(pos)
	upload, download := *v["upload"], *v["download"]
	h, err := newHost(nil)
	if err != nil {
		fail(err)
	}
	defer h.Close()
	ctx := context.Background()
	if err := h.Connect(ctx, *info); err != nil {
		fail(err)
	}
	t0 := time.Now()
	s, err := h.NewStream(ctx, info.ID, perfID)
	if err != nil {
		fail(err)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], download)
	if _, err := s.Write(hdr[:]); err != nil {
		fail(err)
	}
	buf := make([]byte, bufSize)
	for left := upload; left > 0; {
		k := min(left, uint64(bufSize))
		if _, err := s.Write(buf[:k]); err != nil {
			fail(err)
		}
		left -= k
	}
	if err := s.CloseWrite(); err != nil {
		fail(err)
	}
	var got uint64
	for {
		n, err := s.Read(buf)
		got += uint64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(err)
		}
	}
	elapsed := time.Since(t0)
	s.Close()
	if got != download {
		fail(fmt.Errorf("downloaded %d bytes, asked for %d", got, download))
	}
	fmt.Printf("{\"type\":\"final\",\"timeSeconds\":%.6f,\"uploadBytes\":%d,\"downloadBytes\":%d}\n",
		elapsed.Seconds(), upload, got)
}

func cmdHandshakes(args []string) {
	_, pos, v := parse("handshakes", args)
	info := target(pos)
	n := *v["count"]
	h, err := newHost(nil)
	if err != nil {
		fail(err)
	}
	defer h.Close()
	ctx := context.Background()
	t0 := time.Now()
	for i := uint64(0); i < n; i++ {
		// Connect returns once the connection is up and identify ran.
		if err := h.Connect(ctx, *info); err != nil {
			fail(fmt.Errorf("connection %d: %w", i, err))
		}
		if err := h.Network().ClosePeer(info.ID); err != nil {
			fail(err)
		}
	}
	fmt.Printf("{\"type\":\"handshakes\",\"count\":%d,\"timeSeconds\":%.6f}\n", n, time.Since(t0).Seconds())
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "server":
		cmdServer(os.Args[2:])
	case "perf":
		cmdPerf(os.Args[2:])
	case "handshakes":
		cmdHandshakes(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
}
