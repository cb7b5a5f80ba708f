/*
 * Tests of what is SQLite's alone: DSN routing, the file (WAL, schema
 * version, indexes), migrations on fresh and existing files, refusing
 * files it does not understand, and several writers on one file — threads
 * opening a fresh file together, and a second process (the offline admin
 * CLI) writing while this one commits posts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fixture.h"
#include "store/sqlite_schema.h"
#include "store/store.h"

/* Runs sql on an open connection and returns the first column as int. */
static int db_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int v = -12345;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Runs sql on path with a plain connection and returns the first column as int. */
static int raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int v;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    v = db_int(db, sql);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return v;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void fresh_path(char *buf, size_t len)
{
    struct fx f;

    fx_dsn(&f);
    snprintf(buf, len, "%s", f.path);
}

static void test_backend_routing(void **state)
{
    struct store *s = (struct store *)&s;
    char err[256];

    (void)state;
    assert_ptr_equal(store_backend("sqlite:/var/lib/vcp/vcp.db"), &store_sqlite_ops);
    assert_ptr_equal(store_backend("/var/lib/vcp/vcp.db"), &store_sqlite_ops);
    assert_ptr_equal(store_backend("vcp.db"), &store_sqlite_ops);
    assert_ptr_equal(store_backend("./odd:name.db"), &store_sqlite_ops);
    assert_ptr_equal(store_backend("postgres://u:pw@localhost/vcp"), &store_pg_ops);
    assert_ptr_equal(store_backend("postgresql://localhost/vcp"), &store_pg_ops);
    assert_ptr_equal(store_backend("host=/run/postgresql dbname=vcp"), &store_pg_ops);
    assert_ptr_equal(store_backend("dbname = vcp"), &store_pg_ops);
    assert_ptr_equal(store_backend("sqlite:host=x.db"), &store_sqlite_ops);
    assert_ptr_equal(store_backend("./host=x.db"), &store_sqlite_ops);
    assert_null(store_backend("mysql://localhost/vcp"));
    assert_null(store_backend("sqlite:"));
    assert_null(store_backend(""));
    assert_null(store_backend(NULL));
    assert_string_equal(store_sqlite_ops.name, "sqlite");

    /* the error never repeats the DSN: it may hold a password (port 1: nobody listens) */
    assert_int_equal(store_open("postgres://u:hunter2@127.0.0.1:1/vcp", &s, err, sizeof err),
                     STORE_ERROR);
    assert_null(s);
    assert_true(strlen(err) > 0);
    assert_null(strstr(err, "hunter2"));
    assert_int_equal(store_open("mysql://u:hunter2@db/vcp", &s, err, sizeof err), STORE_ERROR);
    assert_null(s);
    assert_null(strstr(err, "hunter2"));
    store_close(NULL);
}

/* What vcpd may log of a DSN: never its password. */
static void test_dsn_shown(void **state)
{
    static const char *const cases[][2] = {
        {"/var/lib/vcp/vcp.db", "/var/lib/vcp/vcp.db"},
        {"sqlite:password=x.db", "sqlite:password=x.db"},
        {"postgresql://vcp@db/vcp", "postgresql://vcp@db/vcp"},
        {"postgresql://vcp:hunter2@db:5432/vcp", "postgresql://vcp:***@db:5432/vcp"},
        {"postgres://vcp:hun@ter2@db/vcp", "postgres://vcp:***@db/vcp"},
        {"postgresql://vcp@db/vcp?sslmode=require&password=hunter2&x=1",
         "postgresql://vcp@db/vcp?sslmode=require&password=***&x=1"},
        {"host=db password=hunter2 dbname=vcp", "host=db password=*** dbname=vcp"},
        {"host=db password = 'hun ter\\'2' dbname=vcp", "host=db password=*** dbname=vcp"},
        {"password=hunter2", "password=***"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_string_equal(store_dsn_shown(cases[i][0]), cases[i][1]);
        assert_null(strstr(store_dsn_shown(cases[i][0]), "hunter2"));
    }
    assert_string_equal(store_dsn_shown(NULL), "");
}

static void test_fresh_file(void **state)
{
    char path[1024], dsn[1100], err[256];
    struct store *s = NULL;

    (void)state;
    fresh_path(path, sizeof path);
    snprintf(dsn, sizeof dsn, "sqlite:%s", path);
    assert_int_equal(store_open(dsn, &s, err, sizeof err), STORE_OK);
    assert_ptr_equal(s->ops, &store_sqlite_ops);
    assert_string_equal(store_errmsg(s), "");

    assert_true(store_sqlite_migrations_n >= 1);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), (int)store_sqlite_migrations_n);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_journal_mode WHERE "
                                   "journal_mode = 'wal'"),
                     1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                   "name IN ('channels', 'members', 'posts')"),
                     3);
    /* compactness: posts carry exactly one index, the paging one */
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                   "tbl_name = 'posts'"),
                     1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_index_list('posts')"), 1);
    store_close(s);
}

