/*
 * The web pages: GET / (the channels and their live viewers), GET
 * /channels/{id} (one channel's feed, updated live) and GET /assets/{name}
 * (their script, style sheet and icon).
 *
 * The pages are static shells built into the binary (web/, embedded by
 * web/embed.cmake); the script fills them from the read API and the event
 * stream, setting user text with textContent only.  Every answer carries a
 * strict Content-Security-Policy: scripts and styles only from vcpd itself,
 * none inline, so even a markup bug could not run a post's script.  Images
 * (pictures, thumbnails, channel icons) are the posts' own URLs, so img-src
 * allows http(s); nothing else leaves the page.
 */
#include <stdlib.h>
#include <string.h>

#include "server/feed.h"
#include "server/page.h"
#include "server/server.h"
#include "server/http.h"
#include "server/util.h"

#define CSP                                                                                  \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' http: https:; " \
    "connect-src 'self'; media-src 'none'; object-src 'none'; frame-src 'none'; "            \
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

static const struct web_asset *asset(const char *name)
{
    for (const struct web_asset *a = web_assets; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

/* Queues a built-in file (not copied: it lives as long as the program). */
static enum MHD_Result send_asset(struct req *r, unsigned status, const struct web_asset *a)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return http_queue(r, status, resp);
}

static enum MHD_Result not_found(struct req *r)
{
    const struct web_asset *a = asset("notfound.html");

    return a ? send_asset(r, 404, a) : http_reply_status(r, 404);
}

enum MHD_Result page_index(struct req *r)
{
    const struct web_asset *a = asset("index.html");

    return a ? send_asset(r, 200, a) : not_found(r);
}

enum MHD_Result page_channel(struct req *r)
{
    const char *id = r->path + strlen("/channels/");
    size_t n = strlen(id);
    struct channel *c;
    int rc;

    if (n > 0 && id[n - 1] == '/')
        n--;
    if (n < 4 || n > 31 || strncmp(id, "pa:", 3) != 0 || strspn(id + 3, "0123456789") != n - 3)
        return not_found(r);
    c = xmalloc(sizeof *c);
    {
        char buf[32];
        memcpy(buf, id, n);
        buf[n] = '\0';
        rc = store_channel_by_pa_id(r->srv->store, buf, c);
    }
    if (rc != STORE_OK || c->state == CHANNEL_DELETED) {
        if (rc == STORE_ERROR)
            log_msg("error", "%s %s: store: %s", r->method, r->path, store_errmsg(r->srv->store));
        free(c);
        return not_found(r);
    }
    r->chan = c; /* for the access log */
    return send_asset(r, 200, asset("channel.html"));
}

enum MHD_Result page_openapi(struct req *r)
{
    const struct web_asset *a = asset("openapi.yaml");

    return a ? send_asset(r, 200, a) : not_found(r);
}

enum MHD_Result page_asset(struct req *r)
{
    const char *name = r->path + strlen("/assets/");
    const struct web_asset *a;

    /* only the script, style and icon files; the pages have their own paths */
    if (strstr(name, ".html") || !(a = asset(name)))
        return not_found(r);
    return send_asset(r, 200, a);
}
