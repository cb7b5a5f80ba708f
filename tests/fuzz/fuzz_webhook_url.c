/*
 * Fuzz target "webhook_url": the webhook URL policy and the SSRF guard.
 *
 * Input: byte 0 holds flags (bit 0 allow_http, bit 1 allow_private), the
 * rest is a URL and, read again as raw bytes, socket addresses.
 *   - url_parse on the raw bytes (not NUL-terminated: an exact-size copy, so
 *     ASan catches a read past the end): the pieces it returns lie inside the
 *     string, in order, the port is -1 or 1..65535, the host is not empty and
 *     holds none of "/?#@";
 *   - webhook_url_check on the NUL-terminated string agrees with url_parse,
 *     the 2000-byte limit and the https rule, and its detail starts "url: ";
 *   - webhook_addr_allowed on arbitrary sockaddr bytes (any family), and on
 *     an IPv4 and an IPv6 address built from the input, checked against a
 *     reference written independently of policy.c's tables: loopback,
 *     RFC 1918, CGNAT, link-local, multicast, reserved, unspecified and their
 *     IPv4-mapped/-compatible/NAT64/6to4 forms are refused, unless
 *     allow_private; other families are always refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/url.h"
#include "fuzz.h"
#include "vcp/status.h"
#include "webhook/webhook.h"

/* The reference: is this IPv4 address (host order) one a callback may reach? */
static bool ref_v4_public(uint32_t a)
{
    unsigned o1 = a >> 24, o2 = (a >> 16) & 0xff, o3 = (a >> 8) & 0xff;

    if (o1 == 0 || o1 == 10 || o1 == 127 || o1 >= 224)
        return false;
    if (o1 == 100 && o2 >= 64 && o2 <= 127)
        return false;
    if (o1 == 169 && o2 == 254)
        return false;
    if (o1 == 172 && o2 >= 16 && o2 <= 31)
        return false;
    if (o1 == 192 && o2 == 0 && o3 == 0)
        return false;
    if (o1 == 192 && o2 == 168)
        return false;
    if (o1 == 198 && (o2 == 18 || o2 == 19))
        return false;
    return true;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static bool ref_v6_public(const uint8_t a[16])
{
    if (a[0] == 0xfc || a[0] == 0xfd || a[0] == 0xff)
        return false; /* unique local, multicast */
    if (a[0] == 0xfe && (a[1] & 0xc0) >= 0x80)
        return false; /* fe80::/10 link-local, fec0::/10 site-local */
    if (all_zero(a, 10) && a[10] == 0xff && a[11] == 0xff)
        return ref_v4_public(be32(a + 12)); /* ::ffff:a.b.c.d */
    if (all_zero(a, 12))
        return ref_v4_public(be32(a + 12)); /* ::a.b.c.d, ::, ::1 */
    if (a[0] == 0 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && all_zero(a + 4, 8))
        return ref_v4_public(be32(a + 12)); /* 64:ff9b::/96 NAT64 */
    if (a[0] == 0x20 && a[1] == 0x02)
        return ref_v4_public(be32(a + 2)); /* 2002::/16 6to4 */
    return true;
}

static void check_addrs(const uint8_t *data, size_t size, bool allow_private)
{
    struct sockaddr_storage ss;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    uint8_t b[16] = {0};

    /* arbitrary bytes, arbitrary family */
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, data, size < sizeof ss ? size : sizeof ss);
    bool ok = webhook_addr_allowed((struct sockaddr *)&ss, allow_private);
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
        CHECK(!ok);
    CHECK(!webhook_addr_allowed(NULL, allow_private));

    memcpy(b, data, size < sizeof b ? size : sizeof b);
    memset(&in4, 0, sizeof in4);
    in4.sin_family = AF_INET;
    memcpy(&in4.sin_addr, b, 4);
    ok = webhook_addr_allowed((struct sockaddr *)&in4, allow_private);
    CHECK(ok == (allow_private || ref_v4_public(be32(b))));

    memset(&in6, 0, sizeof in6);
    in6.sin6_family = AF_INET6;
    memcpy(&in6.sin6_addr, b, 16);
    ok = webhook_addr_allowed((struct sockaddr *)&in6, allow_private);
    if (ok != (allow_private || ref_v6_public(b))) {
        char text[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, b, text, sizeof text);
        fprintf(stderr, "policy and reference disagree on %s: policy says %d\n", text, ok);
    }
    CHECK(ok == (allow_private || ref_v6_public(b)));

    /* the same IPv4 address, mapped into IPv6, is judged the same */
    memset(&in6.sin6_addr, 0, 16);
    in6.sin6_addr.s6_addr[10] = 0xff;
    in6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6.sin6_addr.s6_addr[12], b, 4);
    CHECK(webhook_addr_allowed((struct sockaddr *)&in6, allow_private) ==
          webhook_addr_allowed((struct sockaddr *)&in4, allow_private));
}

static void check_parts(const char *s, size_t len, const struct url_parts *u)
{
    CHECK(u->host_len > 0);
    CHECK(u->host_off < len && u->host_off + u->host_len <= len);
    CHECK(u->port == -1 || (u->port >= 1 && u->port <= 65535));
    CHECK(u->path_off >= u->host_off + u->host_len);
    CHECK(u->path_off <= len && u->path_off + u->path_len <= len);
    for (size_t i = 0; i < u->host_len; i++) {
        char c = s[u->host_off + i];
        CHECK(c != '/' && c != '?' && c != '#' && c != '@' && c != ' ');
    }
    for (size_t i = 0; i < u->path_len; i++) {
        char c = s[u->path_off + i];
        CHECK(c != '?' && c != '#');
    }
    CHECK(u->path_len == 0 || s[u->path_off] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct url_parts u;
    char detail[256];
    bool allow_http, allow_private;
    size_t n;
    int status;

    if (size < 1)
        return 0;
    allow_http = data[0] & 1;
    allow_private = data[0] & 2;
    data++;
    size--;

    check_addrs(data, size, allow_private);

    /* url_parse on the exact bytes (need not be NUL-terminated) */
    char *raw = malloc(size ? size : 1);
    CHECK(raw != NULL);
    memcpy(raw, data, size);
    memset(&u, 0, sizeof u);
    if (url_parse(raw, size, &u) == 0) {
        check_parts(raw, size, &u);
        /* a scheme-relative path test must not read outside either */
        (void)url_path_has_ext(raw, &u, ".jpg");
    }
    free(raw);

    /* webhook_url_check on the C string (stops at the first NUL) */
    char *s = malloc(size + 1);
    CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    n = strlen(s);
    memset(detail, 'x', sizeof detail);
    status = webhook_url_check(s, allow_http, detail, sizeof detail);
    CHECK(memchr(detail, '\0', sizeof detail) != NULL);
    memset(&u, 0, sizeof u);
    int parsed = url_parse(s, n, &u);
    if (status == VCP_STATUS_OK) {
        CHECK(detail[0] == '\0');
        CHECK(n <= 2000);
        CHECK(parsed == 0);
        CHECK(u.https || allow_http);
    } else {
        CHECK(status == VCP_STATUS_INVALID_URL);
        CHECK(strncmp(detail, "url: ", 5) == 0);
        CHECK(n > 2000 || parsed != 0 || (!u.https && !allow_http));
    }
    /* a tiny detail buffer is never overrun */
    char small[4];
    (void)webhook_url_check(s, allow_http, small, sizeof small);
    CHECK(memchr(small, '\0', sizeof small) != NULL);
    (void)webhook_url_check(s, allow_http, NULL, 0);
    free(s);
    return 0;
}