static void test_reopen(void **state)
{
    char path[1024], dsn[1100], err[256];
    struct store *s = NULL;
    struct channel c, got;
    uint8_t h[STORE_HASH_LEN];

    (void)state;
    fresh_path(path, sizeof path);
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_OK); /* plain path */
    fx_make_channel(s, &c, h);
    store_close(s);

    /* a marker row: if a migration ran again, CREATE TABLE would fail the open */
    snprintf(dsn, sizeof dsn, "sqlite:%s", path);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_open(dsn, &s, err, sizeof err), STORE_OK);
        assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
        assert_string_equal(got.pa_id, c.pa_id);
        store_close(s);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), (int)store_sqlite_migrations_n);
    }
}

/* A file at version 0 with nothing in it (made by another tool) is migrated. */
static void test_migrate_empty_existing(void **state)
{
    char path[1024], err[256];
    struct store *s = NULL;
    FILE *fp;

    (void)state;
    fresh_path(path, sizeof path);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_OK);
    fx_make_channel(s, NULL, NULL);
    store_close(s);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), (int)store_sqlite_migrations_n);
}

static void test_refuses_newer_schema(void **state)
{
    char path[1024], err[256], sql[64];
    struct store *s = NULL;

    (void)state;
    fresh_path(path, sizeof path);
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_OK);
    store_close(s);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", (int)store_sqlite_migrations_n + 1);
    raw_exec(path, sql);

    s = (struct store *)&s;
    err[0] = '\0';
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_ERROR);
    assert_null(s);
    assert_non_null(strstr(err, "version"));
    /* and left it alone */
    assert_int_equal(raw_int(path, "PRAGMA user_version"), (int)store_sqlite_migrations_n + 1);
}

static void test_refuses_garbage(void **state)
{
    char path[1024], err[256];
    struct store *s = (struct store *)&s;
    FILE *fp;

    (void)state;
    fresh_path(path, sizeof path);
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database, ", fp);
    fclose(fp);
    err[0] = '\0';
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_ERROR);
    assert_null(s);
    assert_true(strlen(err) > 0);

    s = (struct store *)&s;
    snprintf(path, sizeof path, "%s/no/such/dir/x.db", fx_dir());
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_ERROR);
    assert_null(s);
    assert_true(strlen(err) > 0);
}

struct opener {
    const char *path;
    int rc;
    char err[256];
};

static void *open_one(void *arg)
{
    struct opener *o = arg;
    struct store *s = NULL;

    /* no cmocka asserts here: they may only fail on the test's own thread */
    o->rc = store_open(o->path, &s, o->err, sizeof o->err);
    if (o->rc == STORE_OK) {
        struct channel c;
        uint8_t h[STORE_HASH_LEN];

        fx_channel(&c, fx_unique(), h);
        o->rc = store_channel_create(s, &c, h, NULL, 0);
        if (o->rc != STORE_OK)
            snprintf(o->err, sizeof o->err, "%s", store_errmsg(s));
        store_close(s);
    }
    return NULL;
}

