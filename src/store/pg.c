/*
 * The PostgreSQL backend of the store (store.h), on libpq.
 *
 * Connection.  A DSN is a postgresql:// or postgres:// URI or a key=value
 * string, handed to libpq as it is (PQconnectdbParams with expand_dbname)
 * after our defaults, so the operator's own settings win: connect_timeout=5
 * and TCP keepalives plus tcp_user_timeout, so a dead server or network is
 * noticed in seconds, never waited on for ever.  Each session then sets a
 * statement_timeout (nothing hangs on a lock either) and synchronous_commit
 * on (a post is acknowledged only once its batch is on the primary's disk).
 *
 * Losing the database.  An operation on a broken connection fails at once
 * with STORE_ERROR; the next one resets the connection (PQreset) and
 * prepares the statements again, so vcpd recovers by itself once the
 * database is back.  While it stays away, resets are tried at most every
 * RESET_PAUSE_MS: a request then fails in microseconds instead of waiting a
 * connect each.  A read that fails because the connection just broke is
 * tried once more on a fresh one; a write is not (whether it committed is
 * unknown, and the caller's answer must say it failed).  Never inside a
 * transaction: a reset there would run its remaining statements outside it.
 *
 * Speed.  Every statement is prepared once per connection (PQprepare) and
 * run with PQexecPrepared; text and bytea parameters go in binary format
 * (their bytes as they are, no quoting), numbers as text.  A batch of posts
 * is one statement: a multi-row INSERT of unnest()ed arrays whose CTE also
 * adds the posts to their channels' posts_count, so a batch costs one round
 * trip and one commit whatever its size.
 *
 * Errors.  SQLSTATE 23505 (unique) is STORE_EXISTS and 23503 (foreign key)
 * STORE_NOTFOUND, as the committer's split-and-retry expects; anything else
 * is STORE_ERROR.  Only the primary message of an error is kept: its DETAIL
 * would quote key values, such as a token hash.  libpq's connection
 * messages name the host and user, never the password, and the DSN itself
 * is never written anywhere.
 */
#include "core/tokgen.h"
#include "store/pg_schema.h"
#include "store/pg_watch.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#include <libpq-fe.h>

#define ERR_MAX        256
#define MAX_PARAMS     17
#define RESET_PAUSE_MS 250 /* least time between two reset attempts while the database is away */
/* The advisory lock key of schema migrations: "vcp" + 1, any constant would do. */
#define MIGRATE_LOCK "7627632"
/* The advisory lock key of node_acquire. */
#define NODE_LOCK "7627633"
/* Now in Unix ms on the database's clock. */
#define NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/* A rate bucket's tokens now (rate_claim): refilled since its last claim, full in a new epoch. */
#define RATE_LEVEL                                                                  \
    "(CASE WHEN b.epoch = $2 THEN least($3::float8, b.tokens + greatest(0, " NOW_MS \
    " - b.at_ms) * $3::float8 / ($4::float8 * 1000)) ELSE $3::float8 END)"

/* Session settings, run after every (re)connect. */
static const char session_sql[] = "SET statement_timeout = '15s';"
                                  "SET idle_in_transaction_session_timeout = '30s';"
                                  "SET synchronous_commit = on;"
                                  "SET client_encoding = 'UTF8'";

#define CHANNEL_COLS                                                                     \
    "id, pa_id, name, uri, icon, background, category, subcategory, country, lat, lon, " \
    "webhook, state, rate_count, rate_window_s, created_ms, epoch"
#define CHANNEL_NCOLS 17

enum stmt_id {
    ST_PING,
    ST_CH_INSERT,
    ST_CH_BY_TOKEN,
    ST_CH_BY_PA_ID,
    ST_CH_LIST,
    ST_CH_SET_STATE,
    ST_CH_SET_TOKEN,
    ST_CH_SET_WEBHOOK,
    ST_CH_SET_RATE,
    ST_CH_SET_DETAILS,
    ST_CH_RESET_POSTS,
    ST_CH_SET_EPOCH,
    ST_CH_RESET_FAULTS,
    ST_FAULT_ADD,
    ST_FAULT_LIST,
    ST_FAULT_REMOVE,
    ST_FAULT_COUNT,
    ST_CH_RESET_JOURNAL,
    ST_JOURNAL_ADD,
    ST_JOURNAL_TRIM,
    ST_JOURNAL_LIST,
    ST_MB_ADD,
    ST_MB_REMOVE,
    ST_MB_LIST,
    ST_MB_ROLE,
    ST_POST_BATCH,
    ST_POST_LIST,
    ST_POST_AFTER,
    ST_NODE_LOCK,
    ST_NODE_HELD,
    ST_NODE_FREE,
    ST_NODE_PUT,
    ST_NODE_RENEW,
    ST_NODE_RELEASE,
    ST_NODE_LAST,
    ST_RATE_CLAIM,
    ST_POST_GET,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_PING] = "SELECT 1 FROM channels LIMIT 1",
    [ST_CH_INSERT] = "INSERT INTO channels (pa_id, token_hash, name, uri, icon, background,"
                     " category, subcategory, country, lat, lon, webhook, state, rate_count,"
                     " rate_window_s, created_ms, epoch)"
                     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
                     " $16, $17) RETURNING id",
    [ST_CH_BY_TOKEN] = "SELECT " CHANNEL_COLS " FROM channels WHERE token_hash = $1",
    [ST_CH_BY_PA_ID] = "SELECT " CHANNEL_COLS ", posts_count FROM channels WHERE pa_id = $1",
    [ST_CH_LIST] = "SELECT " CHANNEL_COLS ", posts_count FROM channels ORDER BY id",
    [ST_CH_SET_STATE] = "UPDATE channels SET state = $2 WHERE id = $1",
    [ST_CH_SET_TOKEN] = "UPDATE channels SET token_hash = $2 WHERE id = $1",
    [ST_CH_SET_WEBHOOK] = "UPDATE channels SET webhook = $2 WHERE id = $1",
    [ST_CH_SET_RATE] = "UPDATE channels SET rate_count = $2, rate_window_s = $3 WHERE id = $1",
    [ST_CH_SET_DETAILS] = "UPDATE channels SET name = $2, uri = $3, icon = $4, background = $5,"
                          " category = $6, subcategory = $7, country = $8, lat = $9, lon = $10"
                          " WHERE id = $1",
    [ST_CH_RESET_POSTS] = "DELETE FROM posts WHERE channel = $1",
    [ST_CH_SET_EPOCH] = "UPDATE channels SET epoch = $2, posts_count = 0 WHERE id = $1",
    [ST_CH_RESET_FAULTS] = "DELETE FROM faults WHERE channel = $1",
    [ST_FAULT_ADD] = "INSERT INTO faults (channel, spec, remaining, seen, hits, created_ms)"
                     " VALUES ($1, $2, $3, 0, 0, $4) RETURNING id",
    [ST_FAULT_LIST] = "SELECT id, spec, remaining, seen, hits, created_ms FROM faults"
                      " WHERE channel = $1 ORDER BY id",
    [ST_FAULT_REMOVE] = "DELETE FROM faults WHERE channel = $1 AND ($2 = 0 OR id = $2)",
    [ST_FAULT_COUNT] = "UPDATE faults SET remaining = $2, seen = $3, hits = $4 WHERE id = $1",
    [ST_CH_RESET_JOURNAL] = "DELETE FROM journal WHERE channel = $1",
    /* a row of a channel gone meanwhile (a whole reset) is skipped, not an error */
    [ST_JOURNAL_ADD] = "INSERT INTO journal (channel, time_ms, endpoint, http, status, detail,"
                       " latency_us, fault, body) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9"
                       " WHERE EXISTS (SELECT 1 FROM channels WHERE id = $1) RETURNING id",
    [ST_JOURNAL_TRIM] = "DELETE FROM journal WHERE channel = $1 AND id <= (SELECT id FROM journal"
                        " WHERE channel = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
    [ST_JOURNAL_LIST] =
        "SELECT id, time_ms, endpoint, http, status, detail, latency_us, fault, body"
        " FROM journal WHERE channel = $1 AND id < $2 AND time_ms >= $3"
        " AND ($4::integer < 0 OR status = $4) AND ($5::text IS NULL OR endpoint = $5)"
        " ORDER BY id DESC LIMIT $6",
    [ST_MB_ADD] = "INSERT INTO members (channel, member_id, name, avatar, role)"
                  " VALUES ($1, $2, $3, $4, $5)",
    [ST_MB_REMOVE] = "DELETE FROM members WHERE channel = $1 AND member_id = $2",
    [ST_MB_LIST] = "SELECT member_id, name, avatar, role FROM members WHERE channel = $1"
                   " ORDER BY position",
    [ST_MB_ROLE] = "SELECT role FROM members WHERE channel = $1 AND member_id = $2",
    /*
     * A whole batch in one statement, so in one transaction: the rows come
     * from arrays (one element per post), and the channels' posts_count
     * moves by the rows inserted.  Foreign key and unique checks fail the
     * statement, and with it the whole batch.
     */
    [ST_POST_BATCH] =
        "WITH ins AS (INSERT INTO posts (token, channel, created_ms, type, sender, body)"
        " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],"
        " $6::text[]) RETURNING channel, token),"
        " upd AS (UPDATE channels SET posts_count = posts_count + k.n,"
        " last_token = greatest(last_token, k.m)"
        " FROM (SELECT channel, count(*) AS n, max(token) AS m FROM ins GROUP BY channel) AS k"
        " WHERE channels.id = k.channel)"
        " SELECT pg_notify('" PG_POSTS_CHANNEL "', x) FROM unnest($7::text[]) AS x",
    [ST_POST_LIST] = "SELECT token, created_ms, type, sender, body FROM posts"
                     " WHERE channel = $1 AND token <= $2 AND ($3::text IS NULL OR type = $3)"
                     " ORDER BY token DESC LIMIT $4",
    [ST_POST_AFTER] = "SELECT token, created_ms, type, sender, body FROM posts"
                      " WHERE channel = $1 AND token > $2 ORDER BY token LIMIT $3",
    /*
     * Node id leases, on the database's clock (NOW_MS): the instances may
     * run on machines whose clocks disagree, the database is the one they
     * share.  node_acquire's look-and-take runs under a transaction-scoped
     * advisory lock, so two instances starting at once never both win.
     */
    [ST_NODE_LOCK] = "SELECT pg_advisory_xact_lock(" NODE_LOCK ")",
    [ST_NODE_HELD] = "SELECT holder, expires_ms FROM node_leases"
                     " WHERE node = $1 AND expires_ms > " NOW_MS " AND holder <> $2",
    [ST_NODE_FREE] = "SELECT min(n) FROM generate_series(0, 1023) AS n WHERE NOT EXISTS"
                     " (SELECT 1 FROM node_leases l WHERE l.node = n AND l.expires_ms > " NOW_MS
                     " AND l.holder <> $1)",
    [ST_NODE_PUT] = "INSERT INTO node_leases (node, holder, expires_ms)"
                    " VALUES ($1, $2, " NOW_MS " + $3) ON CONFLICT (node) DO UPDATE"
                    " SET holder = EXCLUDED.holder, expires_ms = EXCLUDED.expires_ms"
                    " RETURNING expires_ms",
    [ST_NODE_RENEW] = "UPDATE node_leases SET expires_ms = " NOW_MS " + $3"
                      " WHERE node = $1 AND holder = $2",
    [ST_NODE_RELEASE] = "DELETE FROM node_leases WHERE node = $1 AND holder = $2",
    /* walks the primary key back from the newest post; read once at start */
    [ST_NODE_LAST] = "SELECT token FROM posts WHERE (token >> 12) & 1023 = $1"
                     " ORDER BY token DESC LIMIT 1",
    /*
     * rate_claim: $1 channel, $2 epoch, $3 count, $4 window_s, $5 want.  The row is locked
     * by the upsert, so concurrent claims queue; `granted` carries what this one took back
     * through RETURNING (the tokens left could not tell "took all it wanted" from "took what
     * there was").
     */
    /* the batch's channel rows, locked in id order (two batches never wait on each other
     * crosswise), with the highest token each has stored */
    [ST_POST_GET] = "SELECT p.token, p.created_ms, p.type, p.sender, p.body, p.channel"
                    " FROM unnest($1::bigint[]) WITH ORDINALITY AS t(token, i)"
                    " JOIN posts p ON p.token = t.token ORDER BY t.i",
    [ST_RATE_CLAIM] = "INSERT INTO rate_buckets AS b (channel, epoch, tokens, at_ms, granted)"
                      " VALUES ($1, $2, $3::float8 - least($5, $3), " NOW_MS ", least($5, $3))"
                      " ON CONFLICT (channel) DO UPDATE SET tokens = " RATE_LEVEL
                      " - least($5, floor(" RATE_LEVEL ")), granted = least($5, floor(" RATE_LEVEL
                      ")), epoch = $2, at_ms = " NOW_MS " RETURNING granted",
};

