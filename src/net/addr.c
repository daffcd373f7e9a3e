/* Network addresses: network names, "host:port" splitting (Go's
 * net.SplitHostPort), unix paths, name resolution, and formatting socket
 * addresses as text.
 *
 * Resolution calls getaddrinfo, which may block for as long as DNS takes:
 * it runs inside goc_blocking_begin/end, so sysmon hands the P to another M
 * meanwhile (Go's cgo resolver does the same). It is not cancellable; a dial
 * checks its context once it returns.
 */
#include "net/net_internal.h"
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

int goc__net_kind(const char *network) {
    if (!network)
        return -1;
    if (!strcmp(network, "tcp"))
        return GOC__NET_TCP;
    if (!strcmp(network, "tcp4"))
        return GOC__NET_TCP4;
    if (!strcmp(network, "tcp6"))
        return GOC__NET_TCP6;
    if (!strcmp(network, "unix"))
        return GOC__NET_UNIX;
    return -1;
}

int goc__split_host_port(const char *addr, char *host, size_t hlen, char *port, size_t plen) {
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return EINVAL; /* missing port */
    const char *h = addr, *hend = colon;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close + 1 != colon)
            return EINVAL;
        h = addr + 1;
        hend = close;
    } else if (memchr(addr, ':', (size_t)(colon - addr))) {
        return EINVAL; /* too many colons: an IPv6 literal needs brackets */
    }
    size_t hl = (size_t)(hend - h), pl = strlen(colon + 1);
    if (hl >= hlen || pl >= plen || plen < 2)
        return EINVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
    if (pl == 0) /* as Go's parsePort: an empty port is port 0 */
        memcpy(port, "0", 2);
    else
        memcpy(port, colon + 1, pl + 1);
    return 0;
}

int goc__unix_addr(const char *path, struct sockaddr_storage *ss, socklen_t *len) {
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    size_t pl = path ? strlen(path) : 0;
    if (pl == 0)
        return EINVAL;
    if (pl >= sizeof un->sun_path)
        return EINVAL; /* as Go: a malformed address (too long for sun_path) */
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, pl);
    if (path[0] == '@') {
        /* Linux's abstract namespace: a leading NUL, and the length counts */
        un->sun_path[0] = 0;
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl + 1);
    }
    return 0;
}

static int eai_errno(int rc) {
    switch (rc) {
    case EAI_SYSTEM: return goc__errno_get() ? goc__errno_get() : EIO;
    case EAI_MEMORY: return ENOMEM;
    case EAI_AGAIN: return EAGAIN;
    case EAI_SERVICE:
    case EAI_BADFLAGS:
    case EAI_SOCKTYPE: return EINVAL;
    case EAI_FAMILY: return EAFNOSUPPORT;
    default: return EHOSTUNREACH; /* EAI_NONAME, EAI_NODATA, EAI_FAIL: no such host */
    }
}

int goc__resolve(int kind, const char *host, const char *port, bool passive, struct addrinfo **res) {
    struct addrinfo hints = {
        .ai_family = kind == GOC__NET_TCP4 ? AF_INET : kind == GOC__NET_TCP6 ? AF_INET6 : AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_protocol = IPPROTO_TCP,
        .ai_flags = passive ? AI_PASSIVE : 0,
    };
    /* A literal needs no resolver: say so, so getaddrinfo skips NSS. */
    unsigned char probe[sizeof(struct in6_addr)];
    if (host && (inet_pton(AF_INET, host, probe) == 1 || inet_pton(AF_INET6, host, probe) == 1))
        hints.ai_flags |= AI_NUMERICHOST;
    bool numeric = port[0] >= '0' && port[0] <= '9';
    /* As Go's parsePort, anything but digits is a service name, looked up
       as it is: getaddrinfo would also take " 80" or "80 " for port 80. */
    if (strspn(port, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") !=
        strlen(port))
        return EINVAL;
    if (numeric) {
        /* getaddrinfo takes 65537 as port 1: Go says "invalid port" */
        char *end;
        errno = 0;
        unsigned long v = strtoul(port, &end, 10);
        if (*end || errno || v > 65535)
            return EINVAL;
        hints.ai_flags |= AI_NUMERICSERV;
    }
    const char *h = host && host[0] ? host : NULL;
    int rc;
    if ((hints.ai_flags & AI_NUMERICHOST) || (!h && numeric)) {
        rc = getaddrinfo(h, port, &hints, res); /* no I/O: not worth a blocking section */
    } else {
        goc_blocking_begin();
        rc = getaddrinfo(h, port, &hints, res);
        goc_blocking_end();
    }
    return rc == 0 ? 0 : eai_errno(rc);
}

int goc__format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t blen) {
    char ip[INET6_ADDRSTRLEN];
    int n;
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        n = snprintf(buf, blen, "%s:%u", ip, ntohs(in->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            /* As Go prints it: a dual-stack socket's IPv4 peer is an IPv4
               address ("127.0.0.1:80", not "[::ffff:127.0.0.1]:80"). */
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
            n = snprintf(buf, blen, "%s:%u", ip, ntohs(in6->sin6_port));
            break;
        }
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        if (in6->sin6_scope_id) {
            /* A link-local address carries its zone, as Go's "[fe80::1%eth0]:80":
               the interface's name, or its index if it has none. */
            char zone[IF_NAMESIZE];
            if (!if_indextoname(in6->sin6_scope_id, zone))
                snprintf(zone, sizeof zone, "%u", (unsigned)in6->sin6_scope_id);
            n = snprintf(buf, blen, "[%s%%%s]:%u", ip, zone, ntohs(in6->sin6_port));
        } else {
            n = snprintf(buf, blen, "[%s]:%u", ip, ntohs(in6->sin6_port));
        }
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t pl = len > off ? (size_t)len - off : 0;
        if (pl > 0 && un->sun_path[0] == 0) /* abstract: "@name" */
            n = snprintf(buf, blen, "@%.*s", (int)(pl - 1), un->sun_path + 1);
        else
            n = snprintf(buf, blen, "%.*s", (int)strnlen(un->sun_path, pl), un->sun_path);
        break;
    }
    default:
        return EAFNOSUPPORT;
    }
    return n < 0 || (size_t)n >= blen ? ENOSPC : 0;
}
