/*
 * The one-pass post reader (msg_fast_post, core/msg.h) as data: each row is
 * a body and what the reader must make of it -- take it with a stored form,
 * refuse it at a step with a status and detail, or decline it (the json-c
 * path answers).  Every row the reader decides is also run through the
 * json-c path (body_parse, the body's auth_token, msg_check_present, "from"
 * a string, msg_check_content, msg_normalize), which must give the same
 * verdict at the same step, the same status and detail and the same stored
 * text byte for byte; every row it declines must still be one the json-c
 * path answers -- the reader never declines what it could not, it only
 * hands over.  {{N*text}} repeats text N times, as in test_msg.c.
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

#define DECLINED (-1) /* fcase.verdict: the reader hands the body over */

struct fcase {
    const char *body;
    int verdict;        /* enum msg_fast_verdict, or DECLINED */
    const char *stored; /* MSG_FAST_TAKEN: the stored form */
    const char *token;  /* the body's auth_token the reader reports, or NULL */
    int status;         /* a refusal's status and detail */
    const char *detail;
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

/* taken, with this stored form */
#define T(body, stored)                                       \
    {                                                         \
        body, MSG_FAST_TAKEN, stored, NULL, VCP_STATUS_OK, "" \
    }
/* refused by msg_check_content with status and detail */
#define R(body, status, detail)                            \
    {                                                      \
        body, MSG_FAST_REFUSED, NULL, NULL, status, detail \
    }
/* refused by msg_check_present: "from" or "type" not given */
#define A(body, detail)                                                    \
    {                                                                      \
        body, MSG_FAST_ABSENT, NULL, NULL, VCP_STATUS_MISSING_DATA, detail \
    }
/* handed to the json-c path */
#define D(body)                             \
    {                                       \
        body, DECLINED, NULL, NULL, 0, NULL \
    }
#define BAD  VCP_STATUS_BAD_DATA
#define MISS VCP_STATUS_MISSING_DATA
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
    R("{" FROM ",\"type\":\"text\",\"text\":\"{{7001*é}}\"}", BAD,
      "text: 7001 characters, max 7000"),
    /* every type */
    T("{" FROM ",\"type\":\"picture\",\"text\":\"\",\"media\":\"https://h/p.JPG\"}",
      "{\"type\":\"picture\",\"text\":\"\",\"media\":\"https://h/p.JPG\"}"),
    R("{" FROM ",\"type\":\"picture\",\"text\":\"\",\"media\":\"https://h/p.png\"}", BAD,
      "media: path must end in .jpeg or .jpg"),
    T("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":\"10000\","
      "\"duration\":10.0,\"thumbnail\":\"\"}",
      "{\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":10000,\"duration\":10}"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":1.5}", BAD,
      "size: must be an integer"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":0}", BAD,
      "size: 0 out of range 1..52428800"),
    T("{" FROM
      ",\"type\":\"file\",\"media\":\"http://h/f\",\"size\":10,\"file_name\":\"a.tar.gz\"}",
      "{\"type\":\"file\",\"media\":\"http://h/f\",\"size\":10,\"file_name\":\"a.tar.gz\"}"),
    R("{" FROM ",\"type\":\"file\",\"media\":\"http://h/f\",\"size\":10,\"file_name\":\"a.EXE\"}",
      BAD, "file_name: forbidden extension .exe"),
    T("{" FROM
      ",\"type\":\"contact\",\"contact\":{\"phone_number\":\"+1\",\"x\":[1],\"name\":\"Jo\"}}",
      "{\"type\":\"contact\",\"contact\":{\"name\":\"Jo\",\"phone_number\":\"+1\"}}"),
    R("{" FROM ",\"type\":\"contact\",\"contact\":{\"name\":\"Jo\"}}", MISS,
      "contact.phone_number: required"),
    D("{" FROM ",\"type\":\"contact\",\"contact\":{\"name\":\"Jo\",\"name\":\"Al\",\"phone_"
      "number\":\"1\"}}"),
    T("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":90,\"lon\":\"-122.3942\"}}",
      "{\"type\":\"location\",\"location\":{\"lat\":90.0,\"lon\":-122.3942}}"),
    T("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":0.1000,\"lon\":\"1e2\"}}",
      "{\"type\":\"location\",\"location\":{\"lat\":0.1,\"lon\":100.0}}"),
    R("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":90.5,\"lon\":0}}", BAD,
      "location.lat: 90.5 out of range -90..90"),
    T("{" FROM ",\"type\":\"url\",\"media\":\"https://h/go\",\"text\":\"\"}",
      "{\"type\":\"url\",\"media\":\"https://h/go\"}"),
    T("{" FROM ",\"type\":\"sticker\",\"sticker_id\":46105}",
      "{\"type\":\"sticker\",\"sticker_id\":46105}"),
    T("{" FROM ",\"type\":\"sticker\",\"sticker_id\":\"46105\"}",
      "{\"type\":\"sticker\",\"sticker_id\":46105}"),
    T("{" FROM ",\"type\":\"sticker\",\"sticker_id\":1.0}",
      "{\"type\":\"sticker\",\"sticker_id\":1}"),
    R("{" FROM ",\"type\":\"sticker\",\"sticker_id\":true}", BAD, "sticker_id: must be an integer"),
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
    /* null counts as absent in picture and video thumbnail and video
     * duration, which Viber's Node SDK sends so; anywhere else it is 3 */
    R("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":null}", BAD,
      "sender: must be an object"),
    R("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":null}}", BAD,
      "sender.name: must be a string"),
    R("{" FROM ",\"type\":\"url\",\"media\":\"http://h/\",\"text\":null}", BAD,
      "text: must be a string"),
    T("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"text\":null,"
      "\"thumbnail\":null,\"size\":5,\"duration\":null}",
      "{\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":5}"),
    T("{" FROM
      ",\"type\":\"picture\",\"text\":\"x\",\"media\":\"http://h/p.jpg\",\"thumbnail\":null}",
      "{\"type\":\"picture\",\"text\":\"x\",\"media\":\"http://h/p.jpg\"}"),
    R("{" FROM ",\"type\":\"picture\",\"text\":null,\"media\":\"http://h/p.jpg\"}", BAD,
      "text: must be a string"),
    R("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":\"{{29*a}}\"}}", BAD,
      "sender.name: 29 characters, max 28"),
    /* what the reader hands over: escapes, unusual numbers, duplicates of
     * keys it reads, depth, size, and everything the json-c path refuses */
    D("{" FROM ",\"type\":\"text\",\"text\":\"a\\nb\"}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"a\\/b\"}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":\"\\u00e9\"}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":1e3}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":-0}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":1234567890123456}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":0123}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":1.}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"text\":\"ho\"}"),
    D("{" FROM "," FROM ",\"type\":\"text\",\"text\":\"hi\"}"),
    D("{" FROM ",\"type\":\"text\",\"type\":\"text\",\"text\":\"hi\"}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":[[[[[[[[[1]]]]]]]]]}"),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":[[[[[[[1]]]]]]]}",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",{{31*\"k\":1,}}\"z\":0}"),
    T("{" FROM ",\"type\":\"text\",\"text\":\"hi\",{{28*\"k\":1,}}\"z\":0}",
      "{\"type\":\"text\",\"text\":\"hi\"}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\"} x"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\"}{}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":tru}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":'a'}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"a\tb\"}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"\xc3\x28\"}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"x\":\"\xed\xa0\x80\"}"),
    D("\xef\xbb\xbf{" FROM ",\"type\":\"text\",\"text\":\"hi\"}"),
    D("{" FROM ",\"type\":\"text\",\"text\":\"{{30700*a}}\"}"),
    D(""),
    A("{}", "from: required"),
    D("[]"),
    A("{\"type\":\"text\",\"text\":\"hi\"}", "from: required"),
    A("{\"from\":\"\",\"type\":\"text\",\"text\":\"hi\"}", "from: required"),
    {"{\"from\":5,\"type\":\"text\",\"text\":\"hi\"}", MSG_FAST_FROM, NULL, NULL, BAD, ""},
    R("{" FROM ",\"type\":\"Text\",\"text\":\"hi\"}", BAD,
      "type: unknown message type \"Text\" (one of text, picture, video, file, contact, "
      "location, url, sticker)"),
    R("{" FROM ",\"type\":\"text\",\"text\":\"\"}", MISS, "text: required"),
    R("{" FROM ",\"type\":\"text\"}", MISS, "text: required"),
    /* the body's token, as find_token reads it, taken or refused */
    {"{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"auth_token\":\"t-1\"}", MSG_FAST_TAKEN,
     "{\"type\":\"text\",\"text\":\"hi\"}", "t-1", VCP_STATUS_OK, ""},
    {"{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"auth_token\":\"\"}", MSG_FAST_TAKEN,
     "{\"type\":\"text\",\"text\":\"hi\"}", NULL, VCP_STATUS_OK, ""},
    {"{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"auth_token\":42}", MSG_FAST_TAKEN,
     "{\"type\":\"text\",\"text\":\"hi\"}", NULL, VCP_STATUS_OK, ""},
    D("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"auth_token\":\"a\",\"auth_token\":\"b\"}"),
    {"{\"auth_token\":\"t-2\"," FROM ",\"type\":\"sticker\",\"sticker_id\":0}", MSG_FAST_REFUSED,
     NULL, "t-2", BAD, "sticker_id: 0 out of range 1..9007199254740992"},
    {"{\"auth_token\":\"t-3\",\"type\":\"text\"}", MSG_FAST_ABSENT, NULL, "t-3", MISS,
     "from: required"},
    /* bench/baddata.lua's six bodies */
    R("{" FROM ",\"type\":\"video\",\"media\":\"https://www.example.org/video.mp4\",\"size\":1.5}",
      BAD, "size: must be an integer"),
    R("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":91,\"lon\":0}}", BAD,
      "location.lat: 91 out of range -90..90"),
    R("{" FROM ",\"type\":\"file\",\"media\":\"https://www.example.org/setup.exe\",\"size\":100,"
      "\"file_name\":\"setup.exe\"}",
      BAD, "file_name: forbidden extension .exe"),
    R("{" FROM ",\"type\":\"foo\",\"text\":\"unknown type\"}", BAD,
      "type: unknown message type \"foo\" (one of text, picture, video, file, contact, location, "
      "url, sticker)"),
    R("{" FROM ",\"type\":\"contact\",\"contact\":{\"name\":\"A name longer than "
      "twenty-eight\",\"phone_number\":\"1\"}}",
      BAD, "contact.name: 31 characters, max 28"),
    R("{" FROM
      ",\"type\":\"picture\",\"text\":\"\",\"media\":\"https://www.example.org/photo.png\"}",
      BAD, "media: path must end in .jpeg or .jpg"),
    /* the common refusals: absent and wrong-typed fields, in table order */
    A("{" FROM "}", "type: required"),
    A("{" FROM ",\"type\":\"\"}", "type: required"),
    A("{\"type\":\"\"}", "from: required"),
    {"{\"from\":null,\"type\":5}", MSG_FAST_FROM, NULL, NULL, BAD, ""},
    {"{\"from\":[\"m1\"],\"type\":\"text\",\"text\":\"hi\"}", MSG_FAST_FROM, NULL, NULL, BAD, ""},
    R("{" FROM ",\"type\":5}", BAD, "type: must be a string"),
    R("{" FROM ",\"type\":null,\"text\":\"hi\"}", BAD, "type: must be a string"),
    R("{" FROM ",\"type\":\"{{40*x}}\"}", BAD,
      "type: unknown message type \"{{32*x}}...\" (one of text, picture, video, file, contact, "
      "location, url, sticker)"),
    R("{" FROM ",\"type\":\"\xc3\xa9\"}", BAD,
      "type: unknown message type \"??\" (one of text, picture, video, file, contact, location, "
      "url, sticker)"),
    R("{" FROM ",\"type\":\"text\",\"text\":null}", BAD, "text: must be a string"),
    R("{" FROM ",\"type\":\"text\",\"text\":[\"hi\"]}", BAD, "text: must be a string"),
    R("{" FROM ",\"type\":\"picture\",\"media\":\"https://h/p.jpg\"}", MISS, "text: required"),
    R("{" FROM ",\"type\":\"picture\",\"text\":\"{{769*a}}\",\"media\":\"https://h/p.jpg\"}", BAD,
      "text: 769 characters, max 768"),
    R("{" FROM ",\"type\":\"picture\",\"text\":\"\"}", MISS, "media: required"),
    R("{" FROM ",\"type\":\"picture\",\"text\":\"\",\"media\":\"\"}", MISS, "media: required"),
    R("{" FROM ",\"type\":\"picture\",\"text\":\"\",\"media\":\"ftp://h/p.jpg\"}", BAD,
      "media: not an absolute http(s) URL"),
    R("{" FROM ",\"type\":\"picture\",\"text\":\"\",\"media\":\"https://h/p.jpg\",\"thumbnail\":"
      "\"h/t.jpg\"}",
      BAD, "thumbnail: not an absolute http(s) URL"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\"}", MISS, "size: required"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\",\"size\":\"abc\"}", BAD,
      "size: must be an integer"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\",\"size\":\"1.5\"}", BAD,
      "size: must be an integer"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\",\"size\":false}", BAD,
      "size: must be an integer"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\",\"size\":52428801}", BAD,
      "size: 52428801 out of range 1..52428800"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\",\"size\":\"5e9\"}", BAD,
      "size: 5e9 out of range 1..52428800"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\",\"size\":-3.0}", BAD,
      "size: -3 out of range 1..52428800"),
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\",\"size\":1,\"duration\":181}", BAD,
      "duration: 181 out of range 0..180"),
    /* a refusal comes before a later key given twice: json-c never reads it */
    R("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\",\"size\":0,\"thumbnail\":\"a\","
      "\"thumbnail\":\"b\"}",
      BAD, "size: 0 out of range 1..52428800"),
    D("{" FROM ",\"type\":\"video\",\"media\":\"http://h/v\",\"size\":1,\"thumbnail\":\"a\","
      "\"thumbnail\":\"b\"}"),
    R("{" FROM ",\"type\":\"file\",\"media\":\"http://h/f\",\"size\":1}", MISS,
      "file_name: required"),
    R("{" FROM ",\"type\":\"file\",\"media\":\"http://h/f\",\"size\":1,\"file_name\":\"README\"}",
      BAD, "file_name: no extension"),
    R("{" FROM ",\"type\":\"file\",\"media\":\"http://h/f\",\"size\":1,\"file_name\":7}", BAD,
      "file_name: must be a string"),
    R("{" FROM ",\"type\":\"contact\"}", MISS, "contact: required"),
    R("{" FROM ",\"type\":\"contact\",\"contact\":\"Jo\"}", BAD, "contact: must be an object"),
    R("{" FROM ",\"type\":\"contact\",\"contact\":{\"name\":\"Jo\",\"phone_number\":\"{{19*1}}\"}}",
      BAD, "contact.phone_number: 19 characters, max 18"),
    R("{" FROM ",\"type\":\"location\",\"location\":[]}", BAD, "location: must be an object"),
    R("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":1}}", MISS, "location.lon: required"),
    R("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":\"91.25\",\"lon\":0}}", BAD,
      "location.lat: 91.25 out of range -90..90"),
    R("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":\"1e400\",\"lon\":0}}", BAD,
      "location.lat: 1e400 out of range -90..90"),
    R("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":0,\"lon\":-180.0000001}}", BAD,
      "location.lon: -180.0000001 out of range -180..180"),
    R("{" FROM ",\"type\":\"location\",\"location\":{\"lat\":0,\"lon\":\"east\"}}", BAD,
      "location.lon: must be a number"),
    R("{" FROM ",\"type\":\"url\",\"media\":\"https://h/{{1995*a}}\"}", BAD,
      "media: 2005 characters, max 2000"),
    R("{" FROM ",\"type\":\"url\",\"media\":\"https://h/\",\"text\":\"{{121*a}}\"}", BAD,
      "text: 121 characters, max 120"),
    R("{" FROM ",\"type\":\"sticker\",\"sticker_id\":\"\"}", BAD, "sticker_id: must be an integer"),
    R("{" FROM ",\"type\":\"sticker\",\"sticker_id\":-1}", BAD,
      "sticker_id: -1 out of range 1..9007199254740992"),
    R("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":1}}", BAD,
      "sender.name: must be a string"),
    R("{" FROM ",\"type\":\"text\",\"text\":\"hi\",\"sender\":\"Bot\"}", BAD,
      "sender: must be an object"),
};

