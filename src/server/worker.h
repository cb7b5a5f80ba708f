/*
 * A background thread of vcpd with the lock and condition variable it
 * waits on, and the one way to stop it: the timer thread (delay.c), the
 * journal's writer (journal.c) and the node id lease renewer (node.c) each
 * embed one.  The owner keeps its shared state under w->lock; its thread
 * loops until w->stopping, sleeping in worker_wait; worker_stop sets
 * stopping, wakes the thread and joins it.  The condition variable runs on
 * CLOCK_MONOTONIC, the clock of mono_us() (http.h), so a deadline never
 * moves with the wall clock.
 */
#ifndef VCP_SERVER_WORKER_H
#define VCP_SERVER_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct worker {
    pthread_t thread;
    pthread_mutex_t lock; /* stopping, and whatever the owner shares with its thread */
    pthread_cond_t cond;  /* wakes the thread: new work, or stop */
    bool stopping;        /* set under lock by worker_stop */
    bool started;         /* the thread runs or ran, and is not joined yet */
};

/*
 * Initialises the lock and the condition variable, then starts run(arg) on
 * a thread named name (at most 15 characters).  Returns 0, or -1 when the
 * thread cannot start: the lock and the condition variable are then
 * destroyed again.
 */
int worker_start(struct worker *w, const char *name, void *(*run)(void *), void *arg);

/* Sets stopping, wakes the thread and joins it.  Again, or after a failed
 * start: a no-op. */
void worker_stop(struct worker *w);

/* Destroys the lock and the condition variable; after worker_stop. */
void worker_fini(struct worker *w);

/*
 * Waits on w->cond, w->lock held, until woken or until due_us (mono_us()
 * time; 0: no deadline).  Returns ETIMEDOUT once due_us has passed, else 0;
 * as with any condition variable, the caller checks its state again.
 */
int worker_wait(struct worker *w, uint64_t due_us);

#endif
