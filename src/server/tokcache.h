/*
 * The token cache of the HTTP thread: the token a request carries -> its
 * channel, so that a known token costs no SHA-256 per request (about 3,000
 * instructions, 3-4% of a post; issue 11).  It sits in front of the channel
 * cache (chancache.h), which stays keyed by the token's hash as the store is.
 *
 * What it keeps: a copy of every token that named a channel since the last
 * configuration change, in process memory.  What it never does: outlive that
 * change.  The entries are trusted only while the store's config version
 * stays what it was when they were read, exactly as the channel cache's:
 * rotating a token, deleting, blocking or editing a channel, adding or
 * removing a member, resetting -- by this process or by `vcpd channel ...` on
 * the same database -- empties the table before the next lookup, so an old
 * token fails at once.  Unknown tokens are never kept (a flood of guesses
 * cannot grow it; they still pay the hash and the store lookup).
 *
 * Comparison is constant-time: the slot comes from a hash keyed with a
 * random per-process seed (an attacker learns nothing from which slot a
 * guess lands in), and every probed entry is compared with CRYPTO_memcmp
 * over the whole length, never with a byte loop that stops at the first
 * difference.  HTTP thread only; no locks.
 */
#ifndef VCP_SERVER_TOKCACHE_H
#define VCP_SERVER_TOKCACHE_H

#include <stddef.h>

#include "server/auth.h"
#include "server/chancache.h"
#include "store/store.h"

struct tokcache;

/* A new, empty cache.  Aborts on out-of-memory (server code). */
struct tokcache *tokcache_new(void);
void tokcache_free(struct tokcache *t); /* NULL is a no-op */

/*
 * The channel the token's len bytes name, with one reference for the caller
 * (release with chancache_put), as chancache_get would give it for the
 * token's hash.  On a miss the token is hashed with h and looked up through
 * c; a known token is then remembered.  Returns STORE_OK, STORE_NOTFOUND for
 * an unknown token, or STORE_ERROR (store_errmsg says why).
 */
int tokcache_get(struct tokcache *t, struct chancache *c, struct store *s, struct auth_hasher *h,
                 const char *token, size_t len, struct chan_entry **out);

#endif
