/*
 * HTTP glue between libmicrohttpd and vcpd's handlers.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * with the headers, then with body chunks, then once more with nothing left
 * to read.  This file owns that protocol: it finds the route on the first
 * call (404/405 and a declared body over the hard cap are answered before
 * any body is read), gathers the body up to BODY_HARD_MAX, calls the route's
 * handler once, and -- for handlers that wait for the group commit or a
 * webhook check -- calls the continuation when the connection is resumed.
 * The completion callback writes the access log line and frees the request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/chancache.h"
#include "server/server.h"
#include "server/util.h"

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static enum MHD_Result queue(struct req *r, unsigned status, struct MHD_Response *resp)
{
    enum MHD_Result ret;

    r->http_status = (int)status;
    r->answered = true;
    ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result http_reply_type(struct req *r, unsigned status, const char *type, const char *body,
                                size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return queue(r, status, resp);
}

enum MHD_Result http_reply(struct req *r, unsigned status, const char *body, size_t len)
{
    return http_reply_type(r, status, "application/json", body, len);
}

enum MHD_Result http_reply_json(struct req *r, unsigned status, struct json_object *o)
{
    size_t len;
    /* '/' unescaped: URLs read as written, as Viber writes them (json-c escapes it by default). */
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    enum MHD_Result ret = http_reply(r, status, s, len);

    json_object_put(o);
    return ret;
}

enum MHD_Result http_reply_status(struct req *r, unsigned status)
{
    char body[96];
    const char *what = status == 404   ? "not found"
                       : status == 405 ? "method not allowed"
                       : status == 413 ? "request body larger than 1 MiB"
                       : status == 401 ? "unauthorized"
                                       : "error";
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}", what);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == 413)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    return queue(r, status, resp);
}

void req_suspend(struct req *r, enum req_wait what, route_fn cont)
{
    r->wait = what;
    r->cont = cont;
    MHD_suspend_connection(r->conn);
}

void req_resume(struct req *r)
{
    MHD_resume_connection(r->conn);
}

static struct req *req_new(struct server *srv, struct MHD_Connection *conn, const char *url,
                           const char *method)
{
    struct req *r = xmalloc(sizeof *r);
    size_t n = strcspn(url, "?");

    /* everything but the inline body buffer, which need not be zeroed */
    memset(r, 0, offsetof(struct req, inline_body));
    r->srv = srv;
    r->conn = conn;
    r->start_us = mono_us();
    r->api_status = -1;
    r->body = r->inline_body;
    r->body_cap = sizeof r->inline_body;
    snprintf(r->method, sizeof r->method, "%s", method);
    if (n >= sizeof r->path)
        n = sizeof r->path - 1;
    memcpy(r->path, url, n);
    r->path[n] = '\0';
    return r;
}

static void req_free(struct req *r)
{
    if (r->body != r->inline_body)
        free(r->body);
    if (r->ent)
        chancache_put(r->ent);
    else
        free(r->chan);
    free(r->post_json);
    free(r->webhook_url);
    free(r);
}

