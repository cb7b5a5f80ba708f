/*
 * PostgreSQL specifics of the store (the contract itself is
 * test_store_contract.c, run on both backends): migrations when several
 * processes open a fresh database at once, a connection that breaks under
 * an open store, and what errors may say.  Needs VCP_TEST_PG_DSN (run
 * through tests/e2e/pgcluster.py exec); each test gets a database of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/tokgen.h"
#include "fixture.h"
#include "store/pg_schema.h"

#define OPENERS 6

struct opener {
    const char *dsn;
    int rc;
    char err[256];
};

static void *open_one(void *arg)
{
    struct opener *o = arg;
    struct store *s = NULL;

    o->rc = store_open(o->dsn, &s, o->err, sizeof o->err);
    store_close(s);
    return NULL;
}

/* One query on a connection of our own; returns its first cell as a number. */
static long long query_num(const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, sql);
    long long v = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return v;
}

/* Several processes opening one fresh database together apply each step once. */
static void test_concurrent_migrations(void **state)
{
    struct fx f;
    pthread_t t[OPENERS];
    struct opener o[OPENERS];

    (void)state;
    fx_dsn(&f); /* a new, empty database */
    assert_true(f.fresh);
    for (int i = 0; i < OPENERS; i++) {
        o[i].dsn = f.dsn;
        assert_int_equal(pthread_create(&t[i], NULL, open_one, &o[i]), 0);
    }
    for (int i = 0; i < OPENERS; i++) {
        pthread_join(t[i], NULL);
        if (o[i].rc != STORE_OK)
            fprintf(stderr, "open %d: %s\n", i, o[i].err);
        assert_int_equal(o[i].rc, STORE_OK);
    }
    assert_int_equal(query_num(f.dsn, "SELECT count(*) FROM schema_version"),
                     (long long)store_pg_migrations_n);
    assert_int_equal(query_num(f.dsn, "SELECT max(version) FROM schema_version"),
                     (long long)store_pg_migrations_n);
}

/* A database of a newer schema than this program knows is refused, and says so. */
static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    struct store *s = NULL;
    char err[256], sql[128];

    snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%zu, 0) RETURNING version",
             store_pg_migrations_n + 1);
    assert_true(query_num(f->dsn, sql) > 0);
    assert_int_equal(store_open(f->dsn, &s, err, sizeof err), STORE_ERROR);
    assert_null(s);
    assert_non_null(strstr(err, "upgrade vcp"));
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The server ends the store's connection (as a restart would): the store
 * notices, reconnects on its own and goes on -- a read is retried at once
 * on a new connection, a write fails fast and the next one works.
 */
static void test_connection_lost_and_found(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct channel c, got;
    uint8_t h[STORE_HASH_LEN];
    char body[] = "{\"text\":\"x\"}";
    struct post p;
    int64_t t0;
    const char *kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                       " WHERE application_name = 'vcpd' AND datname = current_database()";

    fx_make_channel(s, &c, h);
    /* a read after the loss: retried on a new connection, it just works */
    assert_int_equal(query_num(f->dsn, kill), 1);
    assert_int_equal(store_ping(s), STORE_OK);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
    /* a write after the loss fails at once (whether it committed is unknown); the next works */
    assert_int_equal(query_num(f->dsn, kill), 1);
    memset(&p, 0, sizeof p);
    p.token = fx_tokens(2);
    p.channel = c.id;
    p.created_ms = fx_now_ms();
    snprintf(p.type, sizeof p.type, "text");
    p.json = body;
    t0 = mono_ms();
    assert_int_equal(store_channel_set_state(s, c.id, CHANNEL_BLOCKED), STORE_ERROR);
    assert_true(mono_ms() - t0 < 2000);
    assert_true(strlen(store_errmsg(s)) > 0);
    assert_int_equal(store_post_insert_batch(s, &p, 1), STORE_OK);
    assert_int_equal(store_channel_set_state(s, c.id, CHANNEL_BLOCKED), STORE_OK);
}

