/*
 * Tests of the group-commit writer (committer.h) on the test DSN: every
 * request completes exactly once, on the writer thread, with its row stored
 * exactly once; concurrent submitters share commits; free drains the queue;
 * a bad row fails alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fixture.h"
#include "store/committer.h"
#include "store/store.h"

/* A request plus what the test checks about its completion. */
struct treq {
    struct commit_req r; /* first, so done() can cast back */
    int calls;           /* how many times done() ran */
    pthread_t by;        /* the thread done() ran on */
    char body[96];
};

/* Completion count shared by a test's requests. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static size_t completed;

static void on_done(struct commit_req *r)
{
    struct treq *t = (struct treq *)r;

    pthread_mutex_lock(&mu);
    t->calls++;
    t->by = pthread_self();
    completed++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/*
 * Returns once n done() calls have run; what they wrote is visible to the caller from
 * then on (they wrote it under mu, which this took after them).  So the checks that
 * follow read the requests without mu: a failed check longjmps out of the test, and mu
 * held by it would hang the next test instead of reporting this one.
 */
static void wait_completed(size_t n)
{
    pthread_mutex_lock(&mu);
    while (completed < n)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void reset_completed(void)
{
    pthread_mutex_lock(&mu);
    completed = 0;
    pthread_mutex_unlock(&mu);
}

static void fill(struct treq *t, int64_t ch, uint64_t tok)
{
    memset(t, 0, sizeof *t);
    t->r.post.token = tok;
    t->r.post.channel = ch;
    t->r.post.created_ms = fx_now_ms();
    snprintf(t->r.post.type, sizeof t->r.post.type, "text");
    snprintf(t->r.post.from, sizeof t->r.post.from, "sender");
    snprintf(t->body, sizeof t->body, "{\"type\":\"text\",\"text\":\"%llu\"}",
             (unsigned long long)tok);
    t->r.post.json = t->body;
    t->r.rc = -1;
    t->r.done = on_done;
}

/* Checks that channel ch holds exactly tokens first..first+n-1, once each. */
static void assert_rows(struct store *s, int64_t ch, uint64_t first, size_t n)
{
    struct post *v;
    size_t got;

    assert_int_equal(store_post_list(s, ch, 0, NULL, n + 10, &v, &got), STORE_OK);
    assert_int_equal(got, n);
    for (size_t i = 0; i < got; i++)
        assert_int_equal(v[i].token, first + n - 1 - i); /* strictly descending: no repeats */
    store_posts_free(v, got);
}

/* Number of posts of channel ch. */
static size_t count_check(struct store *s, int64_t ch)
{
    struct post *v;
    size_t n;

    assert_int_equal(store_post_list(s, ch, 0, NULL, 1000000, &v, &n), STORE_OK);
    store_posts_free(v, n);
    return n;
}

static void test_new_free(void **state)
{
    struct committer *c = (struct committer *)&c;
    char err[256] = "";
    uint64_t commits = 1, rows = 1;

    (void)state;
    committer_free(NULL);
    assert_int_equal(committer_new(&c, "postgres://u:pw@127.0.0.1:1/db", err, sizeof err),
                     STORE_ERROR);
    assert_null(c);
    assert_true(strlen(err) > 0);

    struct fx f;
    fx_dsn(&f);
    assert_int_equal(committer_new(&c, f.dsn, err, sizeof err), STORE_OK);
    committer_stats(c, &commits, &rows);
    assert_int_equal(commits, 0);
    assert_int_equal(rows, 0);
    committer_free(c); /* idle: nothing to drain */
}

#define THREADS    8
#define PER_THREAD 1250

struct submitter {
    struct committer *c;
    struct treq *reqs;
    size_t n;
};

static void *submit_all(void *arg)
{
    struct submitter *sb = arg;

    for (size_t i = 0; i < sb->n; i++)
        committer_submit(sb->c, &sb->reqs[i].r);
    return NULL;
}

static void test_concurrent_group_commit(void **state)
{
    struct fx *f = *state;
    struct committer *c = NULL;
    size_t total = THREADS * PER_THREAD;
    struct treq *reqs = calloc(total, sizeof *reqs);
    struct submitter sb[THREADS];
    pthread_t th[THREADS];
    int64_t ch = fx_make_channel(f->s, NULL, NULL);
    uint64_t t0 = fx_tokens(total);
    uint64_t commits = 0, rows = 0;
    char err[256];

    assert_non_null(reqs);
    reset_completed();
    for (size_t i = 0; i < total; i++)
        fill(&reqs[i], ch, t0 + i);
    assert_int_equal(committer_new(&c, f->dsn, err, sizeof err), STORE_OK);
    for (int i = 0; i < THREADS; i++) {
        sb[i] = (struct submitter){c, reqs + (size_t)i * PER_THREAD, PER_THREAD};
        assert_int_equal(pthread_create(&th[i], NULL, submit_all, &sb[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    wait_completed(total);

    for (size_t i = 0; i < total; i++) {
        assert_int_equal(reqs[i].calls, 1);
        assert_int_equal(reqs[i].r.rc, STORE_OK);
        for (int k = 0; k < THREADS; k++)
            assert_false(pthread_equal(reqs[i].by, th[k])); /* done() is the writer's */
        assert_false(pthread_equal(reqs[i].by, pthread_self()));
    }

    committer_stats(c, &commits, &rows);
    assert_int_equal(rows, total);
    assert_true(commits >= total / COMMITTER_BATCH_MAX);
    assert_true(commits < rows); /* posts shared commits */
    committer_free(c);
    assert_rows(f->s, ch, t0, total);
    free(reqs);
}

/* committer_free returns only after every submitted request is done. */
static void test_free_drains(void **state)
{
    struct fx *f = *state;
    struct committer *c = NULL;
    size_t total = 3000;
    struct treq *reqs = calloc(total, sizeof *reqs);
    int64_t ch = fx_make_channel(f->s, NULL, NULL);
    uint64_t t0 = fx_tokens(total);
    char err[256];

    assert_non_null(reqs);
    reset_completed();
    assert_int_equal(committer_new(&c, f->dsn, err, sizeof err), STORE_OK);
    for (size_t i = 0; i < total; i++) {
        fill(&reqs[i], ch, t0 + i);
        committer_submit(c, &reqs[i].r);
    }
    committer_free(c); /* joins the writer: what its done() calls wrote is visible */

    assert_int_equal(completed, total);
    for (size_t i = 0; i < total; i++) {
        assert_int_equal(reqs[i].calls, 1);
        assert_int_equal(reqs[i].r.rc, STORE_OK);
    }
    assert_rows(f->s, ch, t0, total);
    free(reqs);
}

/*
 * Bad rows fail alone, each with its reason, and their batch-mates are
 * stored: a duplicate token, an unknown channel, a malformed post.
 */
static void test_bad_rows_fail_alone(void **state)
{
    struct fx *f = *state;
    struct committer *c = NULL;
    size_t total = 300;
    struct treq *reqs = calloc(total, sizeof *reqs);
    int64_t ch = fx_make_channel(f->s, NULL, NULL);
    uint64_t t0 = fx_tokens(total);
    uint64_t commits = 0, rows = 0;
    char err[256];

    assert_non_null(reqs);
    reset_completed();
    for (size_t i = 0; i < total; i++)
        fill(&reqs[i], ch, t0 + i);
    /* token t0+100 is already stored; 200 names no channel; 250, 251 are malformed */
    assert_int_equal(store_post_insert_batch(f->s, &reqs[100].r.post, 1), STORE_OK);
    reqs[200].r.post.channel = ch + 1000000;
    reqs[250].r.post.token = 0;
    reqs[251].r.post.json = NULL;

    assert_int_equal(committer_new(&c, f->dsn, err, sizeof err), STORE_OK);
    for (size_t i = 0; i < total; i++)
        committer_submit(c, &reqs[i].r);
    wait_completed(total);
    committer_stats(c, &commits, &rows);
    committer_free(c);

    for (size_t i = 0; i < total; i++) {
        int want = i == 100               ? STORE_EXISTS
                   : i == 200             ? STORE_NOTFOUND
                   : i == 250 || i == 251 ? STORE_ERROR
                                          : STORE_OK;
        assert_int_equal(reqs[i].calls, 1);
        assert_int_equal(reqs[i].r.rc, want);
    }
    assert_int_equal(rows, total - 4);
    assert_int_equal(count_check(f->s, ch), total - 3); /* + the one stored beforehand */
    free(reqs);
}

/* A request whose done() holds the writer until the test lets it go. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_in, gate_open;

static void gate_done(struct commit_req *r)
{
    pthread_mutex_lock(&gate_mu);
    gate_in = 1;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    on_done(r);
}

/*
 * When the database itself fails (here: another connection holds the write
 * lock past the busy timeout), the whole batch fails after one wait; it is
 * not retried row by row, which would take a wait per attempt.  Afterwards
 * the committer works again.
 */
static void test_database_failure_fails_batch_once(void **state)
{
    struct fx *f = *state;
    struct committer *c = NULL;
    struct treq gate, reqs[32], after;
    int64_t ch = fx_make_channel(f->s, NULL, NULL);
    uint64_t t0 = fx_tokens(34);
    uint64_t commits = 0, rows = 0;
    int64_t started, took;
    sqlite3 *holder = NULL;
    char err[256];

    if (!f->fresh || !f->path[0]) {
        /*
         * SQLite's own case: a second, raw SQLite connection holds the file's write lock
         * past the busy timeout.  PostgreSQL has no such lock and no busy timeout (its
         * writers wait on row locks); a database failing there is a lost connection or a
         * stopped server: test_store_pg and e2e_pg_outage.
         */
        print_message("skipped: needs a fresh SQLite file whose write lock it can hold\n");
        skip();
    }
    reset_completed();
    assert_int_equal(committer_new(&c, f->dsn, err, sizeof err), STORE_OK);

    /* park the writer inside gate's done() */
    fill(&gate, ch, t0);
    gate.r.done = gate_done;
    committer_submit(c, &gate.r);
    pthread_mutex_lock(&gate_mu);
    while (!gate_in)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);

    /* take the write lock, queue 32 posts: they will be one batch */
    assert_int_equal(sqlite3_open(f->path, &holder), SQLITE_OK);
    assert_int_equal(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (size_t i = 0; i < 32; i++) {
        fill(&reqs[i], ch, t0 + 1 + i);
        committer_submit(c, &reqs[i].r);
    }
    started = fx_now_ms();
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    wait_completed(33);
    took = fx_now_ms() - started;
    assert_int_equal(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(holder), SQLITE_OK);

    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(reqs[i].r.rc, STORE_ERROR);
        /* the database's own reason, for the server's log and answer */
        assert_non_null(strstr(reqs[i].r.err, "database is locked"));
    }
    /* one busy timeout (5 s), not one per retried half (63 of them) */
    assert_true(took >= 4000);
    assert_true(took < 15000);

    fill(&after, ch, t0 + 33);
    committer_submit(c, &after.r);
    wait_completed(34);
    assert_int_equal(after.r.rc, STORE_OK);
    committer_stats(c, &commits, &rows);
    assert_int_equal(rows, 2);
    committer_free(c);
    assert_int_equal(count_check(f->s, ch), 2);
}

/* done() may submit again: a request that resubmits itself with the next token. */
struct chain {
    struct treq t;
    struct committer *c;
    int left;
};

static void chain_done(struct commit_req *r)
{
    struct chain *k = (struct chain *)r;

    if (r->rc == STORE_OK && --k->left > 0) {
        r->post.token++;
        committer_submit(k->c, r);
        return;
    }
    on_done(r);
}

static void test_submit_from_done(void **state)
{
    struct fx *f = *state;
    struct chain k;
    int64_t ch = fx_make_channel(f->s, NULL, NULL);
    uint64_t t0 = fx_tokens(50);
    char err[256];

    reset_completed();
    fill(&k.t, ch, t0);
    k.t.r.done = chain_done;
    k.left = 50;
    assert_int_equal(committer_new(&k.c, f->dsn, err, sizeof err), STORE_OK);
    committer_submit(k.c, &k.t.r);
    wait_completed(1);
    committer_free(k.c);
    assert_int_equal(k.t.r.rc, STORE_OK);
    assert_int_equal(k.left, 0);
    assert_rows(f->s, ch, t0, 50);
}

/* A job: sets channel ch's webhook on the writer's own connection. */
static int set_hook(struct commit_req *r, struct store *s)
{
    struct treq *t = (struct treq *)r;

    return store_channel_set_webhook(s, t->r.post.channel, t->body);
}

/*
 * Jobs run on the writer thread with its connection, between posts, and
 * take their store result as rc; a failing job carries the store's message
 * and fails alone.
 */
static void test_jobs(void **state)
{
    struct fx *f = *state;
    struct channel got;
    struct committer *c;
    struct treq reqs[4];
    char err[256];
    struct channel ch;
    uint64_t t0 = fx_tokens(2);

    fx_make_channel(f->s, &ch, NULL);
    assert_int_equal(committer_new(&c, f->dsn, err, sizeof err), STORE_OK);
    reset_completed();
    fill(&reqs[0], ch.id, t0);
    fill(&reqs[1], ch.id, 0); /* a job: post fields unused but for the channel */
    reqs[1].r.job = set_hook;
    reqs[1].r.post.channel = ch.id;
    snprintf(reqs[1].body, sizeof reqs[1].body, "https://example.com/hook");
    fill(&reqs[2], ch.id, 0);
    reqs[2].r.job = set_hook;
    reqs[2].r.post.channel = ch.id + 1000000; /* no such channel */
    fill(&reqs[3], ch.id, t0 + 1);
    for (int i = 0; i < 4; i++)
        committer_submit(c, &reqs[i].r);
    wait_completed(4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(reqs[i].calls, 1);
        assert_false(pthread_equal(reqs[i].by, pthread_self()));
    }
    assert_int_equal(reqs[0].r.rc, STORE_OK);
    assert_int_equal(reqs[1].r.rc, STORE_OK);
    assert_int_equal(reqs[2].r.rc, STORE_NOTFOUND);
    assert_int_equal(reqs[3].r.rc, STORE_OK);
    committer_free(c);
    assert_int_equal(store_channel_by_pa_id(f->s, ch.pa_id, &got), STORE_OK);
    assert_string_equal(got.webhook, "https://example.com/hook");
    assert_rows(f->s, ch.id, t0, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_free),
        cmocka_unit_test_setup_teardown(test_concurrent_group_commit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_free_drains, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_rows_fail_alone, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_submit_from_done, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_database_failure_fails_batch_once, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_jobs, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests_name("committer", tests, fx_group_setup, fx_group_teardown);
}
