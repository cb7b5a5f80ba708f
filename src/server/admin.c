/*
 * Channel administration as a table of operations (see admin.h).  Arguments
 * arrive as JSON from either front end and are checked here, once: sizes
 * that fit the store's fixed fields, URLs, roles, rate settings.
 */
#include "server/admin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/detail.h"
#include "core/url.h"
#include "core/utf8.h"
#include "server/auth.h"
#include "server/fault.h"

struct op_ctx {
    struct store *s;
    struct json_object *args;
    struct channel ch; /* loaded when the op needs a channel */
    char *detail;
    size_t detail_len;
};

typedef int (*op_fn)(struct op_ctx *c, struct json_object **out);

static const char *const state_names[] = {"active", "blocked", "suspended", "deleted"};

/*
 * Member ids: Viber's user ids are base64 ("01234567890A=",
 * "ZjKTcfFqUULvHWphNAQ7tQ=="), the ones vcpd makes are URL-safe base64; this
 * set takes both and nothing else, so every id can be named in an admin API
 * path (a '/' is part of the last segment; '%XX' is decoded) and removed
 * again -- '?', '#', '%', spaces and non-ASCII could not.
 */
#define MEMBER_ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_"
#define MEMBER_ID_RULE  "only letters, digits and + / = - _ (at most 64)"

const char *admin_state_name(int state)
{
    if (state < 0 || state > CHANNEL_DELETED)
        return "unknown";
    return state_names[state];
}

/* Writes the operation's detail and returns rc (see detail.h). */
#define fail(c, rc, ...) detail_set((c)->detail, (c)->detail_len, (rc), __VA_ARGS__)

static int store_fail(struct op_ctx *c)
{
    snprintf(c->detail, c->detail_len, "store: %s", store_errmsg(c->s));
    return ADMIN_ERROR;
}

/* Copies an optional string argument into dst (size n).  Returns 0 when absent
 * or copied, or an ADMIN_BAD_REQUEST with detail. */
static int arg_str(struct op_ctx *c, const char *key, char *dst, size_t n, bool required,
                   bool is_url)
{
    struct json_object *v;
    const char *s;
    size_t len;

    if (!c->args || !json_object_object_get_ex(c->args, key, &v) || v == NULL) {
        if (required)
            return fail(c, ADMIN_BAD_REQUEST, "%s: required", key);
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return fail(c, ADMIN_BAD_REQUEST, "%s: must be a string", key);
    s = json_object_get_string(v);
    len = (size_t)json_object_get_string_len(v);
    if (required && len == 0)
        return fail(c, ADMIN_BAD_REQUEST, "%s: required", key);
    if (len >= n)
        return fail(c, ADMIN_BAD_REQUEST, "%s: too long", key);
    if (utf8_count(s, len) < 0 || memchr(s, '\0', len))
        return fail(c, ADMIN_BAD_REQUEST, "%s: not valid UTF-8", key);
    if (is_url && len > 0) {
        struct url_parts u;
        if (url_parse(s, len, &u) != 0)
            return fail(c, ADMIN_BAD_REQUEST, "%s: not an absolute http(s) URL", key);
    }
    memcpy(dst, s, len + 1);
    return 0;
}

/* Reads "rate": {"count":N,"window":S}, "off" or null into count/window. */
static int arg_rate(struct op_ctx *c, struct json_object *v, int *count, int *window)
{
    struct json_object *n, *w;
    int64_t cn, wn;

    if (v == NULL || (json_object_is_type(v, json_type_string) &&
                      strcmp(json_object_get_string(v), "off") == 0)) {
        *count = 0;
        *window = ADMIN_DEFAULT_RATE_WINDOW;
        return 0;
    }
    if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "count", &n))
        return fail(c, ADMIN_BAD_REQUEST, "%s: expected {\"count\":N,\"window\":S} or \"off\"",
                    "rate");
    if (!json_object_is_type(n, json_type_int) || (cn = json_object_get_int64(n)) < 0 ||
        cn > 1000000000)
        return fail(c, ADMIN_BAD_REQUEST, "%s: must be an integer 0..1000000000", "rate.count");
    wn = ADMIN_DEFAULT_RATE_WINDOW;
    if (json_object_object_get_ex(v, "window", &w)) {
        if (!json_object_is_type(w, json_type_int) || (wn = json_object_get_int64(w)) < 1 ||
            wn > 86400)
            return fail(c, ADMIN_BAD_REQUEST, "%s: must be an integer 1..86400", "rate.window");
    }
    *count = (int)cn;
    *window = (int)wn;
    return 0;
}

