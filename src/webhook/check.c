/*
 * The asynchronous webhook check of set_webhook (docs/API.md §4).
 *
 * One checker thread owns a libcurl multi handle and runs every check.  The
 * HTTP threads only build a job (body, signature, URL, a configured easy
 * handle), put it on a mutex-protected queue and wake the thread with
 * curl_multi_wakeup(); they never wait for the network.  The thread moves at
 * most max_parallel jobs from the queue into the multi handle, drives them
 * with curl_multi_perform()/curl_multi_poll(), and calls each job's done
 * callback exactly once when it ends -- or with "shutting down" when the
 * checker is freed first.
 *
 * Every easy handle is locked down the same way: https only (http too in
 * sandbox mode), no redirects, peer and host verification always on against
 * the system CAs plus the optional extra CA, no proxies from the environment,
 * no connection or TLS session reuse (so each check really connects and
 * passes the SSRF guard), bounded timeouts and a bounded response body.
 *
 * The CA files are read once, in webhook_new, and parsed once into an
 * OpenSSL X509_STORE that every check's SSL_CTX shares (by reference, via
 * CURLOPT_SSL_CTX_FUNCTION).  Handing libcurl the PEM text instead
 * (CURLOPT_CAINFO_BLOB) would make it parse the ~200 KB system bundle again
 * for every connection -- some 25 ms of CPU per check on the checker thread,
 * during which no other check makes progress: 50 parallel checks would
 * spend over a second just parsing.  The blob is kept as the fallback for a
 * libcurl built on another TLS library, where the callback does not exist.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "vcp/status.h"
#include "webhook/webhook.h"

#include "common/readall.h"

/* CURLOPT_PROTOCOLS_STR is 7.85, CURLOPT_CA_CACHE_TIMEOUT 7.87. */
#if LIBCURL_VERSION_NUM < 0x075700
#error "src/webhook needs libcurl 7.87 or newer"
#endif

#define DEFAULT_SYSTEM_CA  "/etc/ssl/certs/ca-certificates.crt"
#define DEFAULT_CONNECT_MS 3000
#define DEFAULT_TOTAL_MS   10000
#define DEFAULT_PARALLEL   1024
#define USER_AGENT         "vcpd/0.1"
#define RESPONSE_MAX       (16 * 1024) /* response bytes read before giving up */
#define CA_FILE_MAX        (16L * 1024 * 1024)
#define DETAIL_MAX         512

/* One check, from webhook_check_start() until its done callback returns. */
struct job {
    struct job *next;               /* queue or active list */
    struct webhook *w;              /* the checker it belongs to */
    CURL *easy;                     /* configured in webhook_check_start */
    struct curl_slist *headers;     /* Content-Type, signature, no Expect */
    char *url;                      /* webhook URL + sig, fragment removed */
    char *body;                     /* exact bytes that were signed */
    webhook_done_fn done;           /* called once, on the checker thread */
    void *arg;                      /* for done */
    size_t got;                     /* response body bytes seen */
    bool too_big;                   /* response cut off at RESPONSE_MAX */
    char refused[INET6_ADDRSTRLEN]; /* address the SSRF guard refused, "" if none */
    char errbuf[CURL_ERROR_SIZE];   /* libcurl's own error text */
    /* a media fetch (webhook_fetch_start) instead of a check: */
    webhook_fetch_fn fetch_done; /* non-NULL for a fetch */
    int64_t max_bytes;           /* body bytes read at most */
    int64_t counted;             /* body bytes seen */
    unsigned char head[16];      /* the first of them */
    size_t head_len;
    bool enough; /* stopped reading: its length is known and its head read */
};

