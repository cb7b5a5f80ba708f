/*
 * Live event streams (Server-Sent Events) of a channel's committed posts.
 *
 * Two ways in, one set of rules.  A connection whose first request is
 * `GET /api/v1/channels/{id}/events` is handed over by the acceptor
 * (accept.h) and served here on a thread of our own: its request head is
 * read and checked by stream_head_parse, then the stream is written to the
 * socket with non-blocking writes from one epoll loop, so an idle viewer
 * costs a few hundred bytes.  A stream asked for on a kept-alive connection
 * that libmicrohttpd already serves stays there, through its public API: a
 * response whose body comes from a content-reader callback, suspended
 * (MHD_suspend_connection, the pattern microhttpd.h prescribes) while there
 * is nothing to send.
 *
 * Order and completeness: posts are published by the group-commit thread,
 * after their commit, in commit order (which is token order), so a stream
 * never sees a smaller token after a larger one.  A stream resumed with
 * Last-Event-ID first replays from the store, in pages of STREAM_PAGE posts
 * read as the socket drains, and turns live only when a page comes back
 * short and nothing was published to the channel since that page was asked
 * for; until then live posts are left to the next page.  A stream is
 * registered with its channel before anything of its answer is sent, so
 * nothing committed after it opened can miss it.
 *
 * Memory per stream: struct sub and, while the client reads slower than
 * posts arrive, references to shared encoded events (at most
 * STREAM_BACKLOG_MAX bytes, then the stream ends and the client resumes
 * with Last-Event-ID); while replaying, one page (at most STREAM_PAGE
 * posts, each at most ~31 KiB encoded); while its head is being read, up to
 * STREAM_HEAD_MAX bytes.
 */
#ifndef VCP_SERVER_STREAM_H
#define VCP_SERVER_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <microhttpd.h>

#define STREAM_PAGE        8            /* posts per replay page */
#define STREAM_BACKLOG_MAX (512 * 1024) /* queued bytes past which a stream ends */
#define STREAM_HEAD_MAX    8192         /* a stream request's head, as libmicrohttpd's */

struct streams;
struct req;
struct post;
struct server;

/*
 * Creates the streams' state, with a store connection of its own for the
 * streams served here, and starts their thread and the heartbeat thread (a
 * comment every 15 s, or VCPD_SSE_PING_MS).  0, or -1 (logged).
 */
int streams_new(struct streams **out, struct server *srv);

/*
 * Ends every stream and refuses new ones; later publishes do nothing.  The
 * streams served here are closed and their thread joined; those in
 * libmicrohttpd end as soon as it gets to them.  Call before the daemon stops.
 */
void streams_stop(struct streams *st);

/* Frees everything, after the daemon has stopped.  NULL: no-op. */
void streams_free(struct streams *st);

/*
 * Takes a connection the acceptor routed here (fd, non-blocking; the
 * acceptor counts it until acceptor_conn_closed).  Any thread.
 */
void streams_adopt(struct streams *st, int fd, const struct sockaddr *sa, socklen_t len);

/*
 * Sends a committed post to its channel's live streams.  Any thread; the
 * caller must publish in commit order.  Nothing of p is kept.
 */
void streams_publish(struct streams *st, const struct post *p);

/*
 * Ends every stream (each client resumes with Last-Event-ID and replays from the database):
 * for when posts may have been published to none of them (cluster.h: the instance did not
 * hear of other instances' posts for a while).  Any thread; NULL is a no-op.
 */
void streams_end_all(struct streams *st);

/* Open streams of a channel row id.  Any thread. */
unsigned streams_viewers(struct streams *st, int64_t channel);
/* Open streams, all channels together (counted from when a stream is accepted).  Any thread. */
unsigned streams_count(struct streams *st);

/*
 * Answers r (on libmicrohttpd's thread) with a stream of channel's posts:
 * newer than after, from the store first, when resume is set; only live
 * ones otherwise.  Answers 503 when stopping or --max-connections streams
 * are open, 429 when the client's address holds --max-streams-per-ip
 * already.
 */
enum MHD_Result streams_open(struct streams *st, struct req *r, int64_t channel, uint64_t after,
                             bool resume);

/* What a stream's request asks for. */
struct stream_head {
    char pa_id[32]; /* the channel's public id, percent-decoded and checked */
    uint64_t after; /* resume point when resume is set */
    bool resume;    /* Last-Event-ID (header, or else ?last_event_id=) was given */
};

/*
 * Parses a stream request's head (buf, n bytes, ending with the blank
 * line) strictly: `GET /api/v1/channels/{id}/events[?query] HTTP/1.x`,
 * header lines with token names, exactly one Host in HTTP/1.1, no body.
 * Returns 0 with *h filled, or the HTTP status to answer (400, 404, 505)
 * with *why saying what was wrong (a static string).
 */
unsigned stream_head_parse(const char *buf, size_t n, struct stream_head *h, const char **why);

#endif
