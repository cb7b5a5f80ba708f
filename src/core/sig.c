/* The callback signature (see sig.h). */
#include "core/sig.h"

#include "core/encode.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

int sig_hmac_hex(const char *key, const void *body, size_t len, char hex[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int rc = 0;

    /* HMAC() is one-shot and thread-safe. */
    if (HMAC(EVP_sha256(), key, (int)strlen(key), body ? body : (const void *)"", len, mac,
             &mac_len) == NULL ||
        mac_len != 32) {
        memset(mac, 0, sizeof mac);
        rc = -1;
    }
    encode_hex(mac, 32, hex);
    return rc;
}
