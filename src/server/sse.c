/*
 * The feed's writer thread: every open event stream, written from one epoll
 * loop, outside libmicrohttpd.
 *
 * Why a thread of its own: thousands of idle viewers must cost the API
 * nothing.  The stream's socket is taken from libmicrohttpd at the handover
 * (take_socket below: libmicrohttpd is left a stand-in socket, answers it
 * and closes it, forgetting the connection and its memory pool) and written
 * here directly: the HTTP head, the replayed posts, then each live post and
 * a heartbeat comment every 15 s.  Neither libmicrohttpd's upgrade
 * mechanism nor a suspended connection would do: an upgrade answers
 * "101 Switching Protocols", which EventSource, curl and most HTTP client
 * libraries take as the final answer, and both keep the connection in
 * libmicrohttpd's list of suspended connections, which 0.9.75 walks in full
 * on every resume of any connection (each post is one): measured, 10,000
 * suspended viewers cut post throughput to a third.
 *
 * Memory: a subscriber is struct sub (fd, channel, cursor) and, only while
 * the kernel's send buffer is full, a queue of references to events.  Each
 * post is encoded once (struct ev, reference-counted) and shared by every
 * subscriber that has it queued.  A subscriber whose queue passes
 * SUB_BACKLOG_MAX bytes, or that makes no progress between two heartbeats,
 * is dropped: it reconnects with Last-Event-ID and gets the rest from the
 * store.
 *
 * Threads: the HTTP thread hands over commands (add a subscriber, publish an
 * event) through a mutex-protected list and wakes the loop with an eventfd;
 * all of struct sub and struct chan belong to the writer thread, except the
 * per-channel viewer counts and the stream count, which are changed and read
 * under f->lock.
 */
#define _GNU_SOURCE /* dup3, accept4 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "server/feed.h"
#include "server/jsonw.h"
#include "server/server.h"
#include "server/util.h"

#define SUB_BACKLOG_MAX (512 * 1024) /* queued bytes past which a subscriber is dropped */
#define PING_MS_DEFAULT 15000
#define EPOLL_BATCH     256
#define IOV_BATCH       16

/* One encoded chunk of a stream: a post event, the shared heartbeat, or one
 * subscriber's HTTP head with its replay. */
struct ev {
    unsigned refs;  /* references from queues and commands; writer thread only after handover */
    bool is_static; /* the heartbeat: never freed */
    size_t len;
    char *data; /* points at inline_data, or a malloc'd head */
    char inline_data[];
};

struct chan;

/* One open stream. */
struct sub {
    int fd;             /* the connection's socket, ours since the handover */
    int sink;           /* our end of libmicrohttpd's stand-in socket, until it has answered */
    uint32_t sink_tail; /* last bytes read from sink, to see the end of its answer */
    int64_t channel;    /* channel row id */
    struct chan *chan;  /* the writer's entry for it, once added */
    uint32_t slot;      /* index in chan->subs */
    uint64_t cursor;    /* newest token already sent (live posts <= it are skipped) */
    struct ev **q;      /* pending output, NULL while nothing is pending */
    uint32_t qn, qcap;
    size_t qoff;      /* bytes of q[0] already written */
    size_t qbytes;    /* bytes pending in all of q */
    bool out_armed;   /* EPOLLOUT requested */
    bool stuck;       /* had pending output at the last heartbeat without progress since */
    bool close_after; /* end the stream once q is written (a replay cut short) */
    bool dead;        /* dropped; freed at the end of the loop iteration */
    struct sub *next_dead;
};

/* The subscribers of one channel with at least one viewer. */
struct chan {
    int64_t id;
    struct sub **subs;
    uint32_t n, cap;
};

enum cmd_kind { CMD_ADD, CMD_PUBLISH };

struct cmd {
    struct cmd *next;
    enum cmd_kind kind;
    struct sub *sub; /* CMD_ADD */
    struct ev *ev;   /* CMD_PUBLISH: one reference owned by the command */
    int64_t channel; /* CMD_PUBLISH */
    uint64_t token;  /* CMD_PUBLISH */
};

