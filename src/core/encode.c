/* JSON string escaping and hex (see encode.h). */
#include "core/encode.h"

#include <stdint.h>

static const char digits[] = "0123456789abcdef";

size_t encode_json_chars(char *out, const char *s, size_t n)
{
    /* the characters JSON names: index by byte, 0 = not named */
    static const char named[0x20] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    char *o = out;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c >= 0x20) {
            *o++ = (char)c;
        } else if (named[c]) {
            *o++ = '\\';
            *o++ = named[c];
        } else {
            *o++ = '\\';
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = digits[c >> 4];
            *o++ = digits[c & 15];
        }
    }
    return (size_t)(o - out);
}

void encode_hex(const void *in, size_t n, char *out)
{
    const uint8_t *b = in;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

char *encode_dec(char out[ENCODE_DEC_MAX], uint64_t v)
{
    char *p = out + ENCODE_DEC_MAX;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}