/* Several connections creating and migrating one fresh file at once. */
static void test_concurrent_first_open(void **state)
{
    char path[1024];
    struct opener o[6];
    pthread_t t[6];

    (void)state;
    fresh_path(path, sizeof path);
    for (int i = 0; i < 6; i++) {
        o[i].path = path;
        o[i].rc = -1;
        assert_int_equal(pthread_create(&t[i], NULL, open_one, &o[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        if (o[i].rc != STORE_OK)
            fprintf(stderr, "opener %d: %s\n", i, o[i].err);
        assert_int_equal(o[i].rc, STORE_OK);
    }
    assert_int_equal(raw_int(path, "PRAGMA user_version"), (int)store_sqlite_migrations_n);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM channels"), 6);
}

/* Inserts 20 posts of channel ch from token t in one batch. */
static int insert20(struct store *s, int64_t ch, uint64_t t)
{
    struct post p[20];
    char body[20][64];

    for (int i = 0; i < 20; i++) {
        memset(&p[i], 0, sizeof p[i]);
        p[i].token = t + (uint64_t)i;
        p[i].channel = ch;
        p[i].created_ms = fx_now_ms();
        snprintf(p[i].type, sizeof p[i].type, "text");
        snprintf(p[i].from, sizeof p[i].from, "admin");
        snprintf(body[i], sizeof body[i], "{\"text\":\"%llu\"}", (unsigned long long)(t + i));
        p[i].json = body[i];
    }
    return store_post_insert_batch(s, p, 20);
}

/* The child of test_second_process_writes: 300 rounds of admin writes. */
static int admin_child(const char *path, int64_t ch, int ready_fd, int go_fd)
{
    struct store *cs = NULL;
    char err[256], b = 0;
    int bad = 0;

    if (store_open(path, &cs, err, sizeof err) != STORE_OK)
        return 100;
    if (write(ready_fd, "r", 1) != 1 || read(go_fd, &b, 1) != 1)
        return 101;
    for (int i = 0; i < 300; i++) {
        struct channel c;
        uint8_t h[STORE_HASH_LEN];

        fx_channel(&c, ((uint64_t)getpid() << 32) + (uint64_t)i, h);
        if (store_channel_create(cs, &c, h, NULL, 0) != STORE_OK ||
            store_channel_set_state(cs, c.id, CHANNEL_BLOCKED) != STORE_OK ||
            store_channel_set_rate(cs, ch, i + 1, 10) != STORE_OK) {
            fprintf(stderr, "admin child: %s\n", store_errmsg(cs));
            bad++;
        }
    }
    store_close(cs);
    return bad > 99 ? 99 : bad;
}

/*
 * The offline admin CLI writes from another process while vcpd commits
 * posts, both at full speed from the same moment: neither may see
 * SQLITE_BUSY (the busy timeout and BEGIN IMMEDIATE make writers queue).
 */
static void test_second_process_writes(void **state)
{
    char path[1024], err[256], b = 0;
    struct store *s = NULL;
    int64_t ch;
    uint64_t t0 = fx_tokens(1000000);
    int ready[2], go[2], status = 0, batches = 0, bad = 0;
    pid_t pid, reaped = 0;
    time_t start = time(NULL);

    (void)state;
    fresh_path(path, sizeof path);
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_OK);
    ch = fx_make_channel(s, NULL, NULL);
    store_close(s); /* no connection may cross a fork */
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(admin_child(path, ch, ready[1], go[0]));

    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_OK);
    assert_int_equal(read(ready[0], &b, 1), 1);
    assert_int_equal(write(go[1], "g", 1), 1);
    /* commit until the child is done, and at least 200 batches */
    while (reaped == 0) {
        if (insert20(s, ch, t0 + (uint64_t)batches * 20) != STORE_OK) {
            fprintf(stderr, "batch %d: %s\n", batches, store_errmsg(s));
            bad++;
        }
        if (++batches >= 200)
            reaped = waitpid(pid, &status, WNOHANG);
        /* a guard against a child that never ends, in time: the parent's
         * batches may be very fast (the admin writes each pause 0.5 ms, see
         * sqlite.c's bump_version) */
        assert_true(time(NULL) - start < 60);
    }
    assert_int_equal(reaped, pid);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(bad, 0);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM posts"), batches * 20);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM channels WHERE state = 1"), 300);
    assert_int_equal(raw_int(path, "SELECT rate_count FROM channels ORDER BY id LIMIT 1"), 300);
}

/* Fills p as a text post of channel ch with token tok. */
static void text_post(struct post *p, int64_t ch, uint64_t tok)
{
    memset(p, 0, sizeof *p);
    p->token = tok;
    p->channel = ch;
    p->created_ms = fx_now_ms();
    snprintf(p->type, sizeof p->type, "text");
    snprintf(p->from, sizeof p->from, "someone");
    p->json = "{\"type\":\"text\",\"text\":\"hi\"}";
}

/* Stores n text posts of channel ch (tokens from tok on). */
static void put_posts(struct store *s, int64_t ch, uint64_t tok, int n)
{
    struct post p[8];

    assert_true(n <= 8);
    for (int i = 0; i < n; i++)
        text_post(&p[i], ch, tok + (uint64_t)i);
    assert_int_equal(store_post_insert_batch(s, p, (size_t)n), STORE_OK);
}

