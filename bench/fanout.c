/*
 * Fan-out benchmark client for vcpd's event streams (bench/fanout.sh runs it).
 *
 * One thread, epoll, non-blocking sockets, so the client is not what is
 * measured: N subscribers on channel A's stream, then
 *   - RSS of vcpd per idle subscriber (VmRSS before and after connecting),
 *   - fan-out latency: one post to A, time until each subscriber has it
 *     (p50, p99, max; several rounds),
 *   - post API throughput (C concurrent keep-alive posters for S seconds) to
 *     an unwatched channel B with no subscribers and with the N connected,
 *     and to the watched channel A (every post fanned out to N).
 * Subscribers connect from 127.0.0.1..127.0.0.K (K = N / 20000 + 1) so the
 * ephemeral ports of one source address are never exhausted.  Loopback only.
 *
 * usage: fanout PORT VCPD_PID N SECONDS A_ID A_TOKEN A_FROM B_ID B_TOKEN B_FROM
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POSTERS 16
#define ROUNDS  5

enum kind { SUB, POSTER };

struct conn {
    enum kind kind;
    int fd;
    bool ready;      /* SUB: head and retry line received */
    int match;       /* SUB: progress matching "event: post" */
    unsigned posts;  /* SUB: post events seen */
    uint64_t got_us; /* SUB: arrival of the awaited post */
    /* POSTER */
    char in[4096];
    size_t inlen;
};

static int port, ep;
static const char *pat = "event: post";

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static long rss_kib(long pid)
{
    char path[64], line[256];
    long v = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

static int connect_from(int src_last_octet)
{
    struct sockaddr_in sa, src;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;

    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* pick the port at connect(), not bind(): bind's search for a free port
     * is slow with thousands of ports taken, and made the client the
     * bottleneck (about 3 ms per subscriber at 10,000) */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src_last_octet);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
        perror("bind");
        exit(1);
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(0x7f000001u);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        perror("connect");
        exit(1);
    }
    return fd;
}

/* Blocking-ish send of a whole small buffer on a non-blocking socket. */
static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOTCONN)) {
            usleep(100);
            continue;
        }
        if (w < 0) {
            perror("send");
            exit(1);
        }
        s += w;
        n -= (size_t)w;
    }
}

static char post_req[2][1024];
static size_t post_len[2];

static void make_post(int which, const char *token, const char *from)
{
    char body[512];
    int bn = snprintf(body, sizeof body,
                      "{\"from\":\"%s\",\"type\":\"text\",\"text\":\"fan-out benchmark post, "
                      "a line of ordinary length for a channel message\"}",
                      from);
    post_len[which] =
        (size_t)snprintf(post_req[which], sizeof post_req[which],
                         "POST /pa/post HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "X-Viber-Auth-Token: %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: %d\r\n\r\n%s",
                         token, bn, body);
}

static int dropped; /* subscribers vcpd ended (too slow: its backlog cap) */

/* Reads a subscriber's bytes; counts post events. */
static void sub_read(struct conn *c)
{
    char buf[16384];
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            /* vcpd ended the stream (a reset when our side had unread bytes) */
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            dropped++;
            return;
        }
        if (r < 0)
            return;
        for (ssize_t i = 0; i < r; i++) {
            if (!c->ready && buf[i] == ':' && i >= 5 && memcmp(buf + i - 5, "retry", 5) == 0)
                c->ready = true;
            if (buf[i] == pat[c->match]) {
                if (pat[++c->match] == '\0') {
                    c->posts++;
                    c->match = 0;
                    if (c->got_us == 0)
                        c->got_us = now_us();
                }
            } else {
                c->match = buf[i] == pat[0] ? 1 : 0;
            }
        }
    }
}

