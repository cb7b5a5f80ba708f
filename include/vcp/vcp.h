/*
 * libvcp: a C client for the Viber Channels Post API (the real service at
 * https://chatapi.viber.com/pa, or a self-hosted vcpd).  This is the only
 * header users include; it brings in <vcp/status.h> for the wire status codes.
 *
 * Shape of the API (curl's, in small):
 *   - every call that can fail returns an `enum vcp_error`; VCP_E_OK means the
 *     server answered status 0 (ok).  Everything else about the outcome is in a
 *     caller-owned `struct vcp_result` (wire status, its name, vcpd's detail,
 *     message_token), so no result ever needs freeing;
 *   - messages are built by typed constructors (vcp_msg_text(), ...) or from
 *     raw JSON (vcp_msg_from_json()), and are validated locally with the very
 *     rules vcpd runs (src/core) before anything is sent: an invalid message
 *     gives VCP_E_INVALID with the status and detail vcpd would have answered;
 *   - retries with exponential backoff and jitter happen inside the library,
 *     only when resending cannot duplicate a post: status 12
 *     (tooManyRequests), and transport failures where the request surely never
 *     reached the server (connection refused, host not resolved).
 *
 * Ownership: every `_new` / constructor result is owned by the caller and
 * released with the matching `_free`; every `_free(NULL)` is a no-op.  Strings
 * returned as `const char *` belong to the object they came from and live as
 * long as it does (or until the next call on it, where said so).  Strings
 * returned as `char *` belong to the caller and are released with vcp_free().
 *
 * Threads: a vcp_client is not thread-safe; use one client per thread (they
 * share nothing).  Messages and accounts are plain data: they may be read
 * from several threads at once, but not modified concurrently.  Call
 * vcp_global_init() once, before any thread creates a client (it initialises
 * libcurl, which is not thread-safe to initialise).
 *
 * The library never aborts and never prints.
 */
#ifndef VCP_VCP_H
#define VCP_VCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vcp/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VCP_VERSION          "0.1.0"
#define VCP_DEFAULT_BASE_URL "https://chatapi.viber.com/pa"

/* What went wrong on the library's side of a call. */
enum vcp_error {
    VCP_E_OK = 0,    /* the server answered status 0 */
    VCP_E_STATUS,    /* the server answered a non-zero status: result.status, .detail */
    VCP_E_INVALID,   /* local validation failed, nothing sent: result.status, .detail */
    VCP_E_TRANSPORT, /* no answer (connect, TLS, timeout...): result.detail; see .maybe_sent */
    VCP_E_PROTOCOL,  /* an answer that is not the API's JSON (HTTP error, bad JSON) */
    VCP_E_NOMEM,     /* out of memory */
    VCP_E_ARG,       /* a bad argument (NULL client, NULL message, ...) */
    VCP_E_IO,        /* a local file could not be read (certificate, key, ...) */
};

/* A static, human-readable name for an enum vcp_error ("transport error", ...). */
const char *vcp_error_name(int err);

/* The library's version string, static. */
const char *vcp_version(void);

/*
 * Initialises libcurl once for the process.  Call before starting threads
 * that use libvcp; vcp_client_new() calls it too (harmless when
 * single-threaded).  Returns VCP_E_OK or VCP_E_NOMEM.
 */
enum vcp_error vcp_global_init(void);

/*
 * Does nothing, and is kept so that code written for the init/cleanup pair
 * links: libcurl's global state, once set up by vcp_global_init(), is left
 * to process exit (it cannot be set up again once cleaned up).
 */
void vcp_global_cleanup(void);

/* Releases a `char *` the library handed to the caller.  NULL is a no-op. */
void vcp_free(void *p);

/* ---------------------------------------------------------------- results */

#define VCP_DETAIL_MAX 512

/*
 * The outcome of one call.  Caller-owned (usually on the stack); every call
 * that takes one resets it first.  Strings are inline buffers, so nothing
 * here needs freeing.
 */