/* A taken key names the constraint, never the key's value (a token hash). */
static void test_errors_quote_no_values(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct channel c, d;
    uint8_t h[STORE_HASH_LEN];
    char hex[2 * STORE_HASH_LEN + 1];

    fx_make_channel(s, &c, h);
    fx_channel(&d, fx_unique(), (uint8_t[STORE_HASH_LEN]){0});
    assert_int_equal(store_channel_create(s, &d, h, NULL, 0), STORE_EXISTS);
    for (int i = 0; i < STORE_HASH_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    assert_non_null(strstr(store_errmsg(s), "channels_token_hash_key"));
    assert_null(strstr(store_errmsg(s), hex));
    assert_null(strstr(store_errmsg(s), "Key ("));
}

/* Takes in what reached w until s's config version is neither 0 nor old (2 s at most). */
static uint64_t version_moved(struct store_watch *w, struct store *s, uint64_t old)
{
    int64_t t0 = mono_ms();
    uint64_t v;

    do {
        store_watch_read(w);
        v = store_config_version(s);
        if (v != 0 && v != old)
            return v;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    } while (mono_ms() - t0 < 2000);
    fail_msg("config version still %llu", (unsigned long long)v);
    return 0;
}

/* What a watch hears for 100 ms: s's config version at the end. */
static uint64_t version_after_a_while(struct store_watch *w, struct store *s)
{
    for (int i = 0; i < 100; i++) {
        store_watch_read(w);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    store_watch_read(w);
    return store_config_version(s);
}

/*
 * A watch (LISTEN/NOTIFY) gives the connections it is attached to a config version that
 * moves with every change of configuration made through any other connection, not with
 * posts or fault counters; that reads 0 from the moment its connection is lost and moves
 * to a new number once it is back; and that SQLite has no use for.
 */
static void test_watch(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s, *other = NULL;
    struct store_watch *w = NULL;
    struct channel c;
    struct member m;
    struct fault_row fr = {.spec = "{\"status\":12}", .remaining = 1};
    uint8_t h[STORE_HASH_LEN];
    char err[256], body[] = "{\"text\":\"x\"}";
    uint64_t v;
    int64_t n;
    const char *kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND application_name = 'vcpd watch'";
    const char *gone = "SELECT count(*) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND application_name = 'vcpd watch'";

    assert_int_equal(store_watch_open("/nonexistent/vcp.db", -1, &w, err, sizeof err),
                     STORE_NOTFOUND);
    assert_null(w);
    assert_int_equal(store_config_version(s), 0); /* no watch: cannot tell */
    assert_int_equal(store_watch_open(f->dsn, -1, &w, err, sizeof err), STORE_OK);
    assert_int_equal(store_open(f->dsn, &other, err, sizeof err), STORE_OK);
    store_watch_attach(s, w);
    v = store_config_version(s);
    assert_true(v != 0);

    fx_make_channel(other, &c, h);
    v = version_moved(w, s, v);
    assert_int_equal(store_channel_set_state(other, c.id, CHANNEL_BLOCKED), STORE_OK);
    v = version_moved(w, s, v);
    fx_hash(h, fx_unique());
    assert_int_equal(store_channel_set_token(other, c.id, h), STORE_OK);
    v = version_moved(w, s, v);
    assert_int_equal(store_channel_set_rate(other, c.id, 5, 10), STORE_OK);
    v = version_moved(w, s, v);
    assert_int_equal(store_channel_set_webhook(other, c.id, "https://x.example/"), STORE_OK);
    v = version_moved(w, s, v);
    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "w%llu", (unsigned long long)fx_unique());
    assert_int_equal(store_member_add(other, c.id, &m), STORE_OK);
    v = version_moved(w, s, v);
    assert_int_equal(store_member_remove(other, c.id, m.id), STORE_OK);
    v = version_moved(w, s, v);
    fr.channel = c.id;
    assert_int_equal(store_fault_add(other, &fr), STORE_OK);
    v = version_moved(w, s, v);

    /* posts and fault counters are no configuration */
    struct post p = {.token = fx_tokens(1),
                     .channel = c.id,
                     .created_ms = fx_now_ms(),
                     .type = "text",
                     .json = body};
    assert_int_equal(store_post_insert_batch(other, &p, 1), STORE_OK);
    assert_int_equal(store_fault_count(other, fr.id, 0, 1, 1), STORE_OK);
    assert_true(version_after_a_while(w, s) == v);

    assert_int_equal(store_fault_remove(other, c.id, 0, &n), STORE_OK);
    v = version_moved(w, s, v);
    assert_int_equal(store_channel_reset(other, c.id, 7, &n), STORE_OK);
    v = version_moved(w, s, v);

    /* the watch's connection lost: 0 at once (the socket has ended), and after the read that
     * notices, until it is back with a number not given before */
    assert_int_equal(query_num(f->dsn, kill), 1);
    for (int i = 0; i < 2000 && query_num(f->dsn, gone) != 0; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    nanosleep(&(struct timespec){0, 20000000}, NULL);
    assert_int_equal(store_config_version(s), 0);
    assert_int_equal(store_watch_read(w), STORE_ERROR);
    assert_int_equal(store_config_version(s), 0);
    assert_int_equal(store_watch_fd(w), -1);
    assert_true(strlen(store_watch_errmsg(w)) > 0);
    v = version_moved(w, s, v);
    assert_true(store_watch_fd(w) >= 0);
    assert_int_equal(store_channel_set_state(other, c.id, CHANNEL_ACTIVE), STORE_OK);
    v = version_moved(w, s, v); /* and hears again */

    store_watch_attach(s, NULL);
    assert_int_equal(store_config_version(s), 0);
    store_watch_close(w);
    store_close(other);
}

/* Claims on a shared rate bucket take what there is, never more, refilled on the database's
 * clock; another epoch starts full. */
static void test_rate_claim(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s, *other = NULL;
    char err[256];
    int got, sum = 0;

    assert_int_equal(store_open(f->dsn, &other, err, sizeof err), STORE_OK);
    assert_int_equal(store_rate_claim(s, 7, 1, 10, 100000, 4, &got), STORE_OK);
    assert_int_equal(got, 4); /* a new bucket starts full */
    assert_int_equal(store_rate_claim(other, 7, 1, 10, 100000, 4, &got), STORE_OK);
    assert_int_equal(got, 4); /* the same bucket from another connection */
    assert_int_equal(store_rate_claim(s, 7, 1, 10, 100000, 4, &got), STORE_OK);
    assert_int_equal(got, 2); /* what is left */
    assert_int_equal(store_rate_claim(other, 7, 1, 10, 100000, 4, &got), STORE_OK);
    assert_int_equal(got, 0);
    assert_int_equal(store_rate_claim(s, 8, 1, 10, 100000, 4, &got), STORE_OK);
    assert_int_equal(got, 4); /* another channel, another bucket */
    assert_int_equal(store_rate_claim(s, 7, 2, 10, 100000, 10, &got), STORE_OK);
    assert_int_equal(got, 10); /* a new epoch: full again */
    /* 100 per second: 0.2 s later about 20 are back, never more than count */
    nanosleep(&(struct timespec){0, 200000000}, NULL);
    assert_int_equal(store_rate_claim(s, 7, 2, 100, 1, 1000, &got), STORE_OK);
    assert_in_range(got, 10, 100);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(store_rate_claim(i % 2 ? s : other, 9, 1, 30, 100000, 1, &got), STORE_OK);
        sum += got;
    }
    assert_int_equal(sum, 30);
    store_close(other);
}

/* Takes in what reached w until it heard of want posts (2 s at most); their tokens in out. */
static size_t heard(struct store_watch *w, uint64_t *out, size_t want)
{
    int64_t t0 = mono_ms();
    size_t got = 0, n;

    while (got < want && mono_ms() - t0 < 2000) {
        const uint64_t *t;

        store_watch_read(w);
        t = store_watch_tokens(w, &n);
        for (size_t i = 0; i < n && got < want; i++)
            out[got++] = t[i];
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return got;
}

/*
 * A channel's tokens increase in commit order across nodes: a post of this node below the
 * channel's last token (another node's, or one raised before it) is stored above it (written
 * back, and never made by the generator again).  Every committed
 * batch is heard by a watch, tokens in commit order, and read back by token with its channel.
 */
static void test_token_order(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s, *other = NULL;
    struct store_watch *w = NULL;
    struct tokgen g;
    struct channel c;
    char err[256], body[] = "{\"text\":\"x\"}";
    uint64_t now = (uint64_t)fx_now_ms(), x, tok[8];
    struct post *got = NULL;
    size_t n;

    assert_int_equal(tokgen_init(&g, 3), 0);
    assert_int_equal(store_open(f->dsn, &other, err, sizeof err), STORE_OK);
    assert_int_equal(store_watch_open(f->dsn, -1, &w, err, sizeof err), STORE_OK);
    store_set_tokgen(s, &g);
    fx_make_channel(s, &c, NULL);
    /* another node (5) stored a post 100 ms ahead of our clock */
    x = ((now + 100 - TOKGEN_EPOCH_MS) << 22) | (5ULL << 12) | 7;
    struct post o = {
        .token = x, .channel = c.id, .created_ms = (int64_t)now, .type = "text", .json = body};
    assert_int_equal(store_post_insert_batch(other, &o, 1), STORE_OK);
    /* ours, made now: below it, so stored above it */
    struct post p[3];
    for (int i = 0; i < 3; i++)
        p[i] = (struct post){.token = tokgen_next(&g, now),
                             .channel = c.id,
                             .created_ms = (int64_t)now,
                             .type = "text",
                             .json = body};
    uint64_t first = p[0].token;
    assert_true(first < x);
    assert_int_equal(store_post_insert_batch(s, p, 3), STORE_OK);
    assert_true(p[0].token > x);
    assert_true(p[1].token > p[0].token && p[2].token > p[1].token);
    assert_int_equal((p[0].token >> 12) & 1023, 3);
    assert_true(tokgen_next(&g, now) > p[2].token); /* never made again */
    /* heard in commit order, read back by token */
    assert_int_equal(heard(w, tok, 4), 4);
    assert_true(tok[0] == x && tok[1] == p[0].token && tok[2] == p[1].token &&
                tok[3] == p[2].token);
    assert_int_equal(store_post_get(other, tok, 4, &got, &n), STORE_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_true(got[i].token == tok[i]);
        assert_int_equal(got[i].channel, c.id);
        assert_string_equal(got[i].json, body);
    }
    store_posts_free(got, n);
    store_set_tokgen(s, NULL);
    store_watch_close(w);
    store_close(other);
}

struct reader {
    struct store_watch *w;
    volatile int stop;
};

/* A watch's owner thread, as vcpd's cluster.c: takes in whatever arrives. */
static void *read_watch(void *arg)
{
    struct reader *r = arg;

    while (!r->stop) {
        store_watch_read(r->w);
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    return NULL;
}

/*
 * A change reported done is in force on every running instance: a configuration write
 * returns only once the watch of every live node lease answered that it heard it, so the
 * version moved before the write returned; a watch that does not answer holds a write up
 * for STORE_SYNC_MAX_MS at most.
 */
static void test_synced(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s, *other = NULL;
    struct reader r = {0};
    struct node_lease lease;
    struct channel c;
    pthread_t t;
    char err[256];
    uint64_t v;
    int64_t t0;

    assert_int_equal(store_open(f->dsn, &other, err, sizeof err), STORE_OK);
    assert_int_equal(store_node_acquire(s, -1, "test_synced", 60000, &lease), STORE_OK);
    assert_int_equal(store_watch_open(f->dsn, lease.node, &r.w, err, sizeof err), STORE_OK);
    store_watch_attach(s, r.w);
    assert_int_equal(pthread_create(&t, NULL, read_watch, &r), 0);
    fx_make_channel(other, &c, NULL);
    for (int i = 0; i < 20; i++) {
        uint64_t after;

        while ((v = store_config_version(s)) == 0) /* the thread taking input in: wait */
            nanosleep(&(struct timespec){0, 100000}, NULL);
        assert_int_equal(
            store_channel_set_state(other, c.id, i % 2 ? CHANNEL_ACTIVE : CHANNEL_BLOCKED),
            STORE_OK);
        after = store_config_version(s); /* at once: no waiting here; 0 caches nothing */
        assert_true(after != v);
    }
    r.stop = 1;
    pthread_join(t, NULL);
    /* nobody answers now: the write is held up, for a bounded time */
    t0 = mono_ms();
    assert_int_equal(store_channel_set_state(other, c.id, CHANNEL_ACTIVE), STORE_OK);
    assert_in_range(mono_ms() - t0, STORE_SYNC_MAX_MS - 50, STORE_SYNC_MAX_MS + 1500);
    store_watch_attach(s, NULL);
    store_watch_close(r.w);
    assert_int_equal(store_node_release(s, lease.node, "test_synced"), STORE_OK);
    store_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_migrations),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_connection_lost_and_found, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_errors_quote_no_values, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_watch, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rate_claim, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_token_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_synced, fx_setup, fx_teardown),
    };

    if (!getenv("VCP_TEST_PG_DSN")) {
        fprintf(stderr, "test_store_pg: needs VCP_TEST_PG_DSN (run it through pgcluster.py "
                        "exec, as ctest does)\n");
        return 1;
    }
    return cmocka_run_group_tests_name("store postgresql", tests, fx_group_setup,
                                       fx_group_teardown);
}
