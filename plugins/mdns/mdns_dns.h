/* mdns_dns.h - the DNS message codec of the mdns plugin (RFC 1035 wire
 * format with the RFC 6762 class bits). I/O-free; no allocation except in
 * mdns_msg_new.
 *
 * Decoding is strict and bounded: header counts above the configured
 * limits, names longer than 255 bytes (wire form) or with a label over 63
 * bytes, extended label types (0x40/0x80), compression pointers that do
 * not point strictly backwards (which also rules out loops) or that chain
 * more than max_hops times, records whose data overruns the message, and
 * malformed PTR/TXT/SRV/A/AAAA data all reject the whole message. Unknown
 * record types are skipped by their length. Bytes after the last counted
 * record are ignored.
 *
 * Names are kept in uncompressed wire form (length-prefixed labels ending
 * with the root byte 0) and compared case-insensitively (ASCII), as DNS
 * does; mdns_name_to_text escapes anything that is not a plain label
 * character for logs. */
#ifndef MDNS_DNS_H
#define MDNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MDNS_PORT 5353
#define MDNS_NAME_MAX 255        /* wire form, root byte included */
#define MDNS_LABEL_MAX 63
#define MDNS_NAME_TEXT_MAX 1024  /* text form with escapes (\ddd), NUL included */
#define MDNS_TXT_STRING_MAX 255  /* one <character-string> */
#define MDNS_PACKET_MAX 9000     /* RFC 6762 section 17 */

enum mdns_type {
    MDNS_T_A = 1,
    MDNS_T_PTR = 12,
    MDNS_T_TXT = 16,
    MDNS_T_AAAA = 28,
    MDNS_T_SRV = 33,
    MDNS_T_ANY = 255
};
#define MDNS_CLASS_IN 1
#define MDNS_CLASS_ANY 255
#define MDNS_CLASS_TOPBIT 0x8000 /* QU in questions, cache-flush in records */

#define MDNS_FLAG_QR 0x8000
#define MDNS_FLAG_AA 0x0400
#define MDNS_FLAG_TC 0x0200
#define MDNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define MDNS_RCODE(flags) ((flags) & 0xf)

enum mdns_section { MDNS_SEC_ANSWER = 1, MDNS_SEC_AUTHORITY = 2, MDNS_SEC_ADDITIONAL = 3 };

struct mdns_name {
    uint16_t len;                   /* bytes used in wire, root byte included; 0 = empty/unset */
    uint8_t wire[MDNS_NAME_MAX];
};

/* Limits of the decoder. */
struct mdns_limits {
    size_t max_questions;           /* questions in one message */
    size_t max_records;             /* answers + authority + additional */
    size_t max_txt_strings;         /* character-strings over all TXT records */
    unsigned max_hops;              /* compression pointers followed per name */
};
#define MDNS_LIMITS_DEFAULT { 32, 128, 256, 32 }

struct mdns_question {
    struct mdns_name name;
    uint16_t type;
    uint16_t qclass;                /* without the QU bit */
    bool unicast;                   /* QU bit */
};

/* One TXT character-string: bytes buf[off .. off+len) of the message. */
struct mdns_txt {
    uint16_t off;
    uint8_t len;
};

struct mdns_record {
    enum mdns_section section;
    struct mdns_name name;
    uint16_t type;
    uint16_t rclass;                /* without the cache-flush bit */
    bool cache_flush;
    uint32_t ttl;                   /* seconds */
    uint16_t rdoff, rdlen;          /* the record data in the message */
    union {
        struct mdns_name target;    /* PTR */
        struct {
            uint16_t priority, weight, port;
            struct mdns_name target;
        } srv;
        struct {
            uint32_t first, count;  /* slice of mdns_msg.txt */
        } txt;
        uint8_t a[4];
        uint8_t aaaa[16];
    } u;
};

struct mdns_msg {
    uint16_t id, flags;
    uint16_t qdcount, ancount, nscount, arcount;   /* as in the header */
    const uint8_t *buf;             /* the parsed message (not owned) */
    size_t len;
    struct mdns_limits lim;
    size_t nq, nr, ntxt;
    struct mdns_question *q;        /* lim.max_questions entries */
    struct mdns_record *r;          /* lim.max_records entries */
    struct mdns_txt *txt;           /* lim.max_txt_strings entries */
};

/* ---- names ---------------------------------------------------------- */

/* "a.b.c" (an optional final dot is accepted; "" and "." are the root)
 * into wire form. Labels 1..63 bytes of any byte but '.', total <= 255.
 * Returns 0 or P2P_EINVAL. */
int mdns_name_from_text(struct mdns_name *n, const char *text);
/* Prepend one label (1..63 bytes) to a name: P2P_EINVAL or P2P_ERANGE. */
int mdns_name_prepend(struct mdns_name *n, const char *label, size_t len);
/* Case-insensitive (ASCII) equality of two names. */
bool mdns_name_equal(const struct mdns_name *a, const struct mdns_name *b);
/* Text form for logs: labels joined by '.', with '.', '\\' and bytes
 * outside 0x21..0x7e escaped as \ddd; the root is ".". Returns out. */