/*
 * Reads "location": {"lat":-90..90,"lon":-180..180} (numbers, or numeric
 * strings as the seed writes them) into lat/lon.
 */
static int arg_location(struct op_ctx *c, struct json_object *v, double *lat, double *lon)
{
    static const char *const keys[] = {"lat", "lon"};
    static const double max[] = {90, 180};
    double got[2];

    if (!json_object_is_type(v, json_type_object))
        return fail(c, ADMIN_BAD_REQUEST, "%s: expected {\"lat\":N,\"lon\":N}", "location");
    for (int i = 0; i < 2; i++) {
        struct json_object *n;
        const char *str;
        char *end;

        if (!json_object_object_get_ex(v, keys[i], &n) || n == NULL)
            return fail(c, ADMIN_BAD_REQUEST, "location.%s: required", keys[i]);
        if (json_object_is_type(n, json_type_double) || json_object_is_type(n, json_type_int)) {
            got[i] = json_object_get_double(n);
        } else if (json_object_is_type(n, json_type_string)) {
            str = json_object_get_string(n);
            got[i] = strtod(str, &end);
            if (end == str || *end != '\0')
                return fail(c, ADMIN_BAD_REQUEST, "location.%s: not a number", keys[i]);
        } else {
            return fail(c, ADMIN_BAD_REQUEST, "location.%s: not a number", keys[i]);
        }
        if (!(got[i] >= -max[i] && got[i] <= max[i])) /* NaN fails too */
            return fail(c, ADMIN_BAD_REQUEST, "location.%s: must be -%g..%g", keys[i], max[i],
                        max[i]);
    }
    *lat = got[0];
    *lon = got[1];
    return 0;
}

/* "country": "" or two letters A-Z (ISO 3166-1 alpha-2, as Viber answers it). */
static int arg_country(struct op_ctx *c, char *dst, size_t n)
{
    char buf[8] = "";
    int rc = arg_str(c, "country", buf, sizeof buf, false, false);

    if (rc != 0)
        return rc;
    if (buf[0] != '\0' &&
        (strlen(buf) != 2 || buf[0] < 'A' || buf[0] > 'Z' || buf[1] < 'A' || buf[1] > 'Z'))
        return fail(c, ADMIN_BAD_REQUEST, "%s: two capital letters (ISO 3166-1 alpha-2)",
                    "country");
    if (c->args && json_object_object_get_ex(c->args, "country", NULL))
        snprintf(dst, n, "%s", buf);
    return 0;
}

struct json_object *admin_channel_json(const struct channel *c)
{
    struct json_object *o = json_object_new_object();
    struct json_object *rate = NULL, *loc;

    json_object_object_add(o, "id", json_object_new_string(c->pa_id));
    json_object_object_add(o, "name", json_object_new_string(c->name));
    json_object_object_add(o, "uri", json_object_new_string(c->uri));
    json_object_object_add(o, "state", json_object_new_string(admin_state_name(c->state)));
    json_object_object_add(o, "webhook", json_object_new_string(c->webhook));
    if (c->rate_count > 0) {
        rate = json_object_new_object();
        json_object_object_add(rate, "count", json_object_new_int(c->rate_count));
        json_object_object_add(rate, "window", json_object_new_int(c->rate_window_s));
    }
    json_object_object_add(o, "rate", rate);
    json_object_object_add(o, "icon", json_object_new_string(c->icon));
    json_object_object_add(o, "background", json_object_new_string(c->background));
    json_object_object_add(o, "category", json_object_new_string(c->category));
    json_object_object_add(o, "subcategory", json_object_new_string(c->subcategory));
    json_object_object_add(o, "country", json_object_new_string(c->country));
    loc = json_object_new_object();
    json_object_object_add(loc, "lat", json_object_new_double(c->lat));
    json_object_object_add(loc, "lon", json_object_new_double(c->lon));
    json_object_object_add(o, "location", loc);
    json_object_object_add(o, "created_ms", json_object_new_int64(c->created_ms));
    json_object_object_add(o, "posts", json_object_new_int64(c->posts_count));
    return o;
}