struct vcp_result {
    int status;                  /* wire status (vcp/status.h); -1 when there was no answer */
    const char *status_name;     /* static name of status ("ok", "badData", ...), or "" */
    char status_message[64];     /* the server's status_message as received */
    char detail[VCP_DETAIL_MAX]; /* why: vcpd's detail, the local rule, or the transport error */
    uint64_t message_token;      /* post: the stored message's id (0 if none) */
    char chat_hostname[256];     /* post: the channel name the server reported */
    int billing_status;          /* post: as reported (0 when absent) */
    long http_code;              /* HTTP status of the last attempt (0 if none) */
    int attempts;                /* requests made, retries included */
    bool maybe_sent;             /* VCP_E_TRANSPORT/PROTOCOL: the request may have
                                    reached the server (so a post may exist) */
};

/* ---------------------------------------------------------------- client */

/* Called before each retry, from the calling thread.  reason is static or valid during the call. */
typedef void (*vcp_retry_fn)(void *arg, int attempt, long delay_ms, const char *reason);

/*
 * Client options.  Initialise with vcp_options_init(), then change fields;
 * strings are copied by vcp_client_new().
 */
struct vcp_options {
    const char *base_url;    /* API root; default VCP_DEFAULT_BASE_URL (…/pa, no trailing /) */
    const char *user_agent;  /* default "libvcp/VERSION" */
    long connect_timeout_ms; /* default 10000 */
    long timeout_ms;         /* whole request, default 30000 */
    int max_retries;         /* extra attempts when retrying is safe; default 5, 0 = never */
    long backoff_initial_ms; /* first delay; default 500 */
    long backoff_max_ms;     /* cap on one delay; default 30000 */
    const char *ca_file;     /* extra CA bundle (PEM) for https, or NULL for the system's */
    bool insecure;           /* skip certificate verification (tests only); default false */
    vcp_retry_fn on_retry;   /* optional: told about each retry (e.g. to show "rate limited") */
    void *on_retry_arg;      /* passed to on_retry */
};

/* Fills o with the defaults listed above. */
void vcp_options_init(struct vcp_options *o);

typedef struct vcp_client vcp_client;

/*
 * Makes a client for one channel token.  opts may be NULL (defaults).  The
 * token and option strings are copied.  On success *out is owned by the
 * caller (vcp_client_free).  Returns VCP_E_OK, VCP_E_ARG (NULL token/out,
 * base_url not http(s)) or VCP_E_NOMEM.  No network I/O happens here.
 */
enum vcp_error vcp_client_new(vcp_client **out, const char *token, const struct vcp_options *opts);

/* Frees the client and closes its connection.  NULL is a no-op. */
void vcp_client_free(vcp_client *c);

/*
 * The raw body of the last answer the client received, NUL-terminated, or
 * NULL when the last call got none.  Owned by the client; valid until the next
 * call on it.  Useful to print the server's JSON verbatim (`vcp --json`).
 */
const char *vcp_client_last_body(const vcp_client *c);

/*
 * The URL of the last request the client made (base_url + "/post", ...), or
 * NULL before the first.  Also valid inside on_retry, where it is the request
 * about to be retried.  Owned by the client; valid until the next call on it.
 * Lets a tool say which endpoint failed or is being retried.
 */
const char *vcp_client_last_url(const vcp_client *c);

/*
 * POST /set_webhook {"url": url}.  The server calls the URL before answering.
 * Retried on 12 and on "not connected" failures (setting a webhook twice is
 * harmless).  Returns VCP_E_OK when status is 0; see enum vcp_error.
 */
enum vcp_error vcp_set_webhook(vcp_client *c, const char *url, struct vcp_result *res);

/* Removes the webhook: set_webhook with url "" (no callback is made). */
enum vcp_error vcp_remove_webhook(vcp_client *c, struct vcp_result *res);

/* ---------------------------------------------------------------- account */

struct vcp_member {
    char *id;     /* sender id to use as a message's "from" */
    char *name;   /* display name ("" if absent) */
    char *avatar; /* avatar URL ("" if absent) */
    char *role;   /* "superadmin" or "admin" ("" if absent) */
};

