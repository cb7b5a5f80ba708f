/*
 * The SQLite backend of the store (store.h): one file in WAL mode.
 *
 * Durability and sharing.  Every connection runs with synchronous=FULL, so a
 * commit returns only after the WAL is on disk: a post acknowledged with
 * status 0 survives a power cut.  WAL lets the HTTP thread read while the
 * group-commit writer writes, and an offline admin CLI may write to the same
 * file at the same time: writers queue on SQLite's write lock through a busy
 * handler (on_busy: up to 5 s, polling often enough not to starve), and
 * multi-statement writes start with BEGIN IMMEDIATE so they take that lock
 * up front instead of failing with SQLITE_BUSY half-way through.
 *
 * Speed.  Every statement is prepared once per connection, at open, and
 * reused (reset + clear_bindings).  channel_by_token, on the path of every
 * request, is one lookup in the UNIQUE index on token_hash; it leaves
 * posts_count at 0 (the cached channel would only carry a stale number).
 * post_insert_batch puts a whole group of posts in one transaction, so one
 * fsync covers all of them, and adds them to their channels' counts
 * (post_counts) in that same transaction: reading a channel never counts
 * its posts, and that one write per channel is also the batch's check that
 * the channel exists (count_channel).
 *
 * Errors.  Each connection keeps the text of its last failure in its own
 * buffer (store_errmsg).  Values are always bound, never spliced into SQL,
 * so SQLite's messages name tables and columns, never token hashes.
 */
#include "store/store.h"
#include "store/sqlite_schema.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 5000    /* how long a write waits for the lock before failing */
#define BUSY_POLL_NS    1000000 /* how often it tries meanwhile */
#define ERR_MAX         256

/* The columns read_channel() expects, in its order. */
#define CHANNEL_COLS                                                                     \
    "id, pa_id, name, uri, icon, background, category, subcategory, country, lat, lon, " \
    "webhook, state, rate_count, rate_window_s, created_ms, epoch"
#define CHANNEL_NCOLS 17
/* the counter post_insert_batch keeps (schema step 5: post_counts), 0 without a row */
#define POSTS_COUNT "coalesce((SELECT n FROM post_counts WHERE channel = channels.id), 0)"

/*
 * Connection settings.  journal_mode and synchronous first, before anything
 * touches the file; cache_size is negative KiB (8 MiB per connection);
 * journal_size_limit trims the WAL back after a checkpoint.
 */
static const char *const pragmas[] = {
    "PRAGMA journal_mode = WAL", /* must stay first: sq_open checks its answer */
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA cache_size = -8192",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA journal_size_limit = 16777216",
};

/*
 * Most rows of one post INSERT: a batch is written up to POST_ROWS rows to a
 * statement (insert_posts), one VDBE program run for all of them.  Each row
 * is POST_COLS anonymous parameters, bound in order.
 */
#define POST_ROWS 16
#define POST_COLS 6

/* Every statement a connection uses, prepared at open. */
enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
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
    ST_RESET_FAULTS,
    ST_FAULT_ADD,
    ST_FAULT_LIST,
    ST_FAULT_REMOVE,
    ST_FAULT_COUNT,
    ST_CH_RESET_JOURNAL,
    ST_RESET_JOURNAL,
    ST_JOURNAL_ADD,
    ST_JOURNAL_TRIM,
    ST_JOURNAL_LIST,
    ST_RESET_POSTS,
    ST_RESET_MEMBERS,
    ST_RESET_CHANNELS,
    ST_MB_ADD,
    ST_MB_REMOVE,
    ST_MB_LIST,
    ST_MB_ROLE,
    ST_POST_INSERT,
    ST_POST_COUNT_ADD,
    ST_POST_COUNT_NEW,
    ST_POST_LIST,
    ST_POST_AFTER,
    ST_DATA_VERSION,
    ST_CONFIG_VERSION,
    ST_NODE_GET,
    ST_NODE_LIVE,
    ST_NODE_PUT,
    ST_NODE_RENEW,
    ST_NODE_RELEASE,
    ST_NODE_LAST,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PING] = "SELECT 1 FROM channels LIMIT 1",
    [ST_CH_INSERT] = "INSERT INTO channels (pa_id, token_hash, name, uri, icon, background,"
                     " category, subcategory, country, lat, lon, webhook, state, rate_count,"
                     " rate_window_s, created_ms, epoch)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                     " ?16, ?17)",
    [ST_CH_BY_TOKEN] = "SELECT " CHANNEL_COLS " FROM channels WHERE token_hash = ?1",
    [ST_CH_BY_PA_ID] = "SELECT " CHANNEL_COLS ", " POSTS_COUNT " FROM channels WHERE pa_id = ?1",
    [ST_CH_LIST] = "SELECT " CHANNEL_COLS ", " POSTS_COUNT " FROM channels ORDER BY id",
    [ST_CH_SET_STATE] = "UPDATE channels SET state = ?2 WHERE id = ?1",
    [ST_CH_SET_TOKEN] = "UPDATE channels SET token_hash = ?2 WHERE id = ?1",
    [ST_CH_SET_WEBHOOK] = "UPDATE channels SET webhook = ?2 WHERE id = ?1",
    [ST_CH_SET_RATE] = "UPDATE channels SET rate_count = ?2, rate_window_s = ?3 WHERE id = ?1",
    [ST_CH_SET_DETAILS] = "UPDATE channels SET name = ?2, uri = ?3, icon = ?4, background = ?5,"
                          " category = ?6, subcategory = ?7, country = ?8, lat = ?9, lon = ?10"
                          " WHERE id = ?1",
    [ST_CH_RESET_POSTS] = "DELETE FROM posts WHERE channel = ?1",
    /* a reset: new epoch (a trigger forgets the count of the deleted posts) */
    [ST_CH_SET_EPOCH] = "UPDATE channels SET epoch = ?2 WHERE id = ?1",
    [ST_CH_RESET_FAULTS] = "DELETE FROM faults WHERE channel = ?1",
    [ST_RESET_FAULTS] = "DELETE FROM faults",
    [ST_FAULT_ADD] = "INSERT INTO faults (channel, spec, remaining, seen, hits, created_ms)"
                     " VALUES (?1, ?2, ?3, 0, 0, ?4)",
    [ST_FAULT_LIST] = "SELECT id, spec, remaining, seen, hits, created_ms FROM faults"
                      " WHERE channel = ?1 ORDER BY id",
    [ST_FAULT_REMOVE] = "DELETE FROM faults WHERE channel = ?1 AND (?2 = 0 OR id = ?2)",
    [ST_FAULT_COUNT] = "UPDATE faults SET remaining = ?2, seen = ?3, hits = ?4 WHERE id = ?1",
    [ST_CH_RESET_JOURNAL] = "DELETE FROM journal WHERE channel = ?1",
    [ST_RESET_JOURNAL] = "DELETE FROM journal",
    /* a row of a channel gone meanwhile (a whole reset) is skipped, not an error */
    [ST_JOURNAL_ADD] = "INSERT INTO journal (channel, time_ms, endpoint, http, status, detail,"
                       " latency_us, fault, body) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9"
                       " WHERE EXISTS (SELECT 1 FROM channels WHERE id = ?1)",
    [ST_JOURNAL_TRIM] = "DELETE FROM journal WHERE channel = ?1 AND id <= (SELECT id FROM journal"
                        " WHERE channel = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    [ST_JOURNAL_LIST] =
        "SELECT id, time_ms, endpoint, http, status, detail, latency_us, fault, body"
        " FROM journal WHERE channel = ?1 AND id < ?2 AND time_ms >= ?3"
        " AND (?4 < 0 OR status = ?4) AND (?5 IS NULL OR endpoint = ?5)"
        " ORDER BY id DESC LIMIT ?6",
    [ST_RESET_POSTS] = "DELETE FROM posts",
    [ST_RESET_MEMBERS] = "DELETE FROM members",
    [ST_RESET_CHANNELS] = "DELETE FROM channels",
    [ST_MB_ADD] = "INSERT INTO members (channel, member_id, name, avatar, role)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_MB_REMOVE] = "DELETE FROM members WHERE channel = ?1 AND member_id = ?2",
    [ST_MB_LIST] = "SELECT member_id, name, avatar, role FROM members WHERE channel = ?1"
                   " ORDER BY position",
    [ST_MB_ROLE] = "SELECT role FROM members WHERE channel = ?1 AND member_id = ?2",
    [ST_POST_INSERT] = "INSERT INTO posts (token, channel, created_ms, type, sender, body)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* a channel's count, then (no row yet) its first, only for a channel that exists: the
     * batch's one check of the channel (schema step 6; a count row goes with its channel) */
    [ST_POST_COUNT_ADD] = "UPDATE post_counts SET n = n + ?2 WHERE channel = ?1",
    [ST_POST_COUNT_NEW] = "INSERT INTO post_counts (channel, n) SELECT ?1, ?2 FROM channels"
                          " WHERE id = ?1",
    [ST_POST_LIST] = "SELECT token, created_ms, type, sender, body FROM posts"
                     " WHERE channel = ?1 AND token <= ?2 AND (?3 IS NULL OR type = ?3)"
                     " ORDER BY token DESC LIMIT ?4",
    [ST_POST_AFTER] = "SELECT token, created_ms, type, sender, body FROM posts"
                      " WHERE channel = ?1 AND token > ?2 ORDER BY token LIMIT ?3",
    [ST_DATA_VERSION] = "PRAGMA data_version",
    [ST_CONFIG_VERSION] = "SELECT version FROM config WHERE id = 1",
    [ST_NODE_GET] = "SELECT holder, expires_ms FROM node_leases WHERE node = ?1",
    [ST_NODE_LIVE] = "SELECT node FROM node_leases WHERE expires_ms > ?1 AND holder <> ?2",
    [ST_NODE_PUT] = "INSERT OR REPLACE INTO node_leases (node, holder, expires_ms)"
                    " VALUES (?1, ?2, ?3)",
    [ST_NODE_RENEW] = "UPDATE node_leases SET expires_ms = ?3 WHERE node = ?1 AND holder = ?2",
    [ST_NODE_RELEASE] = "DELETE FROM node_leases WHERE node = ?1 AND holder = ?2",
    /* newest first along the table's b-tree, so a node that posted lately is found at once */
    [ST_NODE_LAST] = "SELECT token FROM posts WHERE (token >> 12) & 1023 = ?1"
                     " ORDER BY token DESC LIMIT 1",
};

