// The kad subcommand: go-libp2p-kad-dht as a DHT server on
// /ipfs/kad/1.0.0 (contract in tests/interop/README.md):
//
//	kad [--seed N] [--port P] [--bootstrap MADDR]... [--table K] [--put]
//	    [--provide] [--closest K] [--find-peer ID]... [--get-pk ID]...
//	    [--get-record ID]... [--find-providers ID]... [--timeout S]
//
// Records: /pk/<id> (go's built-in validator) and /p2pchat/<id>/<name>,
// the p2pchat record (a signed envelope, domain "p2pchat-kad-record",
// payload type "/p2pchat/kad-record/1", payload seq (8 bytes BE) ||
// uvarint(len key) || key || data), sealed and checked here with
// go-libp2p's own envelope code. go-libp2p-kad-dht accepts no namespace
// but pk and ipns on the /ipfs prefix (its Config.Validate), so the DHT is
// made with a prefix of its own and its protocol id set back to
// /ipfs/kad/1.0.0 (V1ProtocolOverride): on the wire it is the public DHT
// protocol.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

func init() {
	subcommands["kad"] = cmdKad
}

const (
	kadProtocol       = "/ipfs/kad/1.0.0"
	kadRecordName     = "interop"
	kadProviderPrefix = "p2pchat-interop/"
	kadRetry          = time.Second
	kadAttempt        = 10 * time.Second
)

// chatRecord is the payload of a /p2pchat/ record (see the top of the file).
type chatRecord struct {
	seq  uint64
	key  []byte
	data []byte
}

func (r *chatRecord) Domain() string { return "p2pchat-kad-record" }
func (r *chatRecord) Codec() []byte  { return []byte("/p2pchat/kad-record/1") }

func (r *chatRecord) MarshalRecord() ([]byte, error) {
	b := binary.BigEndian.AppendUint64(nil, r.seq)
	b = binary.AppendUvarint(b, uint64(len(r.key)))
	b = append(b, r.key...)
	return append(b, r.data...), nil
}

func (r *chatRecord) UnmarshalRecord(b []byte) error {
	if len(b) < 8 {
		return errors.New("p2pchat record: short payload")
	}
	r.seq = binary.BigEndian.Uint64(b)
	n, used := binary.Uvarint(b[8:])
	if used <= 0 || uint64(len(b)-8-used) < n {
		return errors.New("p2pchat record: bad key length")
	}
	r.key = b[8+used : 8+used+int(n)]
	r.data = b[8+used+int(n):]
	return nil
}

// openChatRecord checks a /p2pchat/ value for key: an envelope of our
// type signed by the peer the key names, whose payload holds the key.
func openChatRecord(key string, value []byte) (*chatRecord, error) {
	rest, ok := strings.CutPrefix(key, "/p2pchat/")
	if !ok {
		return nil, errors.New("not a /p2pchat/ key")
	}
	var rec chatRecord
	env, err := record.ConsumeTypedEnvelope(value, &rec)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(env.PayloadType, rec.Codec()) {
		return nil, errors.New("p2pchat record: wrong payload type")
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(rest, string(signer)) {
		return nil, errors.New("p2pchat record: not signed by the key's peer")
	}
	if tail := rest[len(signer):]; tail != "" && (tail[0] != '/' || len(tail) < 2 || len(tail) > 65 ||
		strings.Contains(tail[1:], "/")) {
		return nil, errors.New("p2pchat record: bad name")
	}
	if string(rec.key) != key {
		return nil, errors.New("p2pchat record: signed for another key")
	}
	return &rec, nil
}

// chatValidator is the record.Validator of the p2pchat namespace: the
// newest seq wins, ties go to the larger value bytes (as the C plugin).
type chatValidator struct{}

func (chatValidator) Validate(key string, value []byte) error {
	_, err := openChatRecord(key, value)
	return err
}

func (chatValidator) Select(key string, values [][]byte) (int, error) {
	best, bestSeq := -1, uint64(0)
	for i, v := range values {
		r, err := openChatRecord(key, v)
		if err != nil {
			continue
		}
		if best < 0 || r.seq > bestSeq || (r.seq == bestSeq && bytes.Compare(v, values[best]) > 0) {
			best, bestSeq = i, r.seq
		}
	}
	if best < 0 {
		return 0, errors.New("p2pchat record: no valid value")
	}
	return best, nil
}

func pkKey(id peer.ID) string { return "/pk/" + string(id) }

func chatKey(id peer.ID) string { return "/p2pchat/" + string(id) + "/" + kadRecordName }

// providerCid is the CID (raw, v1) of sha256("p2pchat-interop/<id>"): its
// multihash is the provider key on the wire.
func providerCid(id peer.ID) (cid.Cid, error) {
	h, err := mh.Sum([]byte(kadProviderPrefix+id.String()), mh.SHA2_256, -1)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(cid.Raw, h), nil
}

type idList []peer.ID

func (l *idList) String() string { return fmt.Sprint(*l) }
func (l *idList) Set(v string) error {
	id, err := peer.Decode(v)
	if err != nil {
		return err
	}
	*l = append(*l, id)
	return nil
}

// kadRun is one kad subcommand run: the steps, in order.
type kadRun struct {
	d       *dht.IpfsDHT
	priv    crypto.PrivKey
	self    peer.ID
	mu      sync.Mutex
	pending string
}

func (k *kadRun) setPending(s string) {
	k.mu.Lock()
	k.pending = s
	k.mu.Unlock()
}

// retry runs f until it succeeds (each attempt bounded by kadAttempt).
func (k *kadRun) retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	k.setPending(what)
	for {
		actx, cancel := context.WithTimeout(ctx, kadAttempt)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		fmt.Fprintf(os.Stderr, "interop-peer: %s: %v (retrying)\n", what, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(kadRetry):
		}
	}
}

