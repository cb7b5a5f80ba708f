/*
 * Media checks (see media.h): which media a message has and what each must
 * be, the fetches on the webhook checker, the verdict, and a small cache of
 * what was learned per URL (and per size limit: a URL read up to 100 KiB as
 * a thumbnail says nothing of it as a 1 MiB picture).
 */
#include "server/media.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "server/http.h"
#include "server/util.h"
#include "vcp/status.h"

#define CACHE_MAX 1024 /* entries; the oldest goes first */

enum kind { K_JPEG, K_MP4, K_ANY };

/* One medium of a message: where it is, what it must be, what was learned. */
struct item {
    const char *field; /* "media" or "thumbnail", for the detail */
    char *url;
    enum kind kind;
    int64_t max;      /* bytes */
    int64_t declared; /* the message's size, or -1 */
    bool fetched;     /* facts came from a fetch (cache them) */
    struct media_facts facts;
    struct req *r; /* whose check it is (the fetch's callback resumes it) */
};

/* A post's media checks in flight (struct req's media). */
struct media_job {
    struct item items[2];
    int n;
    int pending; /* fetches not yet answered; atomic: the checker answers */
};

struct entry {
    char *url;
    int64_t max;
    uint64_t at_ms;
    struct media_facts facts;
};

struct media {
    struct entry v[CACHE_MAX];
    size_t n;
};

struct media *media_new(void)
{
    return xcalloc(1, sizeof(struct media));
}

void media_free(struct media *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].url);
    free(m);
}

static const struct media_facts *cached(struct media *m, const char *url, int64_t max)
{
    uint64_t now = now_ms();

    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].max == max && now - m->v[i].at_ms < MEDIA_CACHE_S * 1000ULL &&
            strcmp(m->v[i].url, url) == 0)
            return &m->v[i].facts;
    return NULL;
}

/* Remembers facts of url, fetched now; the oldest entry makes room. */
static void remember(struct media *m, const char *url, int64_t max, const struct media_facts *f)
{
    struct entry *e;

    if (!f->ok) /* a failure may pass: try again next time */
        return;
    if (m->n == CACHE_MAX) {
        free(m->v[0].url);
        memmove(m->v, m->v + 1, (CACHE_MAX - 1) * sizeof *m->v);
        m->n--;
    }
    e = &m->v[m->n++];
    e->url = xstrdup(url);
    e->max = max;
    e->at_ms = now_ms();
    e->facts = *f;
}

