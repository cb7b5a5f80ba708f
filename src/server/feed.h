/*
 * The channel feed: the read API (/api/v1/channels/...), the live stream of
 * committed posts (Server-Sent Events) and the web pages built on both.
 *
 * Streams do not stay in libmicrohttpd's event loop.  The SSE handler
 * takes the socket from libmicrohttpd (which then forgets the connection)
 * and hands it to the feed's own writer thread (sse.c), which writes the
 * HTTP head and the events straight to it with non-blocking writes from one
 * epoll loop.  A subscriber costs that thread a few dozen bytes (fd,
 * channel, cursor, pending-output queue only while the kernel buffer is
 * full); every post is encoded once into a reference-counted event shared
 * by all its subscribers.  Streams end when the viewer leaves, falls too far
 * behind, or vcpd stops.
 *
 * Threads: feed_publish, feed_subscribe and feed_viewers are called on the
 * HTTP thread; they talk to the writer through a mutex-protected queue and
 * an eventfd.  feed_stop is called by serve() on the main thread.
 */
#ifndef VCP_SERVER_FEED_H
#define VCP_SERVER_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

struct feed;
struct req;
struct post;
struct server;

/* Upper bound of posts one page of GET .../posts returns, and the default. */
#define FEED_PAGE_MAX     200
#define FEED_PAGE_DEFAULT 50

/*
 * Creates the feed and starts its writer thread.  The heartbeat interval is
 * 15 s unless the environment variable VCPD_SSE_PING_MS says otherwise (tests).
 * Returns 0, or -1 when the thread or its descriptors cannot be made (logged).
 */
int feed_new(struct feed **out, struct server *srv);

/*
 * Ends every stream (closes its socket), refuses new ones and joins the
 * writer thread.  Later feed_publish calls do nothing.  Call before
 * MHD_stop_daemon.
 */
void feed_stop(struct feed *f);

/* Frees the feed (after feed_stop and after the HTTP thread is gone). NULL: no-op. */
void feed_free(struct feed *f);

/*
 * Sends a committed post to the live viewers of its channel.  p->json must
 * be the normalised message; nothing of p is kept.  HTTP thread only.
 */
void feed_publish(struct feed *f, const struct post *p);

/* Live viewers (open event streams) of a channel row id.  Any thread. */
unsigned feed_viewers(struct feed *f, int64_t channel);

/* Appends the JSON of one post as the read API and the stream give it. */
struct jsonw;
void feed_post_json(struct jsonw *w, const struct post *p);

/*
 * Hands the request's socket to the writer as a stream of channel's posts.
 * head is the HTTP head and any replayed events (malloc'd; ownership
 * passes); cursor is the newest token already in head (live posts up to it
 * are not sent again); close_after ends the stream once head is written (a
 * replay cut short: the client resumes from its last id).  Answers 503
 * instead when the feed is stopping or --max-connections streams are open.
 * HTTP thread only.
 */
enum MHD_Result feed_subscribe(struct feed *f, struct req *r, int64_t channel, char *head,
                               size_t head_len, uint64_t cursor, bool close_after);

/*
 * Reads a decimal uint64 of digits only: no sign, no spaces, at most 20
 * characters (leading zeros count), no overflow.  Returns 0 and stores the
 * value in *out, or -1 (NULL, empty or anything else; *out untouched).  The
 * paging parameters (limit, before) of GET .../posts use it.
 */
int feed_parse_u64(const char *s, uint64_t *out);

/*
 * Reads a stream's resume point, the Last-Event-ID header or the
 * ?last_event_id= parameter: feed_parse_u64 and at most INT64_MAX (a
 * message_token).  Returns 0 and stores the id in *out, or -1 (*out
 * untouched).  The caller treats a missing or empty value as "no resume"
 * before asking.
 */
int feed_parse_event_id(const char *s, uint64_t *out);

/* --- handlers (routes.c) ----------------------------------------------- */

/* GET /api/v1/channels and /api/v1/channels/{id}[/posts|/events] */
enum MHD_Result feed_api(struct req *r);
/* GET / : the channel index page */
enum MHD_Result page_index(struct req *r);
/* GET /openapi.yaml: docs/openapi.yaml (built in), the API's OpenAPI 3 description. */
enum MHD_Result page_openapi(struct req *r);
/* GET /channels/{id} : one channel's page */
enum MHD_Result page_channel(struct req *r);
/* GET /assets/{name} : the pages' script and style sheet, built into vcpd */
enum MHD_Result page_asset(struct req *r);

#endif