/* One connection.  base must come first: store.h's wrappers read s->ops. */
struct pg {
    struct store base;
    PGconn *conn;
    bool prepared;             /* session set up and statements prepared on conn */
    bool in_tx;                /* between BEGIN and COMMIT/ROLLBACK */
    int64_t last_reset_ms;     /* monotonic time of the last failed reset attempt */
    struct store_watch *watch; /* gives config_version (pg_watch.c); NULL: none, version 0 */
    struct tokgen *tokgen;     /* raises posts' tokens (post_insert_batch); NULL: arithmetic */
    char err[ERR_MAX];
};

/* The parameters of one statement: text and bytea in binary format, numbers as text. */
struct params {
    int n;
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24];
};

/* A growable string, for the array parameters of a batch. */
struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static struct pg *pg_of(struct store *s)
{
    return (struct pg *)s;
}

static int64_t mono_ms(void)
{
    return store_mono_ns() / 1000000;
}

static void p_int(struct params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%" PRId64, v);
    p->v[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

/* Text of known length (a fixed-size field: never read past cap), sent as its bytes. */
static void p_text(struct params *p, const char *v, size_t cap)
{
    p->v[p->n] = v;
    p->len[p->n] = (int)strnlen(v, cap);
    p->fmt[p->n++] = 1;
}

/* A NUL-terminated string; NULL is SQL NULL. */
static void p_str(struct params *p, const char *v)
{
    p->v[p->n] = v;
    p->len[p->n] = v ? (int)strlen(v) : 0;
    p->fmt[p->n++] = 1;
}

static void p_bytes(struct params *p, const uint8_t *v, size_t len)
{
    p->v[p->n] = (const char *)v;
    p->len[p->n] = (int)len;
    p->fmt[p->n++] = 1;
}

static void p_double(struct params *p, double v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%.17g", v);
    p->v[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

static void p_null(struct params *p)
{
    p->v[p->n] = NULL;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

/* Copies the first line of msg (libpq's end in a newline) after "what: " into s->err. */
static void set_err(struct pg *s, const char *what, const char *msg)
{
    size_t len;

    if (!msg || !*msg)
        msg = "unknown error";
    len = strcspn(msg, "\n");
    snprintf(s->err, sizeof s->err, "%s: %.*s", what, (int)len, msg);
}

static int fail_msg(struct pg *s, const char *what, const char *why)
{
    set_err(s, what, why);
    return STORE_ERROR;
}

/* Records a failed result and maps its SQLSTATE to a store_rc (see the top comment). */
static int fail_res(struct pg *s, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (!msg)
        msg = PQerrorMessage(s->conn);
    set_err(s, what, msg);
    if (state && strcmp(state, "23505") == 0)
        return STORE_EXISTS;
    if (state && strcmp(state, "23503") == 0)
        return STORE_NOTFOUND;
    return STORE_ERROR;
}

/* Runs sql (no parameters) that returns no rows; STORE_OK or STORE_ERROR. */
static int exec_cmd(struct pg *s, const char *sql, const char *what)
{
    PGresult *res = PQexec(s->conn, sql);
    int ret = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK
                  ? STORE_OK
                  : fail_res(s, res, what);

    PQclear(res);
    return ret;
}

/* Session settings and every statement prepared: what a new connection needs. */
static int setup_session(struct pg *s)
{
    char name[16];

    if (exec_cmd(s, session_sql, "session settings") != STORE_OK)
        return STORE_ERROR;
    for (int i = 0; i < ST_COUNT; i++) {
        PGresult *res;
        int ret;

        snprintf(name, sizeof name, "s%d", i);
        res = PQprepare(s->conn, name, stmt_sql[i], 0, NULL);
        ret = PQresultStatus(res) == PGRES_COMMAND_OK ? STORE_OK : fail_res(s, res, "prepare");
        PQclear(res);
        if (ret != STORE_OK)
            return ret;
    }
    s->prepared = true;
    return STORE_OK;
}

/*
 * Makes the connection usable: STORE_OK when it is, else one reset attempt
 * (not inside a transaction, and not sooner than RESET_PAUSE_MS after the
 * last failed one) and STORE_ERROR if the database is still away.
 */
static int ready(struct pg *s, const char *what)
{
    int64_t now;

    if (s->prepared && PQstatus(s->conn) == CONNECTION_OK)
        return STORE_OK;
    if (s->in_tx)
        return fail_msg(s, what, "connection to the database lost in a transaction");
    now = mono_ms();
    if (s->last_reset_ms && now - s->last_reset_ms < RESET_PAUSE_MS)
        return STORE_ERROR; /* s->err still says why the last attempt failed */
    s->prepared = false;
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        s->last_reset_ms = now;
        set_err(s, "database unreachable", PQerrorMessage(s->conn));
        return STORE_ERROR;
    }
    if (setup_session(s) != STORE_OK) {
        s->last_reset_ms = now;
        return STORE_ERROR;
    }
    s->last_reset_ms = 0;
    return STORE_OK;
}

/*
 * Runs prepared statement id with p.  Returns the result (rows or not) with
 * *ret STORE_OK, or NULL with *ret the failure.  A read (read_only) that
 * failed because the connection broke is run once more on a new one.
 */
static PGresult *run(struct pg *s, enum stmt_id id, const struct params *p, bool read_only,
                     const char *what, int *ret)
{
    char name[16];
    PGresult *res;

    snprintf(name, sizeof name, "s%d", (int)id);
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((*ret = ready(s, what)) != STORE_OK)
            return NULL;
        res = PQexecPrepared(s->conn, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                             p ? p->fmt : NULL, 0);
        if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK) {
            *ret = STORE_OK;
            return res;
        }
        *ret = fail_res(s, res, what);
        PQclear(res);
        if (!read_only || s->in_tx || PQstatus(s->conn) == CONNECTION_OK)
            break;
        s->last_reset_ms = 0; /* it just broke: try a new connection now */
    }
    return NULL;
}

/* Runs a write that returns nothing; *changes (when non-NULL) gets the rows it touched. */
static int run_write(struct pg *s, enum stmt_id id, const struct params *p, const char *what,
                     int64_t *changes)
{
    int ret;
    PGresult *res = run(s, id, p, false, what, &ret);

    if (res && changes)
        *changes = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return ret;
}

/* A write that must touch one row: STORE_NOTFOUND when it touched none. */
static int write_one(struct pg *s, enum stmt_id id, const struct params *p, const char *what)
{
    int64_t n = 0;
    int ret = run_write(s, id, p, what, &n);

    return ret == STORE_OK && n == 0 ? STORE_NOTFOUND : ret;
}

static int begin(struct pg *s, const char *what)
{
    int ret = ready(s, what);

    if (ret == STORE_OK && (ret = exec_cmd(s, "BEGIN", what)) == STORE_OK)
        s->in_tx = true;
    return ret;
}

static int commit(struct pg *s, const char *what)
{
    int ret = exec_cmd(s, "COMMIT", what);

    s->in_tx = false;
    return ret;
}

/* Undoes the open transaction (if the connection is gone, so is the transaction). */
static void rollback(struct pg *s)
{
    if (s->in_tx && PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    s->in_tx = false;
}

static int64_t col_int(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void col_text(const PGresult *res, int row, int col, char *buf, size_t cap)
{
    size_t len = (size_t)PQgetlength(res, row, col);

    if (len >= cap)
        len = cap - 1;
    memcpy(buf, PQgetvalue(res, row, col), len);
    buf[len] = '\0';
}

static void read_channel(const PGresult *res, int row, struct channel *c, int with_count)
{
    memset(c, 0, sizeof *c);
    c->id = col_int(res, row, 0);
    col_text(res, row, 1, c->pa_id, sizeof c->pa_id);
    col_text(res, row, 2, c->name, sizeof c->name);
    col_text(res, row, 3, c->uri, sizeof c->uri);
    col_text(res, row, 4, c->icon, sizeof c->icon);
    col_text(res, row, 5, c->background, sizeof c->background);
    col_text(res, row, 6, c->category, sizeof c->category);
    col_text(res, row, 7, c->subcategory, sizeof c->subcategory);
    col_text(res, row, 8, c->country, sizeof c->country);
    c->lat = strtod(PQgetvalue(res, row, 9), NULL);
    c->lon = strtod(PQgetvalue(res, row, 10), NULL);
    col_text(res, row, 11, c->webhook, sizeof c->webhook);
    c->state = (int)col_int(res, row, 12);
    c->rate_count = (int)col_int(res, row, 13);
    c->rate_window_s = (int)col_int(res, row, 14);
    c->created_ms = col_int(res, row, 15);
    c->epoch = (uint64_t)col_int(res, row, 16);
    c->posts_count = with_count ? col_int(res, row, CHANNEL_NCOLS) : 0;
}

/* ---- open / close ------------------------------------------------------------------------- */

/* libpq prints the server's notices on stderr by default; a NOTICE is nothing vcpd must say. */
static void no_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* The schema version under the migration lock (0: a database vcpd never opened). */
static int schema_version(struct pg *s, int *v)
{
    PGresult *res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
    int ret = STORE_OK;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        ret = fail_res(s, res, "schema version");
    else
        *v = (int)col_int(res, 0, 0);
    PQclear(res);
    return ret;
}

/*
 * Brings the schema up to date, one step per transaction.  Each transaction
 * first takes the migration advisory lock (released at its end) and reads
 * the version again under it, so instances starting together apply each
 * step once.
 */
static int migrate(struct pg *s, char *err, size_t err_len)
{
    const int latest = (int)store_pg_migrations_n;
    char sql[96];
    int v = 0;

    for (;;) {
        if (exec_cmd(s, "BEGIN", "migration") != STORE_OK ||
            exec_cmd(s, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", "migration lock") !=
                STORE_OK ||
            exec_cmd(s,
                     "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
                     " applied_ms bigint NOT NULL)",
                     "schema_version table") != STORE_OK ||
            schema_version(s, &v) != STORE_OK)
            goto fail;
        if (v < 0 || v > latest) {
            snprintf(err, err_len,
                     "postgresql: database schema version %d is not one this program knows "
                     "(0..%d); upgrade vcp",
                     v, latest);
            PQclear(PQexec(s->conn, "ROLLBACK"));
            return STORE_ERROR;
        }
        if (v == latest)
            return exec_cmd(s, "COMMIT", "migration") == STORE_OK ? STORE_OK : STORE_ERROR;
        snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%d, %" PRId64 ")", v + 1,
                 store_now_ms());
        if (exec_cmd(s, store_pg_migrations[v], "migration") != STORE_OK ||
            exec_cmd(s, sql, "migration") != STORE_OK ||
            exec_cmd(s, "COMMIT", "migration") != STORE_OK)
            goto fail;
    }
fail:
    snprintf(err, err_len, "postgresql: schema migration from version %d: %s", v, s->err);
    PQclear(PQexec(s->conn, "ROLLBACK"));
    return STORE_ERROR;
}

static void pg_close(struct store *st)
{
    struct pg *s = pg_of(st);

    if (!s)
        return;
    PQfinish(s->conn);
    free(s);
}

/* Our defaults first and the DSN after them, so its settings win (pg_watch.h). */
PGconn *pg_connect(const char *dsn)
{
    static const char *const keys[] = {
        "connect_timeout",     "keepalives",       "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout",
        "application_name",    "dbname",           NULL};
    const char *vals[] = {"5", "1", "10", "2", "3", "10000", "vcpd", dsn, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);

    if (conn)
        PQsetNoticeProcessor(conn, no_notices, NULL);
    return conn;
}

/*
 * Connects (pg_connect), migrates and prepares.  Returns STORE_OK with *out
 * set, or STORE_ERROR with err filled (never with the DSN) and *out NULL.
 */
static int pg_open(const char *dsn, struct store **out, char *err, size_t err_len)
{
    struct pg *s = calloc(1, sizeof *s);

    *out = NULL;
    if (!s) {
        snprintf(err, err_len, "postgresql: out of memory");
        return STORE_ERROR;
    }
    s->base.ops = &store_pg_ops;
    s->conn = pg_connect(dsn);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        set_err(s, "postgresql: cannot connect", s->conn ? PQerrorMessage(s->conn) : "no memory");
        snprintf(err, err_len, "%s", s->err);
        goto fail;
    }
    if (PQserverVersion(s->conn) < 100000) {
        snprintf(err, err_len, "postgresql: server version %d is too old (10 or later needed)",
                 PQserverVersion(s->conn));
        goto fail;
    }
    if (migrate(s, err, err_len) != STORE_OK)
        goto fail;
    if (setup_session(s) != STORE_OK) {
        snprintf(err, err_len, "postgresql: %s", s->err);
        goto fail;
    }
    s->err[0] = '\0';
    *out = &s->base;
    return STORE_OK;
fail:
    pg_close(&s->base);
    return STORE_ERROR;
}

static const char *pg_errmsg(struct store *st)
{
    return pg_of(st)->err;
}

/*
 * The attached watch's number (pg_watch.c: it moves with every change made
 * by any connection, and is 0 while the watch cannot hear them); without a
 * watch 0: "cannot tell", so callers cache nothing.  No query either way.
 */
static uint64_t pg_config_version(struct store *st)
{
    struct pg *s = pg_of(st);

    return s->watch ? pg_watch_version(s->watch) : 0;
}

static void pg_watch_attach(struct store *st, struct store_watch *w)
{
    pg_of(st)->watch = w;
}

/* One read of the channels table on this connection (after a reset if it was broken). */
static int pg_ping(struct store *st)
{
    struct pg *s = pg_of(st);
    int ret;

    PQclear(run(s, ST_PING, NULL, true, "ping", &ret));
    return ret;
}

/* ---- channels ----------------------------------------------------------------------------- */

static int insert_member(struct pg *s, int64_t channel, const struct member *m);

static int pg_channel_create(struct store *st, struct channel *c,
                             const uint8_t hash[STORE_HASH_LEN], const struct member *members,
                             size_t n)
{
    struct pg *s = pg_of(st);
    struct params p = {0};
    int64_t created = store_now_ms();
    PGresult *res;
    int ret;

    p_text(&p, c->pa_id, sizeof c->pa_id);
    p_bytes(&p, hash, STORE_HASH_LEN);
    p_text(&p, c->name, sizeof c->name);
    p_text(&p, c->uri, sizeof c->uri);
    p_text(&p, c->icon, sizeof c->icon);
    p_text(&p, c->background, sizeof c->background);
    p_text(&p, c->category, sizeof c->category);
    p_text(&p, c->subcategory, sizeof c->subcategory);
    p_text(&p, c->country, sizeof c->country);
    p_double(&p, c->lat);
    p_double(&p, c->lon);
    p_text(&p, c->webhook, sizeof c->webhook);
    p_int(&p, c->state);
    p_int(&p, c->rate_count);
    p_int(&p, c->rate_window_s);
    p_int(&p, created);
    p_int(&p, (int64_t)c->epoch);
    /* channel and members all or nothing: no channel nobody can post to is left behind */
    if (n > 0 && (ret = begin(s, "channel_create")) != STORE_OK)
        return ret;
    res = run(s, ST_CH_INSERT, &p, false, "channel_create", &ret);
    if (res) {
        c->id = col_int(res, 0, 0);
        PQclear(res);
    }
    for (size_t i = 0; i < n && ret == STORE_OK; i++)
        ret = insert_member(s, c->id, &members[i]);
    if (n > 0 && ret == STORE_OK)
        ret = commit(s, "channel_create");
    if (ret != STORE_OK) {
        rollback(s);
        c->id = 0;
        return ret;
    }
    c->created_ms = created;
    c->posts_count = 0;
    return STORE_OK;
}

/* Runs a channel query with one parameter that yields at most one row into *out. */
static int channel_one(struct pg *s, enum stmt_id id, const struct params *p, struct channel *out,
                       int with_count, const char *what)
{
    int ret;
    PGresult *res = run(s, id, p, true, what, &ret);

    if (!res)
        return ret;
    if (PQntuples(res) == 0)
        ret = STORE_NOTFOUND;
    else
        read_channel(res, 0, out, with_count);
    PQclear(res);
    return ret;
}

static int pg_channel_by_token(struct store *st, const uint8_t hash[STORE_HASH_LEN],
                               struct channel *out)
{
    struct params p = {0};

    p_bytes(&p, hash, STORE_HASH_LEN);
    return channel_one(pg_of(st), ST_CH_BY_TOKEN, &p, out, 0, "channel_by_token");
}

static int pg_channel_by_pa_id(struct store *st, const char *pa_id, struct channel *out)
{
    struct params p = {0};

    p_str(&p, pa_id);
    return channel_one(pg_of(st), ST_CH_BY_PA_ID, &p, out, 1, "channel_by_pa_id");
}

/*
 * Fills row (zeroed) from row i of res, a row of channel's (for the types that
 * carry it); -1 when out of memory, with what it took so far left in row.
 */
typedef int (*row_fill)(const PGresult *res, int i, void *row, int64_t channel);

/*
 * The rows of res as an array of size-byte elements, each filled by fill: *out
 * malloc'd (NULL and *n 0 when there are none).  Clears res.  Out of memory:
 * what was read goes through drop (which frees the array) and the op fails.
 * The one list-reading path of this file (channels, members, faults, journal
 * rows, posts), as read_rows is sqlite.c's.
 */
static int read_rows(struct pg *s, PGresult *res, size_t size, row_fill fill, int64_t channel,
                     void (*drop)(void *v, size_t n), const char *what, void *out, size_t *n)
{
    int rows = PQntuples(res);
    char *v = NULL;

    *n = 0;
    memset(out, 0, sizeof(void *));
    if (rows > 0 && !(v = calloc((size_t)rows, size)))
        goto oom;
    for (int i = 0; i < rows; i++) {
        if (fill(res, i, v + (size_t)i * size, channel) != 0) {
            drop(v, (size_t)i + 1);
            goto oom;
        }
    }
    PQclear(res);
    memcpy(out, &v, sizeof v);
    *n = (size_t)rows;
    return STORE_OK;
oom:
    PQclear(res);
    return fail_msg(s, what, "out of memory");
}

/* read_rows of statement id run for one channel's rows (its one parameter). */
static int list_of(struct pg *s, enum stmt_id id, int64_t channel, size_t size, row_fill fill,
                   void (*drop)(void *v, size_t n), const char *what, void *out, size_t *n)
{
    struct params p = {0};
    PGresult *res;
    int ret;

    *n = 0;
    memset(out, 0, sizeof(void *));
    p_int(&p, channel);
    if (!(res = run(s, id, &p, true, what, &ret)))
        return ret;
    return read_rows(s, res, size, fill, channel, drop, what, out, n);
}

/* drop of read_rows for rows that own nothing */
static void drop_plain(void *v, size_t n)
{
    (void)n;
    free(v);
}

static int fill_channel(const PGresult *res, int i, void *row, int64_t channel)
{
    (void)channel;
    read_channel(res, i, row, 1);
    return 0;
}

static int pg_channel_list(struct store *st, struct channel **out, size_t *n)
{
    struct pg *s = pg_of(st);
    int ret;
    PGresult *res = run(s, ST_CH_LIST, NULL, true, "channel_list", &ret);

    *out = NULL;
    *n = 0;
    if (!res)
        return ret;
    return read_rows(s, res, sizeof **out, fill_channel, 0, drop_plain, "channel_list", out, n);
}

static int pg_channel_set_state(struct store *st, int64_t id, int state)
{
    struct params p = {0};

    p_int(&p, id);
    p_int(&p, state);
    return write_one(pg_of(st), ST_CH_SET_STATE, &p, "channel_set_state");
}

static int pg_channel_set_token(struct store *st, int64_t id, const uint8_t hash[STORE_HASH_LEN])
{
    struct params p = {0};

    p_int(&p, id);
    p_bytes(&p, hash, STORE_HASH_LEN);
    return write_one(pg_of(st), ST_CH_SET_TOKEN, &p, "channel_set_token");
}

static int pg_channel_set_webhook(struct store *st, int64_t id, const char *url)
{
    struct params p = {0};

    p_int(&p, id);
    p_str(&p, url ? url : "");
    return write_one(pg_of(st), ST_CH_SET_WEBHOOK, &p, "channel_set_webhook");
}

static int pg_channel_set_rate(struct store *st, int64_t id, int count, int window_s)
{
    struct params p = {0};

    p_int(&p, id);
    p_int(&p, count);
    p_int(&p, window_s);
    return write_one(pg_of(st), ST_CH_SET_RATE, &p, "channel_set_rate");
}

static int pg_channel_set_details(struct store *st, int64_t id, const struct channel *c)
{
    struct params p = {0};

    p_int(&p, id);
    p_text(&p, c->name, sizeof c->name);
    p_text(&p, c->uri, sizeof c->uri);
    p_text(&p, c->icon, sizeof c->icon);
    p_text(&p, c->background, sizeof c->background);
    p_text(&p, c->category, sizeof c->category);
    p_text(&p, c->subcategory, sizeof c->subcategory);
    p_text(&p, c->country, sizeof c->country);
    p_double(&p, c->lat);
    p_double(&p, c->lon);
    return write_one(pg_of(st), ST_CH_SET_DETAILS, &p, "channel_set_details");
}

static int pg_channel_reset(struct store *st, int64_t id, uint64_t epoch, int64_t *posts)
{
    struct pg *s = pg_of(st);
    struct params p = {0}, one = {0};
    int64_t touched = 0;
    int ret;

    *posts = 0;
    p_int(&p, id);
    p_int(&p, (int64_t)epoch);
    p_int(&one, id);
    if ((ret = begin(s, "channel_reset")) != STORE_OK)
        return ret;
    if ((ret = run_write(s, ST_CH_SET_EPOCH, &p, "channel_reset", &touched)) != STORE_OK)
        goto undo;
    if (touched == 0) {
        ret = STORE_NOTFOUND;
        goto undo;
    }
    if ((ret = run_write(s, ST_CH_RESET_POSTS, &one, "channel_reset", posts)) != STORE_OK ||
        (ret = run_write(s, ST_CH_RESET_FAULTS, &one, "channel_reset", NULL)) != STORE_OK ||
        (ret = run_write(s, ST_CH_RESET_JOURNAL, &one, "channel_reset", NULL)) != STORE_OK ||
        (ret = commit(s, "channel_reset")) != STORE_OK)
        goto undo;
    return STORE_OK;
undo:
    rollback(s);
    *posts = 0;
    return ret;
}

/* The number in the one cell of a simple query's answer into *v. */
static int count_rows(struct pg *s, const char *sql, const char *what, int64_t *v)
{
    PGresult *res = PQexec(s->conn, sql);
    int ret = STORE_OK;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        ret = fail_res(s, res, what);
    else
        *v = col_int(res, 0, 0);
    PQclear(res);
    return ret;
}

/*
 * Everything goes in one transaction that first locks every table: no
 * other connection writes a journal row or a post between two of the
 * deletions (SQLite's write lock gives the same).  TRUNCATE ... RESTART
 * IDENTITY also starts the ids afresh, as SQLite's rowids do once a table
 * is empty: the first fault after a reset is fault 1 on both backends.
 */
static int pg_reset_all(struct store *st, int64_t *channels, int64_t *posts)
{
    struct pg *s = pg_of(st);
    int ret;

    *channels = *posts = 0;
    if ((ret = begin(s, "reset_all")) != STORE_OK)
        return ret;
    /* channels last: every other writer locks the row's table first and channels (its
     * foreign key) after it; the other order deadlocked with a journal_append */
    if ((ret = exec_cmd(s,
                        "LOCK TABLE journal, faults, posts, members, channels"
                        " IN ACCESS EXCLUSIVE MODE",
                        "reset_all")) != STORE_OK ||
        (ret = count_rows(s, "SELECT count(*) FROM posts", "reset_all", posts)) != STORE_OK ||
        (ret = count_rows(s, "SELECT count(*) FROM channels", "reset_all", channels)) != STORE_OK ||
        (ret = exec_cmd(s, "TRUNCATE posts, faults, journal, members, channels RESTART IDENTITY",
                        "reset_all")) != STORE_OK ||
        (ret = commit(s, "reset_all")) != STORE_OK) {
        rollback(s);
        *channels = *posts = 0;
        return ret;
    }
    return STORE_OK;
}

/* ---- faults ------------------------------------------------------------------------------- */

static int pg_fault_add(struct store *st, struct fault_row *f)
{
    struct pg *s = pg_of(st);
    struct params p = {0};
    int64_t created = store_now_ms();
    PGresult *res;
    int ret;

    p_int(&p, f->channel);
    p_str(&p, f->spec);
    if (f->remaining < 0)
        p_null(&p);
    else
        p_int(&p, f->remaining);
    p_int(&p, created);
    if (!(res = run(s, ST_FAULT_ADD, &p, false, "fault_add", &ret)))
        return ret;
    f->id = col_int(res, 0, 0);
    f->created_ms = created;
    f->seen = f->hits = 0;
    PQclear(res);
    return STORE_OK;
}

static void drop_faults(void *v, size_t n)
{
    store_faults_free(v, n);
}

static int fill_fault(const PGresult *res, int i, void *row, int64_t channel)
{
    struct fault_row *f = row;

    if (!(f->spec = strdup(PQgetvalue(res, i, 1))))
        return -1;
    f->id = col_int(res, i, 0);
    f->channel = channel;
    f->remaining = PQgetisnull(res, i, 2) ? -1 : col_int(res, i, 2);
    f->seen = col_int(res, i, 3);
    f->hits = col_int(res, i, 4);
    f->created_ms = col_int(res, i, 5);
    return 0;
}

static int pg_fault_list(struct store *st, int64_t channel, struct fault_row **out, size_t *n)
{
    return list_of(pg_of(st), ST_FAULT_LIST, channel, sizeof **out, fill_fault, drop_faults,
                   "fault_list", out, n);
}

static int pg_fault_remove(struct store *st, int64_t channel, int64_t id, int64_t *n)
{
    struct params p = {0};
    int ret;

    *n = 0;
    p_int(&p, channel);
    p_int(&p, id);
    if ((ret = run_write(pg_of(st), ST_FAULT_REMOVE, &p, "fault_remove", n)) != STORE_OK)
        return ret;
    return id > 0 && *n == 0 ? STORE_NOTFOUND : STORE_OK;
}

static int pg_fault_count(struct store *st, int64_t id, int64_t remaining, int64_t seen,
                          int64_t hits)
{
    struct params p = {0};

    p_int(&p, id);
    if (remaining < 0)
        p_null(&p);
    else
        p_int(&p, remaining);
    p_int(&p, seen);
    p_int(&p, hits);
    return write_one(pg_of(st), ST_FAULT_COUNT, &p, "fault_count"); /* NOTFOUND: removed */
}

/* ---- journal ------------------------------------------------------------------------------ */

static int pg_journal_append(struct store *st, struct journal_row *rows, size_t n, int64_t keep)
{
    struct pg *s = pg_of(st);
    int ret;

    if (n == 0)
        return STORE_OK;
    if ((ret = begin(s, "journal_append")) != STORE_OK)
        return ret;
    for (size_t i = 0; i < n; i++) {
        struct journal_row *j = &rows[i];
        struct params p = {0};
        PGresult *res;

        p_int(&p, j->channel);
        p_int(&p, j->time_ms);
        p_text(&p, j->endpoint, sizeof j->endpoint);
        p_int(&p, j->http);
        p_int(&p, j->status);
        p_text(&p, j->detail, sizeof j->detail);
        p_int(&p, j->latency_us);
        p_text(&p, j->fault, sizeof j->fault);
        p_str(&p, j->body);
        if (!(res = run(s, ST_JOURNAL_ADD, &p, false, "journal_append", &ret)))
            goto undo;
        j->id = PQntuples(res) ? col_int(res, 0, 0) : 0;
        PQclear(res);
    }
    for (size_t i = 0; i < n; i++) {
        struct params p = {0};
        bool seen = false; /* trim each channel once */

        for (size_t k = 0; k < i && !seen; k++)
            seen = rows[k].channel == rows[i].channel;
        if (seen)
            continue;
        p_int(&p, rows[i].channel);
        p_int(&p, keep);
        if ((ret = run_write(s, ST_JOURNAL_TRIM, &p, "journal_append", NULL)) != STORE_OK)
            goto undo;
    }
    if ((ret = commit(s, "journal_append")) == STORE_OK)
        return STORE_OK;
undo:
    rollback(s);
    return ret;
}

/* LIMIT is a signed 64-bit integer. */
static int64_t sql_limit(size_t limit)
{
    return limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
}

static void drop_journal(void *v, size_t n)
{
    store_journal_free(v, n);
}

static int fill_journal(const PGresult *res, int i, void *row, int64_t channel)
{
    struct journal_row *j = row;

    if (!(j->body = strdup(PQgetvalue(res, i, 8))))
        return -1;
    j->id = col_int(res, i, 0);
    j->channel = channel;
    j->time_ms = col_int(res, i, 1);
    col_text(res, i, 2, j->endpoint, sizeof j->endpoint);
    j->http = (int)col_int(res, i, 3);
    j->status = (int)col_int(res, i, 4);
    col_text(res, i, 5, j->detail, sizeof j->detail);
    j->latency_us = col_int(res, i, 6);
    col_text(res, i, 7, j->fault, sizeof j->fault);
    return 0;
}

static int pg_journal_list(struct store *st, int64_t channel, const struct journal_query *q,
                           struct journal_row **out, size_t *n)
{
    struct pg *s = pg_of(st);
    struct params p = {0};
    PGresult *res;
    int ret;

    *out = NULL;
    *n = 0;
    if (q->limit == 0)
        return STORE_OK;
    p_int(&p, channel);
    p_int(&p, q->before_id > 0 ? q->before_id : INT64_MAX);
    p_int(&p, q->since_ms);
    p_int(&p, q->status);
    p_str(&p, q->endpoint);
    p_int(&p, sql_limit(q->limit));
    if (!(res = run(s, ST_JOURNAL_LIST, &p, true, "journal_list", &ret)))
        return ret;
    return read_rows(s, res, sizeof **out, fill_journal, channel, drop_journal, "journal_list", out,
                     n);
}

/* ---- members ------------------------------------------------------------------------------ */

static int insert_member(struct pg *s, int64_t channel, const struct member *m)
{
    struct params p = {0};

    p_int(&p, channel);
    p_text(&p, m->id, sizeof m->id);
    p_text(&p, m->name, sizeof m->name);
    p_text(&p, m->avatar, sizeof m->avatar);
    p_int(&p, m->role);
    return run_write(s, ST_MB_ADD, &p, "member_add", NULL);
}

static int pg_member_add(struct store *st, int64_t channel, const struct member *m)
{
    return insert_member(pg_of(st), channel, m);
}

static int pg_member_remove(struct store *st, int64_t channel, const char *member_id)
{
    struct params p = {0};

    p_int(&p, channel);
    p_str(&p, member_id);
    return write_one(pg_of(st), ST_MB_REMOVE, &p, "member_remove");
}

static int fill_member(const PGresult *res, int i, void *row, int64_t channel)
{
    struct member *m = row;

    (void)channel;
    col_text(res, i, 0, m->id, sizeof m->id);
    col_text(res, i, 1, m->name, sizeof m->name);
    col_text(res, i, 2, m->avatar, sizeof m->avatar);
    m->role = (int)col_int(res, i, 3);
    return 0;
}

static int pg_member_list(struct store *st, int64_t channel, struct member **out, size_t *n)
{
    return list_of(pg_of(st), ST_MB_LIST, channel, sizeof **out, fill_member, drop_plain,
                   "member_list", out, n);
}

static int pg_member_role(struct store *st, int64_t channel, const char *member_id, int *role)
{
    struct pg *s = pg_of(st);
    struct params p = {0};
    PGresult *res;
    int ret;

    p_int(&p, channel);
    p_str(&p, member_id);
    if (!(res = run(s, ST_MB_ROLE, &p, true, "member_role", &ret)))
        return ret;
    if (PQntuples(res) == 0)
        ret = STORE_NOTFOUND;
    else
        *role = (int)col_int(res, 0, 0);
    PQclear(res);
    return ret;
}

/* ---- posts -------------------------------------------------------------------------------- */

static void sb_add(struct sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        char *np;

        while (ncap < b->len + len + 1)
            ncap *= 2;
        if (!(np = realloc(b->p, ncap))) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

/* Appends one element of an array literal: ",", then the number. */
static void sb_elem_int(struct sbuf *b, int64_t v, bool first)
{
    char num[24];
    int len = snprintf(num, sizeof num, "%s%" PRId64, first ? "" : ",", v);

    sb_add(b, num, (size_t)len);
}

/* Appends one quoted text element of an array literal ("..." with \" and \\ escaped). */
static void sb_elem_text(struct sbuf *b, const char *s, size_t len, bool first)
{
    size_t from = 0;

    sb_add(b, first ? "\"" : ",\"", first ? 1 : 2);
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        sb_add(b, s + from, i - from);
        sb_add(b, "\\", 1);
        from = i; /* the quote or backslash itself goes out with the next run */
    }
    sb_add(b, s + from, len - from);
    sb_add(b, "\"", 1);
}

static int read_posts(struct pg *s, PGresult *res, int64_t channel, const char *what,
                      struct post **out, size_t *n);

#define NODE_OF(token) ((unsigned)(((token) >> 12) & TOKGEN_NODE_MAX))

/* Most bytes of one NOTIFY payload of tokens (PostgreSQL's limit is 8000). */
#define NOTIFY_PAYLOAD_MAX 7000

/*
 * A batch's transaction opens with: the posts table's lock (taken before
 * the channel rows', the order reset_all takes them in), then the rows of
 * the batch's channels, locked in id order, and their last tokens; the
 * array literal of row ids goes between head and tail.
 */
#define LOCK_SQL_HEAD                                                                    \
    "BEGIN; LOCK TABLE posts IN ROW EXCLUSIVE MODE; SELECT id, last_token FROM channels" \
    " WHERE id = ANY('"
#define LOCK_SQL_TAIL "'::bigint[]) ORDER BY id FOR UPDATE"

/*
 * Under the locks of the batch's channel rows (LOCK_SQL_HEAD: row ids and
 * their last_token in res), raises every token of s->tokgen's node that is
 * not above its channel's last one (store.h): in batch order, so a
 * channel's posts also increase within the batch.  Its own node's tokens
 * too: those made before an earlier raise and still on their way lie below
 * it.  Only with a generator: the raised token must be one that no
 * generator of that node makes again, and only the generator can promise
 * it (so with one, a token of its node is never refused as stored twice:
 * the server never hands the writer one).
 */
static void raise_tokens(struct pg *s, const PGresult *res, struct post *p, size_t n)
{
    int rows = PQntuples(res);
    uint64_t *last = calloc((size_t)rows + 1, sizeof *last);
    int64_t *id = calloc((size_t)rows + 1, sizeof *id);

    if (!last || !id) /* cannot happen but out of memory: the database has the last word */
        goto out;
    for (int r = 0; r < rows; r++) {
        id[r] = col_int(res, r, 0);
        last[r] = (uint64_t)col_int(res, r, 1);
    }
    for (size_t i = 0; i < n; i++) {
        int r = 0;

        while (r < rows && id[r] != p[i].channel)
            r++;
        if (r == rows)
            continue; /* no such channel: the insert says so */
        if (p[i].token <= last[r] && NODE_OF(p[i].token) == s->tokgen->node)
            p[i].token = tokgen_raise(s->tokgen, last[r]);
        if (p[i].token > last[r])
            last[r] = p[i].token;
    }
out:
    free(last);
    free(id);
}

/*
 * All n posts in one transaction, or none: lock the channel rows (after
 * posts' table, the order reset_all takes them in), raise tokens where
 * needed, then ST_POST_BATCH -- the rows from array literals, one element
 * per post, the channels' counters and last tokens, and the NOTIFY of the
 * stored tokens (several payloads for a large batch) -- and commit.
 */
static int pg_post_insert_batch(struct store *st, struct post *p, size_t n)
{
    struct pg *s = pg_of(st);
    struct sbuf col[7] = {{0}}, chans = {0};
    struct sbuf lock_sql = {0};
    struct params prm = {0};
    size_t payload = 0;
    PGresult *res;
    const char *why;
    int ret = STORE_OK;

    if (n == 0)
        return STORE_OK;
    for (size_t i = 0; i < n; i++)
        if ((why = store_post_malformed(&p[i])) != NULL)
            return fail_msg(s, "post_insert_batch", why);
    sb_add(&chans, "{", 1);
    for (size_t i = 0; i < n; i++)
        sb_elem_int(&chans, p[i].channel, i == 0);
    sb_add(&chans, "}", 1);
    if (chans.oom) {
        ret = fail_msg(s, "post_insert_batch", "out of memory");
        goto out;
    }
    /* BEGIN, the table lock and the channel rows' locks in one round trip
     * (a simple query of three statements; its result is the last one's):
     * chans holds only digits, commas and braces, written above. */
    sb_add(&lock_sql, LOCK_SQL_HEAD, strlen(LOCK_SQL_HEAD));
    sb_add(&lock_sql, chans.p, chans.len);
    sb_add(&lock_sql, LOCK_SQL_TAIL, strlen(LOCK_SQL_TAIL));
    if (lock_sql.oom) {
        ret = fail_msg(s, "post_insert_batch", "out of memory");
        goto out;
    }
    if ((ret = ready(s, "post_insert_batch")) != STORE_OK)
        goto out;
    s->in_tx = true;
    res = PQexec(s->conn, lock_sql.p);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ret = fail_res(s, res, "post_insert_batch");
        PQclear(res);
        goto undo;
    }
    if (s->tokgen)
        raise_tokens(s, res, p, n);
    PQclear(res);
    for (int c = 0; c < 7; c++)
        sb_add(&col[c], "{", 1);
    for (size_t i = 0; i < n; i++) {
        bool first = i == 0;
        char tok[24];
        int len = snprintf(tok, sizeof tok, "%" PRIu64, p[i].token);

        sb_elem_int(&col[0], (int64_t)p[i].token, first);
        sb_elem_int(&col[1], p[i].channel, first);
        sb_elem_int(&col[2], p[i].created_ms, first);
        sb_elem_text(&col[3], p[i].type, strnlen(p[i].type, sizeof p[i].type), first);
        sb_elem_text(&col[4], p[i].from, strnlen(p[i].from, sizeof p[i].from), first);
        sb_elem_text(&col[5], p[i].json, strlen(p[i].json), first);
        /* the payloads: "t1,t2,..." elements of a text array, each under the limit */
        if (first || payload + (size_t)len + 1 > NOTIFY_PAYLOAD_MAX) {
            sb_add(&col[6], first ? "\"" : "\",\"", first ? 1 : 3);
            payload = 0;
        } else {
            sb_add(&col[6], ",", 1);
        }
        sb_add(&col[6], tok, (size_t)len);
        payload += (size_t)len + 1;
    }
    sb_add(&col[6], "\"", 1);
    for (int c = 0; c < 7; c++) {
        sb_add(&col[c], "}", 1);
        if (col[c].oom) {
            ret = fail_msg(s, "post_insert_batch", "out of memory");
            goto undo;
        }
        prm.v[c] = col[c].p;
        prm.fmt[c] = 0;
    }
    prm.n = 7;
    if ((ret = run_write(s, ST_POST_BATCH, &prm, "post_insert_batch", NULL)) != STORE_OK ||
        (ret = commit(s, "post_insert_batch")) != STORE_OK)
        goto undo;
    goto out;
undo:
    rollback(s);
out:
    for (int c = 0; c < 7; c++)
        free(col[c].p);
    free(chans.p);
    free(lock_sql.p);
    return ret;
}

static int pg_post_get(struct store *st, const uint64_t *tokens, size_t n, struct post **out,
                       size_t *nout)
{
    struct pg *s = pg_of(st);
    struct sbuf arr = {0};
    struct params p = {0};
    struct post *v = NULL;
    int64_t *ch = NULL;
    PGresult *res;
    int ret, rows;

    *out = NULL;
    *nout = 0;
    if (n == 0)
        return STORE_OK;
    sb_add(&arr, "{", 1);
    for (size_t i = 0; i < n; i++)
        sb_elem_int(&arr, (int64_t)tokens[i], i == 0);
    sb_add(&arr, "}", 1);
    if (arr.oom) {
        free(arr.p);
        return fail_msg(s, "post_get", "out of memory");
    }
    p.v[0] = arr.p;
    p.n = 1;
    res = run(s, ST_POST_GET, &p, true, "post_get", &ret);
    free(arr.p);
    if (!res)
        return ret;
    rows = PQntuples(res);
    if (rows > 0 && !(ch = calloc((size_t)rows, sizeof *ch))) {
        PQclear(res);
        return fail_msg(s, "post_get", "out of memory");
    }
    for (int i = 0; i < rows; i++)
        ch[i] = col_int(res, i, 5);
    if ((ret = read_posts(s, res, 0, "post_get", &v, nout)) == STORE_OK) { /* clears res */
        for (int i = 0; i < rows; i++)
            v[i].channel = ch[i];
        *out = v;
    }
    free(ch);
    return ret;
}

static void pg_set_tokgen(struct store *st, struct tokgen *g)
{
    pg_of(st)->tokgen = g;
}

static void drop_posts(void *v, size_t n)
{
    store_posts_free(v, n);
}

static int fill_post(const PGresult *res, int i, void *row, int64_t channel)
{
    struct post *p = row;
    char *json = strdup(PQgetvalue(res, i, 4));

    if (!json)
        return -1;
    p->json = json;
    p->token = (uint64_t)col_int(res, i, 0);
    p->channel = channel;
    p->created_ms = col_int(res, i, 1);
    col_text(res, i, 2, p->type, sizeof p->type);
    col_text(res, i, 3, p->from, sizeof p->from);
    return 0;
}

/* Collects the rows of (token, created_ms, type, sender, body) of res as posts of channel. */
static int read_posts(struct pg *s, PGresult *res, int64_t channel, const char *what,
                      struct post **out, size_t *n)
{
    return read_rows(s, res, sizeof **out, fill_post, channel, drop_posts, what, out, n);
}

static int pg_post_list(struct store *st, int64_t channel, uint64_t before, const char *type,
                        size_t limit, struct post **out, size_t *n)
{
    struct pg *s = pg_of(st);
    struct params p = {0};
    PGresult *res;
    int ret;

    *out = NULL;
    *n = 0;
    if (limit == 0)
        return STORE_OK;
    /* token < before as token <= before - 1, so "from the newest" includes 2^63 - 1 */
    uint64_t last = before == 0 || before > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : before - 1;
    p_int(&p, channel);
    p_int(&p, (int64_t)last);
    p_str(&p, type);
    p_int(&p, sql_limit(limit));
    if (!(res = run(s, ST_POST_LIST, &p, true, "post_list", &ret)))
        return ret;
    return read_posts(s, res, channel, "post_list", out, n);
}

static int pg_post_list_after(struct store *st, int64_t channel, uint64_t after, size_t limit,
                              struct post **out, size_t *n)
{
    struct pg *s = pg_of(st);
    struct params p = {0};
    PGresult *res;
    int ret;

    *out = NULL;
    *n = 0;
    if (limit == 0 || after >= (uint64_t)INT64_MAX)
        return STORE_OK;
    p_int(&p, channel);
    p_int(&p, (int64_t)after);
    p_int(&p, sql_limit(limit));
    if (!(res = run(s, ST_POST_AFTER, &p, true, "post_list_after", &ret)))
        return ret;
    return read_posts(s, res, channel, "post_list_after", out, n);
}

/* ---- node id leases ---------------------------------------------------------------------- */

static int pg_node_acquire(struct store *st, int want, const char *holder, int64_t ttl_ms,
                           struct node_lease *out)
{
    struct pg *s = pg_of(st);
    struct params p = {0}, h = {0}, put = {0};
    PGresult *res = NULL;
    int64_t until;
    int node = want;
    int ret;

    memset(out, 0, sizeof *out);
    out->node = -1;
    if (want < -1 || want > 1023)
        return fail_msg(s, "node_acquire", "node id out of range 0..1023");
    if ((ret = begin(s, "node_acquire")) != STORE_OK)
        return ret;
    if ((ret = run_write(s, ST_NODE_LOCK, NULL, "node_acquire", NULL)) != STORE_OK)
        goto undo;
    if (want < 0) {
        p_str(&h, holder);
        if (!(res = run(s, ST_NODE_FREE, &h, false, "node_acquire", &ret)))
            goto undo;
        node = PQgetisnull(res, 0, 0) ? -1 : (int)col_int(res, 0, 0);
        PQclear(res);
        if (node < 0) {
            fail_msg(s, "node_acquire", "all 1024 node ids are held");
            ret = STORE_EXISTS;
            goto undo;
        }
    } else {
        p_int(&p, want);
        p_str(&p, holder);
        if (!(res = run(s, ST_NODE_HELD, &p, false, "node_acquire", &ret)))
            goto undo;
        if (PQntuples(res) > 0) {
            out->node = want;
            col_text(res, 0, 0, out->holder, sizeof out->holder);
            out->expires_ms = col_int(res, 0, 1);
            PQclear(res);
            ret = STORE_EXISTS;
            goto undo;
        }
        PQclear(res);
    }
    p_int(&put, node);
    p_str(&put, holder);
    p_int(&put, ttl_ms);
    if (!(res = run(s, ST_NODE_PUT, &put, false, "node_acquire", &ret)))
        goto undo;
    until = col_int(res, 0, 0);
    PQclear(res);
    if ((ret = commit(s, "node_acquire")) != STORE_OK)
        goto undo;
    out->node = node;
    out->expires_ms = until;
    snprintf(out->holder, sizeof out->holder, "%s", holder);
    return STORE_OK;
undo:
    rollback(s);
    return ret;
}

static int pg_node_renew(struct store *st, int node, const char *holder, int64_t ttl_ms)
{
    struct params p = {0};

    p_int(&p, node);
    p_str(&p, holder);
    p_int(&p, ttl_ms);
    return write_one(pg_of(st), ST_NODE_RENEW, &p, "node_renew");
}

static int pg_node_release(struct store *st, int node, const char *holder)
{
    struct params p = {0};

    p_int(&p, node);
    p_str(&p, holder);
    return run_write(pg_of(st), ST_NODE_RELEASE, &p, "node_release", NULL);
}

static int pg_node_last_token(struct store *st, int node, uint64_t *token)
{
    struct pg *s = pg_of(st);
    struct params p = {0};
    PGresult *res;
    int ret;

    *token = 0;
    p_int(&p, node);
    if (!(res = run(s, ST_NODE_LAST, &p, true, "node_last_token", &ret)))
        return ret;
    if (PQntuples(res) > 0)
        *token = (uint64_t)col_int(res, 0, 0);
    PQclear(res);
    return STORE_OK;
}

static int pg_rate_claim(struct store *st, int64_t channel, uint64_t epoch, int count, int window_s,
                         int want, int *got)
{
    struct pg *s = pg_of(st);
    struct params p = {0};
    PGresult *res;
    int ret;

    *got = 0;
    p_int(&p, channel);
    p_int(&p, (int64_t)epoch);
    p_int(&p, count);
    p_int(&p, window_s > 0 ? window_s : 1);
    p_int(&p, want);
    if (!(res = run(s, ST_RATE_CLAIM, &p, false, "rate_claim", &ret)))
        return ret;
    *got = (int)col_int(res, 0, 0);
    PQclear(res);
    return STORE_OK;
}

/* ---- a change in force everywhere once done ------------------------------------------- */

/*
 * After a configuration change of s committed: sends a marker behind it and
 * waits (at most STORE_SYNC_MAX_MS) until the watch of every live node lease
 * has answered that it heard it, and so the change (store.h,
 * store_watch_open): then the change is in force on every running instance.
 * Notifications are delivered in commit order, so the marker comes after the
 * change at every watch.  Returns ret unchanged: the change is done either
 * way, the wait only decides when the caller hears so.
 */
static int synced(struct pg *s, int ret)
{
    bool pending[TOKGEN_NODE_MAX + 1] = {false}; /* nodes whose answer is awaited */
    struct timespec ts;
    char sql[384];
    int64_t deadline;
    uint64_t nonce;
    PGresult *res;
    PGnotify *n;
    int count = 0;

    if (ret != STORE_OK || s->in_tx || PQstatus(s->conn) != CONNECTION_OK)
        return ret;
    clock_gettime(CLOCK_REALTIME, &ts);
    nonce = ((uint64_t)ts.tv_sec % 100000 * 1000000000ULL + (uint64_t)ts.tv_nsec) * 1000 +
            (uint64_t)getpid() % 1000;
    snprintf(sql, sizeof sql,
             "LISTEN " PG_ACK_CHANNEL ";"
             "SELECT pg_notify('" PG_CONFIG_CHANNEL "', '" PG_SYNC_PREFIX "%" PRIu64 "'),"
             " (SELECT string_agg(node::text, ',') FROM node_leases WHERE expires_ms > " NOW_MS ")",
             nonce);
    res = PQexec(s->conn, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        for (const char *p = PQgetvalue(res, 0, 1); *p;) {
            char *end;
            long node = strtol(p, &end, 10);

            if (end == p)
                break;
            if (node >= 0 && node <= TOKGEN_NODE_MAX && !pending[node]) {
                pending[node] = true;
                count++;
            }
            p = *end == ',' ? end + 1 : end;
        }
    }
    PQclear(res);
    deadline = mono_ms() + STORE_SYNC_MAX_MS;
    while (count > 0 && mono_ms() < deadline) {
        struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN};

        if (poll(&pfd, 1, (int)(deadline - mono_ms())) <= 0 || !PQconsumeInput(s->conn))
            break;
        while ((n = PQnotifies(s->conn))) {
            char *end;
            unsigned long long got = strtoull(n->extra, &end, 10);
            long node = *end == ' ' ? strtol(end + 1, NULL, 10) : -1;

            if (strcmp(n->relname, PG_ACK_CHANNEL) == 0 && got == nonce && node >= 0 &&
                node <= TOKGEN_NODE_MAX && pending[node]) {
                pending[node] = false;
                count--;
            }
            PQfreemem(n);
        }
    }
    PQclear(PQexec(s->conn, "UNLISTEN " PG_ACK_CHANNEL));
    while ((n = PQnotifies(s->conn)))
        PQfreemem(n);
    return ret;
}

