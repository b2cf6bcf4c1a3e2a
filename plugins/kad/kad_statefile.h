/* kad_statefile.h - the saved routing table, as text, without I/O.
 *
 *     # p2pchat kad routing table v1
 *     12D3KooW... /ip4/192.0.2.1/tcp/4001 /ip6/2001:db8::1/tcp/4001
 *
 * One peer per line: its base58 PeerId, then its addresses (without
 * /p2p/), separated by spaces. Lines starting with '#' and empty lines
 * are skipped. Parsing is bounded: lines of at most KAD_STATE_LINE_MAX
 * bytes, at most max_peers peers and max_addrs addresses per peer; bad
 * lines and addresses are skipped and counted, never fatal (a damaged
 * file loses what it damaged, nothing more). The file itself is written
 * atomically by the glue (temporary file, fsync, rename). */
#ifndef KAD_STATEFILE_H
#define KAD_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "p2p/buf.h"
#include "p2p/multiaddr.h"
#include "p2p/peerid.h"

#define KAD_STATE_HEADER "# p2pchat kad routing table v1"
#define KAD_STATE_LINE_MAX 16384

struct kad_state_peer {
    p2p_peerid id;
    size_t naddrs;
    p2p_multiaddr *addrs;        /* malloc'ed */
};

struct kad_state {
    struct kad_state_peer *p;
    size_t n;
    size_t bad_lines, bad_addrs;
};

/* Parse text (not necessarily NUL-terminated). Returns 0 or P2P_ENOMEM. */
int kad_state_parse(struct kad_state *st, const char *text, size_t len, size_t max_peers, size_t max_addrs);
void kad_state_free(struct kad_state *st);

/* Append the header (once, when out is empty) and one peer line. */
int kad_state_format_peer(p2p_buf *out, const p2p_peerid *id, const p2p_multiaddr *addrs, size_t n);

#endif
