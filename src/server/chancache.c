/*
 * The channel cache (see chancache.h): a table (htab.h) of entry pointers
 * keyed by token hash, emptied whole when the config version moves
 * or when it grows past CACHE_MAX entries (a bound on memory under a flood
 * of distinct valid tokens, which only an administrator can mint).
 */
#include "server/chancache.h"

#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "server/htab.h"
#include "server/util.h"

#define CACHE_MAX 16384 /* entries: 10,000 channels in use still fit; twice as many slots */

struct chancache {
    struct htab tab;  /* of struct chan_entry, one reference each */
    uint64_t version; /* store_config_version() the entries were read under */
};

struct chancache *chancache_new(void)
{
    struct chancache *c = xcalloc(1, sizeof *c);

    htab_init(&c->tab);
    return c;
}

void chancache_put(struct chan_entry *e)
{
    if (e && --e->refs == 0) {
        free(e->members);
        if (e->account)
            MHD_destroy_response(e->account);
        free(e);
    }
}

/* htab's drop: the table's reference goes. */
static void drop(void *e)
{
    chancache_put(e);
}

void chancache_free(struct chancache *c)
{
    if (!c)
        return;
    htab_fini(&c->tab, drop);
    free(c);
}

static uint64_t hash_of(const uint8_t hash[STORE_HASH_LEN])
{
    uint64_t h;

    memcpy(&h, hash, sizeof h); /* a SHA-256: any 8 bytes are uniform */
    return h;
}

static struct chan_entry *find(struct chancache *c, const uint8_t hash[STORE_HASH_LEN])
{
    uint64_t h = hash_of(hash);

    for (struct htab_slot *s = htab_first(&c->tab, h); s->item; s = htab_next(&c->tab, s)) {
        struct chan_entry *e = s->item;

        if (s->hash == h && memcmp(e->hash, hash, STORE_HASH_LEN) == 0)
            return e;
    }
    return NULL;
}

static void insert(struct chancache *c, struct chan_entry *e)
{
    if (c->tab.used >= CACHE_MAX)
        htab_clear(&c->tab, drop);
    e->refs++;
    htab_add(&c->tab, hash_of(e->hash), e);
}

int chancache_get(struct chancache *c, struct store *s, const uint8_t hash[STORE_HASH_LEN],
                  struct chan_entry **out)
{
    /* Read the version before the data: a change committed in between then
     * shows as a newer version at the next lookup, never as a stale entry. */
    uint64_t v = store_config_version(s);
    struct chan_entry *e;
    int rc;

    *out = NULL;
    if (v != c->version) {
        htab_clear(&c->tab, drop);
        c->version = v;
    }
    if ((e = find(c, hash))) {
        e->refs++;
        *out = e;
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
