/*
 * The timer thread of delay.h: a list of (deadline, request) kept sorted by
 * deadline -- delays are few (sandbox fault injection), so insertion into a
 * sorted array is plenty -- and a condition variable the thread waits on
 * until the earliest deadline or a new, earlier one.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "server/delay.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server.h"
#include "server/http.h"
#include "server/util.h"

struct pending {
    uint64_t due_us; /* CLOCK_MONOTONIC */
    struct req *r;
};

struct delay {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    struct pending *v;   /* sorted by due_us */
    size_t n, cap;
    bool stopping;
    bool joined; /* the thread has ended */
};

static void *run(void *arg)
{
    struct delay *d = arg;

    pthread_setname_np(pthread_self(), "vcpd-delay");
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        uint64_t now = mono_us();
        size_t due = 0;

        while (due < d->n && d->v[due].due_us <= now)
            req_resume(d->v[due++].r); /* thread-safe: the HTTP thread answers */
        if (due > 0) {
            memmove(d->v, d->v + due, (d->n - due) * sizeof *d->v);
            d->n -= due;
        }
        if (d->n == 0) {
            pthread_cond_wait(&d->cond, &d->lock);
        } else {
            struct timespec ts = {(time_t)(d->v[0].due_us / 1000000),
                                  (long)(d->v[0].due_us % 1000000) * 1000};
            pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

int delay_new(struct delay **out)
{
    struct delay *d = xcalloc(1, sizeof *d);
    pthread_condattr_t ca;

    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* mono_us() is the clock of due_us */
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&d->thread, NULL, run, d) != 0) {
        log_msg("error", "delay: cannot start its thread");
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->lock);
        free(d);
        *out = NULL;
        return -1;
    }
    *out = d;
    return 0;
}

void delay_stop(struct delay *d)
{
    if (!d || d->joined)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    d->joined = true;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n; i++) /* answer now rather than never */
        req_resume(d->v[i].r);
    d->n = 0;
    pthread_mutex_unlock(&d->lock);
}

void delay_free(struct delay *d)
{
    if (!d)
        return;
    delay_stop(d);
    free(d->v);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

enum MHD_Result delay_then(struct delay *d, struct req *r, uint64_t ms,
                           enum MHD_Result (*cont)(struct req *))
{
    uint64_t due = mono_us() + ms * 1000;
    size_t i;

    pthread_mutex_lock(&d->lock);
    if (d->stopping) {
        pthread_mutex_unlock(&d->lock);
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
        pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    return MHD_YES;
}
