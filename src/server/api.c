/*
 * The Channels Post API: /pa/set_webhook, /pa/get_account_info, /pa/post.
 *
 * Every endpoint starts with the same steps, in the order of docs/API.md §3:
 * the body is a JSON object (3) -> the token is present and known (2) -> the
 * channel is not blocked (7), suspended (9) or deleted (8).  Then each
 * endpoint goes on with its own steps.  The message rules themselves are in
 * src/core/msg.c, shared with the client library; this file only orders the
 * steps that need the server's state (channel, members, webhook, rate).
 *
 * Answers are always HTTP 200 with {"status":N,"status_message":NAME}, plus
 * a "detail" saying which field broke which rule, as Viber does.
 */
#include <stdlib.h>
#include <string.h>

#include "core/body.h"
#include "core/msg.h"
#include "server/answers.h"
#include "server/auth.h"
#include "server/chancache.h"
#include "server/delay.h"
#include "server/fault.h"
#include "server/journal.h"
#include "server/media.h"
#include "server/stream.h"
#include "server/strbuf.h"
#include "server/tokcache.h"
#include "server/ratelimit.h"
#include "server/server.h"
#include "server/http.h"
#include "server/api.h"
#include "server/sandbox.h"
#include "server/util.h"

#define TOKEN_HEADER "X-Viber-Auth-Token"

/* The seed's list; deprecated, but the Python SDK requires it in answers. */
static const char event_types_json[] =
    "[\"delivered\",\"seen\",\"failed\",\"subscribed\",\"unsubscribed\",\"conversation_started\"]";

void api_status_json(struct strbuf *w, int status, const char *detail)
{
    strbuf_open(w);
    strbuf_kv_int(w, "status", status);
    strbuf_kv_str(w, "status_message", vcp_status_name(status));
    if (detail && detail[0])
        strbuf_kv_str(w, "detail", detail);
    strbuf_lit(w, "}");
}

enum MHD_Result api_reply_status(struct req *r, int status, const char *detail)
{
    size_t n = detail ? strlen(detail) : 0;
    struct MHD_Response *resp;

    r->api_status = status;
    /* for the access log and the journal (cut as snprintf would) */
    if (n >= sizeof r->answer_detail)
        n = sizeof r->answer_detail - 1;
    memcpy(r->answer_detail, detail ? detail : "", n);
    r->answer_detail[n] = '\0';
    /* built once per distinct answer (answers.h): ~3k instructions less
     * per refused request than formatting it and making a response */
    resp = answers_status(r->srv->answers, status, detail);
    if (!resp)
        return MHD_NO;
    return http_queue_shared(r, 200, resp);
}

/*
 * The detail of a request whose channel could not be looked up because the
 * database did not answer (stopped, unreachable): the client learns it may
 * try again, the log gets the database's own words.
 */
static const char db_unavailable[] = "database unavailable; try again later";

/* Answers a general error and logs why: internal failures are never silent. */
static enum MHD_Result general_error(struct req *r, const char *what)
{
    log_msg("error", "%s %s: %s", r->method, r->path, what);
    return api_reply_status(r, VCP_STATUS_GENERAL_ERROR, "internal error; see the server log");
}

/*
 * A write the database refused (disk full, file deleted, locked past the
 * busy timeout): logged, and answered 99 with the database's own words as
 * the detail -- they name tables and files, never tokens (store.h).
 */
static enum MHD_Result store_error(struct req *r, const char *what)
{
    log_msg("error", "%s %s: %s", r->method, r->path, what);
    return api_reply_status(r, VCP_STATUS_GENERAL_ERROR, what);
}

/* The header's token, if one is given (not ""); NULL if not. */
static const char *header_token(struct req *r, size_t *len)
{
    const char *t = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, TOKEN_HEADER);

    if (!t || !t[0])
        return NULL;
    *len = strlen(t);
    return t;
}

