/*
 * The client: one libcurl easy handle per vcp_client, so consecutive calls
 * reuse the kept-alive connection, and the retry loop that decides -- per
 * failure -- whether sending again could duplicate a post.  The rule is
 * deliberately narrow: a post is resent only after status 12 (the server
 * refused it before storing) or when the connection was never made (DNS
 * failure, connection refused).  A timeout after sending, a dropped
 * connection, a 5xx or an unreadable answer may hide a stored post, so those
 * are reported with maybe_sent and never retried.  Idempotent calls
 * (get_account_info, set_webhook) also retry those.
 *
 * libcurl itself resends a request whose kept-alive connection closed
 * without an answer ("Connection died, retrying a fresh connect"), which is
 * right for an idle connection the server had dropped but double-posts when
 * the server handled the post and the answer was lost.  So a post's body is
 * handed over by a read callback whose rewind fails (CURLOPT_SEEKFUNCTION):
 * libcurl then reports the transfer failed instead of sending it again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "client/internal.h"
#include "core/body.h"
#include "core/msg.h"

struct vcp_client {
    CURL *curl;              /* one handle: its connection cache gives keep-alive */
    struct curl_slist *hdrs; /* token + content type, built once */
    char *base_url;          /* without trailing '/' */
    char *user_agent;
    char *ca_file;
    struct vcp_options opts; /* copy; string fields point at the copies above */
    char *url;               /* of the last (or current) request; vcp_client_last_url */
    char *body;              /* last answer, NUL-terminated */
    size_t body_len, body_cap;
    bool body_too_big;
    long retry_after_ms; /* from the last answer's Retry-After, or -1 */
    const char *up;      /* a post's body being sent (read_body), and how far */
    size_t up_len, up_off;
    uint32_t rnd; /* jitter state */
};

/* ---------------------------------------------------------------- misc */

const char *vcp_version(void)
{
    return VCP_VERSION;
}

const char *vcp_error_name(int err)
{
    switch (err) {
    case VCP_E_OK:
        return "ok";
    case VCP_E_STATUS:
        return "error status from server";
    case VCP_E_INVALID:
        return "invalid message";
    case VCP_E_TRANSPORT:
        return "transport error";
    case VCP_E_PROTOCOL:
        return "protocol error";
    case VCP_E_NOMEM:
        return "out of memory";
    case VCP_E_ARG:
        return "bad argument";
    case VCP_E_IO:
        return "I/O error";
    }
    return "unknown error";
}

void vcp_free(void *p)
{
    free(p);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum vcp_error vcp_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc == CURLE_OK ? VCP_E_OK : VCP_E_NOMEM;
}

void vcp_global_cleanup(void)
{
    /* Left to process exit: curl_global_cleanup cannot be undone by pthread_once. */
}

void vcp_options_init(struct vcp_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->base_url = VCP_DEFAULT_BASE_URL;
    o->user_agent = "libvcp/" VCP_VERSION;
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 30000;
    o->max_retries = 5;
    o->backoff_initial_ms = 500;
    o->backoff_max_ms = 30000;
}

/* ---------------------------------------------------------------- setup */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct vcp_client *c = arg;
    size_t len = size * n;

    if (c->body_len + len > CLIENT_ANSWER_MAX) {
        c->body_too_big = true;
        return 0; /* aborts the transfer */
    }
    if (c->body_len + len + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 1024;
        while (cap < c->body_len + len + 1)
            cap *= 2;
        char *b = realloc(c->body, cap);
        if (b == NULL)
            return 0;
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, data, len);
    c->body_len += len;
    c->body[c->body_len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct vcp_client *c = arg;
    size_t len = size * n;
    static const char name[] = "retry-after:";

    if (len > sizeof(name) - 1 && len < 64 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        char v[64];
        memcpy(v, data + sizeof(name) - 1, len - (sizeof(name) - 1));
        v[len - (sizeof(name) - 1)] = '\0';
        c->retry_after_ms = retry_after_ms(v);
    }
    return len;
}

