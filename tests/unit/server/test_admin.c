/*
 * Administration operations against a real SQLite file: what the CLI and
 * the admin HTTP API both run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/admin.h"
#include "server/auth.h"

struct fx {
    char dir[64];
    char path[128];
    struct store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];

    snprintf(f->dir, sizeof f->dir, "/tmp/vcp-admin-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    if (store_open(f->path, &f->s, err, sizeof err) != STORE_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[160];

    store_close(f->s);
    unlink(f->path);
    snprintf(p, sizeof p, "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", f->path);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Runs op with args given as JSON text; returns the rc, *out owned by caller. */
static int run(struct fx *f, const char *op, const char *args, struct json_object **out,
               char *detail)
{
    struct json_object *a = args ? json_tokener_parse(args) : NULL;
    int rc = admin_exec(f->s, op, a, out, detail, 256);
    json_object_put(a);
    return rc;
}

static const char *str(struct json_object *o, const char *path)
{
    /* two-level lookup: "a.b" or "a" */
    const char *dot = strchr(path, '.');
    struct json_object *v = NULL;
    if (dot) {
        char first[32];
        snprintf(first, sizeof first, "%.*s", (int)(dot - path), path);
        if (!json_object_object_get_ex(o, first, &o))
            return NULL;
        path = dot + 1;
    }
    if (!json_object_object_get_ex(o, path, &v))
        return NULL;
    return json_object_get_string(v);
}

static void create_shows_token_once_and_stores_hash(void **state)
{
    struct fx *f = *state;
    struct json_object *out;
    struct channel ch;
    uint8_t hash[STORE_HASH_LEN];
    char detail[256], token[128], id[32];
    int role;

    assert_int_equal(
        run(f, "channel.create", "{\"name\":\"News\",\"superadmin\":\"Ann\"}", &out, detail),
        ADMIN_OK);
    snprintf(token, sizeof token, "%s", str(out, "token"));
    snprintf(id, sizeof id, "%s", str(out, "channel.id"));
    assert_int_equal(strlen(token), AUTH_TOKEN_LEN);
    assert_string_equal(str(out, "channel.state"), "active");
    assert_string_equal(str(out, "superadmin.name"), "Ann");
    assert_string_equal(str(out, "superadmin.role"), "superadmin");
    auth_token_hash(token, strlen(token), hash);
    assert_int_equal(store_channel_by_token(f->s, hash, &ch), STORE_OK);
    assert_string_equal(ch.pa_id, id);
    assert_int_equal(ch.rate_count, 500);
    assert_int_equal(ch.rate_window_s, 10);
    assert_int_equal(store_member_role(f->s, ch.id, str(out, "superadmin.id"), &role), STORE_OK);
    assert_int_equal(role, ROLE_SUPERADMIN);
    json_object_put(out);

    /* show and list never reveal the token */
    char args[96];
    snprintf(args, sizeof args, "{\"channel\":\"%s\"}", id);
    assert_int_equal(run(f, "channel.show", args, &out, detail), ADMIN_OK);
    assert_null(strstr(json_object_to_json_string(out), token));
    json_object_put(out);
}

static void rotate_invalidates_old_token(void **state)
{
    struct fx *f = *state;
    struct json_object *out;
    struct channel ch;
    uint8_t old_hash[STORE_HASH_LEN], new_hash[STORE_HASH_LEN];
    char detail[256], args[96];

    assert_int_equal(run(f, "channel.create", "{\"name\":\"R\"}", &out, detail), ADMIN_OK);
    auth_token_hash(str(out, "token"), strlen(str(out, "token")), old_hash);
    snprintf(args, sizeof args, "{\"channel\":\"%s\"}", str(out, "channel.id"));
    json_object_put(out);
    assert_int_equal(run(f, "channel.rotate-token", args, &out, detail), ADMIN_OK);
    auth_token_hash(str(out, "token"), strlen(str(out, "token")), new_hash);
    json_object_put(out);
    assert_int_equal(store_channel_by_token(f->s, old_hash, &ch), STORE_NOTFOUND);
    assert_int_equal(store_channel_by_token(f->s, new_hash, &ch), STORE_OK);
}

