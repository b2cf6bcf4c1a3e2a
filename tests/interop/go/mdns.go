// The mdns subcommand: go-libp2p's mDNS discovery (p2p/discovery/mdns) for
// the namespace test plugins/mdns/tests/mdns-netns.sh:
//
//	mdns [--seed N] [--timeout S]
//
// Listens on /ip4/0.0.0.0/tcp/0, prints PEERID and LISTEN lines, then
// `DISCOVERED <id> <addr,...>` for every peer mDNS reports (and connects
// to it) and `CONNECTED <id> <remote addr>` per connection, with the
// library's defaults. Exits 0 on SIGTERM/SIGINT, 2 (TIMEOUT) after S
// seconds (default 60).
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	ma "github.com/multiformats/go-multiaddr"
)

func init() {
	subcommands["mdns"] = cmdMdns
}

// mdnsNotifee prints what mDNS finds and connects to it.
type mdnsNotifee struct {
	h host.Host
}

func (n *mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == n.h.ID() {
		return
	}
	addrs := make([]string, len(ai.Addrs))
	for i, a := range ai.Addrs {
		addrs[i] = a.String()
	}
	out("DISCOVERED %s %s", ai.ID, strings.Join(addrs, ","))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.h.Connect(ctx, ai); err != nil {
			out("DIAL_FAILED %s %v", ai.ID, err)
		}
	}()
}

// printSelf prints PEERID and a LISTEN line per listen address (with
// /p2p/).
func printSelf(h host.Host) error {
	out("PEERID %s", h.ID())
	p2p, err := ma.NewComponent("p2p", h.ID().String())
	if err != nil {
		return err
	}
	for _, a := range h.Network().ListenAddresses() {
		out("LISTEN %s", a.Encapsulate(p2p))
	}
	return nil
}

func cmdMdns(args []string) error {
	fs := flag.NewFlagSet("mdns", flag.ContinueOnError)
	var seed seedFlag
	fs.Var(&seed, "seed", "")
	timeout := fs.Float64("timeout", 60, "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || !(*timeout > 0) {
		return usageErr("mdns takes no positional arguments and --timeout > 0")
	}
	h, err := newHost(seed, []string{"/ip4/0.0.0.0/tcp/0"})
	if err != nil {
		return err
	}
	defer h.Close()
	watchConnections(h)
	if err := printSelf(h); err != nil {
		return err
	}
	svc := mdns.NewMdnsService(h, mdns.ServiceName, &mdnsNotifee{h: h})
	if err := svc.Start(); err != nil {
		return err
	}
	defer svc.Close()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
		return nil
	case <-time.After(time.Duration(*timeout * float64(time.Second))):
		out("TIMEOUT")
		return exitError(2)
	}
}
