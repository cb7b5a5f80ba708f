/*
 * Media checks (vcpd serve --check-media, opt-in): before a picture, video
 * or file post is stored, vcpd fetches its media and thumbnail -- on the
 * webhook checker's thread, through its SSRF guard (webhook.h) -- and
 * checks what the seed says of them: a picture is a JPEG of at most 1 MiB,
 * a thumbnail a JPEG of at most 100 KiB, a video an MP4 of at most 50 MiB
 * whose length is the declared size, a file at most 50 MiB and of the
 * declared size.  A refused medium answers 3 with the reason.  What was
 * learned of a URL is cached for a while, so a channel posting the same
 * picture twice fetches it once.
 *
 * HTTP thread only, but for the fetches' callbacks (the checker's thread),
 * which touch nothing but their request.
 */
#ifndef VCP_SERVER_MEDIA_H
#define VCP_SERVER_MEDIA_H

#include <stddef.h>

#include <json-c/json.h>
#include <microhttpd.h>

#define MEDIA_PICTURE_MAX   (1024 * 1024)      /* "Max size 1 MB. Only JPEG" */
#define MEDIA_THUMBNAIL_MAX (100 * 1024)       /* "Max size 100 kb ... JPEG" */
#define MEDIA_LARGE_MAX     (50 * 1024 * 1024) /* video and file: "Max size 50 MB" */
#define MEDIA_CACHE_S       300                /* how long what was learned of a URL holds */

struct media;
struct req;

struct media *media_new(void);
void media_free(struct media *m); /* NULL is a no-op */

enum media_step {
    MEDIA_GO_ON,   /* nothing to fetch, and what is known is fine: store the post */
    MEDIA_REFUSED, /* a medium is refused: answer 3 with detail */
    MEDIA_PENDING  /* fetching: r is suspended and cont(r) runs when done */
};

/*
 * Checks the media of the normalised message norm of post request r.
 * Returns an enum media_step; on MEDIA_PENDING, cont(r) calls media_verdict.
 */
int media_check(struct req *r, struct json_object *norm, enum MHD_Result (*cont)(struct req *),
                char *detail, size_t detail_len);

/*
 * After the fetches: VCP_STATUS_OK, VCP_STATUS_BAD_DATA with detail, or
 * VCP_STATUS_GENERAL_ERROR when vcpd could not fetch at all (shutting down).
 * Frees r's fetch state; caches what was learned.
 */
int media_verdict(struct req *r, char *detail, size_t detail_len);

/* Frees a request's fetch state (struct req's media); NULL is a no-op. */
struct media_job;
void media_job_free(struct media_job *job);

#endif