char *mdns_name_to_text(const struct mdns_name *n, char *out, size_t cap);
/* The first label of n (pointer into n->wire) and its length; 0 for the root. */
size_t mdns_name_first_label(const struct mdns_name *n, const uint8_t **label);
/* Whether n is a single label followed by parent: "<x>.<parent>". */
bool mdns_name_is_child_of(const struct mdns_name *n, const struct mdns_name *parent);

/* Read a (possibly compressed) name at *pos of buf[0..len): advances *pos
 * past the name's in-place bytes. Pointers must point strictly before the
 * pointer itself and at most max_hops are followed. Returns 0, P2P_ETRUNC
 * (runs past len) or P2P_EPROTO (bad label type, pointer, label or name
 * too long). */
int mdns_read_name(const uint8_t *buf, size_t len, size_t *pos, unsigned max_hops, struct mdns_name *out);

/* ---- decoding ------------------------------------------------------- */

/* Allocate a message with room for the limits' counts; NULL on ENOMEM. */
struct mdns_msg *mdns_msg_new(const struct mdns_limits *lim);
void mdns_msg_free(struct mdns_msg *m);
/* Parse buf[0..len) into m (which keeps pointing at buf). Returns 0,
 * P2P_ETRUNC (message shorter than its counts say), P2P_ELIMIT (counts
 * above the limits) or P2P_EPROTO (malformed). On error m is left with
 * whatever was read so far and must not be used. */
int mdns_msg_parse(struct mdns_msg *m, const uint8_t *buf, size_t len);
/* TXT string i of record r (a TXT record of m): bytes and length. */
const uint8_t *mdns_msg_txt(const struct mdns_msg *m, const struct mdns_record *r, uint32_t i, size_t *len);

/* ---- encoding ------------------------------------------------------- */

/* A bounded writer with name compression (pointers to names written
 * earlier in the same message). On overflow it stops writing and remembers
 * it; check mdns_writer_ok at the end. */
#define MDNS_WRITER_NAMES 32
struct mdns_writer {
    uint8_t *buf;
    size_t cap, len;
    bool overflow;
    size_t nnames;
    uint16_t names[MDNS_WRITER_NAMES];  /* offsets of label starts written in place */
};
void mdns_writer_init(struct mdns_writer *w, uint8_t *buf, size_t cap);
bool mdns_writer_ok(const struct mdns_writer *w);
void mdns_write_u16(struct mdns_writer *w, uint16_t v);
void mdns_write_u32(struct mdns_writer *w, uint32_t v);
void mdns_write_bytes(struct mdns_writer *w, const void *p, size_t n);
/* A name, compressed against the names written before when compress. */
void mdns_write_name(struct mdns_writer *w, const struct mdns_name *n, bool compress);
/* The 12-byte header. */
void mdns_write_header(struct mdns_writer *w, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
                       uint16_t ns, uint16_t ar);
/* Patch the four counts of the header written at offset 0. */
void mdns_patch_counts(struct mdns_writer *w, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar);
/* A record header (name, type, class, ttl) and a placeholder rdlength;
 * returns the rdlength offset for mdns_end_rdata. */
size_t mdns_begin_record(struct mdns_writer *w, const struct mdns_name *name, uint16_t type,
                         uint16_t rclass, uint32_t ttl);
void mdns_end_rdata(struct mdns_writer *w, size_t rdlen_off);

/* The libp2p query: one question `service` PTR IN (QU bit clear).
 * Returns the length or P2P_ERANGE. */
int mdns_build_query(uint8_t *buf, size_t cap, uint16_t id, const struct mdns_name *service);

/* Our answer to a find-all-peers query (libp2p mdns spec, and the DNS-SD
 * records go-libp2p's zeroconf needs to report a peer):
 *   answer      service PTR instance                   (shared)
 *   additional  instance TXT "dnsaddr=..."...          (one record, many strings)
 *               instance SRV 0 0 port host
 *               host A / AAAA (the sending interface's addresses)
 * txt[first..n) are written while they fit in cap; *used tells how many
 * were consumed (strings over 255 bytes are skipped and counted as used).
 * Returns the length or P2P_ERANGE (not even the records without TXT fit). */
struct mdns_response {
    uint16_t id;
    const struct mdns_name *service;    /* _p2p._udp.local */
    const struct mdns_name *instance;   /* <peer-name>._p2p._udp.local */
    const struct mdns_name *host;       /* <peer-name>.local */
    uint32_t ttl;                       /* seconds; 0 = goodbye */
    bool cache_flush;                   /* on the unique records (TXT, SRV, A, AAAA) */
    uint16_t port;                      /* SRV port */
    const char *const *txt;
    size_t ntxt;
    const uint8_t (*ip4)[4];
    size_t nip4;
    const uint8_t (*ip6)[16];
    size_t nip6;
};
int mdns_build_response(uint8_t *buf, size_t cap, const struct mdns_response *r, size_t first, size_t *used);

/* The DNS-SD meta-query answer: `meta` PTR `service`. */
int mdns_build_meta_response(uint8_t *buf, size_t cap, uint16_t id, const struct mdns_name *meta,
                             const struct mdns_name *service, uint32_t ttl);

#endif
