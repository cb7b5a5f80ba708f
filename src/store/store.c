/*
 * Backend selection for the store interface (store.h).
 *
 * A DSN names its backend by its scheme, so vcpd and the admin CLI take one
 * --db string (or VCPD_DB): "postgres://..." or "postgresql://..." or a key=value
 * DSN ("host=... dbname=...") for PostgreSQL, "sqlite:PATH" or a bare path for
 * SQLite.  Messages written here
 * never repeat the DSN, because a PostgreSQL DSN may carry a password.
 */
#include "store/pg_watch.h"
#include "store/store.h"

#include <ctype.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* True when s begins with prefix. */
static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* True when dsn begins with a URL scheme ("name://"), which a path does not. */
static int has_scheme(const char *dsn)
{
    const char *p = dsn;

    if (!isalpha((unsigned char)*p))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return starts(p, "://");
}

/*
 * True when dsn is a libpq key=value string: its first word is "keyword="
 * (letters and underscores), which a file path hardly is -- and a file so
 * named can still be given as sqlite:PATH.
 */
static int is_keyvalue(const char *dsn)
{
    const char *p = dsn;

    while (*p == ' ' || *p == '\t')
        p++;
    if (!islower((unsigned char)*p))
        return 0;
    while (islower((unsigned char)*p) || *p == '_')
        p++;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '=';
}

const struct store_ops *store_backend(const char *dsn)
{
    if (!dsn || !*dsn)
        return NULL;
    if (starts(dsn, "sqlite:"))
        return dsn[7] ? &store_sqlite_ops : NULL;
    if (starts(dsn, "postgres://") || starts(dsn, "postgresql://") || is_keyvalue(dsn))
        return &store_pg_ops;
    if (has_scheme(dsn))
        return NULL; /* some other scheme */
    return &store_sqlite_ops;
}

int store_open(const char *dsn, struct store **out, char *err, size_t err_len)
{
    const struct store_ops *ops = store_backend(dsn);

    *out = NULL;
    if (!ops) {
        snprintf(err, err_len,
                 "store: unknown DSN (want sqlite:PATH, a file path, postgresql://... or "
                 "key=value)");
        return STORE_ERROR;
    }
    return ops->open(dsn, out, err, err_len);
}

int store_watch_open(const char *dsn, int node, struct store_watch **out, char *err, size_t err_len)
{
    *out = NULL;
    /* only PostgreSQL has watches (pg_watch.c): one SQLite file is one server's */
    if (store_backend(dsn) != &store_pg_ops)
        return STORE_NOTFOUND;
    return pg_watch_open(dsn, node, out, err, err_len);
}

void store_watch_attach(struct store *s, struct store_watch *w)
{
    if (s->ops->watch_attach)
        s->ops->watch_attach(s, w);
}

/* One reading, under a mutex: published once per write transaction, read at most once per
 * freshness period of a reader (sqlite.c), so a seqlock would save nothing measurable. */
struct store_board {
    pthread_mutex_t mu;
    uint64_t version; /* 0: no reading yet */
    int64_t t_ns;     /* store_mono_ns() the reading holds for */
};

struct store_board *store_board_new(void)
{
    struct store_board *b = calloc(1, sizeof *b);

    if (b && pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        b = NULL;
    }
    return b;
}