static void states_rate_webhook(void **state)
{
    struct fx *f = *state;
    struct json_object *out;
    char detail[256], args[256], id[32];

    assert_int_equal(run(f, "channel.create", "{\"name\":\"S\",\"rate\":\"off\"}", &out, detail),
                     ADMIN_OK);
    snprintf(id, sizeof id, "%s", str(out, "channel.id"));
    assert_null(str(out, "channel.rate"));
    json_object_put(out);
    static const char *const ops[] = {"channel.block", "channel.suspend", "channel.delete",
                                      "channel.activate"};
    static const char *const names[] = {"blocked", "suspended", "deleted", "active"};
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "{\"channel\":\"%s\"}", id);
        assert_int_equal(run(f, ops[i], args, &out, detail), ADMIN_OK);
        assert_string_equal(str(out, "channel.state"), names[i]);
        json_object_put(out);
    }
    snprintf(args, sizeof args, "{\"channel\":\"%s\",\"rate\":{\"count\":3,\"window\":60}}", id);
    assert_int_equal(run(f, "channel.set-rate", args, &out, detail), ADMIN_OK);
    {
        struct json_object *ch, *rate, *v;
        assert_true(json_object_object_get_ex(out, "channel", &ch));
        assert_true(json_object_object_get_ex(ch, "rate", &rate));
        assert_true(json_object_object_get_ex(rate, "count", &v));
        assert_int_equal(json_object_get_int(v), 3);
        assert_true(json_object_object_get_ex(rate, "window", &v));
        assert_int_equal(json_object_get_int(v), 60);
    }
    json_object_put(out);
    snprintf(args, sizeof args, "{\"channel\":\"%s\",\"rate\":{\"count\":-1}}", id);
    assert_int_equal(run(f, "channel.set-rate", args, &out, detail), ADMIN_BAD_REQUEST);
    assert_string_equal(detail, "rate.count: must be an integer 0..1000000000");
    snprintf(args, sizeof args, "{\"channel\":\"%s\",\"url\":\"ftp://x/\"}", id);
    assert_int_equal(run(f, "channel.set-webhook", args, &out, detail), ADMIN_BAD_REQUEST);
    assert_string_equal(detail, "url: not an absolute http(s) URL");
    snprintf(args, sizeof args, "{\"channel\":\"%s\",\"url\":\"https://hook.example/v\"}", id);
    assert_int_equal(run(f, "channel.set-webhook", args, &out, detail), ADMIN_OK);
    assert_string_equal(str(out, "channel.webhook"), "https://hook.example/v");
    json_object_put(out);
}

static void members(void **state)
{
    struct fx *f = *state;
    struct json_object *out, *arr;
    char detail[256], args[256], id[32];

    assert_int_equal(run(f, "channel.create", "{\"name\":\"M\"}", &out, detail), ADMIN_OK);
    snprintf(id, sizeof id, "%s", str(out, "channel.id"));
    json_object_put(out);
    snprintf(args, sizeof args, "{\"channel\":\"%s\",\"name\":\"Bo\",\"id\":\"bo=\"}", id);
    assert_int_equal(run(f, "member.add", args, &out, detail), ADMIN_OK);
    assert_string_equal(str(out, "member.role"), "admin");
    json_object_put(out);
    assert_int_equal(run(f, "member.add", args, &out, detail), ADMIN_CONFLICT);
    assert_null(out);
    snprintf(args, sizeof args, "{\"channel\":\"%s\",\"name\":\"Cy\",\"role\":\"owner\"}", id);
    assert_int_equal(run(f, "member.add", args, &out, detail), ADMIN_BAD_REQUEST);
    assert_string_equal(detail, "role: must be \"superadmin\" or \"admin\"");
    snprintf(args, sizeof args, "{\"channel\":\"%s\",\"role\":\"admin\"}", id);
    assert_int_equal(run(f, "member.add", args, &out, detail), ADMIN_BAD_REQUEST);
    assert_string_equal(detail, "name: required");
    snprintf(args, sizeof args, "{\"channel\":\"%s\"}", id);
    assert_int_equal(run(f, "member.list", args, &out, detail), ADMIN_OK);
    assert_true(json_object_object_get_ex(out, "members", &arr));
    assert_int_equal(json_object_array_length(arr), 2); /* superadmin + Bo */
    json_object_put(out);
    snprintf(args, sizeof args, "{\"channel\":\"%s\",\"member\":\"bo=\"}", id);
    assert_int_equal(run(f, "member.remove", args, &out, detail), ADMIN_OK);
    json_object_put(out);
    assert_int_equal(run(f, "member.remove", args, &out, detail), ADMIN_NOT_FOUND);
}

static void bad_requests(void **state)
{
    struct fx *f = *state;
    struct json_object *out;
    char detail[256];

    assert_int_equal(run(f, "channel.create", "{}", &out, detail), ADMIN_BAD_REQUEST);
    assert_string_equal(detail, "name: required");
    assert_int_equal(run(f, "channel.create", "{\"name\":\"x\",\"icon\":\"nope\"}", &out, detail),
                     ADMIN_BAD_REQUEST);
    assert_string_equal(detail, "icon: not an absolute http(s) URL");
    assert_int_equal(run(f, "channel.show", "{\"channel\":\"pa:0\"}", &out, detail),
                     ADMIN_NOT_FOUND);
    assert_int_equal(run(f, "channel.show", NULL, &out, detail), ADMIN_BAD_REQUEST);
    assert_string_equal(detail, "channel: required");
    assert_int_equal(run(f, "channel.explode", NULL, &out, detail), ADMIN_BAD_REQUEST);
    assert_false(admin_op_known("channel.explode"));
    assert_true(admin_op_known("member.add"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_shows_token_once_and_stores_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(rotate_invalidates_old_token, setup, teardown),
        cmocka_unit_test_setup_teardown(states_rate_webhook, setup, teardown),
        cmocka_unit_test_setup_teardown(members, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_requests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