struct feed {
    struct server *srv;
    pthread_t thread;
    bool started;
    int epfd, evfd;
    int stand_in_fd; /* listener on 127.0.0.1:0 making stand-in sockets */
    struct sockaddr_in stand_in_addr;
    unsigned nsubs;    /* open streams (under lock) */
    unsigned max_subs; /* cap on open streams: --max-connections */
    unsigned ping_ms;
    pthread_mutex_t lock;    /* guards the command list, stopping, chans/nchans structure */
    struct cmd *head, *tail; /* commands for the writer, oldest first */
    bool stopping;
    /* writer side (structure changes under lock, so feed_viewers may read) */
    struct chan **chans;
    size_t nchans, chans_cap;
    struct sub *dead; /* dropped this iteration */
    struct ev *ping;  /* the heartbeat comment (static) */
};

static const char ping_text[] = ": ping\n\n";

/* --- events ------------------------------------------------------------ */

static struct ev *ev_new(const char *data, size_t len)
{
    struct ev *e = xmalloc(sizeof *e + len);

    e->refs = 1;
    e->is_static = false;
    e->len = len;
    e->data = e->inline_data;
    memcpy(e->inline_data, data, len);
    return e;
}

static void ev_put(struct ev *e)
{
    if (e->is_static || --e->refs > 0)
        return;
    if (e->data != e->inline_data)
        free(e->data);
    free(e);
}

/* --- subscribers ------------------------------------------------------- */

static void arm(struct feed *f, struct sub *s, bool out)
{
    struct epoll_event ee;

    if (s->out_armed == out)
        return;
    memset(&ee, 0, sizeof ee);
    ee.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0);
    ee.data.ptr = s;
    epoll_ctl(f->epfd, EPOLL_CTL_MOD, s->fd, &ee);
    s->out_armed = out;
}

/* Ends a stream: out of the loop and the channel, socket closed. */
static void drop(struct feed *f, struct sub *s)
{
    struct chan *c = s->chan;

    if (s->dead)
        return;
    s->dead = true;
    epoll_ctl(f->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    if (c) {
        /* An emptied channel stays until free_dead(), so loops over its
         * subscribers may go on after a drop. */
        pthread_mutex_lock(&f->lock);
        c->subs[s->slot] = c->subs[--c->n];
        c->subs[s->slot]->slot = s->slot;
        pthread_mutex_unlock(&f->lock);
        s->chan = NULL;
    }
    pthread_mutex_lock(&f->lock);
    f->nsubs--;
    pthread_mutex_unlock(&f->lock);
    for (uint32_t i = 0; i < s->qn; i++)
        ev_put(s->q[i]);
    free(s->q);
    s->q = NULL;
    s->qn = s->qcap = 0;
    close(s->fd);
    if (s->sink >= 0)
        close(s->sink);
    s->sink = -1;
    s->next_dead = f->dead;
    f->dead = s;
}

/* Writes what is pending.  False when the subscriber was dropped. */
static bool flush(struct feed *f, struct sub *s)
{
    while (s->qn > 0) {
        struct iovec iov[IOV_BATCH];
        struct msghdr mh;
        uint32_t k = s->qn < IOV_BATCH ? s->qn : IOV_BATCH;
        ssize_t w;

        for (uint32_t i = 0; i < k; i++) {
            iov[i].iov_base = s->q[i]->data + (i == 0 ? s->qoff : 0);
            iov[i].iov_len = s->q[i]->len - (i == 0 ? s->qoff : 0);
        }
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = iov;
        mh.msg_iovlen = k;
        w = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                arm(f, s, true);
                return true;
            }
            drop(f, s);
            return false;
        }
        s->stuck = false;
        s->qbytes -= (size_t)w;
        while (w > 0) {
            size_t left = s->q[0]->len - s->qoff;
            if ((size_t)w < left) {
                s->qoff += (size_t)w;
                break;
            }
            w -= (ssize_t)left;
            ev_put(s->q[0]);
            memmove(s->q, s->q + 1, (s->qn - 1) * sizeof *s->q);
            s->qn--;
            s->qoff = 0;
        }
    }
    if (s->close_after) {
        /* the client reconnects with Last-Event-ID and gets the next part */
        drop(f, s);
        return false;
    }
    /* Idle again: give the queue back, so idle subscribers stay small. */
    free(s->q);
    s->q = NULL;
    s->qcap = 0;
    arm(f, s, false);
    return true;
}

/* Queues e (taking a new reference) behind what is pending, or writes it at
 * once when nothing is.  False when the subscriber was dropped. */