/*
 * Schema step 5: posts are counted in post_counts, so a commit never
 * rewrites the wide channels row (issue 11: that made a post to one of
 * 10,000 channels cost a third more); the counts of a file made before the
 * step come along, and a reset forgets them.
 */
static void test_post_counts(void **state)
{
    char path[1024], err[256];
    struct store *s = NULL;
    struct channel c, got;
    int64_t posts;

    (void)state;
    fresh_path(path, sizeof path);
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_OK);
    fx_make_channel(s, &c, NULL);
    put_posts(s, c.id, fx_tokens(3), 3);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_int_equal(got.posts_count, 3);
    store_close(s);
    /* the channels row was not written by the commit */
    assert_int_equal(raw_int(path, "SELECT posts_count FROM channels"), 0);
    assert_int_equal(raw_int(path, "SELECT n FROM post_counts"), 3);

    /* the file as step 4 left it: the count in channels */
    raw_exec(path, "UPDATE channels SET posts_count = 3; DROP TRIGGER post_counts_reset;"
                   " DROP TRIGGER post_counts_gone; DROP TABLE post_counts;"
                   " PRAGMA user_version = 4");
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_OK);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), (int)store_sqlite_migrations_n);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_int_equal(got.posts_count, 3);
    put_posts(s, c.id, fx_tokens(2), 2);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_int_equal(got.posts_count, 5);

    /* a reset forgets the count with the posts; the next post counts from 0 */
    assert_int_equal(store_channel_reset(s, c.id, 7, &posts), STORE_OK);
    assert_int_equal(posts, 5);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_int_equal(got.posts_count, 0);
    put_posts(s, c.id, fx_tokens(1), 1);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_int_equal(got.posts_count, 1);
    store_close(s);
}

/*
 * Schema step 6: posts.channel is no foreign key (SQLite looked the channel up for every
 * row); a batch checks each of its channels once, so a post of a channel that does not
 * exist still fails the whole batch with STORE_NOTFOUND and stores nothing.  A file made
 * before the step keeps its posts.
 */
static void test_posts_channel_checked_once(void **state)
{
    char path[1024], err[256];
    struct store *s = NULL;
    struct channel c, got;
    struct post p[3], *out = NULL;
    size_t n = 0;
    uint64_t tok;
    sqlite3 *before = NULL;

    (void)state;
    fresh_path(path, sizeof path);
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_OK);
    fx_make_channel(s, &c, NULL);
    put_posts(s, c.id, fx_tokens(2), 2);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_foreign_key_list('posts')"), 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_foreign_key_list('members')"), 1);

    /* the file as step 5 left it: the foreign key in the table's text */
    raw_exec(path, "PRAGMA writable_schema = ON;"
                   " UPDATE sqlite_schema SET sql = replace(sql, 'channel INTEGER NOT NULL,',"
                   " 'channel INTEGER NOT NULL REFERENCES channels (id),')"
                   " WHERE type = 'table' AND name = 'posts';"
                   " PRAGMA writable_schema = RESET; PRAGMA user_version = 5");
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_foreign_key_list('posts')"), 1);
    /* a connection open across the step, its schema read before it: the step
     * moves the schema cookie, so it reads the schema again */
    assert_int_equal(sqlite3_open_v2(path, &before, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(db_int(before, "SELECT count(*) FROM pragma_foreign_key_list('posts')"), 1);
    assert_int_equal(store_open(path, &s, err, sizeof err), STORE_OK);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), (int)store_sqlite_migrations_n);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_foreign_key_list('posts')"), 0);
    assert_int_equal(db_int(before, "SELECT count(*) FROM pragma_foreign_key_list('posts')"), 0);
    assert_int_equal(sqlite3_close(before), SQLITE_OK);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_integrity_check"
                                   " WHERE integrity_check = 'ok'"),
                     1);
    assert_int_equal(store_post_list(s, c.id, 0, NULL, 10, &out, &n), STORE_OK);
    assert_int_equal(n, 2);
    store_posts_free(out, n);

    /* one post of a channel that does not exist: the batch is refused, nothing stored */
    tok = fx_tokens(3);
    for (int i = 0; i < 3; i++)
        text_post(&p[i], i == 1 ? c.id + 1000000 : c.id, tok + (uint64_t)i);
    assert_int_equal(store_post_insert_batch(s, p, 3), STORE_NOTFOUND);
    assert_non_null(strstr(store_errmsg(s), "no channel"));
    assert_int_equal(store_post_list(s, c.id, 0, NULL, 10, &out, &n), STORE_OK);
    assert_int_equal(n, 2);
    store_posts_free(out, n);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_int_equal(got.posts_count, 2);
    /* the same posts without it are stored and counted */
    p[1].channel = c.id;
    assert_int_equal(store_post_insert_batch(s, p, 3), STORE_OK);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_int_equal(got.posts_count, 5);

    /* more channels in a batch than one statement counts (16), some with no count row yet */
    {
        enum { NCH = 20, NP = 2 * NCH };
        struct channel cs[NCH];
        struct post q[NP];
        uint64_t t = fx_tokens(2 * NP);

        for (int i = 0; i < NCH; i++)
            fx_make_channel(s, &cs[i], NULL);
        put_posts(s, cs[3].id, fx_tokens(1), 1); /* one with a row already */
        for (int i = 0; i < NP; i++)
            text_post(&q[i], cs[i % NCH].id, t + (uint64_t)i);
        q[NP - 3].channel = cs[NCH - 1].id + 1000000; /* in the second statement's channels */
        assert_int_equal(store_post_insert_batch(s, q, NP), STORE_NOTFOUND);
        assert_int_equal(store_channel_by_pa_id(s, cs[0].pa_id, &got), STORE_OK);
        assert_int_equal(got.posts_count, 0);
        q[NP - 3].channel = cs[(NP - 3) % NCH].id;
        for (int i = 0; i < NP; i++)
            q[i].token = t + NP + (uint64_t)i;
        assert_int_equal(store_post_insert_batch(s, q, NP), STORE_OK);
        for (int i = 0; i < NCH; i++) {
            assert_int_equal(store_channel_by_pa_id(s, cs[i].pa_id, &got), STORE_OK);
            assert_int_equal(got.posts_count, i == 3 ? 3 : 2);
        }
    }
    store_close(s);
}