/* Appends a body chunk; false once the body passes the hard cap. */
static bool body_append(struct req *r, const char *data, size_t n)
{
    if (r->body_len + n > BODY_HARD_MAX) {
        r->too_big = true;
        return false;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        if (r->body == r->inline_body) {
            r->body = xmalloc(cap);
            memcpy(r->body, r->inline_body, r->body_len);
        } else {
            r->body = xrealloc(r->body, cap);
        }
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return true;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct server *srv = cls;
    struct req *r = *con_cls;
    const char *cl;
    bool path_known;

    if (r == NULL) {
        r = req_new(srv, conn, url, method);
        *con_cls = r;
        r->route = route_find(method, r->path, &path_known);
        if (r->route == NULL)
            return http_reply_status(r, path_known ? 405 : 404);
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long len = strtoull(cl, &end, 10);
            if (errno == 0 && *end == '\0' && len > BODY_HARD_MAX)
                return http_reply_status(r, 413);
        }
        return MHD_YES;
    }
    if (r->answered) {
        /* answered before the body was read (404/405/413): drop what comes */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        /* A chunked body past the cap: libmicrohttpd cannot answer in the
         * middle of a body, so the rest is read and dropped, and the 413 goes
         * out at its end -- up to BODY_DISCARD_MAX more bytes; beyond that
         * the connection is closed without an answer. */
        if (r->too_big || !body_append(r, upload_data, *upload_data_size)) {
            r->discarded += *upload_data_size;
            if (r->discarded > BODY_DISCARD_MAX)
                return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_big)
        return http_reply_status(r, 413);
    if (r->wait != WAIT_NONE) {
        /* resumed after the group commit or the webhook check */
        r->wait = WAIT_NONE;
        return r->cont(r);
    }
    return r->route->fn(r);
}

static void access_log(struct server *srv, struct req *r, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci;
    char addr[INET6_ADDRSTRLEN] = "-";
    char when[32];
    struct timespec ts;
    struct tm tm;
    uint64_t now;

    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr,
                      sizeof addr);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, addr,
                      sizeof addr);
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    /* The token never appears: only method, path (no query), statuses, channel id. */
    fprintf(srv->log, "%s.%03ldZ %s %s %s %d %d %s %" PRIu64 "us\n", when, ts.tv_nsec / 1000000,
            addr, r->method, r->path, r->http_status, r->api_status, r->chan ? r->chan->pa_id : "-",
            mono_us() - r->start_us);
    now = now_ms();
    if (now - srv->log_flushed_ms >= 200) {
        fflush(srv->log);
        srv->log_flushed_ms = now;
    }
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct server *srv = cls;
    struct req *r = *con_cls;

    if (!r)
        return;
    srv->metrics.requests++;
    if (r->http_status >= 400 && r->http_status < 500)
        srv->metrics.http_4xx++;
    else if (r->http_status >= 500 || r->http_status == 0)
        srv->metrics.http_5xx++;
    if (r->api_status >= 0 && r->api_status < 100)
        srv->metrics.api_status[r->api_status]++;
    if (srv->log)
        access_log(srv, r, conn);
    req_free(r);
    *con_cls = NULL;
}

/*
 * libmicrohttpd's per-connection memory: it holds the request line, the
 * headers and the read buffer (bodies are copied out into struct req as they
 * arrive), and libmicrohttpd zeroes it for every request -- at 32 KiB that
 * memset was 40% of a post's instructions.  8 KiB still takes headers of
 * several KiB; larger ones get 431.
 */
#define CONN_MEMORY (8 * 1024)

int http_start(struct server *srv)
{
    const struct config *cfg = &srv->cfg;
    struct sockaddr_storage ss;
    /*
     * poll(), not epoll: libmicrohttpd 0.9.75's epoll loop, when one
     * epoll_wait returns its full batch of 128 events, waits again with the
     * full timeout before handling them, so with more than ~128 busy
     * connections it stalls for seconds (measured: 80k requests/s at 127
     * connections, a few hundred at 129-256).  Streams leave the daemon
     * (sse.c) and idle connections are bounded by the per-IP and total
     * limits, so poll's cost per turn stays small.
     */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

    memset(&ss, 0, sizeof ss);
    if (strchr(cfg->listen_host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)cfg->listen_port);
        if (inet_pton(AF_INET6, cfg->listen_host, &a->sin6_addr) != 1)
            goto bad_addr;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)cfg->listen_port);
        if (inet_pton(AF_INET, cfg->listen_host, &a->sin_addr) != 1)
            goto bad_addr;
    }
    srv->mhd = MHD_start_daemon(
        flags, (uint16_t)cfg->listen_port, NULL, NULL, access_handler, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
        MHD_OPTION_CONNECTION_LIMIT, cfg->conn_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->per_ip_limit, MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        1024u, MHD_OPTION_END);
    if (!srv->mhd) {
        log_msg("error", "cannot listen on %s:%d", cfg->listen_host, cfg->listen_port);
        return -1;
    }
    return 0;
bad_addr:
    log_msg("error", "--listen: %s is not a numeric IPv4 or IPv6 address", cfg->listen_host);
    return -1;
}

int http_port(struct server *srv)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : -1;
}