static bool sub_send(struct feed *f, struct sub *s, struct ev *e)
{
    size_t off = 0;

    if (s->qn == 0) {
        ssize_t w;
        do
            w = send(s->fd, e->data, e->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            drop(f, s);
            return false;
        }
        if (w == (ssize_t)e->len)
            return true;
        off = w > 0 ? (size_t)w : 0;
    }
    if (s->qbytes + e->len - off > SUB_BACKLOG_MAX) {
        drop(f, s); /* too slow: it resumes with Last-Event-ID */
        return false;
    }
    if (s->qn == s->qcap) {
        s->qcap = s->qcap ? s->qcap * 2 : 4;
        s->q = xrealloc(s->q, s->qcap * sizeof *s->q);
    }
    if (!e->is_static)
        e->refs++;
    s->q[s->qn++] = e;
    if (s->qn == 1)
        s->qoff = off;
    s->qbytes += e->len - off;
    arm(f, s, true);
    return true;
}

static struct chan *chan_find(struct feed *f, int64_t id)
{
    for (size_t i = 0; i < f->nchans; i++)
        if (f->chans[i]->id == id)
            return f->chans[i];
    return NULL;
}

/* Takes a new subscriber into the loop and writes its head. */
static void sub_add(struct feed *f, struct sub *s)
{
    struct epoll_event ee;
    struct chan *c;
    int one = 1, zero = 0;

    /* The head must leave at once: no corking left over from earlier answers. */
    setsockopt(s->fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&ee, 0, sizeof ee);
    ee.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
    ee.data.ptr = s;
    s->out_armed = true;
    if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, s->fd, &ee) != 0) {
        log_msg("error", "event stream: epoll_ctl: %s", strerror(errno));
        drop(f, s);
        return;
    }
    if (s->sink >= 0) {
        /* libmicrohttpd's answer to the stand-in arrives here (tagged pointer) */
        ee.events = EPOLLIN | EPOLLRDHUP;
        ee.data.ptr = (char *)s + 1;
        epoll_ctl(f->epfd, EPOLL_CTL_ADD, s->sink, &ee);
    }
    pthread_mutex_lock(&f->lock);
    c = chan_find(f, s->channel);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        c->id = s->channel;
        if (f->nchans == f->chans_cap) {
            f->chans_cap = f->chans_cap ? f->chans_cap * 2 : 8;
            f->chans = xrealloc(f->chans, f->chans_cap * sizeof *f->chans);
        }
        f->chans[f->nchans++] = c;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->subs = xrealloc(c->subs, c->cap * sizeof *c->subs);
    }
    s->slot = c->n;
    c->subs[c->n++] = s;
    s->chan = c;
    pthread_mutex_unlock(&f->lock);
    flush(f, s);
}

static void publish(struct feed *f, int64_t channel, uint64_t token, struct ev *e)
{
    struct chan *c = chan_find(f, channel);

    if (!c)
        return;
    /* sub_send may drop a subscriber, which moves the last one into its slot. */
    for (uint32_t i = 0; i < c->n;) {
        struct sub *s = c->subs[i];
        uint32_t n = c->n;
        /* A cut-short replay takes no live posts: the reconnect fetches them
         * in order from the store, without a gap. */
        if (token > s->cursor && !s->close_after) {
            s->cursor = token;
            sub_send(f, s, e);
        }
        if (c->n == n)
            i++;
    }
}

/* Heartbeat to everyone; drops those stuck since the previous one. */
static void ping_all(struct feed *f)
{
    for (size_t k = 0; k < f->nchans; k++) {
        struct chan *c = f->chans[k];
        for (uint32_t i = 0; i < c->n;) {
            struct sub *s = c->subs[i];
            uint32_t n = c->n;
            if (s->qn > 0 && s->stuck)
                drop(f, s);
            else if (s->qn > 0)
                s->stuck = true;
            else
                sub_send(f, s, f->ping);
            if (c->n == n)
                i++;
        }
    }
}

static void drop_all(struct feed *f)
{
    for (size_t k = 0; k < f->nchans; k++)
        while (f->chans[k]->n > 0)
            drop(f, f->chans[k]->subs[f->chans[k]->n - 1]);
}

