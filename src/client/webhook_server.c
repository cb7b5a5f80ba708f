/*
 * The webhook side of the API, for users who need a webhook before they may
 * post (the seed demands one): Viber-style signature checks (lowercase hex
 * HMAC-SHA256 of the exact body, keyed by the token) and a small responder
 * on libmicrohttpd -- HTTPS from a PEM certificate and key, or plain HTTP
 * behind a TLS proxy -- that answers 200 to correctly signed callbacks.
 * It lives in the library, not the CLI, so C programs get the same responder
 * `vcp webhook serve` uses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "client/internal.h"
#include "common/hostport.h"
#include "common/readall.h"
#include "core/sig.h"

#define HOOK_BODY_MAX (64 * 1024)

enum vcp_error vcp_signature(const char *token, const void *body, size_t len, char out[65])
{
    if (token == NULL || out == NULL || (body == NULL && len > 0))
        return VCP_E_ARG;
    return sig_hmac_hex(token, body, len, out) == 0 ? VCP_E_OK : VCP_E_NOMEM;
}

bool vcp_signature_verify(const char *token, const void *body, size_t len, const char *sig)
{
    char want[65], got[65];
    size_t i;

    if (sig == NULL || strlen(sig) != 64 || vcp_signature(token, body, len, want) != VCP_E_OK)
        return false;
    for (i = 0; i < 64; i++) {
        char ch = sig[i];
        got[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
    }
    got[64] = '\0';
    return CRYPTO_memcmp(want, got, 64) == 0;
}

/* ---------------------------------------------------------------- server */

struct vcp_webhook_server {
    struct MHD_Daemon *d;
    char *token;
    char *cert, *key; /* PEM contents (MHD wants them in memory) */
    bool accept_unsigned;
    vcp_webhook_fn on_event;
    void *arg;
    int port;
};

/* Per-request state: the body so far. */
struct req {
    char *body;
    size_t len;
    bool too_big;
};

/* A certificate or key file (at most 1 MiB); NULL with the reason in err. */
static char *read_file(const char *path, char *err, size_t err_len)
{
    size_t len;
    char *buf = readall_path(path, 1u << 20, &len);

    if (buf == NULL)
        snprintf(err, err_len, "%s: %s", path,
                 errno == EFBIG || errno == ENOMEM ? "too large or out of memory"
                 : errno == EIO                    ? "read error"
                                                   : strerror(errno));
    return buf;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned code, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static void peer_text(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    snprintf(buf, len, "?");
    if (ci == NULL || ci->client_addr == NULL)
        return;
    if (ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ci->client_addr;
        char a[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a)))
            snprintf(buf, len, "%s:%u", a, ntohs(in->sin_port));
    } else if (ci->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ci->client_addr;
        char a[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a)))
            snprintf(buf, len, "[%s]:%u", a, ntohs(in6->sin6_port));
    }
}

