/*
 * The read API: GET /api/v1/channels, /api/v1/channels/{id},
 * /api/v1/channels/{id}/posts and /api/v1/channels/{id}/events.
 *
 * {id} is the channel's public id ("pa:" + digits).  Deleted channels are
 * gone for readers (404, like an unknown id); blocked and suspended channels
 * stay readable (their posts were legitimately published; only posting is
 * refused).  Errors are HTTP statuses with {"error":…,"detail":…} bodies, as
 * the admin API answers: these endpoints are vcpd's own, not Viber's.
 *
 * The event stream: a connection that starts with it never reaches this
 * file (the acceptor hands it to stream.c, which reads its request
 * itself); one asked for on a connection libmicrohttpd already serves is
 * opened here and served by stream.c through libmicrohttpd.  Either way,
 * resuming with Last-Event-ID (header or ?last_event_id=) replays from the
 * store every post newer than that id, oldest first, a page at a time, and
 * then goes on live without a gap or a duplicate (stream.h says why).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/msg.h"
#include "server/feed.h"
#include "server/journal.h"
#include "server/strbuf.h"
#include "server/server.h"
#include "server/http.h"
#include "server/stream.h"
#include "server/util.h"

#define API_PREFIX "/api/v1/channels"

static const char *const msg_types[] = {"text",    "picture",  "video", "file",
                                        "contact", "location", "url",   "sticker"};

void feed_post_json(struct strbuf *w, const struct post *p)
{
    strbuf_open(w);
    strbuf_kv_uint(w, "message_token", p->token);
    strbuf_kv_str(w, "type", p->type);
    strbuf_kv_str(w, "from", p->from);
    strbuf_kv_int(w, "created_ms", p->created_ms);
    strbuf_lit(w, ",\"message\":");
    strbuf_raw(w, p->json, strlen(p->json));
    strbuf_lit(w, "}");
}

/* {"error":what,"detail":detail} with an HTTP status. */
static enum MHD_Result reply_error(struct req *r, unsigned status, const char *what,
                                   const char *detail)
{
    struct strbuf w;
    enum MHD_Result ret;

    strbuf_init(&w);
    strbuf_open(&w);
    strbuf_kv_str(&w, "error", what);
    if (detail)
        strbuf_kv_str(&w, "detail", detail);
    strbuf_lit(&w, "}");
    ret = http_reply(r, status, w.buf, w.len);
    strbuf_free(&w);
    return ret;
}

int feed_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!s || !*s || strlen(s) > 20)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

int feed_parse_event_id(const char *s, uint64_t *out)
{
    uint64_t v;

    if (feed_parse_u64(s, &v) != 0 || v > INT64_MAX)
        return -1;
    *out = v;
    return 0;
}