/*
 * The board (store_board_new): a reading is put only over an older one, never 0, and read
 * back as put.
 */
static void test_board_publish(void **state)
{
    struct store_board *b = store_board_new();
    int64_t t = -1;

    (void)state;
    assert_non_null(b);
    assert_true(store_board_read(b, &t) == 0); /* none yet */
    store_board_publish(b, 0, 100);            /* "cannot tell" is no reading */
    assert_true(store_board_read(b, &t) == 0);
    store_board_publish(b, 7, 100);
    assert_true(store_board_read(b, &t) == 7);
    assert_true(t == 100);
    store_board_publish(b, 5, 50); /* older than what it holds: dropped */
    assert_true(store_board_read(b, &t) == 7);
    assert_true(t == 100);
    store_board_publish(b, 9, 200);
    assert_true(store_board_read(b, &t) == 9);
    assert_true(t == 200);
    store_board_free(b);
    store_board_free(NULL);
}

/* Lets a connection's own reading of the config version grow older than its lag (0.25 ms). */
static void age_readings(void)
{
    struct timespec pause = {0, 2000000};

    nanosleep(&pause, NULL);
}

/*
 * A connection attached to a board answers the config version from the board's reading
 * while that is young, from its own reading otherwise, and from its own after a change of
 * its own; a write transaction of a connection attached to the board publishes the version
 * it saw with the time taken before it began.
 */
