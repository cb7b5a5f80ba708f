/*
 * The background threads' start and stop (see worker.h): one copy of the
 * lock, condition variable and join handshake delay.c, journal.c and node.c
 * each carried.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "server/worker.h"

#include <errno.h>
#include <time.h>

int worker_start(struct worker *w, const char *name, void *(*run)(void *), void *arg)
{
    pthread_condattr_t ca;

    w->stopping = false;
    w->started = false;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* worker_wait's deadlines */
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, run, arg) != 0) {
        worker_fini(w);
        return -1;
    }
    pthread_setname_np(w->thread, name);
    w->started = true;
    return 0;
}

void worker_stop(struct worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->started = false;
}

void worker_fini(struct worker *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

int worker_wait(struct worker *w, uint64_t due_us)
{
    struct timespec ts = {(time_t)(due_us / 1000000), (long)(due_us % 1000000) * 1000};

    if (due_us == 0) {
        pthread_cond_wait(&w->cond, &w->lock);
        return 0;
    }
    return pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT ? ETIMEDOUT : 0;
}