static uint64_t body_u64(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) &&
        json_object_get_int64(v) > 0)
        return json_object_get_uint64(v);
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct vcp_webhook_server *s = cls;
    struct req *rq = *con_cls;

    if (rq == NULL) {
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (rq->len + *upload_size > HOOK_BODY_MAX) {
            rq->too_big = true;
        } else {
            char *b = realloc(rq->body, rq->len + *upload_size + 1);
            if (b == NULL)
                return MHD_NO;
            memcpy(b + rq->len, upload, *upload_size);
            rq->body = b;
            rq->len += *upload_size;
            rq->body[rq->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_big)
        return answer(conn, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body too large\"}");

    struct vcp_webhook_event ev;
    struct json_object *obj = NULL, *v;
    char peer[80];
    const char *body = rq->body ? rq->body : "";

    memset(&ev, 0, sizeof(ev));
    ev.method = method;
    ev.path = url;
    ev.body = body;
    ev.body_len = rq->len;
    ev.signature = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Viber-Content-Signature");
    if (ev.signature == NULL)
        ev.signature = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sig");
    ev.signature_ok = vcp_signature_verify(s->token, body, rq->len, ev.signature);
    if (rq->len > 0) {
        obj = json_tokener_parse(body);
        if (obj && json_object_object_get_ex(obj, "event", &v) &&
            json_object_is_type(v, json_type_string))
            ev.event = json_object_get_string(v);
        ev.message_token = body_u64(obj, "message_token");
        ev.timestamp = body_u64(obj, "timestamp");
    }
    peer_text(conn, peer, sizeof(peer));
    ev.peer = peer;
    if (strcmp(method, "POST") != 0)
        ev.http_status = MHD_HTTP_METHOD_NOT_ALLOWED;
    else
        ev.http_status = ev.signature_ok || s->accept_unsigned ? MHD_HTTP_OK : MHD_HTTP_FORBIDDEN;
    if (s->on_event)
        s->on_event(s->arg, &ev);
    json_object_put(obj);
    if (ev.http_status == MHD_HTTP_OK)
        return answer(conn, MHD_HTTP_OK, "{\"status\":0}");
    if (ev.http_status == MHD_HTTP_FORBIDDEN)
        return answer(conn, MHD_HTTP_FORBIDDEN, "{\"error\":\"bad signature\"}");
    return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"POST only\"}");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req *rq = *con_cls;

    if (rq) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

enum vcp_error vcp_webhook_server_new(vcp_webhook_server **out,
                                      const struct vcp_webhook_server_options *o, char *err,
                                      size_t err_len)
{
    struct vcp_webhook_server *s;
    struct sockaddr_storage ss;
    socklen_t ss_len;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    const char *host;
    int rc = VCP_E_ARG;
    char dummy[8];

    if (err == NULL) {
        err = dummy;
        err_len = sizeof(dummy);
    }
    err[0] = '\0';
    if (out == NULL || o == NULL || o->token == NULL || o->port < 0 || o->port > 65535 ||
        (o->cert_file == NULL) != (o->key_file == NULL)) {
        snprintf(err, err_len, "need a token, and a certificate with its key (or neither)");
        return VCP_E_ARG;
    }
    *out = NULL;
    host = o->host ? o->host : "127.0.0.1";
    if (hostport_sockaddr(host, o->port, &ss, &ss_len) != 0) {
        snprintf(err, err_len, "%s: not an IP address", host);
        return VCP_E_ARG;
    }
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->token = strdup(o->token)) == NULL) {
        rc = VCP_E_NOMEM;
        goto fail;
    }
    s->accept_unsigned = o->accept_unsigned;
    s->on_event = o->on_event;
    s->arg = o->arg;
    if (o->cert_file) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, err_len,
                     "this libmicrohttpd has no TLS; serve plain HTTP behind a proxy");
            rc = VCP_E_ARG;
            goto fail;
        }
        if ((s->cert = read_file(o->cert_file, err, err_len)) == NULL ||
            (s->key = read_file(o->key_file, err, err_len)) == NULL) {
            rc = VCP_E_IO;
            goto fail;
        }
        flags |= MHD_USE_TLS;
    }
    if (s->cert)
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_HTTPS_MEM_CERT,
                                s->cert, MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_END);
    else
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (s->d == NULL) {
        snprintf(err, err_len, "cannot listen on %s:%d%s", host, o->port,
                 s->cert ? " (or the certificate/key is not valid PEM)" : "");
        rc = VCP_E_TRANSPORT;
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    *out = s;
    return VCP_E_OK;
fail:
    vcp_webhook_server_free(s);
    return rc;
}

int vcp_webhook_server_port(const vcp_webhook_server *s)
{
    return s ? s->port : -1;
}

void vcp_webhook_server_free(vcp_webhook_server *s)
{
    if (s == NULL)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);
    free(s->token);
    free(s->cert);
    free(s->key);
    free(s);
}
