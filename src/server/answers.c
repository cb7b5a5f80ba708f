/*
 * The status answers built once (see answers.h): a table (htab.h) keyed by
 * status and detail, slots hashed with a random per-process seed as the
 * token cache's are, so a client cannot aim its details at one slot.
 */
#include "server/answers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "server/api.h"
#include "server/auth.h"
#include "server/htab.h"
#include "server/http.h"
#include "server/strbuf.h"
#include "server/util.h"

/* Answers kept at most: the constant ones (a missing or unknown token, a
 * channel's state, "not a superadmin", ...) and the refusals a client
 * repeats fit many times over. */
#define ANSWERS_MAX 256

struct answer {
    int status;
    size_t len;                /* of detail */
    struct MHD_Response *resp; /* the table's reference */
    char detail[];             /* NUL-terminated */
};

struct answers {
    struct htab tab; /* of struct answer */
    uint64_t seed;   /* random: keys the slot hash */
};

struct answers *answers_new(void)
{
    struct answers *a = xcalloc(1, sizeof *a);

    htab_init(&a->tab);
    if (auth_random_u64(&a->seed) != 0)
        a->seed = (uint64_t)(uintptr_t)a ^ 0x9e3779b97f4a7c15ULL; /* still spreads; never fatal */
    return a;
}

/* htab's drop: the table's reference to the response goes. */
static void drop(void *item)
{
    struct answer *x = item;

    MHD_destroy_response(x->resp);
    free(x);
}

void answers_free(struct answers *a)
{
    if (!a)
        return;
    htab_fini(&a->tab, drop);
    free(a);
}

struct MHD_Response *answers_status(struct answers *a, int status, const char *detail)
{
    const char *d = detail ? detail : "";
    size_t len = strlen(d);
    uint64_t h = htab_hash(a->seed ^ (uint64_t)(unsigned)status, d, len);
    struct MHD_Response *resp;
    struct answer *x;
    struct strbuf w;

    for (struct htab_slot *s = htab_first(&a->tab, h); s->item; s = htab_next(&a->tab, s)) {
        x = s->item;
        if (s->hash == h && x->status == status && x->len == len && memcmp(x->detail, d, len) == 0)
            return x->resp;
    }
    strbuf_init(&w);
    api_status_json(&w, status, d);
    resp = http_response(HTTP_TYPE_JSON, w.buf, w.len);
    strbuf_free(&w);
    if (!resp)
        return NULL;
    if (a->tab.used >= ANSWERS_MAX)
        htab_clear(&a->tab, drop);
    x = xmalloc(sizeof *x + len + 1);
    x->status = status;
    x->len = len;
    x->resp = resp;
    memcpy(x->detail, d, len + 1);
    htab_add(&a->tab, h, x);
    return resp;
}
