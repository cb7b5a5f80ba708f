/*
 * Token buckets in a table (htab.h) keyed by channel row id.  Channels are
 * never removed from the table: a bucket is 32 bytes (and a 16-byte slot)
 * and the number of channels is what an operator created.
 */
#include "server/ratelimit.h"

#include <stdlib.h>

#include "server/htab.h"
#include "server/util.h"
#include "store/store.h"

struct bucket {
    int64_t channel;
    uint64_t epoch; /* the channel's epoch the bucket belongs to */
    double tokens;
    uint64_t last_us;
};

struct ratelimit {
    struct store *shared; /* the database's buckets (ratelimit_share); NULL: in memory */
    bool claim_failing;   /* the last claim failed: logged once, not on every request */
    struct htab tab;      /* of struct bucket, malloc'd */
};

struct ratelimit *ratelimit_new(void)
{
    struct ratelimit *rl = xcalloc(1, sizeof *rl);
    htab_init(&rl->tab);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    htab_fini(&rl->tab, free);
    free(rl);
}

/* Fibonacci hashing, its product's high half turned to the low bits the
 * table indexes by. */
static uint64_t hash_of(int64_t channel)
{
    uint64_t h = (uint64_t)channel * 0x9E3779B97F4A7C15ULL;
    return h >> 32 | h << 32;
}

static struct bucket *find(struct ratelimit *rl, int64_t channel, uint64_t h)
{
    for (struct htab_slot *s = htab_first(&rl->tab, h); s->item; s = htab_next(&rl->tab, s))
        if (((struct bucket *)s->item)->channel == channel)
            return s->item;
    return NULL;
}

void ratelimit_share(struct ratelimit *rl, struct store *s)
{
    if (s->ops->rate_claim)
        rl->shared = s;
}

/*
 * A shared bucket (ratelimit.h): b->tokens is what is left of the chunk this
 * instance took at b->last_us, spendable for one window.
 */
static bool take_shared(struct ratelimit *rl, struct bucket *b, uint64_t epoch, int count,
                        int window_s, uint64_t now_us)
{
    uint64_t window_us = (uint64_t)(window_s > 0 ? window_s : 1) * 1000000;
    int chunk = count / RATELIMIT_CHUNK_DIV > 0 ? count / RATELIMIT_CHUNK_DIV : 1;
    int got = 0;

    if (b->epoch != epoch || now_us - b->last_us > window_us || b->tokens > chunk)
        b->tokens = 0; /* another epoch, too old, or taken in memory before: not ours to spend */
    b->epoch = epoch;
    if (b->tokens < 1.0) {
        if (store_rate_claim(rl->shared, b->channel, epoch, count, window_s, chunk, &got) !=
            STORE_OK) {
            if (!rl->claim_failing)
                log_msg("warn", "rate limits: %s; requests let through until it answers",
                        store_errmsg(rl->shared));
            rl->claim_failing = true;
            return true;
        }
        rl->claim_failing = false;
        if (got == 0)
            return false;
        b->tokens = got;
        b->last_us = now_us;
    }
    b->tokens -= 1.0;
    return true;
}

bool ratelimit_take(struct ratelimit *rl, int64_t channel, uint64_t epoch, int count, int window_s,
                    uint64_t now_us)
{
    uint64_t h = hash_of(channel);
    struct bucket *b;
    double rate;

    if (count <= 0)
        return true;
    if (!(b = find(rl, channel, h))) {
        b = xcalloc(1, sizeof *b);
        b->channel = channel;
        b->epoch = epoch;
        b->tokens = rl->shared ? 0 : count;
        b->last_us = now_us;
        htab_add(&rl->tab, h, b);
    }
    if (rl->shared)
        return take_shared(rl, b, epoch, count, window_s, now_us);
    if (b->epoch != epoch) { /* reset since: start clean */
        b->epoch = epoch;
        b->tokens = count;
        b->last_us = now_us;
    }
    rate = (double)count / (window_s > 0 ? window_s : 1) / 1e6; /* tokens per µs */
    if (now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) * rate;
        b->last_us = now_us;
    }
    if (b->tokens > count)
        b->tokens = count;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}
