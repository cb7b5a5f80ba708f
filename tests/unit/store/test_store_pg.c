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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_migrations),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_connection_lost_and_found, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_errors_quote_no_values, fx_setup, fx_teardown),
    };

    if (!getenv("VCP_TEST_PG_DSN")) {
        fprintf(stderr, "test_store_pg: needs VCP_TEST_PG_DSN (run it through pgcluster.py "
                        "exec, as ctest does)\n");
        return 1;
    }
    return cmocka_run_group_tests_name("store postgresql", tests, fx_group_setup,
                                       fx_group_teardown);
}
