/*
 * The one-pass post reader (msg_fast_post, core/msg.h) as data: each row is
 * a body, whether the reader takes it, and the stored form it must give
 * (NULL: the reader declines and the json-c path answers).  Every row the
 * reader takes is also run through the json-c path (body_parse, the body's
 * auth_token, msg_check_present, msg_check_content, msg_normalize) and must
 * give no error and the same stored text byte for byte; every row it
 * declines must still be one the json-c path answers (taken or refused) --
 * the reader never declines what it could not, it only hands over.
 * {{N*text}} repeats text N times, as in test_msg.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/body.h"
#include "core/msg.h"
#include "vcp/status.h"

struct fcase {
    const char *body;
    const char *stored; /* NULL: declined */
    const char *token;  /* the body's auth_token the reader reports, or NULL */
};

static char *expand(const char *in)
{
    size_t cap = strlen(in) + 1, len = 0;
    char *out = malloc(cap);
    const char *p = in;

    while (*p) {
        const char *o = strstr(p, "{{");
        if (!o) {
            o = p + strlen(p);
        }
        size_t n = (size_t)(o - p);
        if (len + n + 1 > cap)
            out = realloc(out, cap = (len + n + 1) * 2);
        memcpy(out + len, p, n);
        len += n;
        p = o;
        if (!*p)
            break;
        char *star, *close;
        long times = strtol(p + 2, &star, 10);
        close = strstr(star, "}}");
        size_t unit = (size_t)(close - star - 1);
        for (long i = 0; i < times; i++) {
            if (len + unit + 1 > cap)
                out = realloc(out, cap = (len + unit + 1) * 2);
            memcpy(out + len, star + 1, unit);
            len += unit;
        }
        p = close + 2;
    }
    out[len] = '\0';
    return out;
}

#define T(body, stored)    \
    {                      \
        body, stored, NULL \
    }
#define FROM "\"from\":\"m1\""

