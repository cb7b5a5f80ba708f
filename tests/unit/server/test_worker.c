/* The background thread type: start, wait with and without a deadline, stop. */
#define _GNU_SOURCE /* pthread_getname_np */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/http.h"
#include "server/worker.h"

struct state {
    struct worker w;
    int timeouts; /* worker_wait's ETIMEDOUT returns, under w.lock */
    uint64_t step_us;
};

/* Waits in steps of step_us (0: no deadline) until stopped, counting timeouts. */
static void *run(void *arg)
{
    struct state *st = arg;

    pthread_mutex_lock(&st->w.lock);
    while (!st->w.stopping)
        if (worker_wait(&st->w, st->step_us ? mono_us() + st->step_us : 0) == ETIMEDOUT)
            st->timeouts++;
    pthread_mutex_unlock(&st->w.lock);
    return NULL;
}

static void stop_wakes_a_thread_without_deadline(void **unused)
{
    struct state st = {.step_us = 0};
    char name[16];

    (void)unused;
    assert_int_equal(worker_start(&st.w, "vcpd-test", run, &st), 0);
    assert_true(st.w.started);
    assert_int_equal(pthread_getname_np(st.w.thread, name, sizeof name), 0);
    assert_string_equal(name, "vcpd-test");
    worker_stop(&st.w); /* returns only once the thread has ended */
    assert_false(st.w.started);
    assert_int_equal(st.timeouts, 0);
    worker_stop(&st.w); /* again: a no-op */
    worker_fini(&st.w);
}

static void deadlines_pass(void **unused)
{
    struct state st = {.step_us = 2000};
    int seen;

    (void)unused;
    assert_int_equal(worker_start(&st.w, "vcpd-test", run, &st), 0);
    for (int i = 0; i < 500; i++) { /* up to ~5 s for a few 2 ms deadlines */
        pthread_mutex_lock(&st.w.lock);
        seen = st.timeouts;
        pthread_mutex_unlock(&st.w.lock);
        if (seen >= 3)
            break;
        usleep(10000);
    }
    assert_true(seen >= 3);
    worker_stop(&st.w);
    worker_fini(&st.w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stop_wakes_a_thread_without_deadline),
        cmocka_unit_test(deadlines_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