func (k *kadRun) steps(ctx context.Context, put, provide bool, closest int, find, getPK, getRecord, providers idList) error {
	if put {
		pub, err := crypto.MarshalPublicKey(k.priv.GetPublic())
		if err != nil {
			return err
		}
		if err := k.retry(ctx, "put pk", func(ctx context.Context) error {
			return k.d.PutValue(ctx, pkKey(k.self), pub)
		}); err != nil {
			return err
		}
		out("PUT pk ok")
		s := k.self.String()
		rec := &chatRecord{seq: uint64(time.Now().UnixNano()), key: []byte(chatKey(k.self)),
			data: []byte("go-" + s[len(s)-6:])}
		env, err := record.Seal(rec, k.priv)
		if err != nil {
			return err
		}
		value, err := env.Marshal()
		if err != nil {
			return err
		}
		if err := k.retry(ctx, "put record", func(ctx context.Context) error {
			return k.d.PutValue(ctx, chatKey(k.self), value)
		}); err != nil {
			return err
		}
		out("PUT record ok")
	}
	if provide {
		c, err := providerCid(k.self)
		if err != nil {
			return err
		}
		if err := k.retry(ctx, "provide", func(ctx context.Context) error {
			return k.d.Provide(ctx, c, true)
		}); err != nil {
			return err
		}
		out("PROVIDED ok")
	}
	if closest > 0 {
		if err := k.retry(ctx, "closest", func(ctx context.Context) error {
			ps, err := k.d.GetClosestPeers(ctx, string(k.self))
			if err != nil {
				return err
			}
			if len(ps) < closest {
				return fmt.Errorf("%d peers", len(ps))
			}
			out("CLOSEST %d %s", len(ps), joinIDs(ps))
			return nil
		}); err != nil {
			return err
		}
	}
	for i, id := range find {
		if err := k.retry(ctx, fmt.Sprintf("find-peer (%d/%d done)", i, len(find)), func(ctx context.Context) error {
			ai, err := k.d.FindPeer(ctx, id)
			if err != nil {
				return err
			}
			if len(ai.Addrs) == 0 {
				return errors.New("no addresses")
			}
			addrs := make([]string, len(ai.Addrs))
			for j, a := range ai.Addrs {
				addrs[j] = a.String()
			}
			out("FOUND_PEER %s %s", id, strings.Join(addrs, ","))
			return nil
		}); err != nil {
			return err
		}
	}
	for i, id := range getPK {
		if err := k.retry(ctx, fmt.Sprintf("get-pk (%d/%d done)", i, len(getPK)), func(ctx context.Context) error {
			v, err := k.d.GetValue(ctx, pkKey(id))
			if err != nil {
				return err
			}
			pub, err := crypto.UnmarshalPublicKey(v)
			if err != nil {
				return err
			}
			if !id.MatchesPublicKey(pub) {
				return errors.New("not its public key")
			}
			out("GOT_PK %s", id)
			return nil
		}); err != nil {
			return err
		}
	}
	for i, id := range getRecord {
		if err := k.retry(ctx, fmt.Sprintf("get-record (%d/%d done)", i, len(getRecord)), func(ctx context.Context) error {
			v, err := k.d.GetValue(ctx, chatKey(id))
			if err != nil {
				return err
			}
			r, err := openChatRecord(chatKey(id), v)
			if err != nil {
				return err
			}
			out("GOT_RECORD %s seq=%d data=%s", id, r.seq, printable(r.data))
			return nil
		}); err != nil {
			return err
		}
	}
	for i, id := range providers {
		c, err := providerCid(id)
		if err != nil {
			return err
		}
		if err := k.retry(ctx, fmt.Sprintf("find-providers (%d/%d done)", i, len(providers)), func(ctx context.Context) error {
			ps, err := k.d.FindProviders(ctx, c)
			if err != nil {
				return err
			}
			ids := make([]peer.ID, 0, len(ps))
			found := false
			for _, p := range ps {
				ids = append(ids, p.ID)
				found = found || p.ID == id
			}
			if !found {
				return fmt.Errorf("%d providers, not the one", len(ps))
			}
			out("PROVIDERS %s %s", id, joinIDs(ids))
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func joinIDs(ids []peer.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ",")
}

func cmdKad(args []string) error {
	fs := flag.NewFlagSet("kad", flag.ContinueOnError)
	var seed seedFlag
	fs.Var(&seed, "seed", "")
	port := fs.Uint("port", 0, "")
	var boots stringList
	fs.Var(&boots, "bootstrap", "")
	table := fs.Int("table", -1, "")
	put := fs.Bool("put", false, "")
	provide := fs.Bool("provide", false, "")
	closest := fs.Int("closest", 0, "")
	var find, getPK, getRecord, providers idList
	fs.Var(&find, "find-peer", "")
	fs.Var(&getPK, "get-pk", "")
	fs.Var(&getRecord, "get-record", "")
	fs.Var(&providers, "find-providers", "")
	timeout := fs.Float64("timeout", 60, "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *port > 65535 || !(*timeout > 0) {
		return usageErr("kad takes no positional arguments, a port 0..65535 and --timeout > 0")
	}
	var bootInfos []peer.AddrInfo
	for _, b := range boots {
		a, err := ma.NewMultiaddr(b)
		if err != nil {
			return usageErr("bad multiaddr %q: %v", b, err)
		}
		info, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return usageErr("--bootstrap needs a multiaddr ending with /p2p/<peer id>: %v", err)
		}
		bootInfos = append(bootInfos, *info)
	}
	if *table < 0 {
		*table = min(len(bootInfos), 1)
	}

	h, err := newHost(seed, []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", *port)})
	if err != nil {
		return err
	}
	defer h.Close()
	watchConnections(h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := dht.New(h,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix("/p2pchat-interop"),
		dht.V1ProtocolOverride(kadProtocol),
		dht.NamespacedValidator("p2pchat", chatValidator{}),
		dht.BootstrapPeers(bootInfos...),
	)
	if err != nil {
		return err
	}
	defer d.Close()

	if err := printSelf(h); err != nil {
		return err
	}
	for _, b := range bootInfos {
		if err := h.Connect(ctx, b); err != nil {
			out("ERROR dial failed: %v", err)
			return exitError(1)
		}
	}

	k := &kadRun{d: d, priv: h.Peerstore().PrivKey(h.ID()), self: h.ID(), pending: "routing table"}
	done := make(chan error, 1)
	go func() {
		// ROUTING for every routing table newcomer; the steps once it has K peers.
		seen := map[peer.ID]bool{}
		started := false
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, p := range d.RoutingTable().ListPeers() {
				if !seen[p] {
					seen[p] = true
					out("ROUTING %s", p)
				}
			}
			if !started && len(seen) >= *table {
				started = true
				go func() {
					done <- k.steps(ctx, *put, *provide, *closest, find, getPK, getRecord, providers)
				}()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	deadline := time.After(time.Duration(*timeout * float64(time.Second)))
	finished := false
	for {
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				out("ERROR %v", err)
				return exitError(1)
			}
			finished = true
			out("DONE")
		case <-sig:
			out("RSS_MAX_KIB %d", rssMaxKiB())
			return nil
		case <-deadline:
			if finished {
				return nil
			}
			k.mu.Lock()
			out("TIMEOUT %s", k.pending)
			k.mu.Unlock()
			return exitError(2)
		}
	}
}
