/*
 * The admin HTTP API, /admin/v1/...: a thin translation of method + path +
 * JSON body into an admin_exec() operation (admin.c), guarded by the admin
 * key.  The key is compared in constant time; without --admin-key the API
 * is disabled.  Success is 201 for what creates (marked below), else 200.
 *
 *   POST   /admin/v1/channels                      channel.create (201)
 *   GET    /admin/v1/channels                      channel.list
 *   GET    /admin/v1/channels/{id}                 channel.show
 *   PATCH  /admin/v1/channels/{id}                 channel.edit (name, icon, location, ...)
 *   DELETE /admin/v1/channels/{id}                 channel.delete
 *   POST   /admin/v1/channels/{id}/{action}        block suspend activate delete rotate-token
 *                                                  reset (posts go; token, members stay)
 *   PUT    /admin/v1/channels/{id}/rate            {"count":N,"window":S} (count 0: off)
 *   PUT    /admin/v1/channels/{id}/webhook         {"url":"..."} (stored without a check)
 *   GET    /admin/v1/channels/{id}/members         member.list
 *   POST   /admin/v1/channels/{id}/members         member.add (201)
 *   DELETE /admin/v1/channels/{id}/members/{mid}   member.remove
 *   GET    /admin/v1/channels/{id}/faults          fault.list
 *   POST   /admin/v1/channels/{id}/faults          fault.add (only with --sandbox)
 *   DELETE /admin/v1/channels/{id}/faults[/{fid}]  fault.clear (all, or one)
 *   POST   /admin/v1/reset                         sandbox.reset (only with --sandbox)
 */
#include <string.h>

#include "core/body.h"
#include "server/admin.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/server.h"
#include "server/http.h"
#include "server/admin_http.h"
#include "server/util.h"

static enum MHD_Result reply_error(struct req *r, unsigned http, const char *error,
                                   const char *detail)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "error", json_object_new_string(error));
    if (detail && detail[0])
        json_object_object_add(o, "detail", json_object_new_string(detail));
    return http_reply_json(r, http, o);
}

static bool authorized(struct req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");

    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return false;
    return auth_str_equal(h + 7, r->srv->cfg.admin_key);
}

/*
 * POST /admin/v1/reset: the whole store emptied, for a test suite's next
 * run.  Only a --sandbox vcpd offers it: on a server people read, one call
 * would take every channel away.
 */
static enum MHD_Result reset_all(struct req *r)
{
    struct json_object *out = NULL;
    char detail[256];

    if (strcmp(r->method, "POST") != 0)
        return http_reply_error(r, 405, NULL);
    if (!r->srv->cfg.sandbox)
        return reply_error(r, 403, "forbidden", "resetting the whole store needs vcpd --sandbox");
    if (admin_exec(r->srv->store, "sandbox.reset", NULL, &out, detail, sizeof detail) != ADMIN_OK) {
        log_msg("error", "admin sandbox.reset: %s", detail);
        return reply_error(r, 500, "internal error", "see the server log");
    }
    cluster_changed(r->srv->cluster); /* in force here before the notification comes back */
    return http_reply_json(r, 200, out);
}

/*
 * The routes under /admin/v1/channels, as in the list above.  sub is what
 * follows "/{id}/" ("": nothing follows the id; NULL: no {id} at all); a
 * sub ending in '/' takes the rest of the path, '/' included, as the
 * argument tail_arg.
 */
static const struct admin_route {
    const char *method;
    const char *sub;
    const char *tail_arg;
    const char *op;
} admin_routes[] = {
    {"POST", NULL, NULL, "channel.create"},
    {"GET", NULL, NULL, "channel.list"},
    {"GET", "", NULL, "channel.show"},
    {"DELETE", "", NULL, "channel.delete"},
    {"PATCH", "", NULL, "channel.edit"},
    {"POST", "block", NULL, "channel.block"},
    {"POST", "suspend", NULL, "channel.suspend"},
    {"POST", "activate", NULL, "channel.activate"},
    {"POST", "delete", NULL, "channel.delete"},
    {"POST", "rotate-token", NULL, "channel.rotate-token"},
    {"POST", "reset", NULL, "channel.reset"},
    {"PUT", "rate", NULL, "channel.set-rate"},
    {"PUT", "webhook", NULL, "channel.set-webhook"},
    {"GET", "members", NULL, "member.list"},
    {"POST", "members", NULL, "member.add"},
    {"DELETE", "members/", "member", "member.remove"},
    {"GET", "faults", NULL, "fault.list"},
    {"POST", "faults", NULL, "fault.add"},
    {"DELETE", "faults", NULL, "fault.clear"},
    {"DELETE", "faults/", "fault", "fault.clear"},
};

/* Maps method and the path after /admin/v1/channels to an operation name
 * and the channel / member / fault ids (written into args). NULL when no route. */
