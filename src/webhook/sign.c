/*
 * The callback vcpd sends to a webhook and its signature, byte for byte as
 * Viber does it (docs/API.md §4, set_webhook): the body is a small fixed-shape JSON object,
 * written here by hand so its field order and spelling never depend on a JSON
 * library's choices, and the signature is the lowercase hex HMAC-SHA256 of
 * exactly those bytes, keyed by the channel's auth token.  Receivers verify
 * the signature against the raw body, so the two must come from one place.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "webhook/webhook.h"

#include "core/encode.h"
#include "core/sig.h"

void webhook_sign(const char *key, const void *body, size_t body_len, char hex[65])
{
    /* a failure leaves an all-zero signature, which no receiver accepts */
    (void)sig_hmac_hex(key, body, body_len, hex);
}

/* A growing write into a fixed buffer; ok turns false once it overflows. */
struct out {
    char *buf;
    size_t len, pos;
    bool ok;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (!o->ok || n >= o->len - o->pos) { /* keep room for the NUL */
        o->ok = false;
        return;
    }
    memcpy(o->buf + o->pos, s, n);
    o->pos += n;
    o->buf[o->pos] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* s as the inside of a JSON string (see encode.h), a byte at a time into o. */
static void put_json_chars(struct out *o, const char *s)
{
    char esc[ENCODE_JSON_MAX_PER_BYTE];

    for (; *s != '\0'; s++)
        put(o, esc, encode_json_chars(esc, s, 1));
}

int webhook_body(char *buf, size_t len, uint64_t timestamp_ms, const char *chat_hostname,
                 uint64_t message_token)
{
    struct out o = {buf, len, 0, len > 0};
    char num[32];

    if (len > 0)
        buf[0] = '\0';
    snprintf(num, sizeof num, "%" PRIu64, timestamp_ms);
    puts_(&o, "{\"event\":\"webhook\",\"timestamp\":");
    puts_(&o, num);
    puts_(&o, ",\"chat_hostname\":\"");
    put_json_chars(&o, chat_hostname != NULL ? chat_hostname : "");
    snprintf(num, sizeof num, "%" PRIu64, message_token);
    puts_(&o, "\",\"message_token\":");
    puts_(&o, num);
    puts_(&o, "}");
    return o.ok ? (int)o.pos : -1;
}
