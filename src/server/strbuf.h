/*
 * A string builder with JSON helpers: vcpd's answers, event-stream frames,
 * its /metrics text and raw HTTP heads are appended to a growing buffer,
 * JSON strings escaped (encode.h).  Building answers this way costs a
 * fraction of building a json-c tree and serialising it, and answers are
 * on every request's path.
 */
#ifndef VCP_SERVER_STRBUF_H
#define VCP_SERVER_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
    char *buf; /* NUL-terminated text; heap unless it is still inline */
    size_t len;
    size_t cap;
    bool obj_empty; /* strbuf_open was the last write: the next key needs no comma */
    char inline_buf[512];
};

void strbuf_init(struct strbuf *w);
void strbuf_free(struct strbuf *w);
/* Raw text (no escaping); what follows it is not the first member of an object. */
void strbuf_raw(struct strbuf *w, const char *s, size_t n);
/* s must be a string literal ("" s makes anything else a compile error). */
#define strbuf_lit(w, s) strbuf_raw((w), "" s, sizeof(s) - 1)
/* A JSON string literal: quotes and escapes s (n bytes). */
void strbuf_str(struct strbuf *w, const char *s, size_t n);
/* Opens a JSON object ("{"): its first key goes without a comma. */
void strbuf_open(struct strbuf *w);
/* "key":value members, with a comma before all but an object's first;
 * key is trusted, value escaped. */
void strbuf_kv_str(struct strbuf *w, const char *key, const char *value);
void strbuf_kv_int(struct strbuf *w, const char *key, int64_t v);
void strbuf_kv_uint(struct strbuf *w, const char *key, uint64_t v);

#endif
