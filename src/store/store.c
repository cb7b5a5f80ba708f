/*
 * Backend selection for the store interface (store.h).
 *
 * A DSN names its backend by its scheme, so vcpd and the admin CLI take one
 * --db string (or VCPD_DB): "postgres://..." or "postgresql://..." for
 * PostgreSQL (not built yet), "sqlite:PATH" or a bare path for SQLite.  Messages written here
 * never repeat the DSN, because a PostgreSQL DSN may carry a password.
 */
#include "store/store.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

const struct store_ops *store_backend(const char *dsn)
{
    if (!dsn || !*dsn)
        return NULL;
    if (starts(dsn, "sqlite:"))
        return dsn[7] ? &store_sqlite_ops : NULL;
    if (has_scheme(dsn))
        return NULL; /* postgres://, postgresql://: no backend yet */
    return &store_sqlite_ops;
}

int store_open(const char *dsn, struct store **out, char *err, size_t err_len)
{
    const struct store_ops *ops = store_backend(dsn);

    *out = NULL;
    if (!ops) {
        if (dsn && (starts(dsn, "postgres://") || starts(dsn, "postgresql://")))
            snprintf(err, err_len, "store: the PostgreSQL backend is not built in");
        else
            snprintf(err, err_len, "store: unknown DSN (want sqlite:PATH or a file path)");
        return STORE_ERROR;
    }
    return ops->open(dsn, out, err, err_len);
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