static const char *role_name(int role)
{
    return role == ROLE_SUPERADMIN ? "superadmin" : "admin";
}

struct json_object *admin_member_json(const struct member *m)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_string(m->id));
    json_object_object_add(o, "name", json_object_new_string(m->name));
    json_object_object_add(o, "avatar", json_object_new_string(m->avatar));
    json_object_object_add(o, "role", json_object_new_string(role_name(m->role)));
    return o;
}

static struct json_object *wrap(const char *key, struct json_object *v)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, key, v);
    return o;
}

/*
 * Reads a member described by obj (name, role, id, avatar) into m; a random
 * id when obj has none.  Nothing is stored.
 */
static int member_parse(struct op_ctx *c, struct json_object *obj, struct member *m,
                        int default_role)
{
    struct json_object *v, *saved = c->args;
    int rc;

    c->args = obj; /* arg_str reads c->args */
    memset(m, 0, sizeof *m);
    m->role = default_role;
    if ((rc = arg_str(c, "name", m->name, sizeof m->name, true, false)) != 0 ||
        (rc = arg_str(c, "avatar", m->avatar, sizeof m->avatar, false, true)) != 0 ||
        (rc = arg_str(c, "id", m->id, sizeof m->id, false, false)) != 0) /* "id: too long" */
        goto out;
    if (m->id[0] != '\0' && strspn(m->id, MEMBER_ID_CHARS) != strlen(m->id)) {
        rc = fail(c, ADMIN_BAD_REQUEST, "%s: " MEMBER_ID_RULE, "id");
        goto out;
    }
    if (m->id[0] == '\0' && auth_member_id_new(m->id) != 0) {
        rc = fail(c, ADMIN_ERROR, "%s: random generator failed", "id");
        goto out;
    }
    if (obj && json_object_object_get_ex(obj, "role", &v)) {
        const char *r = json_object_get_string(v);
        if (json_object_is_type(v, json_type_string) && strcmp(r, "superadmin") == 0)
            m->role = ROLE_SUPERADMIN;
        else if (json_object_is_type(v, json_type_string) && strcmp(r, "admin") == 0)
            m->role = ROLE_ADMIN;
        else
            rc = fail(c, ADMIN_BAD_REQUEST, "%s: must be \"superadmin\" or \"admin\"", "role");
    }
out:
    c->args = saved;
    return rc;
}

/* Stores member m in channel c->ch. */
static int member_store(struct op_ctx *c, const struct member *m)
{
    int rc = store_member_add(c->s, c->ch.id, m);

    if (rc == STORE_EXISTS)
        return fail(c, ADMIN_CONFLICT, "member %s is already in the channel", m->id);
    if (rc != STORE_OK)
        return store_fail(c);
    return ADMIN_OK;
}

/* Adds a member described by args (name, role, id, avatar) to channel ch. */
static int member_add(struct op_ctx *c, struct member *m, int default_role)
{
    int rc = member_parse(c, c->args, m, default_role);

    return rc != ADMIN_OK ? rc : member_store(c, m);
}

/*
 * channel.create's fixtures: a chosen "token" (checked by auth_token_check,
 * stored only as its hash like any other) into token, and a chosen public
 * "id" ("pa:" and 1 to 20 digits) into c->ch.pa_id.  Absent: left as they are.
 */
static int fixture_ids(struct op_ctx *c, char *token, size_t token_cap)
{
    struct json_object *v;
    const char *id;
    size_t n;
    int rc;

    if (c->args && json_object_object_get_ex(c->args, "token", &v)) {
        if (!json_object_is_type(v, json_type_string))
            return fail(c, ADMIN_BAD_REQUEST, "%s: must be a string", "token");
        n = (size_t)json_object_get_string_len(v);
        if (auth_token_check(json_object_get_string(v), n, c->detail, c->detail_len) != 0)
            return ADMIN_BAD_REQUEST;
        if (n >= token_cap)
            return fail(c, ADMIN_BAD_REQUEST, "%s: too long", "token");
        memcpy(token, json_object_get_string(v), n + 1);
    }
    if ((rc = arg_str(c, "id", c->ch.pa_id, sizeof c->ch.pa_id, false, false)) != 0)
        return rc;
    id = c->ch.pa_id;
    n = strlen(id);
    if (n > 0 &&
        (n < 4 || n > 23 || strncmp(id, "pa:", 3) != 0 || strspn(id + 3, "0123456789") != n - 3))
        return fail(c, ADMIN_BAD_REQUEST, "%s: expected \"pa:\" and 1 to 20 digits", "id");
    return ADMIN_OK;
}

