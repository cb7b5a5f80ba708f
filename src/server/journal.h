/*
 * The request journal: the last N API requests of each channel (set_webhook,
 * get_account_info, post) as they were answered -- time, endpoint, HTTP and
 * API status, detail, latency, injected faults and the body with the token
 * masked -- kept in the store (struct journal_row) so it survives restarts,
 * and read back over GET /api/v1/channels/{id}/journal by the channel's
 * admins (the admin key or the channel's token) with filters, for a test's
 * assertions and for the channel page: a developer sees why a request was
 * refused.
 *
 * A request is journaled once its token named a channel (a body that is not
 * JSON still is, when the token came in the header).  The row is made when
 * the answer is queued, on the HTTP thread, and written by a thread of the
 * journal's own (with its own store connection), in batches; a read waits
 * until every row made before it is written, so a client that got its
 * answer always finds its request in the journal.
 */
#ifndef VCP_SERVER_JOURNAL_H
#define VCP_SERVER_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <microhttpd.h>

#define JOURNAL_DEFAULT_SANDBOX 1000    /* entries per channel with --sandbox */
#define JOURNAL_MAX             1000000 /* --journal's largest value */
#define JOURNAL_BODY_MAX        32768   /* bytes of a body kept; longer ones are cut */

struct journal;
struct req;
struct server;

/*
 * Starts the journal of srv: keep entries per channel, written through a
 * store connection of its own to dsn.  0, or -1 with err filled.
 */
int journal_new(struct journal **out, struct server *srv, const char *dsn, int64_t keep, char *err,
                size_t err_len);

/*
 * Writes what is queued, stops the writer and answers the reads waiting for
 * it; later requests are no longer journaled.  Call before the daemons stop.
 */
void journal_stop(struct journal *j);

/* Frees j (stopping it first), after the daemons stopped.  NULL is a no-op. */
void journal_free(struct journal *j);

/*
 * The body the journal keeps for r (api.c, once the token named the
 * channel): raw (len bytes) with token masked, or -- when the body has an
 * auth_token member (parsed: the parsed body, may be NULL) -- the parsed
 * body written out again with that member masked.  Sets r->journal_body.
 */
void journal_body(struct req *r, const char *token, size_t token_len, struct json_object *parsed);

/* Queues r's journal row when its answer is queued (http.c); HTTP thread. */
void journal_note(struct req *r);

/* GET /api/v1/channels/{id}/journal (feed.c routes it, r->chan set). */
enum MHD_Result journal_get(struct req *r);

/* GET /api/v1/channels/{id}/journal/events: new entries, live (Server-Sent Events). */
enum MHD_Result journal_events(struct req *r);

#endif
