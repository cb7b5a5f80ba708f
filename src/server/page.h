/*
 * The web pages (page.c): their handlers, and their files (everything in
 * web/), built into vcpd by web/embed.cmake.
 */
#ifndef VCP_SERVER_PAGE_H
#define VCP_SERVER_PAGE_H

#include <stddef.h>

#include <microhttpd.h>

struct req;

struct web_asset {
    const char *name; /* file name in web/, e.g. "channel.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

/* Every file, ended by an entry whose name is NULL (generated). */
extern const struct web_asset web_assets[];

/* --- handlers (routes.c) ----------------------------------------------- */

/* GET / : the channel index page */
enum MHD_Result page_index(struct req *r);
/* GET /openapi.yaml: docs/openapi.yaml (built in), the API's OpenAPI 3 description. */
enum MHD_Result page_openapi(struct req *r);
/* GET /channels/{id} : one channel's page */
enum MHD_Result page_channel(struct req *r);
/* GET /assets/{name} : the pages' script and style sheet, built into vcpd */
enum MHD_Result page_asset(struct req *r);

#endif