/* Tokens go into a header: refuse anything that could break out of it. */
static bool token_ok(const char *t)
{
    if (t[0] == '\0' || strlen(t) > 512)
        return false;
    for (; *t; t++)
        if ((unsigned char)*t < 0x21 || (unsigned char)*t == 0x7f)
            return false;
    return true;
}

static char *dup_or_null(const char *s, bool *oom)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *oom = true;
    return d;
}

enum vcp_error vcp_client_new(vcp_client **out, const char *token, const struct vcp_options *opts)
{
    struct vcp_options defaults;
    struct vcp_client *c;
    char *hdr = NULL;
    bool oom = false;
    size_t n;

    if (out == NULL)
        return VCP_E_ARG;
    *out = NULL;
    if (token == NULL || !token_ok(token))
        return VCP_E_ARG;
    if (opts == NULL) {
        vcp_options_init(&defaults);
        opts = &defaults;
    }
    const char *base = opts->base_url ? opts->base_url : VCP_DEFAULT_BASE_URL;
    if (strncasecmp(base, "http://", 7) != 0 && strncasecmp(base, "https://", 8) != 0)
        return VCP_E_ARG;
    if (vcp_global_init() != VCP_E_OK)
        return VCP_E_NOMEM;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return VCP_E_NOMEM;
    c->opts = *opts;
    c->base_url = dup_or_null(base, &oom);
    c->user_agent = dup_or_null(opts->user_agent ? opts->user_agent : "libvcp/" VCP_VERSION, &oom);
    c->ca_file = dup_or_null(opts->ca_file, &oom);
    if (oom)
        goto nomem;
    n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    c->opts.base_url = c->base_url;
    c->opts.user_agent = c->user_agent;
    c->opts.ca_file = c->ca_file;
    if (c->opts.max_retries < 0)
        c->opts.max_retries = 0;
    c->rnd = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^ (uint32_t)(uintptr_t)c;

    n = strlen(token) + sizeof("X-Viber-Auth-Token: ");
    hdr = malloc(n);
    if (hdr == NULL)
        goto nomem;
    snprintf(hdr, n, "X-Viber-Auth-Token: %s", token);
    struct curl_slist *l = curl_slist_append(NULL, hdr);
    if (l == NULL)
        goto nomem;
    c->hdrs = l;
    if ((l = curl_slist_append(c->hdrs, "Content-Type: application/json")) == NULL)
        goto nomem;
    if ((l = curl_slist_append(c->hdrs, "Accept: application/json")) == NULL)
        goto nomem;
    /* No "Expect: 100-continue" round trip for the (small) bodies we send. */
    if ((l = curl_slist_append(c->hdrs, "Expect:")) == NULL)
        goto nomem;
    free(hdr);
    hdr = NULL;

    c->curl = curl_easy_init();
    if (c->curl == NULL)
        goto nomem;
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->opts.timeout_ms);
    if (c->ca_file)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
    if (c->opts.insecure) {
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    *out = c;
    return VCP_E_OK;
nomem:
    free(hdr);
    vcp_client_free(c);
    return VCP_E_NOMEM;
}

void vcp_client_free(vcp_client *c)
{
    if (c == NULL)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->hdrs);
    free(c->base_url);
    free(c->user_agent);
    free(c->ca_file);
    free(c->url);
    free(c->body);
    free(c);
}

const char *vcp_client_last_body(const vcp_client *c)
{
    return c && c->body ? c->body : NULL;
}

const char *vcp_client_last_url(const vcp_client *c)
{
    return c ? c->url : NULL;
}

/* ---------------------------------------------------------------- calls */

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Failures where curl never got the request onto a connection to the server. */
static bool surely_not_sent(CURLcode e)
{
    return e == CURLE_COULDNT_CONNECT || e == CURLE_COULDNT_RESOLVE_HOST ||
           e == CURLE_COULDNT_RESOLVE_PROXY;
}

/* Failures before any byte of the request could have been read by the server. */
static bool never_sent(CURLcode e, CURL *h)
{
    curl_off_t up = 0;
    long req = 0;

    if (surely_not_sent(e) || e == CURLE_UNSUPPORTED_PROTOCOL || e == CURLE_URL_MALFORMAT ||
        e == CURLE_SSL_CONNECT_ERROR || e == CURLE_PEER_FAILED_VERIFICATION ||
        e == CURLE_SSL_CERTPROBLEM || e == CURLE_SSL_CACERT_BADFILE)
        return true;
    /* No request header went out (e.g. a connect timeout). */
    if (curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &req) == CURLE_OK && req == 0 &&
        curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up == 0)
        return true;
    return false;
}