/*
 * channel.create's "members": an array of member objects (as member.add
 * takes them), added after the superadmin.  Parsed into *out (malloc'd,
 * *n of them) before anything is stored, so a bad one changes nothing.
 * Ids must differ from each other and from the superadmin's (sa).
 */
static int members_parse(struct op_ctx *c, const struct member *sa, struct member **out, size_t *n)
{
    struct json_object *arr;
    struct member *v;
    size_t len;
    int rc;

    *out = NULL;
    *n = 0;
    if (!c->args || !json_object_object_get_ex(c->args, "members", &arr) || arr == NULL)
        return ADMIN_OK;
    if (!json_object_is_type(arr, json_type_array))
        return fail(c, ADMIN_BAD_REQUEST, "%s: must be an array of members", "members");
    len = json_object_array_length(arr);
    if (len > 1000)
        return fail(c, ADMIN_BAD_REQUEST, "%s: at most 1000", "members");
    if (len == 0)
        return ADMIN_OK;
    v = calloc(len, sizeof *v);
    if (!v)
        return fail(c, ADMIN_ERROR, "out of memory");
    for (size_t i = 0; i < len; i++) {
        struct json_object *m = json_object_array_get_idx(arr, i);
        char why[200];

        if (!json_object_is_type(m, json_type_object)) {
            rc = fail(c, ADMIN_BAD_REQUEST, "members[%zu]: must be an object", i);
            goto fail;
        }
        if ((rc = member_parse(c, m, &v[i], ROLE_ADMIN)) != ADMIN_OK) {
            snprintf(why, sizeof why, "%s", c->detail);
            fail(c, rc, "members[%zu].%s", i, why);
            goto fail;
        }
        for (size_t j = 0; j <= i; j++) {
            const char *other = j < i ? v[j].id : sa->id;
            if (strcmp(other, v[i].id) == 0) {
                rc = fail(c, ADMIN_BAD_REQUEST, "members[%zu].id: %s is given twice", i, v[i].id);
                goto fail;
            }
        }
    }
    *out = v;
    *n = len;
    return ADMIN_OK;
fail:
    free(v);
    return rc;
}

