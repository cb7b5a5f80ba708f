/*
 * The signature of a webhook callback, as Viber signs them: the lowercase
 * hex HMAC-SHA256 of the exact body bytes, keyed by the channel's token.
 * One definition for vcpd (which signs its set_webhook callbacks and checks
 * them in sandbox mode) and libvcp (whose webhook responder verifies them).
 */
#ifndef VCP_CORE_SIG_H
#define VCP_CORE_SIG_H

#include <stddef.h>

/*
 * Writes the signature of body (len bytes; may be NULL when len is 0) keyed
 * by key into hex (64 digits and a NUL).  Returns 0, or -1 when OpenSSL
 * fails, in which case hex is 64 zeros: a signature no receiver accepts.
 */
int sig_hmac_hex(const char *key, const void *body, size_t len, char hex[65]);

#endif
