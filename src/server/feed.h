/*
 * The read API (/api/v1/channels/...) and the helpers the event streams
 * share with it; the web pages built on it are page.h's, the live event
 * streams it opens stream.h's.
 */
#ifndef VCP_SERVER_FEED_H
#define VCP_SERVER_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

struct req;
struct post;

/* Upper bound of posts one page of GET .../posts returns, and the default. */
#define FEED_PAGE_MAX     200
#define FEED_PAGE_DEFAULT 50

/* Appends the JSON of one post as the read API and the stream give it. */
struct strbuf;
void feed_post_json(struct strbuf *w, const struct post *p);

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

/* Whether s (n bytes) is a channel's public id: "pa:" and 1..28 digits. */
bool feed_pa_id_valid(const char *s, size_t n);

/* --- handlers (routes.c) ----------------------------------------------- */

/* GET /api/v1/channels and /api/v1/channels/{id}[/posts|/events] */
enum MHD_Result feed_api(struct req *r);

#endif
