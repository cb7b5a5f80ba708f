/*
 * Reading the API's answers: the status envelope every endpoint returns, the
 * post fields (message_token as a 64-bit integer straight from json-c's
 * integer, never through a double), and get_account_info parsed into
 * struct vcp_account.  Pure code over json-c, so tests feed it strings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

void result_reset(struct vcp_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = -1;
    r->status_name = "";
}

void result_detail(struct vcp_result *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
}

void result_set(struct vcp_result *r, int status, const char *fmt, ...)
{
    va_list ap;

    r->status = status;
    r->status_name = vcp_status_name(status);
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
}

static void copy_str(char *dst, size_t dst_len, const char *src)
{
    snprintf(dst, dst_len, "%s", src ? src : "");
}

/* A JSON value holding a positive integer that fits 64 bits unsigned; -1 otherwise. */
static int get_u64(struct json_object *v, uint64_t *out)
{
    if (v == NULL)
        return -1;
    if (json_object_is_type(v, json_type_int)) {
        if (json_object_get_int64(v) < 0)
            return -1;
        errno = 0;
        *out = json_object_get_uint64(v);
        return errno == 0 ? 0 : -1;
    }
    if (json_object_is_type(v, json_type_string)) {
        /* Some gateways quote big integers; accept digits only. */
        const char *s = json_object_get_string(v);
        char *end;
        if (s[0] < '0' || s[0] > '9')
            return -1;
        errno = 0;
        unsigned long long n = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
        *out = n;
        return 0;
    }
    return -1;
}

int response_parse(const char *body, size_t len, bool want_token, struct vcp_result *r,
                   struct json_object **root)
{
    struct json_tokener *tok;
    struct json_object *obj, *v;
    int rc = VCP_E_PROTOCOL;

    if (root)
        *root = NULL;
    tok = json_tokener_new();
    if (tok == NULL)
        return VCP_E_NOMEM;
    obj = json_tokener_parse_ex(tok, body, (int)len);
    if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len) {
        result_detail(r, "answer is not JSON");
        goto out;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        result_detail(r, "answer is not a JSON object");
        goto out;
    }
    if (!json_object_object_get_ex(obj, "status", &v) || !json_object_is_type(v, json_type_int)) {
        result_detail(r, "answer has no integer \"status\"");
        goto out;
    }
    int64_t st = json_object_get_int64(v);
    if (st < 0 || st > 1000000) {
        result_detail(r, "answer has status %lld out of range", (long long)st);
        goto out;
    }
    r->status = (int)st;
    r->status_name = vcp_status_name(r->status);
    if (json_object_object_get_ex(obj, "status_message", &v) &&
        json_object_is_type(v, json_type_string))
        copy_str(r->status_message, sizeof(r->status_message), json_object_get_string(v));
    if (json_object_object_get_ex(obj, "detail", &v) && json_object_is_type(v, json_type_string))
        copy_str(r->detail, sizeof(r->detail), json_object_get_string(v));
    else if (r->status != 0)
        /* The real Viber has no detail; its status_message is the best reason there is. */
        copy_str(r->detail, sizeof(r->detail), r->status_message);
    if (r->status != 0) {
        rc = VCP_E_STATUS;
        goto out;
    }
    if (want_token) {
        uint64_t t = 0;
        if (!json_object_object_get_ex(obj, "message_token", &v) || get_u64(v, &t) != 0 || t == 0) {
            result_detail(r, "status 0 without a valid message_token");
            r->status = -1;
            r->status_name = "";
            goto out;
        }
        r->message_token = t;
        if (json_object_object_get_ex(obj, "chat_hostname", &v) &&
            json_object_is_type(v, json_type_string))
            copy_str(r->chat_hostname, sizeof(r->chat_hostname), json_object_get_string(v));
        if (json_object_object_get_ex(obj, "billing_status", &v) &&
            json_object_is_type(v, json_type_int))
            r->billing_status = json_object_get_int(v);
    }
    rc = VCP_E_OK;
out:
    if (root && obj && rc != VCP_E_PROTOCOL) {
        *root = obj;
        obj = NULL;
    }
    json_object_put(obj);
    json_tokener_free(tok);
    return rc;
}

/* ---------------------------------------------------------------- account */

