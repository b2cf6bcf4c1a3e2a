/* test_netaddr.c - unit.netaddr: IP scopes, address policies and our
 * candidate external addresses (core/src/netaddr.c, p2p/netaddr.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "p2p/p2p.h"
#include "p2p/netaddr.h"
#include "testutil.h"

static p2p_multiaddr ma(const char *text)
{
    p2p_multiaddr m;
    char err[256];
    int rc = p2p_maddr_parse(&m, text, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return m;
}

static enum p2p_ip_scope scope(const char *ip)
{
    uint8_t b[16];
    if (inet_pton(AF_INET, ip, b) == 1) return p2p_ip_scope(4, b);
    ck_assert_int_eq(inet_pton(AF_INET6, ip, b), 1);
    return p2p_ip_scope(6, b);
}

static struct p2p_addr_policy policy(const char *items)
{
    struct p2p_addr_policy p;
    char copy[256], *v[16], *save = NULL;
    size_t n = 0;
    snprintf(copy, sizeof copy, "%s", items);
    for (char *t = strtok_r(copy, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save)) v[n++] = t;
    char err[256];
    int rc = p2p_addr_policy_parse(&p, (const char *const *)v, n, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", items, err);
    return p;
}

static bool allows(const struct p2p_addr_policy *p, const char *addr)
{
    p2p_multiaddr a = ma(addr);
    return p2p_addr_policy_allows(p, &a);
}

START_TEST(scopes)
{
    ck_assert_int_eq(scope("1.2.3.4"), P2P_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("8.8.8.8"), P2P_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("0.0.0.0"), P2P_SCOPE_UNSPECIFIED);
    ck_assert_int_eq(scope("10.1.2.3"), P2P_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("172.16.0.1"), P2P_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("172.32.0.1"), P2P_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("192.168.1.1"), P2P_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("100.64.0.1"), P2P_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("100.128.0.1"), P2P_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("127.0.0.1"), P2P_SCOPE_LOOPBACK);
    ck_assert_int_eq(scope("169.254.3.4"), P2P_SCOPE_LINK_LOCAL);
    ck_assert_int_eq(scope("198.18.0.1"), P2P_SCOPE_RESERVED);
    ck_assert_int_eq(scope("198.19.2.1"), P2P_SCOPE_RESERVED);
    ck_assert_int_eq(scope("198.20.0.1"), P2P_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("203.0.113.9"), P2P_SCOPE_RESERVED);
    ck_assert_int_eq(scope("224.0.0.251"), P2P_SCOPE_RESERVED);
    ck_assert_int_eq(scope("255.255.255.255"), P2P_SCOPE_RESERVED);
    ck_assert_int_eq(scope("::"), P2P_SCOPE_UNSPECIFIED);
    ck_assert_int_eq(scope("::1"), P2P_SCOPE_LOOPBACK);
    ck_assert_int_eq(scope("fe80::1"), P2P_SCOPE_LINK_LOCAL);
    ck_assert_int_eq(scope("fd00::1"), P2P_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("2001:db8::1"), P2P_SCOPE_RESERVED);
    ck_assert_int_eq(scope("2606:4700::1"), P2P_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("ff02::1"), P2P_SCOPE_RESERVED);
    ck_assert_int_eq(scope("::ffff:10.0.0.1"), P2P_SCOPE_PRIVATE);
    ck_assert_int_eq(scope("::ffff:1.2.3.4"), P2P_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("64:ff9b::1.2.3.4"), P2P_SCOPE_PUBLIC);
    ck_assert_int_eq(scope("64:ff9b::192.168.0.1"), P2P_SCOPE_PRIVATE);
}
END_TEST

START_TEST(policies)
{
    struct p2p_addr_policy p = policy("public");
    ck_assert(allows(&p, "/ip4/1.2.3.4/tcp/4001"));
    ck_assert(allows(&p, "/ip6/2606:4700::1/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/127.0.0.1/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/198.18.0.2/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/192.168.1.2/tcp/4001"));
    ck_assert(!allows(&p, "/dns4/example.com/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit"));

    p = policy("loopback,198.18.0.0/15");
    ck_assert(allows(&p, "/ip4/127.0.0.1/tcp/4001"));
    ck_assert(allows(&p, "/ip6/::1/tcp/4001"));
    ck_assert(allows(&p, "/ip4/198.18.0.2/tcp/4001"));
    ck_assert(allows(&p, "/ip4/198.19.2.3/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/198.20.0.1/tcp/4001"));
    ck_assert(!allows(&p, "/ip4/1.2.3.4/tcp/4001"));   /* public not listed */
    ck_assert(!allows(&p, "/ip4/0.0.0.0/tcp/4001"));

    p = policy("all");
    ck_assert(allows(&p, "/ip4/10.0.0.1/tcp/1"));
    ck_assert(!allows(&p, "/ip4/0.0.0.0/tcp/1"));      /* never the unspecified address */
    ck_assert(!allows(&p, "/ip6/::/tcp/1"));

    p = policy("private,link-local,2001:db8::/32,203.0.113.7");
    ck_assert(allows(&p, "/ip4/10.0.0.1/tcp/1"));
    ck_assert(allows(&p, "/ip4/169.254.1.1/tcp/1"));
    ck_assert(allows(&p, "/ip6/2001:db8:1::5/tcp/1"));
    ck_assert(allows(&p, "/ip4/203.0.113.7/tcp/1"));
    ck_assert(!allows(&p, "/ip4/203.0.113.8/tcp/1"));

    struct p2p_addr_policy bad;
    char err[256];
    const char *items[] = { "public", "nonsense" };
    ck_assert_int_eq(p2p_addr_policy_parse(&bad, items, 2, err, sizeof err), P2P_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'nonsense'"));
    const char *items2[] = { "10.0.0.0/33" };
    ck_assert_int_eq(p2p_addr_policy_parse(&bad, items2, 1, err, sizeof err), P2P_EINVAL);
    const char *items3[] = { "10.0.0.0/" };
    ck_assert_int_eq(p2p_addr_policy_parse(&bad, items3, 1, err, sizeof err), P2P_EINVAL);
    const char *items4[] = { "fd00::/7x" };
    ck_assert_int_eq(p2p_addr_policy_parse(&bad, items4, 1, err, sizeof err), P2P_EINVAL);
    /* Nothing allowed at all is a valid (if useless) policy. */
    ck_assert_int_eq(p2p_addr_policy_parse(&bad, NULL, 0, err, sizeof err), 0);
    ck_assert(!p2p_addr_policy_allows(&bad, &(p2p_multiaddr){ 0 }));

    p2p_multiaddr pub = ma("/ip4/1.2.3.4/tcp/1"), lo = ma("/ip4/127.0.0.1/tcp/1");
    ck_assert(p2p_maddr_is_public(&pub));
    ck_assert(!p2p_maddr_is_public(&lo));
}
END_TEST

