/* sockaddr.c - p2p_maddr_from_sockaddr: the multiaddr of a socket
 * address, for transports (see p2p/transport.h).
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, seen on dual-stack sockets)
 * become /ip4/a.b.c.d: the peer is an IPv4 host, and that is the address
 * other peers can dial. A link-local IPv6 address with a scope id gets the
 * /ip6zone/<interface> prefix (as go-multiaddr writes it), because the
 * address alone is ambiguous on a machine with several interfaces. */
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "p2p/error.h"
#include "p2p/multiaddr.h"
#include "p2p/transport.h"

P2P_API int p2p_maddr_from_sockaddr(p2p_multiaddr *ma, const struct sockaddr *sa, uint32_t proto_code)
{
    if (!ma || !sa || (proto_code != P2P_MA_TCP && proto_code != P2P_MA_UDP)) return P2P_EINVAL;
    p2p_multiaddr out = { 0 };
    uint16_t nport;     /* network byte order: already the multiaddr encoding */
    int rc;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        rc = p2p_maddr_push(&out, P2P_MA_IP4, (const uint8_t *)&in->sin_addr, 4);
        nport = in->sin_port;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *a = in6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            rc = p2p_maddr_push(&out, P2P_MA_IP4, a + 12, 4);
        } else {
            rc = 0;
            if (in6->sin6_scope_id && IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) {
                char zone[IF_NAMESIZE + 16];   /* a name, or the decimal index */
                if (!if_indextoname(in6->sin6_scope_id, zone))
                    snprintf(zone, sizeof zone, "%u", (unsigned)in6->sin6_scope_id);
                rc = p2p_maddr_push(&out, P2P_MA_IP6ZONE, (const uint8_t *)zone, strlen(zone));
            }
            if (rc == 0) rc = p2p_maddr_push(&out, P2P_MA_IP6, a, 16);
        }
        nport = in6->sin6_port;
    } else {
        return P2P_EUNSUPPORTED;
    }
    if (rc == 0) rc = p2p_maddr_push(&out, proto_code, (const uint8_t *)&nport, 2);
    if (rc < 0) return rc;
    *ma = out;
    return 0;
}