/* A copy of key's value as text: strings verbatim, other values as JSON, absent as "". */
static char *dup_field(struct json_object *o, const char *key)
{
    struct json_object *v;
    const char *s = "";

    if (o && json_object_object_get_ex(o, key, &v) && v != NULL) {
        if (json_object_is_type(v, json_type_string))
            s = json_object_get_string(v);
        else
            s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
    }
    return strdup(s ? s : "");
}

void vcp_account_free(struct vcp_account *a)
{
    size_t i;

    if (a == NULL)
        return;
    free(a->id);
    free(a->name);
    free(a->uri);
    free(a->icon);
    free(a->background);
    free(a->category);
    free(a->subcategory);
    free(a->location);
    free(a->country);
    free(a->webhook);
    free(a->chat_hostname);
    for (i = 0; a->event_types && i < a->event_types_count; i++)
        free(a->event_types[i]);
    free(a->event_types);
    for (i = 0; a->members && i < a->members_count; i++) {
        free(a->members[i].id);
        free(a->members[i].name);
        free(a->members[i].avatar);
        free(a->members[i].role);
    }
    free(a->members);
    free(a);
}

struct vcp_account *account_from_json(struct json_object *root)
{
    struct vcp_account *a = calloc(1, sizeof(*a));
    struct json_object *v;
    size_t i, n;

    if (a == NULL)
        return NULL;
    /* The seed spells it "Id"; vcpd sends both. */
    if (json_object_object_get_ex(root, "id", &v))
        a->id = dup_field(root, "id");
    else
        a->id = dup_field(root, "Id");
    a->name = dup_field(root, "name");
    a->uri = dup_field(root, "uri");
    a->icon = dup_field(root, "icon");
    a->background = dup_field(root, "background");
    a->category = dup_field(root, "category");
    a->subcategory = dup_field(root, "subcategory");
    a->location = dup_field(root, "location");
    a->country = dup_field(root, "country");
    a->webhook = dup_field(root, "webhook");
    a->chat_hostname = dup_field(root, "chat_hostname");
    if (!a->id || !a->name || !a->uri || !a->icon || !a->background || !a->category ||
        !a->subcategory || !a->location || !a->country || !a->webhook || !a->chat_hostname)
        goto fail;
    a->subscribers_count = -1;
    if (json_object_object_get_ex(root, "subscribers_count", &v) &&
        json_object_is_type(v, json_type_int))
        a->subscribers_count = json_object_get_int64(v);
    if (json_object_object_get_ex(root, "event_types", &v) &&
        json_object_is_type(v, json_type_array) && (n = json_object_array_length(v)) > 0) {
        a->event_types = calloc(n, sizeof(char *));
        if (a->event_types == NULL)
            goto fail;
        for (i = 0; i < n; i++) {
            struct json_object *e = json_object_array_get_idx(v, i);
            if (!json_object_is_type(e, json_type_string))
                continue;
            a->event_types[a->event_types_count] = strdup(json_object_get_string(e));
            if (a->event_types[a->event_types_count++] == NULL)
                goto fail;
        }
    }
    if (json_object_object_get_ex(root, "members", &v) && json_object_is_type(v, json_type_array) &&
        (n = json_object_array_length(v)) > 0) {
        a->members = calloc(n, sizeof(*a->members));
        if (a->members == NULL)
            goto fail;
        for (i = 0; i < n; i++) {
            struct json_object *m = json_object_array_get_idx(v, i);
            struct vcp_member *dst = &a->members[a->members_count];
            if (!json_object_is_type(m, json_type_object))
                continue;
            a->members_count++;
            dst->id = dup_field(m, "id");
            dst->name = dup_field(m, "name");
            dst->avatar = dup_field(m, "avatar");
            dst->role = dup_field(m, "role");
            if (!dst->id || !dst->name || !dst->avatar || !dst->role)
                goto fail;
        }
    }
    return a;
fail:
    vcp_account_free(a);
    return NULL;
}

const char *vcp_account_first_superadmin(const struct vcp_account *a)
{
    size_t i;

    if (a == NULL)
        return NULL;
    for (i = 0; i < a->members_count; i++)
        if (strcmp(a->members[i].role, "superadmin") == 0 && a->members[i].id[0] != '\0')
            return a->members[i].id;
    return NULL;
}
