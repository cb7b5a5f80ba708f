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
 *
 * Connections reach the daemon from the acceptor (accept.h), which also
 * keeps the connection limits; the acceptor gives connections that start
 * with an event stream to stream.c instead, which serves them itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "server/accept.h"
#include "server/chancache.h"
#include "server/cluster.h"
#include "server/journal.h"
#include "server/media.h"
#include "server/strbuf.h"
#include "server/server.h"
#include "server/http.h"
#include "server/routes.h"
#include "server/admin_http.h"
#include "server/api.h"
#include "server/stream.h"
#include "server/util.h"

int64_t now_offset_ms;

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + (uint64_t)now_offset_ms;
}

uint64_t mono_ms(void)
{
    return mono_us() / 1000u;
}

uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* http_queue and http_queue_shared: release says whether the caller's
 * reference to resp goes with it. */
static enum MHD_Result queue(struct req *r, unsigned status, struct MHD_Response *resp,
                             bool release)
{
    enum MHD_Result ret;

    r->http_status = (int)status;
    r->answered = true;
    if (r->fault_drop) { /* an injected fault (fault.h): the answer is lost on the way */
        if (release)
            MHD_destroy_response(resp);
        r->http_status = 0;
        journal_note(r);
        return MHD_NO;
    }
    journal_note(r);
    ret = MHD_queue_response(r->conn, status, resp);
    if (release)
        MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result http_queue(struct req *r, unsigned status, struct MHD_Response *resp)
{
    return queue(r, status, resp, true);
}

enum MHD_Result http_queue_shared(struct req *r, unsigned status, struct MHD_Response *resp)
{
    return queue(r, status, resp, false);
}

struct MHD_Response *http_response(const char *type, const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);

    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return resp;
}

enum MHD_Result http_reply_type(struct req *r, unsigned status, const char *type, const char *body,
                                size_t len)
{
    struct MHD_Response *resp = http_response(type, body, len);

    if (!resp)
        return MHD_NO;
    return http_queue(r, status, resp);
}

enum MHD_Result http_reply(struct req *r, unsigned status, const char *body, size_t len)
{
    return http_reply_type(r, status, HTTP_TYPE_JSON, body, len);
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

enum MHD_Result http_reply_error(struct req *r, unsigned status, const char *detail)
{
    static const struct {
        unsigned status;
        const char *what;
    } errors[] = {
        {400, "bad request"},
        {401, "unauthorized"},
        {404, "not found"},
        {405, "method not allowed"},
        {413, "request body larger than 1 MiB"},
        {501, "not implemented"},
    };
    const char *what = "error";
    struct MHD_Response *resp;
    struct strbuf w;
    char allow[64];

    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].status == status)
            what = errors[i].what;
    snprintf(r->answer_detail, sizeof r->answer_detail, "%s", detail ? detail : "");
    strbuf_init(&w);
    strbuf_open(&w);
    strbuf_kv_str(&w, "error", what);
    if (detail && detail[0])
        strbuf_kv_str(&w, "detail", detail);
    strbuf_lit(&w, "}");
    resp = MHD_create_response_from_buffer(w.len, w.buf, MHD_RESPMEM_MUST_COPY);
    strbuf_free(&w);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    /* 400 and 501 refuse the request's framing, so what follows on the
     * connection cannot be trusted to start a request; after a 413 the rest
     * of the body is not read */
    if (status == 400 || status == 413 || status == 501)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405 && route_allow(r->path, allow, sizeof allow))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return http_queue(r, status, resp);
}

enum MHD_Result http_reply_status(struct req *r, unsigned status)
{
    return http_reply_error(r, status, NULL);
}

void req_suspend(struct req *r, enum req_wait what, route_fn cont)
{
    r->wait = what;
    r->cont = cont;
    if (what != WAIT_NONE && !r->in_flight) {
        r->in_flight = true;
        __atomic_add_fetch(&r->srv->in_flight, 1, __ATOMIC_SEQ_CST);
    }
    MHD_suspend_connection(r->conn);
}

