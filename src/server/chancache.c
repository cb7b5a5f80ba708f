/*
 * The channel cache (see chancache.h): an open-addressing table of entry
 * pointers keyed by token hash, emptied whole when the config version moves
 * or when it grows past CACHE_MAX entries (a bound on memory under a flood
 * of distinct valid tokens, which only an administrator can mint).
 */
#include "server/chancache.h"

#include <stdlib.h>
#include <string.h>

#include "server/util.h"

#define CACHE_MAX 16384 /* entries: 10,000 channels in use still fit; twice as many slots */

struct chancache {
    struct chan_entry **slots;
    size_t cap; /* power of two */
    size_t used;
    uint64_t version; /* store_config_version() the entries were read under */
};

struct chancache *chancache_new(void)
{
    struct chancache *c = xcalloc(1, sizeof *c);

    c->cap = 64;
    c->slots = xcalloc(c->cap, sizeof *c->slots);
    return c;
}

void chancache_put(struct chan_entry *e)
{
    if (e && --e->refs == 0) {
        free(e->members);
        free(e->account);
        free(e);
    }
}

static void empty(struct chancache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        chancache_put(c->slots[i]);
        c->slots[i] = NULL;
    }
    c->used = 0;
}

void chancache_free(struct chancache *c)
{
    if (!c)
        return;
    empty(c);
    free(c->slots);
    free(c);
}

static size_t slot_of(const struct chancache *c, const uint8_t hash[STORE_HASH_LEN])
{
    uint64_t h;

    memcpy(&h, hash, sizeof h); /* a SHA-256: any 8 bytes are uniform */
    return (size_t)h & (c->cap - 1);
}

static struct chan_entry **find(struct chancache *c, const uint8_t hash[STORE_HASH_LEN])
{
    size_t i = slot_of(c, hash);

    while (c->slots[i] && memcmp(c->slots[i]->hash, hash, STORE_HASH_LEN) != 0)
        i = (i + 1) & (c->cap - 1);
    return &c->slots[i];
}

static void insert(struct chancache *c, struct chan_entry *e)
{
    if (c->used >= CACHE_MAX)
        empty(c);
    if ((c->used + 1) * 2 > c->cap) {
        struct chan_entry **old = c->slots;
        size_t old_cap = c->cap;

        c->cap *= 2;
        c->slots = xcalloc(c->cap, sizeof *c->slots);
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                *find(c, old[i]->hash) = old[i];
        free(old);
    }
    e->refs++;
    *find(c, e->hash) = e;
    c->used++;
}

int chancache_get(struct chancache *c, struct store *s, const uint8_t hash[STORE_HASH_LEN],
                  struct chan_entry **out)
{
    /* Read the version before the data: a change committed in between then
     * shows as a newer version at the next lookup, never as a stale entry. */
    uint64_t v = store_config_version(s);
    struct chan_entry *e, **slot;
    int rc;

    *out = NULL;
    if (v != c->version) {
        empty(c);
        c->version = v;
    }
    slot = find(c, hash);
    if (*slot) {
        (*slot)->refs++;
        *out = *slot;
        return STORE_OK;
    }
    e = xcalloc(1, sizeof *e);
    memcpy(e->hash, hash, STORE_HASH_LEN);
    rc = store_channel_by_token(s, hash, &e->ch);
    if (rc == STORE_OK)
        rc = store_member_list(s, e->ch.id, &e->members, &e->n_members);
    if (rc != STORE_OK) {
        free(e->members);
        free(e);
        return rc;
    }
    e->refs = 1; /* the caller's */
    if (v != 0)  /* 0: the store cannot tell when to forget, so never keep */
        insert(c, e);
    *out = e;
    return STORE_OK;
}

const struct member *chan_entry_member(const struct chan_entry *e, const char *id)
{
    for (size_t i = 0; i < e->n_members; i++)
        if (strcmp(e->members[i].id, id) == 0)
            return &e->members[i];
    return NULL;
}
