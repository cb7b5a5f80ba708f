/*
 * vcpd's listener and connection limits (see accept.h for why it exists).
 *
 * A new connection waits here, in an epoll set of its own, until the first
 * bytes of its request line tell where it goes; they are only peeked, so
 * libmicrohttpd (or stream.c) reads the whole request as if it had accepted
 * the connection itself.  Waiting connections are kept in arrival order,
 * which is also deadline order (one timeout for all), so expiring them is a
 * walk from the head.  The per-address counts live in a small chained hash
 * table under one mutex: the daemon's and the streams' threads decrement
 * them as connections close.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/hostport.h"
#include "server/accept.h"
#include "server/server.h"
#include "server/http.h"
#include "server/util.h"

#define PEEK_MAX     256  /* request-line bytes looked at; undecided by then: the API's */
#define PEER_BUCKETS 4096 /* power of two */
#define EPOLL_BATCH  64
#define PAUSE_MS     100 /* accept pauses this long when out of descriptors */

/* The connections and streams of one client address. */
struct peer {
    uint8_t addr[16]; /* IPv6, or IPv4 mapped (::ffff:a.b.c.d) */
    unsigned conns, streams;
    struct peer *next;
};

/* A connection whose request line has not arrived yet. */
struct pend {
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint64_t deadline_ms; /* monotonic */
    struct pend *prev, *next;
};

struct acceptor {
    struct acceptor_cfg cfg;
    struct MHD_Daemon *daemon; /* takes every connection but streams */
    int lfd, epfd, stopfd;
    int port;
    pthread_t thread;
    bool started, stopped;
    struct pend *head, *tail; /* waiting connections, oldest first (acceptor thread only) */
    pthread_mutex_t lock;     /* guards the counts below */
    unsigned conns;           /* connections in all: waiting here or with a daemon */
    struct peer *peers[PEER_BUCKETS];
};

/* --- per-address counts (under a->lock) ---------------------------------- */

static void addr_key(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    } else if (sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    }
}

