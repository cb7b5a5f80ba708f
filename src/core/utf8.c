/*
 * Strict UTF-8 code point counting (Unicode 15, table 3-7 "well-formed byte
 * sequences").  Message limits are counted in code points, and a body that is
 * not UTF-8 is badData, so the counter is also the validator: one pass does
 * both.  Text on the wire is mostly ASCII, so eight bytes at a time are
 * tested for the high bit before falling back to the byte-wise decoder.
 */
#include "core/utf8.h"

#include <stdint.h>
#include <string.h>

#define HIGH_BITS 0x8080808080808080ULL

size_t utf8_seq_len(const char *s, size_t avail)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];

    if (c < 0x80)
        return 1;
    /* Lead byte: how many continuation bytes follow, and the allowed
     * range of the first one (it is narrower where overlong forms,
     * surrogates or code points past U+10FFFF would otherwise start). */
    size_t more;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        more = 2;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        more = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0; /* 80..C1 (stray continuation, overlong 2-byte), F5..FF */
    }
    if (avail <= more)
        return 0; /* truncated */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k <= more; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    }
    return more + 1;
}

long utf8_count(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    long n = 0;

    while (p < end) {
        if (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, sizeof w); /* unaligned-safe; compiles to one load */
            if ((w & HIGH_BITS) == 0) {
                p += 8;
                n += 8;
                continue;
            }
        }
        if (*p < 0x80) {
            p++;
            n++;
            continue;
        }
        size_t k = utf8_seq_len((const char *)p, (size_t)(end - p));
        if (k == 0)
            return -1;
        p += k;
        n++;
    }
    return n;
}
