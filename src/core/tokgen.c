/*
 * Snowflake-style message_token generator (layout in tokgen.h).  The state is
 * the caller's struct, the clock is an argument: nothing global, nothing read
 * behind the caller's back, so tests can drive any clock they like.
 *
 * Uniqueness within one node comes from never letting (ms, seq) go
 * backwards: a clock that steps back is ignored until it passes last_ms
 * again, and a full millisecond (4096 ids) borrows the next one.  Uniqueness
 * across nodes comes from the node bits.  The 41-bit time field lasts until
 * 2089-09-06; past that the time bits wrap (bit 63 stays 0).
 */
#include "core/tokgen.h"

#include <stddef.h>

#define SEQ_BITS   12
#define NODE_BITS  10
#define SEQ_MAX    ((1u << SEQ_BITS) - 1)
#define TIME_SHIFT (SEQ_BITS + NODE_BITS)
#define TIME_MASK  ((1ULL << 41) - 1)

/* The state word: ms since the epoch and the sequence used in it. */
#define STATE(ms, seq) (((uint64_t)(ms) << SEQ_BITS) | (seq))

static uint64_t id_of(uint64_t state, unsigned node)
{
    uint64_t ms = state >> SEQ_BITS;

    return ((ms & TIME_MASK) << TIME_SHIFT) | ((uint64_t)node << SEQ_BITS) | (state & SEQ_MAX);
}

int tokgen_init(struct tokgen *g, unsigned node)
{
    if (g == NULL || node > TOKGEN_NODE_MAX)
        return -1;
    /* (ms 0, seq 0) counts as taken, so the all-zero id is never made
     * even for node 0 with a clock at (or before) the epoch. */
    atomic_init(&g->last, STATE(0, 0));
    g->node = node;
    return 0;
}

/* The state after old for a clock at ms (since the epoch). */
static uint64_t step(uint64_t old, uint64_t ms)
{
    uint64_t last_ms = old >> SEQ_BITS, seq = old & SEQ_MAX;

    if (ms > last_ms)
        return STATE(ms, 0);
    if (seq < SEQ_MAX)
        return STATE(last_ms, seq + 1); /* same millisecond, or the clock stepped back */
    return STATE(last_ms + 1, 0);       /* 4096 ids in this millisecond: borrow the next */
}

uint64_t tokgen_next(struct tokgen *g, uint64_t now_ms)
{
    uint64_t ms = now_ms > TOKGEN_EPOCH_MS ? now_ms - TOKGEN_EPOCH_MS : 0;
    uint64_t old = atomic_load(&g->last), next;

    do
        next = step(old, ms);
    while (!atomic_compare_exchange_weak(&g->last, &old, next));
    return id_of(next, g->node);
}

/* The state of the smallest id of node above floor. */
static uint64_t state_above(uint64_t floor, unsigned node)
{
    uint64_t ms = floor >> TIME_SHIFT;
    unsigned fnode = (unsigned)((floor >> SEQ_BITS) & TOKGEN_NODE_MAX);

    if (node > fnode)
        return STATE(ms, 0);
    if (node == fnode)
        return step(STATE(ms, floor & SEQ_MAX), 0); /* the next after floor itself */
    return STATE(ms + 1, 0);
}

uint64_t tokgen_above(uint64_t floor, unsigned node)
{
    return id_of(state_above(floor, node), node);
}

uint64_t tokgen_raise(struct tokgen *g, uint64_t floor)
{
    uint64_t want = state_above(floor, g->node), old = atomic_load(&g->last), next;

    do
        next = want > old ? want : step(old, 0); /* above floor and above all made */
    while (!atomic_compare_exchange_weak(&g->last, &old, next));
    return id_of(next, g->node);
}

int tokgen_resume(struct tokgen *g, uint64_t last)
{
    uint64_t old, st;

    if (g == NULL || last == 0 || ((last >> SEQ_BITS) & ((1u << NODE_BITS) - 1)) != g->node)
        return -1;
    /* (ms, seq) of last counts as taken: tokgen_next goes on from there as it does
     * after a clock step back within one run */
    st = STATE(last >> TIME_SHIFT, last & SEQ_MAX);
    old = atomic_load(&g->last);
    while (st > old && !atomic_compare_exchange_weak(&g->last, &old, st))
        ;
    return 0;
}

uint64_t tokgen_time_ms(uint64_t token)
{
    return (token >> TIME_SHIFT) + TOKGEN_EPOCH_MS;
}