/* One connection.  base must come first: store.h's wrappers read s->ops. */
struct sq {
    struct store base;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT]; /* prepared at open, finalized at close */
    char err[ERR_MAX];          /* last failure, "" until one happens */
    int64_t busy_since_ns;      /* when the current wait for a lock began (on_busy) */
    /* config version (see sq_config_version): the last one read, 0 before any, and what
     * data_version and own_changes were then */
    uint64_t version;
    int64_t seen_data_version;
    uint64_t seen_own;
    int64_t checked_ns;   /* store_mono_ns() of the last PRAGMA data_version */
    uint64_t own_changes; /* changes this connection committed (bump_version) */
    /* the board this connection shares its readings through (NULL: none), and the reading
     * it took from there last (0: none) with the time that holds for */
    struct store_board *board;
    uint64_t lent;
    int64_t lent_ns;
    /* ins[k]: the INSERT of k posts (2..POST_ROWS), prepared at its first use (insert_posts) */
    sqlite3_stmt *ins[POST_ROWS + 1];
};

/* Stops a function at the first failing sqlite3_bind_* (rc must be in scope). */
#define BIND(call)                      \
    do {                                \
        if ((rc = (call)) != SQLITE_OK) \
            goto out;                   \
    } while (0)

static struct sq *sq_of(struct store *s)
{
    return (struct sq *)s;
}

/*
 * Records why `what` failed with SQLite result rc and maps rc to a store_rc:
 * a taken unique key is STORE_EXISTS, a missing parent row (foreign key) is
 * STORE_NOTFOUND, anything else STORE_ERROR.  Call before resetting the
 * statement, while sqlite3_errmsg still describes the failure.
 */
static int fail(struct sq *s, int rc, const char *what)
{
    snprintf(s->err, sizeof s->err, "%s: %s (sqlite %d)", what, sqlite3_errmsg(s->db), rc);
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return STORE_EXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return STORE_NOTFOUND;
    default:
        return STORE_ERROR;
    }
}

/* Records a failure that is ours, not SQLite's; returns STORE_ERROR. */
static int fail_msg(struct sq *s, const char *what, const char *why)
{
    snprintf(s->err, sizeof s->err, "%s: %s", what, why);
    return STORE_ERROR;
}

/* Makes stmt ready for its next use; its step result was already handled. */
static void done_with(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/*
 * Ends a statement's use: ret, or fail()'s mapping of rc (recorded as what's
 * failure) when ret is still STORE_OK and rc is not SQLITE_OK; resets stmt.
 */
static int finish(struct sq *s, sqlite3_stmt *stmt, int rc, int ret, const char *what)
{
    if (ret == STORE_OK && rc != SQLITE_OK)
        ret = fail(s, rc, what);
    done_with(stmt);
    return ret;
}

/* Binds a fixed-size, NUL-terminated struct field (never reads past cap). */
static int bind_field(sqlite3_stmt *stmt, int i, const char *v, size_t cap)
{
    return sqlite3_bind_text(stmt, i, v, (int)strnlen(v, cap), SQLITE_STATIC);
}

/* Copies text column i into buf of size cap, truncating, always terminated. */
static void col_text(sqlite3_stmt *stmt, int i, char *buf, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(stmt, i);
    size_t len = v ? (size_t)sqlite3_column_bytes(stmt, i) : 0;

    if (len >= cap)
        len = cap - 1;
    if (len)
        memcpy(buf, v, len);
    buf[len] = '\0';
}

/* Copies text column i into a malloc'd, NUL-terminated *out; STORE_ERROR
 * (recorded as what's failure) when memory runs out. */
static int col_dup(struct sq *s, sqlite3_stmt *stmt, int i, const char *what, char **out)
{
    const unsigned char *v = sqlite3_column_text(stmt, i);
    size_t len = v ? (size_t)sqlite3_column_bytes(stmt, i) : 0;

    if (!(*out = malloc(len + 1)))
        return fail_msg(s, what, "out of memory");
    if (len)
        memcpy(*out, v, len);
    (*out)[len] = '\0';
    return STORE_OK;
}

/*
 * Makes room for row len in the array *arrayp (a pointer to a pointer to
 * rows of size bytes) of capacity *cap, doubling it from first; new rows
 * are zeroed.  STORE_ERROR (recorded as what's failure) when memory runs
 * out: *arrayp is then unchanged, still the caller's to free.
 */
static int grow_rows(struct sq *s, void *arrayp, size_t *cap, size_t len, size_t size, size_t first,
                     const char *what)
{
    void *v, *nv;
    size_t ncap;

    if (len < *cap)
        return STORE_OK;
    memcpy(&v, arrayp, sizeof v);
    ncap = *cap ? *cap * 2 : first;
    if (!(nv = realloc(v, ncap * size)))
        return fail_msg(s, what, "out of memory");
    memset((char *)nv + len * size, 0, (ncap - len) * size);
    memcpy(arrayp, &nv, sizeof nv);
    *cap = ncap;
    return STORE_OK;
}

/* One kind of row a list returns: what read_rows needs to know of it. */
struct row_kind {
    size_t size; /* bytes a row */
    /* Fills row (zeroed) from stmt's current row of channel's list; STORE_OK,
     * or STORE_ERROR (recorded as what's failure) leaving row nothing to free. */
    int (*fill)(struct sq *s, sqlite3_stmt *stmt, void *row, int64_t channel, const char *what);
    void (*drop)(void *rows, size_t n); /* frees n rows and the array */
};

/*
 * The one way a list is read: steps stmt (bound by the caller, rc its last
 * bind result) and collects its rows, filled by k, into a malloc'd array
 * (first rows at first, then doubling) for the caller to free as the
 * store_*_free of its kind says.  *outp (a pointer to the caller's array
 * pointer) and *n get NULL and 0 when there are no rows or on failure.
 * Resets stmt.  what names the operation in failures.
 */
static int read_rows(struct sq *s, sqlite3_stmt *stmt, int rc, const struct row_kind *k,
                     size_t first, int64_t channel, const char *what, void *outp, size_t *n)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    int ret = STORE_OK;

    if (rc != SQLITE_OK)
        goto out;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if ((ret = grow_rows(s, &v, &cap, len, k->size, first, what)) != STORE_OK ||
            (ret = k->fill(s, stmt, v + len * k->size, channel, what)) != STORE_OK)
            goto out;
        len++;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
out:
    ret = finish(s, stmt, rc, ret, what);
    if (ret != STORE_OK || len == 0) {
        k->drop(v, len);
        v = NULL;
        len = 0;
    }
    memcpy(outp, &v, sizeof v);
    *n = len;
    return ret;
}

/* read_rows of statement id, whose one parameter is the channel. */
static int read_rows_of(struct sq *s, enum stmt_id id, const struct row_kind *k, size_t first,
                        int64_t channel, const char *what, void *outp, size_t *n)
{
    sqlite3_stmt *stmt = s->st[id];
    int rc;

    BIND(sqlite3_bind_int64(stmt, 1, channel));
out:
    return read_rows(s, stmt, rc, k, first, channel, what, outp, n);
}

/* row_kind's drop for rows that own no memory of their own. */
static void drop_flat(void *rows, size_t n)
{
    (void)n;
    free(rows);
}