static int op_channel_create(struct op_ctx *c, struct json_object **out)
{
    struct channel *ch = &c->ch;
    struct member sa, *members = NULL, *all;
    struct json_object *v, *sa_args = NULL, *arr;
    char token[AUTH_TOKEN_MAX + 1] = "";
    uint8_t hash[STORE_HASH_LEN];
    size_t n_members = 0;
    int rc;

    memset(ch, 0, sizeof *ch);
    if ((rc = arg_str(c, "name", ch->name, sizeof ch->name, true, false)) != 0 ||
        (rc = arg_str(c, "uri", ch->uri, sizeof ch->uri, false, false)) != 0 ||
        (rc = arg_str(c, "icon", ch->icon, sizeof ch->icon, false, true)) != 0 ||
        (rc = arg_str(c, "background", ch->background, sizeof ch->background, false, true)) != 0 ||
        (rc = arg_str(c, "category", ch->category, sizeof ch->category, false, false)) != 0 ||
        (rc = arg_str(c, "subcategory", ch->subcategory, sizeof ch->subcategory, false, false)) !=
            0 ||
        (rc = arg_country(c, ch->country, sizeof ch->country)) != 0 ||
        (rc = arg_str(c, "webhook", ch->webhook, sizeof ch->webhook, false, true)) != 0 ||
        (rc = fixture_ids(c, token, sizeof token)) != 0)
        return rc;
    if (c->args && json_object_object_get_ex(c->args, "location", &v) &&
        (rc = arg_location(c, v, &ch->lat, &ch->lon)) != 0)
        return rc;
    ch->rate_count = ADMIN_DEFAULT_RATE_COUNT;
    ch->rate_window_s = ADMIN_DEFAULT_RATE_WINDOW;
    if (c->args && json_object_object_get_ex(c->args, "rate", &v) &&
        (rc = arg_rate(c, v, &ch->rate_count, &ch->rate_window_s)) != 0)
        return rc;
    if (ch->uri[0] == '\0') {
        /* a URI-safe slug of the name, as Viber derives one */
        size_t j = 0;
        for (const char *p = ch->name; *p && j < sizeof ch->uri - 1; p++) {
            char k = *p;
            if ((k >= 'a' && k <= 'z') || (k >= '0' && k <= '9'))
                ch->uri[j++] = k;
            else if (k >= 'A' && k <= 'Z')
                ch->uri[j++] = (char)(k - 'A' + 'a');
        }
        ch->uri[j] = '\0';
    }

    /* the first superadmin (the sender id posts must use), then the other
     * members: all checked before anything is stored */
    sa_args = json_object_new_object();
    if (c->args && json_object_object_get_ex(c->args, "superadmin", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
        json_object_object_add(sa_args, "name", json_object_get(v));
    else
        json_object_object_add(sa_args, "name", json_object_new_string("Super Admin"));
    if (c->args && json_object_object_get_ex(c->args, "superadmin_id", &v) && v != NULL)
        json_object_object_add(sa_args, "id", json_object_get(v));
    rc = member_parse(c, sa_args, &sa, ROLE_SUPERADMIN);
    json_object_put(sa_args);
    if (rc != ADMIN_OK) {
        /* name: ... is the superadmin's own ("superadmin: too long"), id: ... its id's */
        char why[200];
        snprintf(why, sizeof why, "%s", c->detail);
        if (strncmp(why, "name:", 5) == 0)
            return fail(c, rc, "superadmin:%s", why + 5);
        return fail(c, rc, "superadmin_%s", why); /* "superadmin_id: ..." */
    }
    if ((rc = members_parse(c, &sa, &members, &n_members)) != ADMIN_OK)
        return rc;

    if ((token[0] == '\0' && auth_token_new(token) != 0) ||
        (ch->pa_id[0] == '\0' && auth_pa_id_new(ch->pa_id) != 0) ||
        auth_random_u64(&ch->epoch) != 0) {
        rc = fail(c, ADMIN_ERROR, "%s: random generator failed", "token");
        goto out;
    }
    auth_token_hash(token, strlen(token), hash);
    if (!(all = malloc((n_members + 1) * sizeof *all))) {
        rc = fail(c, ADMIN_ERROR, "%s: out of memory", "members");
        goto out;
    }
    all[0] = sa;
    if (n_members)
        memcpy(all + 1, members, n_members * sizeof *members);
    /* the channel and every member in one transaction: all or nothing */
    rc = store_channel_create(c->s, ch, hash, all, n_members + 1);
    free(all);
    if (rc == STORE_EXISTS) {
        /* the pa_id, or the token's hash: a chosen one that is taken */
        struct channel other;
        if (store_channel_by_pa_id(c->s, ch->pa_id, &other) == STORE_OK)
            rc = fail(c, ADMIN_CONFLICT, "id: %s is taken", ch->pa_id);
        else
            rc = fail(c, ADMIN_CONFLICT, "token: already the token of another channel");
        goto out;
    }
    if (rc != STORE_OK) {
        rc = store_fail(c);
        goto out;
    }
    arr = json_object_new_array_ext((int)n_members);
    for (size_t i = 0; i < n_members; i++)
        json_object_array_add(arr, admin_member_json(&members[i]));

    *out = json_object_new_object();
    json_object_object_add(*out, "channel", admin_channel_json(ch));
    json_object_object_add(*out, "token", json_object_new_string(token));
    json_object_object_add(*out, "superadmin", admin_member_json(&sa));
    if (n_members > 0)
        json_object_object_add(*out, "members", arr);
    else
        json_object_put(arr);
    rc = ADMIN_OK;
out:
    free(members);
    return rc;
}

static int op_channel_list(struct op_ctx *c, struct json_object **out)
{
    struct channel *list = NULL;
    struct json_object *arr;
    size_t n = 0;

    if (store_channel_list(c->s, &list, &n) != STORE_OK)
        return store_fail(c);
    arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, admin_channel_json(&list[i]));
    free(list);
    *out = wrap("channels", arr);
    return ADMIN_OK;
}

/* Adds the channel's "members" to obj and hands obj out (*out); obj is released on failure. */
static int with_members(struct op_ctx *c, struct json_object *obj, struct json_object **out)
{
    struct member *m = NULL;
    struct json_object *arr;
    size_t n = 0;

    if (store_member_list(c->s, c->ch.id, &m, &n) != STORE_OK) {
        json_object_put(obj);
        return store_fail(c);
    }
    arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, admin_member_json(&m[i]));
    free(m);
    json_object_object_add(obj, "members", arr);
    *out = obj;
    return ADMIN_OK;
}

