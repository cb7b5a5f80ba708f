/*
 * Fault injection (see fault.h): the fault model, its JSON forms, and the
 * step the API handlers run.
 *
 * Reproducible fractions: whether a fault applies to the k-th request it is
 * considered for is a pure function of (seed, k) -- splitmix64 -- and k is
 * the stored `seen` counter, so the same seed gives the same pattern of hits
 * on every run, across restarts and whichever process set the fault.
 */
#include "server/fault.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/chancache.h"
#include "server/delay.h"
#include "server/server.h"
#include "server/http.h"
#include "server/api.h"
#include "server/util.h"
#include "vcp/status.h"

#define LATENCY_MAX_MS 60000
#define COUNT_MAX      1000000000

static const char *const endpoint_names[] = {"any", "post", "set_webhook", "get_account_info"};
static const char *const webhook_names[] = {"fail", "timeout"};

/* ---- parsing ---------------------------------------------------------------------------- */

/*
 * A number field, into *i (an integer: a JSON integer or a string of
 * decimal digits) or, when i is NULL, into *d (a JSON number or a string
 * such as "0.25"); the CLI passes every value as a string.  0 with the
 * value set, 1 when absent, -1 bad.
 */
static int get_number(struct json_object *o, const char *key, int64_t *i, double *d)
{
    struct json_object *v;
    const char *s;
    char *end;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return 1;
    if (json_object_is_type(v, json_type_int) || (!i && json_object_is_type(v, json_type_double))) {
        if (i)
            *i = json_object_get_int64(v);
        else
            *d = json_object_get_double(v);
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return -1;
    s = json_object_get_string(v);
    if ((*s < '0' || *s > '9') && (i || *s != '.'))
        return -1;
    errno = 0;
    if (i)
        *i = strtoll(s, &end, 10);
    else
        *d = strtod(s, &end);
    return (i && errno) || *end ? -1 : 0;
}

static bool status_known(int64_t code)
{
    switch (code) {
#define X(e, c, name) case c:
        VCP_STATUS_TABLE(X)
#undef X
        return code != 0;
    default:
        return false;
    }
}

/* "latency_ms": N, [MIN, MAX], "N" or "MIN-MAX". */
static int parse_latency(struct json_object *v, struct fault *f)
{
    int64_t lo, hi;

    if (json_object_is_type(v, json_type_int)) {
        lo = hi = json_object_get_int64(v);
    } else if (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 2 &&
               json_object_is_type(json_object_array_get_idx(v, 0), json_type_int) &&
               json_object_is_type(json_object_array_get_idx(v, 1), json_type_int)) {
        lo = json_object_get_int64(json_object_array_get_idx(v, 0));
        hi = json_object_get_int64(json_object_array_get_idx(v, 1));
    } else if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end;

        if (*s < '0' || *s > '9')
            return -1;
        lo = hi = strtoll(s, &end, 10);
        if (*end == '-') {
            s = end + 1;
            if (*s < '0' || *s > '9')
                return -1;
            hi = strtoll(s, &end, 10);
        }
        if (*end)
            return -1;
    } else {
        return -1;
    }
    if (lo < 0 || hi < lo || hi > LATENCY_MAX_MS)
        return -1;
    f->lat_min_ms = (unsigned)lo;
    f->lat_max_ms = (unsigned)hi;
    return 0;
}

