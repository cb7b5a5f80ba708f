/*
 * Live event streams (stream.h says how they behave; this file is the
 * machinery).
 *
 * Every piece of stream state is guarded by one mutex, st->lock: the
 * publisher (the group-commit thread), the heartbeat thread, the streams'
 * own thread and libmicrohttpd's thread (content-reader callbacks, the
 * response's free callback) all take it for a few instructions -- at most
 * one non-blocking send -- never across a database read.  Whoever queues
 * output for a stream wakes it under the lock: a libmicrohttpd stream is
 * resumed if its callback suspended it (also under the lock, so no wake-up
 * is lost), one of ours is put on the ready list of our thread.
 *
 * Each post is encoded once (struct ev, reference-counted under the lock)
 * and shared by every stream that has it queued.  Channels with streams are
 * found through a small chained hash table by row id.
 *
 * Our own streams (s->fd >= 0) go through three stages on our thread: the
 * request head is read and parsed (stream_head_parse), the channel looked
 * up; then the HTTP head, the replay and live events are written with
 * sendmsg from the queue, EPOLLOUT armed while the socket is full; input or
 * a hang-up from the client ends the stream.  A stream whose head does not
 * arrive, or whose socket stays full, within --connection-timeout is
 * closed by a once-a-second sweep.  The body is delimited by the end of the
 * connection (Connection: close), as EventSource expects.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/url.h"
#include "server/accept.h"
#include "server/feed.h"
#include "server/strbuf.h"
#include "server/server.h"
#include "server/http.h"
#include "server/stream.h"
#include "server/util.h"

#define CHAN_BUCKETS    1024 /* power of two */
#define PING_MS_DEFAULT 15000
#define RETRY_MS        2000
#define EPOLL_BATCH     256
#define IOV_BATCH       16
#define FLUSH_PAGES     4 /* replay pages one flush of a stream may read */
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

