/*
 * Per-channel rate control: one token bucket per channel, kept in memory on
 * the HTTP thread (no locks).  A bucket holds up to `count` tokens and
 * refills at count/window per second, so a channel may burst its whole
 * allowance and then sustain the average -- Viber's documented broadcast
 * limit is 500 requests per 10 s.  Each vcpd instance keeps its own buckets.
 */
#ifndef VCP_SERVER_RATELIMIT_H
#define VCP_SERVER_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl); /* NULL is a no-op */

/*
 * Takes one token from channel's bucket at time now_us (monotonic).  count 0
 * means unlimited.  A changed count/window applies from this call on; a
 * changed epoch (the channel was reset, or its row id now names a new
 * channel) starts a full bucket.  Returns true when the request may go on.
 */
bool ratelimit_take(struct ratelimit *rl, int64_t channel, uint64_t epoch, int count, int window_s,
                    uint64_t now_us);

#endif
