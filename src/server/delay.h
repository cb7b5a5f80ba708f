/*
 * Answers later without blocking: a request is suspended now and resumed
 * after a delay by a timer thread, then its continuation runs on the HTTP
 * thread as after a group commit.  Injected latency and simulated webhook
 * timeouts (fault.h) use it; the HTTP thread never sleeps.
 */
#ifndef VCP_SERVER_DELAY_H
#define VCP_SERVER_DELAY_H

#include <stdint.h>

#include <microhttpd.h>

struct req;
struct delay;

/* Starts the timer thread.  0, or -1 (logged) when it cannot be started. */
int delay_new(struct delay **out);

/*
 * Stops the thread and resumes every request still waiting at once (their
 * continuations run when the HTTP thread next turns); later delay_then
 * calls run their continuation at once.  Call before the daemons stop.
 * NULL is a no-op.
 */
void delay_stop(struct delay *d);

/* Frees d (stopping it first if needed), after the daemons stopped.  NULL is a no-op. */
void delay_free(struct delay *d);

/*
 * Suspends r and has cont(r) run on the HTTP thread after ms milliseconds.
 * Returns MHD_YES; once delay_stop has begun it runs cont(r) at once
 * instead and returns its result.
 */
enum MHD_Result delay_then(struct delay *d, struct req *r, uint64_t ms,
                           enum MHD_Result (*cont)(struct req *));

#endif
