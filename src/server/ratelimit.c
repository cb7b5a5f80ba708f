/*
 * Token buckets in an open-addressing hash table keyed by channel row id.
 * Channels are never removed from the table: a bucket is 32 bytes and the
 * number of channels is what an operator created.
 */
#include "server/ratelimit.h"

#include <stdlib.h>

#include "server/util.h"
#include "store/store.h"

struct bucket {
    int64_t channel; /* 0 = empty slot (row ids start at 1) */
    uint64_t epoch;  /* the channel's epoch the bucket belongs to */
    double tokens;
    uint64_t last_us;
};

struct ratelimit {
    struct store *shared; /* the database's buckets (ratelimit_share); NULL: in memory */
    bool claim_failing;   /* the last claim failed: logged once, not on every request */
    struct bucket *slots;
    size_t cap; /* power of two */
    size_t used;
};

struct ratelimit *ratelimit_new(void)
{
    struct ratelimit *rl = xcalloc(1, sizeof *rl);
    rl->cap = 64;
    rl->slots = xcalloc(rl->cap, sizeof *rl->slots);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->slots);
    free(rl);
}

static size_t slot_of(int64_t channel, size_t cap)
{
    uint64_t h = (uint64_t)channel * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & (cap - 1);
}

static struct bucket *find(struct ratelimit *rl, int64_t channel)
{
    size_t i = slot_of(channel, rl->cap);

    while (rl->slots[i].channel != 0 && rl->slots[i].channel != channel)
        i = (i + 1) & (rl->cap - 1);
    return &rl->slots[i];
}

static void grow(struct ratelimit *rl)
{
    struct bucket *old = rl->slots;
    size_t old_cap = rl->cap;

    rl->cap *= 2;
    rl->slots = xcalloc(rl->cap, sizeof *rl->slots);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].channel != 0)
            *find(rl, old[i].channel) = old[i];
    free(old);
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
    struct bucket *b;
    double rate;

    if (count <= 0)
        return true;
    b = find(rl, channel);
    if (b->channel == 0) {
        if ((rl->used + 1) * 2 > rl->cap) {
            grow(rl);
            b = find(rl, channel);
        }
        b->channel = channel;
        b->epoch = epoch;
        b->tokens = rl->shared ? 0 : count;
        b->last_us = now_us;
        rl->used++;
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
