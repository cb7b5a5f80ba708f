/*
 * The store test fixture (fixture.h): DSN choice, temporary files and
 * run-unique ids.
 */
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static char tmpdir[256];
static unsigned files;
static pthread_mutex_t uniq_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t uniq_next;

int64_t fx_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *fx_dir(void)
{
    return tmpdir;
}

int fx_group_setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/vcp-store-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp %s failed\n", tmpdir);
        return -1;
    }
    return 0;
}

int fx_group_teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[1024];

    (void)state;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(tmpdir);
    tmpdir[0] = '\0';
    return 0;
}

/*
 * A new database in the PostgreSQL cluster that admin (a DSN of its
 * maintenance database) reaches; its DSN goes to dsn.  Returns 0 or -1.
 */
static int pg_fresh_db(const char *admin, char *dsn, size_t len)
{
    char name[64], sql[128];
    PGconn *c = PQconnectdb(admin);
    PGresult *r;
    int ok;

    snprintf(name, sizeof name, "c_%ld_%u", (long)getpid(), files++);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    /* later keywords win: the admin DSN with another dbname */
    snprintf(dsn, len, "%s dbname=%s", admin, name);
    return ok ? 0 : -1;
}

void fx_dsn(struct fx *f)
{
    const char *env = getenv("VCP_TEST_STORE_DSN");
    const char *pg = getenv("VCP_TEST_PG_DSN");

    if (pg && *pg) {
        /* a database of this test alone, as fresh as a new SQLite file */
        f->fresh = pg_fresh_db(pg, f->dsn, sizeof f->dsn) == 0;
        f->path[0] = '\0';
    } else if (env && *env) {
        snprintf(f->dsn, sizeof f->dsn, "%s", env);
        f->fresh = 0;
        f->path[0] = '\0';
    } else {
        snprintf(f->path, sizeof f->path, "%s/t%03u.db", tmpdir, files++);
        snprintf(f->dsn, sizeof f->dsn, "sqlite:%s", f->path);
        f->fresh = 1;
    }
    f->ops = store_backend(f->dsn);
}

int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];

    if (!f)
        return -1;
    fx_dsn(f);
    if (!f->ops) {
        fprintf(stderr, "no store backend for the test DSN\n");
        free(f);
        return -1;
    }
    if (f->ops->open(f->dsn, &f->s, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "open: %s\n", err);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int fx_teardown(void **state)
{
    struct fx *f = *state;

    if (f) {
        store_close(f->s);
        free(f);
    }
    return 0;
}

uint64_t fx_unique(void)
{
    uint64_t u;

    pthread_mutex_lock(&uniq_mu);
    if (uniq_next == 0)
        uniq_next = (uint64_t)fx_now_ms() << 20; /* ~2^60 today; a run uses < 2^20 per ms */
    u = uniq_next++;
    pthread_mutex_unlock(&uniq_mu);
    return u;
}

uint64_t fx_tokens(uint64_t n)
{
    uint64_t first = fx_unique();

    pthread_mutex_lock(&uniq_mu);
    uniq_next += n - 1;
    pthread_mutex_unlock(&uniq_mu);
    return first;
}

void fx_hash(uint8_t out[STORE_HASH_LEN], uint64_t u)
{
    for (int i = 0; i < STORE_HASH_LEN; i++)
        out[i] = (uint8_t)(u >> (8 * (i % 8))) ^ (uint8_t)(0x5a + i);
}

void fx_channel(struct channel *c, uint64_t u, uint8_t hash_out[STORE_HASH_LEN])
{
    memset(c, 0, sizeof *c);
    snprintf(c->pa_id, sizeof c->pa_id, "pa:%020llu", (unsigned long long)u);
    snprintf(c->name, sizeof c->name, "Channel %llu", (unsigned long long)u);
    snprintf(c->uri, sizeof c->uri, "chan%llu", (unsigned long long)u);
    snprintf(c->icon, sizeof c->icon, "https://example.com/i/%llu.jpg", (unsigned long long)u);
    snprintf(c->background, sizeof c->background, "https://example.com/b.jpg");
    snprintf(c->category, sizeof c->category, "News");
    snprintf(c->subcategory, sizeof c->subcategory, "Local");
    snprintf(c->country, sizeof c->country, "UA");
    c->lat = 50.4501;
    c->lon = -30.5234;
    c->state = CHANNEL_ACTIVE;
    c->rate_count = 500;
    c->rate_window_s = 10;
    fx_hash(hash_out, u);
}

int64_t fx_make_channel(struct store *s, struct channel *c_out, uint8_t hash_out[STORE_HASH_LEN])
{
    struct channel c;
    uint8_t h[STORE_HASH_LEN];

    fx_channel(&c, fx_unique(), h);
    assert_int_equal(store_channel_create(s, &c, h, NULL, 0), STORE_OK);
    assert_true(c.id > 0);
    if (c_out)
        *c_out = c;
    if (hash_out)
        memcpy(hash_out, h, STORE_HASH_LEN);
    return c.id;
}