struct webhook {
    bool allow_http;    /* cfg: http:// allowed */
    bool allow_private; /* cfg: SSRF guard off */
    long connect_ms;    /* cfg, defaults applied */
    long total_ms;      /* cfg, defaults applied */
    int max_parallel;   /* cfg, defaults applied */
    char *ca;           /* PEM: system bundle + extra CA (the fallback blob) */
    size_t ca_len;
    X509_STORE *store; /* the same certificates, parsed; shared by all checks */
    bool openssl;      /* libcurl uses OpenSSL: share store via SSL_CTX callback */
    CURLM *multi;      /* used by the checker thread; wakeup from any thread */
    pthread_t thread;
    pthread_mutex_t mu; /* guards queue and stopping */
    struct job *queue;  /* accepted, not yet started (FIFO) */
    struct job *queue_tail;
    bool stopping;      /* set by webhook_free; no new checks */
    struct job *active; /* in the multi handle; checker thread only */
    int n_active;       /* checker thread only */
    bool curl_inited;   /* curl_global_init succeeded (undo in free) */
};

static void job_free(struct job *j)
{
    if (j == NULL)
        return;
    curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->url);
    free(j->body);
    free(j);
}

/* Calls done and frees the job; the only way a job ends. */
static void job_finish(struct job *j, int status, const char *detail)
{
    if (j->fetch_done) { /* a fetch that did not get far ("shutting down", ...) */
        struct media_facts f = {.ok = false, .size = -1};
        snprintf(f.detail, sizeof f.detail, "%s", detail);
        j->fetch_done(j->arg, &f);
    } else {
        j->done(j->arg, status, detail);
    }
    job_free(j);
}

/*
 * The SSRF guard.  libcurl calls this with the resolved address it is about
 * to connect() to, once per address it tries (happy eyeballs may try several).
 * Checking here rather than resolving the host name ourselves beforehand is
 * what defeats DNS rebinding: an attacker's name server can answer a public
 * address to a pre-check and 127.0.0.1 to the connect, but here there is no
 * second lookup -- the address checked is the very address the socket is
 * opened for.  The same holds for redirects (not followed anyway) and for
 * names that resolve to several addresses, some private.
 */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct job *j = clientp;
    int type = addr->socktype;

    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    bool big_enough = (addr->family == AF_INET && addr->addrlen >= sizeof(struct sockaddr_in)) ||
                      (addr->family == AF_INET6 && addr->addrlen >= sizeof(struct sockaddr_in6));
    if (!big_enough || !webhook_addr_allowed(&addr->addr, j->w->allow_private)) {
        if (j->refused[0] == '\0') {
            const void *a = NULL;
            if (addr->family == AF_INET)
                a = &((const struct sockaddr_in *)(const void *)&addr->addr)->sin_addr;
            else if (addr->family == AF_INET6)
                a = &((const struct sockaddr_in6 *)(const void *)&addr->addr)->sin6_addr;
            if (a == NULL || inet_ntop(addr->family, a, j->refused, sizeof j->refused) == NULL)
                snprintf(j->refused, sizeof j->refused, "(family %d)", addr->family);
        }
        return CURL_SOCKET_BAD;
    }
#ifdef SOCK_CLOEXEC
    type |= SOCK_CLOEXEC; /* callback sockets must not leak into child processes */
#endif
    return socket(addr->family, type, addr->protocol);
}

/*
 * A fetch's body: keeps the first bytes and counts the rest; stops once the
 * length is known from Content-Length and the head is read, or past max.
 */
static size_t on_media(struct job *j, const char *data, size_t len)
{
    curl_off_t cl = -1;
    size_t k = sizeof j->head - j->head_len < len ? sizeof j->head - j->head_len : len;

    memcpy(j->head + j->head_len, data, k);
    j->head_len += k;
    j->counted += (int64_t)len;
    if (j->counted > j->max_bytes) {
        j->too_big = true;
        return 0;
    }
    curl_easy_getinfo(j->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (cl >= 0 && j->head_len == sizeof j->head) {
        j->enough = true;
        return 0;
    }
    return len;
}

/* Discards the response body, up to RESPONSE_MAX bytes; then aborts. */
static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    struct job *j = userdata;
    size_t len = size * n;

    if (j->fetch_done)
        return on_media(j, data, len);
    (void)data;
    if (len > RESPONSE_MAX - j->got) {
        j->too_big = true;
        return 0; /* != len: libcurl stops with CURLE_WRITE_ERROR */
    }
    j->got += len;
    return len;
}