/* The request's token: the header, else the body's auth_token.  NULL if absent. */
static const char *find_token(struct req *r, struct json_object *body, size_t *len)
{
    const char *t = header_token(r, len);
    struct json_object *v;

    if (t)
        return t;
    if (json_object_object_get_ex(body, "auth_token", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0) {
        *len = (size_t)json_object_get_string_len(v);
        return json_object_get_string(v);
    }
    return NULL;
}

/*
 * For the journal only: a body that is not JSON is still the channel's
 * request when the header's token names the channel (the answer stays 3).
 */
static void attribute(struct req *r)
{
    const char *t = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, TOKEN_HEADER);
    size_t len = t ? strlen(t) : 0;

    if (len == 0 || len > AUTH_TOKEN_MAX)
        return;
    if (tokcache_get(r->srv->tokens, r->srv->cache, r->srv->store, r->srv->hasher, t, len,
                     &r->ent) != STORE_OK)
        return;
    r->chan = &r->ent->ch;
    r->journal_ep = r->path + 4; /* "/pa/post" -> "post" */
    journal_body(r, t, len, NULL);
}

/*
 * Steps 2-3 of §1.3 for the token found (NULL: none; len bytes): the token
 * is known, r->chan its channel, which is not blocked, suspended or
 * deleted.  body goes to the journal (NULL: the body's text only).
 */
static int api_auth(struct req *r, const char *token, size_t len, struct json_object *body,
                    char *detail, size_t detail_len)
{
    int rc;

    if (!token) {
        snprintf(detail, detail_len,
                 "auth_token: missing (header " TOKEN_HEADER " or body field auth_token)");
        return VCP_STATUS_INVALID_AUTH_TOKEN;
    }
    if (len > AUTH_TOKEN_MAX) {
        snprintf(detail, detail_len, "auth_token: not valid");
        return VCP_STATUS_INVALID_AUTH_TOKEN;
    }
    rc = tokcache_get(r->srv->tokens, r->srv->cache, r->srv->store, r->srv->hasher, token, len,
                      &r->ent);
    if (rc == STORE_NOTFOUND) {
        snprintf(detail, detail_len, "auth_token: not valid");
        return VCP_STATUS_INVALID_AUTH_TOKEN;
    }
    if (rc != STORE_OK) {
        log_msg("error", "%s %s: channel lookup: %s", r->method, r->path,
                store_errmsg(r->srv->store));
        snprintf(detail, detail_len, "%s", db_unavailable);
        return VCP_STATUS_GENERAL_ERROR;
    }
    r->chan = &r->ent->ch;
    if (r->srv->journal) {
        r->journal_ep = r->path + 4; /* "/pa/post" -> "post" */
        journal_body(r, token, len, body);
    }
    switch (r->chan->state) {
    case CHANNEL_BLOCKED:
        snprintf(detail, detail_len, "channel %s is blocked", r->chan->pa_id);
        return VCP_STATUS_PUBLIC_ACCOUNT_BLOCKED;
    case CHANNEL_SUSPENDED:
        snprintf(detail, detail_len, "channel %s is suspended", r->chan->pa_id);
        return VCP_STATUS_PUBLIC_ACCOUNT_SUSPENDED;
    case CHANNEL_DELETED:
        snprintf(detail, detail_len, "channel %s was deleted", r->chan->pa_id);
        return VCP_STATUS_PUBLIC_ACCOUNT_NOT_FOUND;
    default:
        return VCP_STATUS_OK;
    }
}

/*
 * Steps 1-3 of §1.3, shared by the three endpoints.  On VCP_STATUS_OK,
 * *body is the parsed body (caller puts it; NULL for an empty body or
 * "{}" when empty_ok), r->chan the channel and *token the token (valid
 * while body and the request live).
 */