void req_resume(struct req *r)
{
    MHD_resume_connection(r->conn);
}

/*
 * Runs on the writer thread once r's commit is done.  A post is published
 * to the live streams here, for each post of a batch in commit order --
 * not when its request resumes, in whatever order libmicrohttpd resumes
 * them -- so streams see tokens in order.
 */
static void commit_done(struct commit_req *cr)
{
    struct req *r = cr->arg;

    if (!cr->job && cr->rc == STORE_OK && !r->srv->cluster) /* else cluster.c publishes */
        streams_publish(r->srv->streams, &cr->post);
    if (cr->job) /* a change of ours: in force here before its notification comes back */
        cluster_changed(r->srv->cluster);
    req_resume(r);
}

bool req_commit(struct req *r, route_fn cont, bool new_work)
{
    struct server *srv = r->srv;
    bool ok;

    r->commit.done = commit_done;
    r->commit.arg = r;
    pthread_mutex_lock(&srv->intake_lock);
    ok = !srv->writer_closed && !(new_work && srv->stopping);
    if (ok) {
        req_suspend(r, WAIT_COMMIT, cont);
        committer_submit(srv->committer, &r->commit);
    }
    pthread_mutex_unlock(&srv->intake_lock);
    return ok;
}

static struct req *req_new(struct server *srv, struct MHD_Connection *conn, const char *url,
                           const char *method)
{
    struct req *r = xmalloc(sizeof *r);
    size_t n = strcspn(url, "?"), m;

    /* everything but the inline body buffer, which need not be zeroed */
    memset(r, 0, offsetof(struct req, inline_body));
    r->srv = srv;
    r->conn = conn;
    r->start_us = mono_us();
    r->api_status = -1;
    r->body = r->inline_body;
    r->body_cap = sizeof r->inline_body;
    m = strnlen(method, sizeof r->method - 1); /* cut as snprintf would, without its cost */
    memcpy(r->method, method, m);
    r->method[m] = '\0';
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
    json_object_put(r->admin_args);
    json_object_put(r->admin_out);
    free(r->journal_body);
    media_job_free(r->media);
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

/* The headers that decide where a request ends (RFC 9112 §6), all of them:
 * MHD_lookup_connection_value sees only the first of each name. */
struct framing {
    unsigned n_cl, n_te, n_host;
    bool bad_name;  /* a name with white space ("Content-Length : 5") */
    const char *cl; /* the first Content-Length */
    bool cl_differ; /* a later Content-Length says something else */
    const char *te; /* the first Transfer-Encoding */
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct framing *f = cls;
    size_t n = strcspn(key, " \t");

    (void)kind;
    if (key[n] != '\0')
        f->bad_name = true; /* libmicrohttpd keeps it; a proxy may trim it (RFC 9112 §5.1) */
    /* On every request, for every header: the length picks the one name
     * worth comparing (bench/cost, post badData: 55.5k instructions a
     * request with three strcasecmp calls a header, 55.0k with this). */
    if (n == sizeof MHD_HTTP_HEADER_CONTENT_LENGTH - 1 &&
        strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->n_cl++ == 0)
            f->cl = value;
        else if (strcmp(value, f->cl) != 0)
            f->cl_differ = true;
    } else if (n == sizeof MHD_HTTP_HEADER_TRANSFER_ENCODING - 1 &&
               strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        if (f->n_te++ == 0)
            f->te = value;
    } else if (n == sizeof MHD_HTTP_HEADER_HOST - 1 && strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
        f->n_host++;
    }
    return MHD_YES;
}

/*
 * Refuses framing that a proxy in front of vcpd could read otherwise than
 * libmicrohttpd does (request smuggling: it would take the first of two
 * Content-Lengths, and a Transfer-Encoding over a Content-Length) with 400,
 * and transfer codings it cannot decode with 501 -- libmicrohttpd would
 * wait for the connection to close to find the body's end.  Both close the
 * connection.  Returns 0 when the request may go on, else the HTTP status
 * with the reason in *why.
 */