static bool is_tls_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}

/* Whether the URL's scheme is one this checker may not use (http without
 * allow_http): the one case where libcurl's CURLE_UNSUPPORTED_PROTOCOL is
 * about the URL rather than about what the receiver sent. */
static bool refused_scheme(const struct job *j)
{
    return !j->w->allow_http && strncasecmp(j->url, "https:", 6) != 0;
}

/*
 * Turns a finished transfer into a status and a detail for the set_webhook
 * answer.  The detail names the host at most (from libcurl's error text),
 * never the token: the token only ever enters the HMAC.
 */
static int judge(struct job *j, CURLcode rc, char *d, size_t n)
{
    const struct webhook *w = j->w;
    const char *why = j->errbuf[0] != '\0' ? j->errbuf : curl_easy_strerror(rc);
    long code = 0;

    d[0] = '\0';
    /* libcurl's messages may end in a blank */
    for (size_t k = strlen(j->errbuf); k > 0 && j->errbuf[k - 1] == ' '; k--)
        j->errbuf[k - 1] = '\0';
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
    /* A response cut short by our size limits still has its status line. */
    bool cut = (rc == CURLE_WRITE_ERROR && j->too_big) || rc == CURLE_FILESIZE_EXCEEDED;
    if (rc == CURLE_OK || (cut && code != 0)) {
        if (code == 200)
            return VCP_STATUS_OK;
        if (code >= 300 && code < 400)
            snprintf(d, n, "webhook answered HTTP %ld (redirects are not followed)", code);
        else
            snprintf(d, n, "webhook answered HTTP %ld", code);
        return VCP_STATUS_INVALID_URL;
    }
    if (rc == CURLE_COULDNT_CONNECT && j->refused[0] != '\0') {
        snprintf(d, n, "address not allowed: %s", j->refused);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        curl_off_t connected = 0;
        curl_easy_getinfo(j->easy, CURLINFO_CONNECT_TIME_T, &connected);
        if (connected == 0 && w->connect_ms < w->total_ms)
            snprintf(d, n, "timed out after %ld ms (connecting)", w->connect_ms);
        else
            snprintf(d, n, "timed out after %ld ms", w->total_ms);
    } else if (rc == CURLE_COULDNT_RESOLVE_HOST) {
        snprintf(d, n, "could not resolve host");
    } else if (rc == CURLE_COULDNT_CONNECT) {
        snprintf(d, n, "could not connect: %s", why);
    } else if (rc == CURLE_SSL_CONNECT_ERROR && strstr(why, "SSL_ERROR_SYSCALL") != NULL) {
        /* OpenSSL's words for a peer that hung up mid-handshake */
        snprintf(d, n, "TLS: connection closed during the handshake");
    } else if (is_tls_error(rc)) {
        snprintf(d, n, "TLS: %s", why);
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL && refused_scheme(j)) {
        snprintf(d, n, "url: must use https");
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        /* libcurl's code for an answer with no status line ("HTTP/0.9",
         * which it refuses): whatever it was, it was not HTTP */
        snprintf(d, n, "webhook answered without an HTTP status line");
    } else if (rc == CURLE_URL_MALFORMAT) {
        snprintf(d, n, "url: not a valid URL");
    } else if (rc == CURLE_GOT_NOTHING) {
        snprintf(d, n, "webhook closed the connection without answering");
    } else if (rc == CURLE_WEIRD_SERVER_REPLY) {
        snprintf(d, n, "webhook's answer is not valid HTTP: %s", why);
    } else if (rc == CURLE_PARTIAL_FILE && code != 0) {
        snprintf(d, n,
                 "webhook answered HTTP %ld, then closed the connection before the end of its "
                 "body",
                 code);
    } else if (rc == CURLE_RECV_ERROR) {
        snprintf(d, n, "connection lost while reading the answer: %s", why);
    } else if (rc == CURLE_SEND_ERROR) {
        snprintf(d, n, "connection lost while sending the callback: %s", why);
    } else {
        snprintf(d, n, "request failed: %s", why);
    }
    return VCP_STATUS_INVALID_URL;
}