static int api_begin(struct req *r, bool empty_ok, struct json_object **body, const char **token,
                     char *detail, size_t detail_len)
{
    size_t len = 0;
    int status;

    if (empty_ok && (r->body_len == 0 || (r->body_len == 2 && memcmp(r->body, "{}", 2) == 0))) {
        /* what SDKs send to get_account_info: no member, so the token can
         * only be the header's, and no object is built for nothing (its
         * hash table and free were ~1.5k instructions per request) */
        *body = NULL;
        *token = header_token(r, &len);
        return api_auth(r, *token, len, NULL, detail, detail_len);
    }
    *body = body_parse(r->srv->tok, r->body, r->body_len, empty_ok, &status, detail, detail_len);
    if (!*body) {
        if (r->srv->journal)
            attribute(r);
        return status;
    }
    *token = find_token(r, *body, &len);
    return api_auth(r, *token, len, *body, detail, detail_len);
}

/* The rate-control step: 12 when the channel's bucket is empty. */
static int rate_step(struct req *r, char *detail, size_t detail_len)
{
    const struct channel *c = r->chan;

    if (!r->srv->cfg.rate_limit ||
        ratelimit_take(r->srv->rl, c->id, c->epoch, c->rate_count, c->rate_window_s, mono_us()))
        return VCP_STATUS_OK;
    snprintf(detail, detail_len, "rate limit: %d requests per %d s", c->rate_count,
             c->rate_window_s);
    return VCP_STATUS_TOO_MANY_REQUESTS;
}

/* Answers status with detail, or a general error that is also logged. */
static enum MHD_Result fail(struct req *r, int status, const char *detail)
{
    if (status == VCP_STATUS_GENERAL_ERROR && strcmp(detail, db_unavailable) != 0)
        return general_error(r, detail); /* db_unavailable: logged already, and says it all */
    return api_reply_status(r, status, detail);
}

/* --- get_account_info ---------------------------------------------------- */

static void account_json(struct strbuf *w, const struct channel *c, const struct member *m,
                         size_t n, unsigned viewers)
{
    char num[64];

    strbuf_lit(w, "{\"status\":0,\"status_message\":\"ok\"");
    strbuf_kv_str(w, "id", c->pa_id);
    strbuf_kv_str(w, "Id", c->pa_id); /* the seed's spelling */
    strbuf_kv_str(w, "name", c->name);
    strbuf_kv_str(w, "uri", c->uri);
    strbuf_kv_str(w, "icon", c->icon);
    strbuf_kv_str(w, "background", c->background);
    strbuf_kv_str(w, "category", c->category);
    strbuf_kv_str(w, "subcategory", c->subcategory);
    snprintf(num, sizeof num, ",\"location\":{\"lat\":%.6f,\"lon\":%.6f}", c->lat, c->lon);
    strbuf_raw(w, num, strlen(num));
    strbuf_kv_str(w, "country", c->country);
    strbuf_kv_str(w, "webhook", c->webhook);
    strbuf_lit(w, ",\"event_types\":");
    strbuf_raw(w, event_types_json, sizeof event_types_json - 1);
    strbuf_kv_int(w, "subscribers_count", viewers);
    strbuf_kv_str(w, "chat_hostname", c->name);
    strbuf_lit(w, ",\"members\":[");
    for (size_t i = 0; i < n; i++) {
        strbuf_open(w);
        strbuf_kv_str(w, "id", m[i].id);
        strbuf_kv_str(w, "name", m[i].name);
        strbuf_kv_str(w, "avatar", m[i].avatar);
        strbuf_kv_str(w, "role", m[i].role == ROLE_SUPERADMIN ? "superadmin" : "admin");
        strbuf_raw(w, "},", i + 1 < n ? 2 : 1);
    }
    strbuf_lit(w, "]}");
}

enum MHD_Result api_get_account_info(struct req *r)
{
    char detail[MSG_DETAIL_MAX];
    struct json_object *body = NULL;
    struct chan_entry *e;
    const char *token;
    struct strbuf w;
    enum MHD_Result ret;
    unsigned viewers;
    int status;