static const struct fcase cases[] = {
    /* the common case, and white space around it */
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\"}", "{\"type\":\"text\",\"text\":\"hi\"}"),
    T(" \t\r\n{ " FROM " , \"type\" : \"text\" , \"text\" : \"hi\" } \n",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    /* unknown fields of any shape are skipped, SDK extras included */
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"min_api_version\":1,\"is_inline\":false,"
      "\"keyboard\":{\"Type\":\"keyboard\",\"Buttons\":[{\"Text\":\"a\",\"n\":[1,2.5,null]}]},"
      "\"tracking_data\":null,\"x\":[],\"y\":{}}",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    /* other types' fields are dropped */
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"media\":\"http://h/a.jpg\",\"size\":5}",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    /* an unknown key given twice is json-c's to keep the last of: no effect */
    T("{" FROM ",\"type\":\"text\",\"x\":1,\"text\":\"hi\",\"x\":2}",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    /* UTF-8, '/' written plainly, DEL and quotes-free punctuation as they are */
    T("{" FROM ",\"type\":\"text\",\"text\":\"é ✓ 😀 a/b \x7f <>&'\"}",
      "{\"type\":\"text\",\"text\":\"é ✓ 😀 a/b \x7f <>&'\"}"),
    /* limits counted in code points */
    T("{" FROM ",\"type\":\"text\",\"text\":\"{{7000*é}}\"}",
      "{\"type\":\"text\",\"text\":\"{{7000*é}}\"}"),
    T("{" FROM ",\"type\":\"text\",\"text\":\"{{7001*é}}\"}", NULL),
    /* every type */
    T("{" FROM ",\"type\":\"picture\",\"text\":\"\",\"media\":\"https://h/p.JPG\"}",
      "{\"type\":\"picture\",\"text\":\"\",\"media\":\"https://h/p.JPG\"}"),
    T("{" FROM ",\"type\":\"picture\",\"text\":\"\",\"media\":\"https://h/p.png\"}", NULL),
    T("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":\"10000\","
      "\"duration\":10.0,\"thumbnail\":\"\"}",
      "{\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":10000,\"duration\":10}"),
    T("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":1.5}", NULL),
    T("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":0}", NULL),
    T("{" FROM
      ",\"type\":\"file\",\"media\":\"http://h/f\",\"size\":10,\"file_name\":\"a.tar.gz\"}",
      "{\"type\":\"file\",\"media\":\"http://h/f\",\"size\":10,\"file_name\":\"a.tar.gz\"}"),
    T("{" FROM ",\"type\":\"file\",\"media\":\"http://h/f\",\"size\":10,\"file_name\":\"a.EXE\"}",
      NULL),
    T("{" FROM
      ",\"type\":\"contact\",\"contact\":{\"phone_number\":\"+1\",\"x\":[1],\"name\":\"Jo\"}}",
      "{\"type\":\"contact\",\"contact\":{\"name\":\"Jo\",\"phone_number\":\"+1\"}}"),
    T("{" FROM ",\"type\":\"contact\",\"contact\":{\"name\":\"Jo\"}}", NULL),
    T("{" FROM
      ",\"type\":\"contact\",\"contact\":{\"name\":\"Jo\",\"name\":\"Al\",\"phone_number\":\"1\"}}",
      NULL),
    T("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":90,\"lon\":\"-122.3942\"}}",
      "{\"type\":\"location\",\"location\":{\"lat\":90.0,\"lon\":-122.3942}}"),
    T("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":0.1000,\"lon\":\"1e2\"}}",
      "{\"type\":\"location\",\"location\":{\"lat\":0.1,\"lon\":100.0}}"),
    T("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":90.5,\"lon\":0}}", NULL),
    T("{" FROM ",\"type\":\"url\",\"media\":\"https://h/go\",\"text\":\"\"}",
      "{\"type\":\"url\",\"media\":\"https://h/go\"}"),
    T("{" FROM ",\"type\":\"sticker\",\"sticker_id\":46105}",
      "{\"type\":\"sticker\",\"sticker_id\":46105}"),
    T("{" FROM ",\"type\":\"sticker\",\"sticker_id\":\"46105\"}",
      "{\"type\":\"sticker\",\"sticker_id\":46105}"),
    T("{" FROM ",\"type\":\"sticker\",\"sticker_id\":1.0}",
      "{\"type\":\"sticker\",\"sticker_id\":1}"),
    T("{" FROM ",\"type\":\"sticker\",\"sticker_id\":true}", NULL),
    /* sender: name checked, avatar kept only as a URL, omitted when empty */
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":\"Bot\",\"avatar\":\"http:/"
      "/h/a.jpg\"}}",
      "{\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":\"Bot\",\"avatar\":\"http://h/"
      "a.jpg\"}}"),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"avatar\":\"http://h/a.jpg\"}}",
      "{\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"avatar\":\"http://h/a.jpg\"}}"),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":\"\",\"avatar\":5}}",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":{}}",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":null}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":\"{{29*a}}\"}}", NULL),
    /* what the reader hands over: escapes, unusual numbers, duplicates of
     * keys it reads, depth, size, and everything the json-c path refuses */
    T("{" FROM ",\"type\":\"text\",\"text\":\"a\\nb\"}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"a\\/b\"}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":\"\\u00e9\"}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":1e3}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":-0}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":1234567890123456}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":0123}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":1.}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"text\":\"ho\"}", NULL),
    T("{" FROM "," FROM ",\"type\":\"text\",\"text\":\"hi\"}", NULL),
    T("{" FROM ",\"type\":\"text\",\"type\":\"text\",\"text\":\"hi\"}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":[[[[[[[[[1]]]]]]]]]}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":[[[[[[[1]]]]]]]}",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",{{31*\"k\":1,}}\"z\":0}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",{{28*\"k\":1,}}\"z\":0}",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\"} x", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\"}{}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":tru}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":'a'}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"a\tb\"}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"\xc3\x28\"}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":\"\xed\xa0\x80\"}", NULL),
    T("\xef\xbb\xbf{" FROM ",\"type\":\"text\",\"text\":\"hi\"}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"{{30700*a}}\"}", NULL),
    T("", NULL),
    T("{}", NULL),
    T("[]", NULL),
    T("{\"type\":\"text\",\"text\":\"hi\"}", NULL),
    T("{\"from\":\"\",\"type\":\"text\",\"text\":\"hi\"}", NULL),
    T("{\"from\":5,\"type\":\"text\",\"text\":\"hi\"}", NULL),
    T("{" FROM ",\"type\":\"Text\",\"text\":\"hi\"}", NULL),
    T("{" FROM ",\"type\":\"text\",\"text\":\"\"}", NULL),
    T("{" FROM ",\"type\":\"text\"}", NULL),
    /* the body's token, as find_token reads it */
    {"{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"auth_token\":\"t-1\"}",
     "{\"type\":\"text\",\"text\":\"hi\"}", "t-1"},
    {"{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"auth_token\":\"\"}",
     "{\"type\":\"text\",\"text\":\"hi\"}", NULL},
    {"{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"auth_token\":42}",
     "{\"type\":\"text\",\"text\":\"hi\"}", NULL},
    {"{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"auth_token\":\"a\",\"auth_token\":\"b\"}", NULL,
     NULL},
};