/* The facts of a finished fetch; judge() words its failures. */
static void judge_fetch(struct job *j, CURLcode rc, struct media_facts *f)
{
    curl_off_t cl = -1;
    long code = 0;

    memset(f, 0, sizeof *f);
    f->size = -1;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
    bool over = (rc == CURLE_WRITE_ERROR && j->too_big) || rc == CURLE_FILESIZE_EXCEEDED;
    bool stopped = rc == CURLE_WRITE_ERROR && j->enough;
    if ((rc == CURLE_OK || over || stopped) && code != 0) {
        if (code != 200) {
            snprintf(f->detail, sizeof f->detail, "the server answered HTTP %ld", code);
            return;
        }
        curl_easy_getinfo(j->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        f->ok = true;
        f->over = over;
        f->size = cl >= 0 ? (int64_t)cl : over ? -1 : j->counted;
        memcpy(f->head, j->head, j->head_len);
        f->head_len = j->head_len;
        return;
    }
    char why[DETAIL_MAX];
    judge(j, rc, why, sizeof why);
    /* judge() speaks of webhooks */
    if (strncmp(why, "webhook", 7) == 0)
        snprintf(f->detail, sizeof f->detail, "the server%.180s", why + 7);
    else
        snprintf(f->detail, sizeof f->detail, "%.190s", why);
}

/* Collects finished transfers; returns how many ended. */
static int reap(struct webhook *w)
{
    CURLMsg *m;
    int left, ended = 0;

    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode rc = m->data.result; /* m dies with remove_handle */
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        struct job *j = (struct job *)(void *)priv;
        curl_multi_remove_handle(w->multi, j->easy);
        for (struct job **p = &w->active; *p != NULL; p = &(*p)->next) {
            if (*p == j) {
                *p = j->next;
                break;
            }
        }
        w->n_active--;
        if (j->fetch_done) {
            struct media_facts f;
            judge_fetch(j, rc, &f);
            j->fetch_done(j->arg, &f);
            job_free(j);
            ended++;
            continue;
        }
        char detail[DETAIL_MAX];
        int status = judge(j, rc, detail, sizeof detail);
        job_finish(j, status, detail);
        ended++;
    }
    return ended;
}

static void *run(void *arg)
{
    struct webhook *w = arg;

    pthread_setname_np(pthread_self(), "vcpd-webhook");
    for (;;) {
        struct job *start = NULL, **tail = &start;
        pthread_mutex_lock(&w->mu);
        bool stop = w->stopping;
        int room = w->max_parallel - w->n_active;
        while (!stop && room > 0 && w->queue != NULL) {
            struct job *j = w->queue;
            w->queue = j->next;
            if (w->queue == NULL)
                w->queue_tail = NULL;
            j->next = NULL;
            *tail = j;
            tail = &j->next;
            room--;
        }
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;

        while (start != NULL) {
            struct job *j = start;
            start = j->next;
            if (curl_multi_add_handle(w->multi, j->easy) != CURLM_OK) {
                job_finish(j, VCP_STATUS_INVALID_URL, "internal error: check not started");
                continue;
            }
            j->next = w->active;
            w->active = j;
            w->n_active++;
        }

        int running = 0;
        curl_multi_perform(w->multi, &running);
        int ended = reap(w);
        /* Something ended: there may be room for queued jobs, so look again
         * at once.  Otherwise sleep until a socket, a timer or a wakeup. */
        curl_multi_poll(w->multi, NULL, 0, ended > 0 ? 0 : 1000, NULL);
    }

    /* Shutting down: everything accepted still gets its one done call. */
    while (w->active != NULL) {
        struct job *j = w->active;
        w->active = j->next;
        curl_multi_remove_handle(w->multi, j->easy);
        w->n_active--;
        job_finish(j, VCP_STATUS_INVALID_URL, "shutting down");
    }
    pthread_mutex_lock(&w->mu);
    struct job *q = w->queue;
    w->queue = w->queue_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    while (q != NULL) {
        struct job *j = q;
        q = j->next;
        job_finish(j, VCP_STATUS_INVALID_URL, "shutting down");
    }
    return NULL;
}

