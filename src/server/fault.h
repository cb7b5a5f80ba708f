/*
 * Fault injection (vcpd --sandbox only): a channel's faults make its API
 * requests fail on purpose, so a client's error handling can be tested
 * against the real thing.  A fault answers a chosen Viber status or HTTP
 * status, closes the connection without an answer, adds latency, or makes
 * set_webhook's check fail -- for the next N requests of an endpoint, or a
 * fraction of them picked by a seeded (reproducible) random sequence.
 *
 * Faults live in the store (store.h: struct fault_row, whose spec is the
 * JSON fault_spec_json writes), so `vcpd channel fault ...` on the database
 * reaches a running server; the server reads a channel's faults once per
 * config version and writes their counters back as it uses them.
 *
 * The admin layer parses and lists faults (fault_parse, fault_json); the API
 * handlers apply them (fault_step, fault_webhook), on the HTTP thread.
 */
#ifndef VCP_SERVER_FAULT_H
#define VCP_SERVER_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "store/store.h"

enum fault_endpoint { FAULT_EP_ANY, FAULT_EP_POST, FAULT_EP_SET_WEBHOOK, FAULT_EP_ACCOUNT_INFO };

enum fault_kind {
    FAULT_STATUS,  /* answer a Viber status (value) instead of handling the request */
    FAULT_HTTP,    /* answer HTTP value (400..599) instead */
    FAULT_DROP,    /* handle the request, then close the connection without the answer */
    FAULT_LATENCY, /* wait lat_min_ms..lat_max_ms before handling the request */
    FAULT_WEBHOOK  /* set_webhook's check fails: webhook mode, HTTP value for WH_HTTP */
};

enum fault_webhook { FAULT_WH_FAIL, FAULT_WH_TIMEOUT, FAULT_WH_HTTP };

struct fault {
    int64_t id;
    int endpoint; /* enum fault_endpoint */
    int kind;     /* enum fault_kind */
    int value;    /* status, HTTP status (FAULT_HTTP, FAULT_WH_HTTP) */
    int webhook;  /* enum fault_webhook */
    unsigned lat_min_ms, lat_max_ms;
    double fraction;   /* 0 < fraction <= 1: share of the requests it applies to */
    uint64_t seed;     /* of the random sequence that picks them */
    int64_t count;     /* answers it gives in all; -1: no limit */
    int64_t remaining; /* of those, still to give */
    int64_t seen, hits, created_ms;
};

/*
 * Reads a fault as the admin API takes it (JSON object: endpoint, one of
 * status / http / drop / latency_ms / webhook, count, fraction, seed; numbers
 * may be numeric strings, as the CLI passes them) into *f.  Returns 0, or -1
 * with detail saying which field broke which rule.
 */
int fault_parse(struct json_object *spec, struct fault *f, char *detail, size_t detail_len);

/* The stored form of f (what fault_parse reads back). Caller owns the result. */
struct json_object *fault_spec_json(const struct fault *f);

/* f from a stored row.  -1 when the spec does not parse (logged by the caller). */
int fault_from_row(const struct fault_row *row, struct fault *f);

/* The admin JSON of f, counters included. Caller owns the result. */
struct json_object *fault_json(const struct fault *f);

/* --- applying them (HTTP thread) --------------------------------------------------- */

struct req;
struct faults; /* a channel id -> faults cache, reloaded when the config version moves */

struct faults *faults_new(void);
void faults_free(struct faults *fs); /* NULL is a no-op */

/*
 * The fault step of an API request of endpoint ep, run once the channel is
 * known (r->chan).  Returns false when the request goes on as usual (maybe
 * marked to lose its answer: FAULT_DROP).  Returns true when a fault took
 * the request over: it answered (*ret is the handler's result), or it
 * suspended the request for latency and will call again(r) afterwards --
 * the request's channel reference is released then, so again() starts the
 * request anew (this step then skips latency faults).
 */
bool fault_step(struct req *r, int ep, enum MHD_Result (*again)(struct req *),
                enum MHD_Result *ret);

/*
 * set_webhook, just before its check would call the webhook: true when a
 * webhook fault makes it fail, with r->wh_status and r->wh_detail set as
 * the check would set them and *delay_ms how long the failure takes
 * (timeouts take the configured total timeout, others 0).
 */
bool fault_webhook(struct req *r, long *delay_ms);

#endif