static struct peer **peer_slot(struct acceptor *a, const uint8_t key[16])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    struct peer **pp;

    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    pp = &a->peers[h & (PEER_BUCKETS - 1)];
    while (*pp && memcmp((*pp)->addr, key, 16) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* The entry of sa, made when create is set (NULL otherwise when absent). */
static struct peer *peer_get(struct acceptor *a, const struct sockaddr *sa, bool create,
                             struct peer ***slot)
{
    uint8_t key[16];
    struct peer **pp;

    addr_key(sa, key);
    pp = peer_slot(a, key);
    if (!*pp && create) {
        *pp = xcalloc(1, sizeof **pp);
        memcpy((*pp)->addr, key, 16);
    }
    *slot = pp;
    return *pp;
}

/* Frees p's entry once it holds nothing. */
static void peer_tidy(struct peer **slot)
{
    struct peer *p = *slot;

    if (p && p->conns == 0 && p->streams == 0) {
        *slot = p->next;
        free(p);
    }
}

/* Counts a new connection from sa; false (nothing counted) past a limit. */
static bool conn_take(struct acceptor *a, const struct sockaddr *sa)
{
    struct peer **slot, *p;
    bool ok = false;

    pthread_mutex_lock(&a->lock);
    if (a->cfg.conn_limit && a->conns >= a->cfg.conn_limit)
        goto out;
    p = peer_get(a, sa, true, &slot);
    if (a->cfg.per_ip_limit && p->conns >= a->cfg.per_ip_limit) {
        peer_tidy(slot);
        goto out;
    }
    p->conns++;
    a->conns++;
    ok = true;
out:
    pthread_mutex_unlock(&a->lock);
    return ok;
}

/* Gives back one connection (stream false) or one stream of sa's peer. */
static void give_back(struct acceptor *a, const struct sockaddr *sa, bool stream)
{
    struct peer **slot, *p;
    unsigned *n;

    if (!a || !sa)
        return;
    pthread_mutex_lock(&a->lock);
    p = peer_get(a, sa, false, &slot);
    n = p ? (stream ? &p->streams : &p->conns) : NULL;
    if (n && *n > 0) {
        (*n)--;
        if (!stream)
            a->conns--;
        peer_tidy(slot);
    }
    pthread_mutex_unlock(&a->lock);
}

void acceptor_conn_closed(struct acceptor *a, const struct sockaddr *sa)
{
    give_back(a, sa, false);
}

bool acceptor_stream_take(struct acceptor *a, const struct sockaddr *sa)
{
    struct peer **slot, *p;
    bool ok = false;

    if (!a || !sa)
        return true;
    pthread_mutex_lock(&a->lock);
    p = peer_get(a, sa, true, &slot);
    if (!a->cfg.per_ip_streams || p->streams < a->cfg.per_ip_streams) {
        p->streams++;
        ok = true;
    }
    peer_tidy(slot);
    pthread_mutex_unlock(&a->lock);
    return ok;
}

void acceptor_stream_put(struct acceptor *a, const struct sockaddr *sa)
{
    give_back(a, sa, true);
}

/* --- routing ------------------------------------------------------------- */

/* Matches lit against buf from *i: 1 all of it, 0 a difference, -1 buf ends first. */
static int match(const char *buf, size_t n, size_t *i, const char *lit)
{
    for (; *lit; lit++, (*i)++) {
        if (*i >= n)
            return -1;
        if (buf[*i] != *lit)
            return 0;
    }
    return 1;
}

int acceptor_classify(const char *buf, size_t n)
{
    size_t i = 0, id;
    int m;

    if ((m = match(buf, n, &i, "GET /api/v1/channels/")) != 1)
        return m;
    for (id = i; i < n && buf[i] != '/'; i++)
        if ((unsigned char)buf[i] <= ' ' || buf[i] == '?' || buf[i] == '#')
            return 0;
    if (i >= n)
        return -1;
    if (i == id)
        return 0; /* no channel id */
    if ((m = match(buf, n, &i, "/events")) != 1)
        return m;
    if (i >= n)
        return -1;
    return buf[i] == ' ' || buf[i] == '?';
}

static void pend_unlink(struct acceptor *a, struct pend *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        a->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        a->tail = p->prev;
}

/* Closes a waiting connection that will never reach a daemon. */
static void pend_drop(struct acceptor *a, struct pend *p)
{
    epoll_ctl(a->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    close(p->fd);
    pend_unlink(a, p);
    acceptor_conn_closed(a, (struct sockaddr *)&p->addr);
    free(p);
}

/* Gives a waiting connection to the streams or to the daemon. */
static void hand_over(struct acceptor *a, struct pend *p, bool stream)
{
    epoll_ctl(a->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    pend_unlink(a, p);
    if (stream)
        a->cfg.adopt(a->cfg.adopt_arg, p->fd, (struct sockaddr *)&p->addr, p->addrlen);
    else if (MHD_add_connection(a->daemon, p->fd, (struct sockaddr *)&p->addr, p->addrlen) !=
             MHD_YES)
        acceptor_conn_closed(a, (struct sockaddr *)&p->addr); /* the socket is closed already */
    free(p);
}

/* Looks at what a waiting connection sent so far and routes it when it can. */
static void pend_ready(struct acceptor *a, struct pend *p)
{
    char buf[PEEK_MAX];
    ssize_t n;
    int route;

    do
        n = recv(p->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        pend_drop(a, p); /* left, or broke, before asking anything */
        return;
    }
    if (n < 0)
        return;
    route = acceptor_classify(buf, (size_t)n);
    if (route < 0 && (size_t)n < sizeof buf)
        return; /* the rest of the request line is still on its way */
    hand_over(a, p, route == 1);
}

static void accept_all(struct acceptor *a, uint64_t *paused_until)
{
    for (;;) {
        struct pend *p = xcalloc(1, sizeof *p);
        struct epoll_event ee;

        p->addrlen = sizeof p->addr;
        p->fd =
            accept4(a->lfd, (struct sockaddr *)&p->addr, &p->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (p->fd < 0) {
            int e = errno;
            free(p);
            if (e == EINTR || e == ECONNABORTED)
                continue;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                /* Out of descriptors: the listener would stay readable and
                 * spin; stop watching it for a moment. */
                log_msg("error", "accept: %s; pausing %d ms", strerror(e), PAUSE_MS);
                epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->lfd, NULL);
                *paused_until = mono_ms() + PAUSE_MS;
            }
            return;
        }
        if (!conn_take(a, (struct sockaddr *)&p->addr)) {
            close(p->fd); /* over a connection limit */
            free(p);
            continue;
        }
        /* --connection-timeout 0: no deadline */
        p->deadline_ms =
            a->cfg.timeout_s ? mono_ms() + (uint64_t)a->cfg.timeout_s * 1000u : UINT64_MAX;
        p->prev = a->tail;
        if (a->tail)
            a->tail->next = p;
        else
            a->head = p;
        a->tail = p;
        memset(&ee, 0, sizeof ee);
        /* Edge-triggered: peeked bytes stay readable, so level-triggered
         * would report the same partial request line again and again. */
        ee.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        ee.data.ptr = p;
        if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, p->fd, &ee) != 0)
            pend_drop(a, p);
    }
}

