/*
 * The request journal (see journal.h): rows queued by the HTTP thread,
 * written in batches by the writer thread, read back with filters.
 *
 * Ordering: every queued row gets the next sequence number; the writer
 * publishes the last number it committed.  A read that arrives while rows
 * are queued is suspended until the writer has committed up to the number
 * current when it arrived (the same pattern as a post waiting for its group
 * commit), so it never misses a request that was answered before it.
 *
 * Live: GET .../journal/events is a Server-Sent Events stream of the
 * channel's new entries (same filters), fed by the writer right after each
 * commit, so an entry is streamed only once it can be read back.  Its
 * machinery follows stream.c's: one lock; a stream with nothing to send
 * suspends its connection under the lock, whoever queues resumes it under
 * the lock; it leaves the list in the response's free callback.
 */
#include "server/journal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/chancache.h"
#include "server/server.h"
#include "server/http.h"
#include "server/util.h"
#include "server/worker.h"
#include "vcp/status.h"

#define JOURNAL_PAGE_DEFAULT 100
#define JOURNAL_PAGE_MAX     1000
#define MASK                 "***"
#define SSE_BLOCK            4096
#define SSE_BACKLOG_MAX      (512 * 1024) /* queued bytes past which a stream is ended */
#define SSE_PING_S           15           /* a comment this often keeps proxies from closing */

/* A live stream of a channel's journal. */
struct jsub {
    struct journal *j;
    struct MHD_Connection *conn;
    int64_t channel;
    int status;           /* filter; -1: any */
    const char *endpoint; /* filter (a static string); NULL: any */
    char *buf;            /* encoded events not yet sent */
    size_t len, off, cap;
    bool suspended; /* its callback parked the connection: a queuer resumes it */
    bool closed;    /* end the stream */
    struct jsub *next;
};

struct waiter {
    struct req *r;
    uint64_t seq; /* answered once committed >= seq */
};

struct journal {
    struct server *srv;
    struct store *store; /* the writer's own connection */
    int64_t keep;
    struct worker worker;  /* the writer thread; worker.lock guards what follows */
    struct journal_row *q; /* queued rows, bodies owned */
    size_t qn, qcap;
    uint64_t queued;    /* sequence number of the last row queued */
    uint64_t committed; /* ... and of the last row written */
    struct waiter *w;
    size_t wn, wcap;
    struct jsub *subs; /* live streams */
};

/* Answers the reads that waited for rows up to the committed one; j->worker.lock held. */
static void wake(struct journal *j, bool all)
{
    size_t k = 0;

    for (size_t i = 0; i < j->wn; i++) {
        if (all || j->w[i].seq <= j->committed)
            req_resume(j->w[i].r);
        else
            j->w[k++] = j->w[i];
    }
    j->wn = k;
}

static struct json_object *entry_json(const struct journal_row *e);

