/*
 * Messages: typed constructors that build exactly the JSON object the seed
 * documents for each type, the raw-JSON escape hatch, and local validation
 * through src/core's msg_validate -- the function vcpd itself runs -- so a
 * message refused here is refused with the same status and detail text there.
 * Constructors never judge their input; validation is one place.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "core/body.h"
#include "core/msg.h"

static vcp_msg *msg_new(const char *from, const char *type)
{
    vcp_msg *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->obj = json_object_new_object();
    if (m->obj == NULL)
        goto fail;
    if (from && vcp_msg_set_from(m, from) != VCP_E_OK)
        goto fail;
    struct json_object *t = json_object_new_string(type);
    if (t == NULL || json_object_object_add(m->obj, "type", t) != 0) {
        json_object_put(t);
        goto fail;
    }
    return m;
fail:
    vcp_msg_free(m);
    return NULL;
}

/* Adds key = v to o (taking v); false when v is NULL or adding failed. */
static bool put(struct json_object *o, const char *key, struct json_object *v)
{
    if (v == NULL)
        return false;
    if (json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return false;
    }
    return true;
}

/* Adds a string field when s is not NULL. */
static bool put_str(struct json_object *o, const char *key, const char *s)
{
    return s == NULL || put(o, key, json_object_new_string(s));
}

/*
 * A JSON number for d written in the shortest form that reads back as d, so
 * "37.7898" goes out as 37.7898 and not 37.789799999999999.
 */
static struct json_object *new_double(double d)
{
    char buf[40];
    int p;