/* Fills c from a row of CHANNEL_COLS, plus POSTS_COUNT when with_count. */
static void read_channel(sqlite3_stmt *stmt, struct channel *c, int with_count)
{
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(stmt, 0);
    col_text(stmt, 1, c->pa_id, sizeof c->pa_id);
    col_text(stmt, 2, c->name, sizeof c->name);
    col_text(stmt, 3, c->uri, sizeof c->uri);
    col_text(stmt, 4, c->icon, sizeof c->icon);
    col_text(stmt, 5, c->background, sizeof c->background);
    col_text(stmt, 6, c->category, sizeof c->category);
    col_text(stmt, 7, c->subcategory, sizeof c->subcategory);
    col_text(stmt, 8, c->country, sizeof c->country);
    c->lat = sqlite3_column_double(stmt, 9);
    c->lon = sqlite3_column_double(stmt, 10);
    col_text(stmt, 11, c->webhook, sizeof c->webhook);
    c->state = sqlite3_column_int(stmt, 12);
    c->rate_count = sqlite3_column_int(stmt, 13);
    c->rate_window_s = sqlite3_column_int(stmt, 14);
    c->created_ms = sqlite3_column_int64(stmt, 15);
    c->epoch = (uint64_t)sqlite3_column_int64(stmt, 16);
    c->posts_count = with_count ? sqlite3_column_int64(stmt, CHANNEL_NCOLS) : 0;
}

/*
 * The config version is the row of the config table (schema step 4), moved
 * by triggers in the transaction of every change to channels, members and
 * faults, whoever makes it: vcpd, the offline CLI, another instance.  So it
 * cannot miss a change the way the PATH-vcpver side file it replaces did
 * (missing, not writable, a symlinked database path).  Reading it stays
 * cheap: PRAGMA data_version, which moves only when another connection
 * committed something, plus this connection's own count of its changes, say
 * when the row can have moved; only then is it read again.
 *
 * Even PRAGMA data_version opens a read transaction (a shared-memory lock
 * and the WAL header): ~17k instructions, a fifth of a whole post (issue 11,
 * bench/cost) when run for every request.  So a connection runs it at most
 * once per VERSION_LAG_NS and answers from its last reading in between, and
 * every change that moves the version waits 2 x VERSION_LAG_NS after its
 * commit before it returns.  Any other connection has then checked since
 * the commit, so a change reported done (by the CLI, the admin API, another
 * instance) is in force at the very next request -- the same guarantee, for
 * a 0.5 ms pause on the rare configuration write (at most ~2,000 of them a
 * second per connection) instead of 17k instructions on every request.
 */
#define VERSION_LAG_NS 250000 /* 0.25 ms */

static void bump_version(struct sq *s)
{
    struct timespec pause = {0, 2 * VERSION_LAG_NS};

    s->own_changes++;
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
        ;
}

/* Steps a statement without parameters that answers one integer. */
static int step_int(struct sq *s, enum stmt_id id, int64_t *v)
{
    sqlite3_stmt *stmt = s->st[id];
    int rc = sqlite3_step(stmt);
    int ret = STORE_OK;

    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(stmt, 0);
    else
        ret = rc == SQLITE_DONE ? fail_msg(s, stmt_sql[id], "no row") : fail(s, rc, stmt_sql[id]);
    done_with(stmt);
    return ret;
}

/*
 * The config version as this backend gives it: never 0 once read (0 means "cannot tell").
 * Inside a write transaction the row is in the page cache (a write transaction's snapshot is
 * the newest, and the connection's own commits keep its cache), so this costs next to nothing.
 */
static uint64_t read_version(struct sq *s)
{
    int64_t v;

    return step_int(s, ST_CONFIG_VERSION, &v) == STORE_OK ? (uint64_t)v | (1ULL << 63) : 0;
}

/*
 * The board (store_board_new).  Under post load the HTTP thread's own check above finds
 * data_version moved every time -- the writer committed -- and reads the config row again
 * in a second read transaction, with its page cache reset: 0.45 us of every post at 64
 * connections (issue 11).  But the writer reads the version in each batch's write
 * transaction for next to nothing (read_version), and a reading is a reading whoever took
 * it: its time t is taken before BEGIN IMMEDIATE (the snapshot that BEGIN takes, under the
 * write lock, holds every commit ended before t), and again just before COMMIT (the write
 * lock was held all along, so nobody else committed in between).  A connection answers from
 * the board's reading by the same rule as from its own: while it is younger than
 * VERSION_LAG_NS.  So a change reported done (2 x VERSION_LAG_NS after its commit) is in
 * force at the next request whichever reading answers it, and while the writer is busy the
 * HTTP thread's connection does not touch SQLite for the version; an idle writer publishes
 * nothing, and the connection checks for itself as before.
 */
static uint64_t board_version(struct sq *s, int64_t now)
{
    if (now - s->lent_ns >= VERSION_LAG_NS)
        s->lent = store_board_read(s->board, &s->lent_ns);
    return s->lent && now - s->lent_ns < VERSION_LAG_NS ? s->lent : 0;
}

static uint64_t sq_config_version(struct store *st)
{
    struct sq *s = sq_of(st);
    uint64_t own = s->own_changes;
    int64_t now = store_mono_ns();
    uint64_t lent;
    int64_t dv;

    if (s->version && own == s->seen_own && now - s->checked_ns < VERSION_LAG_NS)
        return s->version; /* checked less than VERSION_LAG_NS ago (see bump_version) */
    if (s->board && own == s->seen_own && (lent = board_version(s, now)) != 0)
        return lent; /* another connection's reading, as young (see board_version) */
    if (step_int(s, ST_DATA_VERSION, &dv) != STORE_OK)
        return 0; /* cannot tell: nothing may be cached */
    s->checked_ns = now;
    if (!s->version || dv != s->seen_data_version || own != s->seen_own) {
        if (!(s->version = read_version(s)))
            return 0;
        s->seen_data_version = dv;
        s->seen_own = own;
    }
    if (s->board)
        store_board_publish(s->board, s->version, now);
    return s->version;
}

static void sq_board_attach(struct store *st, struct store_board *b)
{
    struct sq *s = sq_of(st);

    s->board = b;
    s->lent = 0;
    s->lent_ns = 0;
}

/*
 * Refuses a write when the database file was deleted or renamed since the
 * connection opened it: in WAL mode SQLite goes on writing into the
 * unlinked inode, so posts would be acknowledged and lost at the next
 * start.  SQLITE_FCNTL_HAS_MOVED compares the open file with the path (one
 * stat), cheap next to a commit.  Returns STORE_OK or STORE_ERROR with the
 * reason recorded.
 */
static int check_file(struct sq *s, const char *what)
{
    int moved = 0;
    char why[200];

    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK || !moved)
        return STORE_OK;
    snprintf(why, sizeof why, "database file %s was deleted or moved; restart vcpd",
             sqlite3_db_filename(s->db, "main"));
    return fail_msg(s, what, why);
}

/* One value for a write statement's parameter (write_row binds them in order). */
struct bind_val {
    enum { BV_INT64, BV_DOUBLE, BV_TEXT, BV_BLOB } type;
    int64_t i;
    double d;
    const void *p; /* text or blob, SQLITE_STATIC: alive until write_row returns */
    int len;       /* text: bytes, -1 up to the NUL; blob: bytes */
};
#define WRITE_ROW(s, id, what, v) \
    write_row((s), (id), (what), (v), (int)(sizeof(v) / sizeof((v)[0])))

static struct bind_val bv_int(int64_t x)
{
    return (struct bind_val){.type = BV_INT64, .i = x};
}

static struct bind_val bv_double(double x)
{
    return (struct bind_val){.type = BV_DOUBLE, .d = x};
}

/* A NUL-terminated string, or (cap > 0) a fixed-size struct field: never read past cap. */
static struct bind_val bv_text(const char *x, size_t cap)
{
    return (struct bind_val){.type = BV_TEXT, .p = x, .len = cap ? (int)strnlen(x, cap) : -1};
}

static struct bind_val bv_blob(const void *x, int n)
{
    return (struct bind_val){.type = BV_BLOB, .p = x, .len = n};
}

/*
 * The one path of the single-row writes (the setters): binds the n values
 * to statement id's parameters 1..n, refuses a database file deleted or
 * moved since it was opened, steps it and bumps the config version.
 * STORE_NOTFOUND when no row changed; fail()'s mapping when a bind or the
 * step fails, recorded as what's failure.
 */
static int write_row(struct sq *s, enum stmt_id id, const char *what, const struct bind_val *v,
                     int n)
{
    sqlite3_stmt *stmt = s->st[id];
    int rc = SQLITE_OK, ret = STORE_OK;

    for (int k = 0; k < n && rc == SQLITE_OK; k++) {
        switch (v[k].type) {
        case BV_INT64:
            rc = sqlite3_bind_int64(stmt, k + 1, v[k].i);
            break;
        case BV_DOUBLE:
            rc = sqlite3_bind_double(stmt, k + 1, v[k].d);
            break;
        case BV_TEXT:
            rc = sqlite3_bind_text(stmt, k + 1, v[k].p, v[k].len, SQLITE_STATIC);
            break;
        case BV_BLOB:
            rc = sqlite3_bind_blob(stmt, k + 1, v[k].p, v[k].len, SQLITE_STATIC);
            break;
        }
    }
    if (rc != SQLITE_OK)
        ret = fail(s, rc, what);
    else if ((ret = check_file(s, what)) == STORE_OK) {
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE)
            ret = fail(s, rc, what);
        else if (sqlite3_changes(s->db) == 0)
            ret = STORE_NOTFOUND;
    }
    done_with(stmt);
    if (ret == STORE_OK)
        bump_version(s);
    return ret;
}

