/*
 * The route table (routes.c): every method and path vcpd answers, and the
 * handler for each, in one table, like redis's command table.
 */
#ifndef VCP_SERVER_ROUTES_H
#define VCP_SERVER_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "server/server.h"

struct route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* exact path, or a prefix ending in '/' when prefix is set */
    bool prefix;
    route_fn fn;
};

/*
 * The route for method and path (HEAD finds the GET route; libmicrohttpd
 * sends a HEAD answer's headers only).  NULL with *path_known set when the
 * path exists for another method (405), unset when it is unknown (404).
 */
const struct route *route_find(const char *method, const char *path, bool *path_known);
/* Writes the methods path answers to ("GET, HEAD, POST") into buf, for the
 * Allow header of a 405.  false when none (unknown path) or buf is too small. */
bool route_allow(const char *path, char *buf, size_t len);

#endif
