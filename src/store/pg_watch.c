/*
 * The PostgreSQL backend's watch (store.h, store_watch_*): one connection
 * that LISTENs on the channel every configuration change NOTIFYs (the
 * triggers of schema step 3, pg_schema.c, so no writer can forget one: vcpd,
 * the offline CLI, or an operator's own SQL), and turns each notification
 * into a new configuration version; and on the channel every batch of
 * posts notifies with its tokens (pg.c), which store_watch_tokens hands
 * on, in commit order (PostgreSQL delivers notifications so).
 *
 * Why a version that moves on notifications and not a version row read per
 * request: config_version is on every request's path and must cost no
 * query; the database pushes the change to every listening connection when
 * it commits.  A notification that has reached the socket but that the
 * watch's thread has not taken in yet must count already: the next request
 * may come before that thread runs.  So pg_watch_version also looks at the
 * socket (poll with no wait: one system call, no query) and reads 0 while
 * input waits there or the thread is taking it in (busy); see there for the
 * order of the reads.  What remains is the time the database takes to
 * write the notification to the socket after the commit (its listening
 * backend process must run): a request in that window -- on loopback well
 * under a millisecond -- may still see the old configuration.
 *
 * A missed notification must never leave a stale cache, and notifications
 * are missed only while the connection is lost.  So the version reads 0
 * ("cannot tell, cache nothing") from the moment the loss is seen until the
 * connection is back and LISTENing again; then it moves to a number never
 * given before, so every cache is emptied of what was read before the loss.
 * A loss is seen when the socket ends (the server stopped or closed it: at
 * once) or, on a silent network, through the TCP keepalives and
 * tcp_user_timeout of pg_connect (about 10 s).
 *
 * Threads: one thread owns the watch (store_watch_read); the version and the
 * live flag are atomics, read by the connections it is attached to on other
 * threads.
 */
#include "store/pg_watch.h"

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_MS 250 /* least time between two reconnect attempts */

struct store_watch {
    PGconn *conn;
    _Atomic uint64_t version; /* moves on every notification and every reconnect; never 0 */
    atomic_bool live;         /* LISTENing on conn: version may be trusted */
    atomic_bool busy;         /* the thread is taking input in: version may be about to move */
    atomic_int fd;            /* conn's socket while live */
    int64_t last_try_ms;      /* monotonic time of the last failed reconnect */
    int node;                 /* the node id answered for (store.h); -1: none */
    uint64_t *tokens;         /* posts committed, heard by the last read (store_watch_tokens) */
    size_t ntokens, captokens;
    char err[256];
};

static int64_t mono_ms(void)
{
    return store_mono_ns() / 1000000;
}

/* The first line of msg after what into w->err. */
static void set_err(struct store_watch *w, const char *what, const char *msg)
{
    if (!msg || !*msg)
        msg = "unknown error";
    snprintf(w->err, sizeof w->err, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
}

/* Nothing heard can be trusted from now until listen() succeeds again. */
static void lost(struct store_watch *w, const char *why)
{
    atomic_store(&w->live, false);
    set_err(w, "watch connection lost", why);
}

/* LISTENs on the configuration channel; then the version moves and may be trusted. */
static int start_listening(struct store_watch *w)
{
    /* named, so an operator tells it in pg_stat_activity */
    PGresult *res = PQexec(w->conn, "SET application_name = 'vcpd watch'; LISTEN " PG_CONFIG_CHANNEL
                                    "; LISTEN " PG_POSTS_CHANNEL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok)
        set_err(w, "LISTEN", PQerrorMessage(w->conn));
    PQclear(res);
    if (!ok)
        return STORE_ERROR;
    /* changes committed before the LISTEN were not heard: whatever was read before is
     * suspect, so a version no cache has seen */
    atomic_fetch_add(&w->version, 1);
    atomic_store(&w->fd, PQsocket(w->conn));
    atomic_store(&w->live, true);
    return STORE_OK;
}

int pg_watch_open(const char *dsn, int node, struct store_watch **out, char *err, size_t err_len)
{
    struct store_watch *w = calloc(1, sizeof *w);

    *out = NULL;
    if (!w) {
        snprintf(err, err_len, "postgresql: out of memory");
        return STORE_ERROR;
    }
    w->node = node;
    atomic_init(&w->version, 0);
    atomic_init(&w->live, false);
    atomic_init(&w->busy, false);
    atomic_init(&w->fd, -1);
    if (!(w->conn = pg_connect(dsn)) || PQstatus(w->conn) != CONNECTION_OK) {
        set_err(w, "postgresql: watch: cannot connect",
                w->conn ? PQerrorMessage(w->conn) : "no memory");
        goto fail;
    }
    if (start_listening(w) != STORE_OK)
        goto fail;
    *out = w;
    return STORE_OK;
fail:
    snprintf(err, err_len, "%s", w->err);
    store_watch_close(w);
    return STORE_ERROR;
}

void store_watch_close(struct store_watch *w)
{
    if (!w)
        return;
    PQfinish(w->conn);
    free(w->tokens);
    free(w);
}

const uint64_t *store_watch_tokens(struct store_watch *w, size_t *n)
{
    *n = w->ntokens;
    return w->tokens;
}

/*
 * Answers a writer's marker (store.h): the version has moved for everything
 * committed before it.  A failure is the writer's wait running out, no more.
 */
static void answer(struct store_watch *w, const char *nonce)
{
    char sql[128];
    size_t len = strspn(nonce, "0123456789");

    if (w->node < 0 || len == 0 || len > 20 || nonce[len])
        return; /* not a marker of ours: digits only go into the statement */
    snprintf(sql, sizeof sql, "SELECT pg_notify('" PG_ACK_CHANNEL "', '%s %d')", nonce, w->node);
    PQclear(PQexec(w->conn, sql));
}

/* Appends the tokens of a posts payload ("t1,t2,..."); false without memory. */
static bool add_tokens(struct store_watch *w, const char *payload)
{
    const char *p = payload;

    while (*p) {
        char *end;
        unsigned long long t = strtoull(p, &end, 10);

        if (end == p)
            break; /* not ours: the rest is ignored */
        if (w->ntokens == w->captokens) {
            size_t cap = w->captokens ? 2 * w->captokens : 256;
            uint64_t *nt = realloc(w->tokens, cap * sizeof *nt);

            if (!nt)
                return false;
            w->tokens = nt;
            w->captokens = cap;
        }
        w->tokens[w->ntokens++] = t;
        p = *end == ',' ? end + 1 : end;
    }
    return true;
}

int store_watch_fd(struct store_watch *w)
{
    return atomic_load(&w->live) ? PQsocket(w->conn) : -1;
}

void store_watch_touch(struct store_watch *w)
{
    atomic_fetch_add(&w->version, 1);
}

const char *store_watch_errmsg(struct store_watch *w)
{
    return w->err;
}

/* Input (or the end of the connection) waits on fd now. */
static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) != 0;
}