/* Runs one of the argument-less transaction statements. */
static int run(struct sq *s, enum stmt_id id)
{
    int rc = sqlite3_step(s->st[id]);
    int ret = rc == SQLITE_DONE ? STORE_OK : fail(s, rc, stmt_sql[id]);

    sqlite3_reset(s->st[id]);
    return ret;
}

/* Undoes an open transaction, if there is one (a failed COMMIT may have ended it). */
static void rollback(struct sq *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_step(s->st[ST_ROLLBACK]);
        sqlite3_reset(s->st[ST_ROLLBACK]);
    }
}

/* ---- open / close ------------------------------------------------------------------------- */

/*
 * Busy handler: while another connection holds the write lock, try again
 * every BUSY_POLL_NS for up to BUSY_TIMEOUT_MS.  SQLite's own
 * (sqlite3_busy_timeout) backs off to 100 ms between tries, and a writer
 * that polls so rarely starves behind a busy committer, which takes the lock
 * again microseconds after each commit: measured, an admin write failed
 * after the full 5 s while posts were being committed back to back.
 * count is 0 on the first call for each lock the connection waits for.
 */
static int on_busy(void *arg, int count)
{
    struct sq *s = arg;
    struct timespec pause = {0, BUSY_POLL_NS};
    int64_t now = store_mono_ns();

    if (count == 0)
        s->busy_since_ns = now;
    if (now - s->busy_since_ns >= (int64_t)BUSY_TIMEOUT_MS * 1000000)
        return 0; /* give up: the statement fails with SQLITE_BUSY */
    nanosleep(&pause, NULL);
    return 1;
}

/* Reads PRAGMA user_version into *v. */
static int user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);

    if (rc != SQLITE_OK)
        goto out;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int(stmt, 0);
        rc = SQLITE_OK;
    }
out:
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * Runs one pragma to the end and copies the first column of its first row
 * (journal_mode answers the mode it ended in) into val.  Fills err on failure.
 */
static int pragma(sqlite3 *db, const char *sql, char *val, size_t val_len, char *err,
                  size_t err_len)
{
    sqlite3_stmt *stmt = NULL;
    int rows = 0;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

    if (rc != SQLITE_OK)
        goto out;
    val[0] = '\0';
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        if (rows++ == 0)
            col_text(stmt, 0, val, val_len);
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
out:
    if (rc != SQLITE_OK)
        snprintf(err, err_len, "sqlite: %s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * Brings the schema up to date, one migration per transaction.  The version
 * is read again under the write lock because another process (vcpd and the
 * admin CLI opening a fresh file together) may have migrated meanwhile.
 */
static int migrate(sqlite3 *db, char *err, size_t err_len)
{
    const int latest = (int)store_sqlite_migrations_n;
    char sql[64];
    int v = 0;
    int rc;

    for (;;) {
        if ((rc = user_version(db, &v)) != SQLITE_OK)
            goto out;
        if (v < 0 || v > latest) {
            snprintf(err, err_len,
                     "database schema version %d is not one this program knows (0..%d); "
                     "upgrade vcp",
                     v, latest);
            return SQLITE_ERROR;
        }
        if (v == latest)
            return SQLITE_OK;
        if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
            goto out;
        if ((rc = user_version(db, &v)) != SQLITE_OK)
            goto out;
        if (v < latest) {
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
            if ((rc = sqlite3_exec(db, store_sqlite_migrations[v], NULL, NULL, NULL)) !=
                    SQLITE_OK ||
                (rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
                goto out;
        }
        if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
            goto out;
    }
out:
    snprintf(err, err_len, "schema migration from version %d: %s", v, sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void sq_close(struct store *st)
{
    struct sq *s = sq_of(st);

    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (int i = 0; i <= POST_ROWS; i++)
        sqlite3_finalize(s->ins[i]);
    sqlite3_close(s->db);
    free(s);
}

/*
 * Opens "sqlite:PATH" or PATH, creating the file if needed, applies the
 * connection settings and pending migrations, and prepares every statement.
 * Returns STORE_OK with *out set, or STORE_ERROR with err filled and *out NULL.
 */
static int sq_open(const char *dsn, struct store **out, char *err, size_t err_len)
{
    const char *path = strncmp(dsn, "sqlite:", 7) == 0 ? dsn + 7 : dsn;
    struct sq *s = calloc(1, sizeof *s);
    char val[32];
    int rc;

    *out = NULL;
    if (!s) {
        snprintf(err, err_len, "sqlite: out of memory");
        return STORE_ERROR;
    }
    s->base.ops = &store_sqlite_ops;
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "sqlite: %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if ((rc = sqlite3_busy_handler(s->db, on_busy, s)) != SQLITE_OK) {
        snprintf(err, err_len, "sqlite: %s: busy handler: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
        if (pragma(s->db, pragmas[i], val, sizeof val, err, err_len) != SQLITE_OK)
            goto fail;
        if (i == 0 && sqlite3_stricmp(val, "wal") != 0) {
            snprintf(err, err_len, "sqlite: %s: cannot use WAL (journal mode stays %s)", path, val);
            goto fail;
        }
    }
    if (migrate(s->db, err, err_len) != SQLITE_OK)
        goto fail;
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, err_len, "sqlite: preparing \"%s\": %s", stmt_sql[i],
                     sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    *out = &s->base;
    return STORE_OK;
fail:
    sq_close(&s->base);
    return STORE_ERROR;
}

static const char *sq_errmsg(struct store *st)
{
    return sq_of(st)->err;
}

/* One read of the channels table: a row or none both mean the database answered. */
static int sq_ping(struct store *st)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_PING];
    int rc = sqlite3_step(stmt);
    int ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : fail(s, rc, "ping");

    done_with(stmt);
    return ret;
}

/* ---- channels ----------------------------------------------------------------------------- */

static int insert_member(struct sq *s, int64_t channel, const struct member *m);

/* Inserts the channel row (the caller bumps the config version once committed). */
static int insert_channel(struct sq *s, struct channel *c, const uint8_t hash[STORE_HASH_LEN])
{
    sqlite3_stmt *stmt = s->st[ST_CH_INSERT];
    int64_t created = store_now_ms();
    int ret = STORE_OK;
    int rc;

    BIND(bind_field(stmt, 1, c->pa_id, sizeof c->pa_id));
    BIND(sqlite3_bind_blob(stmt, 2, hash, STORE_HASH_LEN, SQLITE_STATIC));
    BIND(bind_field(stmt, 3, c->name, sizeof c->name));
    BIND(bind_field(stmt, 4, c->uri, sizeof c->uri));
    BIND(bind_field(stmt, 5, c->icon, sizeof c->icon));
    BIND(bind_field(stmt, 6, c->background, sizeof c->background));
    BIND(bind_field(stmt, 7, c->category, sizeof c->category));
    BIND(bind_field(stmt, 8, c->subcategory, sizeof c->subcategory));
    BIND(bind_field(stmt, 9, c->country, sizeof c->country));
    BIND(sqlite3_bind_double(stmt, 10, c->lat));
    BIND(sqlite3_bind_double(stmt, 11, c->lon));
    BIND(bind_field(stmt, 12, c->webhook, sizeof c->webhook));
    BIND(sqlite3_bind_int(stmt, 13, c->state));
    BIND(sqlite3_bind_int(stmt, 14, c->rate_count));
    BIND(sqlite3_bind_int(stmt, 15, c->rate_window_s));
    BIND(sqlite3_bind_int64(stmt, 16, created));
    BIND(sqlite3_bind_int64(stmt, 17, (int64_t)c->epoch));
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        c->id = sqlite3_last_insert_rowid(s->db);
        c->created_ms = created;
        c->posts_count = 0;
        rc = SQLITE_OK;
    }
out:
    return finish(s, stmt, rc, ret, "channel_create");
}

/*
 * The channel alone in autocommit, or the channel and its members in one
 * BEGIN IMMEDIATE ... COMMIT: a failing member insert (a constraint, the
 * disk) takes the channel with it, so no channel without members and with
 * a token nobody saw is left behind.
 */
static int sq_channel_create(struct store *st, struct channel *c,
                             const uint8_t hash[STORE_HASH_LEN], const struct member *members,
                             size_t n)
{
    struct sq *s = sq_of(st);
    int ret;

    if ((ret = check_file(s, "channel_create")) != STORE_OK)
        return ret;
    if (n == 0) {
        if ((ret = insert_channel(s, c, hash)) == STORE_OK)
            bump_version(s);
        return ret;
    }
    if ((ret = run(s, ST_BEGIN)) != STORE_OK)
        return ret;
    ret = insert_channel(s, c, hash);
    for (size_t i = 0; i < n && ret == STORE_OK; i++)
        ret = insert_member(s, c->id, &members[i]);
    if (ret == STORE_OK)
        ret = run(s, ST_COMMIT);
    if (ret != STORE_OK) {
        rollback(s);
        c->id = 0;
        return ret;
    }
    bump_version(s);
    return STORE_OK;
}

/* Runs a bound channel query that yields at most one row into *out. */
static int channel_one(struct sq *s, sqlite3_stmt *stmt, struct channel *out, int with_count,
                       const char *what)
{
    int rc = sqlite3_step(stmt);
    int ret = STORE_OK;

    if (rc == SQLITE_ROW)
        read_channel(stmt, out, with_count);
    else if (rc == SQLITE_DONE)
        ret = STORE_NOTFOUND;
    else
        ret = fail(s, rc, what);
    done_with(stmt);
    return ret;
}

/* The hot path: one UNIQUE-index lookup; posts_count is left at 0 (see store.h). */
static int sq_channel_by_token(struct store *st, const uint8_t hash[STORE_HASH_LEN],
                               struct channel *out)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_CH_BY_TOKEN];
    int rc = sqlite3_bind_blob(stmt, 1, hash, STORE_HASH_LEN, SQLITE_STATIC);

    if (rc != SQLITE_OK) {
        rc = fail(s, rc, "channel_by_token");
        done_with(stmt);
        return rc;
    }
    return channel_one(s, stmt, out, 0, "channel_by_token");
}

static int sq_channel_by_pa_id(struct store *st, const char *pa_id, struct channel *out)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_CH_BY_PA_ID];
    int rc = sqlite3_bind_text(stmt, 1, pa_id, -1, SQLITE_STATIC);

    if (rc != SQLITE_OK) {
        rc = fail(s, rc, "channel_by_pa_id");
        done_with(stmt);
        return rc;
    }
    return channel_one(s, stmt, out, 1, "channel_by_pa_id");
}

