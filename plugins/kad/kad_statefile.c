/* kad_statefile.c - routing table file format (see kad_statefile.h). */
#include "kad_statefile.h"

#include <stdlib.h>
#include <string.h>

#include "p2p/error.h"

void kad_state_free(struct kad_state *st)
{
    for (size_t i = 0; i < st->n; i++) free(st->p[i].addrs);
    free(st->p);
    memset(st, 0, sizeof *st);
}

/* Next space-separated token of line[*pos..len) into tok (NUL-terminated);
 * false at the end. One of cap bytes or more sets *toolong and comes
 * truncated. */
static bool token(const char *line, size_t len, size_t *pos, char *tok, size_t cap, bool *toolong)
{
    size_t i = *pos;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    size_t s = i;
    while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') i++;
    *pos = i;
    *toolong = false;
    if (i == s) return false;
    if (i - s >= cap) {
        /* Truncated, so that the caller may still look at its start
         * (a comment). */
        *toolong = true;
        memcpy(tok, line + s, cap - 1);
        tok[cap - 1] = 0;
        return true;
    }
    memcpy(tok, line + s, i - s);
    tok[i - s] = 0;
    return true;
}

static int parse_line(struct kad_state *st, const char *line, size_t len, size_t max_addrs)
{
    char tok[P2P_MADDR_STRMAX];
    size_t pos = 0;
    bool toolong;
    if (!token(line, len, &pos, tok, sizeof tok, &toolong)) return 0;   /* blank */
    if (tok[0] == '#') return 0;
    struct kad_state_peer p = { 0 };
    if (toolong || p2p_peerid_parse(&p.id, tok) != 0) {
        st->bad_lines++;
        return 0;
    }
    for (size_t i = 0; i < st->n; i++)
        if (p2p_peerid_equal(&st->p[i].id, &p.id)) {
            st->bad_lines++;
            return 0;
        }
    if (max_addrs && !(p.addrs = calloc(max_addrs, sizeof *p.addrs))) return P2P_ENOMEM;
    while (token(line, len, &pos, tok, sizeof tok, &toolong)) {
        p2p_multiaddr ma;
        bool dup = false;
        if (toolong || p2p_maddr_parse(&ma, tok, NULL, 0) != 0 || p2p_maddr_find(&ma, P2P_MA_P2P, NULL) == 1 ||
            p.naddrs == max_addrs) {
            st->bad_addrs++;
            continue;
        }
        for (size_t i = 0; i < p.naddrs && !dup; i++) dup = p2p_maddr_equal(&p.addrs[i], &ma);
        if (!dup) p.addrs[p.naddrs++] = ma;
    }
    if (!p.naddrs) {   /* a peer we cannot dial is of no use */
        free(p.addrs);
        st->bad_lines++;
        return 0;
    }
    st->p[st->n++] = p;
    return 0;
}

int kad_state_parse(struct kad_state *st, const char *text, size_t len, size_t max_peers, size_t max_addrs)
{
    memset(st, 0, sizeof *st);
    if (!max_peers) return 0;
    if (!(st->p = calloc(max_peers, sizeof *st->p))) return P2P_ENOMEM;
    size_t off = 0;
    while (off < len && st->n < max_peers) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t ll = nl ? (size_t)(nl - (text + off)) : len - off;
        if (ll > KAD_STATE_LINE_MAX || memchr(text + off, 0, ll)) {
            st->bad_lines++;
        } else {
            int rc = parse_line(st, text + off, ll, max_addrs);
            if (rc) {
                kad_state_free(st);
                return rc;
            }
        }
        off += ll + (nl ? 1 : 0);
    }
    return 0;
}

int kad_state_format_peer(p2p_buf *out, const p2p_peerid *id, const p2p_multiaddr *addrs, size_t n)
{
    int rc = 0;
    if (out->len == 0) rc = p2p_buf_append(out, KAD_STATE_HEADER "\n", strlen(KAD_STATE_HEADER) + 1);
    char s[P2P_MADDR_STRMAX];
    if (rc == 0 && p2p_peerid_to_string(id, s, sizeof s) < 0) return P2P_EINVAL;
    if (rc == 0) rc = p2p_buf_append(out, s, strlen(s));
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (p2p_maddr_to_string(&addrs[i], s, sizeof s) <= 0) continue;
        rc = p2p_buf_append_byte(out, ' ');
        if (rc == 0) rc = p2p_buf_append(out, s, strlen(s));
    }
    if (rc == 0) rc = p2p_buf_append_byte(out, '\n');
    return rc;
}