/* A poster's answer complete?  (head + Content-Length body) */
static bool poster_done(struct conn *c)
{
    char *end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
    char *cl;
    size_t need;

    if (!end)
        return false;
    cl = memmem(c->in, (size_t)(end - c->in), "Content-Length: ", 16);
    need = (size_t)(end - c->in) + 4 + (cl ? strtoul(cl + 16, NULL, 10) : 0);
    if (c->inlen < need)
        return false;
    if (!memmem(c->in, c->inlen, "\"status\":0", 10)) {
        fprintf(stderr, "post failed: %.*s\n", (int)c->inlen, c->in);
        exit(1);
    }
    memmove(c->in, c->in + need, c->inlen - need);
    c->inlen -= need;
    return true;
}

static void loop_once(int timeout_ms, int *done_posts, int which, bool posting)
{
    struct epoll_event evs[512];
    int n = epoll_wait(ep, evs, 512, timeout_ms);

    for (int i = 0; i < n; i++) {
        struct conn *c = evs[i].data.ptr;
        if (c->kind == SUB) {
            sub_read(c);
            continue;
        }
        for (;;) {
            ssize_t r = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
            if (r <= 0)
                break;
            c->inlen += (size_t)r;
        }
        while (poster_done(c)) {
            (*done_posts)++;
            if (posting)
                send_all(c->fd, post_req[which], post_len[which]);
        }
    }
}

static struct conn posters[POSTERS];

static int answered; /* posts answered by the last throughput run, the tail included */