/* What the json-c path makes of a body: the step that answers it, the
 * status and detail, the stored form, the body's token (all malloc'd). */
struct slow {
    int verdict; /* enum msg_fast_verdict, or DECLINED: body_parse refused it */
    int status;
    char detail[MSG_DETAIL_MAX];
    char *stored;
    char *token;
};

/* api.c's json-c path, the steps the reader stands in for, in their order. */
static void slow_path(struct json_tokener *tok, const char *body, size_t len, struct slow *out)
{
    struct json_object *o, *v, *norm;

    memset(out, 0, sizeof *out);
    o = body_parse(tok, body, len, false, &out->status, out->detail, sizeof out->detail);
    if (!o) {
        out->verdict = DECLINED;
        return;
    }
    if (json_object_object_get_ex(o, "auth_token", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
        out->token = strdup(json_object_get_string(v));
    out->verdict = MSG_FAST_ABSENT;
    if ((out->status = msg_check_present(o, out->detail, sizeof out->detail)) != VCP_STATUS_OK)
        goto out;
    json_object_object_get_ex(o, "from", &v);
    if (!json_object_is_type(v, json_type_string)) {
        out->verdict = MSG_FAST_FROM;
        out->status = VCP_STATUS_BAD_DATA; /* api.c: "from: not a superadmin ..." */
        goto out;
    }
    out->verdict = MSG_FAST_REFUSED;
    if ((out->status = msg_check_content(o, out->detail, sizeof out->detail)) != VCP_STATUS_OK)
        goto out;
    out->verdict = MSG_FAST_TAKEN;
    norm = msg_normalize(o);
    assert_non_null(norm);
    out->stored = strdup(json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(norm);
out:
    json_object_put(o);
}

static void test_table(void **state)
{
    struct json_tokener *tok = body_tokener_new();
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct fcase *c = &cases[i];
        char *body = expand(c->body);
        size_t len = strlen(body);
        struct msg_fast f;
        struct slow slow;
        int rc = msg_fast_post(body, len, &f);

        slow_path(tok, body, len, &slow);
        if ((rc == 0 ? (int)f.verdict : DECLINED) != c->verdict)
            fail_msg("row %zu: reader gave %d, want %d: %.80s", i, rc == 0 ? (int)f.verdict : -1,
                     c->verdict, body);
        if (rc != 0) {
            assert_null(f.json);
            assert_null(f.auth_token);
            assert_null(f.from);
            /* handed over: still one the json-c path answers */
            goto next;
        }
        /* decided: the json-c path gives the same verdict at the same step */
        if (slow.verdict != c->verdict)
            fail_msg("row %zu: the json-c path gave %d: %.80s", i, slow.verdict, body);
        assert_int_equal(f.status, c->status);
        assert_int_equal(slow.status, c->status);
        if (c->verdict != MSG_FAST_FROM) {
            char *want = expand(c->detail);
            assert_string_equal(f.detail, want);
            assert_string_equal(slow.detail, want);
            free(want);
        }
        if (c->token) {
            assert_non_null(f.auth_token);
            assert_int_equal(f.auth_token_len, strlen(c->token));
            assert_memory_equal(f.auth_token, c->token, f.auth_token_len);
            assert_string_equal(slow.token, c->token);
        } else {
            assert_null(f.auth_token);
            assert_null(slow.token);
        }
        if (c->verdict == MSG_FAST_REFUSED || c->verdict == MSG_FAST_TAKEN) {
            assert_int_equal(f.from_len, 2);
            assert_memory_equal(f.from, "m1", 2);
        } else {
            assert_null(f.from);
        }
        if (c->verdict == MSG_FAST_TAKEN) {
            char *want = expand(c->stored);
            assert_string_equal(f.json, want);
            assert_int_equal(f.json_len, strlen(want));
            assert_string_equal(slow.stored, f.json);
            free(want);
            free(f.json);
        } else {
            assert_null(f.json);
        }
    next:
        free(slow.stored);
        free(slow.token);
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