enum outcome {
    DONE,  /* final: return rc */
    RETRY, /* safe and useful to try again */
};

/* CURLOPT_READFUNCTION of a post's body. */
static size_t read_body(char *buf, size_t size, size_t n, void *arg)
{
    struct vcp_client *c = arg;
    size_t k = size * n < c->up_len - c->up_off ? size * n : c->up_len - c->up_off;

    memcpy(buf, c->up + c->up_off, k);
    c->up_off += k;
    return k;
}

/* CURLOPT_SEEKFUNCTION of a post's body: libcurl asks only to send it again (see the top). */
static int refuse_rewind(void *arg, curl_off_t offset, int origin)
{
    (void)arg;
    (void)offset;
    (void)origin;
    return CURL_SEEKFUNC_FAIL;
}

/*
 * One attempt.  Returns DONE with *rc set, or RETRY with *reason.  When idem
 * is true the request may be repeated even if it reached the server.
 */
static enum outcome attempt(struct vcp_client *c, const char *url, const char *payload,
                            bool want_token, bool idem, struct vcp_result *res,
                            struct json_object **root, int *rc, const char **reason)
{
    CURLcode e;
    long code = 0;

    c->body_len = 0;
    if (c->body)
        c->body[0] = '\0';
    c->body_too_big = false;
    c->retry_after_ms = -1;
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    if (idem) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    } else {
        c->up = payload;
        c->up_len = strlen(payload);
        c->up_off = 0;
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c->curl, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(c->curl, CURLOPT_READDATA, c);
        curl_easy_setopt(c->curl, CURLOPT_SEEKFUNCTION, refuse_rewind);
        curl_easy_setopt(c->curl, CURLOPT_SEEKDATA, c);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->up_len);
    }
    int tries = res->attempts;
    result_reset(res); /* nothing of an earlier attempt may leak into this one */
    res->attempts = tries + 1;
    e = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    res->http_code = code;
    if (e != CURLE_OK) {
        res->status = -1;
        res->status_name = "";
        res->maybe_sent = !never_sent(e, c->curl);
        if (c->body_too_big)
            result_detail(res, "answer larger than %d bytes", CLIENT_ANSWER_MAX);
        else if (e == CURLE_SEND_FAIL_REWIND) /* refuse_rewind: the answer was lost */
            result_detail(res, "the connection closed before the answer");
        else
            result_detail(res, "%s", curl_easy_strerror(e));
        *rc = c->body_too_big ? VCP_E_PROTOCOL : VCP_E_TRANSPORT;
        if (surely_not_sent(e) || (idem && e != CURLE_WRITE_ERROR)) {
            *reason = curl_easy_strerror(e);
            return RETRY;
        }
        return DONE;
    }
    if (code != 200) {
        res->status = -1;
        res->status_name = "";
        /* 4xx: refused as a request; 5xx (a proxy, a crash) may hide a stored post. */
        res->maybe_sent = code >= 500 || code < 400;
        result_detail(res, "HTTP %ld from %s", code, url);
        *rc = VCP_E_PROTOCOL;
        if (idem && code >= 500) {
            *reason = "server error";
            return RETRY;
        }
        *rc = VCP_E_PROTOCOL;
        return DONE;
    }
    if (c->body == NULL) {
        res->maybe_sent = true;
        result_detail(res, "empty answer");
        *rc = VCP_E_PROTOCOL;
        return DONE;
    }
    *rc = response_parse(c->body, c->body_len, want_token, res, root);
    if (*rc == VCP_E_PROTOCOL)
        res->maybe_sent = true;
    if (*rc == VCP_E_STATUS && res->status == VCP_STATUS_TOO_MANY_REQUESTS) {
        if (root && *root) {
            json_object_put(*root);
            *root = NULL;
        }
        *reason = "tooManyRequests";
        return RETRY;
    }
    return DONE;
}

