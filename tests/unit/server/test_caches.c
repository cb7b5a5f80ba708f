/*
 * The token and channel caches (tokcache.c, chancache.c) hold a server's
 * working set: with CHANNELS channels in use -- bench/run's growth row posts
 * to 10,000 in rotation -- each is still a hit the next time around, so a
 * post costs no SHA-256 and no store read whatever the number of channels.
 * The channels are written straight into the SQLite file in one
 * transaction (store_channel_create would commit, and sync, each).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "server/auth.h"
#include "server/chancache.h"
#include "server/tokcache.h"
#include "store/store.h"

#define CHANNELS 10000

struct fx {
    char dir[64];
    char path[128];
    struct store *s;
};

static void token_of(int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "token-%05d", i);
}

/* CHANNELS channels (and a superadmin each), token i is token_of(i). */
static int fill(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *ch = NULL, *mb = NULL;
    int rc = -1;

    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA synchronous = OFF; BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO channels (pa_id, token_hash, name, uri, icon, background,"
                           " category, subcategory, country, lat, lon, webhook, state, rate_count,"
                           " rate_window_s, created_ms, epoch) VALUES (?1, ?2, 'c', 'c', '', '',"
                           " '', '', '', 0, 0, '', 0, 0, 1, 0, 1)",
                           -1, &ch, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO members (channel, member_id, name, avatar, role)"
                           " VALUES (last_insert_rowid(), 'admin', 'A', '', 0)",
                           -1, &mb, NULL) != SQLITE_OK)
        goto out;
    for (int i = 0; i < CHANNELS; i++) {
        char tok[32], pa[32];
        uint8_t hash[STORE_HASH_LEN];

        token_of(i, tok, sizeof tok);
        auth_token_hash(tok, strlen(tok), hash);
        snprintf(pa, sizeof pa, "pa:%020d", i);
        sqlite3_bind_text(ch, 1, pa, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(ch, 2, hash, STORE_HASH_LEN, SQLITE_TRANSIENT);
        if (sqlite3_step(ch) != SQLITE_DONE || sqlite3_step(mb) != SQLITE_DONE)
            goto out;
        sqlite3_reset(ch);
        sqlite3_reset(mb);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "fill: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(ch);
    sqlite3_finalize(mb);
    sqlite3_close(db);
    return rc;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];

    snprintf(f->dir, sizeof f->dir, "/tmp/vcp-caches-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    /* the first open makes the schema; the channels go in behind the store's back */
    if (store_open(f->path, &f->s, err, sizeof err) != STORE_OK)
        return -1;
    store_close(f->s);
    if (fill(f->path) != 0 || store_open(f->path, &f->s, err, sizeof err) != STORE_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[160];

    store_close(f->s);
    unlink(f->path);
    snprintf(p, sizeof p, "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", f->path);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Every channel looked up once by token, then the first again: still cached. */
static void test_tokcache_holds_many_channels(void **state)
{
    struct fx *f = *state;
    struct tokcache *t = tokcache_new();
    struct chancache *c = chancache_new();
    struct auth_hasher *h = auth_hasher_new();
    struct chan_entry *first = NULL, *e;
    char tok[32];

    assert_non_null(h);
    for (int i = 0; i < CHANNELS; i++) {
        token_of(i, tok, sizeof tok);
        assert_int_equal(tokcache_get(t, c, f->s, h, tok, strlen(tok), &e), STORE_OK);
        if (i == 0)
            first = e; /* our reference keeps it alive whatever the caches do */
        else
            chancache_put(e);
    }
    token_of(0, tok, sizeof tok);
    assert_int_equal(tokcache_get(t, c, f->s, h, tok, strlen(tok), &e), STORE_OK);
    /* a miss would have read the channel into a new entry */
    assert_ptr_equal(e, first);
    chancache_put(e);
    chancache_put(first);
    auth_hasher_free(h);
    tokcache_free(t);
    chancache_free(c);
}

/* The same through the channel cache alone (the token cache's misses go there). */
static void test_chancache_holds_many_channels(void **state)
{
    struct fx *f = *state;
    struct chancache *c = chancache_new();
    struct chan_entry *first = NULL, *e;
    uint8_t hash[STORE_HASH_LEN];
    char tok[32];

    for (int i = 0; i < CHANNELS; i++) {
        token_of(i, tok, sizeof tok);
        auth_token_hash(tok, strlen(tok), hash);
        assert_int_equal(chancache_get(c, f->s, hash, &e), STORE_OK);
        if (i == 0)
            first = e;
        else
            chancache_put(e);
    }
    token_of(0, tok, sizeof tok);
    auth_token_hash(tok, strlen(tok), hash);
    assert_int_equal(chancache_get(c, f->s, hash, &e), STORE_OK);
    assert_ptr_equal(e, first);
    chancache_put(e);
    chancache_put(first);
    chancache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tokcache_holds_many_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chancache_holds_many_channels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
