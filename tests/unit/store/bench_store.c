/*
 * store_bench: the two figures the storage layer is held to.
 *
 *   store_bench DIR [SUBMITTERS [SECONDS [POSTS [BODY [CHANNELS]]]]]
 *
 * 1. Throughput: SUBMITTERS threads (default 64) each submit one post to the
 *    committer, wait for done(), and repeat, for SECONDS (default 5), the way
 *    suspended HTTP requests do.  Prints rows/s, commits/s and the mean group.
 * 2. Size: POSTS posts (default 100000) whose JSON body is BODY bytes
 *    (default 250), spread over CHANNELS channels (default 10), written in
 *    batches of 1000; after the last connection closes (which checkpoints the
 *    WAL into the file) prints the file's bytes per post and per body byte.
 *
 * Files go to DIR (it must exist); each run uses new file names.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/committer.h"
#include "store/store.h"

static pthread_mutex_t tok_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t tok_next;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Time-ordered unique tokens, shaped like the Snowflake ids vcpd makes. */
static uint64_t next_token(void)
{
    uint64_t t;

    pthread_mutex_lock(&tok_mu);
    if (!tok_next)
        tok_next = ((uint64_t)now_ms() - 1577836800000ULL) << 22;
    t = tok_next++;
    pthread_mutex_unlock(&tok_mu);
    return t;
}

/* A text message of exactly len bytes of JSON (len >= 64). */
static void make_body(char *buf, size_t len)
{
    static const char head[] = "{\"type\":\"text\",\"sender\":{\"name\":\"bench\"},\"text\":\"";
    static const char words[] = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ";
    size_t n = strlen(head), i;

    memcpy(buf, head, n);
    for (i = n; i < len - 2; i++)
        buf[i] = words[(i - n) % (sizeof words - 1)];
    memcpy(buf + len - 2, "\"}", 2);
    buf[len] = '\0';
}

static unsigned long arg(int argc, char **argv, int i, unsigned long def)
{
    char *end;
    unsigned long v;

    if (argc <= i)
        return def;
    errno = 0;
    v = strtoul(argv[i], &end, 10);
    if (errno || *end || v == 0) {
        fprintf(stderr, "store_bench: bad number %s\n", argv[i]);
        exit(2);
    }
    return v;
}

static int64_t make_channel(struct store *s, unsigned i)
{
    struct channel c;
    uint8_t h[STORE_HASH_LEN];

    memset(&c, 0, sizeof c);
    memset(h, 0, sizeof h);
    snprintf(c.pa_id, sizeof c.pa_id, "pa:%020u", i);
    snprintf(c.name, sizeof c.name, "bench %u", i);
    memcpy(h, &i, sizeof i);
    c.rate_count = 500;
    c.rate_window_s = 10;
    if (store_channel_create(s, &c, h, NULL, 0) != STORE_OK) {
        fprintf(stderr, "store_bench: channel: %s\n", store_errmsg(s));
        exit(1);
    }
    return c.id;
}

/* ---- throughput --------------------------------------------------------------------------- */