/*
 * The order matters (all seq_cst): version, socket, busy, version again.  If
 * the socket shows nothing, a notification that had arrived was taken in
 * before the poll, so busy was set before the poll too: either busy still
 * reads true, or the thread has finished and moved the version before the
 * second read, which then differs from the first unless the first was
 * already the moved one.  Any doubt reads 0: "cannot tell, cache nothing".
 */
uint64_t pg_watch_version(const struct store_watch *w)
{
    uint64_t v;

    if (!atomic_load(&w->live))
        return 0;
    v = atomic_load(&w->version);
    if (readable(atomic_load(&w->fd))) /* input waiting (or the socket ended, or an error) */
        return 0;
    if (atomic_load(&w->busy) || atomic_load(&w->version) != v || !atomic_load(&w->live))
        return 0;
    return v;
}

int store_watch_read(struct store_watch *w)
{
    PGnotify *n;
    int64_t now;

    w->ntokens = 0;

    if (!atomic_load(&w->live)) {
        now = mono_ms();
        if (w->last_try_ms && now - w->last_try_ms < RETRY_MS)
            return STORE_ERROR;
        PQreset(w->conn);
        if (PQstatus(w->conn) != CONNECTION_OK || start_listening(w) != STORE_OK) {
            if (PQstatus(w->conn) != CONNECTION_OK)
                set_err(w, "watch: database unreachable", PQerrorMessage(w->conn));
            w->last_try_ms = now;
            return STORE_ERROR;
        }
        w->last_try_ms = 0;
        w->err[0] = '\0';
    }
    atomic_store(&w->busy, true); /* before the socket is read: see pg_watch_version */
    /* A server ending the session sends its reason, then closes: the first read takes the
     * message, the next one the end.  So read while more waits (a few times at most). */
    for (int i = 0; i == 0 || (i < 4 && readable(PQsocket(w->conn))); i++)
        if (!PQconsumeInput(w->conn) || PQstatus(w->conn) != CONNECTION_OK) {
            lost(w, PQerrorMessage(w->conn));
            atomic_store(&w->busy, false);
            return STORE_ERROR;
        }
    while ((n = PQnotifies(w->conn))) {
        if (strcmp(n->relname, PG_CONFIG_CHANNEL) == 0) {
            /* a marker is no change: the change before it moved the version already */
            if (strncmp(n->extra, PG_SYNC_PREFIX, strlen(PG_SYNC_PREFIX)) == 0)
                answer(w, n->extra + strlen(PG_SYNC_PREFIX));
            else
                atomic_fetch_add(&w->version, 1);
        } else if (strcmp(n->relname, PG_POSTS_CHANNEL) == 0 && !add_tokens(w, n->extra))
            lost(w, "out of memory: posts not heard"); /* as if lost: the same recovery */
        PQfreemem(n);
    }
    if (!atomic_load(&w->live)) {
        atomic_store(&w->busy, false);
        return STORE_ERROR;
    }
    atomic_store(&w->busy, false);
    return STORE_OK;
}
