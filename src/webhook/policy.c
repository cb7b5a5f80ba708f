/*
 * Webhook policy that needs no network: which URLs set_webhook accepts
 * (docs/API.md §4, set_webhook) and which addresses a callback may connect to (the SSRF
 * guard).  Both are pure functions so the tables can be tested exhaustively
 * with plain values; check.c applies webhook_addr_allowed() in libcurl's
 * open-socket callback, to the address actually being connected to.
 *
 * The address rules are written as data (prefix tables) rather than as a
 * chain of ifs, so a reviewer can compare them line by line with the RFCs.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/url.h"
#include "vcp/status.h"
#include "webhook/webhook.h"

#define URL_MAX 2000 /* Viber's documented limit for URLs (ASCII: bytes = characters) */

/* An IPv4 prefix, host byte order. */
struct v4_net {
    uint32_t net;
    int bits;
};

/* IPv4 ranges a callback never goes to unless allow_private. */
static const struct v4_net v4_refused[] = {
    {0x00000000, 8},  /* 0.0.0.0/8 "this network", incl. unspecified */
    {0x0a000000, 8},  /* 10.0.0.0/8 private (RFC 1918) */
    {0x64400000, 10}, /* 100.64.0.0/10 carrier-grade NAT (RFC 6598) */
    {0x7f000000, 8},  /* 127.0.0.0/8 loopback */
    {0xa9fe0000, 16}, /* 169.254.0.0/16 link-local (cloud metadata lives here) */
    {0xac100000, 12}, /* 172.16.0.0/12 private (RFC 1918) */
    {0xc0000000, 24}, /* 192.0.0.0/24 IETF protocol assignments */
    {0xc0a80000, 16}, /* 192.168.0.0/16 private (RFC 1918) */
    {0xc6120000, 15}, /* 198.18.0.0/15 benchmarking */
    {0xe0000000, 4},  /* 224.0.0.0/4 multicast */
    {0xf0000000, 4},  /* 240.0.0.0/4 reserved, incl. 255.255.255.255 broadcast */
};

/* An IPv6 prefix; only the first (bits + 7) / 8 bytes of addr matter. */
struct v6_net {
    uint8_t addr[16];
    int bits;
};

/* IPv6 ranges refused outright (those embedding IPv4 are handled apart). */
static const struct v6_net v6_refused[] = {
    {{0xfc, 0x00}, 7},  /* fc00::/7 unique local */
    {{0xfe, 0x80}, 10}, /* fe80::/10 link-local */
    {{0xfe, 0xc0}, 10}, /* fec0::/10 site-local (deprecated, still private) */
    {{0xff, 0x00}, 8},  /* ff00::/8 multicast */
};

/* IPv6 ranges that carry an IPv4 address in their last 32 bits: the
 * embedded address decides, so ::ffff:127.0.0.1 is loopback too. */
static const struct v6_net v6_embeds_v4_tail[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96}, /* ::ffff:0:0/96 IPv4-mapped */
    {{0}, 96},                                        /* ::/96 IPv4-compatible, :: and ::1 */
    {{0x00, 0x64, 0xff, 0x9b}, 96},                   /* 64:ff9b::/96 NAT64 */
};

static bool v6_in(const uint8_t a[16], const struct v6_net *n)
{
    int full = n->bits / 8, rest = n->bits % 8;

    if (memcmp(a, n->addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (n->addr[full] & mask);
}

static bool v4_allowed(uint32_t a)
{
    for (size_t i = 0; i < sizeof v4_refused / sizeof v4_refused[0]; i++) {
        uint32_t mask = 0xffffffffu << (32 - v4_refused[i].bits);
        if ((a & mask) == v4_refused[i].net)
            return false;
    }
    return true;
}

static uint32_t v4_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static bool v6_allowed(const uint8_t a[16])
{
    for (size_t i = 0; i < sizeof v6_refused / sizeof v6_refused[0]; i++)
        if (v6_in(a, &v6_refused[i]))
            return false;
    for (size_t i = 0; i < sizeof v6_embeds_v4_tail / sizeof v6_embeds_v4_tail[0]; i++)
        if (v6_in(a, &v6_embeds_v4_tail[i]))
            return v4_allowed(v4_at(a + 12));
    /* 2002::/16 6to4: the IPv4 address of the relay is in bytes 2..5. */
    if (a[0] == 0x20 && a[1] == 0x02)
        return v4_allowed(v4_at(a + 2));
    return true;
}

bool webhook_addr_allowed(const struct sockaddr *sa, bool allow_private)
{
    if (sa == NULL)
        return false;
    /* Copy out with memcpy: sa may point into a buffer that is only
     * sockaddr-aligned, and the family-specific structs are larger. */
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        uint8_t b[4];
        memcpy(b, &in.sin_addr, 4);
        return allow_private || v4_allowed(v4_at(b));
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        uint8_t b[16];
        memcpy(b, &in6.sin6_addr, 16);
        return allow_private || v6_allowed(b);
    }
    return false; /* not an IP address (AF_UNIX, ...): never a webhook */
}

static int refuse(char *detail, size_t detail_len, const char *why)
{
    if (detail != NULL && detail_len > 0)
        snprintf(detail, detail_len, "url: %s", why);
    return VCP_STATUS_INVALID_URL;
}

int webhook_url_check(const char *url, bool allow_http, char *detail, size_t detail_len)
{
    struct url_parts u;

    if (detail != NULL && detail_len > 0)
        detail[0] = '\0';
    if (url == NULL)
        return refuse(detail, detail_len, "not an absolute http(s) URL");
    /* Parsed before its length is judged: url_parse refuses every byte
     * >= 0x80, so a URL it takes has as many characters as bytes, and
     * "longer than 2000 characters" is never said of 1000 two-byte ones. */
    size_t len = strlen(url);
    if (url_parse(url, len, &u) != 0)
        return refuse(detail, detail_len, "not an absolute http(s) URL");
    if (len > URL_MAX)
        return refuse(detail, detail_len, "longer than 2000 characters");
    if (!u.https && !allow_http)
        return refuse(detail, detail_len, "must use https");
    return VCP_STATUS_OK;
}
