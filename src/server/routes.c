/*
 * The route table: every HTTP method and path vcpd answers, in one place
 * (like redis's command table).  Paths match exactly, or as a prefix for
 * the admin API, whose handler parses the rest.
 */
#include <string.h>

#include "server/feed.h"
#include "server/server.h"

static const struct route routes[] = {
    {"POST", "/pa/post", false, api_post},
    {"POST", "/pa/set_webhook", false, api_set_webhook},
    {"POST", "/pa/get_account_info", false, api_get_account_info},
    {"GET", "/pa/get_account_info", false, api_get_account_info},
    {"POST", "/sandbox/webhook", false, sandbox_webhook},
    {"GET", "/healthz", false, health_get},
    {"GET", "/metrics", false, metrics_get},
    {"GET", "/openapi.yaml", false, page_openapi},
    {"GET", "/admin/v1/", true, admin_http},
    {"POST", "/admin/v1/", true, admin_http},
    {"PUT", "/admin/v1/", true, admin_http},
    {"DELETE", "/admin/v1/", true, admin_http},

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
