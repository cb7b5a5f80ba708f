/*
 * The token cache (see tokcache.h): an open-addressing table of (token,
 * entry) pairs, emptied whole when the config version moves or when it
 * would pass TOK_MAX entries.  Each pair holds one reference on its
 * chan_entry, so an entry the channel cache dropped (it is bounded too)
 * stays valid for as long as this table points at it -- and this table
 * forgets it at the same config change the channel cache would.
 */
#include "server/tokcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/util.h"

#define TOK_MAX 16384 /* pairs, as many as chancache.c keeps; at least twice as many slots */

struct tok {
    char *token; /* a copy of the token, not NUL-terminated; malloc'd */
    size_t len;
    struct chan_entry *ent; /* one reference */
};

struct tokcache {
    struct tok *slots; /* token == NULL: free */
    size_t cap;        /* power of two */
    size_t used;
    uint64_t version; /* store_config_version() the pairs were read under */
    uint64_t seed;    /* random: keys the slot hash */
};

struct tokcache *tokcache_new(void)
{
    struct tokcache *t = xcalloc(1, sizeof *t);

    t->cap = 64;
    t->slots = xcalloc(t->cap, sizeof *t->slots);
    if (auth_random_u64(&t->seed) != 0)
        t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ULL; /* still spreads; never fatal */
    return t;
}

static void empty(struct tokcache *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].token) {
            /* the copy is a secret: wiped before it is freed */
            memset(t->slots[i].token, 0, t->slots[i].len);
            free(t->slots[i].token);
            chancache_put(t->slots[i].ent);
        }
        memset(&t->slots[i], 0, sizeof t->slots[i]);
    }
    t->used = 0;
}

void tokcache_free(struct tokcache *t)
{
    if (!t)
        return;
    empty(t);
    free(t->slots);
    free(t);
}

/* FNV-1a over the seeded state, then splitmix64's finaliser: the seed makes
 * the slot of a given token unpredictable to anyone outside the process. */
static size_t slot_of(const struct tokcache *t, const char *token, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ t->seed;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)token[i]) * 0x100000001b3ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (size_t)h & (t->cap - 1);
}

/* The slot holding token, or the free slot where it would go. */
static struct tok *find(struct tokcache *t, const char *token, size_t len)
{
    size_t i = slot_of(t, token, len);

    /* Lengths are not secret (every minted token has the same one); the
     * bytes are compared in constant time. */
    while (t->slots[i].token &&
           !(t->slots[i].len == len && auth_equal(t->slots[i].token, token, len)))
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

static void insert(struct tokcache *t, const char *token, size_t len, struct chan_entry *e)
{
    if (t->used >= TOK_MAX)
        empty(t);
    if ((t->used + 1) * 2 > t->cap) {
        struct tok *old = t->slots;
        size_t old_cap = t->cap;

        t->cap *= 2;
        t->slots = xcalloc(t->cap, sizeof *t->slots);
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].token)
                *find(t, old[i].token, old[i].len) = old[i];
        free(old);
    }
    struct tok *slot = find(t, token, len);
    slot->token = xmalloc(len ? len : 1);
    memcpy(slot->token, token, len);
    slot->len = len;
    slot->ent = e;
    e->refs++;
    t->used++;
}

int tokcache_get(struct tokcache *t, struct chancache *c, struct store *s, struct auth_hasher *h,
                 const char *token, size_t len, struct chan_entry **out)
{
    /* Read the version before the data, as chancache_get does: a change
     * committed in between shows as a newer version at the next lookup. */
    uint64_t v = store_config_version(s);
    uint8_t hash[STORE_HASH_LEN];
    struct tok *slot;
    int rc;

    *out = NULL;
    if (v != t->version) {
        empty(t);
        t->version = v;
    }
    slot = find(t, token, len);
    if (slot->token) {
        slot->ent->refs++;
        *out = slot->ent;
        return STORE_OK;
    }
    auth_hasher_token(h, token, len, hash);
    rc = chancache_get(c, s, hash, out);
    if (rc == STORE_OK && v != 0) /* 0: the store cannot tell when to forget */
        insert(t, token, len, *out);
    return rc;
}