/* One open stream. */
struct sub {
    struct streams *st;
    int fd;                      /* ours: the socket; -1 for a libmicrohttpd stream */
    struct MHD_Connection *conn; /* libmicrohttpd's: the connection */
    struct store *store;         /* for replay pages: the reading thread's connection */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;       /* the client's */
    bool placed;  /* holds a stream place of addr */
    bool counted; /* counted in st->nsubs */
    int64_t channel;
    struct chan *chan; /* registered here while open */
    uint32_t slot;     /* index in chan->subs */
    uint64_t cursor;   /* newest token queued or replayed */
    bool replaying;    /* reading pages from the store; live posts wait for the next page */
    bool suspended;    /* libmicrohttpd's: its callback suspended the connection */
    bool closed;       /* to end: the callback ends the response, our thread closes */
    char *page;        /* the HTTP head, a replay page or the "retry:" line; heap or NULL */
    size_t page_len, page_off;
    struct ev **q; /* queued events q[qhead..qn) */
    uint32_t qhead, qn, qcap;
    size_t qoff;   /* bytes of q[qhead] already sent */
    size_t qbytes; /* bytes queued in all */
    /* ours only (our thread; ready_next and on_ready under the lock) */
    char *head;        /* the request head read so far, until parsed */
    size_t head_len;   /* bytes in head */
    bool streaming;    /* the head was parsed and the answer begun */
    bool out_armed;    /* EPOLLOUT requested */
    uint64_t since_ms; /* head: when it arrived; out_armed: since when the socket is full */
    uint64_t start_us; /* for the access log */
    int http_status;   /* answered, for the access log */
    char pa_id[32];    /* the channel's public id, for the access log */
    bool on_ready;     /* in st->ready */
    bool dead;         /* ended; freed at the end of the loop's turn (st->dead) */
    struct sub *ready_next;
    struct sub *prev, *next; /* st->own: every stream of ours */
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
    struct store *store; /* our thread's connection: lookups and replays */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the heartbeat thread's timer and stop signal */
    pthread_t pinger, thread;
    bool pinger_started, thread_started;
    bool stopping;
    int epfd, evfd; /* our thread's epoll set; evfd wakes it (ready list, adoptions) */
    unsigned nsubs, max_subs;
    unsigned ping_ms;
    struct chan *chans[CHAN_BUCKETS];
    struct ev *ping;
    struct sub *ready;   /* ours with output queued, to flush (under the lock) */
    struct sub *dead;    /* ours ended in this turn of the loop, to free (our thread) */
    struct sub *adopted; /* handed over, not yet in the epoll set (under the lock) */
    struct sub *own;     /* every stream of ours (our thread only) */
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

static void wake_sub(struct streams *st, struct sub *s)
{
    uint64_t one = 1;

    if (s->fd < 0) {
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
        return;
    }
    if (s->on_ready)
        return;
    s->on_ready = true;
    s->ready_next = st->ready;
    st->ready = s;
    if (!s->ready_next && write(st->evfd, &one, sizeof one) < 0)
        log_msg("error", "event streams: eventfd: %s", strerror(errno));
}

/* Ends s: the callback ends the response, our thread closes the socket. */
static void sub_close(struct streams *st, struct sub *s)
{
    s->closed = true;
    queue_clear(st, s);
    wake_sub(st, s);
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
    wake_sub(st, s);
}

/* The pending output of s (page first, then queued events) as iovecs. */
static int pending(struct sub *s, struct iovec *iov, int max)
{
    int k = 0;

    if (s->page && k < max) {
        iov[k].iov_base = s->page + s->page_off;
        iov[k++].iov_len = s->page_len - s->page_off;
    }
    for (uint32_t i = s->qhead; i < s->qn && k < max; i++) {
        size_t off = i == s->qhead ? s->qoff : 0;
        iov[k].iov_base = s->q[i]->data + off;
        iov[k++].iov_len = s->q[i]->len - off;
    }
    return k;
}

/* Takes n sent bytes off the front of s's pending output. */
static void consume(struct streams *st, struct sub *s, size_t n)
{
    if (s->page) {
        size_t left = s->page_len - s->page_off;
        if (n < left) {
            s->page_off += n;
            return;
        }
        n -= left;
        free(s->page);
        s->page = NULL;
    }
    while (n > 0 && s->qhead < s->qn) {
        struct ev *e = s->q[s->qhead];
        size_t left = e->len - s->qoff;
        size_t k = n < left ? n : left;
        s->qoff += k;
        s->qbytes -= k;
        n -= k;
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

/* --- both kinds ------------------------------------------------------------ */

/* Encodes one post as an event: id, type and the read API's JSON. */
static void encode(struct strbuf *w, const struct post *p)
{
    char num[32];
    int n = snprintf(num, sizeof num, "id: %" PRIu64 "\n", p->token);

    strbuf_raw(w, num, (size_t)n);
    strbuf_lit(w, "event: post\ndata: ");
    feed_post_json(w, p);
    strbuf_lit(w, "\n\n");
}

/*
 * Reads the next replay page of s, outside the lock; cursor and snap were
 * read under it before.  snap is the channel's last_token then: if the page
 * is short and nothing was published since, every committed post has been
 * replayed and s turns live.  Returns 0, or -1 on a store failure (logged;
 * the stream ends and the client resumes).
 */
static int replay_page(struct streams *st, struct sub *s, uint64_t cursor, uint64_t snap)
{
    struct post *p = NULL;
    size_t n = 0;
    struct strbuf w;

    if (store_post_list_after(s->store, s->channel, cursor, STREAM_PAGE, &p, &n) != STORE_OK) {
        log_msg("error", "event stream replay: store: %s", store_errmsg(s->store));
        return -1;
    }
    strbuf_init(&w);
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
    strbuf_free(&w);
    store_posts_free(p, n);
    return 0;
}

/*
 * Registers a new stream with its channel (so nothing published from now on
 * can miss it) and queues its first bytes: head (our own streams' HTTP
 * head, or NULL) and the "retry:" line.  Under the lock.
 */
static void sub_start(struct streams *st, struct sub *s, const char *head, size_t head_len)
{
    char retry[32];
    int n = snprintf(retry, sizeof retry, "retry: %d\n\n", RETRY_MS);

    s->page_len = head_len + (size_t)n;
    s->page = xmalloc(s->page_len);
    if (head_len)
        memcpy(s->page, head, head_len);
    memcpy(s->page + head_len, retry, (size_t)n);
    s->page_off = 0;
    chan_add(st, s);
}

/* Reserves a stream place; 0, or the HTTP status to refuse with and *why. */
static unsigned reserve(struct streams *st, struct sub *s, const char **why)
{
    pthread_mutex_lock(&st->lock);
    if (st->stopping || st->nsubs >= st->max_subs) {
        *why = st->stopping ? "shutting down" : "too many event streams";
        pthread_mutex_unlock(&st->lock);
        return 503;
    }
    st->nsubs++;
    s->counted = true;
    pthread_mutex_unlock(&st->lock);
    if (s->addr.sa.sa_family == AF_INET || s->addr.sa.sa_family == AF_INET6) {
        if (!acceptor_stream_take(st->srv->acceptor, &s->addr.sa)) {
            *why = "too many event streams from this address";
            return 429;
        }
        s->placed = true;
    }
    return 0;
}

/* Lets go of what s holds but its memory and its socket.  Under the lock. */
static void sub_release(struct streams *st, struct sub *s)
{
    chan_remove(st, s);
    if (s->counted)
        st->nsubs--;
    s->counted = false;
    queue_clear(st, s);
    free(s->page);
    s->page = NULL;
}

/* --- libmicrohttpd's streams --------------------------------------------------- */

static ssize_t mhd_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sub *s = cls;
    struct streams *st = s->st;

    for (;;) {
        struct iovec iov[IOV_BATCH];
        uint64_t cursor, snap;
        size_t w = 0;
        int k;

        pthread_mutex_lock(&st->lock);
        if (s->closed) {
            /* a clean end (the last chunk): the client resumes from its last id */
            pthread_mutex_unlock(&st->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        k = pending(s, iov, IOV_BATCH);
        for (int i = 0; i < k && w < max; i++) {
            size_t n = iov[i].iov_len < max - w ? iov[i].iov_len : max - w;
            memcpy(buf + w, iov[i].iov_base, n);
            w += n;
        }
        consume(st, s, w);
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
static void mhd_free(void *cls)
{
    struct sub *s = cls;
    struct streams *st = s->st;

    pthread_mutex_lock(&st->lock);
    sub_release(st, s);
    pthread_mutex_unlock(&st->lock);
    if (s->placed)
        acceptor_stream_put(st->srv->acceptor, &s->addr.sa);
    free(s);
}

static enum MHD_Result refuse(struct req *r, unsigned status, const char *detail)
{
    struct strbuf w;
    enum MHD_Result ret;

    strbuf_init(&w);
    strbuf_open(&w);
    strbuf_kv_str(&w, "error", status == 429 ? "too many requests" : "service unavailable");
    strbuf_kv_str(&w, "detail", detail);
    strbuf_lit(&w, "}");
    ret = http_reply(r, status, w.buf, w.len);
    strbuf_free(&w);
    return ret;
}

/*
 * Where a stream that does not resume starts.  With several instances
 * (cluster.c) a post is published when its notification comes, a moment
 * after its commit: a new stream starts above the newest post stored when
 * it opens, so one committed before it is not shown late.  Posts committed
 * after have larger tokens (store.h, post_insert_batch).  Alone, a post is
 * published before it is answered, and a new stream starts at after (0).
 */
static uint64_t start_cursor(struct streams *st, struct store *store, int64_t channel,
                             uint64_t after, bool resume)
{
    struct post *p = NULL;
    size_t n = 0;
    uint64_t newest = after;

    if (resume || !st->srv->cluster)
        return after;
    if (store_post_list(store, channel, 0, NULL, 1, &p, &n) == STORE_OK && n == 1)
        newest = p[0].token;
    store_posts_free(p, n);
    return newest;
}

enum MHD_Result streams_open(struct streams *st, struct req *r, int64_t channel, uint64_t after,
                             bool resume)
{
    const union MHD_ConnectionInfo *ci;
    struct MHD_Response *resp;
    struct sub *s = xcalloc(1, sizeof *s);
    const char *why;
    unsigned status;

    s->st = st;
    s->fd = -1;
    s->conn = r->conn;
    s->store = r->srv->store; /* the callbacks run on libmicrohttpd's thread */
    s->channel = channel;
    s->cursor = start_cursor(st, s->store, channel, after, resume);
    s->replaying = resume;
    ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr &&
        (ci->client_addr->sa_family == AF_INET || ci->client_addr->sa_family == AF_INET6))
        memcpy(&s->addr, ci->client_addr,
               ci->client_addr->sa_family == AF_INET6 ? sizeof s->addr.in6 : sizeof s->addr.in4);
    if ((status = reserve(st, s, &why)) != 0) {
        mhd_free(s);
        return refuse(r, status, why);
    }
    /* From here mhd_free owns s: it runs when the response goes. */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK_SIZE, mhd_read, s, mhd_free);
    if (!resp) {
        mhd_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    pthread_mutex_lock(&st->lock);
    sub_start(st, s, NULL, 0);
    pthread_mutex_unlock(&st->lock);
    return http_queue(r, 200, resp);
}

/* --- our own streams: the request head ----------------------------------------- */

/* A header name character (RFC 9110 tchar). */
static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

unsigned stream_head_parse(const char *buf, size_t n, struct stream_head *h, const char **why)
{
    static const char prefix[] = "GET /api/v1/channels/";
    const char *end = buf + n, *p, *eol, *sp, *seg, *q = NULL;
    const char *leid = NULL, *qeid = NULL;
    size_t leid_len = 0, qeid_len = 0;
    unsigned hosts = 0;
    bool http10;
    char val[32];

    memset(h, 0, sizeof *h);
    *why = "malformed request";
    /* the request line */
    eol = memchr(buf, '\r', n);
    if (!eol || eol + 1 >= end || eol[1] != '\n' || memchr(buf, '\n', (size_t)(eol - buf)))
        return 400;
    if ((size_t)(eol - buf) < sizeof prefix || memcmp(buf, prefix, sizeof prefix - 1) != 0)
        return 400;
    sp = memchr(buf + 4, ' ', (size_t)(eol - buf - 4));
    if (!sp)
        return 400;
    if (eol - sp - 1 != 8 ||
        (memcmp(sp + 1, "HTTP/1.1", 8) != 0 && memcmp(sp + 1, "HTTP/1.0", 8) != 0)) {
        if (eol - sp - 1 < 5 || memcmp(sp + 1, "HTTP/", 5) != 0)
            return 400;
        *why = "HTTP version not supported";
        return 505;
    }
    http10 = sp[8] == '0';
    /* the target: /api/v1/channels/{id}/events[?query] */
    seg = buf + sizeof prefix - 1;
    for (p = seg; p < sp && *p != '/' && *p != '?'; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return 400;
    if (p == sp || *p != '/' || (size_t)(sp - p) < 7 || memcmp(p, "/events", 7) != 0 ||
        (p + 7 < sp && p[7] != '?')) {
        *why = "not found";
        return 404;
    }
    if (p + 7 < sp)
        q = p + 8;
    for (const char *c = p + 7; c < sp; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || *c == '#')
            return 400;
    if (url_pct_decode(seg, (size_t)(p - seg), h->pa_id, sizeof h->pa_id) != 0 ||
        !feed_pa_id_valid(h->pa_id, strlen(h->pa_id))) {
        *why = "no such channel";
        return 404;
    }
    /* the query: last_event_id, the first one */
    while (q && q < sp) {
        const char *amp = memchr(q, '&', (size_t)(sp - q)), *stop = amp ? amp : sp;
        if ((size_t)(stop - q) >= 14 && memcmp(q, "last_event_id=", 14) == 0 && !qeid) {
            qeid = q + 14;
            qeid_len = (size_t)(stop - qeid);
        }
        q = amp ? amp + 1 : NULL;
    }
    /* the header lines, up to the blank one */
    for (p = eol + 2;; p = eol + 2) {
        const char *colon, *v, *ve;
        if (p >= end)
            return 400;
        eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol + 1 >= end || eol[1] != '\n' || memchr(p, '\n', (size_t)(eol - p)) ||
            memchr(p, '\0', (size_t)(eol - p)))
            return 400;
        if (eol == p)
            break;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p) {
            *why = "malformed header line";
            return 400;
        }
        for (const char *c = p; c < colon; c++)
            if (!tchar((unsigned char)*c)) {
                *why = "malformed header name";
                return 400;
            }
        for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
            ;
        for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
            ;
#define NAME_IS(lit) ((size_t)(colon - p) == sizeof(lit) - 1 && strncasecmp(p, lit, colon - p) == 0)
        if (NAME_IS("Host")) {
            hosts++;
        } else if (NAME_IS("Last-Event-ID")) {
            if (!leid) {
                leid = v;
                leid_len = (size_t)(ve - v);
            }
        } else if (NAME_IS("Transfer-Encoding") ||
                   (NAME_IS("Content-Length") && !(ve - v == 1 && *v == '0'))) {
            *why = "an event stream request has no body";
            return 400;
        }
#undef NAME_IS
    }
    if (eol + 2 != end)
        return 400; /* the head must end the buffer */
    if (!http10 && hosts != 1) {
        *why = hosts ? "Host: more than one" : "Host: required in HTTP/1.1";
        return 400;
    }
    if (hosts > 1) {
        *why = "Host: more than one";
        return 400;
    }
    /* Last-Event-ID wins over ?last_event_id=; empty means none */
    if (leid && leid_len == 0)
        leid = NULL;
    if (!leid && qeid && qeid_len > 0) {
        leid = qeid;
        leid_len = qeid_len;
        if (url_pct_decode(leid, leid_len, val, sizeof val) != 0)
            goto bad_id;
    } else if (leid) {
        if (leid_len >= sizeof val)
            goto bad_id;
        memcpy(val, leid, leid_len);
        val[leid_len] = '\0';
    }
    if (leid) {
        if (feed_parse_event_id(val, &h->after) != 0)
            goto bad_id;
        h->resume = true;
    }
    return 0;
bad_id:
    *why = "Last-Event-ID: must be a message_token";
    return 400;
}

/* --- our own streams: the thread ------------------------------------------------ */

/* The answers our thread may refuse a stream with: status line and error name. */
static const struct {
    unsigned status;
    const char *reason, *error;
} refusals[] = {
    {400, "Bad Request", "bad request"},
    {404, "Not Found", "not found"},
    {429, "Too Many Requests", "too many requests"},
    {431, "Request Header Fields Too Large", "request header fields too large"},
    {503, "Service Unavailable", "service unavailable"},
    {505, "HTTP Version Not Supported", "HTTP version not supported"},
    {500, "Internal Server Error", "internal error"}, /* last: any other */
};

/*
 * Closes one of ours: out of the epoll set, the channel and the counts.  Its
 * memory goes at the end of the loop's turn (free_dead): later events of the
 * same epoll batch may still name it.
 */
static void own_end(struct streams *st, struct sub *s)
{
    if (s->dead)
        return;
    s->dead = true;
    epoll_ctl(st->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    pthread_mutex_lock(&st->lock);
    sub_release(st, s);
    if (s->on_ready) {
        /* unlink from the ready list: it is short, and rarely holds s */
        struct sub **pp = &st->ready;
        while (*pp && *pp != s)
            pp = &(*pp)->ready_next;
        if (*pp)
            *pp = s->ready_next;
    }
    pthread_mutex_unlock(&st->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        st->own = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->placed)
        acceptor_stream_put(st->srv->acceptor, &s->addr.sa);
    acceptor_conn_closed(st->srv->acceptor, &s->addr.sa);
    if (s->http_status)
        http_record(st->srv, &s->addr.sa, "GET", "/api/v1/channels/{id}/events", s->http_status, -1,
                    s->pa_id[0] ? s->pa_id : NULL, NULL, s->start_us);
    free(s->head);
    s->head = NULL;
    s->next = st->dead;
    st->dead = s;
}

static void free_dead(struct streams *st)
{
    while (st->dead) {
        struct sub *s = st->dead;
        st->dead = s->next;
        free(s);
    }
}

/* Answers an error to one of ours (once, without waiting) and ends it. */
static void own_refuse(struct streams *st, struct sub *s, unsigned status, const char *detail)
{
    struct strbuf body, w;
    char line[160];
    int n;

    size_t i = 0;

    while (i + 1 < sizeof refusals / sizeof refusals[0] && refusals[i].status != status)
        i++;
    strbuf_init(&body);
    strbuf_open(&body);
    strbuf_kv_str(&body, "error", refusals[i].error);
    strbuf_kv_str(&body, "detail", detail);
    strbuf_lit(&body, "}");
    strbuf_init(&w);
    n = snprintf(line, sizeof line,
                 "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 status, refusals[i].reason, body.len);
    strbuf_raw(&w, line, (size_t)n);
    strbuf_raw(&w, body.buf, body.len);
    /* A few hundred bytes into an empty socket buffer: one send does.  Then
     * the end of our side, and what the client still sent is read away: a
     * close with unread input would reset the connection, and the client
     * could lose the answer. */
    if (send(s->fd, w.buf, w.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_msg("debug", "event stream: refusal not sent: %s", strerror(errno));
    shutdown(s->fd, SHUT_WR);
    for (int k = 0; k < 16 && recv(s->fd, line, sizeof line, MSG_DONTWAIT) > 0; k++)
        ;
    strbuf_free(&w);
    strbuf_free(&body);
    s->http_status = (int)status;
    own_end(st, s);
}

static void arm(struct streams *st, struct sub *s, bool out)
{
    struct epoll_event ee;

    if (s->out_armed == out)
        return;
    memset(&ee, 0, sizeof ee);
    ee.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0);
    ee.data.ptr = s;
    epoll_ctl(st->epfd, EPOLL_CTL_MOD, s->fd, &ee);
    s->out_armed = out;
    s->since_ms = mono_ms();
}

/*
 * Writes what s has pending, reading replay pages as the socket takes them:
 * at most FLUSH_PAGES pages a call, then s waits its turn on the ready list
 * again, so a long replay to a fast client does not hold the thread.
 */
static void own_flush(struct streams *st, struct sub *s)
{
    unsigned pages = 0;

    for (;;) {
        struct iovec iov[IOV_BATCH];
        struct msghdr mh;
        uint64_t cursor, snap;
        ssize_t w;
        int k;

        pthread_mutex_lock(&st->lock);
        if (s->closed) {
            pthread_mutex_unlock(&st->lock);
            own_end(st, s);
            return;
        }
        k = pending(s, iov, IOV_BATCH);
        if (k > 0) {
            /* under the lock: the queue's events stay alive while sent */
            memset(&mh, 0, sizeof mh);
            mh.msg_iov = iov;
            mh.msg_iovlen = (size_t)k;
            do
                w = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
            while (w < 0 && errno == EINTR);
            if (w > 0) {
                consume(st, s, (size_t)w);
                s->since_ms = mono_ms(); /* progress: not stalled (sweep) */
            }
            pthread_mutex_unlock(&st->lock);
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                arm(st, s, true);
                return;
            }
            if (w < 0) {
                own_end(st, s); /* the client is gone */
                return;
            }
            continue;
        }
        if (!s->replaying) {
            pthread_mutex_unlock(&st->lock);
            arm(st, s, false);
            return;
        }
        if (++pages > FLUSH_PAGES) {
            wake_sub(st, s); /* the rest on a later turn */
            pthread_mutex_unlock(&st->lock);
            return;
        }
        cursor = s->cursor;
        snap = s->chan ? s->chan->last_token : 0;
        pthread_mutex_unlock(&st->lock);
        if (replay_page(st, s, cursor, snap) != 0) {
            own_end(st, s);
            return;
        }
    }
}

/* The head of one of ours is complete (n bytes): check it and start the stream. */
static void own_begin(struct streams *st, struct sub *s, size_t n)
{
    static const char head[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/event-stream; charset=utf-8\r\n"
                               "Cache-Control: no-store\r\n"
                               "Connection: close\r\n"
                               "X-Accel-Buffering: no\r\n"
                               "X-Content-Type-Options: nosniff\r\n"
                               "\r\n";
    struct stream_head h;
    struct channel *c;
    const char *why;
    unsigned status;
    int rc;

    if (n != s->head_len) {
        own_refuse(st, s, 400, "bytes after the request head");
        return;
    }
    if ((status = stream_head_parse(s->head, n, &h, &why)) != 0) {
        own_refuse(st, s, status, why);
        return;
    }
    free(s->head);
    s->head = NULL;
    c = xmalloc(sizeof *c);
    rc = store_channel_by_pa_id(st->store, h.pa_id, c);
    if (rc == STORE_ERROR) {
        log_msg("error", "GET %s/events: store: %s", h.pa_id, store_errmsg(st->store));
        free(c);
        own_refuse(st, s, 500, "see the server log");
        return;
    }
    if (rc != STORE_OK || c->state == CHANNEL_DELETED) {
        free(c);
        own_refuse(st, s, 404, "no such channel");
        return;
    }
    s->channel = c->id;
    snprintf(s->pa_id, sizeof s->pa_id, "%s", c->pa_id);
    free(c);
    if ((status = reserve(st, s, &why)) != 0) {
        own_refuse(st, s, status, why);
        return;
    }
    s->cursor = start_cursor(st, st->store, s->channel, h.after, h.resume);
    s->replaying = h.resume;
    s->streaming = true;
    s->http_status = 200;
    pthread_mutex_lock(&st->lock);
    sub_start(st, s, head, sizeof head - 1);
    pthread_mutex_unlock(&st->lock);
    own_flush(st, s);
}

/* Input on one of ours: the head while it arrives; after it, the end. */
static void own_input(struct streams *st, struct sub *s)
{
    bool eof = false;
    ssize_t r;
    char *blank;

    if (s->streaming) {
        /* A viewer sends nothing after its request: data, EOF or an error
         * all end the stream. */
        char buf[256];
        r = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            own_end(st, s);
        return;
    }
    if (!s->head)
        s->head = xmalloc(STREAM_HEAD_MAX);
    while (s->head_len < STREAM_HEAD_MAX) {
        r = recv(s->fd, s->head + s->head_len, STREAM_HEAD_MAX - s->head_len, MSG_DONTWAIT);
        if (r > 0) {
            s->head_len += (size_t)r;
            continue;
        }
        if (r == 0) {
            eof = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            own_end(st, s); /* the connection broke */
            return;
        }
        break;
    }
    blank = s->head_len >= 4 ? memmem(s->head, s->head_len, "\r\n\r\n", 4) : NULL;
    if (blank)
        own_begin(st, s, (size_t)(blank + 4 - s->head)); /* answered even when half-closed */
    else if (eof)
        own_end(st, s); /* left before asking */
    else if (s->head_len == STREAM_HEAD_MAX)
        own_refuse(st, s, 431, "request head larger than 8 KiB");
}

void streams_adopt(struct streams *st, int fd, const struct sockaddr *sa, socklen_t len)
{
    struct sub *s = xcalloc(1, sizeof *s);
    uint64_t one = 1;
    bool wake;

    s->st = st;
    s->fd = fd;
    s->store = st->store;
    s->start_us = mono_us();
    s->since_ms = mono_ms();
    if (len <= sizeof s->addr)
        memcpy(&s->addr, sa, len);
    pthread_mutex_lock(&st->lock);
    wake = !st->adopted; /* a spare wake-up costs nothing; a lost one strands the list */
    s->next = st->adopted;
    st->adopted = s;
    if (wake && write(st->evfd, &one, sizeof one) < 0)
        log_msg("error", "event streams: eventfd: %s", strerror(errno));
    pthread_mutex_unlock(&st->lock);
}

/* Takes adopted connections into the epoll set and flushes the ready ones. */
static void run_intake(struct streams *st)
{
    struct sub *adopted;
    uint64_t v, one = 1;

    if (read(st->evfd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_msg("error", "event streams: eventfd: %s", strerror(errno));
    pthread_mutex_lock(&st->lock);
    adopted = st->adopted;
    st->adopted = NULL;
    pthread_mutex_unlock(&st->lock);
    while (adopted) {
        struct sub *s = adopted;
        struct epoll_event ee;
        adopted = s->next;
        s->prev = NULL;
        s->next = st->own;
        if (st->own)
            st->own->prev = s;
        st->own = s;
        memset(&ee, 0, sizeof ee);
        ee.events = EPOLLIN | EPOLLRDHUP;
        ee.data.ptr = s;
        if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, s->fd, &ee) != 0) {
            own_end(st, s);
            continue;
        }
        own_input(st, s); /* its head may be there already */
    }
    /* Streams woken while these are flushed join the list again; at most
     * as many turns as there were streams on it keep one busy channel from
     * starving the rest of the loop. */
    unsigned budget;

    pthread_mutex_lock(&st->lock);
    budget = st->nsubs + 1;
    pthread_mutex_unlock(&st->lock);
    for (; budget > 0; budget--) {
        struct sub *s;
        pthread_mutex_lock(&st->lock);
        s = st->ready;
        if (s) {
            st->ready = s->ready_next;
            s->on_ready = false;
        }
        pthread_mutex_unlock(&st->lock);
        if (!s)
            break;
        if (!s->dead && s->streaming)
            own_flush(st, s);
    }
    /* Out of turns with streams still waiting: come back after the other
     * events (a stream joins the list without a wake-up when it is not
     * empty). */
    pthread_mutex_lock(&st->lock);
    if (st->ready && write(st->evfd, &one, sizeof one) < 0)
        log_msg("error", "event streams: eventfd: %s", strerror(errno));
    pthread_mutex_unlock(&st->lock);
}

/* Once a second: heads that did not arrive, sockets that stay full. */
static void sweep(struct streams *st)
{
    uint64_t limit = (uint64_t)st->srv->cfg.conn_timeout_s * 1000u, now = mono_ms();

    if (limit == 0)
        return; /* --connection-timeout 0: none */

    for (struct sub *s = st->own, *next; s; s = next) {
        next = s->next;
        if ((!s->streaming || s->out_armed) && now - s->since_ms > limit)
            own_end(st, s);
    }
}

static void *own_thread(void *arg)
{
    struct streams *st = arg;
    struct epoll_event evs[EPOLL_BATCH];
    uint64_t next_sweep = mono_ms() + 1000;

    pthread_setname_np(pthread_self(), "vcpd-streams"); /* bench/run's CPU per thread */

    for (;;) {
        uint64_t now = mono_ms();
        int n, timeout = now >= next_sweep ? 0 : (int)(next_sweep - now);
        bool stopping;

        n = epoll_wait(st->epfd, evs, EPOLL_BATCH, timeout);
        if (n < 0 && errno != EINTR) {
            log_msg("error", "event streams: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            struct sub *s = evs[i].data.ptr;
            if (!s) {
                run_intake(st);
                continue;
            }
            if (s->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                own_input(st, s);
            else if (evs[i].events & EPOLLOUT)
                own_flush(st, s);
        }
        pthread_mutex_lock(&st->lock);
        stopping = st->stopping;
        pthread_mutex_unlock(&st->lock);
        if (stopping)
            break;
        if (mono_ms() >= next_sweep) {
            sweep(st);
            next_sweep = mono_ms() + 1000;
        }
        free_dead(st);
    }
    while (st->own)
        own_end(st, st->own);
    free_dead(st);
    return NULL;
}

/* --- publishing and heartbeats ---------------------------------------------- */

void streams_publish(struct streams *st, const struct post *p)
{
    struct strbuf w;
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

    strbuf_init(&w);
    encode(&w, p);
    e = ev_new(w.buf, w.len);
    strbuf_free(&w);

    pthread_mutex_lock(&st->lock);
    c = *chan_slot(st, p->channel);
    if (c && !st->stopping) {
        if (p->token > c->last_token)
            c->last_token = p->token;
        /* sub_close never removes a stream from the list (its end does). */
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

void streams_end_all(struct streams *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    for (size_t b = 0; b < CHAN_BUCKETS; b++)
        for (struct chan *c = st->chans[b]; c; c = c->next)
            for (uint32_t i = 0; i < c->n; i++)
                if (!c->subs[i]->closed)
                    sub_close(st, c->subs[i]); /* it resumes with Last-Event-ID */
    pthread_mutex_unlock(&st->lock);
}

static void ping_all(struct streams *st)
{
    for (size_t b = 0; b < CHAN_BUCKETS; b++)
        for (struct chan *c = st->chans[b]; c; c = c->next)
            for (uint32_t i = 0; i < c->n; i++) {
                struct sub *s = c->subs[i];
                /* Streams with output pending need no heartbeat; if they
                 * stay stuck, the connection timeout ends them. */
                if (!s->closed && !s->replaying && s->qhead == s->qn && !s->page)
                    sub_queue(st, s, st->ping);
            }
}

static void *pinger(void *arg)
{
    struct streams *st = arg;
    struct timespec next;

    pthread_setname_np(pthread_self(), "vcpd-pinger");
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

unsigned streams_count(struct streams *st)
{
    unsigned n = 0;

    if (!st)
        return 0;
    pthread_mutex_lock(&st->lock);
    n = st->nsubs;
    pthread_mutex_unlock(&st->lock);
    return n;
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

/* --- life cycle ---------------------------------------------------------------- */

int streams_new(struct streams **out, struct server *srv)
{
    struct streams *st = xcalloc(1, sizeof *st);
    const char *env = getenv("VCPD_SSE_PING_MS");
    pthread_condattr_t ca;
    struct epoll_event ee;
    sigset_t all, old;
    char err[256];
    int rc;

    *out = NULL;
    st->srv = srv;
    st->epfd = st->evfd = -1;
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
        log_msg("error", "event streams: database %s: %s", store_dsn_shown(srv->cfg.db), err);
        goto fail;
    }
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    st->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    memset(&ee, 0, sizeof ee);
    ee.events = EPOLLIN;
    ee.data.ptr = NULL;
    if (st->epfd < 0 || st->evfd < 0 || epoll_ctl(st->epfd, EPOLL_CTL_ADD, st->evfd, &ee) != 0) {
        log_msg("error", "event streams: %s", strerror(errno));
        goto fail;
    }
    /* signals are for the main thread: these start with all of them blocked */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&st->pinger, NULL, pinger, st);
    if (rc == 0) {
        st->pinger_started = true;
        rc = pthread_create(&st->thread, NULL, own_thread, st);
        st->thread_started = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_msg("error", "event streams: cannot start a thread (error %d)", rc);
        goto fail;
    }
    *out = st;
    return 0;
fail:
    streams_free(st);
    return -1;
}

void streams_stop(struct streams *st)
{
    uint64_t one = 1;

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
        if (st->evfd >= 0 && write(st->evfd, &one, sizeof one) < 0)
            log_msg("error", "event streams: eventfd: %s", strerror(errno));
    }
    pthread_mutex_unlock(&st->lock);
    if (st->pinger_started) {
        pthread_join(st->pinger, NULL);
        st->pinger_started = false;
    }
    if (st->thread_started) {
        pthread_join(st->thread, NULL);
        st->thread_started = false;
    }
    /* handed over after the thread's last look */
    while (st->adopted) {
        struct sub *s = st->adopted;
        st->adopted = s->next;
        close(s->fd);
        acceptor_conn_closed(st->srv->acceptor, &s->addr.sa);
        free(s);
    }
}

void streams_free(struct streams *st)
{
    if (!st)
        return;
    streams_stop(st);
    /* The daemon is gone, and with it every response: mhd_free ran for each
     * of its streams, and our thread ended ours, so no channel is left. */
    store_close(st->store);
    if (st->epfd >= 0)
        close(st->epfd);
    if (st->evfd >= 0)
        close(st->evfd);
    free(st->ping);
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->lock);
    free(st);
}