int fault_parse(struct json_object *spec, struct fault *f, char *detail, size_t detail_len)
{
    static const char *const kinds[] = {"status", "http", "drop", "latency_ms", "webhook"};
    struct json_object *v;
    const char *kind = NULL;
    int64_t n;
    int rc;

    memset(f, 0, sizeof *f);
    f->fraction = 1.0;
    f->count = f->remaining = -1;
    if (!spec || !json_object_is_type(spec, json_type_object)) {
        snprintf(detail, detail_len, "fault: expected a JSON object");
        return -1;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (!json_object_object_get_ex(spec, kinds[i], &v))
            continue;
        if (kind) {
            snprintf(detail, detail_len, "fault: %s and %s: give only one", kind, kinds[i]);
            return -1;
        }
        kind = kinds[i];
        f->kind = (int)i; /* kinds[] is in enum fault_kind order */
    }
    if (!kind) {
        snprintf(detail, detail_len, "fault: give one of status, http, drop, latency_ms, webhook");
        return -1;
    }
    json_object_object_get_ex(spec, kind, &v);
    switch (f->kind) {
    case FAULT_STATUS:
        if (get_number(spec, "status", &n, NULL) != 0 || !status_known(n)) {
            snprintf(detail, detail_len,
                     "status: one of the API's non-zero statuses (1 2 3 4 7 8 9 10 12 99)");
            return -1;
        }
        f->value = (int)n;
        break;
    case FAULT_HTTP:
        if (get_number(spec, "http", &n, NULL) != 0 || n < 400 || n > 599) {
            snprintf(detail, detail_len, "http: an HTTP status 400..599");
            return -1;
        }
        f->value = (int)n;
        break;
    case FAULT_DROP:
        if (!(json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v)) &&
            !(json_object_is_type(v, json_type_string) &&
              strcmp(json_object_get_string(v), "true") == 0)) {
            snprintf(detail, detail_len, "drop: must be true");
            return -1;
        }
        break;
    case FAULT_LATENCY:
        if (parse_latency(v, f) != 0) {
            snprintf(detail, detail_len,
                     "latency_ms: N or [MIN, MAX] (\"MIN-MAX\") milliseconds, 0..%d",
                     LATENCY_MAX_MS);
            return -1;
        }
        break;
    default: /* FAULT_WEBHOOK */
        if (json_object_is_type(v, json_type_string) &&
            strcmp(json_object_get_string(v), "fail") == 0) {
            f->webhook = FAULT_WH_FAIL;
        } else if (json_object_is_type(v, json_type_string) &&
                   strcmp(json_object_get_string(v), "timeout") == 0) {
            f->webhook = FAULT_WH_TIMEOUT;
        } else if (get_number(spec, "webhook", &n, NULL) == 0 && n >= 100 && n <= 599 && n != 200) {
            f->webhook = FAULT_WH_HTTP;
            f->value = (int)n;
        } else {
            snprintf(detail, detail_len,
                     "webhook: \"fail\", \"timeout\" or an HTTP status other than 200");
            return -1;
        }
        break;
    }

    f->endpoint = f->kind == FAULT_WEBHOOK ? FAULT_EP_SET_WEBHOOK : FAULT_EP_ANY;
    if (json_object_object_get_ex(spec, "endpoint", &v) && v != NULL) {
        const char *e = json_object_get_string(v);
        int found = -1;

        for (size_t i = 0; i < sizeof endpoint_names / sizeof endpoint_names[0]; i++)
            if (json_object_is_type(v, json_type_string) && strcmp(e, endpoint_names[i]) == 0)
                found = (int)i;
        if (found < 0) {
            snprintf(detail, detail_len,
                     "endpoint: one of any, post, set_webhook, get_account_info");
            return -1;
        }
        if (f->kind == FAULT_WEBHOOK && found != FAULT_EP_SET_WEBHOOK && found != FAULT_EP_ANY) {
            snprintf(detail, detail_len, "endpoint: a webhook fault is a fault of set_webhook");
            return -1;
        }
        if (f->kind != FAULT_WEBHOOK)
            f->endpoint = found;
    }
    if ((rc = get_number(spec, "count", &n, NULL)) < 0 || (rc == 0 && (n < 1 || n > COUNT_MAX))) {
        snprintf(detail, detail_len, "count: 1..%d (leave it out: every request)", COUNT_MAX);
        return -1;
    }
    if (rc == 0)
        f->count = f->remaining = n;
    if ((rc = get_number(spec, "fraction", NULL, &f->fraction)) < 0 ||
        (rc == 0 && !(f->fraction > 0 && f->fraction <= 1))) {
        snprintf(detail, detail_len, "fraction: a number > 0 and <= 1");
        return -1;
    }
    if ((rc = get_number(spec, "seed", &n, NULL)) < 0 || (rc == 0 && n < 0)) {
        snprintf(detail, detail_len, "seed: an integer >= 0");
        return -1;
    }
    if (rc == 0)
        f->seed = (uint64_t)n;
    return 0;
}

/* ---- JSON forms ---------------------------------------------------------------------------- */

/* The kind's own field, as fault_parse reads it. */
static void add_kind(struct json_object *o, const struct fault *f)
{
    switch (f->kind) {
    case FAULT_STATUS:
        json_object_object_add(o, "status", json_object_new_int(f->value));
        break;
    case FAULT_HTTP:
        json_object_object_add(o, "http", json_object_new_int(f->value));
        break;
    case FAULT_DROP:
        json_object_object_add(o, "drop", json_object_new_boolean(1));
        break;
    case FAULT_LATENCY: {
        struct json_object *a = json_object_new_array_ext(2);
        json_object_array_add(a, json_object_new_int((int)f->lat_min_ms));
        json_object_array_add(a, json_object_new_int((int)f->lat_max_ms));
        json_object_object_add(o, "latency_ms", a);
        break;
    }
    default:
        json_object_object_add(o, "webhook",
                               f->webhook == FAULT_WH_HTTP
                                   ? json_object_new_int(f->value)
                                   : json_object_new_string(webhook_names[f->webhook]));
        break;
    }
}