struct waiter {
    struct commit_req r;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

struct worker {
    struct committer *c;
    int64_t channel;
    const char *body;
    double until;
    uint64_t ok, failed;
};

static void wake(struct commit_req *r)
{
    struct waiter *w = (struct waiter *)r;

    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *work(void *arg)
{
    struct worker *wk = arg;
    struct waiter w;

    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    while (mono_s() < wk->until) {
        w.r.post.token = next_token();
        w.r.post.channel = wk->channel;
        w.r.post.created_ms = now_ms();
        snprintf(w.r.post.type, sizeof w.r.post.type, "text");
        snprintf(w.r.post.from, sizeof w.r.post.from, "AAAAAAAAAAAAAAAAAAAAAA==");
        w.r.post.json = wk->body;
        w.r.done = wake;
        w.done = 0;
        committer_submit(wk->c, &w.r);
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        if (w.r.rc == STORE_OK)
            wk->ok++;
        else
            wk->failed++;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return NULL;
}

static void throughput(const char *dir, unsigned long subs, unsigned long secs, const char *body)
{
    char path[1024], err[256];
    struct store *s = NULL;
    struct committer *c = NULL;
    struct worker *wk = calloc(subs, sizeof *wk);
    pthread_t *th = calloc(subs, sizeof *th);
    uint64_t ok = 0, failed = 0, commits = 0, rows = 0;
    int64_t ch;
    double t0, dt;

    snprintf(path, sizeof path, "%s/throughput-%ld-%" PRId64 ".db", dir, (long)getpid(), now_ms());
    if (!wk || !th || store_open(path, &s, err, sizeof err) != STORE_OK ||
        committer_new(&c, path, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "store_bench: %s\n", err);
        exit(1);
    }
    ch = make_channel(s, 1);
    t0 = mono_s();
    for (unsigned long i = 0; i < subs; i++) {
        wk[i] = (struct worker){c, ch, body, t0 + (double)secs, 0, 0};
        if (pthread_create(&th[i], NULL, work, &wk[i]) != 0) {
            fprintf(stderr, "store_bench: pthread_create failed\n");
            exit(1);
        }
    }
    for (unsigned long i = 0; i < subs; i++) {
        pthread_join(th[i], NULL);
        ok += wk[i].ok;
        failed += wk[i].failed;
    }
    dt = mono_s() - t0;
    committer_stats(c, &commits, &rows);
    committer_free(c);
    store_close(s);
    printf("throughput: %lu submitters, %.1f s, synchronous=FULL\n", subs, dt);
    printf("  %" PRIu64 " posts ok, %" PRIu64 " failed: %.0f rows/s\n", ok, failed,
           (double)ok / dt);
    printf("  %" PRIu64 " commits: %.0f commits/s, %.1f rows per commit\n", commits,
           (double)commits / dt, commits ? (double)rows / (double)commits : 0.0);
    free(wk);
    free(th);
}

/* ---- size --------------------------------------------------------------------------------- */

static void size(const char *dir, unsigned long posts, unsigned long nch, const char *body,
                 size_t body_len)
{
    char path[1024], wal[1100], err[256];
    struct store *s = NULL;
    struct post batch[1000];
    int64_t *ch = calloc(nch, sizeof *ch);
    struct stat st;
    double t0 = mono_s();

    snprintf(path, sizeof path, "%s/size-%ld-%" PRId64 ".db", dir, (long)getpid(), now_ms());
    if (!ch || store_open(path, &s, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "store_bench: %s\n", err);
        exit(1);
    }
    for (unsigned long i = 0; i < nch; i++)
        ch[i] = make_channel(s, (unsigned)(i + 1));
    for (unsigned long done = 0; done < posts;) {
        size_t n = posts - done < 1000 ? posts - done : 1000;

        for (size_t i = 0; i < n; i++) {
            struct post *p = &batch[i];

            memset(p, 0, sizeof *p);
            p->token = next_token();
            p->channel = ch[(done + i) % nch];
            p->created_ms = now_ms();
            snprintf(p->type, sizeof p->type, "text");
            snprintf(p->from, sizeof p->from, "AAAAAAAAAAAAAAAAAAAAAA==");
            p->json = body;
        }
        if (store_post_insert_batch(s, batch, n) != STORE_OK) {
            fprintf(stderr, "store_bench: insert: %s\n", store_errmsg(s));
            exit(1);
        }
        done += n;
    }
    store_close(s); /* the last connection checkpoints and removes the WAL */
    if (stat(path, &st) != 0) {
        perror(path);
        exit(1);
    }
    snprintf(wal, sizeof wal, "%s-wal", path);
    printf("size: %lu posts of %zu-byte JSON over %lu channels in %.1f s\n", posts, body_len, nch,
           mono_s() - t0);
    printf("  file %lld bytes%s: %.1f bytes per post, %.2f x the JSON\n", (long long)st.st_size,
           access(wal, F_OK) == 0 ? " (+ WAL left)" : "", (double)st.st_size / (double)posts,
           (double)st.st_size / (double)posts / (double)body_len);
    free(ch);
}

int main(int argc, char **argv)
{
    unsigned long subs, secs, posts, body_len, nch;
    char *body;

    if (argc < 2) {
        fprintf(stderr,
                "usage: store_bench DIR [SUBMITTERS [SECONDS [POSTS [BODY [CHANNELS]]]]]\n");
        return 2;
    }
    subs = arg(argc, argv, 2, 64);
    secs = arg(argc, argv, 3, 5);
    posts = arg(argc, argv, 4, 100000);
    body_len = arg(argc, argv, 5, 250);
    nch = arg(argc, argv, 6, 10);
    if (body_len < 64 || body_len > 1 << 20) {
        fprintf(stderr, "store_bench: BODY must be 64..1048576\n");
        return 2;
    }
    body = malloc(body_len + 1);
    if (!body)
        return 1;
    make_body(body, body_len);
    throughput(argv[1], subs, secs, body);
    size(argv[1], posts, nch, body, body_len);
    free(body);
    return 0;
}