/* Sends payload to base_url/path with the retry policy; see the file comment. */
static int call(struct vcp_client *c, const char *path, const char *payload, bool want_token,
                bool idem, struct vcp_result *res, struct json_object **root)
{
    char *url;
    size_t n = strlen(c->base_url) + strlen(path) + 2;
    int rc = VCP_E_TRANSPORT, retry;
    const char *reason = NULL;

    url = malloc(n);
    if (url == NULL)
        return VCP_E_NOMEM;
    snprintf(url, n, "%s/%s", c->base_url, path);
    /* Kept after the call: it names the endpoint in retry notices and errors. */
    free(c->url);
    c->url = url;
    for (retry = 0;; retry++) {
        if (attempt(c, url, payload, want_token, idem, res, root, &rc, &reason) == DONE)
            break;
        if (retry >= c->opts.max_retries)
            break;
        long d = backoff_delay_ms(c->opts.backoff_initial_ms, c->opts.backoff_max_ms, retry + 1,
                                  backoff_rand(&c->rnd));
        if (c->retry_after_ms > d)
            d = c->retry_after_ms < c->opts.backoff_max_ms ? c->retry_after_ms
                                                           : c->opts.backoff_max_ms;
        if (c->opts.on_retry)
            c->opts.on_retry(c->opts.on_retry_arg, retry + 1, d, reason);
        sleep_ms(d);
    }
    return rc;
}

static int check(vcp_client *c, struct vcp_result *res)
{
    if (res)
        result_reset(res);
    return c == NULL || res == NULL ? VCP_E_ARG : VCP_E_OK;
}

static int post_json(vcp_client *c, const char *path, struct json_object *o, bool want_token,
                     bool idem, struct vcp_result *res, struct json_object **root)
{
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

    if (s == NULL)
        return VCP_E_NOMEM;
    return call(c, path, s, want_token, idem, res, root);
}

enum vcp_error vcp_set_webhook(vcp_client *c, const char *url, struct vcp_result *res)
{
    struct json_object *o;
    int rc;

    if ((rc = check(c, res)) != VCP_E_OK || url == NULL)
        return rc != VCP_E_OK ? rc : VCP_E_ARG;
    o = json_object_new_object();
    if (o == NULL || json_object_object_add(o, "url", json_object_new_string(url)) != 0) {
        json_object_put(o);
        return VCP_E_NOMEM;
    }
    rc = post_json(c, "set_webhook", o, false, true, res, NULL);
    json_object_put(o);
    return rc;
}

enum vcp_error vcp_remove_webhook(vcp_client *c, struct vcp_result *res)
{
    return vcp_set_webhook(c, "", res);
}

enum vcp_error vcp_get_account_info(vcp_client *c, struct vcp_account **out, struct vcp_result *res)
{
    struct json_object *root = NULL;
    int rc;

    if (out)
        *out = NULL;
    if ((rc = check(c, res)) != VCP_E_OK || out == NULL)
        return rc != VCP_E_OK ? rc : VCP_E_ARG;
    rc = call(c, "get_account_info", "{}", false, true, res, &root);
    if (rc == VCP_E_OK) {
        *out = account_from_json(root);
        if (*out == NULL)
            rc = VCP_E_NOMEM;
    }
    json_object_put(root);
    return rc;
}

enum vcp_error vcp_post(vcp_client *c, const vcp_msg *m, struct vcp_result *res)
{
    const char *s;
    int rc;

    if ((rc = check(c, res)) != VCP_E_OK || m == NULL)
        return rc != VCP_E_OK ? rc : VCP_E_ARG;
    if ((rc = vcp_msg_validate(m, res)) != VCP_E_OK)
        return rc;
    s = json_object_to_json_string_ext(m->obj,
                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s == NULL)
        return VCP_E_NOMEM;
    if (strlen(s) > BODY_MAX) {
        result_set(res, VCP_STATUS_BAD_DATA, "body: %zu bytes, max %d", strlen(s), BODY_MAX);
        return VCP_E_INVALID;
    }
    return call(c, "post", s, true, false, res, NULL);
}