/* Number of X.509 certificates in PEM text; each is added to store unless
 * store is NULL. */
static int pem_certs(const char *pem, size_t len, X509_STORE *store)
{
    int count = 0;

    if (len == 0 || len > INT_MAX)
        return 0;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return 0;
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    if (infos != NULL) {
        for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
            X509 *x = sk_X509_INFO_value(infos, i)->x509;
            if (x != NULL && (store == NULL || X509_STORE_add_cert(store, x) == 1))
                count++;
        }
        sk_X509_INFO_pop_free(infos, X509_INFO_free);
    }
    BIO_free(bio);
    return count;
}

/*
 * Builds w->ca (the system bundle followed by the extra CA); ca_store()
 * parses it on first use.  libcurl's CA options replace each other rather than
 * add up, so the union is made here: the extra CA adds trust to the system
 * CAs, it does not replace them.
 */
static int load_cas(struct webhook *w, const struct webhook_cfg *cfg, char *err, size_t err_len)
{
    const char *sys_path = cfg->system_ca != NULL ? cfg->system_ca : DEFAULT_SYSTEM_CA;
    char *sys = NULL, *extra = NULL;
    size_t sys_len = 0, extra_len = 0;
    int rc = -1;

    if (!(sys = readall_path(sys_path, CA_FILE_MAX, &sys_len))) {
        /* A host without a CA bundle can still trust just the extra CA, but
         * only when nobody named a bundle explicitly. */
        if (cfg->system_ca != NULL || errno != ENOENT || cfg->extra_ca == NULL) {
            snprintf(err, err_len, "system CA bundle %s: %s", sys_path, strerror(errno));
            goto out;
        }
    }
    if (cfg->extra_ca != NULL) {
        if (!(extra = readall_path(cfg->extra_ca, CA_FILE_MAX, &extra_len))) {
            snprintf(err, err_len, "extra CA %s: %s", cfg->extra_ca, strerror(errno));
            goto out;
        }
        if (pem_certs(extra, extra_len, NULL) == 0) {
            snprintf(err, err_len, "extra CA %s: no PEM certificate in it", cfg->extra_ca);
            goto out;
        }
    }
    w->ca = malloc(sys_len + 1 + extra_len + 1);
    if (w->ca == NULL) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    if (sys_len > 0)
        memcpy(w->ca, sys, sys_len);
    w->ca[sys_len] = '\n'; /* the bundle need not end in a newline */
    if (extra_len > 0)
        memcpy(w->ca + sys_len + 1, extra, extra_len);
    w->ca_len = sys_len + 1 + extra_len;
    w->ca[w->ca_len] = '\0';
    /* Parsing ~150 certificates into an X509_STORE costs milliseconds and a
     * few MiB of touched library pages, so it waits for the first check
     * (ca_store); here only make sure there is something to parse. */
    if (!memmem(w->ca, w->ca_len, "-----BEGIN CERTIFICATE-----", 27)) {
        snprintf(err, err_len, "no trusted CA certificates in %s", sys_path);
        goto out;
    }
    rc = 0;
out:
    free(sys);
    free(extra);
    return rc;
}

int webhook_new(struct webhook **out, const struct webhook_cfg *cfg, char *err, size_t err_len)
{
    struct webhook *w;
    char dummy[1];

    if (err == NULL || err_len == 0) {
        err = dummy;
        err_len = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->allow_http = cfg->allow_http;
    w->allow_private = cfg->allow_private;
    w->connect_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
    w->total_ms = cfg->total_timeout_ms > 0 ? cfg->total_timeout_ms : DEFAULT_TOTAL_MS;
    w->max_parallel = cfg->max_parallel > 0 ? cfg->max_parallel : DEFAULT_PARALLEL;
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        free(w);
        snprintf(err, err_len, "mutex: out of resources");
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, err_len, "libcurl initialisation failed");
        goto fail;
    }
    w->curl_inited = true;
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    w->openssl = v->ssl_version != NULL && strncmp(v->ssl_version, "OpenSSL/", 8) == 0;
    if (load_cas(w, cfg, err, err_len) != 0)
        goto fail;
    w->multi = curl_multi_init();
    if (w->multi == NULL) {
        snprintf(err, err_len, "libcurl multi handle: out of memory");
        goto fail;
    }

    /* The checker thread takes no asynchronous signals: they belong to the
     * server's main thread.  It inherits the mask in force at creation. */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int prc = pthread_create(&w->thread, NULL, run, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        snprintf(err, err_len, "checker thread: %s", strerror(prc));
        goto fail;
    }
    *out = w;
    return 0;