/* A configuration op that returns once its change is in force everywhere (synced). */
#define SYNCED(op, params, args)           \
    static int op##_synced params          \
    {                                      \
        return synced(pg_of(st), op args); \
    }
SYNCED(pg_channel_create,
       (struct store * st, struct channel *c, const uint8_t hash[STORE_HASH_LEN],
        const struct member *members, size_t n),
       (st, c, hash, members, n))
SYNCED(pg_channel_set_state, (struct store * st, int64_t id, int state), (st, id, state))
SYNCED(pg_channel_set_token, (struct store * st, int64_t id, const uint8_t hash[STORE_HASH_LEN]),
       (st, id, hash))
SYNCED(pg_channel_set_webhook, (struct store * st, int64_t id, const char *url), (st, id, url))
SYNCED(pg_channel_set_rate, (struct store * st, int64_t id, int count, int window_s),
       (st, id, count, window_s))
SYNCED(pg_channel_set_details, (struct store * st, int64_t id, const struct channel *c),
       (st, id, c))
SYNCED(pg_channel_reset, (struct store * st, int64_t id, uint64_t epoch, int64_t *posts),
       (st, id, epoch, posts))
SYNCED(pg_reset_all, (struct store * st, int64_t *channels, int64_t *posts), (st, channels, posts))
SYNCED(pg_fault_add, (struct store * st, struct fault_row *f), (st, f))
SYNCED(pg_fault_remove, (struct store * st, int64_t channel, int64_t id, int64_t *n),
       (st, channel, id, n))
