/*
 * /healthz, /readyz, /version and /metrics (Prometheus text format).
 * Counters are kept in struct metrics by the HTTP thread; the group-commit
 * figures come from the committer.  /healthz says the process answers (a
 * liveness probe: restart me if not); /readyz says it can serve requests
 * now (a readiness probe: send me traffic), which needs the store.
 */
#include <inttypes.h>
#include <stdio.h>

#include "server/strbuf.h"
#include "vcp/status.h"
#include "server/server.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/util.h"
#include "server/version.h"

enum MHD_Result health_get(struct req *r)
{
    return http_reply(r, 200, "{\"status\":\"ok\"}", 15);
}

/*
 * Ready when the store answers a read on the HTTP thread's own connection
 * (the one every API request uses) and vcpd is not shutting down; otherwise
 * 503 with the reason, so an orchestrator or a CI script waiting for vcpd
 * sees why.
 */
enum MHD_Result ready_get(struct req *r)
{
    struct server *srv = r->srv;
    struct json_object *o;
    bool stopping;

    pthread_mutex_lock(&srv->intake_lock);
    stopping = srv->stopping;
    pthread_mutex_unlock(&srv->intake_lock);
    if (!stopping && store_ping(srv->store) == STORE_OK)
        return http_reply(r, 200, "{\"status\":\"ready\"}", 18);
    o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("not ready"));
    json_object_object_add(
        o, "detail", json_object_new_string(stopping ? "shutting down" : store_errmsg(srv->store)));
    if (!stopping)
        log_msg("error", "readyz: store: %s", store_errmsg(srv->store));
    return http_reply_json(r, 503, o);
}

enum MHD_Result version_get(struct req *r)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "name", json_object_new_string("vcpd"));
    json_object_object_add(o, "version", json_object_new_string(vcpd_version));
    json_object_object_add(o, "git", json_object_new_string(vcpd_git_hash));
    return http_reply_json(r, 200, o);
}

enum MHD_Result metrics_get(struct req *r)
{
    struct metrics snap, *m = &snap;
    struct strbuf w; /* used as a plain text buffer */
    char line[160];
    uint64_t commits = 0, rows = 0;
    enum MHD_Result ret;
    int n;

    pthread_mutex_lock(&r->srv->stats_lock);
    snap = r->srv->metrics;
    pthread_mutex_unlock(&r->srv->stats_lock);
    committer_stats(r->srv->committer, &commits, &rows);
    strbuf_init(&w);
#define LINE(...)                                     \
    do {                                              \
        n = snprintf(line, sizeof line, __VA_ARGS__); \
        strbuf_raw(&w, line, (size_t)n);              \
    } while (0)
    LINE("# TYPE vcpd_http_requests_total counter\nvcpd_http_requests_total %" PRIu64 "\n",
         m->requests);
    LINE("# TYPE vcpd_http_errors_total counter\n");
    LINE("vcpd_http_errors_total{class=\"4xx\"} %" PRIu64 "\n", m->http_4xx);
    LINE("vcpd_http_errors_total{class=\"5xx\"} %" PRIu64 "\n", m->http_5xx);
    LINE("# TYPE vcpd_api_responses_total counter\n");
#define STATUS_LINE(e, code, name)                                                        \
    LINE("vcpd_api_responses_total{status=\"%d\",name=\"%s\"} %" PRIu64 "\n", code, name, \
         m->api_status[code]);
    VCP_STATUS_TABLE(STATUS_LINE)
#undef STATUS_LINE
    LINE("# TYPE vcpd_posts_total counter\nvcpd_posts_total %" PRIu64 "\n", m->posts);
    LINE("# TYPE vcpd_commits_total counter\nvcpd_commits_total %" PRIu64 "\n", commits);
    LINE("# TYPE vcpd_commit_rows_total counter\nvcpd_commit_rows_total %" PRIu64 "\n", rows);
    LINE("# TYPE vcpd_webhook_checks_total counter\nvcpd_webhook_checks_total %" PRIu64 "\n",
         m->webhook_checks);
#undef LINE
    ret = http_reply_type(r, 200, "text/plain; version=0.0.4", w.buf, w.len);
    strbuf_free(&w);
    return ret;
}