static struct p2p_identify_observed obs(const char *addr, unsigned n)
{
    return (struct p2p_identify_observed){ .addr = ma(addr), .observers = n };
}

static void expect(const p2p_multiaddr *got, size_t n, const char *const *want)
{
    size_t k = 0;
    while (want[k]) k++;
    char s[P2P_MADDR_STRMAX];
    for (size_t i = 0; i < n && i < k; i++) {
        p2p_maddr_to_string(&got[i], s, sizeof s);
        ck_assert_str_eq(s, want[i]);
    }
    ck_assert_uint_eq(n, k);
}

START_TEST(local_addresses)
{
    struct p2p_addr_policy p = policy("198.18.0.0/15");
    p2p_multiaddr listen[] = { ma("/ip4/198.19.1.2/tcp/4001"), ma("/ip4/127.0.0.1/tcp/4001"),
                               ma("/ip6/::1/tcp/4002") };
    struct p2p_identify_observed o[] = {
        obs("/ip4/198.18.0.2/tcp/50123", 3),           /* dialed from an ephemeral port: translated */
        obs("/ip4/198.18.0.3/tcp/4001", 2),            /* from the listening port: kept */
        obs("/ip4/198.18.0.4/tcp/50124", 1),           /* too few observers */
        obs("/ip4/198.18.0.9/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit", 5),
        obs("/ip4/8.8.8.8/tcp/4001", 5),               /* not allowed by this policy */
        obs("/ip4/198.18.0.2/tcp/50999", 2),           /* same translation: once */
        obs("/ip4/198.18.0.5/udp/4001/quic-v1", 2),    /* not TCP: as observed */
    };
    p2p_multiaddr out[16];
    size_t n = p2p_addr_candidates(&p, listen, 3, o, sizeof o / sizeof o[0], 2, out, 16);
    expect(out, n, (const char *const[]){ "/ip4/198.18.0.2/tcp/4001", "/ip4/198.18.0.3/tcp/4001",
                                          "/ip4/198.18.0.5/udp/4001/quic-v1", "/ip4/198.19.1.2/tcp/4001", NULL });
    /* min_observers 1 takes the third one (translated). */
    n = p2p_addr_candidates(&p, listen, 3, o, sizeof o / sizeof o[0], 1, out, 16);
    ck_assert_uint_eq(n, 5);
    char s[P2P_MADDR_STRMAX];
    p2p_maddr_to_string(&out[2], s, sizeof s);
    ck_assert_str_eq(s, "/ip4/198.18.0.4/tcp/4001");
    /* Bounded by max. */
    ck_assert_uint_eq(p2p_addr_candidates(&p, listen, 3, o, sizeof o / sizeof o[0], 1, out, 2), 2);

    /* Loopback policy: listen addresses only, both families; an observed
     * IPv6 address is translated to the IPv6 listening port. */
    p = policy("loopback");
    struct p2p_identify_observed o6[] = { obs("/ip6/::1/tcp/60000", 1) };
    n = p2p_addr_candidates(&p, listen, 3, o6, 1, 1, out, 16);
    expect(out, n, (const char *const[]){ "/ip6/::1/tcp/4002", "/ip4/127.0.0.1/tcp/4001", NULL });

    /* Public only (the default) with private listen addresses: nothing. */
    p = policy("public");
    ck_assert_uint_eq(p2p_addr_candidates(&p, listen, 3, o, 2, 1, out, 16), 0);
}
END_TEST

