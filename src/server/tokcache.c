/*
 * The token cache (see tokcache.h): a table (htab.h) of (token, entry)
 * pairs, emptied whole when the config version moves or when it
 * would pass TOK_MAX entries.  Each pair holds one reference on its
 * chan_entry, so an entry the channel cache dropped (it is bounded too)
 * stays valid for as long as this table points at it -- and this table
 * forgets it at the same config change the channel cache would.
 */
#include "server/tokcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/htab.h"
#include "server/util.h"

#define TOK_MAX 16384 /* pairs, as many as chancache.c keeps; at least twice as many slots */

/* One pair: the token's copy follows the struct, in the same allocation. */
struct tok {
    struct chan_entry *ent; /* one reference */
    size_t len;
    char token[]; /* not NUL-terminated */
};

struct tokcache {
    struct htab tab;  /* of struct tok */
    uint64_t version; /* store_config_version() the pairs were read under */
    uint64_t seed;    /* random: keys the slot hash */
};

struct tokcache *tokcache_new(void)
{
    struct tokcache *t = xcalloc(1, sizeof *t);

    htab_init(&t->tab);
    if (auth_random_u64(&t->seed) != 0)
        t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ULL; /* still spreads; never fatal */
    return t;
}

/* htab's drop: one pair goes. */
static void drop(void *item)
{
    struct tok *k = item;

    /* the copy is a secret: wiped before it is freed */
    memset(k->token, 0, k->len);
    chancache_put(k->ent);
    free(k);
}

void tokcache_free(struct tokcache *t)
{
    if (!t)
        return;
    htab_fini(&t->tab, drop);
    free(t);
}

/* The seed makes the slot of a given token unpredictable to anyone outside
 * the process (htab_hash). */
static uint64_t hash_of(const struct tokcache *t, const char *token, size_t len)
{
    return htab_hash(t->seed, token, len);
}

/* The pair holding token, or NULL. */
static struct tok *find(struct tokcache *t, uint64_t h, const char *token, size_t len)
{
    /* Lengths are not secret (every minted token has the same one); the
     * bytes are compared in constant time, in every probed pair. */
    for (struct htab_slot *s = htab_first(&t->tab, h); s->item; s = htab_next(&t->tab, s)) {
        struct tok *k = s->item;

        if (k->len == len && auth_equal(k->token, token, len))
            return k;
    }
    return NULL;
}

static void insert(struct tokcache *t, uint64_t h, const char *token, size_t len,
                   struct chan_entry *e)
{
    struct tok *k;

    if (t->tab.used >= TOK_MAX)
        htab_clear(&t->tab, drop);
    k = xmalloc(sizeof *k + len);
    memcpy(k->token, token, len);
    k->len = len;
    k->ent = e;
    e->refs++;
    htab_add(&t->tab, h, k);
}

int tokcache_get(struct tokcache *t, struct chancache *c, struct store *s, struct auth_hasher *h,
                 const char *token, size_t len, struct chan_entry **out)
{
    /* Read the version before the data, as chancache_get does: a change
     * committed in between shows as a newer version at the next lookup. */
    uint64_t v = store_config_version(s);
    uint64_t key = hash_of(t, token, len);
    uint8_t hash[STORE_HASH_LEN];
    struct tok *k;
    int rc;

    *out = NULL;
    if (v != t->version) {
        htab_clear(&t->tab, drop);
        t->version = v;
    }
    if ((k = find(t, key, token, len))) {
        k->ent->refs++;
        *out = k->ent;
        return STORE_OK;
    }
    auth_hasher_token(h, token, len, hash);
    rc = chancache_get(c, s, hash, out);
    if (rc == STORE_OK && v != 0) /* 0: the store cannot tell when to forget */
        insert(t, key, token, len, *out);
    return rc;
}
