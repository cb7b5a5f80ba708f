/*
 * The timer thread of delay.h: a list of (deadline, request) kept sorted by
 * deadline -- delays are few (sandbox fault injection), so insertion into a
 * sorted array is plenty -- and a condition variable the thread waits on
 * until the earliest deadline or a new, earlier one.
 */
#include "server/delay.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "server/http.h"
#include "server/util.h"
#include "server/worker.h"

struct pending {
    uint64_t due_us; /* CLOCK_MONOTONIC */
    struct req *r;
};

struct delay {
    struct worker w;   /* the timer thread; w.lock guards v */
    struct pending *v; /* sorted by due_us */
    size_t n, cap;
};

static void *run(void *arg)
{
    struct delay *d = arg;

    pthread_mutex_lock(&d->w.lock);
    while (!d->w.stopping) {
        uint64_t now = mono_us();
        size_t due = 0;

        while (due < d->n && d->v[due].due_us <= now)
            req_resume(d->v[due++].r); /* thread-safe: the HTTP thread answers */
        if (due > 0) {
            memmove(d->v, d->v + due, (d->n - due) * sizeof *d->v);
            d->n -= due;
        }
        worker_wait(&d->w, d->n ? d->v[0].due_us : 0); /* due_us is mono_us() time */
    }
    pthread_mutex_unlock(&d->w.lock);
    return NULL;
}

int delay_new(struct delay **out)
{
    struct delay *d = xcalloc(1, sizeof *d);

    if (worker_start(&d->w, "vcpd-delay", run, d) != 0) {
        log_msg("error", "delay: cannot start its thread");
        free(d);
        *out = NULL;
        return -1;
    }
    *out = d;
    return 0;
}

void delay_stop(struct delay *d)
{
    if (!d || !d->w.started)
        return;
    worker_stop(&d->w);
    pthread_mutex_lock(&d->w.lock);
    for (size_t i = 0; i < d->n; i++) /* answer now rather than never */
        req_resume(d->v[i].r);
    d->n = 0;
    pthread_mutex_unlock(&d->w.lock);
}

void delay_free(struct delay *d)
{
    if (!d)
        return;
    delay_stop(d);
    free(d->v);
    worker_fini(&d->w);
    free(d);
}

enum MHD_Result delay_then(struct delay *d, struct req *r, uint64_t ms,
                           enum MHD_Result (*cont)(struct req *))
{
    uint64_t due = mono_us() + ms * 1000;
    size_t i;

    pthread_mutex_lock(&d->w.lock);
    if (d->w.stopping) {
        pthread_mutex_unlock(&d->w.lock);
        return cont(r);
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = xrealloc(d->v, d->cap * sizeof *d->v);
    }
    for (i = d->n; i > 0 && d->v[i - 1].due_us > due; i--)
        d->v[i] = d->v[i - 1];
    d->v[i].due_us = due;
    d->v[i].r = r;
    d->n++;
    /* suspended before the thread can see it: a resume never comes first */
    req_suspend(r, WAIT_DELAY, cont);
    if (i == 0)
        pthread_cond_signal(&d->w.cond);
    pthread_mutex_unlock(&d->w.lock);
    return MHD_YES;
}