fail:
    curl_multi_cleanup(w->multi);
    X509_STORE_free(w->store);
    free(w->ca);
    if (w->curl_inited)
        curl_global_cleanup();
    pthread_mutex_destroy(&w->mu);
    free(w);
    return -1;
}

void webhook_free(struct webhook *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_mutex_unlock(&w->mu);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
    curl_multi_cleanup(w->multi);
    X509_STORE_free(w->store);
    free(w->ca);
    curl_global_cleanup();
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* The webhook URL with its fragment dropped and sig=<hex> added to the query
 * (the Node SDK verifies only the query parameter).  Caller frees. */
static char *signed_url(const char *url, const char *hex)
{
    size_t n = strcspn(url, "#");
    const char *q = memchr(url, '?', n);
    const char *sep = "?";

    if (q != NULL)
        sep = (url[n - 1] == '?' || url[n - 1] == '&') ? "" : "&";
    size_t len = n + strlen(sep) + 4 + 64 + 1;
    char *s = malloc(len);
    if (s != NULL)
        snprintf(s, len, "%.*s%ssig=%s", (int)n, url, sep, hex);
    return s;
}

/* The CA store, parsed from w->ca on the first call.  Checker thread only. */
static X509_STORE *ca_store(struct webhook *w)
{
    if (w->store != NULL)
        return w->store;
    w->store = X509_STORE_new();
    if (w->store == NULL)
        return NULL;
    /* What curl does with its own stores: an intermediate given as the
     * extra CA is a trust anchor of its own. */
    X509_STORE_set_flags(w->store, X509_V_FLAG_PARTIAL_CHAIN);
    if (pem_certs(w->ca, w->ca_len, w->store) == 0) {
        X509_STORE_free(w->store);
        w->store = NULL;
    }
    return w->store;
}

/* Gives a new connection's SSL_CTX the checker's CA store.  Runs on the
 * checker thread; the store is only read once built. */
static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *userdata)
{
    struct webhook *w = userdata;
    X509_STORE *store = ca_store(w);

    (void)e;
    if (store == NULL)
        return CURLE_SSL_CACERT_BADFILE;     /* reported as a TLS failure of this check */
    SSL_CTX_set1_cert_store(ssl_ctx, store); /* takes its own reference */
    return CURLE_OK;
}

/* Sets one easy option or fails the caller (which has a fail: label). */
#define SET(opt, val)                                  \
    do {                                               \
        if (curl_easy_setopt(e, opt, val) != CURLE_OK) \
            goto fail;                                 \
    } while (0)

/* Configures j->easy; everything security-relevant lives here. */
static int setup_easy(struct webhook *w, struct job *j, size_t body_len)
{
    CURL *e = j->easy;
    const char *protocols = w->allow_http ? "http,https" : "https";
    struct curl_blob ca = {w->ca, w->ca_len, CURL_BLOB_NOCOPY};

    SET(CURLOPT_URL, j->url);
    SET(CURLOPT_PRIVATE, (char *)j);
    SET(CURLOPT_ERRORBUFFER, j->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, protocols);
    SET(CURLOPT_REDIR_PROTOCOLS_STR, protocols); /* belt and braces: nothing is followed */
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_MAXREDIRS, 0L);
    /* Environment proxies (https_proxy, ...) must not carry callbacks elsewhere,
     * nor take the connect -- and so the SSRF guard -- out of our hands. */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_CAINFO, NULL); /* not the built-in bundle: ours has it plus the extra CA */
    SET(CURLOPT_CAPATH, NULL);
    if (w->openssl) {
        /* No CA cache either: it would put its own store into the SSL_CTX. */
        SET(CURLOPT_CA_CACHE_TIMEOUT, 0L);
        SET(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        SET(CURLOPT_SSL_CTX_DATA, w);
    } else {
        SET(CURLOPT_CAINFO_BLOB, &ca); /* copies the struct, not the data */
    }
    SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
    SET(CURLOPT_FORBID_REUSE, 1L);
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, w->connect_ms);
    SET(CURLOPT_TIMEOUT_MS, w->total_ms);
    SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SET(CURLOPT_OPENSOCKETDATA, j);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, j);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)RESPONSE_MAX);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_HTTPHEADER, j->headers);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, j->body);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    return 0;
