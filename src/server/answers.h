/*
 * Answers built once (issue 11): the API's status answers
 * {"status":N,"status_message":NAME,"detail":"..."} kept as libmicrohttpd
 * responses and queued again on every request that gets the same answer,
 * instead of formatting the JSON, creating a response, adding its header
 * and destroying it for each one.  A status answer's body depends on its
 * status and detail alone, and its one header is the content type, so a
 * kept response sends the same bytes as a new one would: libmicrohttpd
 * adds Date, Content-Length and Connection for each connection when it
 * sends.  (The account answer is kept the same way, per channel entry:
 * chancache.h.)
 *
 * Bounded: past ANSWERS_MAX answers the table is emptied, since details
 * that quote what a client sent could otherwise grow it without end.  A
 * response still being sent when that happens lives on: libmicrohttpd
 * holds its own reference.  HTTP thread only; no locks.
 */
#ifndef VCP_SERVER_ANSWERS_H
#define VCP_SERVER_ANSWERS_H

struct answers;
struct MHD_Response;

/* An empty table.  Aborts on out-of-memory (server code). */
struct answers *answers_new(void);
void answers_free(struct answers *a); /* NULL is a no-op */

/*
 * The response of api_status_json(status, detail) (detail NULL or "": none)
 * as http_reply would build it, built on first use and kept in a.  Queue it
 * with http_queue_shared; a keeps the reference.  NULL on out-of-memory.
 */
struct MHD_Response *answers_status(struct answers *a, int status, const char *detail);

#endif
