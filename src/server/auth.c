/*
 * Secrets and identifiers (see auth.h).  Tokens never leave this file in any
 * form but the one handed back to the admin who created them and their hash.
 */
#include "server/auth.h"

#include "core/encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

int auth_token_new(char buf[AUTH_TOKEN_LEN + 1])
{
    uint8_t raw[24];
    char hex[49];

    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    encode_hex(raw, sizeof raw, hex);
    memcpy(buf, hex, 16);
    buf[16] = '-';
    memcpy(buf + 17, hex + 16, 16);
    buf[33] = '-';
    memcpy(buf + 34, hex + 32, 16);
    buf[50] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(hex, sizeof hex);
    return 0;
}

void auth_token_hash(const char *token, size_t len, uint8_t out[STORE_HASH_LEN])
{
    SHA256((const unsigned char *)token, len, out);
}

struct auth_hasher {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

struct auth_hasher *auth_hasher_new(void)
{
    struct auth_hasher *h = calloc(1, sizeof *h);

    if (!h)
        return NULL;
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (!h->md || !h->ctx) {
        auth_hasher_free(h);
        return NULL;
    }
    return h;
}

void auth_hasher_free(struct auth_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

void auth_hasher_token(struct auth_hasher *h, const char *token, size_t len,
                       uint8_t out[STORE_HASH_LEN])
{
    unsigned n = 0;

    /* With a fetched digest and a known-good context these cannot fail short
     * of memory corruption; fall back to the one-shot call if they do. */
    if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 || EVP_DigestUpdate(h->ctx, token, len) != 1 ||
        EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != STORE_HASH_LEN)
        auth_token_hash(token, len, out);
}

bool auth_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

bool auth_str_equal(const char *a, const char *b)
{
    uint8_t ha[STORE_HASH_LEN], hb[STORE_HASH_LEN];

    auth_token_hash(a, strlen(a), ha);
    auth_token_hash(b, strlen(b), hb);
    return auth_equal(ha, hb, sizeof ha);
}

int auth_pa_id_new(char buf[32])
{
    uint8_t raw[20];

    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    memcpy(buf, "pa:", 3);
    for (size_t i = 0; i < sizeof raw; i++)
        buf[3 + i] = (char)('0' + raw[i] % 10); /* bias is harmless: ids are not secrets */
    buf[3 + sizeof raw] = '\0';
    if (buf[3] == '0') /* keep 20 significant digits */
        buf[3] = '1';
    return 0;
}

int auth_member_id_new(char buf[65])
{
    uint8_t raw[16];

    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)buf, raw, sizeof raw); /* 24 chars + NUL */
    for (char *p = buf; *p; p++) /* the URL-safe alphabet: ids appear in admin paths */
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    return 0;
}

int auth_token_check(const char *token, size_t len, char *detail, size_t detail_len)
{
    bool seen[256] = {false};
    size_t distinct = 0;

    if (len < AUTH_TOKEN_CHOSEN_MIN || len > AUTH_TOKEN_MAX) {
        snprintf(detail, detail_len, "token: %zu characters; a chosen token needs %d to %d", len,
                 AUTH_TOKEN_CHOSEN_MIN, AUTH_TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char k = (unsigned char)token[i];
        if (k == '\0' || !strchr(AUTH_TOKEN_CHARS, k)) {
            snprintf(detail, detail_len,
                     "token: character %zu is not one of A-Z a-z 0-9 - _ . ~ + / =", i + 1);
            return -1;
        }
        if (!seen[k]) {
            seen[k] = true;
            distinct++;
        }
    }
    if (distinct < AUTH_TOKEN_DISTINCT_MIN) {
        snprintf(detail, detail_len,
                 "token: too weak, only %zu different characters (at least %d); "
                 "leave it out and vcpd makes a random one",
                 distinct, AUTH_TOKEN_DISTINCT_MIN);
        return -1;
    }
    return 0;
}

int auth_random_u64(uint64_t *out)
{
    return RAND_bytes((unsigned char *)out, sizeof *out) == 1 ? 0 : -1;
}