SYNCED(pg_member_add, (struct store * st, int64_t channel, const struct member *m),
       (st, channel, m))
SYNCED(pg_member_remove, (struct store * st, int64_t channel, const char *member_id),
       (st, channel, member_id))

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .errmsg = pg_errmsg,
    .config_version = pg_config_version,
    .ping = pg_ping,
    .channel_create = pg_channel_create_synced,
    .channel_by_token = pg_channel_by_token,
    .channel_by_pa_id = pg_channel_by_pa_id,
    .channel_list = pg_channel_list,
    .channel_set_state = pg_channel_set_state_synced,
    .channel_set_token = pg_channel_set_token_synced,
    .channel_set_webhook = pg_channel_set_webhook_synced,
    .channel_set_rate = pg_channel_set_rate_synced,
    .channel_set_details = pg_channel_set_details_synced,
    .channel_reset = pg_channel_reset_synced,
    .reset_all = pg_reset_all_synced,
    .fault_add = pg_fault_add_synced,
    .fault_list = pg_fault_list,
    .fault_remove = pg_fault_remove_synced,
    .fault_count = pg_fault_count,
    .journal_append = pg_journal_append,
    .journal_list = pg_journal_list,
    .member_add = pg_member_add_synced,
    .member_remove = pg_member_remove_synced,
    .member_list = pg_member_list,
    .member_role = pg_member_role,
    .post_insert_batch = pg_post_insert_batch,
    .post_list = pg_post_list,
    .post_list_after = pg_post_list_after,
    .node_acquire = pg_node_acquire,
    .node_renew = pg_node_renew,
    .node_release = pg_node_release,
    .node_last_token = pg_node_last_token,
    .watch_attach = pg_watch_attach,
    .rate_claim = pg_rate_claim,
    .post_get = pg_post_get,
    .set_tokgen = pg_set_tokgen,
};
