/*
 * URL checks shared by message validation (media, thumbnail) and the webhook
 * URL policy.  Only absolute http(s) URLs are accepted; the parser splits
 * without allocating so callers can look at the pieces they care about.
 */
#ifndef VCP_CORE_URL_H
#define VCP_CORE_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Offsets into the parsed string; a piece that is absent has len 0. */
struct url_parts {
    bool https;      /* scheme is https (else http) */
    size_t host_off; /* host without brackets for IPv6 literals */
    size_t host_len;
    int port;        /* explicit port, or -1 */
    size_t path_off; /* path without query and fragment ("" allowed) */
    size_t path_len;
};

/*
 * Parses s (len bytes) as an absolute http:// or https:// URL (scheme in any
 * case).  Rejects: other schemes, an empty host, a bad port (not 1..65535),
 * spaces, control characters and bytes >= 0x80 (URLs on the wire must be
 * percent-encoded).  Returns 0 and fills out, or -1.
 *
 * Stricter than RFC 3986 on purpose: userinfo ("http://user@host/") is
 * refused (a phishing vector: "https://bank.com@evil.example/"; no media or
 * webhook URL needs it); hosts are reg-names, IPv4 or bracketed IPv6 literals
 * (no IPvFuture, no zone ids); every byte must be RFC 3986 unreserved or
 * reserved or a '%' followed by two hex digits, so "<>\^`{|} and a bad
 * escape ("%zz") are refused.  No length limit: callers apply theirs.
 * Nothing is allocated; s need not be NUL-terminated.
 */
int url_parse(const char *s, size_t len, struct url_parts *out);

/* True when the path of the parsed URL ends in ext (case-insensitive, e.g. ".jpg"). */
bool url_path_has_ext(const char *s, const struct url_parts *u, const char *ext);

/*
 * Percent-decodes s (n bytes) into out (cap bytes, NUL-terminated): 0, or
 * -1 for a malformed escape, a result that does not fit, or one with a NUL.
 */
int url_pct_decode(const char *s, size_t n, char *out, size_t cap);

#endif
