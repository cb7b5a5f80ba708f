/*
 * The channel cache of the HTTP thread: token hash -> channel and members,
 * so a request of a known channel costs no database query.  Entries are
 * trusted only while the store's config version (store.h) stays what it was
 * when they were read: any change to channels or members, made by this
 * process or by `vcpd channel ...` on the same database, empties the cache
 * before the next lookup.  A rotated token therefore fails at once.
 *
 * Entries are reference-counted: a request holds its channel across a
 * suspension (group commit, webhook check) even if the cache is emptied
 * meanwhile.  HTTP thread only; no locks.
 */
#ifndef VCP_SERVER_CHANCACHE_H
#define VCP_SERVER_CHANCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct MHD_Response;

struct chan_entry {
    uint8_t hash[STORE_HASH_LEN]; /* token hash: the key */
    unsigned refs;                /* the table's and the requests' */
    struct channel ch;
    struct member *members; /* in the order added; malloc'd */
    size_t n_members;
    /* get_account_info's answer, built from this entry on first use and
     * reused while it lives (api.c): the entry itself is only trusted under
     * one config version, so any change to the channel or its members builds
     * it anew.  The response itself, queued on every request that gets it
     * (http_queue_shared); the entry's reference, NULL until built. */
    struct MHD_Response *account;
    unsigned account_viewers; /* the subscribers_count it was built with */
};

struct chancache;

struct chancache *chancache_new(void);
void chancache_free(struct chancache *c); /* NULL is a no-op */

/*
 * The channel whose token hashes to hash, with one reference for the
 * caller (release with chancache_put).  Returns STORE_OK, STORE_NOTFOUND for
 * an unknown token, or STORE_ERROR (store_errmsg says why).
 */
int chancache_get(struct chancache *c, struct store *s, const uint8_t hash[STORE_HASH_LEN],
                  struct chan_entry **out);

/* Drops a reference; the entry is freed with the last one. NULL is a no-op. */
void chancache_put(struct chan_entry *e);

/* The member with this id in e, or NULL. */
const struct member *chan_entry_member(const struct chan_entry *e, const char *id);

#endif
