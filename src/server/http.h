/*
 * The HTTP glue (http.c): starts and stops libmicrohttpd and the acceptor,
 * turns each connection's calls into one struct req, answers it, suspends
 * and resumes it around work on other threads, and writes the access log
 * and metrics.  Also the clocks every module reads.
 */
#ifndef VCP_SERVER_HTTP_H
#define VCP_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "server/server.h"

/* The content type of every JSON answer. */
#define HTTP_TYPE_JSON "application/json"

/* Current time (wall clock) in milliseconds and monotonic microseconds. */
uint64_t now_ms(void);
/* Added to now_ms(): 0 but in tests (VCPD_TEST_CLOCK_OFFSET_MS, set by node_start before
 * any thread reads the clock). */
extern int64_t now_offset_ms;
uint64_t mono_us(void);
uint64_t mono_ms(void);

/*
 * Listens on cfg.listen_* and starts the HTTP daemon (srv->mhd) and the
 * acceptor, which hands event streams to srv->streams (must exist).  0 or -1
 * (logged; what was started is stopped by http_stop).
 */
int http_start(struct server *srv);
/* Bound port. */
int http_port(struct server *srv);
/* Stops accepting connections; those already open go on. */
void http_quiesce(struct server *srv);
/* Stops the daemon (closing every connection) and frees the acceptor. */
void http_stop(struct server *srv);
/*
 * Counts a finished request in the metrics and writes its access log line:
 * sa the client (NULL: unknown), channel its pa_id or NULL, fault the
 * injected faults that answered it ("" or NULL: none).  Any thread.
 */
void http_record(struct server *srv, const struct sockaddr *sa, const char *method,
                 const char *path, int http_status, int api_status, const char *channel,
                 const char *fault, uint64_t start_us);

/*
 * Queues resp (built by the caller, headers and all) as r's answer and
 * releases it; every answer goes through here, so the access log status,
 * the journal and an injected lost answer (fault.h) see them all.
 */
enum MHD_Result http_queue(struct req *r, unsigned status, struct MHD_Response *resp);
/*
 * http_queue for a response the caller keeps and queues again on other
 * connections (an answer built once: answers.h, the account answer): the
 * caller's reference stays; libmicrohttpd takes its own for as long as it
 * sends.  The response must carry no per-request header.
 */
enum MHD_Result http_queue_shared(struct req *r, unsigned status, struct MHD_Response *resp);
/*
 * The response http_reply_type queues: body (copied) with the content type
 * as its one header.  The caller owns it (MHD_destroy_response); NULL on
 * out-of-memory.
 */
struct MHD_Response *http_response(const char *type, const char *body, size_t len);
/* Queues body (copied) with the given HTTP status and content type. */
enum MHD_Result http_reply_type(struct req *r, unsigned status, const char *type, const char *body,
                                size_t len);
/* Queues body (copied) with the given HTTP status and JSON content type. */
enum MHD_Result http_reply(struct req *r, unsigned status, const char *body, size_t len);
/*
 * Queues the JSON error answer {"error":"...","detail":"..."} (no detail when
 * NULL or "") for an HTTP-level refusal: 400, 401, 404, 405 (with Allow),
 * 413, 501.  400, 413 and 501 also close the connection.
 */
enum MHD_Result http_reply_error(struct req *r, unsigned status, const char *detail);
/* http_reply_error without a detail. */
enum MHD_Result http_reply_status(struct req *r, unsigned status);
/* Queues a json-c object as the answer and releases it. */
enum MHD_Result http_reply_json(struct req *r, unsigned status, struct json_object *o);
/* Suspends the connection until req_resume() (any thread); then cont runs
 * on the HTTP thread to answer. */
void req_suspend(struct req *r, enum req_wait what, route_fn cont);
void req_resume(struct req *r);
/*
 * Hands r->commit (a post, or a write job: commit_req.job) to the writer
 * and suspends r until it is done; cont then answers on the HTTP thread.
 * new_work is refused once shutdown has begun; the second step of work
 * already accepted (new_work false) is taken until the writer is closed.
 * Returns false, having queued nothing, when refused: the caller answers.
 */
bool req_commit(struct req *r, route_fn cont, bool new_work);

#endif