static int fill_channel(struct sq *s, sqlite3_stmt *stmt, void *row, int64_t channel,
                        const char *what)
{
    (void)s, (void)channel, (void)what;
    read_channel(stmt, row, 1);
    return STORE_OK;
}

static const struct row_kind channel_rows = {sizeof(struct channel), fill_channel, drop_flat};

static int sq_channel_list(struct store *st, struct channel **out, size_t *n)
{
    struct sq *s = sq_of(st);

    return read_rows(s, s->st[ST_CH_LIST], SQLITE_OK, &channel_rows, 16, 0, "channel_list", out, n);
}

static int sq_channel_set_state(struct store *st, int64_t id, int state)
{
    const struct bind_val v[] = {bv_int(id), bv_int(state)};

    return WRITE_ROW(sq_of(st), ST_CH_SET_STATE, "channel_set_state", v);
}

static int sq_channel_set_token(struct store *st, int64_t id, const uint8_t hash[STORE_HASH_LEN])
{
    const struct bind_val v[] = {bv_int(id), bv_blob(hash, STORE_HASH_LEN)};

    return WRITE_ROW(sq_of(st), ST_CH_SET_TOKEN, "channel_set_token", v);
}

/* url NULL or "" removes the webhook. */
static int sq_channel_set_webhook(struct store *st, int64_t id, const char *url)
{
    const struct bind_val v[] = {bv_int(id), bv_text(url ? url : "", 0)};

    return WRITE_ROW(sq_of(st), ST_CH_SET_WEBHOOK, "channel_set_webhook", v);
}

static int sq_channel_set_rate(struct store *st, int64_t id, int count, int window_s)
{
    const struct bind_val v[] = {bv_int(id), bv_int(count), bv_int(window_s)};

    return WRITE_ROW(sq_of(st), ST_CH_SET_RATE, "channel_set_rate", v);
}

static int sq_channel_set_details(struct store *st, int64_t id, const struct channel *c)
{
    const struct bind_val v[] = {bv_int(id),
                                 bv_text(c->name, sizeof c->name),
                                 bv_text(c->uri, sizeof c->uri),
                                 bv_text(c->icon, sizeof c->icon),
                                 bv_text(c->background, sizeof c->background),
                                 bv_text(c->category, sizeof c->category),
                                 bv_text(c->subcategory, sizeof c->subcategory),
                                 bv_text(c->country, sizeof c->country),
                                 bv_double(c->lat),
                                 bv_double(c->lon)};

    return WRITE_ROW(sq_of(st), ST_CH_SET_DETAILS, "channel_set_details", v);
}

/*
 * Steps a bound write statement of a transaction; *changes (when non-NULL)
 * gets the rows it touched.  Resets the statement.
 */
static int step_write(struct sq *s, sqlite3_stmt *stmt, const char *what, int64_t *changes)
{
    int rc = sqlite3_step(stmt);
    int ret = rc == SQLITE_DONE ? STORE_OK : fail(s, rc, what);

    if (ret == STORE_OK && changes)
        *changes = sqlite3_changes64(s->db);
    done_with(stmt);
    return ret;
}

static int sq_channel_reset(struct store *st, int64_t id, uint64_t epoch, int64_t *posts)
{
    struct sq *s = sq_of(st);
    int64_t touched = 0;
    int ret, rc;

    *posts = 0;
    if ((ret = run(s, ST_BEGIN)) != STORE_OK)
        return ret;
    BIND(sqlite3_bind_int64(s->st[ST_CH_SET_EPOCH], 1, id));
    BIND(sqlite3_bind_int64(s->st[ST_CH_SET_EPOCH], 2, (int64_t)epoch));
    if ((ret = step_write(s, s->st[ST_CH_SET_EPOCH], "channel_reset", &touched)) != STORE_OK)
        goto undo;
    if (touched == 0) {
        ret = STORE_NOTFOUND;
        goto undo;
    }
    BIND(sqlite3_bind_int64(s->st[ST_CH_RESET_POSTS], 1, id));
    if ((ret = step_write(s, s->st[ST_CH_RESET_POSTS], "channel_reset", posts)) != STORE_OK)
        goto undo;
    BIND(sqlite3_bind_int64(s->st[ST_CH_RESET_FAULTS], 1, id));
    if ((ret = step_write(s, s->st[ST_CH_RESET_FAULTS], "channel_reset", NULL)) != STORE_OK)
        goto undo;
    BIND(sqlite3_bind_int64(s->st[ST_CH_RESET_JOURNAL], 1, id));
    if ((ret = step_write(s, s->st[ST_CH_RESET_JOURNAL], "channel_reset", NULL)) != STORE_OK ||
        (ret = run(s, ST_COMMIT)) != STORE_OK)
        goto undo;
    bump_version(s);
    return STORE_OK;
out: /* a bind failed */
    ret = fail(s, rc, "channel_reset");
    done_with(s->st[ST_CH_SET_EPOCH]);
    done_with(s->st[ST_CH_RESET_POSTS]);
    done_with(s->st[ST_CH_RESET_FAULTS]);
    done_with(s->st[ST_CH_RESET_JOURNAL]);
undo:
    rollback(s);
    *posts = 0;
    return ret;
}

static int sq_reset_all(struct store *st, int64_t *channels, int64_t *posts)
{
    struct sq *s = sq_of(st);
    int ret;

    *channels = *posts = 0;
    if ((ret = run(s, ST_BEGIN)) != STORE_OK)
        return ret;
    /* children first: posts and members reference channels */
    if ((ret = step_write(s, s->st[ST_RESET_POSTS], "reset_all", posts)) != STORE_OK ||
        (ret = step_write(s, s->st[ST_RESET_FAULTS], "reset_all", NULL)) != STORE_OK ||
        (ret = step_write(s, s->st[ST_RESET_JOURNAL], "reset_all", NULL)) != STORE_OK ||
        (ret = step_write(s, s->st[ST_RESET_MEMBERS], "reset_all", NULL)) != STORE_OK ||
        (ret = step_write(s, s->st[ST_RESET_CHANNELS], "reset_all", channels)) != STORE_OK ||
        (ret = run(s, ST_COMMIT)) != STORE_OK) {
        rollback(s);
        *channels = *posts = 0;
        return ret;
    }
    bump_version(s);
    return STORE_OK;
}

/* ---- faults ------------------------------------------------------------------------------- */

static int sq_fault_add(struct store *st, struct fault_row *f)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_FAULT_ADD];
    int64_t created = store_now_ms();
    int ret = STORE_OK;
    int rc;

    BIND(sqlite3_bind_int64(stmt, 1, f->channel));
    BIND(sqlite3_bind_text(stmt, 2, f->spec, -1, SQLITE_STATIC));
    BIND(f->remaining < 0 ? sqlite3_bind_null(stmt, 3) : sqlite3_bind_int64(stmt, 3, f->remaining));
    BIND(sqlite3_bind_int64(stmt, 4, created));
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        f->id = sqlite3_last_insert_rowid(s->db);
        f->created_ms = created;
        f->seen = f->hits = 0;
        rc = SQLITE_OK;
        bump_version(s);
    }