/* Runs the queued commands.  Returns true when the feed is stopping. */
static bool run_commands(struct feed *f)
{
    struct cmd *list;
    uint64_t v;
    bool stopping;

    if (read(f->evfd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_msg("error", "event stream: eventfd: %s", strerror(errno));
    pthread_mutex_lock(&f->lock);
    list = f->head;
    f->head = f->tail = NULL;
    stopping = f->stopping;
    pthread_mutex_unlock(&f->lock);
    while (list) {
        struct cmd *c = list;
        list = c->next;
        if (c->kind == CMD_ADD)
            sub_add(f, c->sub);
        else {
            publish(f, c->channel, c->token, c->ev);
            ev_put(c->ev);
        }
        free(c);
    }
    return stopping;
}

/* Frees the subscribers dropped in this iteration and the channels they left empty. */
static void free_dead(struct feed *f)
{
    if (!f->dead)
        return;
    while (f->dead) {
        struct sub *s = f->dead;
        f->dead = s->next_dead;
        free(s);
    }
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->nchans;) {
        struct chan *c = f->chans[i];
        if (c->n > 0) {
            i++;
            continue;
        }
        f->chans[i] = f->chans[--f->nchans];
        free(c->subs);
        free(c);
    }
    pthread_mutex_unlock(&f->lock);
}

/*
 * Reads libmicrohttpd's answer to the stand-in socket; once it is complete
 * (the blank line ending its head: the body is empty) closes our end, which
 * libmicrohttpd sees as the client leaving and closes its own quietly.
 */
static void sink_read(struct feed *f, struct sub *s)
{
    char buf[512];
    ssize_t n;

    if (s->dead || s->sink < 0)
        return;
    while ((n = recv(s->sink, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        for (ssize_t i = 0; i < n; i++)
            s->sink_tail = s->sink_tail << 8 | (unsigned char)buf[i];
    if (n == 0 || s->sink_tail == 0x0d0a0d0au ||
        (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close(s->sink); /* also leaves the epoll set */
        s->sink = -1;
    }
}

static void *writer(void *arg)
{
    struct feed *f = arg;
    struct epoll_event evs[EPOLL_BATCH];
    uint64_t next_ping = mono_us() + (uint64_t)f->ping_ms * 1000u;
    bool stopping = false;

    while (!stopping) {
        uint64_t now = mono_us();
        int timeout = now >= next_ping ? 0 : (int)((next_ping - now + 999) / 1000);
        int n = epoll_wait(f->epfd, evs, EPOLL_BATCH, timeout);

        if (n < 0 && errno != EINTR) {
            log_msg("error", "event stream: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            struct sub *s = evs[i].data.ptr;
            if (s == NULL) {
                stopping = run_commands(f);
                continue;
            }
            if ((uintptr_t)s & 1) {
                sink_read(f, (struct sub *)(void *)((char *)s - 1));
                continue;
            }
            if (s->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                /* A viewer sends nothing after its request: data, EOF or an
                 * error all end the stream. */
                char buf[256];
                ssize_t r = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
                if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                    drop(f, s);
                    continue;
                }
            }
            if (evs[i].events & EPOLLOUT)
                flush(f, s);
        }
        if (mono_us() >= next_ping) {
            ping_all(f);
            next_ping = mono_us() + (uint64_t)f->ping_ms * 1000u;
        }
        free_dead(f);
    }
    drop_all(f);
    free_dead(f);
    return NULL;
}

/* --- the HTTP thread's side -------------------------------------------- */

static void push(struct feed *f, struct cmd *c)
{
    uint64_t one = 1;
    bool wake;

    wake = f->head == NULL;
    if (f->tail)
        f->tail->next = c;
    else
        f->head = c;
    f->tail = c;
    if (wake && write(f->evfd, &one, sizeof one) < 0)
        log_msg("error", "event stream: eventfd: %s", strerror(errno));
}

void feed_publish(struct feed *f, const struct post *p)
{
    struct jsonw w;
    struct cmd *c;
    char num[32];
    int n;

    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    if (f->stopping || f->nchans == 0 || !chan_find(f, p->channel)) {
        /* nobody watches: not worth encoding */
        pthread_mutex_unlock(&f->lock);
        return;
    }
    pthread_mutex_unlock(&f->lock);

    jsonw_init(&w);
    n = snprintf(num, sizeof num, "id: %llu\n", (unsigned long long)p->token);
    jsonw_raw(&w, num, (size_t)n);
    jsonw_lit(&w, "event: post\ndata: ");
    feed_post_json(&w, p);
    jsonw_lit(&w, "\n\n");
    c = xcalloc(1, sizeof *c);
    c->kind = CMD_PUBLISH;
    c->ev = ev_new(w.buf, w.len);
    c->channel = p->channel;
    c->token = p->token;
    jsonw_free(&w);

    pthread_mutex_lock(&f->lock);
    if (f->stopping) {
        pthread_mutex_unlock(&f->lock);
        ev_put(c->ev);
        free(c);
        return;
    }
    push(f, c);
    pthread_mutex_unlock(&f->lock);
}

/* A connected pair of loopback TCP sockets through the feed's own listener:
 * sv[0] for libmicrohttpd (it sets TCP options on it), sv[1] ours.  0 or -1. */
static int stand_in(struct feed *f, int sv[2])
{
    int one = 1;

    sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sv[0] < 0)
        return -1;
    if (connect(sv[0], (struct sockaddr *)&f->stand_in_addr, sizeof f->stand_in_addr) != 0 ||
        (sv[1] = accept4(f->stand_in_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0) {
        close(sv[0]);
        return -1;
    }
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Our end closes first, with a reset: no TIME_WAIT is left behind per
     * stream, which would hold a loopback port for a minute and, with
     * thousands of viewers arriving, run the ephemeral ports out. */
    setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &(struct linger){.l_onoff = 1, .l_linger = 0},
               sizeof(struct linger));
    return 0;
}

/*
 * Takes the connection's socket away from libmicrohttpd, which then forgets
 * the connection, memory and all.  There is no API for that, so it is done
 * under its feet, on its own thread (no poll() of its is running): the
 * socket is duplicated for the writer, and the descriptor number
 * libmicrohttpd holds is pointed (dup3) at one end of a fresh loopback TCP
 * pair.  libmicrohttpd, which builds its poll set from those numbers on
 * every turn, carries on with the stand-in: the handler answers as usual,
 * the answer goes into the stand-in, the writer reads it (sink_read) and
 * closes its end, and libmicrohttpd closes the connection as a client that
 * left.  This relies on libmicrohttpd's poll mode (http.c says why not
 * epoll); the stream tests guard it.  Returns the socket (non-blocking) with
 * *sink our end of the stand-in, or -1 with nothing changed.
 */
static int take_socket(struct feed *f, struct req *r, int *sink)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd, own, sv[2];

    if (!ci)
        return -1;
    fd = ci->connect_fd;
    own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (own < 0)
        return -1;
    if (stand_in(f, sv) != 0)
        goto undo_dup;
    if (dup3(sv[0], fd, O_CLOEXEC) < 0)
        goto undo_pair;
    close(sv[0]);
    *sink = sv[1];
    fcntl(own, F_SETFL, fcntl(own, F_GETFL) | O_NONBLOCK);
    return own;
undo_pair:
    close(sv[0]);
    close(sv[1]);
undo_dup:
    log_msg("error", "event stream: cannot take the socket: %s", strerror(errno));
    close(own);
    return -1;
}

enum MHD_Result feed_subscribe(struct feed *f, struct req *r, int64_t channel, char *head,
                               size_t head_len, uint64_t cursor, bool close_after)
{
    struct sub *s;
    struct ev *e;
    struct cmd *c;
    int fd, sink = -1;

    pthread_mutex_lock(&f->lock);
    if (f->stopping || f->nsubs >= f->max_subs) {
        bool stopping = f->stopping;
        pthread_mutex_unlock(&f->lock);
        free(head);
        if (stopping)
            return http_reply(r, 503, "{\"error\":\"shutting down\"}", 25);
        return http_reply(r, 503, "{\"error\":\"too many event streams\"}", 34);
    }
    fd = take_socket(f, r, &sink);
    if (fd < 0) {
        pthread_mutex_unlock(&f->lock);
        free(head);
        return http_reply(r, 503, "{\"error\":\"event stream unavailable\"}", 36);
    }
    e = xmalloc(sizeof *e);
    e->refs = 1;
    e->is_static = false;
    e->len = head_len;
    e->data = head;
    s = xcalloc(1, sizeof *s);
    s->fd = fd;
    s->sink = sink;
    s->channel = channel;
    s->cursor = cursor;
    s->close_after = close_after;
    s->q = xmalloc(sizeof *s->q);
    s->q[0] = e;
    s->qn = s->qcap = 1;
    s->qbytes = head_len;
    c = xcalloc(1, sizeof *c);
    c->kind = CMD_ADD;
    c->sub = s;
    f->nsubs++;
    push(f, c);
    pthread_mutex_unlock(&f->lock);
    r->http_status = 200; /* for the access log: the stream started */
    return http_reply(r, 200, "", 0);
}

unsigned feed_viewers(struct feed *f, int64_t channel)
{
    struct chan *c;
    unsigned n = 0;

    if (!f)
        return 0;
    pthread_mutex_lock(&f->lock);
    c = chan_find(f, channel);
    if (c)
        n = c->n;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* --- life cycle -------------------------------------------------------- */

int feed_new(struct feed **out, struct server *srv)
{
    struct feed *f = xcalloc(1, sizeof *f);
    struct epoll_event ee;
    const char *env = getenv("VCPD_SSE_PING_MS");
    char *end;

    f->srv = srv;
    f->max_subs = srv->cfg.conn_limit ? srv->cfg.conn_limit : 10000;
    f->stand_in_fd = -1;
    f->ping_ms = PING_MS_DEFAULT;
    if (env && env[0]) {
        unsigned long v = strtoul(env, &end, 10);
        if (*end == '\0' && v >= 10 && v <= 3600000)
            f->ping_ms = (unsigned)v;
    }
    f->ping = xcalloc(1, sizeof *f->ping);
    f->ping->is_static = true;
    f->ping->len = sizeof ping_text - 1;
    f->ping->data = (char *)ping_text;
    pthread_mutex_init(&f->lock, NULL);
    f->epfd = epoll_create1(EPOLL_CLOEXEC);
    f->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->epfd < 0 || f->evfd < 0)
        goto fail;
    {
        socklen_t alen = sizeof f->stand_in_addr;
        f->stand_in_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        memset(&f->stand_in_addr, 0, sizeof f->stand_in_addr);
        f->stand_in_addr.sin_family = AF_INET;
        f->stand_in_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (f->stand_in_fd < 0 ||
            bind(f->stand_in_fd, (struct sockaddr *)&f->stand_in_addr, alen) != 0 ||
            listen(f->stand_in_fd, 64) != 0 ||
            getsockname(f->stand_in_fd, (struct sockaddr *)&f->stand_in_addr, &alen) != 0)
            goto fail;
    }
    memset(&ee, 0, sizeof ee);
    ee.events = EPOLLIN;
    ee.data.ptr = NULL;
    if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->evfd, &ee) != 0)
        goto fail;
    if (pthread_create(&f->thread, NULL, writer, f) != 0)
        goto fail;
    f->started = true;
    *out = f;
    return 0;
fail:
    log_msg("error", "event streams: %s", strerror(errno));
    feed_free(f);
    *out = NULL;
    return -1;
}

void feed_stop(struct feed *f)
{
    uint64_t one = 1;

    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    if (f->stopping) {
        pthread_mutex_unlock(&f->lock);
        return;
    }
    f->stopping = true;
    if (write(f->evfd, &one, sizeof one) < 0)
        log_msg("error", "event stream: eventfd: %s", strerror(errno));
    pthread_mutex_unlock(&f->lock);
    if (f->started) {
        pthread_join(f->thread, NULL);
        f->started = false;
    }
    /* Commands queued after the writer's last look: give their connections back. */
    while (f->head) {
        struct cmd *c = f->head;
        f->head = c->next;
        if (c->kind == CMD_ADD) {
            for (uint32_t i = 0; i < c->sub->qn; i++)
                ev_put(c->sub->q[i]);
            free(c->sub->q);
            close(c->sub->fd);
            if (c->sub->sink >= 0)
                close(c->sub->sink);
            free(c->sub);
        } else {
            ev_put(c->ev);
        }
        free(c);
    }
    f->tail = NULL;
}

void feed_free(struct feed *f)
{
    if (!f)
        return;
    feed_stop(f);
    if (f->epfd >= 0)
        close(f->epfd);
    if (f->evfd >= 0)
        close(f->evfd);
    if (f->stand_in_fd >= 0)
        close(f->stand_in_fd);
    for (size_t i = 0; i < f->nchans; i++) {
        free(f->chans[i]->subs);
        free(f->chans[i]);
    }
    free(f->chans);
    free(f->ping);
    pthread_mutex_destroy(&f->lock);
    free(f);
}