static void test_board_consume(void **state)
{
    struct fx *f = *state;
    struct store *r = NULL, *w = NULL;
    struct store_board *future = store_board_new(), *past = store_board_new();
    struct store_board *live = store_board_new();
    const uint64_t fake = (1ULL << 63) | 123456789;
    char err[256];
    struct channel c;
    uint64_t real;
    int64_t t0, t1, t;

    assert_non_null(future);
    assert_non_null(past);
    assert_non_null(live);
    assert_int_equal(store_open(f->dsn, &r, err, sizeof err), STORE_OK);
    assert_int_equal(store_open(f->dsn, &w, err, sizeof err), STORE_OK);
    fx_make_channel(f->s, &c, NULL);
    real = store_config_version(r);
    assert_true(real != 0 && real != fake);

    /* a young reading answers (a time to come stays young through the test) */
    store_board_publish(future, fake, store_mono_ns() + 60 * 1000000000LL);
    store_board_attach(r, future);
    age_readings();
    assert_true(store_config_version(r) == fake);
    assert_true(store_config_version(r) == fake);
    /* but not after a change of the connection's own: it reads for itself */
    assert_int_equal(store_channel_set_rate(r, c.id, 5, 10), STORE_OK);
    real = store_config_version(r);
    assert_true(real != fake && real != 0);
    assert_true(store_config_version(f->s) == real);

    /* an old reading does not answer */
    store_board_publish(past, fake, store_mono_ns() - 1000000000LL);
    store_board_attach(r, past);
    age_readings();
    assert_true(store_config_version(r) == real);
    store_board_attach(r, NULL);

    /* a write transaction publishes what it saw, timed before it began */
    store_board_attach(w, live);
    store_board_attach(r, live);
    assert_int_equal(store_channel_set_rate(f->s, c.id, 6, 10), STORE_OK);
    t0 = store_mono_ns();
    put_posts(w, c.id, fx_tokens(2), 2);
    t1 = store_mono_ns();
    assert_true(store_board_read(live, &t) == store_config_version(f->s));
    assert_true(t >= t0 && t <= t1);
    assert_true(store_board_read(live, &t) != real); /* the change above is in it */
    /* and so does a connection's own check */
    age_readings();
    t0 = store_mono_ns();
    assert_true(store_config_version(r) == store_config_version(f->s));
    assert_true(store_board_read(live, &t) == store_config_version(f->s));
    assert_true(t >= t0);

    store_board_attach(r, NULL);
    store_board_attach(w, NULL);
    store_close(r);
    store_close(w);
    store_board_free(future);
    store_board_free(past);
    store_board_free(live);
}

/* Posts to channel ch on w, batch after batch, until *stop (test_board_guarantee). */
struct poster {
    struct store *w;
    int64_t ch;
    volatile int stop;
    int batches;
};

static void *post_on(void *arg)
{
    struct poster *p = arg;

    while (!p->stop) {
        put_posts(p->w, p->ch, fx_tokens(4), 4);
        p->batches++;
    }
    return NULL;
}

/*
 * The guarantee while posts are committed without a pause and the reader answers from the
 * writer's readings: every change made through a connection of neither (the offline CLI's
 * part) is seen by the reader's very next config_version and read.
 */
static void test_board_guarantee(void **state)
{
    struct fx *f = *state;
    struct store *r = NULL, *x = NULL;
    struct store_board *b = store_board_new();
    struct poster p = {0};
    struct channel c, got;
    uint8_t h[STORE_HASH_LEN];
    pthread_t th;
    char err[256];

    assert_non_null(b);
    assert_int_equal(store_open(f->dsn, &r, err, sizeof err), STORE_OK);
    assert_int_equal(store_open(f->dsn, &x, err, sizeof err), STORE_OK);
    assert_int_equal(store_open(f->dsn, &p.w, err, sizeof err), STORE_OK);
    fx_make_channel(f->s, &c, h);
    p.ch = c.id;
    store_board_attach(r, b);
    store_board_attach(p.w, b);
    assert_int_equal(pthread_create(&th, NULL, post_on, &p), 0);
    for (int i = 0; i < 100; i++) {
        uint64_t before = store_config_version(r);

        assert_true(before != 0);
        assert_int_equal(store_channel_set_rate(x, c.id, 100 + i, 10), STORE_OK);
        assert_true(store_config_version(r) != before);
        assert_int_equal(store_channel_by_token(r, h, &got), STORE_OK);
        assert_int_equal(got.rate_count, 100 + i);
    }
    p.stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(p.batches > 0);
    store_board_attach(r, NULL);
    store_close(p.w);
    store_close(x);
    store_close(r);
    store_board_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_routing),
        cmocka_unit_test(test_dsn_shown),
        cmocka_unit_test(test_fresh_file),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_migrate_empty_existing),
        cmocka_unit_test(test_refuses_newer_schema),
        cmocka_unit_test(test_refuses_garbage),
        cmocka_unit_test(test_concurrent_first_open),
        cmocka_unit_test(test_second_process_writes),
        cmocka_unit_test(test_post_counts),
        cmocka_unit_test(test_posts_channel_checked_once),
        cmocka_unit_test(test_board_publish),
        cmocka_unit_test_setup_teardown(test_board_consume, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_board_guarantee, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests_name("store sqlite", tests, fx_group_setup, fx_group_teardown);
}