out:
    return finish(s, stmt, rc, ret, "fault_add");
}

static int fill_fault(struct sq *s, sqlite3_stmt *stmt, void *row, int64_t channel,
                      const char *what)
{
    struct fault_row *f = row;

    if (col_dup(s, stmt, 1, what, &f->spec) != STORE_OK)
        return STORE_ERROR;
    f->id = sqlite3_column_int64(stmt, 0);
    f->channel = channel;
    f->remaining = sqlite3_column_type(stmt, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 2);
    f->seen = sqlite3_column_int64(stmt, 3);
    f->hits = sqlite3_column_int64(stmt, 4);
    f->created_ms = sqlite3_column_int64(stmt, 5);
    return STORE_OK;
}

static void drop_faults(void *rows, size_t n)
{
    store_faults_free(rows, n);
}

static const struct row_kind fault_rows = {sizeof(struct fault_row), fill_fault, drop_faults};

static int sq_fault_list(struct store *st, int64_t channel, struct fault_row **out, size_t *n)
{
    return read_rows_of(sq_of(st), ST_FAULT_LIST, &fault_rows, 8, channel, "fault_list", out, n);
}

static int sq_fault_remove(struct store *st, int64_t channel, int64_t id, int64_t *n)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_FAULT_REMOVE];
    int ret, rc;

    *n = 0;
    BIND(sqlite3_bind_int64(stmt, 1, channel));
    BIND(sqlite3_bind_int64(stmt, 2, id));
    if ((ret = step_write(s, stmt, "fault_remove", n)) != STORE_OK)
        return ret;
    if (*n > 0)
        bump_version(s);
    return id > 0 && *n == 0 ? STORE_NOTFOUND : STORE_OK;
out:
    return finish(s, stmt, rc, STORE_OK, "fault_remove");
}

static int sq_fault_count(struct store *st, int64_t id, int64_t remaining, int64_t seen,
                          int64_t hits)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_FAULT_COUNT];
    int64_t touched = 0;
    int ret, rc;

    BIND(sqlite3_bind_int64(stmt, 1, id));
    BIND(remaining < 0 ? sqlite3_bind_null(stmt, 2) : sqlite3_bind_int64(stmt, 2, remaining));
    BIND(sqlite3_bind_int64(stmt, 3, seen));
    BIND(sqlite3_bind_int64(stmt, 4, hits));
    if ((ret = step_write(s, stmt, "fault_count", &touched)) != STORE_OK)
        return ret;
    return touched ? STORE_OK : STORE_NOTFOUND; /* removed meanwhile */
out:
    return finish(s, stmt, rc, STORE_OK, "fault_count");
}

/* ---- members ------------------------------------------------------------------------------ */

/*
 * Inserts the member row (the caller bumps the config version once committed).  STORE_EXISTS
 * for a member already in the channel, STORE_NOTFOUND for no such channel.
 */
static int insert_member(struct sq *s, int64_t channel, const struct member *m)
{
    sqlite3_stmt *stmt = s->st[ST_MB_ADD];
    int ret = STORE_OK;
    int rc;

    BIND(sqlite3_bind_int64(stmt, 1, channel));
    BIND(bind_field(stmt, 2, m->id, sizeof m->id));
    BIND(bind_field(stmt, 3, m->name, sizeof m->name));
    BIND(bind_field(stmt, 4, m->avatar, sizeof m->avatar));
    BIND(sqlite3_bind_int(stmt, 5, m->role));
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
out:
    return finish(s, stmt, rc, ret, "member_add");
}

static int sq_member_add(struct store *st, int64_t channel, const struct member *m)
{
    struct sq *s = sq_of(st);
    int ret = check_file(s, "member_add");

    if (ret == STORE_OK)
        ret = insert_member(s, channel, m);
    if (ret == STORE_OK)
        bump_version(s);
    return ret;
}

static int sq_member_remove(struct store *st, int64_t channel, const char *member_id)
{
    const struct bind_val v[] = {bv_int(channel), bv_text(member_id, 0)};

    return WRITE_ROW(sq_of(st), ST_MB_REMOVE, "member_remove", v);
}

static int fill_member(struct sq *s, sqlite3_stmt *stmt, void *row, int64_t channel,
                       const char *what)
{
    struct member *m = row;

    (void)s, (void)channel, (void)what;
    col_text(stmt, 0, m->id, sizeof m->id);
    col_text(stmt, 1, m->name, sizeof m->name);
    col_text(stmt, 2, m->avatar, sizeof m->avatar);
    m->role = sqlite3_column_int(stmt, 3);
    return STORE_OK;
}

static const struct row_kind member_rows = {sizeof(struct member), fill_member, drop_flat};

static int sq_member_list(struct store *st, int64_t channel, struct member **out, size_t *n)
{
    return read_rows_of(sq_of(st), ST_MB_LIST, &member_rows, 8, channel, "member_list", out, n);
}

static int sq_member_role(struct store *st, int64_t channel, const char *member_id, int *role)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_MB_ROLE];
    int ret = STORE_OK;
    int rc;

    BIND(sqlite3_bind_int64(stmt, 1, channel));
    BIND(sqlite3_bind_text(stmt, 2, member_id, -1, SQLITE_STATIC));
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *role = sqlite3_column_int(stmt, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        ret = STORE_NOTFOUND;
        rc = SQLITE_OK;
    }
out:
    return finish(s, stmt, rc, ret, "member_role");
}

/* ---- posts -------------------------------------------------------------------------------- */

/* Binds p's six columns from parameter i + 1 on. */
static int bind_post(sqlite3_stmt *stmt, int i, const struct post *p)
{
    int rc;

    if ((rc = sqlite3_bind_int64(stmt, i + 1, (int64_t)p->token)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(stmt, i + 2, p->channel)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(stmt, i + 3, p->created_ms)) != SQLITE_OK ||
        (rc = bind_field(stmt, i + 4, p->type, sizeof p->type)) != SQLITE_OK ||
        (rc = bind_field(stmt, i + 5, p->from, sizeof p->from)) != SQLITE_OK)
        return rc;
    return sqlite3_bind_text(stmt, i + 6, p->json, -1, SQLITE_STATIC);
}

/*
 * The INSERT of k posts (1..POST_ROWS): ST_POST_INSERT for one, else
 * s->ins[k], prepared the first time a batch needs it (a writer connection
 * ends up with the few sizes its batches have; a reader never prepares
 * one).  NULL with the failure recorded when it cannot be prepared.
 */
static sqlite3_stmt *insert_stmt(struct sq *s, size_t k)
{
    static const char head[] = "INSERT INTO posts (token, channel, created_ms, type, sender, body)"
                               " VALUES ";
    static const char row[] = "(?, ?, ?, ?, ?, ?), ";
    char sql[sizeof head + POST_ROWS * (sizeof row - 1)];
    size_t len = sizeof head - 1;
    int rc;

    if (k == 1)
        return s->st[ST_POST_INSERT];
    if (s->ins[k])
        return s->ins[k];
    memcpy(sql, head, len);
    for (size_t i = 0; i < k; i++, len += sizeof row - 1)
        memcpy(sql + len, row, sizeof row - 1);
    sql[len - 2] = '\0'; /* the last row's ", " */
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->ins[k], NULL);
    if (rc != SQLITE_OK) {
        fail(s, rc, "post_insert_batch: preparing the INSERT");
        s->ins[k] = NULL;
    }
    return s->ins[k];
}

/*
 * Binds and runs one INSERT of the k posts of p (1..POST_ROWS).  Returns a
 * store_rc (see fail()).  No clear_bindings: the next use binds every
 * parameter again, and clearing them costs as much as binding.
 */
static int insert_posts(struct sq *s, const struct post *p, size_t k)
{
    sqlite3_stmt *stmt = insert_stmt(s, k);
    int ret = STORE_OK;
    int rc = SQLITE_OK;

    if (!stmt)
        return STORE_ERROR;
    for (size_t i = 0; i < k; i++)
        BIND(bind_post(stmt, (int)i * POST_COLS, &p[i]));
    if ((rc = sqlite3_step(stmt)) == SQLITE_DONE)
        rc = SQLITE_OK;
out:
    if (ret == STORE_OK && rc != SQLITE_OK)
        ret = fail(s, rc, "post_insert_batch");
    sqlite3_reset(stmt);
    return ret;
}

/*
 * Adds k posts to channel ch's count: an UPDATE of its count row, or when
 * it has none yet an INSERT of the row that takes the channel from
 * channels.  A count row is there only while its channel is (the
 * post_counts_gone trigger), so this is also the batch's check that the
 * channel exists (posts.channel is no foreign key, schema step 6): the
 * UPDATE of the usual case looks at no other table.  *added: 0 when there
 * is no such channel.
 */
