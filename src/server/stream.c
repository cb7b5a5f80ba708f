/*
 * Live event streams on libmicrohttpd's public API (stream.h says how they
 * behave; this file is the machinery).
 *
 * Every piece of stream state is guarded by one mutex, st->lock: the
 * publisher (the group-commit thread), the heartbeat thread and the
 * daemons' threads (content-reader callbacks, the response's free
 * callback) all take it for a few instructions, never across I/O -- a
 * replay page is read from the store outside it.  A stream whose callback
 * found nothing to send suspends its connection while holding the lock, and
 * whoever queues something resumes it while holding the lock, so no wake-up
 * is lost between the two.  A stream stays in its channel's list until the
 * response's free callback, which libmicrohttpd calls before it lets the
 * connection go: no resume can reach a connection that is gone.
 *
 * Each post is encoded once (struct ev, reference-counted under the lock)
 * and shared by every stream that has it queued.  Channels with streams are
 * found through a small chained hash table by row id.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/accept.h"
#include "server/feed.h"
#include "server/jsonw.h"
#include "server/server.h"
#include "server/stream.h"
#include "server/util.h"

#define CHAN_BUCKETS    1024 /* power of two */
#define PING_MS_DEFAULT 15000
#define RETRY_MS        2000
/* libmicrohttpd's own buffer for a callback response; used only when the
 * body is not chunked (HTTP/1.0 clients), so small. */
#define BLOCK_SIZE 256

/* One encoded event, shared by the queues that hold it. */
struct ev {
    unsigned refs; /* under st->lock; the heartbeat is static and never counted */
    size_t len;
    char data[];
};

struct chan;

/* One open stream: the closure of its response's callbacks. */
struct sub {
    struct streams *st;
    struct MHD_Connection *conn;
    struct store *store; /* its daemon thread's connection, for replay pages */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;      /* the client's, for its stream place */
    bool placed; /* holds a stream place of addr */
    int64_t channel;
    struct chan *chan; /* registered here until freed */
    uint32_t slot;     /* index in chan->subs */
    uint64_t cursor;   /* newest token queued or replayed */
    bool replaying;    /* reading pages from the store; live posts wait for the next page */
    bool suspended;    /* its callback suspended the connection; a queuer must resume it */
    bool closed;       /* to end: the callback closes the connection */
    char *page;        /* replay page or the opening "retry:" line, heap; NULL when none */
    size_t page_len, page_off;
    struct ev **q; /* queued events q[qhead..qn) */
    uint32_t qhead, qn, qcap;
    size_t qoff;   /* bytes of q[qhead] already sent */
    size_t qbytes; /* bytes queued in all */
};

/* The streams of one channel. */
struct chan {
    int64_t id;
    uint64_t last_token; /* newest token published to it since it has streams */
    struct sub **subs;
    uint32_t n, cap;
    struct chan *next; /* bucket chain */
};

struct streams {
    struct server *srv;
    struct store *store; /* replays on the streams' daemon thread */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the heartbeat thread's timer and stop signal */
    pthread_t pinger;
    bool started;
    bool stopping;
    unsigned nsubs, max_subs;
    unsigned ping_ms;
    struct chan *chans[CHAN_BUCKETS];
    struct ev *ping;
};

static const char ping_text[] = ": ping\n\n";

/* --- events and queues (under st->lock) ----------------------------------- */

static struct ev *ev_new(const char *data, size_t len)
{
    struct ev *e = xmalloc(sizeof *e + len);

    e->refs = 1;
    e->len = len;
    memcpy(e->data, data, len);
    return e;
}

static void ev_put(struct streams *st, struct ev *e)
{
    if (e != st->ping && --e->refs == 0)
        free(e);
}

static void queue_clear(struct streams *st, struct sub *s)
{
    for (uint32_t i = s->qhead; i < s->qn; i++)
        ev_put(st, s->q[i]);
    free(s->q);
    s->q = NULL;
    s->qhead = s->qn = s->qcap = 0;
    s->qoff = s->qbytes = 0;
}