static void watch_listener(struct acceptor *a)
{
    struct epoll_event ee;

    memset(&ee, 0, sizeof ee);
    ee.events = EPOLLIN;
    ee.data.ptr = &a->lfd;
    epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->lfd, &ee);
}

static void *run(void *arg)
{
    struct acceptor *a = arg;
    struct epoll_event evs[EPOLL_BATCH];
    uint64_t paused_until = 0;

    pthread_setname_np(pthread_self(), "vcpd-accept"); /* bench/run's CPU per thread */

    for (;;) {
        uint64_t now = mono_ms();
        int timeout = 1000, n;

        if (a->head && a->head->deadline_ms > now && a->head->deadline_ms - now < 1000)
            timeout = (int)(a->head->deadline_ms - now);
        if (paused_until)
            timeout = paused_until > now ? (int)(paused_until - now) : 0;
        n = epoll_wait(a->epfd, evs, EPOLL_BATCH, timeout);
        if (n < 0 && errno != EINTR) {
            log_msg("error", "accept: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &a->stopfd)
                return NULL;
            if (tag == &a->lfd)
                accept_all(a, &paused_until);
            else
                pend_ready(a, tag);
        }
        now = mono_ms();
        if (paused_until && now >= paused_until) {
            paused_until = 0;
            watch_listener(a);
        }
        while (a->head && a->head->deadline_ms <= now)
            pend_drop(a, a->head); /* said nothing in time */
    }
    return NULL;
}

/* --- life cycle ---------------------------------------------------------- */

int acceptor_new(struct acceptor **out, const struct acceptor_cfg *cfg)
{
    struct acceptor *a = xcalloc(1, sizeof *a);
    struct sockaddr_storage ss;
    socklen_t len;
    struct epoll_event ee;
    int one = 1;

    *out = NULL;
    a->cfg = *cfg;
    a->lfd = a->epfd = a->stopfd = -1;
    pthread_mutex_init(&a->lock, NULL);
    if (hostport_sockaddr(cfg->host, cfg->port, &ss, &len) != 0)
        goto bad_addr;
    a->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->lfd < 0)
        goto fail;
    setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(a->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(a->lfd, (struct sockaddr *)&ss, len) != 0 || listen(a->lfd, 1024) != 0)
        goto fail;
    len = sizeof ss;
    if (getsockname(a->lfd, (struct sockaddr *)&ss, &len) != 0)
        goto fail;
    a->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    a->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->epfd < 0 || a->stopfd < 0)
        goto fail;
    memset(&ee, 0, sizeof ee);
    ee.events = EPOLLIN;
    ee.data.ptr = &a->stopfd;
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->stopfd, &ee) != 0)
        goto fail;
    watch_listener(a);
    *out = a;
    return 0;
bad_addr:
    log_msg("error", "--listen: %s is not a numeric IPv4 or IPv6 address", cfg->host);
    acceptor_free(a);
    return -1;
fail:
    log_msg("error", "cannot listen on %s:%d: %s", cfg->host, cfg->port, strerror(errno));
    acceptor_free(a);
    return -1;
}

int acceptor_start(struct acceptor *a, struct MHD_Daemon *d)
{
    int rc;

    a->daemon = d;
    rc = pthread_create(&a->thread, NULL, run, a);
    if (rc != 0) {
        log_msg("error", "accept: cannot start its thread (error %d)", rc);
        return -1;
    }
    a->started = true;
    return 0;
}

int acceptor_port(const struct acceptor *a)
{
    return a->port;
}

void acceptor_stop(struct acceptor *a)
{
    uint64_t one = 1;

    if (!a || a->stopped)
        return;
    a->stopped = true;
    if (a->started) {
        if (write(a->stopfd, &one, sizeof one) < 0)
            log_msg("error", "accept: eventfd: %s", strerror(errno));
        pthread_join(a->thread, NULL);
        a->started = false;
    }
    while (a->head)
        pend_drop(a, a->head);
    if (a->lfd >= 0)
        close(a->lfd);
    a->lfd = -1;
}

void acceptor_free(struct acceptor *a)
{
    if (!a)
        return;
    acceptor_stop(a);
    if (a->epfd >= 0)
        close(a->epfd);
    if (a->stopfd >= 0)
        close(a->stopfd);
    for (size_t i = 0; i < PEER_BUCKETS; i++)
        while (a->peers[i]) {
            struct peer *p = a->peers[i];
            a->peers[i] = p->next;
            free(p);
        }
    pthread_mutex_destroy(&a->lock);
    free(a);
}
