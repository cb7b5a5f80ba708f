/*
 * Live event streams (Server-Sent Events) of a channel's committed posts,
 * served through libmicrohttpd's public API: each stream is a response
 * whose body comes from a content-reader callback, and a stream with
 * nothing to send is suspended (MHD_suspend_connection, the pattern
 * microhttpd.h prescribes) until a post or a heartbeat resumes it.
 *
 * Streams normally live in a daemon of their own (accept.h says why), whose
 * thread runs their callbacks; one asked for on a kept-alive API connection
 * stays in the API's daemon and works the same way.
 *
 * Order and completeness: posts are published by the group-commit thread,
 * after their commit, in commit order (which is token order), so a stream
 * never sees a smaller token after a larger one.  A stream resumed with
 * Last-Event-ID first replays from the store, in pages of STREAM_PAGE posts
 * read as the socket drains, and turns live only when a page comes back
 * short and nothing was published to the channel since that page was asked
 * for; until then live posts are left to the next page.  A stream is
 * registered with its channel before its request is answered, so nothing
 * committed after it opened can miss it.
 *
 * Memory per stream: struct sub and, while the client reads slower than
 * posts arrive, references to shared encoded events (at most
 * STREAM_BACKLOG_MAX bytes, then the stream is ended and the client resumes
 * with Last-Event-ID); while replaying, one page (at most STREAM_PAGE
 * posts, each at most ~31 KiB encoded).  Plus libmicrohttpd's connection
 * and its memory pool (http.c).
 */
#ifndef VCP_SERVER_STREAM_H
#define VCP_SERVER_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#define STREAM_PAGE        8            /* posts per replay page */
#define STREAM_BACKLOG_MAX (512 * 1024) /* queued bytes past which a stream ends */

struct streams;
struct req;
struct post;
struct server;

/*
 * Creates the streams' state, with a store connection of its own for the
 * replays run on the streams' daemon, and starts the heartbeat thread (a
 * comment every 15 s, or VCPD_SSE_PING_MS).  0, or -1 (logged).
 */
int streams_new(struct streams **out, struct server *srv);

/*
 * Ends every stream (each connection is closed as soon as its daemon gets
 * to it) and refuses new ones; later publishes do nothing.  Call before the
 * daemons stop.
 */
void streams_stop(struct streams *st);

/* Frees everything, after the daemons have stopped.  NULL: no-op. */
void streams_free(struct streams *st);

/* The store connection of the streams' daemon thread. */
struct store *streams_store(struct streams *st);

/*
 * Sends a committed post to its channel's live streams.  Any thread; the
 * caller must publish in commit order.  Nothing of p is kept.
 */
void streams_publish(struct streams *st, const struct post *p);

/* Open streams of a channel row id.  Any thread. */
unsigned streams_viewers(struct streams *st, int64_t channel);

/*
 * Answers r with a stream of channel's posts: newer than after, from the
 * store first, when resume is set; only live ones otherwise.  Answers
 * 503 when stopping or --max-connections streams are open, 429 when the
 * client's address holds --max-streams-per-ip already.  On the thread of
 * r's daemon.
 */
enum MHD_Result streams_open(struct streams *st, struct req *r, int64_t channel, uint64_t after,
                             bool resume);

#endif
