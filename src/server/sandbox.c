/*
 * Sandbox mode's built-in webhook receiver, POST /sandbox/webhook.
 *
 * The seed demands a webhook before anyone may post, so a sandbox user
 * would otherwise need a server of their own just to answer one callback.
 * vcpd answers it itself -- but checks the signature like a real receiver,
 * so the self-check exercises the same signing code.  The receiver needs the
 * channel's token as the HMAC key, and vcpd keeps only token hashes; so
 * set_webhook remembers the token of each check in flight (keyed by the
 * callback's message_token) until the check ends.  Only the HTTP thread
 * touches the table.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "server/auth.h"
#include "server/server.h"
#include "server/http.h"
#include "server/sandbox.h"
#include "server/util.h"

struct pending {
    uint64_t message_token;
    char *token;
    struct pending *next;
};

struct sandbox {
    struct pending *head;
};

int sandbox_new(struct sandbox **out)
{
    *out = xcalloc(1, sizeof **out);
    return 0;
}

static void pending_free(struct pending *p)
{
    OPENSSL_cleanse(p->token, strlen(p->token));
    free(p->token);
    free(p);
}

void sandbox_free(struct sandbox *sb)
{
    if (!sb)
        return;
    while (sb->head) {
        struct pending *p = sb->head;
        sb->head = p->next;
        pending_free(p);
    }
    free(sb);
}

int sandbox_expect(struct sandbox *sb, uint64_t message_token, const char *token)
{
    struct pending *p = xcalloc(1, sizeof *p);

    p->message_token = message_token;
    p->token = xstrdup(token);
    p->next = sb->head;
    sb->head = p;
    return 0;
}

void sandbox_forget(struct sandbox *sb, uint64_t message_token)
{
    for (struct pending **pp = &sb->head; *pp; pp = &(*pp)->next) {
        if ((*pp)->message_token == message_token) {
            struct pending *p = *pp;
            *pp = p->next;
            pending_free(p);
            return;
        }
    }
}

static enum MHD_Result refuse(struct req *r, const char *why)
{
    char body[160];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}", why);
    return http_reply(r, 403, body, (size_t)n);
}

enum MHD_Result sandbox_webhook(struct req *r)
{
    struct sandbox *sb = r->srv->sandbox;
    struct json_object *body, *v;
    const char *hdr, *sig;
    char want[65];
    int64_t mt;

    if (!sb)
        return http_reply_status(r, 404);
    body = json_tokener_parse(r->body_len ? r->body : "");
    if (!body || !json_object_object_get_ex(body, "message_token", &v) ||
        !json_object_is_type(v, json_type_int)) {
        json_object_put(body);
        return refuse(r, "not a webhook callback");
    }
    mt = json_object_get_int64(v);
    json_object_put(body);
    for (struct pending *p = sb->head; p; p = p->next) {
        if (p->message_token != (uint64_t)mt)
            continue;
        webhook_sign(p->token, r->body, r->body_len, want);
        hdr = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Viber-Content-Signature");
        sig = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "sig");
        if (!hdr || !sig || strlen(hdr) != 64 || strlen(sig) != 64 || !auth_equal(hdr, want, 64) ||
            !auth_equal(sig, want, 64))
            return refuse(r, "bad signature");
        return http_reply(r, 200, "{\"status\":\"ok\"}", 15);
    }
    return refuse(r, "no webhook check in progress with this message_token");
}
