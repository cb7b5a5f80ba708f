/*
 * The group-commit writer (committer.h).
 *
 * One thread, one store connection, one FIFO of requests under a mutex.  The
 * thread sleeps on a condition variable until requests are queued, detaches
 * up to COMMITTER_BATCH_MAX of them, and commits them with one
 * store_post_insert_batch while submitters keep queueing the next group.
 *
 * A batch is all or nothing, so one bad row would fail everyone else's
 * posts with it.  Malformed posts (token outside 1..2^63-1, no body) are
 * failed before the batch is built.  When the batch fails because of a row
 * (STORE_EXISTS: a token already stored; STORE_NOTFOUND: no such channel) it
 * is split in halves and each half retried, down to single rows: the good
 * rows are stored and only the bad ones fail, for about 2 log2(n) extra
 * commits per bad row instead of n.  When it fails because the database is
 * failing (STORE_ERROR: locked past the busy timeout, disk full, I/O error)
 * every request of the batch fails at once; retrying row by row would only
 * multiply the wait.  Each failed request carries the store's message, so
 * the server can log why ("database or disk is full", ...).
 *
 * Jobs (commit_req.job: the server's other writes) run on the same thread
 * and connection, one at a time, before the batch's posts are committed.
 */
#include "store/committer.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct committer {
    struct store *store; /* the writer thread's own connection */
    pthread_t thread;
    pthread_mutex_t mu;             /* guards everything below */
    pthread_cond_t cv;              /* signalled when a request is queued or stopping is set */
    struct commit_req *head, *tail; /* FIFO of submitted requests */
    int stopping;                   /* committer_stop has begun: drain, then exit */
    int joined;                     /* the thread has been joined (owner's thread only) */
    uint64_t commits, rows;         /* successful transactions and the rows they stored */
    /* writer-thread scratch: the requests taken, and the well-formed ones' posts */
    struct commit_req *taken[COMMITTER_BATCH_MAX];
    struct commit_req *reqs[COMMITTER_BATCH_MAX];
    struct post posts[COMMITTER_BATCH_MAX];
};

/*
 * Commits reqs[0..n) (whose posts are in posts[0..n)) and sets each rc.  A
 * failure caused by a row splits the range and retries the halves.
 */
static void commit_range(struct committer *c, struct commit_req **reqs, struct post *posts,
                         size_t n)
{
    int rc = store_post_insert_batch(c->store, posts, n);

    if (rc == STORE_OK || rc == STORE_ERROR || n == 1) {
        for (size_t i = 0; i < n; i++) {
            /* the store may store a post under another token than it was
             * given (a backend that orders tokens across instances raises
             * them): the answer and the live streams read reqs[i]->post, so
             * it gets the stored one, read here after the commit */
            reqs[i]->post.token = posts[i].token;
            reqs[i]->rc = rc;
            if (rc != STORE_OK)
                snprintf(reqs[i]->err, sizeof reqs[i]->err, "%s", store_errmsg(c->store));
        }
        if (rc == STORE_OK) {
            pthread_mutex_lock(&c->mu);
            c->commits++;
            c->rows += n;
            pthread_mutex_unlock(&c->mu);
        }
        return;
    }
    commit_range(c, reqs, posts, n / 2);
    commit_range(c, reqs + n / 2, posts + n / 2, n - n / 2);
}

static void *writer(void *arg)
{
    struct committer *c = arg;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        size_t n = 0, m;

        while (!c->head && !c->stopping)
            pthread_cond_wait(&c->cv, &c->mu);
        if (!c->head)
            break; /* stopping and drained */
        while (c->head && n < COMMITTER_BATCH_MAX) {
            c->taken[n++] = c->head;
            c->head = c->head->next;
        }
        if (!c->head)
            c->tail = NULL;
        pthread_mutex_unlock(&c->mu);

        m = 0;
        for (size_t i = 0; i < n; i++) {
            struct commit_req *r = c->taken[i];
            const char *why;

            r->err[0] = '\0';
            if (r->job) {
                /* a write of its own, in the order submitted; rare, so not batched */
                r->rc = r->job(r, c->store);
                if (r->rc != STORE_OK)
                    snprintf(r->err, sizeof r->err, "%s", store_errmsg(c->store));
                continue;
            }
            if ((why = store_post_malformed(&r->post)) != NULL) {
                r->rc = STORE_ERROR;
                snprintf(r->err, sizeof r->err, "malformed post: %s", why);
                continue;
            }
            c->reqs[m] = r;
            c->posts[m++] = r->post;
        }
        if (m)
            commit_range(c, c->reqs, c->posts, m);
        for (size_t i = 0; i < n; i++) {
            struct commit_req *r = c->taken[i];

            r->next = NULL;
            if (r->done)
                r->done(r); /* may free r */
        }

        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

void committer_set_tokgen(struct committer *c, struct tokgen *g)
{
    store_set_tokgen(c->store, g); /* read by the writer only after a submission's lock */
}

void committer_set_board(struct committer *c, struct store_board *b)
{
    store_board_attach(c->store, b); /* read by the writer only after a submission's lock */
}

int committer_new(struct committer **out, const char *dsn, char *err, size_t err_len)
{
    struct committer *c = calloc(1, sizeof *c);
    sigset_t all, old;
    int rc;

    *out = NULL;
    if (!c) {
        snprintf(err, err_len, "committer: out of memory");
        return STORE_ERROR;
    }
    if (store_open(dsn, &c->store, err, err_len) != STORE_OK) {
        free(c);
        return STORE_ERROR;
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        snprintf(err, err_len, "committer: cannot create its mutex");
        goto fail;
    }
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        snprintf(err, err_len, "committer: cannot create its condition variable");
        pthread_mutex_destroy(&c->mu);
        goto fail;
    }
    /* signals are for the main thread: the writer starts with all of them blocked */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&c->thread, NULL, writer, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, err_len, "committer: cannot start its thread (error %d)", rc);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        goto fail;
    }
    *out = c;
    return STORE_OK;
fail:
    store_close(c->store);
    free(c);
    return STORE_ERROR;
}

void committer_submit(struct committer *c, struct commit_req *r)
{
    r->next = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void committer_stop(struct committer *c)
{
    if (!c || c->joined)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    c->joined = 1;
}

void committer_free(struct committer *c)
{
    if (!c)
        return;
    committer_stop(c);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    store_close(c->store);
    free(c);
}

void committer_stats(struct committer *c, uint64_t *commits, uint64_t *rows)
{
    if (!c) {
        if (commits)
            *commits = 0;
        if (rows)
            *rows = 0;
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (commits)
        *commits = c->commits;
    if (rows)
        *rows = c->rows;
    pthread_mutex_unlock(&c->mu);
}
