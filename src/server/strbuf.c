/* The JSON writer (see strbuf.h). */
#include "server/strbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encode.h"
#include "server/util.h"

void strbuf_init(struct strbuf *w)
{
    w->buf = w->inline_buf;
    w->len = 0;
    w->cap = sizeof w->inline_buf;
    w->obj_empty = true; /* nothing written: a key needs no comma */
    w->buf[0] = '\0';
}

void strbuf_free(struct strbuf *w)
{
    if (w->buf != w->inline_buf)
        free(w->buf);
    strbuf_init(w);
}

static void reserve(struct strbuf *w, size_t more)
{
    size_t want = w->len + more + 1;
    size_t cap = w->cap;

    if (want <= cap)
        return;
    while (cap < want)
        cap *= 2;
    if (w->buf == w->inline_buf) {
        char *p = xmalloc(cap);
        memcpy(p, w->buf, w->len + 1);
        w->buf = p;
    } else {
        w->buf = xrealloc(w->buf, cap);
    }
    w->cap = cap;
}

void strbuf_raw(struct strbuf *w, const char *s, size_t n)
{
    reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
    w->obj_empty = false;
}

void strbuf_open(struct strbuf *w)
{
    strbuf_lit(w, "{");
    w->obj_empty = true;
}

void strbuf_str(struct strbuf *w, const char *s, size_t n)
{
    reserve(w, n * ENCODE_JSON_MAX_PER_BYTE + 2);
    w->buf[w->len++] = '"';
    w->len += encode_json_chars(w->buf + w->len, s, n);
    w->buf[w->len++] = '"';
    w->buf[w->len] = '\0';
    w->obj_empty = false;
}

static void key(struct strbuf *w, const char *k)
{
    size_t n = strlen(k);

    reserve(w, n + 4);
    if (!w->obj_empty)
        w->buf[w->len++] = ',';
    w->obj_empty = false;
    w->buf[w->len++] = '"';
    memcpy(w->buf + w->len, k, n);
    w->len += n;
    w->buf[w->len++] = '"';
    w->buf[w->len++] = ':';
    w->buf[w->len] = '\0';
}

void strbuf_kv_str(struct strbuf *w, const char *k, const char *v)
{
    key(w, k);
    strbuf_str(w, v, strlen(v));
}

void strbuf_kv_int(struct strbuf *w, const char *k, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);

    key(w, k);
    strbuf_raw(w, num, (size_t)n);
}

/* Digits by hand (encode_dec): every post's answer carries a message_token,
 * and snprintf's "%" PRIu64 cost about 1,200 instructions of each
 * (bench/cost, docs/PERFORMANCE.md item 19). */
void strbuf_kv_uint(struct strbuf *w, const char *k, uint64_t v)
{
    char num[ENCODE_DEC_MAX];
    char *p = encode_dec(num, v);

    key(w, k);
    strbuf_raw(w, p, (size_t)(num + sizeof num - p));
}