/* Queues text for s and wakes it; a stream too far behind is ended. j->worker.lock held. */
static void sub_queue(struct jsub *s, const char *text, size_t n)
{
    if (s->closed)
        return;
    if (s->len - s->off + n > SSE_BACKLOG_MAX) {
        s->closed = true; /* the client reads the rest with GET .../journal */
    } else {
        if (s->off > 0 && s->len + n > s->cap) {
            memmove(s->buf, s->buf + s->off, s->len - s->off);
            s->len -= s->off;
            s->off = 0;
        }
        if (s->len + n > s->cap) {
            s->cap = s->len + n > 2 * s->cap ? s->len + n : 2 * s->cap;
            s->buf = xrealloc(s->buf, s->cap);
        }
        memcpy(s->buf + s->len, text, n);
        s->len += n;
    }
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

/* Sends the committed rows to the streams that want them. j->worker.lock held. */
static void publish(struct journal *j, const struct journal_row *rows, size_t n)
{
    for (size_t i = 0; i < n && j->subs; i++) {
        char *text = NULL;
        size_t len = 0;

        for (struct jsub *s = j->subs; s; s = s->next) {
            if (rows[i].id == 0 || s->channel != rows[i].channel ||
                (s->status >= 0 && s->status != rows[i].status) ||
                (s->endpoint && strcmp(s->endpoint, rows[i].endpoint) != 0))
                continue;
            if (!text) { /* encoded once, for every stream that wants it */
                struct json_object *o = entry_json(&rows[i]);
                const char *js = json_object_to_json_string_ext(
                    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                size_t cap = strlen(js) + 64;
                text = xmalloc(cap);
                len = (size_t)snprintf(text, cap, "id: %" PRId64 "\nevent: entry\ndata: %s\n\n",
                                       rows[i].id, js);
                json_object_put(o);
            }
            sub_queue(s, text, len);
        }
        free(text);
    }
}

static void *run(void *arg)
{
    struct journal *j = arg;

    pthread_mutex_lock(&j->worker.lock);
    for (;;) {
        struct journal_row *batch;
        size_t n;
        uint64_t upto;

        while (j->qn == 0 && !j->worker.stopping) {
            if (worker_wait(&j->worker, mono_us() + SSE_PING_S * 1000000ULL) == ETIMEDOUT)
                for (struct jsub *s = j->subs; s; s = s->next)
                    sub_queue(s, ":\n\n", 3);
        }
        if (j->qn == 0)
            break; /* stopping, and everything is written */
        batch = j->q;
        n = j->qn;
        upto = j->queued;
        j->q = NULL;
        j->qn = j->qcap = 0;
        pthread_mutex_unlock(&j->worker.lock);
        if (store_journal_append(j->store, batch, n, j->keep) != STORE_OK) {
            log_msg("error", "journal: %zu entries not written: %s", n, store_errmsg(j->store));
            for (size_t i = 0; i < n; i++)
                batch[i].id = 0; /* nothing to stream */
        }
        pthread_mutex_lock(&j->worker.lock);
        j->committed = upto;
        wake(j, false);
        publish(j, batch, n);
        pthread_mutex_unlock(&j->worker.lock);
        for (size_t i = 0; i < n; i++)
            free(batch[i].body);
        free(batch);
        pthread_mutex_lock(&j->worker.lock);
    }
    wake(j, true);
    for (struct jsub *s = j->subs; s; s = s->next) { /* end the live streams */
        s->closed = true;
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
    }
    pthread_mutex_unlock(&j->worker.lock);
    return NULL;
}

int journal_new(struct journal **out, struct server *srv, const char *dsn, int64_t keep, char *err,
                size_t err_len)
{
    struct journal *j = xcalloc(1, sizeof *j);

    *out = NULL;
    j->srv = srv;
    j->keep = keep;
    if (store_open(dsn, &j->store, err, err_len) != STORE_OK) {
        free(j);
        return -1;
    }
    if (worker_start(&j->worker, "vcpd-journal", run, j) != 0) {
        snprintf(err, err_len, "journal: cannot start its thread");
        store_close(j->store);
        free(j);
        return -1;
    }
    *out = j;
    return 0;
}

void journal_stop(struct journal *j)
{
    if (!j)
        return;
    worker_stop(&j->worker); /* it writes what is queued first */
}

void journal_free(struct journal *j)
{
    if (!j)
        return;
    journal_stop(j);
    for (size_t i = 0; i < j->qn; i++)
        free(j->q[i].body);
    free(j->q);
    free(j->w);
    store_close(j->store);
    worker_fini(&j->worker);
    free(j);
}

/* ---- making rows (HTTP thread) --------------------------------------------------------------- */

/* Appends s (n bytes) to buf (*len of cap), cutting at cap - 1. */
static void put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n >= cap)
        n = cap - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
}

/* text (n bytes) with every occurrence of token masked, at most JOURNAL_BODY_MAX bytes. */
static char *masked(const char *text, size_t n, const char *token, size_t token_len)
{
    char *out = xmalloc(JOURNAL_BODY_MAX + 1);
    size_t len = 0, i = 0;

    while (i < n && len < JOURNAL_BODY_MAX) {
        if (token_len > 0 && n - i >= token_len && memcmp(text + i, token, token_len) == 0) {
            put(out, JOURNAL_BODY_MAX + 1, &len, MASK, sizeof MASK - 1);
            i += token_len;
        } else {
            out[len++] = text[i++];
        }
    }
    if (i < n) { /* cut: say how long it was */
        char note[48];
        int k = snprintf(note, sizeof note, "...(%zu bytes)", n);
        len = len > (size_t)k ? len - (size_t)k : 0;
        put(out, JOURNAL_BODY_MAX + 1, &len, note, (size_t)k);
    }
    out[len] = '\0';
    return out;
}

