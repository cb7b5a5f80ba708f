/*
 * The webhook check of set_webhook (docs/API.md §4): URL policy, SSRF guard,
 * Viber-style signing and the HTTPS call itself.
 *
 * Checks run on the checker's own thread (a libcurl multi loop), never on the
 * HTTP thread: webhook_check_start() returns at once and the done callback
 * fires later, on the checker's thread, exactly once per started check.  A
 * slow webhook therefore delays nothing but its own set_webhook request.
 *
 * The SSRF guard is applied in libcurl's open-socket callback, i.e. to the
 * resolved address that is about to be connected to, not to the host name:
 * a name whose resolution changes between a check and the connect cannot
 * slip through, because there is no separate check.
 */
#ifndef VCP_WEBHOOK_H
#define VCP_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

struct webhook_cfg {
    bool allow_http;         /* sandbox: http:// URLs allowed */
    bool allow_private;      /* sandbox: loopback/private/link-local targets allowed */
    const char *extra_ca;    /* PEM file trusted besides the system CAs, or NULL */
    const char *system_ca;   /* system bundle; NULL = /etc/ssl/certs/ca-certificates.crt */
    long connect_timeout_ms; /* 0 = 3000 */
    long total_timeout_ms;   /* 0 = 10000 */
    int max_parallel;        /* concurrent checks; 0 = 1024; more wait in a queue */
};

struct webhook; /* the checker: a thread and a curl multi handle */

/*
 * Starts a checker.  Reads the CA files once, here.  Returns 0, or -1 with a
 * reason in err.  *out is owned by the caller; free with webhook_free.
 */
int webhook_new(struct webhook **out, const struct webhook_cfg *cfg, char *err, size_t err_len);

/* Stops the thread; checks still running or queued finish with status
 * invalidUrl ("shutting down") before it returns.  NULL is a no-op.  Must
 * not be called from a done callback (it joins the thread that runs them),
 * nor while another thread may still call webhook_check_start on w. */
void webhook_free(struct webhook *w);

/* Called once per check, on the checker's thread.  status is VCP_STATUS_OK or
 * VCP_STATUS_INVALID_URL; detail says why ("" on success), valid only during
 * the call.  Keep it short: other checks wait while it runs. */
typedef void (*webhook_done_fn)(void *arg, int status, const char *detail);

struct webhook_check {
    const char *url;           /* already passed webhook_url_check */
    const char *token;         /* signing key: the channel's auth token */
    const char *chat_hostname; /* channel name for the callback body */
    uint64_t message_token;    /* for the callback body */
    uint64_t timestamp_ms;     /* for the callback body */
    webhook_done_fn done;
    void *arg;
};

/*
 * Queues a check; copies everything it needs out of c.  Returns 0, or -1
 * (out of memory / shutting down) in which case done is never called.
 * Thread-safe.
 */
int webhook_check_start(struct webhook *w, const struct webhook_check *c);

/*
 * Media checks (vcpd --check-media): a GET of a post's media or thumbnail
 * on the same thread, through the same SSRF guard, CA store and timeouts as
 * the checks (redirects: up to 3, each connect guarded).  The body is not
 * kept: only its first bytes and its size.
 */
struct media_facts {
    bool ok;                /* fetched: HTTP 200 and the facts below */
    char detail[200];       /* why not, when !ok */
    bool over;              /* more than max_bytes */
    int64_t size;           /* bytes: Content-Length, or counted; -1 unknown (over) */
    unsigned char head[16]; /* the first bytes */
    size_t head_len;
};

/* Called once per fetch, on the checker's thread; f valid during the call. */
typedef void (*webhook_fetch_fn)(void *arg, const struct media_facts *f);

struct webhook_fetch {
    const char *url;   /* an absolute http(s) URL */
    int64_t max_bytes; /* a body over this is not read on (f->over) */
    webhook_fetch_fn done;
    void *arg;
};

/* Queues a fetch, as webhook_check_start queues a check (same return, same thread). */
int webhook_fetch_start(struct webhook *w, const struct webhook_fetch *f);

/*
 * The URL policy before any network I/O, in this order: an absolute URL
 * (src/core/url.h, which takes ASCII only, so its bytes are its
 * characters), at most 2000 characters, https unless allow_http.  Returns
 * VCP_STATUS_OK or VCP_STATUS_INVALID_URL with detail.
 */
int webhook_url_check(const char *url, bool allow_http, char *detail, size_t detail_len);

/*
 * The callback body vcpd sends:
 * {"event":"webhook","timestamp":T,"chat_hostname":"...","message_token":N}
 * written to buf; returns its length, or -1 if it does not fit.
 */
int webhook_body(char *buf, size_t len, uint64_t timestamp_ms, const char *chat_hostname,
                 uint64_t message_token);

/* Lowercase hex HMAC-SHA256 of body keyed by key, as Viber signs callbacks. */
void webhook_sign(const char *key, const void *body, size_t body_len, char hex[65]);

/*
 * True when a callback may connect to sa: false for loopback, private
 * (RFC 1918), carrier-grade NAT, link-local, multicast, broadcast,
 * unspecified, IPv6 unique-local/link-local/loopback and IPv4-mapped or
 * -compatible forms of any of those -- unless allow_private.
 */
bool webhook_addr_allowed(const struct sockaddr *sa, bool allow_private);

#endif
