/*
 * The watch thread (cluster.h).
 *
 * Why a thread of its own and not the HTTP thread's poll loop: the HTTP
 * thread is libmicrohttpd's, whose loop we do not own, and a notification
 * must move the version even while no request comes (the next one must find
 * it moved).  The thread sleeps in poll() on the watch's socket and a wake
 * pipe, so it costs nothing between notifications.  While the watch's
 * connection is lost it tries again every RETRY_MS (store_watch_read
 * bounds the attempts) and config_version reads 0 meanwhile: nothing is
 * cached until it is back.
 *
 * Live fan-out: every committed batch of posts, whoever committed it,
 * notifies its tokens; this thread reads those posts once, by token, on a
 * store connection of its own, and publishes them to this instance's
 * streams -- its own posts too (http.c then publishes nothing itself), so
 * that every instance publishes in the one order the database delivers
 * notifications in: commit order, which post_insert_batch makes each
 * channel's token order (store.h).  A stream that resumes with
 * Last-Event-ID then neither skips nor repeats a post.  Notifications are
 * missed only while the watch's connection is lost, and a post may then
 * never be published here: so every stream is ended when the loss is seen
 * and again when the connection is back, and its client resumes from the
 * database (EventSource does by itself).
 */
#define _GNU_SOURCE /* pipe2 */
#include "server/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"
#include "server/stream.h"
#include "server/util.h"

#define RETRY_MS 250 /* poll timeout while the connection is lost */

struct cluster {
    struct server *srv;
    struct store_watch *watch;
    struct store *store; /* the thread's: reads the posts heard of */
    pthread_t thread;
    int wake[2]; /* written once by cluster_stop */
    atomic_bool stop;
};

/* Reads the posts heard of and publishes them, in the order heard. */
static void fan_out(struct cluster *c)
{
    size_t n, got = 0;
    const uint64_t *tokens = store_watch_tokens(c->watch, &n);
    struct post *posts = NULL;

    /* No stream open: nothing to read.  One opened after this check starts
     * above every post whose notification came before it (stream.c,
     * start_cursor) or replays them from the database. */
    if (n == 0 || streams_count(c->srv->streams) == 0)
        return;
    if (store_post_get(c->store, tokens, n, &posts, &got) != STORE_OK) {
        log_msg("error", "live events: reading %zu posts: %s; streams ended (they resume)", n,
                store_errmsg(c->store));
        streams_end_all(c->srv->streams);
        return;
    }
    for (size_t i = 0; i < got; i++)
        streams_publish(c->srv->streams, &posts[i]);
    store_posts_free(posts, got);
}

static void *run(void *arg)
{
    struct cluster *c = arg;
    bool was_live = true;

    while (!atomic_load(&c->stop)) {
        struct pollfd p[2] = {{.fd = c->wake[0], .events = POLLIN},
                              {.fd = store_watch_fd(c->watch), .events = POLLIN}};
        int live = p[1].fd >= 0;

        if (poll(p, live ? 2 : 1, live ? -1 : RETRY_MS) < 0 && errno != EINTR)
            break;
        if (atomic_load(&c->stop))
            break;
        if (store_watch_read(c->watch) == STORE_OK) {
            if (!was_live) {
                log_msg("info", "watch: listening again; channel caches emptied, live streams "
                                "ended (they resume)");
                streams_end_all(c->srv->streams);
            }
            was_live = true;
            fan_out(c);
        } else if (was_live) {
            log_msg("warn", "%s; caching no channel until it is back, live streams ended",
                    store_watch_errmsg(c->watch));
            streams_end_all(c->srv->streams);
            was_live = false;
        }
    }
    return NULL;
}

int cluster_start(struct cluster **out, struct server *srv)
{
    struct cluster *c;
    struct store_watch *w;
    char err[256];
    int rc = store_watch_open(srv->cfg.db, (int)srv->tokgen.node, &w, err, sizeof err);

    *out = NULL;
    if (rc == STORE_NOTFOUND)
        return 0;
    if (rc != STORE_OK) {
        log_msg("error", "database %s: %s", store_dsn_shown(srv->cfg.db), err);
        return -1;
    }
    c = xcalloc(1, sizeof *c);
    c->srv = srv;
    c->watch = w;
    if (store_open(srv->cfg.db, &c->store, err, sizeof err) != STORE_OK) {
        log_msg("error", "database %s: %s", store_dsn_shown(srv->cfg.db), err);
        goto fail;
    }
    atomic_init(&c->stop, false);
    if (pipe2(c->wake, O_CLOEXEC) != 0) {
        log_msg("error", "watch: pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        log_msg("error", "watch: cannot start its thread");
        close(c->wake[0]);
        close(c->wake[1]);
        goto fail;
    }
    store_watch_attach(srv->store, w);
    *out = c;
    return 0;
fail:
    store_close(c->store);
    store_watch_close(w);
    free(c);
    return -1;
}

void cluster_changed(struct cluster *c)
{
    if (c)
        store_watch_touch(c->watch);
}

void cluster_stop(struct cluster *c)
{
    if (!c)
        return;
    store_watch_attach(c->srv->store, NULL);
    atomic_store(&c->stop, true);
    if (write(c->wake[1], "x", 1) < 0)
        log_msg("warn", "watch: wake: %s", strerror(errno));
    pthread_join(c->thread, NULL);
    close(c->wake[0]);
    close(c->wake[1]);
    store_watch_close(c->watch);
    store_close(c->store);
    free(c);
}
