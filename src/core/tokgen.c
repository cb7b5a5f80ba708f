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

int tokgen_init(struct tokgen *g, unsigned node)
{
    if (g == NULL || node > TOKGEN_NODE_MAX)
        return -1;
    /* (last_ms 0, seq 0) counts as taken, so the all-zero id is never made
     * even for node 0 with a clock at (or before) the epoch. */
    g->last_ms = 0;
    g->seq = 0;
    g->node = node;
    return 0;
}

uint64_t tokgen_next(struct tokgen *g, uint64_t now_ms)
{
    uint64_t ms = now_ms > TOKGEN_EPOCH_MS ? now_ms - TOKGEN_EPOCH_MS : 0;

    if (ms > g->last_ms) {
        g->last_ms = ms;
        g->seq = 0;
    } else if (g->seq < SEQ_MAX) {
        g->seq++; /* same millisecond, or the clock stepped back */
    } else {
        g->last_ms++; /* 4096 ids in this millisecond: borrow the next */
        g->seq = 0;
    }
    return ((g->last_ms & TIME_MASK) << TIME_SHIFT) | ((uint64_t)g->node << SEQ_BITS) | g->seq;
}

int tokgen_resume(struct tokgen *g, uint64_t last)
{
    if (g == NULL || last == 0 || ((last >> SEQ_BITS) & ((1u << NODE_BITS) - 1)) != g->node)
        return -1;
    /* (last_ms, seq) of last counts as taken: tokgen_next goes on from there as it does
     * after a clock step back within one run */
    if ((last >> TIME_SHIFT) > g->last_ms ||
        ((last >> TIME_SHIFT) == g->last_ms && (last & SEQ_MAX) > g->seq)) {
        g->last_ms = last >> TIME_SHIFT;
        g->seq = (uint32_t)(last & SEQ_MAX);
    }
    return 0;
}

uint64_t tokgen_time_ms(uint64_t token)
{
    return (token >> TIME_SHIFT) + TOKGEN_EPOCH_MS;
}
