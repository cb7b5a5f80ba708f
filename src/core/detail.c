/*
 * Failure details (see detail.h).  A detail is written for every refused
 * request, and glibc's vsnprintf costs ~3,000 instructions for one (issue
 * 11: 10% of a refused post).  The details' formats use only a few plain
 * conversions, so those are written here directly; a format with anything
 * else (a flag, a width, another type) goes to vsnprintf whole, which is
 * decided before any argument is read.  Output is byte for byte
 * vsnprintf's, truncation included (tests/unit/core/test_detail.c).
 */
#include "core/detail.h"

#include "core/encode.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Whether every conversion in fmt is one plain() writes: %s %.*s %d %ld
 * %lld %u %lu %llu %zu %%. */
static bool plain_format(const char *fmt)
{
    for (const char *p = fmt; (p = strchr(p, '%')) != NULL;) {
        p++;
        if (*p == '%' || *p == 's' || *p == 'd' || *p == 'u') {
            p++;
        } else if (p[0] == '.' && p[1] == '*' && p[2] == 's') {
            p += 3;
        } else if (p[0] == 'z' && p[1] == 'u') {
            p += 2;
        } else if (p[0] == 'l' && (p[1] == 'd' || p[1] == 'u')) {
            p += 2;
        } else if (p[0] == 'l' && p[1] == 'l' && (p[2] == 'd' || p[2] == 'u')) {
            p += 3;
        } else {
            return false;
        }
    }
    return true;
}

/* Where plain() writes: at most len - 1 bytes, then a NUL (len > 0). */
struct out {
    char *buf;
    size_t len, at;
};

static void put(struct out *o, const char *s, size_t n)
{
    size_t room = o->len - 1 - o->at;

    if (n > room)
        n = room;
    memcpy(o->buf + o->at, s, n);
    o->at += n;
}

static void put_num(struct out *o, unsigned long long v, bool neg)
{
    char tmp[ENCODE_DEC_MAX];
    char *p = encode_dec(tmp, v);

    if (neg)
        put(o, "-", 1);
    put(o, p, (size_t)(tmp + sizeof tmp - p));
}

static void put_signed(struct out *o, long long v)
{
    /* -(v + 1) + 1 in unsigned: LLONG_MIN too */
    put_num(o, v < 0 ? (unsigned long long)(-(v + 1)) + 1 : (unsigned long long)v, v < 0);
}

/* vsnprintf for a format plain_format took. */
static void plain(struct out *o, const char *fmt, va_list ap)
{
    const char *p = fmt, *q, *s;
    int prec;

    while ((q = strchr(p, '%')) != NULL) {
        put(o, p, (size_t)(q - p));
        q++;
        switch (*q) {
        case '%':
            put(o, "%", 1);
            break;
        case 's':
            s = va_arg(ap, const char *);
            s = s ? s : "(null)";
            put(o, s, strlen(s));
            break;
        case '.': /* %.*s */
            prec = va_arg(ap, int);
            s = va_arg(ap, const char *);
            if (!s) /* glibc: "(null)" only where all six bytes fit the precision */
                s = prec < 0 || prec >= 6 ? "(null)" : "";
            put(o, s, prec < 0 ? strlen(s) : strnlen(s, (size_t)prec));
            q += 2;
            break;
        case 'd':
            put_signed(o, va_arg(ap, int));
            break;
        case 'u':
            put_num(o, va_arg(ap, unsigned), false);
            break;
        case 'z':
            put_num(o, va_arg(ap, size_t), false);
            q++;
            break;
        default: /* 'l' */
            if (q[1] == 'l') {
                q++;
                if (q[1] == 'd')
                    put_signed(o, va_arg(ap, long long));
                else
                    put_num(o, va_arg(ap, unsigned long long), false);
            } else if (q[1] == 'd') {
                put_signed(o, va_arg(ap, long));
            } else {
                put_num(o, va_arg(ap, unsigned long), false);
            }
            q++;
            break;
        }
        p = q + 1;
    }
    put(o, p, strlen(p));
    o->buf[o->at] = '\0';
}

int detail_set(char *buf, size_t len, int rc, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || len == 0)
        return rc;
    va_start(ap, fmt);
    if (plain_format(fmt)) {
        struct out o = {buf, len, 0};
        plain(&o, fmt, ap);
    } else {
        vsnprintf(buf, len, fmt, ap);
    }
    va_end(ap);
    return rc;
}