static int op_channel_show(struct op_ctx *c, struct json_object **out)
{
    return with_members(c, wrap("channel", admin_channel_json(&c->ch)), out);
}

static int set_state(struct op_ctx *c, int state, struct json_object **out)
{
    if (store_channel_set_state(c->s, c->ch.id, state) != STORE_OK)
        return store_fail(c);
    c->ch.state = state;
    *out = wrap("channel", admin_channel_json(&c->ch));
    return ADMIN_OK;
}

static int op_block(struct op_ctx *c, struct json_object **out)
{
    return set_state(c, CHANNEL_BLOCKED, out);
}

static int op_suspend(struct op_ctx *c, struct json_object **out)
{
    return set_state(c, CHANNEL_SUSPENDED, out);
}

static int op_activate(struct op_ctx *c, struct json_object **out)
{
    return set_state(c, CHANNEL_ACTIVE, out);
}

static int op_delete(struct op_ctx *c, struct json_object **out)
{
    return set_state(c, CHANNEL_DELETED, out);
}

static int op_rotate(struct op_ctx *c, struct json_object **out)
{
    char token[AUTH_TOKEN_LEN + 1];
    uint8_t hash[STORE_HASH_LEN];

    if (auth_token_new(token) != 0)
        return fail(c, ADMIN_ERROR, "%s: random generator failed", "token");
    auth_token_hash(token, strlen(token), hash);
    if (store_channel_set_token(c->s, c->ch.id, hash) != STORE_OK)
        return store_fail(c);
    *out = wrap("channel", admin_channel_json(&c->ch));
    json_object_object_add(*out, "token", json_object_new_string(token));
    return ADMIN_OK;
}

static int op_set_rate(struct op_ctx *c, struct json_object **out)
{
    struct json_object *v = NULL;
    int rc;

    if (!c->args || !json_object_object_get_ex(c->args, "rate", &v))
        return fail(c, ADMIN_BAD_REQUEST, "%s: required", "rate");
    if ((rc = arg_rate(c, v, &c->ch.rate_count, &c->ch.rate_window_s)) != 0)
        return rc;
    if (store_channel_set_rate(c->s, c->ch.id, c->ch.rate_count, c->ch.rate_window_s) != STORE_OK)
        return store_fail(c);
    *out = wrap("channel", admin_channel_json(&c->ch));
    return ADMIN_OK;
}

static int op_set_webhook(struct op_ctx *c, struct json_object **out)
{
    char url[sizeof c->ch.webhook] = "";
    int rc;

    if ((rc = arg_str(c, "url", url, sizeof url, false, true)) != 0)
        return rc;
    if (store_channel_set_webhook(c->s, c->ch.id, url) != STORE_OK)
        return store_fail(c);
    memcpy(c->ch.webhook, url, sizeof url);
    *out = wrap("channel", admin_channel_json(&c->ch));
    return ADMIN_OK;
}

/*
 * Changes the details get_account_info and the page show: any of name, uri,
 * icon, background, category, subcategory, country, location; the others
 * stay.  A running vcpd answers with them from its next request (the
 * store's config version moves).
 */
static int op_edit(struct op_ctx *c, struct json_object **out)
{
    static const char *const keys[] = {"name",     "uri",         "icon",    "background",
                                       "category", "subcategory", "country", "location"};
    struct channel ch = c->ch;
    struct json_object *v;
    bool any = false;
    int rc;

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        any = any || (c->args && json_object_object_get_ex(c->args, keys[i], NULL));
    if (!any)
        return fail(c, ADMIN_BAD_REQUEST,
                    "nothing to change: give name, uri, icon, background, category, subcategory, "
                    "country or location");
    if ((rc = arg_str(c, "uri", ch.uri, sizeof ch.uri, false, false)) != 0 ||
        (rc = arg_str(c, "icon", ch.icon, sizeof ch.icon, false, true)) != 0 ||
        (rc = arg_str(c, "background", ch.background, sizeof ch.background, false, true)) != 0 ||
        (rc = arg_str(c, "category", ch.category, sizeof ch.category, false, false)) != 0 ||
        (rc = arg_str(c, "subcategory", ch.subcategory, sizeof ch.subcategory, false, false)) !=
            0 ||
        (rc = arg_country(c, ch.country, sizeof ch.country)) != 0)
        return rc;
    if (c->args && json_object_object_get_ex(c->args, "name", NULL) &&
        (rc = arg_str(c, "name", ch.name, sizeof ch.name, true, false)) != 0)
        return rc; /* a channel keeps a name: "" is refused */
    if (c->args && json_object_object_get_ex(c->args, "location", &v) &&
        (rc = arg_location(c, v, &ch.lat, &ch.lon)) != 0)
        return rc;
    if (store_channel_set_details(c->s, ch.id, &ch) != STORE_OK)
        return store_fail(c);
    *out = wrap("channel", admin_channel_json(&ch));
    return ADMIN_OK;
}