bool feed_pa_id_valid(const char *s, size_t n)
{
    if (n < 4 || n > 31 || strncmp(s, "pa:", 3) != 0)
        return false;
    for (size_t i = 3; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static const char *state_name(int state)
{
    switch (state) {
    case CHANNEL_BLOCKED:
        return "blocked";
    case CHANNEL_SUSPENDED:
        return "suspended";
    case CHANNEL_DELETED:
        return "deleted";
    default:
        return "active";
    }
}

/* The public fields of a channel, as GET /api/v1/channels/{id} answers them. */
static void channel_json(struct strbuf *w, struct streams *st, const struct channel *c)
{
    strbuf_open(w);
    strbuf_kv_str(w, "id", c->pa_id);
    strbuf_kv_str(w, "name", c->name);
    strbuf_kv_str(w, "uri", c->uri);
    strbuf_kv_str(w, "icon", c->icon);
    strbuf_kv_str(w, "state", state_name(c->state));
    strbuf_kv_int(w, "subscribers_count", streams_viewers(st, c->id));
    strbuf_lit(w, "}");
}

/*
 * Finds the channel pa_id (n bytes) into r->chan.  Returns 0, or answers
 * (404 for unknown, malformed or deleted ids, 500 on a store failure) and
 * returns -1 with *ret set.
 */
static int lookup(struct req *r, const char *pa_id, size_t n, enum MHD_Result *ret)
{
    char id[32];
    int rc;

    if (!feed_pa_id_valid(pa_id, n)) {
        *ret = reply_error(r, 404, "not found", "no such channel");
        return -1;
    }
    memcpy(id, pa_id, n);
    id[n] = '\0';
    r->chan = xmalloc(sizeof *r->chan);
    rc = store_channel_by_pa_id(r->srv->store, id, r->chan);
    if (rc == STORE_OK && r->chan->state != CHANNEL_DELETED)
        return 0;
    free(r->chan);
    r->chan = NULL;
    if (rc == STORE_OK || rc == STORE_NOTFOUND) {
        *ret = reply_error(r, 404, "not found", "no such channel");
        return -1;
    }
    log_msg("error", "%s %s: store: %s", r->method, r->path, store_errmsg(r->srv->store));
    *ret = reply_error(r, 500, "internal error", "see the server log");
    return -1;
}

/* --- GET /api/v1/channels ---------------------------------------------- */

static enum MHD_Result list_channels(struct req *r)
{
    struct channel *cs = NULL;
    size_t n = 0;
    bool first = true;
    struct strbuf w;
    enum MHD_Result ret;

    if (store_channel_list(r->srv->store, &cs, &n) != STORE_OK) {
        log_msg("error", "%s %s: store: %s", r->method, r->path, store_errmsg(r->srv->store));
        return reply_error(r, 500, "internal error", "see the server log");
    }
    strbuf_init(&w);
    strbuf_lit(&w, "{\"channels\":[");
    for (size_t i = 0; i < n; i++) {
        if (cs[i].state == CHANNEL_DELETED)
            continue;
        if (!first)
            strbuf_lit(&w, ",");
        first = false;
        channel_json(&w, r->srv->streams, &cs[i]);
    }
    strbuf_lit(&w, "]}");
    free(cs);
    ret = http_reply(r, 200, w.buf, w.len);
    strbuf_free(&w);
    return ret;
}

/* --- GET /api/v1/channels/{id}/posts ------------------------------------ */

static enum MHD_Result list_posts(struct req *r)
{
    const char *s;
    uint64_t before = 0, limit = FEED_PAGE_DEFAULT;
    const char *type = NULL;
    struct post *p = NULL;
    size_t n = 0, shown;
    struct strbuf w;
    enum MHD_Result ret;

    s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "limit");
    if (s && (feed_parse_u64(s, &limit) != 0 || limit < 1 || limit > FEED_PAGE_MAX))
        return reply_error(r, 400, "bad request", "limit: must be an integer 1..200");
    s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "before");
    if (s && (feed_parse_u64(s, &before) != 0 || before == 0 || before > INT64_MAX))
        return reply_error(r, 400, "bad request", "before: must be a message_token");
    s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "type");
    if (s) {
        for (size_t i = 0; i < sizeof msg_types / sizeof msg_types[0]; i++)
            if (strcmp(s, msg_types[i]) == 0)
                type = msg_types[i];
        if (!type)
            return reply_error(r, 400, "bad request",
                               "type: must be one of text, picture, video, file, contact, "
                               "location, url, sticker");
    }
    /* One more than asked tells whether there is a next page. */
    if (store_post_list(r->srv->store, r->chan->id, before, type, (size_t)limit + 1, &p, &n) !=
        STORE_OK) {
        log_msg("error", "%s %s: store: %s", r->method, r->path, store_errmsg(r->srv->store));
        return reply_error(r, 500, "internal error", "see the server log");
    }
    shown = n > limit ? (size_t)limit : n;
    strbuf_init(&w);
    strbuf_lit(&w, "{\"posts\":[");
    for (size_t i = 0; i < shown; i++) {
        if (i > 0)
            strbuf_lit(&w, ",");
        feed_post_json(&w, &p[i]);
    }
    strbuf_lit(&w, "]");
    if (n > limit)
        strbuf_kv_uint(&w, "next", p[shown - 1].token);
    else
        strbuf_lit(&w, ",\"next\":null");
    strbuf_lit(&w, "}");
    store_posts_free(p, n);
    ret = http_reply(r, 200, w.buf, w.len);
    strbuf_free(&w);
    return ret;
}

/* --- GET /api/v1/channels/{id}/events ----------------------------------- */

static enum MHD_Result events(struct req *r)
{
    const char *s = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    uint64_t after = 0;
    bool resume = false;

    if (!s || !*s)
        s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "last_event_id");
    if (s && *s) {
        if (feed_parse_event_id(s, &after) != 0)
            return reply_error(r, 400, "bad request", "Last-Event-ID: must be a message_token");
        resume = true;
    }
    return streams_open(r->srv->streams, r, r->chan->id, after, resume);
}

/* HEAD of a stream: its status and type through libmicrohttpd, and no stream. */
static enum MHD_Result events_head(struct req *r)
{
    return http_reply_type(r, 200, "text/event-stream; charset=utf-8", "", 0);
}

/* --- GET /api/v1/channels/{id} ------------------------------------------ */

static enum MHD_Result channel_info(struct req *r)
{
    struct strbuf w;
    enum MHD_Result ret;

    strbuf_init(&w);
    channel_json(&w, r->srv->streams, r->chan);
    ret = http_reply(r, 200, w.buf, w.len);
    strbuf_free(&w);
    return ret;
}

enum MHD_Result feed_api(struct req *r)
{
    const char *rest, *slash;
    size_t idlen;
    enum MHD_Result ret;

    if (strcmp(r->path, API_PREFIX) == 0 || strcmp(r->path, API_PREFIX "/") == 0)
        return list_channels(r);
    rest = r->path + strlen(API_PREFIX "/");
    slash = strchr(rest, '/');
    idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (slash && strcmp(slash, "/posts") != 0 && strcmp(slash, "/events") != 0 &&
        strcmp(slash, "/journal") != 0 && strcmp(slash, "/journal/events") != 0 &&
        strcmp(slash, "/") != 0)
        return reply_error(r, 404, "not found", NULL);
    if (lookup(r, rest, idlen, &ret) != 0)
        return ret;
    if (slash && strcmp(slash, "/posts") == 0)
        return list_posts(r);
    if (slash && strcmp(slash, "/journal") == 0)
        return journal_get(r);
    if (slash && strcmp(slash, "/journal/events") == 0)
        return journal_events(r);
    if (slash && strcmp(slash, "/events") == 0)
        return strcmp(r->method, "HEAD") == 0 ? events_head(r) : events(r);
    return channel_info(r);
}