/* Posts to channel `which` from POSTERS connections for secs; posts/s. */
static double throughput(int which, double secs)
{
    int done = 0, started = POSTERS;
    uint64_t t0 = now_us(), end = t0 + (uint64_t)(secs * 1e6);

    for (int i = 0; i < POSTERS; i++)
        send_all(posters[i].fd, post_req[which], post_len[which]);
    while (now_us() < end)
        loop_once(10, &done, which, true);
    /* let the requests in flight finish */
    {
        int before = done;
        uint64_t t1 = now_us();
        while (done - before < started && now_us() - t1 < 5000000)
            loop_once(10, &done, which, false);
        answered = done;
        done = before;
    }
    return done / ((double)(end - t0) / 1e6);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 11) {
        fprintf(stderr, "usage: fanout PORT VCPD_PID N SECONDS A_ID A_TOKEN A_FROM B_ID B_TOKEN "
                        "B_FROM\n");
        return 2;
    }
    port = (int)strtol(argv[1], NULL, 10);
    long pid = strtol(argv[2], NULL, 10);
    int n = (int)strtol(argv[3], NULL, 10);
    double secs = strtod(argv[4], NULL);
    const char *a_id = argv[5];
    struct conn *subs = calloc((size_t)n, sizeof *subs);
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    char req[256];
    int reqlen, dummy = 0;
    int srcs = n / 20000 + 1;

    make_post(0, argv[6], argv[7]);
    make_post(1, argv[9], argv[10]);
    ep = epoll_create1(0);
    for (int i = 0; i < POSTERS; i++) {
        struct epoll_event ee = {.events = EPOLLIN | EPOLLET, .data.ptr = &posters[i]};
        posters[i].kind = POSTER;
        posters[i].fd = connect_from(1);
        epoll_ctl(ep, EPOLL_CTL_ADD, posters[i].fd, &ee);
    }
    usleep(100000);

    throughput(1, 1.0); /* warm-up */
    double none_b = throughput(1, secs);
    double none_a = throughput(0, secs);
    long rss0 = rss_kib(pid);

    reqlen = snprintf(req, sizeof req,
                      "GET /api/v1/channels/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Accept: text/event-stream\r\n\r\n",
                      a_id);
    uint64_t c0 = now_us();
    for (int i = 0; i < n; i++) {
        struct epoll_event ee = {.events = EPOLLIN | EPOLLET, .data.ptr = &subs[i]};
        subs[i].kind = SUB;
        subs[i].fd = connect_from(1 + i % srcs);
        epoll_ctl(ep, EPOLL_CTL_ADD, subs[i].fd, &ee);
        send_all(subs[i].fd, req, (size_t)reqlen);
        if (i % 200 == 199)
            loop_once(0, &dummy, 0, false);
    }
    for (;;) {
        int ready = 0;
        for (int i = 0; i < n; i++)
            ready += subs[i].ready;
        if (ready == n)
            break;
        if (now_us() - c0 > 60000000) {
            fprintf(stderr, "only %d of %d subscribers got their head\n", ready, n);
            return 1;
        }
        loop_once(50, &dummy, 0, false);
    }
    double connect_s = (now_us() - c0) / 1e6;
    usleep(1000000);
    loop_once(0, &dummy, 0, false);
    long rss1 = rss_kib(pid);

    printf("subscribers %d (connected in %.2f s from %d source address%s)\n", n, connect_s, srcs,
           srcs > 1 ? "es" : "");
    printf("  vcpd RSS: %ld KiB before, %ld KiB with them idle: %.2f KiB per subscriber\n", rss0,
           rss1, (double)(rss1 - rss0) / n);
    for (int round = 0; round < ROUNDS; round++) {
        int done = 0, have = 0;
        for (int i = 0; i < n; i++)
            subs[i].got_us = 0;
        uint64_t t0 = now_us();
        send_all(posters[0].fd, post_req[0], post_len[0]);
        while (have < n) {
            loop_once(100, &done, 0, false);
            have = 0;
            for (int i = 0; i < n; i++)
                have += subs[i].got_us != 0;
            if (now_us() - t0 > 20000000) {
                fprintf(stderr, "round %d: only %d of %d got the post\n", round, have, n);
                return 1;
            }
        }
        while (done < 1)
            loop_once(100, &done, 0, false);
        for (int i = 0; i < n; i++)
            lat[i] = subs[i].got_us - t0;
        qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
        printf("  fan-out round %d: post -> all %d subscribers: p50 %.1f ms, p99 %.1f ms, max %.1f "
               "ms\n",
               round + 1, n, lat[n / 2] / 1000.0, lat[(size_t)(n * 0.99)] / 1000.0,
               lat[n - 1] / 1000.0);
        usleep(200000);
    }
    if (dropped) {
        fprintf(stderr, "%d subscribers ended before the throughput runs\n", dropped);
        return 1;
    }
    double with_b = throughput(1, secs);
    int dropped_b = dropped;
    for (int i = 0; i < n; i++)
        lat[i] = subs[i].posts;
    double with_a = throughput(0, secs);
    /* every subscriber still open must get every post made meanwhile */
    unsigned got_min = 0, got_max = 0;
    for (uint64_t t1 = now_us(); now_us() - t1 < 20000000;) {
        got_min = UINT32_MAX;
        got_max = 0;
        for (int i = 0; i < n; i++) {
            unsigned got = subs[i].posts - (unsigned)lat[i];
            if (got < got_min)
                got_min = got;
            if (got > got_max)
                got_max = got;
        }
        if (got_min >= (unsigned)answered)
            break;
        loop_once(50, &dummy, 0, false);
    }
    printf("  post API throughput (%d concurrent posters, %.0f s each):\n", POSTERS, secs);
    printf("    unwatched channel: %.0f posts/s with no subscribers, %.0f posts/s with %d "
           "connected (%.0f%%); %d ended\n",
           none_b, with_b, n, 100.0 * with_b / none_b, dropped_b);
    printf("    watched channel (each post fanned out to all): %.0f posts/s with none, %.0f "
           "posts/s with %d (%.0f%%); %d of them ended as too slow (backlog cap)\n",
           none_a, with_a, n, 100.0 * with_a / none_a, dropped - dropped_b);
    printf("      delivered: %d posts made; each subscriber received %u to %u of them\n", answered,
           got_min, got_max);
    for (int i = 0; i < n; i++)
        close(subs[i].fd);
    for (int i = 0; i < POSTERS; i++)
        close(posters[i].fd);
    free(subs);
    free(lat);
    return 0;
}