    if (!isfinite(d))
        return json_object_new_double(d); /* validation reports it */
    for (p = 1; p <= 17; p++) {
        snprintf(buf, sizeof(buf), "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return json_object_new_double_s(d, buf);
}

static vcp_msg *finish(vcp_msg *m, bool ok)
{
    if (!ok) {
        vcp_msg_free(m);
        return NULL;
    }
    return m;
}

vcp_msg *vcp_msg_text(const char *from, const char *text)
{
    vcp_msg *m = msg_new(from, "text");

    return m ? finish(m, put_str(m->obj, "text", text)) : NULL;
}

vcp_msg *vcp_msg_picture(const char *from, const char *text, const char *media,
                         const char *thumbnail)
{
    vcp_msg *m = msg_new(from, "picture");

    return m ? finish(m, put_str(m->obj, "text", text) && put_str(m->obj, "media", media) &&
                             put_str(m->obj, "thumbnail", thumbnail))
             : NULL;
}

vcp_msg *vcp_msg_video(const char *from, const char *media, int64_t size, int64_t duration,
                       const char *thumbnail)
{
    vcp_msg *m = msg_new(from, "video");

    return m ? finish(m, put_str(m->obj, "media", media) &&
                             put(m->obj, "size", json_object_new_int64(size)) &&
                             (duration < 0 ||
                              put(m->obj, "duration", json_object_new_int64(duration))) &&
                             put_str(m->obj, "thumbnail", thumbnail))
             : NULL;
}

vcp_msg *vcp_msg_file(const char *from, const char *media, int64_t size, const char *file_name)
{
    vcp_msg *m = msg_new(from, "file");

    return m ? finish(m, put_str(m->obj, "media", media) &&
                             put(m->obj, "size", json_object_new_int64(size)) &&
                             put_str(m->obj, "file_name", file_name))
             : NULL;
}

vcp_msg *vcp_msg_contact(const char *from, const char *name, const char *phone_number)
{
    vcp_msg *m = msg_new(from, "contact");
    struct json_object *c;

    if (m == NULL)
        return NULL;
    c = json_object_new_object();
    if (c == NULL || !put_str(c, "name", name) || !put_str(c, "phone_number", phone_number)) {
        json_object_put(c);
        return finish(m, false);
    }
    return finish(m, put(m->obj, "contact", c));
}

vcp_msg *vcp_msg_location(const char *from, double lat, double lon)
{
    vcp_msg *m = msg_new(from, "location");
    struct json_object *l;

    if (m == NULL)
        return NULL;
    l = json_object_new_object();
    if (l == NULL || !put(l, "lat", new_double(lat)) || !put(l, "lon", new_double(lon))) {
        json_object_put(l);
        return finish(m, false);
    }
    return finish(m, put(m->obj, "location", l));
}

vcp_msg *vcp_msg_url(const char *from, const char *media, const char *text)
{
    vcp_msg *m = msg_new(from, "url");

    return m ? finish(m, put_str(m->obj, "media", media) && put_str(m->obj, "text", text)) : NULL;
}

vcp_msg *vcp_msg_sticker(const char *from, int64_t sticker_id)
{
    vcp_msg *m = msg_new(from, "sticker");

    return m ? finish(m, put(m->obj, "sticker_id", json_object_new_int64(sticker_id))) : NULL;
}

enum vcp_error vcp_msg_from_json(const char *json, size_t len, vcp_msg **out,
                                 struct vcp_result *res)
{
    struct vcp_result scratch;
    struct json_tokener *tok = NULL;
    struct json_object *obj = NULL;
    char *copy = NULL;
    vcp_msg *m;
    char detail[MSG_DETAIL_MAX];
    int status, rc = VCP_E_INVALID;

    if (res == NULL)
        res = &scratch;
    result_reset(res);
    if (out == NULL || json == NULL)
        return VCP_E_ARG;
    *out = NULL;
    /* The same reading of a body as vcpd's (src/core/body.c): same status, same words. */
    copy = malloc(len + 1);
    tok = body_tokener_new();
    if (copy == NULL || tok == NULL) {
        rc = VCP_E_NOMEM;
        goto out;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    obj = body_parse(tok, copy, len, false, &status, detail, sizeof detail);
    if (obj == NULL) {
        if (status == VCP_STATUS_GENERAL_ERROR) {
            rc = VCP_E_NOMEM;
            goto out;
        }
        result_set(res, status, "%s", detail);
        goto out;
    }
    json_object_object_del(obj, "auth_token");
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        rc = VCP_E_NOMEM;
        goto out;
    }
    m->obj = obj;
    obj = NULL;
    *out = m;
    rc = VCP_E_OK;
out:
    json_object_put(obj);
    json_tokener_free(tok);
    free(copy);
    return rc;
}

void vcp_msg_free(vcp_msg *m)
{
    if (m == NULL)
        return;
    json_object_put(m->obj);
    free(m);
}

enum vcp_error vcp_msg_set_from(vcp_msg *m, const char *from)
{
    if (m == NULL || from == NULL)
        return VCP_E_ARG;
    return put(m->obj, "from", json_object_new_string(from)) ? VCP_E_OK : VCP_E_NOMEM;
}

static const char *get_str(const vcp_msg *m, const char *key)
{
    struct json_object *v;

    if (m == NULL || !json_object_object_get_ex(m->obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

const char *vcp_msg_from(const vcp_msg *m)
{
    return get_str(m, "from");
}

bool vcp_msg_has_field(const vcp_msg *m, const char *key)
{
    return m && key && json_object_object_get_ex(m->obj, key, NULL);
}

const char *vcp_msg_type(const vcp_msg *m)
{
    return get_str(m, "type");
}

enum vcp_error vcp_msg_set_sender(vcp_msg *m, const char *name, const char *avatar)
{
    struct json_object *s;

    if (m == NULL || name == NULL)
        return VCP_E_ARG;
    s = json_object_new_object();
    if (s == NULL || !put_str(s, "name", name) || !put_str(s, "avatar", avatar)) {
        json_object_put(s);
        return VCP_E_NOMEM;
    }
    return put(m->obj, "sender", s) ? VCP_E_OK : VCP_E_NOMEM;
}

char *vcp_msg_to_json(const vcp_msg *m)
{
    const char *s;

    if (m == NULL)
        return NULL;
    s = json_object_to_json_string_ext(m->obj,
                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    return s ? strdup(s) : NULL;
}

enum vcp_error vcp_msg_validate(const vcp_msg *m, struct vcp_result *res)
{
    struct vcp_result scratch;
    char detail[MSG_DETAIL_MAX];
    int st;

    if (res == NULL)
        res = &scratch;
    result_reset(res);
    if (m == NULL)
        return VCP_E_ARG;
    detail[0] = '\0';
    st = msg_validate(m->obj, detail, sizeof(detail));
    if (st != VCP_STATUS_OK) {
        result_set(res, st, "%s", detail);
        return VCP_E_INVALID;
    }
    return VCP_E_OK;
}