    detail[0] = '\0';
    status = api_begin(r, true, &body, &token, detail, sizeof detail);
    if (status == VCP_STATUS_OK &&
        fault_step(r, FAULT_EP_ACCOUNT_INFO, api_get_account_info, &ret)) {
        json_object_put(body);
        return ret;
    }
    if (status == VCP_STATUS_OK)
        status = rate_step(r, detail, sizeof detail);
    if (status != VCP_STATUS_OK) {
        json_object_put(body);
        return fail(r, status, detail);
    }
    json_object_put(body);
    /* Built once per channel version (the entry's life) and subscriber
     * count: building it ("%.6f", escaping) was 12k of ~42k instructions
     * per request (issue 11's profile). */
    e = r->ent;
    viewers = streams_viewers(r->srv->streams, r->chan->id);
    if (!e->account || e->account_viewers != viewers) {
        struct MHD_Response *resp;

        strbuf_init(&w);
        account_json(&w, r->chan, e->members, e->n_members, viewers);
        resp = http_response(HTTP_TYPE_JSON, w.buf, w.len);
        strbuf_free(&w);
        if (!resp)
            return MHD_NO;
        if (e->account)
            MHD_destroy_response(e->account);
        e->account = resp;
        e->account_viewers = viewers;
    }
    r->api_status = VCP_STATUS_OK;
    /* the response itself is kept too, headers and all (http_queue_shared) */
    return http_queue_shared(r, 200, e->account);
}

/* --- set_webhook ---------------------------------------------------------- */

static enum MHD_Result webhook_ok(struct req *r)
{
    struct strbuf w;
    enum MHD_Result ret;

    strbuf_init(&w);
    strbuf_lit(&w, "{\"status\":0,\"status_message\":\"ok\",\"event_types\":");
    strbuf_raw(&w, event_types_json, sizeof event_types_json - 1);
    strbuf_lit(&w, "}");
    r->api_status = VCP_STATUS_OK;
    ret = http_reply(r, 200, w.buf, w.len);
    strbuf_free(&w);
    return ret;
}

/* Runs on the webhook checker's thread. */
static void webhook_done(void *arg, int status, const char *detail)
{
    struct req *r = arg;

    r->wh_status = status;
    snprintf(r->wh_detail, sizeof r->wh_detail, "%s", detail ? detail : "");
    req_resume(r);
}

/* The store write of set_webhook, as a job on the writer thread (never on the HTTP thread). */
static int webhook_store(struct commit_req *cr, struct store *s)
{
    struct req *r = cr->arg;

    return store_channel_set_webhook(s, r->chan->id, r->webhook_url ? r->webhook_url : "");
}

/* Continuation once the writer has stored (or failed to store) the URL. */
static enum MHD_Result webhook_stored(struct req *r)
{
    char what[320];

    if (r->commit.rc != STORE_OK) {
        snprintf(what, sizeof what, "webhook not stored: %s", r->commit.err);
        return store_error(r, what);
    }
    return webhook_ok(r);
}

/* Stores r->webhook_url ("" or NULL: removes it) through the writer, then answers. */
static enum MHD_Result webhook_save(struct req *r, bool new_work)
{
    r->commit.job = webhook_store;
    if (!req_commit(r, webhook_stored, new_work))
        return general_error(r, "set_webhook refused: shutting down");
    return MHD_YES;
}

/* Continuation on the HTTP thread once the check has an answer. */
static enum MHD_Result webhook_checked(struct req *r)
{
    struct server *srv = r->srv;

    if (srv->sandbox)
        sandbox_forget(srv->sandbox, r->wh_token);
    if (r->wh_status == VCP_STATUS_GENERAL_ERROR)
        return general_error(r, r->wh_detail);
    if (r->wh_status != VCP_STATUS_OK)
        return api_reply_status(r, r->wh_status, r->wh_detail);
    return webhook_save(r, false);
}

