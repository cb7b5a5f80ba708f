/*
 * A small, strict, allocation-free parser for absolute http(s) URLs, shared
 * by message validation (media, thumbnail) and the webhook URL policy.  It
 * follows RFC 3986's grammar for the pieces vcp cares about and is stricter
 * than the RFC where laxness only helps attackers:
 *
 *   - userinfo ("http://user:pass@host/") is refused: it is a phishing
 *     vector ("https://bank.com@evil.example/") and no media URL needs it;
 *   - only reg-names, IPv4 and bracketed IPv6 literals are hosts (no
 *     IPvFuture, no zone ids); the port, when given, is 1..65535;
 *   - every byte must be an RFC 3986 unreserved or reserved character, or a
 *     '%' followed by two hex digits: spaces, controls, bytes >= 0x80 and
 *     "<>\^`{|} are refused (on the wire a URL must be percent-encoded).
 */
#include "core/url.h"

#include <arpa/inet.h>
#include <string.h>

static bool is_alpha(unsigned c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

/* The value of a hex digit, or -1. */
static int hex_value(unsigned c)
{
    if (is_digit(c))
        return (int)(c - '0');
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (int)((c | 0x20) - 'a' + 10);
    return -1;
}

static bool is_hex(unsigned c)
{
    return hex_value(c) >= 0;
}

static bool is_unreserved(unsigned c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(unsigned c)
{
    return c != 0 && strchr("!$&'()*+,;=", (int)c) != NULL;
}

static bool is_gen_delim(unsigned c)
{
    return c != 0 && strchr(":/?#[]@", (int)c) != NULL;
}

/* Length of a valid percent escape at s[i] (3), or 0. */
static size_t pct_len(const char *s, size_t i, size_t len)
{
    if (i + 2 < len && is_hex((unsigned char)s[i + 1]) && is_hex((unsigned char)s[i + 2]))
        return 3;
    return 0;
}

/* Case-insensitive ASCII prefix test (locale-independent). */
static bool has_prefix(const char *s, size_t len, const char *lower)
{
    size_t n = strlen(lower);
    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c |= 0x20;
        if (c != (unsigned char)lower[i])
            return false;
    }
    return true;
}

/* An IPv6 literal (between the brackets): inet_pton is exact and pure. */
static bool ipv6_ok(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    unsigned char addr[16];

    if (len == 0 || len >= sizeof buf)
        return false;
    /* Only what an IPv6 literal is made of: inet_pton stops at a NUL and
     * would accept "[::1\0<anything>]" (found by fuzzing). */
    for (size_t i = 0; i < len; i++)
        if (!is_hex((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
            return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1;
}

int url_parse(const char *s, size_t len, struct url_parts *out)
{
    size_t i;
    struct url_parts u = {.port = -1};

    if (s == NULL || out == NULL)
        return -1;
    if (has_prefix(s, len, "https://")) {
        u.https = true;
        i = 8;
    } else if (has_prefix(s, len, "http://")) {
        i = 7;
    } else {
        return -1;
    }

    /* Authority: up to the first '/', '?', '#' or the end. */
    size_t auth = i;
    while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#')
        i++;
    size_t auth_end = i;

    size_t h = auth;
    if (h < auth_end && s[h] == '[') {
        const char *close = memchr(s + h, ']', auth_end - h);
        if (close == NULL)
            return -1;
        u.host_off = h + 1;
        u.host_len = (size_t)(close - s) - u.host_off;
        if (!ipv6_ok(s + u.host_off, u.host_len))
            return -1;
        h = (size_t)(close - s) + 1;
    } else {
        u.host_off = h;
        while (h < auth_end && s[h] != ':') {
            unsigned c = (unsigned char)s[h];
            size_t step = 1;
            if (c == '%') {
                step = pct_len(s, h, auth_end);
                if (step == 0)
                    return -1;
            } else if (!is_unreserved(c) && !is_sub_delim(c)) {
                return -1; /* '@' (userinfo), '[', ']', controls, spaces, >= 0x80 */
            }
            h += step;
        }
        u.host_len = h - u.host_off;
        if (u.host_len == 0)
            return -1;
    }
    if (h < auth_end) {
        if (s[h] != ':')
            return -1; /* junk after "]" */
        h++;
        if (h == auth_end || auth_end - h > 5)
            return -1;
        long port = 0;
        for (; h < auth_end; h++) {
            if (!is_digit((unsigned char)s[h]))
                return -1;
            port = port * 10 + (s[h] - '0');
        }
        if (port < 1 || port > 65535)
            return -1;
        u.port = (int)port;
    }

    /* Path, query and fragment: only RFC 3986 characters. */
    u.path_off = auth_end;
    bool in_path = true;
    while (i < len) {
        unsigned c = (unsigned char)s[i];
        if (c == '?' || c == '#')
            in_path = false;
        if (c == '%') {
            size_t step = pct_len(s, i, len);
            if (step == 0)
                return -1;
            i += step;
        } else if (is_unreserved(c) || is_sub_delim(c) || is_gen_delim(c)) {
            i++;
        } else {
            return -1;
        }
        if (in_path)
            u.path_len = i - u.path_off;
    }

    *out = u;
    return 0;
}

bool url_path_has_ext(const char *s, const struct url_parts *u, const char *ext)
{
    size_t n = strlen(ext);
    if (s == NULL || u == NULL || u->path_len < n)
        return false;
    const char *tail = s + u->path_off + u->path_len - n;
    for (size_t i = 0; i < n; i++) {
        unsigned a = (unsigned char)tail[i], b = (unsigned char)ext[i];
        if (a >= 'A' && a <= 'Z')
            a |= 0x20;
        if (b >= 'A' && b <= 'Z')
            b |= 0x20;
        if (a != b)
            return false;
    }
    return true;
}

int url_pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        if (c == '%') {
            if (pct_len(s, i, n) == 0)
                return -1;
            c = (unsigned)(hex_value((unsigned char)s[i + 1]) << 4 |
                           hex_value((unsigned char)s[i + 2]));
            i += 2;
        }
        if (c == 0 || k + 1 >= cap)
            return -1;
        out[k++] = (char)c;
    }
    if (cap == 0)
        return -1;
    out[k] = '\0';
    return 0;
}