/* What the first bytes say a medium is, for the detail of a refusal. */
static const char *what(const struct media_facts *f)
{
    const unsigned char *h = f->head;

    if (f->head_len >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF)
        return "JPEG";
    if (f->head_len >= 8 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "PNG";
    if (f->head_len >= 4 && memcmp(h, "GIF8", 4) == 0)
        return "GIF";
    if (f->head_len >= 12 && memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WEBP", 4) == 0)
        return "WebP";
    if (f->head_len >= 8 && memcmp(h + 4, "ftyp", 4) == 0)
        return "MP4";
    return f->head_len ? "unknown" : "empty";
}

static const char *kind_name(enum kind k)
{
    return k == K_JPEG ? "JPEG" : k == K_MP4 ? "MP4" : "";
}

/* "1 MiB", "100 KiB", ... for a limit. */
static void size_name(int64_t n, char *buf, size_t len)
{
    if (n % (1024 * 1024) == 0)
        snprintf(buf, len, "%" PRId64 " MiB", n / (1024 * 1024));
    else
        snprintf(buf, len, "%" PRId64 " KiB", n / 1024);
}

/* VCP_STATUS_OK, or why the item is refused. */
static int judge(const struct item *it, char *d, size_t n)
{
    const struct media_facts *f = &it->facts;
    char lim[32];

    if (!f->ok) {
        if (strcmp(f->detail, "shutting down") == 0) {
            snprintf(d, n, "media check refused: shutting down");
            return VCP_STATUS_GENERAL_ERROR;
        }
        snprintf(d, n, "%s: could not be fetched: %s", it->field, f->detail);
        return VCP_STATUS_BAD_DATA;
    }
    size_name(it->max, lim, sizeof lim);
    if (f->over || f->size > it->max) {
        if (f->size > 0)
            snprintf(d, n, "%s: %" PRId64 " bytes, max %s", it->field, f->size, lim);
        else
            snprintf(d, n, "%s: over %s", it->field, lim);
        return VCP_STATUS_BAD_DATA;
    }
    if (it->kind != K_ANY && strcmp(what(f), kind_name(it->kind)) != 0) {
        snprintf(d, n, "%s: not a%s %s (%s data)", it->field, it->kind == K_MP4 ? "n" : "",
                 kind_name(it->kind), what(f));
        return VCP_STATUS_BAD_DATA;
    }
    if (it->declared >= 0 && f->size != it->declared) {
        snprintf(d, n, "%s: %" PRId64 " bytes, but size says %" PRId64, it->field, f->size,
                 it->declared);
        return VCP_STATUS_BAD_DATA;
    }
    return VCP_STATUS_OK;
}

static void add(struct media_job *job, struct json_object *norm, const char *field, enum kind kind,
                int64_t max, bool sized)
{
    struct json_object *v, *s;
    struct item *it;

    if (!json_object_object_get_ex(norm, field, &v) || !json_object_is_type(v, json_type_string))
        return;
    it = &job->items[job->n++];
    it->field = field;
    it->url = xstrdup(json_object_get_string(v));
    it->kind = kind;
    it->max = max;
    it->declared =
        sized && json_object_object_get_ex(norm, "size", &s) ? json_object_get_int64(s) : -1;
}

static void job_free(struct media_job *job)
{
    if (!job)
        return;
    for (int i = 0; i < job->n; i++)
        free(job->items[i].url);
    free(job);
}

/* Runs on the checker's thread: the fetch of one item is answered. */
static void fetched(void *arg, const struct media_facts *f)
{
    struct item *it = arg;
    struct req *r = it->r;
    struct media_job *job = r->media;

    it->facts = *f;
    it->fetched = true;
    if (__atomic_sub_fetch(&job->pending, 1, __ATOMIC_ACQ_REL) == 0)
        req_resume(r); /* the last one: the request goes on */
}

int media_check(struct req *r, struct json_object *norm, enum MHD_Result (*cont)(struct req *),
                char *detail, size_t detail_len)
{
    struct server *srv = r->srv;
    struct json_object *v;
    struct media_job *job;
    const char *type;
    int todo = 0, rc = MEDIA_GO_ON;

    if (!json_object_object_get_ex(norm, "type", &v))
        return MEDIA_GO_ON;
    type = json_object_get_string(v);
    job = xcalloc(1, sizeof *job);
    if (strcmp(type, "picture") == 0) {
        add(job, norm, "media", K_JPEG, MEDIA_PICTURE_MAX, false);
        add(job, norm, "thumbnail", K_JPEG, MEDIA_THUMBNAIL_MAX, false);
    } else if (strcmp(type, "video") == 0) {
        add(job, norm, "media", K_MP4, MEDIA_LARGE_MAX, true);
        add(job, norm, "thumbnail", K_JPEG, MEDIA_THUMBNAIL_MAX, false);
    } else if (strcmp(type, "file") == 0) {
        add(job, norm, "media", K_ANY, MEDIA_LARGE_MAX, true);
    }
    /* what is known already decides at once */
    for (int i = 0; i < job->n; i++) {
        struct item *it = &job->items[i];
        const struct media_facts *f = cached(srv->media, it->url, it->max);

        it->r = r;
        if (!f) {
            todo++;
            continue;
        }
        it->facts = *f;
        if (judge(it, detail, detail_len) != VCP_STATUS_OK) {
            job_free(job);
            return MEDIA_REFUSED;
        }
    }
    if (todo == 0) {
        job_free(job);
        return MEDIA_GO_ON;
    }
    r->media = job;
    job->pending = todo;
    pthread_mutex_lock(&srv->intake_lock);
    if (srv->stopping) {
        pthread_mutex_unlock(&srv->intake_lock);
        r->media = NULL;
        job_free(job);
        snprintf(detail, detail_len, "media check refused: shutting down");
        return MEDIA_REFUSED;
    }
    req_suspend(r, WAIT_MEDIA, cont);
    for (int i = 0, k = job->n; i < k; i++) {
        struct item *it = &job->items[i];
        struct webhook_fetch wf = {it->url, it->max, fetched, it};

        if (it->facts.ok || it->facts.detail[0]) /* from the cache */
            continue;
        if (webhook_fetch_start(srv->webhook, &wf) != 0) {
            struct media_facts f = {.ok = false, .size = -1};
            snprintf(f.detail, sizeof f.detail, "shutting down");
            fetched(it, &f);
        }
    }
    pthread_mutex_unlock(&srv->intake_lock);
    rc = MEDIA_PENDING;
    return rc;
}

int media_verdict(struct req *r, char *detail, size_t detail_len)
{
    struct media_job *job = r->media;
    int status = VCP_STATUS_OK;

    r->media = NULL;
    if (!job)
        return VCP_STATUS_OK;
    for (int i = 0; i < job->n; i++) {
        struct item *it = &job->items[i];
        if (it->fetched)
            remember(r->srv->media, it->url, it->max, &it->facts);
        if (status == VCP_STATUS_OK)
            status = judge(it, detail, detail_len);
    }
    job_free(job);
    return status;
}

void media_job_free(struct media_job *job)
{
    job_free(job);
}