static const char *map_op(const char *method, const char *rest, struct json_object *args)
{
    const char *tail = NULL; /* after "/{id}/"; "" after "/{id}" */
    bool more = false;       /* a '/' followed the id */

    if (rest[0] == '/') {
        const char *slash = strchr(rest + 1, '/');
        size_t n = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);

        if (n == 0 || n >= 64)
            return NULL;
        json_object_object_add(args, "channel", json_object_new_string_len(rest + 1, (int)n));
        tail = slash ? slash + 1 : "";
        more = slash != NULL;
    } else if (rest[0] != '\0') {
        return NULL;
    }
    for (size_t i = 0; i < sizeof admin_routes / sizeof admin_routes[0]; i++) {
        const struct admin_route *ar = &admin_routes[i];
        size_t n = ar->sub ? strlen(ar->sub) : 0;

        if (strcmp(method, ar->method) != 0 || (ar->sub == NULL) != (tail == NULL))
            continue;
        if (!ar->sub || (n == 0 && !more))
            return ar->op;
        if (n == 0)
            continue;
        if (!ar->tail_arg && strcmp(tail, ar->sub) == 0)
            return ar->op;
        if (ar->tail_arg && strncmp(tail, ar->sub, n) == 0 && tail[n] != '\0') {
            json_object_object_add(args, ar->tail_arg, json_object_new_string(tail + n));
            return ar->op;
        }
    }
    return NULL;
}

/* The HTTP answer of an admin_exec() result; takes out. */
static enum MHD_Result answer(struct req *r, const char *op, int rc, struct json_object *out,
                              const char *detail)
{
    switch (rc) {
    case ADMIN_OK:
        /* One rule: 201 when the request made something new (a channel, a member). */
        return http_reply_json(
            r, strcmp(op, "channel.create") == 0 || strcmp(op, "member.add") == 0 ? 201 : 200, out);
    case ADMIN_BAD_REQUEST:
        return reply_error(r, 400, "bad request", detail);
    case ADMIN_NOT_FOUND:
        return reply_error(r, 404, "not found", detail);
    case ADMIN_CONFLICT:
        return reply_error(r, 409, "conflict", detail);
    default:
        log_msg("error", "admin %s: %s", op, detail);
        return reply_error(r, 500, "internal error", detail);
    }
}

/* A writing operation, run as a job on the writer thread with its connection. */
static int admin_job(struct commit_req *cr, struct store *s)
{
    struct req *r = cr->arg;

    r->admin_rc =
        admin_exec(s, r->admin_op, r->admin_args, &r->admin_out, r->wh_detail, sizeof r->wh_detail);
    return r->admin_rc == ADMIN_ERROR ? STORE_ERROR : STORE_OK;
}

/* Continuation on the HTTP thread once the writer has run the operation. */
static enum MHD_Result admin_done(struct req *r)
{
    struct json_object *out = r->admin_out;

    r->admin_out = NULL;
    return answer(r, r->admin_op, r->admin_rc, out, r->wh_detail);
}

enum MHD_Result admin_http(struct req *r)
{
    static const char base[] = "/admin/v1/channels";
    struct json_object *args, *body = NULL, *out = NULL, *v;
    char detail[256];
    const char *op;
    int rc, status;

    if (!r->srv->cfg.admin_key)
        return reply_error(r, 403, "admin API disabled",
                           "start vcpd with --admin-key or VCPD_ADMIN_KEY");
    if (!authorized(r))
        return http_reply_status(r, 401);
    if (strcmp(r->path, "/admin/v1/reset") == 0)
        return reset_all(r);
    if (strncmp(r->path, base, sizeof base - 1) != 0)
        return http_reply_status(r, 404);
    /* the API's own body reader: same limits, same strict JSON, same details */
    body = body_parse(r->srv->tok, r->body, r->body_len, true, &status, detail, sizeof detail);
    if (!body)
        return reply_error(r, 400, "bad request", detail);
    args = json_object_new_object();
    /* HEAD is GET without the body, which libmicrohttpd leaves out */
    op =
        map_op(strcmp(r->method, "HEAD") == 0 ? "GET" : r->method, r->path + sizeof base - 1, args);
    if (!op) {
        json_object_put(args);
        json_object_put(body);
        return http_reply_status(r, 404);
    }
    if (strcmp(op, "channel.set-rate") == 0) {
        json_object_object_add(args, "rate", json_object_get(body));
    } else {
        json_object_object_foreach(body, key, val)
        {
            if (!json_object_object_get_ex(args, key, &v)) /* path ids win */
                json_object_object_add(args, key, json_object_get(val));
        }
    }
    json_object_put(body);
    if (strcmp(op, "fault.add") == 0 && !r->srv->cfg.sandbox) {
        json_object_put(args);
        return reply_error(r, 403, "forbidden", "fault injection needs vcpd --sandbox");
    }
    if (admin_op_writes(op)) {
        /* the HTTP thread only reads: a write may wait seconds for the database's lock */
        r->admin_op = op;
        r->admin_args = args;
        r->commit.job = admin_job;
        if (!req_commit(r, admin_done, true))
            return reply_error(r, 503, "shutting down", "vcpd is stopping; try again");
        return MHD_YES;
    }
    rc = admin_exec(r->srv->store, op, args, &out, detail, sizeof detail);
    json_object_put(args);
    return answer(r, op, rc, out, detail);
}