/*
 * Empties the channel for the next test: its posts go, and a new epoch
 * makes every vcpd using the store start its per-channel memory afresh
 * (rate bucket).  Token, members, settings and state stay.
 */
static int op_reset(struct op_ctx *c, struct json_object **out)
{
    struct json_object *deleted;
    int64_t posts = 0;

    if (auth_random_u64(&c->ch.epoch) != 0)
        return fail(c, ADMIN_ERROR, "%s: random generator failed", "epoch");
    if (store_channel_reset(c->s, c->ch.id, c->ch.epoch, &posts) != STORE_OK)
        return store_fail(c);
    c->ch.posts_count = 0;
    *out = wrap("channel", admin_channel_json(&c->ch));
    deleted = json_object_new_object();
    json_object_object_add(deleted, "posts", json_object_new_int64(posts));
    json_object_object_add(*out, "deleted", deleted);
    return ADMIN_OK;
}

/* Empties the whole store: every channel with its members and posts. */
static int op_sandbox_reset(struct op_ctx *c, struct json_object **out)
{
    struct json_object *deleted;
    int64_t channels = 0, posts = 0;

    if (store_reset_all(c->s, &channels, &posts) != STORE_OK)
        return store_fail(c);
    deleted = json_object_new_object();
    json_object_object_add(deleted, "channels", json_object_new_int64(channels));
    json_object_object_add(deleted, "posts", json_object_new_int64(posts));
    *out = wrap("deleted", deleted);
    return ADMIN_OK;
}

/*
 * Faults (fault.h): stored here whatever the mode; only a --sandbox vcpd
 * applies them (and its admin API alone accepts new ones: admin_http.c).
 */
static int op_fault_add(struct op_ctx *c, struct json_object **out)
{
    struct fault f;
    struct fault_row row;
    struct json_object *spec;
    int rc;

    if (fault_parse(c->args, &f, c->detail, c->detail_len) != 0)
        return ADMIN_BAD_REQUEST;
    spec = fault_spec_json(&f);
    memset(&row, 0, sizeof row);
    row.channel = c->ch.id;
    row.spec = (char *)json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
    row.remaining = f.remaining;
    rc = store_fault_add(c->s, &row);
    json_object_put(spec);
    if (rc != STORE_OK)
        return store_fail(c);
    f.id = row.id;
    f.created_ms = row.created_ms;
    *out = wrap("fault", fault_json(&f));
    return ADMIN_OK;
}

static int op_fault_list(struct op_ctx *c, struct json_object **out)
{
    struct fault_row *rows = NULL;
    struct json_object *arr;
    size_t n = 0;

    if (store_fault_list(c->s, c->ch.id, &rows, &n) != STORE_OK)
        return store_fail(c);
    arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        struct fault f;
        if (fault_from_row(&rows[i], &f) == 0)
            json_object_array_add(arr, fault_json(&f));
    }
    store_faults_free(rows, n);
    *out = wrap("faults", arr);
    return ADMIN_OK;
}