void store_board_free(struct store_board *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void store_board_attach(struct store *s, struct store_board *b)
{
    if (s->ops->board_attach)
        s->ops->board_attach(s, b);
}

void store_board_publish(struct store_board *b, uint64_t version, int64_t t_ns)
{
    if (version == 0)
        return;
    pthread_mutex_lock(&b->mu);
    if (b->version == 0 || t_ns > b->t_ns) {
        b->version = version;
        b->t_ns = t_ns;
    }
    pthread_mutex_unlock(&b->mu);
}

uint64_t store_board_read(struct store_board *b, int64_t *t_ns)
{
    uint64_t v;

    pthread_mutex_lock(&b->mu);
    v = b->version;
    *t_ns = b->t_ns;
    pthread_mutex_unlock(&b->mu);
    return v;
}

void store_set_tokgen(struct store *s, struct tokgen *g)
{
    if (s->ops->set_tokgen)
        s->ops->set_tokgen(s, g);
}

/*
 * Copies the value at *p (key=value syntax: bare up to a space, or quoted
 * with '...' and backslash escapes) past, returning where it ends.
 */
static const char *skip_value(const char *p)
{
    if (*p != '\'')
        return p + strcspn(p, " \t");
    for (p++; *p && *p != '\''; p++)
        if (*p == '\\' && p[1])
            p++;
    return *p ? p + 1 : p;
}

/* Appends len bytes of s to buf (cap bytes, *at used), always terminated, truncating. */
static void put(char *buf, size_t cap, size_t *at, const char *s, size_t len)
{
    if (*at + 1 >= cap)
        return;
    if (len > cap - 1 - *at)
        len = cap - 1 - *at;
    memcpy(buf + *at, s, len);
    *at += len;
    buf[*at] = '\0';
}

const char *store_dsn_shown(const char *dsn)
{
    static __thread char buf[1024];
    const char *p = dsn;
    size_t at = 0;

    buf[0] = '\0';
    if (!dsn)
        return "";
    if (starts(dsn, "postgres://") || starts(dsn, "postgresql://")) {
        const char *auth = strstr(dsn, "://") + 3;
        const char *end = auth + strcspn(auth, "/?");
        const char *at_sign = NULL;

        for (const char *q = auth; q < end; q++)
            if (*q == '@')
                at_sign = q; /* the last one: a password may hold '@' */
        if (at_sign) {
            const char *colon = memchr(auth, ':', (size_t)(at_sign - auth));

            if (colon) {
                put(buf, sizeof buf, &at, dsn, (size_t)(colon + 1 - dsn));
                put(buf, sizeof buf, &at, "***", 3);
                p = at_sign;
            }
        }
        /* the query: "password=..." parameters up to the next '&' */
        const char *q = strchr(p, '?');

        if (q) {
            put(buf, sizeof buf, &at, p, (size_t)(q + 1 - p));
            p = q + 1;
            while (*p) {
                size_t len = strcspn(p, "&");

                if (starts(p, "password="))
                    put(buf, sizeof buf, &at, "password=***", 12);
                else
                    put(buf, sizeof buf, &at, p, len);
                p += len;
                if (*p == '&')
                    put(buf, sizeof buf, &at, p++, 1);
            }
        }
        put(buf, sizeof buf, &at, p, strlen(p));
        return buf;
    }
    if (store_backend(dsn) != &store_pg_ops)
        return dsn; /* a file path: nothing secret */
    /* key=value: each "password = value" becomes "password=***" */
    while (*p) {
        const char *word = p + strspn(p, " \t");
        size_t wlen = strspn(word, "abcdefghijklmnopqrstuvwxyz_");
        const char *eq = word + wlen + strspn(word + wlen, " \t");
        const char *val, *end;

        if (*eq != '=') { /* not key=value from here on: copy the rest */
            put(buf, sizeof buf, &at, p, strlen(p));
            break;
        }
        val = eq + 1 + strspn(eq + 1, " \t");
        end = skip_value(val);
        if (wlen == 8 && strncmp(word, "password", 8) == 0) {
            put(buf, sizeof buf, &at, p, (size_t)(word - p));
            put(buf, sizeof buf, &at, "password=***", 12);
        } else {
            put(buf, sizeof buf, &at, p, (size_t)(end - p));
        }
        p = end;
    }
    return buf;
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

/* Frees n rows of size bytes at rows and the one string each owns at offset field. */
static void free_rows(void *rows, size_t n, size_t size, size_t field)
{
    char *r = rows;

    if (!r)
        return;
    for (size_t i = 0; i < n; i++) {
        void *owned;
        memcpy(&owned, r + i * size + field, sizeof owned);
        free(owned);
    }
    free(rows);
}

void store_posts_free(struct post *p, size_t n)
{
    free_rows(p, n, sizeof *p, offsetof(struct post, json));
}

void store_faults_free(struct fault_row *f, size_t n)
{
    free_rows(f, n, sizeof *f, offsetof(struct fault_row, spec));
}

void store_journal_free(struct journal_row *j, size_t n)
{
    free_rows(j, n, sizeof *j, offsetof(struct journal_row, body));
}

const char *store_post_malformed(const struct post *p)
{
    if (!p->json)
        return "no body";
    if (p->token == 0 || p->token > (uint64_t)INT64_MAX)
        return "message token out of range 1..2^63-1";
    return NULL;
}

int64_t store_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t store_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
