/*
 * The admin HTTP API (admin_http.c): /admin/v1/..., behind the admin key,
 * running admin.c's operations on the writer's connection.
 */
#ifndef VCP_SERVER_ADMIN_HTTP_H
#define VCP_SERVER_ADMIN_HTTP_H

#include <microhttpd.h>

#include "server/server.h"

enum MHD_Result admin_http(struct req *r);

#endif
