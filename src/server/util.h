/*
 * Allocation for vcpd: the server aborts on out-of-memory (as redis and h2o
 * do) rather than threading an error no client could act on through every
 * path.  Also the log line and the number parser `vcpd serve` and the
 * offline admin commands share.  The client library never uses these.
 */
#ifndef VCP_SERVER_UTIL_H
#define VCP_SERVER_UTIL_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Logs a line to stderr with a timestamp: "vcpd: <level>: ...". */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Decimal 0..max, the whole string (no sign, no spaces); 0 or -1. */
int parse_uint(const char *s, unsigned long max, unsigned long *out);

#endif