/* get_account_info, parsed.  Absent string fields are "" (never NULL). */
struct vcp_account {
    char *id; /* "pa:…" (also read from the seed's "Id") */
    char *name;
    char *uri;
    char *icon;
    char *background;
    char *category;
    char *subcategory;
    char *location; /* as sent: a string, or the JSON text of an object */
    char *country;
    char *webhook; /* "" when no webhook is set */
    char *chat_hostname;
    int64_t subscribers_count; /* -1 when absent */
    char **event_types;        /* event_types_count strings */
    size_t event_types_count;
    struct vcp_member *members; /* members_count entries, in the server's order */
    size_t members_count;
};

/*
 * GET-like POST /get_account_info.  On VCP_E_OK *out is a new account owned by
 * the caller (vcp_account_free); otherwise *out is NULL.  Retried on 12 and
 * on transport failures (reading is idempotent).
 */
enum vcp_error vcp_get_account_info(vcp_client *c, struct vcp_account **out,
                                    struct vcp_result *res);

/* Frees an account and all its strings.  NULL is a no-op. */
void vcp_account_free(struct vcp_account *a);

/*
 * The id of the first member whose role is "superadmin" (the only members
 * allowed to post), or NULL.  Owned by a.
 */
const char *vcp_account_first_superadmin(const struct vcp_account *a);

/* ---------------------------------------------------------------- messages */

typedef struct vcp_msg vcp_msg;

/*
 * Typed constructors.  Each returns a new message owned by the caller
 * (vcp_msg_free), or NULL when out of memory.  They do not judge their
 * arguments: a NULL string leaves the field out, and vcp_msg_validate() /
 * vcp_post() report what is missing or wrong exactly as vcpd would
 * ("text: required", "size: 0 out of range 1..52428800", ...).  from may be
 * NULL and set later with vcp_msg_set_from().  Strings are copied.
 */
vcp_msg *vcp_msg_text(const char *from, const char *text);
/* text may be "" (the seed allows an empty description); thumbnail may be NULL. */
vcp_msg *vcp_msg_picture(const char *from, const char *text, const char *media,
                         const char *thumbnail);
/* duration < 0 leaves it out; thumbnail may be NULL. */
vcp_msg *vcp_msg_video(const char *from, const char *media, int64_t size, int64_t duration,
                       const char *thumbnail);
vcp_msg *vcp_msg_file(const char *from, const char *media, int64_t size, const char *file_name);
vcp_msg *vcp_msg_contact(const char *from, const char *name, const char *phone_number);
vcp_msg *vcp_msg_location(const char *from, double lat, double lon);
/* text may be NULL (optional description). */
vcp_msg *vcp_msg_url(const char *from, const char *media, const char *text);
vcp_msg *vcp_msg_sticker(const char *from, int64_t sticker_id);

/*
 * The escape hatch: a message from a JSON object's text (e.g. one line of a
 * JSONL file, or a type newer than this library).  Any "auth_token" in it is
 * dropped (the client sends its own).  Returns VCP_E_OK and a new message in
 * *out (caller frees), VCP_E_INVALID with res->status badData and a detail
 * when json is not a JSON object, VCP_E_NOMEM, or VCP_E_ARG.  The content is
 * not validated here.  res may be NULL.
 */
enum vcp_error vcp_msg_from_json(const char *json, size_t len, vcp_msg **out,
                                 struct vcp_result *res);

/* Frees a message.  NULL is a no-op. */
void vcp_msg_free(vcp_msg *m);

/* Sets (replaces) "from".  Returns VCP_E_OK, VCP_E_ARG or VCP_E_NOMEM. */
enum vcp_error vcp_msg_set_from(vcp_msg *m, const char *from);

/* "from" when it is a string, else NULL.  Owned by m; valid until m changes. */
const char *vcp_msg_from(const vcp_msg *m);

/* True when m has a top-level field named key (whatever its value, null included). */
bool vcp_msg_has_field(const vcp_msg *m, const char *key);

/* "type" when it is a string, else NULL.  Owned by m; valid until m changes. */
const char *vcp_msg_type(const vcp_msg *m);

/* Sets the optional sender {"name", "avatar"} (avatar may be NULL). VCP_E_OK/ARG/NOMEM. */
enum vcp_error vcp_msg_set_sender(vcp_msg *m, const char *name, const char *avatar);

/*
 * The message as compact JSON text, without auth_token.  Returns a new string
 * owned by the caller (vcp_free), or NULL when out of memory.
 */
