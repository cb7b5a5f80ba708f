/*
 * Fuzz target "webhook_sign": the callback body and its signature
 * (src/webhook/sign.c), which receivers verify byte for byte.
 *
 * Input: 8 bytes timestamp, 8 bytes message_token, 2 bytes buffer size, 1
 * byte key length, the key, then the channel name (C strings: both stop at
 * a NUL, as they do in vcpd).  Properties:
 *   - with room enough, webhook_body writes a JSON object that json-c reads
 *     back with event "webhook" and exactly the timestamp, message_token and
 *     chat_hostname bytes given;
 *   - with a smaller buffer it returns -1 exactly when the body does not fit
 *     (with its NUL), never writes past the buffer, and otherwise writes the
 *     same bytes;
 *   - webhook_sign is the lowercase hex HMAC-SHA256 of the body, checked
 *     against an HMAC built here from SHA-256 alone (RFC 2104).
 */
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "fuzz.h"
#include "webhook/webhook.h"

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    CHECK(c != NULL);
    CHECK(EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1);
    CHECK(EVP_DigestUpdate(c, a, alen) == 1);
    CHECK(EVP_DigestUpdate(c, b, blen) == 1);
    CHECK(EVP_DigestFinal_ex(c, out, NULL) == 1);
    EVP_MD_CTX_free(c);
}

/* RFC 2104 HMAC with SHA-256, from the hash alone. */
static void ref_hmac(const char *key, const void *msg, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t k[64] = {0}, ipad[64], opad[64], inner[32], mac[32];
    size_t klen = strlen(key);

    if (klen > 64)
        sha256(key, klen, "", 0, k);
    else
        memcpy(k, key, klen);
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    sha256(ipad, 64, msg, len, inner);
    sha256(opad, 64, inner, 32, mac);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[64] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t ts, token;
    size_t small_len, klen;
    char *key, *host, *full, *small;
    size_t full_len;
    int n, m;

    if (size < 19)
        return 0;
    ts = le64(data);
    token = le64(data + 8);
    small_len = (size_t)data[16] | (size_t)data[17] << 8;
    klen = data[18];
    data += 19;
    size -= 19;
    if (klen > size)
        klen = size;

    key = malloc(klen + 1);
    host = malloc(size - klen + 1);
    CHECK(key && host);
    memcpy(key, data, klen);
    key[klen] = '\0';
    memcpy(host, data + klen, size - klen);
    host[size - klen] = '\0';

    /* every byte may become \u00XX: 6 per byte, plus the fixed text */
    full_len = strlen(host) * 6 + 128;
    full = malloc(full_len);
    CHECK(full != NULL);
    n = webhook_body(full, full_len, ts, host, token);
    CHECK(n > 0 && (size_t)n < full_len && strlen(full) == (size_t)n);

    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *o = json_tokener_parse_ex(tok, full, n), *v;
    CHECK(json_tokener_get_error(tok) == json_tokener_success);
    CHECK(json_tokener_get_parse_end(tok) == (size_t)n);
    json_tokener_free(tok);
    CHECK(o && json_object_is_type(o, json_type_object));
    CHECK(json_object_object_length(o) == 4);
    CHECK(json_object_object_get_ex(o, "event", &v) &&
          strcmp(json_object_get_string(v), "webhook") == 0);
    CHECK(json_object_object_get_ex(o, "timestamp", &v) && json_object_get_uint64(v) == ts);
    CHECK(json_object_object_get_ex(o, "message_token", &v) && json_object_get_uint64(v) == token);
    CHECK(json_object_object_get_ex(o, "chat_hostname", &v) &&
          json_object_is_type(v, json_type_string));
    CHECK((size_t)json_object_get_string_len(v) == strlen(host) &&
          memcmp(json_object_get_string(v), host, strlen(host)) == 0);
    json_object_put(o);

    /* an exact-size small buffer: ASan sees any write past it */
    small = malloc(small_len ? small_len : 1);
    CHECK(small != NULL);
    m = webhook_body(small, small_len, ts, host, token);
    if ((size_t)n + 1 <= small_len) {
        CHECK(m == n && memcmp(small, full, (size_t)n + 1) == 0);
    } else {
        CHECK(m == -1);
        if (small_len > 0)
            CHECK(memchr(small, '\0', small_len) != NULL);
    }
    free(small);

    char hex[65], want[65];
    memset(hex, 'x', sizeof hex);
    webhook_sign(key, full, (size_t)n, hex);
    ref_hmac(key, full, (size_t)n, want);
    CHECK(hex[64] == '\0' && strcmp(hex, want) == 0);

    free(full);
    free(key);
    free(host);
    return 0;
}