/* The json-c path's stored form of body, or NULL with its refusal. */
static char *slow_path(struct json_tokener *tok, const char *body, size_t len, const char **token)
{
    char detail[MSG_DETAIL_MAX];
    struct json_object *o, *v, *norm;
    char *out = NULL;
    int status;

    *token = NULL;
    o = body_parse(tok, body, len, false, &status, detail, sizeof detail);
    if (!o)
        return NULL;
    if (json_object_object_get_ex(o, "auth_token", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
        *token = strdup(json_object_get_string(v));
    if (msg_check_present(o, detail, sizeof detail) == VCP_STATUS_OK &&
        json_object_object_get_ex(o, "from", &v) && json_object_is_type(v, json_type_string) &&
        msg_check_content(o, detail, sizeof detail) == VCP_STATUS_OK &&
        (norm = msg_normalize(o)) != NULL) {
        out = strdup(json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(norm);
    }
    json_object_put(o);
    return out;
}

static void test_table(void **state)
{
    struct json_tokener *tok = body_tokener_new();
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *body = expand(cases[i].body);
        char *want = cases[i].stored ? expand(cases[i].stored) : NULL;
        size_t len = strlen(body);
        struct msg_fast f;
        const char *slow_token;
        char *slow = slow_path(tok, body, len, &slow_token);
        int rc = msg_fast_post(body, len, &f);

        if ((rc == 0) != (want != NULL))
            fail_msg("row %zu: reader %s %.80s", i, rc == 0 ? "took" : "declined", body);
        if (rc == 0) {
            assert_string_equal(f.json, want);
            assert_int_equal(f.json_len, strlen(want));
            assert_int_equal(f.from_len, 2);
            assert_memory_equal(f.from, "m1", 2);
            /* the json-c path takes it too, and stores the same */
            if (!slow)
                fail_msg("row %zu: the json-c path refuses what the reader took", i);
            assert_string_equal(slow, f.json);
            if (cases[i].token) {
                assert_non_null(f.auth_token);
                assert_int_equal(f.auth_token_len, strlen(cases[i].token));
                assert_memory_equal(f.auth_token, cases[i].token, f.auth_token_len);
                assert_string_equal(slow_token, cases[i].token);
            } else {
                assert_null(f.auth_token);
                assert_null(slow_token);
            }
            free(f.json);
        } else {
            assert_null(f.json);
        }
        free((char *)slow_token);
        free(slow);
        free(want);
        free(body);
    }
    json_tokener_free(tok);
}

/* The reader never reads past len: a body cut anywhere is declined or read
 * as its prefix says (ASan, in make test-sanitize, sees any overread). */
static void test_prefixes(void **state)
{
    const char *full = "{" FROM ",\"type\":\"location\",\"location\":{\"lat\":1.5,\"lon\":\"2\"},"
                       "\"sender\":{\"name\":\"B\",\"avatar\":\"http://h/a\"},\"k\":[true,null]}";
    size_t n = strlen(full);
    (void)state;

    for (size_t len = 0; len <= n; len++) {
        char *body = malloc(len ? len : 1);
        struct msg_fast f;
        memcpy(body, full, len);
        int rc = msg_fast_post(body, len, &f);
        assert_int_equal(rc, len == n ? 0 : -1);
        if (rc == 0) {
            assert_string_equal(f.json,
                                "{\"type\":\"location\",\"location\":{\"lat\":1.5,\"lon\":2.0},"
                                "\"sender\":{\"name\":\"B\",\"avatar\":\"http://h/a\"}}");
            free(f.json);
        }
        free(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
