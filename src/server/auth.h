/*
 * Secrets and identifiers: auth tokens (random, shown once, stored only as
 * SHA-256 hashes), public channel ids and member ids.  Randomness comes
 * from OpenSSL's CSPRNG.
 */
#ifndef VCP_SERVER_AUTH_H
#define VCP_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define AUTH_TOKEN_LEN 50  /* "xxxxxxxxxxxxxxxx-xxxxxxxxxxxxxxxx-xxxxxxxxxxxxxxxx" */
#define AUTH_TOKEN_MAX 256 /* longer tokens are refused before hashing */

/* A new token (192 random bits as three dash-separated groups of 16 hex
 * digits, the shape of Viber's tokens) into buf[AUTH_TOKEN_LEN + 1].
 * Returns 0, or -1 when the random generator fails. */
int auth_token_new(char buf[AUTH_TOKEN_LEN + 1]);

/*
 * A token an administrator chose (fixtures a test suite hard-codes): at least
 * AUTH_TOKEN_CHOSEN_MIN and at most AUTH_TOKEN_MAX characters of
 * AUTH_TOKEN_CHARS, with at least AUTH_TOKEN_DISTINCT_MIN different ones, so
 * "aaaa...", "0000..." and short words are refused.  Returns 0, or -1 with
 * detail ("token: ...") saying which rule failed.
 */
#define AUTH_TOKEN_CHOSEN_MIN   32
#define AUTH_TOKEN_DISTINCT_MIN 10
#define AUTH_TOKEN_CHARS        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/="
int auth_token_check(const char *token, size_t len, char *detail, size_t detail_len);

/* A random 64-bit number (a channel's epoch, store.h). Returns 0 or -1. */
int auth_random_u64(uint64_t *out);

/* SHA-256 of the token's len bytes. */
void auth_token_hash(const char *token, size_t len, uint8_t out[STORE_HASH_LEN]);

/*
 * The same hash for the request path: OpenSSL 3's one-shot SHA256() looks the
 * algorithm up on every call (about 4,000 instructions); a hasher fetches it
 * once and reuses one context.  One per thread.  _new returns NULL only on
 * out-of-memory; _free(NULL) is a no-op.
 */
struct auth_hasher;
struct auth_hasher *auth_hasher_new(void);
void auth_hasher_free(struct auth_hasher *h);
void auth_hasher_token(struct auth_hasher *h, const char *token, size_t len,
                       uint8_t out[STORE_HASH_LEN]);

/* Constant-time comparison of two equally long byte strings. */
bool auth_equal(const void *a, const void *b, size_t len);

/* Constant-time comparison of two strings of any length (by their hashes). */
bool auth_str_equal(const char *a, const char *b);

/* "pa:" + 20 random digits. Returns 0 or -1. */
int auth_pa_id_new(char buf[32]);

/* A member id: URL-safe base64 of 16 random bytes (24 characters). Returns 0 or -1. */
int auth_member_id_new(char buf[65]);

#endif