static unsigned framing_check(struct MHD_Connection *conn, const char *version, const char **why)
{
    struct framing f = {0};

    MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_header, &f);
    if (f.bad_name) {
        *why = "header name with white space";
        return 400;
    }
    if (f.n_host == 0 && strcmp(version, MHD_HTTP_VERSION_1_0) != 0) {
        *why = "Host: required in HTTP/1.1";
        return 400;
    }
    if (f.n_host > 1) {
        *why = "Host: more than one";
        return 400;
    }
    if (f.cl_differ) {
        *why = "Content-Length: several, with different values";
        return 400;
    }
    if (f.n_cl > 0 && f.n_te > 0) {
        *why = "Content-Length and Transfer-Encoding: only one may frame a body";
        return 400;
    }
    if (f.n_te > 1 || (f.te && strcasecmp(f.te, "chunked") != 0)) {
        *why = "Transfer-Encoding: only chunked is supported";
        return 501;
    }
    return 0;
}

/*
 * Handlers that may hand the request to another thread and suspend it in
 * their final call: the post (writer), set_webhook (checker, then writer),
 * the admin API (writer).
 */
static bool may_suspend(const struct route *rt)
{
    return rt->fn == api_post || rt->fn == api_set_webhook || rt->fn == admin_http;
}

static enum MHD_Result handle(struct server *srv, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct req *r = *con_cls;
    const char *cl;
    bool path_known;

    if (r == NULL) {
        const char *why;
        unsigned bad;
        r = req_new(srv, conn, url, method);
        *con_cls = r;
        if ((bad = framing_check(conn, version, &why)) != 0)
            return http_reply_error(r, bad, why);
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
        /* answered before the body was read (400/404/405/413/501): drop what comes */
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
    if (!r->deferred && may_suspend(r->route)) {
        /*
         * A client that half-closes after its request (POST, then
         * shutdown(SHUT_WR)) must still get the answer.  libmicrohttpd
         * 0.9.75 reads from a connection it resumes before calling us again
         * when the connection was waiting to read at the moment it was
         * suspended; it then reads the end of stream and closes the
         * connection without the answer -- after the post was stored.  Once
         * the whole request has been read and no answer is queued it stops
         * reading ("blocked").  So the first final call only returns: as
         * documented, "if the request is fully received, but response hasn't
         * been provided and connection is not suspended, the callback can be
         * called again immediately" (one more turn of the event loop), and
         * the handler suspends in that call, from the state that does not
         * read.
         */
        r->deferred = true;
        return MHD_YES;
    }
    return r->route->fn(r);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    return handle(cls, conn, url, method, version, upload_data, upload_data_size, con_cls);
}

void http_record(struct server *srv, const struct sockaddr *sa, const char *method,
                 const char *path, int http_status, int api_status, const char *channel,
                 const char *fault, uint64_t start_us)
{
    char addr[INET6_ADDRSTRLEN] = "-";
    char when[32];
    struct timespec ts;
    struct tm tm;
    uint64_t now;

    pthread_mutex_lock(&srv->stats_lock);
    srv->metrics.requests++;
    if (http_status >= 400 && http_status < 500)
        srv->metrics.http_4xx++;
    else if (http_status >= 500 || http_status == 0)
        srv->metrics.http_5xx++;
    if (api_status >= 0 && api_status < 100)
        srv->metrics.api_status[api_status]++;
    if (!srv->log)
        goto out;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr,
                  sizeof addr);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, addr,
                  sizeof addr);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    /* The token never appears: only method, path (no query), statuses, channel id. */
    fprintf(srv->log, "%s.%03ldZ %s %s %s %d %d %s %" PRIu64 "us%s%s\n", when, ts.tv_nsec / 1000000,
            addr, method, path, http_status, api_status, channel ? channel : "-",
            mono_us() - start_us, fault && fault[0] ? " fault=" : "", fault ? fault : "");
    now = now_ms();
    if (now - srv->log_flushed_ms >= 200) {
        fflush(srv->log);
        srv->log_flushed_ms = now;
    }