fail:
    return -1;
}

#undef SET

/* Puts a configured job on the queue.  0, or -1 when shutting down (j is then freed). */
static int enqueue(struct webhook *w, struct job *j)
{
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        job_free(j);
        return -1;
    }
    if (w->queue_tail != NULL)
        w->queue_tail->next = j;
    else
        w->queue = j;
    w->queue_tail = j;
    /* A wakeup is remembered until the next poll, so none is lost; doing it
     * under the lock keeps it ahead of a webhook_free on another thread. */
    curl_multi_wakeup(w->multi);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int webhook_fetch_start(struct webhook *w, const struct webhook_fetch *f)
{
    struct job *j;
    CURL *e;

    if (w == NULL || f == NULL || f->url == NULL || f->done == NULL || f->max_bytes < 0)
        return -1;
    if ((j = calloc(1, sizeof *j)) == NULL)
        return -1;
    j->w = w;
    j->fetch_done = f->done;
    j->arg = f->arg;
    j->max_bytes = f->max_bytes;
    j->url = strdup(f->url);
    if (j->url == NULL || (j->easy = curl_easy_init()) == NULL || setup_easy(w, j, 0) != 0)
        goto fail;
    e = j->easy;
    /* the check's settings, but a GET that follows a few redirects (each connect still
     * passes the SSRF guard) and stops reading past max_bytes */
    if (curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L) != CURLE_OK ||
        /* on_media stops reading: with Content-Length after the first bytes, so the
         * length is reported even when over max (libcurl's own limit would not) */
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL) != CURLE_OK)
        goto fail;
    return enqueue(w, j);
fail:
    job_free(j);
    return -1;
}

int webhook_check_start(struct webhook *w, const struct webhook_check *c)
{
    struct job *j = NULL;
    char hex[65];
    char sig_header[32 + 65];

    if (w == NULL || c == NULL || c->url == NULL || c->token == NULL || c->done == NULL)
        return -1;
    j = calloc(1, sizeof *j);
    if (j == NULL)
        return -1;
    j->w = w;
    j->done = c->done;
    j->arg = c->arg;

    const char *host = c->chat_hostname != NULL ? c->chat_hostname : "";
    size_t cap = 128 + 6 * strlen(host); /* every byte escapes to at most \u00XX */
    j->body = malloc(cap);
    if (j->body == NULL)
        goto fail;
    int body_len = webhook_body(j->body, cap, c->timestamp_ms, host, c->message_token);
    if (body_len < 0)
        goto fail;
    webhook_sign(c->token, j->body, (size_t)body_len, hex);
    j->url = signed_url(c->url, hex);
    if (j->url == NULL)
        goto fail;
    snprintf(sig_header, sizeof sig_header, "X-Viber-Content-Signature: %s", hex);
    const char *hdrs[] = {"Content-Type: application/json", sig_header, "Expect:"};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        struct curl_slist *l = curl_slist_append(j->headers, hdrs[i]);
        if (l == NULL)
            goto fail;
        j->headers = l;
    }
    j->easy = curl_easy_init();
    if (j->easy == NULL || setup_easy(w, j, (size_t)body_len) != 0)
        goto fail;
    return enqueue(w, j);
fail:
    job_free(j);
    return -1;
}