char *vcp_msg_to_json(const vcp_msg *m);

/*
 * Validates m with vcpd's rules (from and type present, from a string, the
 * type's own rules).  Returns VCP_E_OK, or VCP_E_INVALID with res->status and
 * res->detail set to what vcpd would answer.  Whether "from" is a superadmin
 * only the server can tell.  res may be NULL.
 */
enum vcp_error vcp_msg_validate(const vcp_msg *m, struct vcp_result *res);

/*
 * Validates m, then POST /post.  On VCP_E_OK res->message_token holds the
 * message's id.  A post is retried only when that cannot duplicate it: on
 * status 12 and when the connection was never made.  After a failure that
 * may have delivered it (timeout after sending, broken answer, HTTP 5xx),
 * VCP_E_TRANSPORT or VCP_E_PROTOCOL is returned with res->maybe_sent true and
 * nothing is resent.
 */
enum vcp_error vcp_post(vcp_client *c, const vcp_msg *m, struct vcp_result *res);

/* ---------------------------------------------------------------- webhooks */

/*
 * The signature Viber (and vcpd) put on callbacks: lowercase hex
 * HMAC-SHA256 of the exact body keyed by the channel's token.  Writes 64 hex
 * digits and a NUL to out.  Returns VCP_E_OK, VCP_E_ARG or VCP_E_NOMEM.
 */
enum vcp_error vcp_signature(const char *token, const void *body, size_t len, char out[65]);

/* True when sig (hex, any case) is the signature of body under token; constant time. */
bool vcp_signature_verify(const char *token, const void *body, size_t len, const char *sig);

/* One callback received by a vcp_webhook_server, valid only during the call. */
struct vcp_webhook_event {
    const char *method; /* "POST", ... */
    const char *path;   /* request path, without the query */
    const char *body;   /* NUL-terminated body as received */
    size_t body_len;
    const char *signature;  /* from X-Viber-Content-Signature, else the sig query, or NULL */
    bool signature_ok;      /* signature verified against the token */
    const char *event;      /* the body's "event" ("webhook", ...) or NULL */
    uint64_t message_token; /* the body's message_token, 0 if absent */
    uint64_t timestamp;     /* the body's timestamp (ms), 0 if absent */
    const char *peer;       /* client address as text */
    int http_status;        /* what the server answers: 200, or 403 for a bad signature */
};

/* Called on the server's own thread for each request, after the answer is chosen. */
typedef void (*vcp_webhook_fn)(void *arg, const struct vcp_webhook_event *ev);

struct vcp_webhook_server_options {
    const char *token;       /* channel token, to verify signatures; required */
    const char *host;        /* address to bind, default "127.0.0.1" (IPv4 literal) */
    int port;                /* 0 = an ephemeral port (see vcp_webhook_server_port) */
    const char *cert_file;   /* PEM certificate (chain) for HTTPS; NULL = plain HTTP */
    const char *key_file;    /* PEM private key for HTTPS */
    bool accept_unsigned;    /* answer 200 even without a valid signature */
    vcp_webhook_fn on_event; /* optional log hook */
    void *arg;               /* passed to on_event */
};

typedef struct vcp_webhook_server vcp_webhook_server;

/*
 * Starts a small webhook responder on its own thread: it answers every POST
 * whose signature verifies with 200 (403 otherwise, unless accept_unsigned),
 * so it can serve as the webhook of set_webhook.  Returns VCP_E_OK and *out
 * (caller frees with vcp_webhook_server_free), VCP_E_ARG (bad options),
 * VCP_E_IO (certificate/key unreadable) or VCP_E_TRANSPORT (cannot listen);
 * err receives the reason.
 */
enum vcp_error vcp_webhook_server_new(vcp_webhook_server **out,
                                      const struct vcp_webhook_server_options *o, char *err,
                                      size_t err_len);

/* The TCP port actually listened on. */
int vcp_webhook_server_port(const vcp_webhook_server *s);

/* Stops the server (waits for its thread) and frees it.  NULL is a no-op. */
void vcp_webhook_server_free(vcp_webhook_server *s);

#ifdef __cplusplus
}
#endif
#endif /* VCP_VCP_H */