out:
    pthread_mutex_unlock(&srv->stats_lock);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct server *srv = cls;
    struct req *r = *con_cls;
    const union MHD_ConnectionInfo *ci;

    if (!r)
        return;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    http_record(srv, ci ? ci->client_addr : NULL, r->method, r->path, r->http_status, r->api_status,
                r->chan ? r->chan->pa_id : NULL, r->fault_mark, r->start_us);
    /* answered (or given up on): the last one lets shutdown go on */
    if (r->in_flight && __atomic_sub_fetch(&srv->in_flight, 1, __ATOMIC_SEQ_CST) == 0) {
        pthread_mutex_lock(&srv->drain_lock);
        pthread_cond_broadcast(&srv->drained);
        pthread_mutex_unlock(&srv->drain_lock);
    }
    req_free(r);
    *con_cls = NULL;
}

/* A connection closed gives its place back to the acceptor. */
static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct server *srv = cls;
    const union MHD_ConnectionInfo *ci;

    if (toe != MHD_CONNECTION_NOTIFY_CLOSED)
        return;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    acceptor_conn_closed(srv->acceptor, ci ? ci->client_addr : NULL);
}

/*
 * libmicrohttpd's per-connection memory: it holds the request line, the
 * headers and the read buffer (bodies are copied out into struct req as they
 * arrive), and libmicrohttpd zeroes it for every request -- at 32 KiB that
 * memset was 40% of a post's instructions.  8 KiB still takes headers of
 * several KiB; larger ones get 431.
 */
#define CONN_MEMORY (8 * 1024)

/* The acceptor's hand-over of an event stream's connection (stream.c). */
static void adopt_stream(void *arg, int fd, const struct sockaddr *sa, socklen_t len)
{
    struct server *srv = arg;

    streams_adopt(srv->streams, fd, sa, len);
}

int http_start(struct server *srv)
{
    const struct config *cfg = &srv->cfg;
    struct acceptor_cfg acfg = {
        .host = cfg->listen_host,
        .port = cfg->listen_port,
        .conn_limit = cfg->conn_limit,
        .per_ip_limit = cfg->per_ip_limit,
        .per_ip_streams = cfg->per_ip_streams,
        .timeout_s = cfg->conn_timeout_s,
        .adopt = adopt_stream,
        .adopt_arg = srv,
    };
    /*
     * poll(), not epoll: libmicrohttpd 0.9.75's epoll loop, when one
     * epoll_wait returns its full batch of 128 events, waits again with the
     * full timeout before handling them, so with more than ~128 busy
     * connections it stalls for seconds (measured: 80k requests/s at 127
     * connections, a few hundred at 129-256).  Event streams are not in this
     * daemon (accept.h), so poll's cost per turn stays small.
     */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG;

    if (acceptor_new(&srv->acceptor, &acfg) != 0)
        return -1;
    srv->mhd =
        MHD_start_daemon(flags, 0, NULL, NULL, access_handler, srv, MHD_OPTION_NOTIFY_COMPLETED,
                         completed, srv, MHD_OPTION_NOTIFY_CONNECTION, notify_connection, srv,
                         MHD_OPTION_CONNECTION_LIMIT, cfg->conn_limit ? cfg->conn_limit : 10000u,
                         MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout_s,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_END);
    if (!srv->mhd) {
        log_msg("error", "cannot start the HTTP daemon");
        return -1;
    }
    return acceptor_start(srv->acceptor, srv->mhd);
}

int http_port(struct server *srv)
{
    return acceptor_port(srv->acceptor);
}

void http_quiesce(struct server *srv)
{
    acceptor_stop(srv->acceptor);
}

void http_stop(struct server *srv)
{
    acceptor_stop(srv->acceptor);
    if (srv->mhd)
        MHD_stop_daemon(srv->mhd);
    srv->mhd = NULL;
    acceptor_free(srv->acceptor);
    srv->acceptor = NULL;
}