enum MHD_Result api_set_webhook(struct req *r)
{
    struct server *srv = r->srv;
    char detail[MSG_DETAIL_MAX];
    struct json_object *body = NULL, *v;
    struct webhook_check chk;
    const char *token, *url;
    enum MHD_Result ret;
    long delay_ms;
    int status;

    detail[0] = '\0';
    status = api_begin(r, false, &body, &token, detail, sizeof detail);
    if (status == VCP_STATUS_OK && fault_step(r, FAULT_EP_SET_WEBHOOK, api_set_webhook, &ret)) {
        json_object_put(body);
        return ret;
    }
    if (status == VCP_STATUS_OK)
        status = rate_step(r, detail, sizeof detail);
    if (status != VCP_STATUS_OK)
        goto answer;
    if (!json_object_object_get_ex(body, "url", &v)) {
        status = VCP_STATUS_MISSING_DATA;
        snprintf(detail, sizeof detail, "url: required");
        goto answer;
    }
    if (!json_object_is_type(v, json_type_string)) {
        status = VCP_STATUS_BAD_DATA;
        snprintf(detail, sizeof detail, "url: must be a string");
        goto answer;
    }
    url = json_object_get_string(v);
    if (url[0] == '\0') {
        /* removing the webhook: no callback is made */
        json_object_put(body);
        return webhook_save(r, true);
    }
    status = webhook_url_check(url, srv->cfg.webhook.allow_http, detail, sizeof detail);
    if (status != VCP_STATUS_OK)
        goto answer;
    if (fault_webhook(r, &delay_ms)) { /* the check fails as a real one would, without a call */
        json_object_put(body);
        return delay_ms > 0 ? delay_then(srv->delay, r, (uint64_t)delay_ms, webhook_checked)
                            : webhook_checked(r);
    }

    r->webhook_url = xstrdup(url);
    memset(&chk, 0, sizeof chk);
    chk.url = r->webhook_url;
    chk.token = token;
    chk.chat_hostname = r->chan->name;
    chk.message_token = tokgen_next(&srv->tokgen, now_ms());
    chk.timestamp_ms = now_ms();
    chk.done = webhook_done;
    chk.arg = r;
    r->wh_token = chk.message_token;
    if (srv->sandbox)
        sandbox_expect(srv->sandbox, chk.message_token, token);
    srv->metrics.webhook_checks++;
    pthread_mutex_lock(&srv->intake_lock);
    if (srv->stopping) {
        pthread_mutex_unlock(&srv->intake_lock);
        if (srv->sandbox)
            sandbox_forget(srv->sandbox, r->wh_token);
        json_object_put(body);
        return general_error(r, "set_webhook refused: shutting down");
    }
    req_suspend(r, WAIT_WEBHOOK, webhook_checked);
    if (webhook_check_start(srv->webhook, &chk) != 0) {
        r->wh_status = VCP_STATUS_GENERAL_ERROR;
        snprintf(r->wh_detail, sizeof r->wh_detail, "webhook checker unavailable");
        req_resume(r);
    }
    pthread_mutex_unlock(&srv->intake_lock);
    json_object_put(body);
    return MHD_YES;

answer:
    json_object_put(body);
    return fail(r, status, detail);
}

/* --- post ------------------------------------------------------------------ */

static enum MHD_Result post_committed(struct req *r)
{
    char what[320];
    struct strbuf w;
    enum MHD_Result ret;

    if (r->commit.rc != STORE_OK) {
        /* the database's own words ("database or disk is full", ...) */
        snprintf(what, sizeof what, "post not stored: %s", r->commit.err);
        return store_error(r, what);
    }
    r->srv->metrics.posts++;
    strbuf_init(&w);
    strbuf_lit(&w, "{\"status\":0,\"status_message\":\"ok\"");
    strbuf_kv_uint(&w, "message_token", r->commit.post.token);
    strbuf_kv_str(&w, "chat_hostname", r->chan->name);
    strbuf_lit(&w, ",\"billing_status\":0}");
    r->api_status = VCP_STATUS_OK;
    ret = http_reply(r, 200, w.buf, w.len);
    strbuf_free(&w);
    return ret;
}

