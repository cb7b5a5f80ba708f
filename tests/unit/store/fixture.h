/*
 * Test fixture for the store contract tests: which database to run against.
 *
 * The contract tests only see a DSN and the `const struct store_ops *` it
 * selects, so the same table of tests runs against every backend.  With
 * VCP_TEST_PG_DSN set (the key=value DSN of a PostgreSQL cluster's maintenance
 * database, as tests/e2e/pgcluster.py exec sets it) each test gets a new
 * database of that cluster; with VCP_TEST_STORE_DSN set all tests share that
 * database; otherwise each test gets a fresh SQLite file in
 * a mkdtemp directory that the group teardown removes.  Tests therefore never
 * assume an empty database: every channel, pa_id, hash and token they make
 * comes from fx_unique(), which is unique across runs too.
 */
#ifndef VCP_TEST_STORE_FIXTURE_H
#define VCP_TEST_STORE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct fx {
    char dsn[1024];              /* what this test opens */
    const struct store_ops *ops; /* store_backend(dsn) */
    struct store *s;             /* opened by fx_setup */
    int fresh;                   /* 1: dsn is a new database of this test alone */
    char path[512];              /* that file's path when fresh */
};

/* cmocka group setup/teardown: make and remove the temporary directory. */
int fx_group_setup(void **state);
int fx_group_teardown(void **state);

/* cmocka per-test setup/teardown: a struct fx in *state with its store open. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* Picks the next DSN into f (a fresh file unless the env var is set), no open. */
void fx_dsn(struct fx *f);

/* The temporary directory of this process ("" before fx_group_setup). */
const char *fx_dir(void);

/* A number never returned before, in this run or an earlier one; < 2^62. */
uint64_t fx_unique(void);

/* n consecutive message tokens nobody has used; returns the first. */
uint64_t fx_tokens(uint64_t n);

/* A token hash derived from u (distinct u give distinct hashes). */
void fx_hash(uint8_t out[STORE_HASH_LEN], uint64_t u);

/* A channel with every field set, pa_id made from u; hash_out gets its hash. */
void fx_channel(struct channel *c, uint64_t u, uint8_t hash_out[STORE_HASH_LEN]);

/* Creates a fresh channel in s (asserting success); returns its id. */
int64_t fx_make_channel(struct store *s, struct channel *c_out, uint8_t hash_out[STORE_HASH_LEN]);

/* Current Unix time in ms. */
int64_t fx_now_ms(void);

#endif