START_TEST(first_ip)
{
    const uint8_t *ip;
    p2p_multiaddr a = ma("/ip4/198.18.0.7/tcp/1");
    ck_assert_int_eq(p2p_maddr_ip(&a, &ip), 4);
    ck_assert_int_eq(ip[0], 198);
    ck_assert_int_eq(ip[3], 7);
    a = ma("/ip6/2001:db8::5/tcp/1");
    ck_assert_int_eq(p2p_maddr_ip(&a, &ip), 6);
    ck_assert_int_eq(ip[15], 5);
    a = ma("/dns4/example.com/tcp/1");
    ck_assert_int_eq(p2p_maddr_ip(&a, &ip), 0);
    a = ma("/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo");
    ck_assert_int_eq(p2p_maddr_ip(&a, &ip), 0);
    ck_assert_int_eq(p2p_maddr_ip(&(p2p_multiaddr){ 0 }, &ip), 0);
    a = ma("/ip4/1.2.3.4/tcp/1/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit");
    ck_assert(p2p_maddr_is_relayed(&a));
    ck_assert(!p2p_maddr_is_public(&a));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("netaddr");
    TCase *tc = tcase_create("netaddr");
    tcase_add_test(tc, scopes);
    tcase_add_test(tc, policies);
    tcase_add_test(tc, local_addresses);
    tcase_add_test(tc, first_ip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return p2p_test_run(suite());
}
