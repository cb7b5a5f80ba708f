/*
 * Node id lease of vcpd (node.h).
 *
 * Why a lease and not just --node-id: two instances on one database with the
 * same node id make the same message_tokens in the same millisecond, and the
 * second insert then fails (status 99) long after both started.  A lease in
 * the database makes the second one fail at start, with a message naming
 * the holder, and lets instances without --node-id pick distinct ids.
 *
 * The renewing thread has its own store connection (a struct store is one
 * thread's).  It renews every third of the TTL, so two renewals may fail
 * (the database busy, a disk hiccup: logged) before the lease can expire.
 * If the lease was lost all the same -- the process was stopped longer than
 * the TTL and another instance took the id -- this one must not make another
 * token with it: it logs why and shuts down as on SIGTERM.
 */
#include "server/node.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/http.h"
#include "server/server.h"
#include "server/util.h"
#include "server/worker.h"

struct node {
    struct store *s; /* the renewing thread's connection */
    int id;
    int64_t ttl_ms;
    char holder[128];
    struct worker w; /* the renewing thread */
};

/* A number from the environment (tests); def when unset, -1 when malformed. */
static int env_ms(const char *name, long long lo, long long hi, long long def, long long *v)
{
    const char *e = getenv(name);
    char *end;

    *v = def;
    if (!e)
        return 0;
    errno = 0;
    *v = strtoll(e, &end, 10);
    if (errno || end == e || *end || *v < lo || *v > hi) {
        log_msg("error", "%s must be an integer %lld..%lld (milliseconds)", name, lo, hi);
        return -1;
    }
    return 0;
}

static void *renewer(void *arg)
{
    struct node *n = arg;
    uint64_t due;
    int rc;

    pthread_mutex_lock(&n->w.lock);
    while (!n->w.stopping) {
        due = mono_us() + (uint64_t)(n->ttl_ms / 3) * 1000;
        while (!n->w.stopping && worker_wait(&n->w, due) != ETIMEDOUT)
            ;
        if (n->w.stopping)
            break;
        pthread_mutex_unlock(&n->w.lock);
        rc = store_node_renew(n->s, n->id, n->holder, n->ttl_ms);
        if (rc == STORE_NOTFOUND) {
            log_msg("error",
                    "lease on node id %d lost (not renewed within %" PRId64
                    " ms, another instance took it): shutting down",
                    n->id, n->ttl_ms);
            kill(getpid(), SIGTERM); /* main's sigwait: the usual clean shutdown */
        } else if (rc != STORE_OK) {
            log_msg("warn", "renewing the lease on node id %d: %s", n->id, store_errmsg(n->s));
        }
        pthread_mutex_lock(&n->w.lock);
        if (rc == STORE_NOTFOUND)
            break;
    }
    pthread_mutex_unlock(&n->w.lock);
    return NULL;
}

/* Logs why want could not be taken. */
static void refused(int want, const struct node_lease *held, struct store *s, int rc)
{
    if (rc != STORE_EXISTS)
        log_msg("error", "taking a node id lease: %s", store_errmsg(s));
    else if (want < 0)
        log_msg("error", "no free node id: all %d are leased by live instances",
                TOKGEN_NODE_MAX + 1);
    else
        log_msg("error",
                "--node-id %d is in use: leased by %s for %" PRId64
                " ms more; give another --node-id, or none to take a free one",
                want, held->holder, held->expires_ms - (int64_t)now_ms());
}

int node_start(struct node **out, struct store *s, const char *dsn, int want, struct tokgen *g)
{
    struct node *n = xcalloc(1, sizeof *n);
    struct node_lease lease;
    long long ttl, offset;
    char host[64] = "?", since[24], err[256];
    time_t started;
    struct tm tm;
    uint64_t last = 0;
    int rc;

    *out = NULL;
    n->id = -1;
    /* both for tests: a lease that expires soon, a clock set back */
    if (env_ms("VCPD_NODE_LEASE_MS", 300, 3600000, NODE_LEASE_TTL_MS, &ttl) != 0 ||
        env_ms("VCPD_TEST_CLOCK_OFFSET_MS", -86400000LL * 3650, 86400000LL * 3650, 0, &offset) != 0)
        goto fail;
    n->ttl_ms = ttl;
    now_offset_ms = offset;
    if (offset)
        log_msg("warn", "VCPD_TEST_CLOCK_OFFSET_MS: the clock is %lld ms off (tests only)", offset);
    gethostname(host, sizeof host - 1);
    started = (time_t)(now_ms() / 1000);
    gmtime_r(&started, &tm);
    strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* the refusal of another instance names this: who, where, since when */
    snprintf(n->holder, sizeof n->holder, "vcpd pid %d on %s (started %s)", (int)getpid(), host,
             since);
    if ((rc = store_node_acquire(s, want, n->holder, n->ttl_ms, &lease)) != STORE_OK) {
        refused(want, &lease, s, rc);
        goto fail;
    }
    n->id = lease.node;
    if (store_node_last_token(s, n->id, &last) != STORE_OK) {
        log_msg("error", "reading the last token of node id %d: %s", n->id, store_errmsg(s));
        goto fail;
    }
    tokgen_init(g, (unsigned)n->id);
    if (last)
        tokgen_resume(g, last);
    if (store_open(dsn, &n->s, err, sizeof err) != STORE_OK) {
        log_msg("error", "database %s: %s", dsn, err);
        goto fail;
    }
    if (worker_start(&n->w, "vcpd-node", renewer, n) != 0) {
        log_msg("error", "node id lease: cannot start a thread");
        goto fail;
    }
    log_msg("info",
            "message_token node id %d (%s), leased for %" PRId64 " ms, renewed every %" PRId64
            " ms; tokens start above %" PRIu64,
            n->id, want < 0 ? "a free one" : "--node-id", n->ttl_ms, n->ttl_ms / 3, last);
    *out = n;
    return 0;
fail:
    if (n->id >= 0)
        store_node_release(s, n->id, n->holder);
    store_close(n->s); /* the thread, the last step, never started */
    free(n);
    return -1;
}

void node_stop(struct node *n)
{
    if (!n)
        return;
    worker_stop(&n->w);
    if (store_node_release(n->s, n->id, n->holder) != STORE_OK)
        log_msg("warn", "releasing node id %d: %s (it expires by itself)", n->id,
                store_errmsg(n->s));
    store_close(n->s);
    worker_fini(&n->w);
    free(n);
}