static struct json_object *int_or_null(int64_t v)
{
    return v < 0 ? NULL : json_object_new_int64(v);
}

struct json_object *fault_spec_json(const struct fault *f)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "endpoint", json_object_new_string(endpoint_names[f->endpoint]));
    add_kind(o, f);
    if (f->count >= 0)
        json_object_object_add(o, "count", json_object_new_int64(f->count));
    json_object_object_add(o, "fraction", json_object_new_double(f->fraction));
    json_object_object_add(o, "seed", json_object_new_int64((int64_t)f->seed));
    return o;
}

int fault_from_row(const struct fault_row *row, struct fault *f)
{
    struct json_object *spec = json_tokener_parse(row->spec);
    char detail[128];
    int rc = fault_parse(spec, f, detail, sizeof detail);

    json_object_put(spec);
    if (rc != 0)
        return -1;
    f->id = row->id;
    f->remaining = row->remaining;
    f->seen = row->seen;
    f->hits = row->hits;
    f->created_ms = row->created_ms;
    return 0;
}

struct json_object *fault_json(const struct fault *f)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_int64(f->id));
    json_object_object_add(o, "endpoint", json_object_new_string(endpoint_names[f->endpoint]));
    add_kind(o, f);
    json_object_object_add(o, "count", int_or_null(f->count));
    json_object_object_add(o, "remaining", int_or_null(f->remaining));
    json_object_object_add(o, "fraction", json_object_new_double(f->fraction));
    json_object_object_add(o, "seed", json_object_new_int64((int64_t)f->seed));
    json_object_object_add(o, "seen", json_object_new_int64(f->seen));
    json_object_object_add(o, "hits", json_object_new_int64(f->hits));
    json_object_object_add(o, "created_ms", json_object_new_int64(f->created_ms));
    return o;
}

/* ---- the cache ---------------------------------------------------------------------------- */

struct chan_faults {
    int64_t channel;
    struct fault *v;
    size_t n;
};

struct faults {
    uint64_t version; /* store_config_version() the lists were read under */
    struct chan_faults *v;
    size_t n, cap;
};

struct faults *faults_new(void)
{
    return xcalloc(1, sizeof(struct faults));
}

static void forget_all(struct faults *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        free(fs->v[i].v);
    fs->n = 0;
}

void faults_free(struct faults *fs)
{
    if (!fs)
        return;
    forget_all(fs);
    free(fs->v);
    free(fs);
}

/* The faults of channel (read from the store when not cached); NULL on a store failure. */
static struct chan_faults *faults_of(struct server *srv, int64_t channel)
{
    struct faults *fs = srv->faults;
    uint64_t v = store_config_version(srv->store); /* before the data, as chancache does */
    struct fault_row *rows = NULL;
    struct chan_faults *cf;
    size_t n = 0;

    if (v != fs->version || v == 0) {
        forget_all(fs);
        fs->version = v;
    }
    for (size_t i = 0; i < fs->n; i++)
        if (fs->v[i].channel == channel)
            return &fs->v[i];
    if (store_fault_list(srv->store, channel, &rows, &n) != STORE_OK) {
        log_msg("error", "faults of channel %" PRId64 ": %s", channel, store_errmsg(srv->store));
        return NULL;
    }
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 8;
        fs->v = xrealloc(fs->v, fs->cap * sizeof *fs->v);
    }
    cf = &fs->v[fs->n++];
    cf->channel = channel;
    cf->v = xcalloc(n ? n : 1, sizeof *cf->v);
    cf->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (fault_from_row(&rows[i], &cf->v[cf->n]) == 0)
            cf->n++;
        else
            log_msg("error", "fault %" PRId64 ": stored spec does not parse; ignored", rows[i].id);
    }
    store_faults_free(rows, n);
    return cf;
}

/* ---- applying ------------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/*
 * Considers f for one request: true when it applies.  Its counters move
 * and are written back (a failure to write is logged; the fault still
 * applies, from memory).  *k gets the request's index in the sequence.
 */
