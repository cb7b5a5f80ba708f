/*
 * The group-commit writer: the one place posts are written.
 *
 * With synchronous=FULL every commit costs an fsync, which takes far longer
 * than inserting a row.  So posts are not committed one by one: the HTTP
 * thread hands each post to the committer and suspends that request; the
 * committer's thread takes everything that is waiting, inserts it with one
 * store_post_insert_batch (one transaction, one fsync), and then completes
 * each request.  Posts that arrive while a commit is syncing form the next
 * batch, so under load the cost of an fsync is shared by many posts and
 * status 0 is still only answered once the post is on disk.
 *
 * The committer owns its own store connection (struct store is one
 * connection, used by one thread).  Other writes of the server (a webhook
 * URL, the admin API) go through it too, as jobs (commit_req.job), so the
 * HTTP thread only ever reads.
 */
#ifndef VCP_STORE_COMMITTER_H
#define VCP_STORE_COMMITTER_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Most posts one commit takes; the rest wait for the next one. */
#define COMMITTER_BATCH_MAX 1024

struct committer;
struct tokgen; /* core/tokgen.h */

/*
 * One post to store.  The submitter owns the request and everything it
 * points to (post.json included) and keeps them alive until done() has been
 * called; done() may free them.
 */
struct commit_req {
    struct post post; /* what to insert (ignored when job is set) */
    /*
     * Another write, instead of a post: the writer calls job(r, s) on its own
     * connection and takes its store_rc as rc.  For the HTTP thread's few
     * writes (the webhook set_webhook stores, the admin API), so that thread
     * never waits for SQLite's write lock itself -- while another process
     * holds it, a write may wait for the busy timeout (5 s).
     */
    int (*job)(struct commit_req *r, struct store *s);
    int rc;        /* set before done(): STORE_OK stored durably; STORE_EXISTS token already stored;
                      STORE_NOTFOUND no such channel; STORE_ERROR malformed post or database failure */
    char err[256]; /* set with rc != STORE_OK: the store's message (store_errmsg), for the log */
    void (*done)(struct commit_req *r); /* runs once, on the writer thread; must not block long */
    void *arg;                          /* the submitter's, untouched */
    struct commit_req *next;            /* internal: queue link */
};

/*
 * Opens a store connection of its own to dsn and starts the writer thread.
 * Returns STORE_OK with *out set, or STORE_ERROR with err filled and *out
 * NULL.  Free with committer_free.
 */
int committer_new(struct committer **out, const char *dsn, char *err, size_t err_len);

/*
 * The generator whose tokens the writer's connection may raise (store.h, set_tokgen).
 * Before the first committer_submit.
 */
void committer_set_tokgen(struct committer *c, struct tokgen *g);

/*
 * Attaches the writer's connection to board b (store_board_attach): every batch publishes
 * the config version its transaction saw.  Before the first committer_submit; b outlives c.
 */
void committer_set_board(struct committer *c, struct store_board *b);

/*
 * Queues r for the next commit.  Thread-safe; takes a mutex for a few
 * instructions and never waits for I/O.  May be called from a done()
 * callback.  Not after committer_free has begun.
 */
void committer_submit(struct committer *c, struct commit_req *r);

/*
 * Stops the writer: every request submitted before the call is still
 * committed and gets its done() before this returns; then joins the thread.
 * No committer_submit after it; committer_stats still works.  Calling it
 * again, or on NULL, does nothing.
 */
void committer_stop(struct committer *c);

/*
 * committer_stop, then closes the connection and frees c.  NULL is a no-op.
 */
void committer_free(struct committer *c);

/*
 * Counters for /metrics, thread-safe: transactions committed and rows they
 * stored.  rows / commits is the mean group size.  Either pointer may be
 * NULL; c NULL gives zeros.
 */
void committer_stats(struct committer *c, uint64_t *commits, uint64_t *rows);

#endif
