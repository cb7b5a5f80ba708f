/*
 * One small open-addressing hash table for the HTTP thread's caches
 * (chancache.c, tokcache.c, ratelimit.c): slots of (64-bit hash, item
 * pointer) in a power-of-two array kept at most half full, linear probing.
 *
 * The table knows no keys: the caller hashes, and compares its own keys
 * while walking a probe sequence with htab_first/htab_next -- inline, so
 * a lookup on a request's hot path pays no function call per probed slot
 * (the token cache's constant-time compare, for one, stays the caller's).
 * Each slot keeps the item's hash, so growing never asks the caller to hash
 * again.  Items are the caller's; the table only points at them.  Nothing
 * is ever removed alone: a cache empties the whole table (htab_clear).
 * Aborts on out-of-memory (server code).  No locks.
 *
 * A lookup:
 *     for (s = htab_first(t, h); s->item; s = htab_next(t, s))
 *         if (s->hash == h && same_key(s->item, key))
 *             return s->item;
 */
#ifndef VCP_SERVER_HTAB_H
#define VCP_SERVER_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_slot {
    uint64_t hash; /* the item's, as given to htab_add */
    void *item;    /* NULL: a free slot, which ends every probe sequence */
};

struct htab {
    struct htab_slot *slots;
    size_t mask; /* the number of slots less one; slots are a power of two */
    size_t used; /* items held */
};

/*
 * A slot hash of len bytes at s, keyed with seed: splitmix64's finaliser
 * over the length, then over each 8 bytes in turn.  A random seed per table
 * makes the slot of a given key unpredictable to anyone outside the process
 * (the token cache's, the answers').
 */
uint64_t htab_hash(uint64_t seed, const void *s, size_t len);

/* An empty table of 64 slots. */
void htab_init(struct htab *t);

/* Forgets every item, calling drop on each first (drop may be NULL); the
 * table keeps its size and stays usable. */
void htab_clear(struct htab *t, void (*drop)(void *item));

/* htab_clear, then frees the slots. */
void htab_fini(struct htab *t, void (*drop)(void *item));

/* Adds item (not NULL) under hash; the caller has looked it up and not
 * found it.  Doubles the table first when it would pass half full. */
void htab_add(struct htab *t, uint64_t hash, void *item);

/* The first slot of hash's probe sequence. */
static inline struct htab_slot *htab_first(const struct htab *t, uint64_t hash)
{
    return &t->slots[(size_t)hash & t->mask];
}

/* The slot after s in its probe sequence (s itself held an item). */
static inline struct htab_slot *htab_next(const struct htab *t, const struct htab_slot *s)
{
    return &t->slots[(size_t)(s - t->slots + 1) & t->mask];
}

#endif