/*
 * Status 10's detail.  In sandbox mode it names vcpd's own receiver, which
 * answers any channel's check: the URL as this client reached vcpd (its Host
 * header, when that is a plain host[:port]), else just the path.
 */
static void webhook_not_set(struct req *r, char *detail, size_t len)
{
    static const char host_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789.-:[]";
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    size_t n = host ? strlen(host) : 0;

    if (!r->srv->cfg.sandbox) {
        snprintf(detail, len, "webhook: not set; call set_webhook first");
        return;
    }
    if (n == 0 || n > 64 || strspn(host, host_chars) != n)
        host = NULL;
    snprintf(detail, len,
             "webhook: not set; call set_webhook first (sandbox: vcpd's own receiver "
             "%s%s/sandbox/webhook answers its check)",
             host ? "http://" : "", host ? host : "");
}

/* The post passed every check: to the group commit. */
static enum MHD_Result post_submit(struct req *r)
{
    struct server *srv = r->srv;
    struct post *p = &r->commit.post;

    p->token = tokgen_next(&srv->tokgen, now_ms());
    p->channel = r->chan->id;
    p->created_ms = (int64_t)tokgen_time_ms(p->token);
    p->json = r->post_json;
    if (!req_commit(r, post_committed, true))
        return general_error(r, "post refused: shutting down");
    return MHD_YES;
}

/* Continuation once the media were fetched (--check-media). */
static enum MHD_Result post_media_checked(struct req *r)
{
    char detail[MSG_DETAIL_MAX];
    int status = media_verdict(r, detail, sizeof detail);

    if (status != VCP_STATUS_OK)
        return fail(r, status, detail);
    return post_submit(r);
}

/*
 * The steps of a post between its token and its message, the same on both
 * paths below (docs/API.md's order of checks): an injected fault, the
 * webhook set (10), the rate limit (12).  Returns -1 when a fault answered
 * (*ret is the result to return), else the status with detail filled.
 */
static int post_gates(struct req *r, enum MHD_Result *ret, char *detail, size_t len)
{
    if (fault_step(r, FAULT_EP_POST, api_post, ret))
        return -1;
    if (r->chan->webhook[0] == '\0') {
        webhook_not_set(r, detail, len);
        return VCP_STATUS_WEBHOOK_NOT_SET;
    }
    return rate_step(r, detail, len);
}

/*
 * api_post for a body msg_fast_post decided (core/msg.h): the same steps in
 * the same order, with the body already read, checked and -- when taken --
 * in its stored form, so no json-c tree is built (issue 11: the parse,
 * check and normalise through json-c cost ~19k of a post's ~110k
 * instructions, and ~30k of a refused one's ~58k).  Owns f->json.
 */
static enum MHD_Result post_fast(struct req *r, struct msg_fast *f)
{
    size_t hdr_len = 0;
    const char *hdr = header_token(r, &hdr_len);
    char from[sizeof((struct member *)0)->id];
    char detail[MSG_DETAIL_MAX];
    const char *why = detail;
    const struct member *sender;
    struct post *p = &r->commit.post;
    enum MHD_Result ret;
    int status;