/* "fault": an id clears that one; absent, every fault of the channel. */
static int op_fault_clear(struct op_ctx *c, struct json_object **out)
{
    struct json_object *v;
    int64_t id = 0, n = 0;
    int rc;

    if (c->args && json_object_object_get_ex(c->args, "fault", &v) && v != NULL) {
        const char *s = json_object_get_string(v);
        char *end;
        if (json_object_is_type(v, json_type_int)) {
            id = json_object_get_int64(v);
        } else if (json_object_is_type(v, json_type_string) && *s >= '1' && *s <= '9') {
            id = strtoll(s, &end, 10);
            if (*end)
                id = 0;
        }
        if (id <= 0)
            return fail(c, ADMIN_BAD_REQUEST, "%s: a fault id (a positive integer)", "fault");
    }
    rc = store_fault_remove(c->s, c->ch.id, id, &n);
    if (rc == STORE_NOTFOUND)
        return fail(c, ADMIN_NOT_FOUND, "fault %lld not found", (long long)id);
    if (rc != STORE_OK)
        return store_fail(c);
    *out = wrap("cleared", json_object_new_int64(n));
    return ADMIN_OK;
}

static int op_member_add(struct op_ctx *c, struct json_object **out)
{
    struct member m;
    int rc = member_add(c, &m, ROLE_ADMIN);

    if (rc != ADMIN_OK)
        return rc;
    *out = wrap("member", admin_member_json(&m));
    return ADMIN_OK;
}

static int op_member_remove(struct op_ctx *c, struct json_object **out)
{
    char id[65];
    int rc;

    if ((rc = arg_str(c, "member", id, sizeof id, true, false)) != 0)
        return rc;
    rc = store_member_remove(c->s, c->ch.id, id);
    if (rc == STORE_NOTFOUND)
        return fail(c, ADMIN_NOT_FOUND, "member %s not found", id);
    if (rc != STORE_OK)
        return store_fail(c);
    *out = wrap("removed", json_object_new_string(id));
    return ADMIN_OK;
}

static int op_member_list(struct op_ctx *c, struct json_object **out)
{
    return with_members(c, json_object_new_object(), out);
}

static const struct {
    const char *name;
    bool needs_channel;
    bool writes; /* changes the database (admin_op_writes) */
    op_fn fn;
} ops[] = {
    {"channel.create", false, true, op_channel_create},
    {"channel.list", false, false, op_channel_list},
    {"channel.show", true, false, op_channel_show},
    {"channel.block", true, true, op_block},
    {"channel.suspend", true, true, op_suspend},
    {"channel.activate", true, true, op_activate},
    {"channel.delete", true, true, op_delete},
    {"channel.rotate-token", true, true, op_rotate},
    {"channel.set-rate", true, true, op_set_rate},
    {"channel.set-webhook", true, true, op_set_webhook},
    {"channel.edit", true, true, op_edit},
    {"channel.reset", true, true, op_reset},
    {"sandbox.reset", false, true, op_sandbox_reset},
    {"fault.add", true, true, op_fault_add},
    {"fault.list", true, false, op_fault_list},
    {"fault.clear", true, true, op_fault_clear},
    {"member.add", true, true, op_member_add},
    {"member.remove", true, true, op_member_remove},
    {"member.list", true, false, op_member_list},
};

int admin_op_known(const char *op)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, op) == 0)
            return 1;
    return 0;
}

int admin_op_writes(const char *op)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, op) == 0)
            return ops[i].writes;
    return 0;
}

int admin_exec(struct store *s, const char *op, struct json_object *args, struct json_object **out,
               char *detail, size_t detail_len)
{
    struct op_ctx *c;
    int rc = ADMIN_BAD_REQUEST;

    *out = NULL;
    detail[0] = '\0';
    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(detail, detail_len, "out of memory");
        return ADMIN_ERROR;
    }
    c->s = s;
    c->args = args;
    c->detail = detail;
    c->detail_len = detail_len;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].name, op) != 0)
            continue;
        if (ops[i].needs_channel) {
            struct json_object *v;
            if (!args || !json_object_object_get_ex(args, "channel", &v) ||
                !json_object_is_type(v, json_type_string)) {
                rc = fail(c, ADMIN_BAD_REQUEST, "%s: required", "channel");
                goto out;
            }
            rc = store_channel_by_pa_id(s, json_object_get_string(v), &c->ch);
            if (rc == STORE_NOTFOUND) {
                rc = fail(c, ADMIN_NOT_FOUND, "channel %.64s not found", json_object_get_string(v));
                goto out;
            }
            if (rc != STORE_OK) {
                rc = store_fail(c);
                goto out;
            }
        }
        rc = ops[i].fn(c, out);
        goto out;
    }
    snprintf(detail, detail_len, "unknown operation %.64s", op);
out:
    free(c);
    return rc;
}
