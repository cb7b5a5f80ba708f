/*
 * A small JSON writer for vcpd's answers: appends to a growing buffer with
 * correct string escaping.  Building answers this way costs a fraction of
 * building a json-c tree and serialising it, and answers are on every
 * request's path.
 */
#ifndef VCP_SERVER_JSONW_H
#define VCP_SERVER_JSONW_H

#include <stddef.h>
#include <stdint.h>

struct jsonw {
    char *buf; /* NUL-terminated text; heap unless it is still inline */
    size_t len;
    size_t cap;
    char inline_buf[512];
};

void jsonw_init(struct jsonw *w);
void jsonw_free(struct jsonw *w);
/* Raw text (no escaping). */
void jsonw_raw(struct jsonw *w, const char *s, size_t n);
/* s must be a string literal ("" s makes anything else a compile error). */
#define jsonw_lit(w, s) jsonw_raw((w), "" s, sizeof(s) - 1)
/* A JSON string literal: quotes and escapes s (n bytes). */
void jsonw_str(struct jsonw *w, const char *s, size_t n);
/* ,"key":"value" style helpers; key is trusted, value escaped. */
void jsonw_kv_str(struct jsonw *w, const char *key, const char *value);
void jsonw_kv_int(struct jsonw *w, const char *key, int64_t v);
void jsonw_kv_uint(struct jsonw *w, const char *key, uint64_t v);

#endif