static int count_channel(struct sq *s, int64_t ch, int64_t k, int *added)
{
    static const enum stmt_id tries[] = {ST_POST_COUNT_ADD, ST_POST_COUNT_NEW};

    *added = 0;
    for (size_t t = 0; t < sizeof tries / sizeof tries[0] && !*added; t++) {
        sqlite3_stmt *stmt = s->st[tries[t]];
        int rc, ret;

        if ((rc = sqlite3_bind_int64(stmt, 1, ch)) == SQLITE_OK &&
            (rc = sqlite3_bind_int64(stmt, 2, k)) == SQLITE_OK &&
            (rc = sqlite3_step(stmt)) == SQLITE_DONE) {
            rc = SQLITE_OK;
            *added = sqlite3_changes(s->db) > 0;
        }
        if ((ret = finish(s, stmt, rc, STORE_OK, "post_insert_batch")) != STORE_OK)
            return ret;
    }
    return STORE_OK;
}

/*
 * Adds the n posts of p to their channels' counts, once per channel: a
 * batch holds up to a thousand posts of usually few channels, so a run of
 * posts of one channel is counted before it is written.  STORE_NOTFOUND
 * when a channel does not exist.  Inside the caller's transaction.
 */
static int count_posts(struct sq *s, const struct post *p, size_t n)
{
    char why[64];
    int ret, added;

    for (size_t i = 0; i < n; i++) {
        int64_t k = 0;
        bool seen = false;

        for (size_t j = 0; j < i && !seen; j++)
            seen = p[j].channel == p[i].channel;
        if (seen)
            continue; /* counted with the first post of its channel */
        for (size_t j = i; j < n; j++)
            k += p[j].channel == p[i].channel;
        if ((ret = count_channel(s, p[i].channel, k, &added)) != STORE_OK)
            return ret;
        if (!added) {
            snprintf(why, sizeof why, "no channel %lld", (long long)p[i].channel);
            fail_msg(s, "post_insert_batch", why);
            return STORE_NOTFOUND;
        }
    }
    return STORE_OK;
}

/*
 * All n posts in one BEGIN IMMEDIATE ... COMMIT, or none of them, with
 * their channels' counts (post_counts) moved in the same transaction.  On any
 * failure it rolls back and says whose fault it was: STORE_EXISTS for a
 * token already stored or repeated in the batch, STORE_NOTFOUND for a post of
 * a channel that does not exist, STORE_ERROR for anything else (a token
 * outside 1..2^63-1 or no body, or the database failing).
 */
static int sq_post_insert_batch(struct store *st, struct post *p, size_t n)
{
    struct sq *s = sq_of(st);
    const char *why;
    int ret = STORE_OK;
    uint64_t version = 0;
    int64_t t;

    if (n == 0)
        return STORE_OK;
    for (size_t i = 0; i < n; i++)
        if ((why = store_post_malformed(&p[i])) != NULL)
            return fail_msg(s, "post_insert_batch", why);
    if ((ret = check_file(s, "post_insert_batch")) != STORE_OK)
        return ret;
    t = store_mono_ns(); /* before BEGIN: its snapshot holds every commit ended before t */
    if ((ret = run(s, ST_BEGIN)) != STORE_OK)
        return ret;
    if (s->board && (version = read_version(s)) != 0) /* a failed read only publishes nothing */
        store_board_publish(s->board, version, t);
    for (size_t i = 0; i < n;) {
        size_t k = n - i < POST_ROWS ? n - i : POST_ROWS;

        if ((ret = insert_posts(s, &p[i], k)) != STORE_OK)
            goto out;
        i += k;
    }
    if ((ret = count_posts(s, p, n)) != STORE_OK)
        goto out;
    /* the write lock was held since BEGIN: nobody else has committed up to now */
    if (version)
        store_board_publish(s->board, version, store_mono_ns());
    ret = run(s, ST_COMMIT);
out:
    if (ret != STORE_OK)
        rollback(s);
    return ret;
}

/* A post from a row of (token, created_ms, type, sender, body). */
static int fill_post(struct sq *s, sqlite3_stmt *stmt, void *row, int64_t channel, const char *what)
{
    struct post *p = row;
    char *json;

    if (col_dup(s, stmt, 4, what, &json) != STORE_OK)
        return STORE_ERROR;
    p->json = json;
    p->token = (uint64_t)sqlite3_column_int64(stmt, 0);
    p->channel = channel;
    p->created_ms = sqlite3_column_int64(stmt, 1);
    col_text(stmt, 2, p->type, sizeof p->type);
    col_text(stmt, 3, p->from, sizeof p->from);
    return STORE_OK;
}

static void drop_posts(void *rows, size_t n)
{
    store_posts_free(rows, n);
}

static const struct row_kind post_rows = {sizeof(struct post), fill_post, drop_posts};

/* The posts stmt reads (its LIMIT is limit); as read_rows. */
static int read_posts(struct sq *s, sqlite3_stmt *stmt, int rc, int64_t channel, size_t limit,
                      const char *what, struct post **out, size_t *n)
{
    return read_rows(s, stmt, rc, &post_rows, limit < 64 ? limit : 64, channel, what, out, n);
}

/* SQLite's LIMIT is a signed 64-bit integer. */
static int64_t sql_limit(size_t limit)
{
    return limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
}

static int sq_post_list(struct store *st, int64_t channel, uint64_t before, const char *type,
                        size_t limit, struct post **out, size_t *n)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_POST_LIST];
    int rc;

    *out = NULL;
    *n = 0;
    if (limit == 0)
        return STORE_OK;
    /*
     * token < before, as the inclusive bound token <= before - 1 so that
     * "from the newest" (0, or anything past 2^63 - 1) includes the largest
     * token too.  Still one index range: (channel, token) up to the bound.
     */
    uint64_t last = before == 0 || before > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : before - 1;
    BIND(sqlite3_bind_int64(stmt, 1, channel));
    BIND(sqlite3_bind_int64(stmt, 2, (int64_t)last));
    BIND(type ? sqlite3_bind_text(stmt, 3, type, -1, SQLITE_STATIC) : sqlite3_bind_null(stmt, 3));
    BIND(sqlite3_bind_int64(stmt, 4, sql_limit(limit)));
out:
    return read_posts(s, stmt, rc, channel, limit, "post_list", out, n);
}

static int sq_post_list_after(struct store *st, int64_t channel, uint64_t after, size_t limit,
                              struct post **out, size_t *n)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_POST_AFTER];
    int rc;

    *out = NULL;
    *n = 0;
    if (limit == 0 || after >= (uint64_t)INT64_MAX)
        return STORE_OK;
    BIND(sqlite3_bind_int64(stmt, 1, channel));
    BIND(sqlite3_bind_int64(stmt, 2, (int64_t)after));
    BIND(sqlite3_bind_int64(stmt, 3, sql_limit(limit)));
out:
    return read_posts(s, stmt, rc, channel, limit, "post_list_after", out, n);
}

/* ---- journal ------------------------------------------------------------------------------ */

static int journal_insert(struct sq *s, struct journal_row *j)
{
    sqlite3_stmt *stmt = s->st[ST_JOURNAL_ADD];
    int ret = STORE_OK;
    int rc;

    BIND(sqlite3_bind_int64(stmt, 1, j->channel));
    BIND(sqlite3_bind_int64(stmt, 2, j->time_ms));
    BIND(bind_field(stmt, 3, j->endpoint, sizeof j->endpoint));
    BIND(sqlite3_bind_int(stmt, 4, j->http));
    BIND(sqlite3_bind_int(stmt, 5, j->status));
    BIND(bind_field(stmt, 6, j->detail, sizeof j->detail));
    BIND(sqlite3_bind_int64(stmt, 7, j->latency_us));
    BIND(bind_field(stmt, 8, j->fault, sizeof j->fault));
    BIND(sqlite3_bind_text(stmt, 9, j->body, -1, SQLITE_STATIC));
    if ((rc = sqlite3_step(stmt)) == SQLITE_DONE) {
        rc = SQLITE_OK;
        j->id = sqlite3_changes(s->db) ? sqlite3_last_insert_rowid(s->db) : 0;
    }
out:
    return finish(s, stmt, rc, ret, "journal_append");
}

static int sq_journal_append(struct store *st, struct journal_row *rows, size_t n, int64_t keep)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *trim = s->st[ST_JOURNAL_TRIM];
    int ret, rc;

    if (n == 0)
        return STORE_OK;
    if ((ret = run(s, ST_BEGIN)) != STORE_OK)
        return ret;
    for (size_t i = 0; i < n; i++)
        if ((ret = journal_insert(s, &rows[i])) != STORE_OK)
            goto undo;
    for (size_t i = 0; i < n; i++) {
        int seen = 0; /* trim each channel once */
        for (size_t j = 0; j < i && !seen; j++)
            seen = rows[j].channel == rows[i].channel;
        if (seen)
            continue;
        BIND(sqlite3_bind_int64(trim, 1, rows[i].channel));
        BIND(sqlite3_bind_int64(trim, 2, keep));
        if ((ret = step_write(s, trim, "journal_append", NULL)) != STORE_OK)
            goto undo;
    }
    if ((ret = run(s, ST_COMMIT)) != STORE_OK)
        goto undo;
    return STORE_OK;
out:
    ret = fail(s, rc, "journal_append");
    done_with(trim);
