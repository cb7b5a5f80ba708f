/*
 * Per-channel rate control: one token bucket per channel, kept in memory on
 * the HTTP thread (no locks).  A bucket holds up to `count` tokens and
 * refills at count/window per second, so a channel may burst its whole
 * allowance and then sustain the average -- Viber's documented broadcast
 * limit is 500 requests per 10 s.
 *
 * Several instances on one database (PostgreSQL, ratelimit_share): the bucket
 * is the database's, one per channel for all instances (store.h, rate_claim).
 * An instance takes it in chunks of RATELIMIT_CHUNK_DIV-th of count (at
 * least 1; 15 of 500) with one UPDATE each, and spends a chunk locally,
 * request by request, for at most one window; what it leaves unspent is
 * lost.  So every request allowed took a token out of the one bucket: the
 * instances together never pass more than one bucket allows, except that a
 * chunk taken late in one window may be spent early in the next -- at most
 * one chunk per instance, 3 % of count each (9 % with three instances).
 * Tokens taken and not spent make it stricter, never looser.  If the
 * database cannot be asked, the request is let through: it needs the
 * database for everything else anyway (a post is then refused with 99).
 * On SQLite (one server per database file) the buckets stay in memory,
 * with no write on the HTTP thread's read connection.
 */
#ifndef VCP_SERVER_RATELIMIT_H
#define VCP_SERVER_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

#define RATELIMIT_CHUNK_DIV 32 /* a chunk of a shared bucket: count / this, at least 1 */

struct store;

struct ratelimit *ratelimit_new(void);
/* Takes tokens from the buckets s shares with other instances, when its backend has them
 * (s used only on the calling thread of ratelimit_take).  No-op otherwise. */
void ratelimit_share(struct ratelimit *rl, struct store *s);
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