static void wake_sub(struct sub *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

/* Ends s: its callback ends the response at its next call. */
static void sub_close(struct streams *st, struct sub *s)
{
    s->closed = true;
    queue_clear(st, s);
    wake_sub(s);
}

/* Queues e for s (a new reference) and wakes s. */
static void sub_queue(struct streams *st, struct sub *s, struct ev *e)
{
    if (s->qbytes + e->len > STREAM_BACKLOG_MAX) {
        sub_close(st, s); /* too slow: it resumes with Last-Event-ID */
        return;
    }
    if (s->qhead > 0 && s->qn == s->qcap) {
        memmove(s->q, s->q + s->qhead, (s->qn - s->qhead) * sizeof *s->q);
        s->qn -= s->qhead;
        s->qhead = 0;
    }
    if (s->qn == s->qcap) {
        s->qcap = s->qcap ? s->qcap * 2 : 4;
        s->q = xrealloc(s->q, s->qcap * sizeof *s->q);
    }
    if (e != st->ping)
        e->refs++;
    s->q[s->qn++] = e;
    s->qbytes += e->len;
    wake_sub(s);
}

/* Copies pending output (page first, then queued events) into buf. */
static size_t copy_out(struct streams *st, struct sub *s, char *buf, size_t max)
{
    size_t w = 0;

    if (s->page) {
        size_t n = s->page_len - s->page_off;
        if (n > max)
            n = max;
        memcpy(buf, s->page + s->page_off, n);
        s->page_off += n;
        w = n;
        if (s->page_off == s->page_len) {
            free(s->page);
            s->page = NULL;
        }
    }
    while (w < max && s->qhead < s->qn) {
        struct ev *e = s->q[s->qhead];
        size_t n = e->len - s->qoff;
        if (n > max - w)
            n = max - w;
        memcpy(buf + w, e->data + s->qoff, n);
        w += n;
        s->qoff += n;
        s->qbytes -= n;
        if (s->qoff == e->len) {
            ev_put(st, e);
            s->qhead++;
            s->qoff = 0;
        }
    }
    if (s->qhead == s->qn && s->q) {
        /* idle again: give the queue back, so idle streams stay small */
        free(s->q);
        s->q = NULL;
        s->qhead = s->qn = s->qcap = 0;
    }
    return w;
}

/* --- channels (under st->lock) -------------------------------------------- */

static struct chan **chan_slot(struct streams *st, int64_t id)
{
    struct chan **pp = &st->chans[(uint64_t)id * 0x9E3779B97F4A7C15u >> 54 & (CHAN_BUCKETS - 1)];

    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    return pp;
}

static void chan_add(struct streams *st, struct sub *s)
{
    struct chan **pp = chan_slot(st, s->channel), *c = *pp;

    if (!c) {
        c = *pp = xcalloc(1, sizeof *c);
        c->id = s->channel;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->subs = xrealloc(c->subs, c->cap * sizeof *c->subs);
    }
    s->slot = c->n;
    c->subs[c->n++] = s;
    s->chan = c;
}

static void chan_remove(struct streams *st, struct sub *s)
{
    struct chan *c = s->chan;
    struct chan **pp;

    if (!c)
        return;
    c->subs[s->slot] = c->subs[--c->n];
    c->subs[s->slot]->slot = s->slot;
    s->chan = NULL;
    if (c->n > 0)
        return;
    pp = chan_slot(st, c->id);
    *pp = c->next;
    free(c->subs);
    free(c);
}

/* --- the callbacks libmicrohttpd calls -------------------------------------- */

/* Encodes one post as an event: id, type and the read API's JSON. */
static void encode(struct jsonw *w, const struct post *p)
{
    char num[32];
    int n = snprintf(num, sizeof num, "id: %" PRIu64 "\n", p->token);

    jsonw_raw(w, num, (size_t)n);
    jsonw_lit(w, "event: post\ndata: ");
    feed_post_json(w, p);
    jsonw_lit(w, "\n\n");
}

/*
 * Reads the next replay page of s, outside the lock.  snap is the channel's
 * last_token from before the read: if the page is short and nothing was
 * published since, every committed post has been replayed and s turns live.
 * Returns 0, or -1 on a store failure (logged; the stream ends and the
 * client resumes).
 */
static int replay_page(struct streams *st, struct sub *s, uint64_t cursor, uint64_t snap)
{
    struct post *p = NULL;
    size_t n = 0;
    struct jsonw w;

    if (store_post_list_after(s->store, s->channel, cursor, STREAM_PAGE, &p, &n) != STORE_OK) {
        log_msg("error", "event stream replay: store: %s", store_errmsg(s->store));
        return -1;
    }
    jsonw_init(&w);
    for (size_t i = 0; i < n; i++)
        encode(&w, &p[i]);
    pthread_mutex_lock(&st->lock);
    if (n > 0) {
        s->page = xmalloc(w.len);
        memcpy(s->page, w.buf, w.len);
        s->page_len = w.len;
        s->page_off = 0;
        s->cursor = p[n - 1].token;
    }
    if (n < STREAM_PAGE && s->chan && s->chan->last_token == snap)
        s->replaying = false;
    pthread_mutex_unlock(&st->lock);
    jsonw_free(&w);
    store_posts_free(p, n);
    return 0;
}

static ssize_t sub_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sub *s = cls;
    struct streams *st = s->st;

    for (;;) {
        uint64_t cursor, snap;
        size_t w;

        pthread_mutex_lock(&st->lock);
        if (s->closed) {
            /* a clean end (the last chunk): the client resumes from its last id */
            pthread_mutex_unlock(&st->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        w = copy_out(st, s, buf, max);
        if (w > 0) {
            pthread_mutex_unlock(&st->lock);
            return (ssize_t)w;
        }
        if (!s->replaying) {
            /* Nothing to send: park the connection until sub_queue or
             * sub_close resumes it (both under this lock). */
            s->suspended = true;
            MHD_suspend_connection(s->conn);
            pthread_mutex_unlock(&st->lock);
            return 0;
        }
        cursor = s->cursor;
        snap = s->chan ? s->chan->last_token : 0;
        pthread_mutex_unlock(&st->lock);
        if (replay_page(st, s, cursor, snap) != 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

/* The response is gone, so is the stream: libmicrohttpd is done with it. */
static void sub_free(void *cls)
{
    struct sub *s = cls;
    struct streams *st = s->st;

    pthread_mutex_lock(&st->lock);
    chan_remove(st, s);
    st->nsubs--;
    queue_clear(st, s);
    pthread_mutex_unlock(&st->lock);
    if (s->placed)
        acceptor_stream_put(st->srv->acceptor, &s->addr.sa);
    free(s->page);
    free(s);
}

/* --- publishing and heartbeats ---------------------------------------------- */

void streams_publish(struct streams *st, const struct post *p)
{
    struct jsonw w;
    struct chan *c;
    struct ev *e;

    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    c = *chan_slot(st, p->channel);
    if (st->stopping || !c) {
        /* nobody watches: not worth encoding */
        pthread_mutex_unlock(&st->lock);
        return;
    }
    pthread_mutex_unlock(&st->lock);

    jsonw_init(&w);
    encode(&w, p);
    e = ev_new(w.buf, w.len);
    jsonw_free(&w);

    pthread_mutex_lock(&st->lock);
    c = *chan_slot(st, p->channel);
    if (c && !st->stopping) {
        if (p->token > c->last_token)
            c->last_token = p->token;
        /* sub_close never removes a stream from the list (sub_free does). */
        for (uint32_t i = 0; i < c->n; i++) {
            struct sub *s = c->subs[i];
            if (s->closed || s->replaying || p->token <= s->cursor)
                continue;
            s->cursor = p->token;
            sub_queue(st, s, e);
        }
    }
    ev_put(st, e);
    pthread_mutex_unlock(&st->lock);
}

static void ping_all(struct streams *st)
{
    for (size_t b = 0; b < CHAN_BUCKETS; b++)
        for (struct chan *c = st->chans[b]; c; c = c->next)
            for (uint32_t i = 0; i < c->n; i++) {
                struct sub *s = c->subs[i];
                /* Streams with output pending need no heartbeat; if they
                 * stay stuck, libmicrohttpd's connection timeout ends them. */
                if (!s->closed && !s->replaying && s->qhead == s->qn && !s->page)
                    sub_queue(st, s, st->ping);
            }
}

static void *pinger(void *arg)
{
    struct streams *st = arg;
    struct timespec next;

    pthread_mutex_lock(&st->lock);
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!st->stopping) {
        next.tv_sec += st->ping_ms / 1000;
        next.tv_nsec += (long)(st->ping_ms % 1000) * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        while (!st->stopping && pthread_cond_timedwait(&st->wake, &st->lock, &next) != ETIMEDOUT)
            ;
        if (!st->stopping)
            ping_all(st);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* --- the handler's side ------------------------------------------------------ */

static enum MHD_Result refuse(struct req *r, unsigned status, const char *detail)
{
    struct jsonw w;
    enum MHD_Result ret;

    jsonw_init(&w);
    jsonw_lit(&w, "{");
    jsonw_kv_str(&w, "error", status == 429 ? "too many requests" : "service unavailable");
    jsonw_kv_str(&w, "detail", detail);
    jsonw_lit(&w, "}");
    ret = http_reply(r, status, w.buf, w.len);
    jsonw_free(&w);
    return ret;
}

enum MHD_Result streams_open(struct streams *st, struct req *r, int64_t channel, uint64_t after,
                             bool resume)
{
    const union MHD_ConnectionInfo *ci;
    struct MHD_Response *resp;
    struct sub *s;
    char retry[32];
    int n;
    enum MHD_Result ret;

    pthread_mutex_lock(&st->lock);
    if (st->stopping || st->nsubs >= st->max_subs) {
        bool stopping = st->stopping;
        pthread_mutex_unlock(&st->lock);
        return refuse(r, 503, stopping ? "shutting down" : "too many event streams");
    }
    st->nsubs++; /* reserved: given back by sub_free, or below */
    pthread_mutex_unlock(&st->lock);

    s = xcalloc(1, sizeof *s);
    s->st = st;
    s->conn = r->conn;
    s->store = r->store;
    s->channel = channel;
    s->cursor = after;
    s->replaying = resume;
    ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr &&
        (ci->client_addr->sa_family == AF_INET || ci->client_addr->sa_family == AF_INET6)) {
        memcpy(&s->addr, ci->client_addr,
               ci->client_addr->sa_family == AF_INET6 ? sizeof s->addr.in6 : sizeof s->addr.in4);
        if (!acceptor_stream_take(st->srv->acceptor, ci->client_addr)) {
            pthread_mutex_lock(&st->lock);
            st->nsubs--;
            pthread_mutex_unlock(&st->lock);
            free(s);
            return refuse(r, 429, "too many event streams from this address");
        }
        s->placed = true;
    }
    n = snprintf(retry, sizeof retry, "retry: %d\n\n", RETRY_MS);
    s->page = xmalloc((size_t)n);
    memcpy(s->page, retry, (size_t)n);
    s->page_len = (size_t)n;

    /* From here sub_free owns s: it runs when the response goes. */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK_SIZE, sub_read, s, sub_free);
    if (!resp) {
        sub_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    if (r->on_streams)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    pthread_mutex_lock(&st->lock);
    chan_add(st, s);
    pthread_mutex_unlock(&st->lock);
    r->http_status = 200;
    r->answered = true;
    ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

unsigned streams_viewers(struct streams *st, int64_t channel)
{
    struct chan *c;
    unsigned n = 0;

    if (!st)
        return 0;
    pthread_mutex_lock(&st->lock);
    c = *chan_slot(st, channel);
    if (c)
        n = c->n;
    pthread_mutex_unlock(&st->lock);
    return n;
}

struct store *streams_store(struct streams *st)
{
    return st->store;
}

/* --- life cycle ---------------------------------------------------------------- */

int streams_new(struct streams **out, struct server *srv)
{
    struct streams *st = xcalloc(1, sizeof *st);
    const char *env = getenv("VCPD_SSE_PING_MS");
    pthread_condattr_t ca;
    char err[256];
    int rc;

    *out = NULL;
    st->srv = srv;
    st->max_subs = srv->cfg.conn_limit ? srv->cfg.conn_limit : 10000;
    st->ping_ms = PING_MS_DEFAULT;
    if (env && env[0]) {
        char *end;
        unsigned long v = strtoul(env, &end, 10);
        if (*end == '\0' && v >= 10 && v <= 3600000)
            st->ping_ms = (unsigned)v;
    }
    st->ping = xcalloc(1, sizeof *st->ping + sizeof ping_text - 1);
    st->ping->len = sizeof ping_text - 1;
    memcpy(st->ping->data, ping_text, sizeof ping_text - 1);
    pthread_mutex_init(&st->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (store_open(srv->cfg.db, &st->store, err, sizeof err) != STORE_OK) {
        log_msg("error", "event streams: database %s: %s", srv->cfg.db, err);
        goto fail;
    }
    rc = pthread_create(&st->pinger, NULL, pinger, st);
    if (rc != 0) {
        log_msg("error", "event streams: cannot start the heartbeat thread (error %d)", rc);
        goto fail;
    }
    st->started = true;
    *out = st;
    return 0;
fail:
    streams_free(st);
    return -1;
}

void streams_stop(struct streams *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    if (!st->stopping) {
        st->stopping = true;
        for (size_t b = 0; b < CHAN_BUCKETS; b++)
            for (struct chan *c = st->chans[b]; c; c = c->next)
                for (uint32_t i = 0; i < c->n; i++)
                    sub_close(st, c->subs[i]);
        pthread_cond_signal(&st->wake);
    }
    pthread_mutex_unlock(&st->lock);
    if (st->started) {
        pthread_join(st->pinger, NULL);
        st->started = false;
    }
}

void streams_free(struct streams *st)
{
    if (!st)
        return;
    streams_stop(st);
    /* The daemons are gone, and with them every response: sub_free ran for
     * each stream, so the channel table is empty. */
    store_close(st->store);
    free(st->ping);
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->lock);
    free(st);
}