undo:
    rollback(s);
    return ret;
}

static int fill_journal(struct sq *s, sqlite3_stmt *stmt, void *row, int64_t channel,
                        const char *what)
{
    struct journal_row *j = row;

    if (col_dup(s, stmt, 8, what, &j->body) != STORE_OK)
        return STORE_ERROR;
    j->id = sqlite3_column_int64(stmt, 0);
    j->channel = channel;
    j->time_ms = sqlite3_column_int64(stmt, 1);
    col_text(stmt, 2, j->endpoint, sizeof j->endpoint);
    j->http = sqlite3_column_int(stmt, 3);
    j->status = sqlite3_column_int(stmt, 4);
    col_text(stmt, 5, j->detail, sizeof j->detail);
    j->latency_us = sqlite3_column_int64(stmt, 6);
    col_text(stmt, 7, j->fault, sizeof j->fault);
    return STORE_OK;
}

static void drop_journal(void *rows, size_t n)
{
    store_journal_free(rows, n);
}

static const struct row_kind journal_rows = {sizeof(struct journal_row), fill_journal,
                                             drop_journal};

static int sq_journal_list(struct store *st, int64_t channel, const struct journal_query *q,
                           struct journal_row **out, size_t *n)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_JOURNAL_LIST];
    int rc;

    *out = NULL;
    *n = 0;
    if (q->limit == 0)
        return STORE_OK;
    BIND(sqlite3_bind_int64(stmt, 1, channel));
    BIND(sqlite3_bind_int64(stmt, 2, q->before_id > 0 ? q->before_id : INT64_MAX));
    BIND(sqlite3_bind_int64(stmt, 3, q->since_ms));
    BIND(sqlite3_bind_int(stmt, 4, q->status));
    BIND(q->endpoint ? sqlite3_bind_text(stmt, 5, q->endpoint, -1, SQLITE_STATIC)
                     : sqlite3_bind_null(stmt, 5));
    BIND(sqlite3_bind_int64(stmt, 6, sql_limit(q->limit)));
out:
    return read_rows(s, stmt, rc, &journal_rows, 32, channel, "journal_list", out, n);
}

/* ---- node leases ------------------------------------------------------------------------- */

#define NODE_COUNT 1024 /* node ids 0..1023: tokgen's 10 bits */

/*
 * Inside the caller's transaction: the lowest node id without a live lease
 * of another holder, or -1 when all are taken.
 */
static int free_node(struct sq *s, const char *holder, int64_t now, int *node)
{
    sqlite3_stmt *stmt = s->st[ST_NODE_LIVE];
    unsigned char taken[NODE_COUNT] = {0};
    int ret = STORE_OK;
    int rc;

    BIND(sqlite3_bind_int64(stmt, 1, now));
    BIND(sqlite3_bind_text(stmt, 2, holder, -1, SQLITE_STATIC));
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(stmt, 0);
        if (n >= 0 && n < NODE_COUNT)
            taken[n] = 1;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
out:
    if (rc != SQLITE_OK)
        ret = fail(s, rc, "node_acquire");
    done_with(stmt);
    *node = -1;
    for (int i = 0; ret == STORE_OK && i < NODE_COUNT && *node < 0; i++)
        if (!taken[i])
            *node = i;
    return ret;
}

/*
 * Inside the caller's transaction: STORE_EXISTS with *out filled when node
 * has a live lease of another holder, else STORE_OK.
 */
static int node_held(struct sq *s, int node, const char *holder, int64_t now,
                     struct node_lease *out)
{
    sqlite3_stmt *stmt = s->st[ST_NODE_GET];
    int ret = STORE_OK;
    int rc;

    BIND(sqlite3_bind_int(stmt, 1, node));
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *who = (const char *)sqlite3_column_text(stmt, 0);
        int64_t until = sqlite3_column_int64(stmt, 1);

        if (until > now && (!who || strcmp(who, holder) != 0)) {
            out->node = node;
            col_text(stmt, 0, out->holder, sizeof out->holder);
            out->expires_ms = until;
            ret = STORE_EXISTS;
        }
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
out:
    if (rc != SQLITE_OK)
        ret = fail(s, rc, "node_acquire");
    done_with(stmt);
    return ret;
}

/* Looks and takes in one BEGIN IMMEDIATE, so two servers starting at once never both win. */
static int sq_node_acquire(struct store *st, int want, const char *holder, int64_t ttl_ms,
                           struct node_lease *out)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *put = s->st[ST_NODE_PUT];
    int64_t now = store_now_ms();
    int node = want;
    int ret, rc;

    memset(out, 0, sizeof *out);
    out->node = -1;
    if (want < -1 || want >= NODE_COUNT)
        return fail_msg(s, "node_acquire", "node id out of range 0..1023");
    if ((ret = check_file(s, "node_acquire")) != STORE_OK)
        return ret;
    if ((ret = run(s, ST_BEGIN)) != STORE_OK)
        return ret;
    if (want < 0)
        ret = free_node(s, holder, now, &node);
    else
        ret = node_held(s, want, holder, now, out);
    if (ret != STORE_OK)
        goto undo;
    if (node < 0) {
        ret = STORE_EXISTS; /* all 1024 held */
        goto undo;
    }
    BIND(sqlite3_bind_int(put, 1, node));
    BIND(sqlite3_bind_text(put, 2, holder, -1, SQLITE_STATIC));
    BIND(sqlite3_bind_int64(put, 3, now + ttl_ms));
    if ((ret = step_write(s, put, "node_acquire", NULL)) != STORE_OK ||
        (ret = run(s, ST_COMMIT)) != STORE_OK)
        goto undo;
    out->node = node;
    snprintf(out->holder, sizeof out->holder, "%s", holder);
    out->expires_ms = now + ttl_ms;
    return STORE_OK;
out: /* a bind failed */
    ret = fail(s, rc, "node_acquire");
    done_with(put);
undo:
    rollback(s);
    return ret;
}

static int sq_node_renew(struct store *st, int node, const char *holder, int64_t ttl_ms)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_NODE_RENEW];
    int64_t touched = 0;
    int ret, rc;

    if ((ret = check_file(s, "node_renew")) != STORE_OK)
        return ret;
    BIND(sqlite3_bind_int(stmt, 1, node));
    BIND(sqlite3_bind_text(stmt, 2, holder, -1, SQLITE_STATIC));
    BIND(sqlite3_bind_int64(stmt, 3, store_now_ms() + ttl_ms));
    if ((ret = step_write(s, stmt, "node_renew", &touched)) != STORE_OK)
        return ret;
    return touched ? STORE_OK : STORE_NOTFOUND;
out:
    rc = fail(s, rc, "node_renew");
    done_with(stmt);
    return rc;
}

static int sq_node_release(struct store *st, int node, const char *holder)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_NODE_RELEASE];
    int rc;

    BIND(sqlite3_bind_int(stmt, 1, node));
    BIND(sqlite3_bind_text(stmt, 2, holder, -1, SQLITE_STATIC));
    return step_write(s, stmt, "node_release", NULL);
out:
    rc = fail(s, rc, "node_release");
    done_with(stmt);
    return rc;
}

static int sq_node_last_token(struct store *st, int node, uint64_t *token)
{
    struct sq *s = sq_of(st);
    sqlite3_stmt *stmt = s->st[ST_NODE_LAST];
    int ret = STORE_OK;
    int rc;

    *token = 0;
    BIND(sqlite3_bind_int(stmt, 1, node));
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *token = (uint64_t)sqlite3_column_int64(stmt, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
out:
    if (rc != SQLITE_OK)
        ret = fail(s, rc, "node_last_token");
    done_with(stmt);
    return ret;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .errmsg = sq_errmsg,
    .config_version = sq_config_version,
    .ping = sq_ping,
    .channel_create = sq_channel_create,
    .channel_by_token = sq_channel_by_token,
    .channel_by_pa_id = sq_channel_by_pa_id,
    .channel_list = sq_channel_list,
    .channel_set_state = sq_channel_set_state,
    .channel_set_token = sq_channel_set_token,
    .channel_set_webhook = sq_channel_set_webhook,
    .channel_set_rate = sq_channel_set_rate,
    .channel_set_details = sq_channel_set_details,
    .channel_reset = sq_channel_reset,
    .reset_all = sq_reset_all,
    .fault_add = sq_fault_add,
    .fault_list = sq_fault_list,
    .fault_remove = sq_fault_remove,
    .fault_count = sq_fault_count,
    .journal_append = sq_journal_append,
    .journal_list = sq_journal_list,
    .member_add = sq_member_add,
    .member_remove = sq_member_remove,
    .member_list = sq_member_list,
    .member_role = sq_member_role,
    .post_insert_batch = sq_post_insert_batch,
    .post_list = sq_post_list,
    .post_list_after = sq_post_list_after,
    .node_acquire = sq_node_acquire,
    .node_renew = sq_node_renew,
    .node_release = sq_node_release,
    .node_last_token = sq_node_last_token,
    .board_attach = sq_board_attach,
};