    detail[0] = '\0';
    if (hdr) /* find_token's order: the header, else the body's field */
        status = api_auth(r, hdr, hdr_len, NULL, detail, sizeof detail);
    else
        status = api_auth(r, f->auth_token, f->auth_token_len, NULL, detail, sizeof detail);
    if (status != VCP_STATUS_OK)
        goto answer;
    if ((status = post_gates(r, &ret, detail, sizeof detail)) < 0) {
        free(f->json);
        return ret;
    }
    if (status != VCP_STATUS_OK)
        goto answer;
    if (f->verdict == MSG_FAST_ABSENT) { /* msg_check_present's step */
        status = f->status;
        why = f->detail;
        goto answer;
    }
    sender = NULL;
    if (f->from && f->from_len < sizeof from) { /* longer is no member's id */
        memcpy(from, f->from, f->from_len);
        from[f->from_len] = '\0';
        sender = chan_entry_member(r->ent, from);
    }
    if (!sender || sender->role != ROLE_SUPERADMIN) {
        status = VCP_STATUS_BAD_DATA;
        snprintf(detail, sizeof detail, "from: not a superadmin of this channel");
        goto answer;
    }
    if (f->verdict != MSG_FAST_TAKEN) { /* msg_check_content's step */
        status = f->status;
        why = f->detail;
        goto answer;
    }
    /* the content passed too; the stored form is built */
    r->post_json = f->json;
    memcpy(p->type, msg_type_name(f->type), strlen(msg_type_name(f->type)) + 1);
    memcpy(p->from, sender->id, strlen(sender->id) + 1);
    return post_submit(r);

answer:
    free(f->json);
    return fail(r, status, why);
}

enum MHD_Result api_post(struct req *r)
{
    struct server *srv = r->srv;
    char detail[MSG_DETAIL_MAX];
    struct json_object *body = NULL, *v, *norm;
    const char *token, *from;
    const struct member *sender;
    struct post *p = &r->commit.post;
    struct msg_fast fast;
    enum MHD_Result ret;
    size_t len;
    int status;

    /* The one-pass reader first: it takes or refuses what it is sure of;
     * whatever it declines takes the json-c path below.  The journal and
     * --check-media want the json-c tree: they keep this path. */
    if (!srv->journal && !srv->media && msg_fast_post(r->body, r->body_len, &fast) == 0)
        return post_fast(r, &fast);
    detail[0] = '\0';
    status = api_begin(r, false, &body, &token, detail, sizeof detail);
    if (status != VCP_STATUS_OK)
        goto answer;
    if ((status = post_gates(r, &ret, detail, sizeof detail)) < 0) {
        json_object_put(body);
        return ret;
    }
    if (status != VCP_STATUS_OK)
        goto answer;
    if ((status = msg_check_present(body, detail, sizeof detail)) != VCP_STATUS_OK)
        goto answer;
    json_object_object_get_ex(body, "from", &v);
    from = json_object_get_string(v);
    if (!json_object_is_type(v, json_type_string) || !(sender = chan_entry_member(r->ent, from)) ||
        sender->role != ROLE_SUPERADMIN) {
        status = VCP_STATUS_BAD_DATA;
        snprintf(detail, sizeof detail, "from: not a superadmin of this channel");
        goto answer;
    }
    if ((status = msg_check_content(body, detail, sizeof detail)) != VCP_STATUS_OK)
        goto answer;

    norm = msg_normalize(body);
    if (!norm) {
        json_object_put(body);
        return general_error(r, "out of memory normalising a message");
    }
    /* Stored as the read API and the event stream serve it: URLs with plain '/'. */
    r->post_json = xstrdup(json_object_to_json_string_length(
        norm, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len));
    json_object_object_get_ex(norm, "type", &v);
    /* both fit: the type is one of the eight names, from matched a member id */
    memcpy(p->type, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
    memcpy(p->from, sender->id, strlen(sender->id) + 1);
    if (srv->media) { /* --check-media: fetch and check the media first */
        int m = media_check(r, norm, post_media_checked, detail, sizeof detail);
        json_object_put(norm);
        if (m == MEDIA_REFUSED) {
            status = VCP_STATUS_BAD_DATA;
            goto answer;
        }
        if (m == MEDIA_PENDING) {
            json_object_put(body);
            return MHD_YES;
        }
    } else {
        json_object_put(norm);
    }
    json_object_put(body);
    return post_submit(r);

answer:
    json_object_put(body);
    return fail(r, status, detail);
}
