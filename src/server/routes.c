/*
 * The route table: every HTTP method and path vcpd answers, in one place
 * (like redis's command table).  Paths match exactly, or as a prefix for
 * the admin API, whose handler parses the rest.
 */
#include <stdio.h>
#include <string.h>

#include "server/feed.h"
#include "server/server.h"
#include "server/routes.h"
#include "server/api.h"
#include "server/admin_http.h"
#include "server/sandbox.h"
#include "server/metrics.h"
#include "server/page.h"

static const struct route routes[] = {
    {"POST", "/pa/post", false, api_post},
    {"POST", "/pa/set_webhook", false, api_set_webhook},
    {"POST", "/pa/get_account_info", false, api_get_account_info},
    {"GET", "/pa/get_account_info", false, api_get_account_info},
    {"POST", "/sandbox/webhook", false, sandbox_webhook},
    {"GET", "/healthz", false, health_get},
    {"GET", "/readyz", false, ready_get},
    {"GET", "/version", false, version_get},
    {"GET", "/metrics", false, metrics_get},
    {"GET", "/openapi.yaml", false, page_openapi},
    {"GET", "/admin/v1/", true, admin_http},
    {"POST", "/admin/v1/", true, admin_http},
    {"PUT", "/admin/v1/", true, admin_http},
    {"DELETE", "/admin/v1/", true, admin_http},
    {"PATCH", "/admin/v1/", true, admin_http},

    /* the channel seen live: read API, event streams, pages (feed.c, page.c) */
    {"GET", "/api/v1/channels", false, feed_api},
    {"GET", "/api/v1/channels/", true, feed_api},
    {"GET", "/", false, page_index},
    {"GET", "/channels/", true, page_channel},
    {"GET", "/assets/", true, page_asset},
};

static bool path_matches(const struct route *rt, const char *path)
{
    if (rt->prefix)
        return strncmp(path, rt->path, strlen(rt->path)) == 0;
    return strcmp(path, rt->path) == 0;
}

const struct route *route_find(const char *method, const char *path, bool *path_known)
{
    /* HEAD is GET without the body (RFC 9110 §9.3.2): every GET route has it */
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    *path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_matches(&routes[i], path))
            continue;
        *path_known = true;
        if (strcmp(routes[i].method, method) == 0)
            return &routes[i];
    }
    return NULL;
}

bool route_allow(const char *path, char *buf, size_t len)
{
    static const char *const order[] = {"DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"};
    size_t n = 0;

    for (size_t m = 0; m < sizeof order / sizeof order[0]; m++) {
        const char *want = strcmp(order[m], "HEAD") == 0 ? "GET" : order[m];
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
            if (!path_matches(&routes[i], path) || strcmp(routes[i].method, want) != 0)
                continue;
            int k = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", order[m]);
            if (k < 0 || (size_t)k >= len - n)
                return false;
            n += (size_t)k;
            break;
        }
    }
    return n > 0;
}