void journal_body(struct req *r, const char *token, size_t token_len, struct json_object *parsed)
{
    struct json_object *v;

    if (!r->srv->journal || r->journal_body)
        return;
    if (parsed && json_object_object_get_ex(parsed, "auth_token", &v)) {
        /* the member may be written with escapes the raw text does not show: write the
         * body out again with it masked (and the header's token too, wherever it is) */
        struct json_object *copy = NULL;
        const char *s;
        size_t n;

        if (json_object_deep_copy(parsed, &copy, NULL) != 0 || !copy) {
            r->journal_body = xstrdup("(not kept: out of memory)");
            return;
        }
        json_object_object_add(copy, "auth_token", json_object_new_string(MASK));
        s = json_object_to_json_string_length(
            copy, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        r->journal_body = masked(s, n, token, token_len);
        json_object_put(copy);
        return;
    }
    r->journal_body = masked(r->body, r->body_len, token, token_len);
}

void journal_note(struct req *r)
{
    struct journal *j = r->srv->journal;
    struct journal_row *row;
    uint64_t took;

    if (!j || !r->journal_ep || !r->chan)
        return;
    took = mono_us() - r->start_us;
    pthread_mutex_lock(&j->worker.lock);
    if (j->worker.stopping) {
        pthread_mutex_unlock(&j->worker.lock);
        return;
    }
    if (j->qn == j->qcap) {
        j->qcap = j->qcap ? j->qcap * 2 : 64;
        j->q = xrealloc(j->q, j->qcap * sizeof *j->q);
    }
    row = &j->q[j->qn++];
    memset(row, 0, sizeof *row);
    row->channel = r->chan->id;
    row->time_ms = (int64_t)(now_ms() - took / 1000);
    snprintf(row->endpoint, sizeof row->endpoint, "%s", r->journal_ep);
    row->http = r->http_status;
    row->status = r->api_status;
    snprintf(row->detail, sizeof row->detail, "%s", r->answer_detail);
    row->latency_us = (int64_t)took;
    snprintf(row->fault, sizeof row->fault, "%s", r->fault_mark);
    row->body = r->journal_body ? r->journal_body : xstrdup("");
    r->journal_body = NULL;
    r->journal_ep = NULL; /* once */
    j->queued++;
    pthread_cond_signal(&j->worker.cond);
    pthread_mutex_unlock(&j->worker.lock);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* The channel's admins: the admin key, or the channel's own token. */
static bool may_read(struct req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    const char *t = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Viber-Auth-Token");
    uint8_t hash[STORE_HASH_LEN];
    struct chan_entry *e = NULL;
    bool ok;

    if (h && r->srv->cfg.admin_key && strncmp(h, "Bearer ", 7) == 0 &&
        auth_str_equal(h + 7, r->srv->cfg.admin_key))
        return true;
    if (!t || !t[0] || strlen(t) > AUTH_TOKEN_MAX)
        return false;
    auth_hasher_token(r->srv->hasher, t, strlen(t), hash);
    if (chancache_get(r->srv->cache, r->srv->store, hash, &e) != STORE_OK)
        return false;
    ok = e->ch.id == r->chan->id;
    chancache_put(e);
    return ok;
}

/* An integer query argument in [lo, hi]: 0 with *out, 1 absent, -1 bad. */
static int arg_i64(struct req *r, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    char *end;
    long long v;

    if (!s)
        return 1;
    if (*s < '0' || *s > '9')
        return -1;
    v = strtoll(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static struct json_object *entry_json(const struct journal_row *e)
{
    struct json_object *o = json_object_new_object();
    char ms[32];

    json_object_object_add(o, "id", json_object_new_int64(e->id));
    json_object_object_add(o, "time_ms", json_object_new_int64(e->time_ms));
    json_object_object_add(o, "endpoint", json_object_new_string(e->endpoint));
    json_object_object_add(o, "http", json_object_new_int(e->http));
    json_object_object_add(o, "status", e->status >= 0 ? json_object_new_int(e->status) : NULL);
    json_object_object_add(o, "status_message",
                           e->status >= 0 ? json_object_new_string(vcp_status_name(e->status))
                                          : NULL);
    json_object_object_add(o, "detail", json_object_new_string(e->detail));
    snprintf(ms, sizeof ms, "%.3f", (double)e->latency_us / 1e3); /* µs, not float noise */
    json_object_object_add(o, "latency_ms",
                           json_object_new_double_s((double)e->latency_us / 1e3, ms));
    json_object_object_add(o, "fault", e->fault[0] ? json_object_new_string(e->fault) : NULL);
    json_object_object_add(o, "body", json_object_new_string(e->body));
    return o;
}

/*
 * The checks both reads share: the journal is on, the caller is one of the
 * channel's admins, the filters (status, endpoint, since, before, limit) are
 * good.  NULL with q filled, or the answer's HTTP status in *http and the
 * detail.
 */
static const char *read_args(struct req *r, struct journal_query *q, unsigned *http)
{
    static const char *const endpoints[] = {"post", "set_webhook", "get_account_info"};
    const char *s;
    int64_t v;
    int rc;

    *http = 400;
    if (!r->srv->journal) {
        *http = 404;
        return "the journal is off: start vcpd with --journal N (on by default with --sandbox)";
    }
    if (!may_read(r)) {
        *http = 401;
        return "the journal is for the channel's admins: send the admin key (Authorization: "
               "Bearer) or the channel's token (X-Viber-Auth-Token)";
    }
    if ((rc = arg_i64(r, "status", 0, 99, &v)) < 0)
        return "status: an API status 0..99";
    q->status = rc == 0 ? (int)v : -1;
    if (arg_i64(r, "since", 0, INT64_MAX, &q->since_ms) < 0)
        return "since: Unix time in milliseconds";
    if (arg_i64(r, "before", 1, INT64_MAX, &q->before_id) < 0)
        return "before: an entry id";
    if ((rc = arg_i64(r, "limit", 1, JOURNAL_PAGE_MAX, &v)) < 0)
        return "limit: 1..1000";
    q->limit = rc == 0 ? (size_t)v : JOURNAL_PAGE_DEFAULT;
    if ((s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "endpoint"))) {
        for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
            if (strcmp(s, endpoints[i]) == 0)
                q->endpoint = endpoints[i];
        if (!q->endpoint)
            return "endpoint: one of post, set_webhook, get_account_info";
    }
    return NULL;
}

enum MHD_Result journal_get(struct req *r)
{
    struct journal *j = r->srv->journal;
    struct journal_query q = {.status = -1};
    struct journal_row *rows = NULL;
    struct json_object *out, *arr;
    const char *why;
    unsigned http;
    size_t n = 0;

    if ((why = read_args(r, &q, &http)))
        return http_reply_error(r, http, why);
    if (!r->journal_waited) { /* rows queued before this read are written first */
        pthread_mutex_lock(&j->worker.lock);
        if (j->committed < j->queued && !j->worker.stopping) {
            if (j->wn == j->wcap) {
                j->wcap = j->wcap ? j->wcap * 2 : 16;
                j->w = xrealloc(j->w, j->wcap * sizeof *j->w);
            }
            j->w[j->wn].r = r;
            j->w[j->wn++].seq = j->queued;
            r->journal_waited = true;
            req_suspend(r, WAIT_JOURNAL, journal_get);
            pthread_mutex_unlock(&j->worker.lock);
            return MHD_YES;
        }
        pthread_mutex_unlock(&j->worker.lock);
    }
    if (store_journal_list(r->srv->store, r->chan->id, &q, &rows, &n) != STORE_OK) {
        log_msg("error", "%s %s: store: %s", r->method, r->path, store_errmsg(r->srv->store));
        return http_reply_error(r, 500, "see the server log");
    }
    arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, entry_json(&rows[i]));
    store_journal_free(rows, n);
    out = json_object_new_object();
    json_object_object_add(out, "entries", arr);
    return http_reply_json(r, 200, out);
}

/* ---- live --------------------------------------------------------------------------------- */

static ssize_t sub_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct jsub *s = cls;
    struct journal *j = s->j;
    size_t n;

    (void)pos;
    pthread_mutex_lock(&j->worker.lock);
    if (s->closed) {
        pthread_mutex_unlock(&j->worker.lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    n = s->len - s->off < max ? s->len - s->off : max;
    if (n > 0) {
        memcpy(buf, s->buf + s->off, n);
        s->off += n;
        if (s->off == s->len)
            s->off = s->len = 0;
    } else { /* nothing to send: parked until sub_queue resumes it (both under the lock) */
        s->suspended = true;
        MHD_suspend_connection(s->conn);
    }
    pthread_mutex_unlock(&j->worker.lock);
    return (ssize_t)n;
}

/* libmicrohttpd is done with the response: the stream leaves the list. */
static void sub_free(void *cls)
{
    struct jsub *s = cls;
    struct journal *j = s->j;

    pthread_mutex_lock(&j->worker.lock);
    for (struct jsub **p = &j->subs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&j->worker.lock);
    free(s->buf);
    free(s);
}

enum MHD_Result journal_events(struct req *r)
{
    static const char hello[] = "retry: 2000\n\n";
    struct journal *j = r->srv->journal;
    struct journal_query q = {.status = -1};
    struct MHD_Response *resp;
    struct jsub *s;
    const char *why;
    unsigned http;

    if ((why = read_args(r, &q, &http)))
        return http_reply_error(r, http, why);
    if (strcmp(r->method, "HEAD") == 0)
        return http_reply_type(r, 200, "text/event-stream; charset=utf-8", "", 0);
    s = xcalloc(1, sizeof *s);
    s->j = j;
    s->conn = r->conn;
    s->channel = r->chan->id;
    s->status = q.status;
    s->endpoint = q.endpoint;
    s->cap = sizeof hello;
    s->buf = xmalloc(s->cap);
    memcpy(s->buf, hello, sizeof hello - 1);
    s->len = sizeof hello - 1;
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sub_read, s, sub_free);
    if (!resp) {
        free(s->buf);
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    pthread_mutex_lock(&j->worker.lock);
    if (j->worker.stopping) {
        pthread_mutex_unlock(&j->worker.lock);
        MHD_destroy_response(resp); /* sub_free runs: s is not listed */
        return http_reply_error(r, 503, "shutting down");
    }
    s->next = j->subs; /* listed before the answer: nothing committed from now is missed */
    j->subs = s;
    pthread_mutex_unlock(&j->worker.lock);
    return http_queue(r, 200, resp);
}