static bool fires(struct server *srv, struct fault *f, uint64_t *k)
{
    bool hit;

    *k = (uint64_t)f->seen++;
    hit = f->fraction >= 1.0 || (double)(splitmix64(f->seed + *k) >> 11) * 0x1.0p-53 < f->fraction;
    if (hit) {
        f->hits++;
        if (f->remaining > 0)
            f->remaining--;
    }
    if (store_fault_count(srv->store, f->id, f->remaining, f->seen, f->hits) == STORE_ERROR)
        log_msg("error", "fault %" PRId64 ": counters not stored: %s", f->id,
                store_errmsg(srv->store));
    return hit;
}

/* Appends what was injected, kind ":" value (the access log shows it). */
static void mark(struct req *r, const char *kind, long value, const char *unit)
{
    size_t n = strlen(r->fault_mark);

    if (value < 0)
        snprintf(r->fault_mark + n, sizeof r->fault_mark - n, "%s%s", n ? "," : "", kind);
    else
        snprintf(r->fault_mark + n, sizeof r->fault_mark - n, "%s%s:%ld%s", n ? "," : "", kind,
                 value, unit);
}

bool fault_step(struct req *r, int ep, enum MHD_Result (*again)(struct req *), enum MHD_Result *ret)
{
    struct server *srv = r->srv;
    struct chan_faults *cf;
    char detail[96];
    uint64_t k;

    if (!srv->faults || !(cf = faults_of(srv, r->chan->id)))
        return false;
    for (size_t i = 0; i < cf->n; i++) {
        struct fault *f = &cf->v[i];

        if ((f->endpoint != FAULT_EP_ANY && f->endpoint != ep) || f->kind == FAULT_WEBHOOK ||
            (f->kind == FAULT_LATENCY && r->fault_delayed) || f->remaining == 0 ||
            !fires(srv, f, &k))
            continue;
        snprintf(detail, sizeof detail, "injected fault %" PRId64 " (vcpd --sandbox)", f->id);
        switch (f->kind) {
        case FAULT_LATENCY: {
            unsigned span = f->lat_max_ms - f->lat_min_ms;
            unsigned ms = f->lat_min_ms +
                          (span ? (unsigned)(splitmix64(~f->seed + k) % ((uint64_t)span + 1)) : 0);
            mark(r, "latency", (long)ms, "ms");
            r->fault_delayed = true;
            /* the request starts anew afterwards, with the channel as it is then */
            chancache_put(r->ent);
            r->ent = NULL;
            r->chan = NULL;
            *ret = delay_then(srv->delay, r, ms, again);
            return true;
        }
        case FAULT_STATUS:
            mark(r, "status", f->value, "");
            *ret = api_reply_status(r, f->value, detail);
            return true;
        case FAULT_HTTP:
            mark(r, "http", f->value, "");
            *ret = http_reply_error(r, (unsigned)f->value, detail);
            return true;
        default: /* FAULT_DROP: handled as usual, the answer is lost (http.c) */
            mark(r, "drop", -1, "");
            r->fault_drop = true;
            return false;
        }
    }
    return false;
}

bool fault_webhook(struct req *r, long *delay_ms)
{
    struct server *srv = r->srv;
    struct chan_faults *cf;
    uint64_t k;

    *delay_ms = 0;
    if (!srv->faults || !(cf = faults_of(srv, r->chan->id)))
        return false;
    for (size_t i = 0; i < cf->n; i++) {
        struct fault *f = &cf->v[i];

        if (f->kind != FAULT_WEBHOOK || f->remaining == 0 || !fires(srv, f, &k))
            continue;
        r->wh_status = VCP_STATUS_INVALID_URL;
        switch (f->webhook) {
        case FAULT_WH_TIMEOUT:
            *delay_ms = srv->cfg.webhook.total_timeout_ms;
            snprintf(r->wh_detail, sizeof r->wh_detail,
                     "timed out after %ld ms (injected fault %" PRId64 ")", *delay_ms, f->id);
            mark(r, "webhook:timeout", -1, "");
            break;
        case FAULT_WH_HTTP:
            snprintf(r->wh_detail, sizeof r->wh_detail,
                     "webhook answered HTTP %d (injected fault %" PRId64 ")", f->value, f->id);
            mark(r, "webhook", f->value, "");
            break;
        default:
            snprintf(r->wh_detail, sizeof r->wh_detail,
                     "could not connect to the webhook (injected fault %" PRId64 ")", f->id);
            mark(r, "webhook:fail", -1, "");
            break;
        }
        return true;
    }
    return false;
}
