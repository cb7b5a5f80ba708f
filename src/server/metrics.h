/*
 * The operational endpoints (metrics.c): /healthz, /readyz, /version and
 * /metrics (Prometheus text).
 */
#ifndef VCP_SERVER_METRICS_H
#define VCP_SERVER_METRICS_H

#include <microhttpd.h>

#include "server/server.h"

enum MHD_Result health_get(struct req *r);
/* 200 {"status":"ready"} when the store answers, else 503 with a detail. */
enum MHD_Result ready_get(struct req *r);
/* {"name":"vcpd","version":"0.1.0","git":"<commit>"} */
enum MHD_Result version_get(struct req *r);
enum MHD_Result metrics_get(struct req *r);

#endif
