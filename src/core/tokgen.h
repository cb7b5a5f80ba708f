/*
 * message_token generator: Snowflake-style 63-bit ids, time-ordered and
 * unique across up to 1024 vcpd instances that share one database.
 *
 *   bit 63     0 (tokens are positive as signed 64-bit integers)
 *   bits 62-22 milliseconds since TOKGEN_EPOCH_MS (41 bits, ~69 years)
 *   bits 21-12 node id (10 bits)
 *   bits 11-0  sequence within the millisecond (12 bits)
 *
 * The clock is passed in, never read here, so the generator is pure and
 * testable.  A clock that steps backwards does not produce duplicates: the
 * generator keeps using its last millisecond until the clock catches up, and
 * borrows the next millisecond when 4096 ids were taken in one.
 *
 * Threads: the state is one atomic word, so tokgen_next (vcpd's HTTP thread)
 * and tokgen_raise (its writer, which may store a post under a larger token
 * than it was given: store.h, post_insert_batch) may run at once.
 */
#ifndef VCP_CORE_TOKGEN_H
#define VCP_CORE_TOKGEN_H

#include <stdatomic.h>
#include <stdint.h>

#define TOKGEN_EPOCH_MS 1577836800000ULL /* 2020-01-01T00:00:00Z */
#define TOKGEN_NODE_MAX 1023

struct tokgen {
    _Atomic uint64_t last; /* (ms since the epoch << 12) | seq of the last id: taken */
    uint32_t node;         /* 0..TOKGEN_NODE_MAX; set once by tokgen_init */
};

/* Sets up g for node (must be <= TOKGEN_NODE_MAX, else returns -1). */
int tokgen_init(struct tokgen *g, unsigned node);

/*
 * Continues after last, an id made earlier for g's node (the highest one stored, read at
 * start): the next ids are above it whatever the clock says, so a restart with the clock set
 * back keeps them increasing.  last 0 (none) or of another node changes nothing (-1).
 */
int tokgen_resume(struct tokgen *g, uint64_t last);

/* Next id for a clock reading now_ms (Unix ms).  Never returns 0.  Thread-safe. */
uint64_t tokgen_next(struct tokgen *g, uint64_t now_ms);

/*
 * The smallest id of g's node above both floor and every id g made so far, which g then
 * counts as made: tokgen_next never gives it, nor anything below it.  For a post that must
 * be stored above another node's token (store.h, post_insert_batch).  Thread-safe.
 */
uint64_t tokgen_raise(struct tokgen *g, uint64_t floor);

/*
 * The smallest id of node (0..TOKGEN_NODE_MAX) above floor, pure arithmetic: what
 * tokgen_raise gives when no generator of that node is at hand (a tool, a test).
 */
uint64_t tokgen_above(uint64_t floor, unsigned node);

/* The Unix ms timestamp encoded in a token. */
uint64_t tokgen_time_ms(uint64_t token);

#endif
