/*
 * The hash table of htab.h.  Half full at most: with linear probing a
 * lookup then touches about 1.5 slots on a hit and 2.5 on a miss, and the
 * caches it serves are small (a few thousand items at most).
 */
#include "server/htab.h"

#include <stdlib.h>
#include <string.h>

#include "server/util.h"

#define FIRST_SLOTS 64

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

/* Eight bytes a step: a token is ~40 bytes, a detail ~40-160, and FNV-1a's
 * byte a step was ~600 instructions of a request (issue 11).  The length
 * goes in first, so a key and the same key with NULs after it differ. */
uint64_t htab_hash(uint64_t seed, const void *s, size_t len)
{
    const unsigned char *p = s;
    uint64_t h = mix(seed ^ (uint64_t)len), w;

    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&w, p, 8);
        h = mix(h ^ w);
    }
    w = 0;
    if (len) /* p may be NULL when len is 0 */
        memcpy(&w, p, len);
    return mix(h ^ w);
}

void htab_init(struct htab *t)
{
    t->slots = xcalloc(FIRST_SLOTS, sizeof *t->slots);
    t->mask = FIRST_SLOTS - 1;
    t->used = 0;
}

void htab_clear(struct htab *t, void (*drop)(void *item))
{
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].item && drop)
            drop(t->slots[i].item);
        t->slots[i].hash = 0;
        t->slots[i].item = NULL;
    }
    t->used = 0;
}

void htab_fini(struct htab *t, void (*drop)(void *item))
{
    if (!t->slots)
        return;
    htab_clear(t, drop);
    free(t->slots);
    t->slots = NULL;
}

/* The free slot of hash's probe sequence. */
static struct htab_slot *free_slot(const struct htab *t, uint64_t hash)
{
    struct htab_slot *s = htab_first(t, hash);

    while (s->item)
        s = htab_next(t, s);
    return s;
}

void htab_add(struct htab *t, uint64_t hash, void *item)
{
    struct htab_slot *s;

    if ((t->used + 1) * 2 > t->mask + 1) {
        struct htab_slot *old = t->slots;
        size_t old_n = t->mask + 1;

        t->mask = old_n * 2 - 1;
        t->slots = xcalloc(old_n * 2, sizeof *t->slots);
        for (size_t i = 0; i < old_n; i++)
            if (old[i].item)
                *free_slot(t, old[i].hash) = old[i];
        free(old);
    }
    s = free_slot(t, hash);
    s->hash = hash;
    s->item = item;
    t->used++;
}
