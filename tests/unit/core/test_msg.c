/*
 * The message rules (docs/API.md §3-§4) as data, like curl's test cases: each
 * row is a request body, the status it must get and the exact detail.  A row
 * may abbreviate long strings as {{N*text}} (text repeated N times), so
 * limits are tested at N and N+1 without new code.  Invalid UTF-8 is written
 * as raw bytes (json-c passes them through, as the client library may).
 *
 * Every row also runs with a NULL and a zero-length detail buffer (the status
 * must not change), and every detail must fit MSG_DETAIL_MAX untruncated.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/msg.h"

/* ---- helpers ------------------------------------------------------------ */

/* Expands {{N*text}}; the caller frees the result. */
static char *expand(const char *in)
{
    size_t cap = strlen(in) + 1, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (const char *p = in; *p != '\0';) {
        const char *end;
        if (p[0] == '{' && p[1] == '{' && (end = strstr(p, "}}")) != NULL) {
            char *star;
            long times = strtol(p + 2, &star, 10);
            assert_true(*star == '*' && times >= 0);
            size_t unit = (size_t)(end - (star + 1));
            cap += (size_t)times * unit;
            out = realloc(out, cap);
            assert_non_null(out);
            for (long i = 0; i < times; i++, n += unit)
                memcpy(out + n, star + 1, unit);
            p = end + 2;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

static struct json_object *parse(const char *text)
{
    char *s = expand(text);
    struct json_tokener *tok = json_tokener_new();
    assert_non_null(tok);
    struct json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));
    if (o == NULL)
        print_error("bad JSON in test case: %s\n", text);
    assert_non_null(o);
    json_tokener_free(tok);
    free(s);
    return o;
}

static const char *plain(struct json_object *o)
{
    return json_object_to_json_string_ext(o,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

struct ccase {
    const char *json;
    int status;
    const char *detail;
};

typedef int (*check_fn)(const struct json_object *, char *, size_t);

/* Runs a table through fn; reports every mismatching row, then fails. */
static void run_table(const char *name, check_fn fn, const struct ccase *cases, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ccase *c = &cases[i];
        struct json_object *o = parse(c->json);
        char detail[MSG_DETAIL_MAX];
        memset(detail, 'x', sizeof detail);
        int st = fn(o, detail, sizeof detail);
        if (st != c->status || strcmp(detail, c->detail) != 0) {
            print_error("%s row %zu %.120s\n  got  %d \"%s\"\n  want %d \"%s\"\n", name, i, c->json,
                        st, detail, c->status, c->detail);
            bad++;
        }
        if (strlen(detail) >= sizeof detail - 1) {
            print_error("%s row %zu: detail may be truncated\n", name, i);
            bad++;
        }
        if (fn(o, NULL, 0) != st || fn(o, detail, 0) != st) {
            print_error("%s row %zu: status depends on the detail buffer\n", name, i);
            bad++;
        }
        char tiny[8];
        if (fn(o, tiny, sizeof tiny) != st || strlen(tiny) >= sizeof tiny) {
            print_error("%s row %zu: small buffer mishandled\n", name, i);
            bad++;
        }
        json_object_put(o);
    }
    assert_int_equal(bad, 0);
}

/* The valid types, as the unknown-type detail lists them. */
#define TYPES "one of text, picture, video, file, contact, location, url, sticker"
#define OK_               \
    {                     \
        VCP_STATUS_OK, "" \
    }
#define RUN(fn, table) run_table(#table, fn, table, sizeof table / sizeof table[0])

/* ---- msg_check_content --------------------------------------------------- */

#define MISSING(d) VCP_STATUS_MISSING_DATA, d
#define BAD(d)     VCP_STATUS_BAD_DATA, d
#define PASS       VCP_STATUS_OK, ""

static const struct ccase type_cases[] = {
    {"{}", MISSING("type: required")},
    {"{\"type\":\"\"}", MISSING("type: required")},
    {"{\"type\":null}", BAD("type: must be a string")},
    {"{\"type\":5}", BAD("type: must be a string")},
    {"{\"type\":true}", BAD("type: must be a string")},
    {"{\"type\":[\"text\"]}", BAD("type: must be a string")},
    {"{\"type\":{}}", BAD("type: must be a string")},
    {"{\"type\":\"foo\"}", BAD("type: unknown message type \"foo\" (" TYPES ")")},
    {"{\"type\":\"Text\",\"text\":\"hi\"}", BAD("type: unknown message type \"Text\" (" TYPES ")")},
    {"{\"type\":\"text \",\"text\":\"hi\"}",
     BAD("type: unknown message type \"text \" (" TYPES ")")},
    {"{\"type\":\"text\\u0000x\",\"text\":\"hi\"}",
     BAD("type: unknown message type \"text?x\" (" TYPES ")")},
    {"{\"type\":\"a\\\"b\\\\c\xc3\xa9\\n\"}",
     BAD("type: unknown message type \"a?b?c???\" (" TYPES ")")},
    {"{\"type\":\"{{32*a}}\"}",
     BAD("type: unknown message type \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" (" TYPES ")")},
    {"{\"type\":\"{{5000*a}}\"}",
     BAD("type: unknown message type \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" (" TYPES ")")},
    /* unknown type wins over everything the type would have needed */
    {"{\"type\":\"foo\",\"sender\":5}", BAD("type: unknown message type \"foo\" (" TYPES ")")},
    /* unknown fields are ignored */
    {"{\"type\":\"text\",\"text\":\"x\",\"auth_token\":\"t\",\"min_api_version\":1,"
     "\"keyboard\":{},\"tracking_data\":null,\"from\":5}",
     PASS},
};

static const struct ccase text_cases[] = {
    {"{\"type\":\"text\",\"text\":\"Hello world!\"}", PASS},
    {"{\"type\":\"text\"}", MISSING("text: required")},
    {"{\"type\":\"text\",\"text\":\"\"}", MISSING("text: required")},
    {"{\"type\":\"text\",\"text\":null}", BAD("text: must be a string")},
    {"{\"type\":\"text\",\"text\":5}", BAD("text: must be a string")},
    {"{\"type\":\"text\",\"text\":false}", BAD("text: must be a string")},
    {"{\"type\":\"text\",\"text\":{}}", BAD("text: must be a string")},
    {"{\"type\":\"text\",\"text\":[\"a\"]}", BAD("text: must be a string")},
    {"{\"type\":\"text\",\"text\":\" \"}", PASS},
    {"{\"type\":\"text\",\"text\":\"{{7000*a}}\"}", PASS},
    {"{\"type\":\"text\",\"text\":\"{{7001*a}}\"}", BAD("text: 7001 characters, max 7000")},
    {"{\"type\":\"text\",\"text\":\"{{7000*é}}\"}", PASS},
    {"{\"type\":\"text\",\"text\":\"{{7001*é}}\"}", BAD("text: 7001 characters, max 7000")},
    {"{\"type\":\"text\",\"text\":\"{{7000*€}}\"}", PASS},
    {"{\"type\":\"text\",\"text\":\"{{7000*😀}}\"}", PASS},
    {"{\"type\":\"text\",\"text\":\"{{7001*😀}}\"}", BAD("text: 7001 characters, max 7000")},
    {"{\"type\":\"text\",\"text\":\"{{6999*a}}😀\"}", PASS},
    {"{\"type\":\"text\",\"text\":\"{{7000*\\u00e9}}\"}", PASS},
    {"{\"type\":\"text\",\"text\":\"{{7001*\\ud83d\\ude00}}\"}",
     BAD("text: 7001 characters, max 7000")},
    {"{\"type\":\"text\",\"text\":\"{{10000*a}}\"}", BAD("text: 10000 characters, max 7000")},
    /* not UTF-8 */
    {"{\"type\":\"text\",\"text\":\"\xc3\x28\"}", BAD("text: not valid UTF-8")},
    {"{\"type\":\"text\",\"text\":\"a\xff\"}", BAD("text: not valid UTF-8")},
    {"{\"type\":\"text\",\"text\":\"\xc0\x80\"}", BAD("text: not valid UTF-8")},
    {"{\"type\":\"text\",\"text\":\"\xed\xa0\x80\"}", BAD("text: not valid UTF-8")},
    {"{\"type\":\"text\",\"text\":\"\xf4\x90\x80\x80\"}", BAD("text: not valid UTF-8")},
    {"{\"type\":\"text\",\"text\":\"ok\xe2\x82\"}", BAD("text: not valid UTF-8")},
    {"{\"type\":\"text\",\"text\":\"{{8000*a}}\x80\"}", BAD("text: not valid UTF-8")},
    /* U+0000 would cut the text short wherever it is used as a C string */
    {"{\"type\":\"text\",\"text\":\"a\\u0000b\"}", BAD("text: contains a NUL character")},
    {"{\"type\":\"text\",\"text\":\"\\u0000\"}", BAD("text: contains a NUL character")},
};

#define PIC "{\"type\":\"picture\","
#define JPG "\"media\":\"http://www.images.com/img.jpg\""

static const struct ccase picture_cases[] = {
    {PIC "\"text\":\"Picture description\"," JPG
         ",\"thumbnail\":\"http://www.images.com/thumb.jpg\"}",
     PASS},
    {PIC "\"text\":\"\"," JPG "}", PASS},
    {PIC JPG "}", MISSING("text: required")},
    {PIC "\"text\":null," JPG "}", BAD("text: must be a string")},
    {PIC "\"text\":1," JPG "}", BAD("text: must be a string")},
    {PIC "\"text\":\"{{768*a}}\"," JPG "}", PASS},
    {PIC "\"text\":\"{{768*ж}}\"," JPG "}", PASS},
    {PIC "\"text\":\"{{769*a}}\"," JPG "}", BAD("text: 769 characters, max 768")},
    {PIC "\"text\":\"\xe2\x28\xa1\"," JPG "}", BAD("text: not valid UTF-8")},
    {PIC "\"text\":\"x\"}", MISSING("media: required")},
    {PIC "\"text\":\"x\",\"media\":\"\"}", MISSING("media: required")},
    {PIC "\"text\":\"x\",\"media\":null}", BAD("media: must be a string")},
    {PIC "\"text\":\"x\",\"media\":[]}", BAD("media: must be a string")},
    {PIC "\"text\":\"x\",\"media\":\"www.images.com/img.jpg\"}",
     BAD("media: not an absolute http(s) URL")},
    {PIC "\"text\":\"x\",\"media\":\"ftp://h/img.jpg\"}",
     BAD("media: not an absolute http(s) URL")},
    {PIC "\"text\":\"x\",\"media\":\"http://h/my img.jpg\"}",
     BAD("media: not an absolute http(s) URL")},
    {PIC "\"text\":\"x\",\"media\":\"http://h/\xc3\xa9.jpg\"}",
     BAD("media: not an absolute http(s) URL")},
    {PIC "\"text\":\"x\",\"media\":\"http://h/img.png\"}",
     BAD("media: path must end in .jpeg or .jpg")},
    {PIC "\"text\":\"x\",\"media\":\"http://h/img.gif\"}",
     BAD("media: path must end in .jpeg or .jpg")},
    {PIC "\"text\":\"x\",\"media\":\"http://h/img.png?f=.jpg\"}",
     BAD("media: path must end in .jpeg or .jpg")},
    {PIC "\"text\":\"x\",\"media\":\"http://h/img.jpg/\"}",
     BAD("media: path must end in .jpeg or .jpg")},
    {PIC "\"text\":\"x\",\"media\":\"http://img.jpg\"}",
     BAD("media: path must end in .jpeg or .jpg")},
    {PIC "\"text\":\"x\",\"media\":\"http://h/jpg\"}",
     BAD("media: path must end in .jpeg or .jpg")},
    {PIC "\"text\":\"x\",\"media\":\"http://www.example.com/path/image.jpeg\"}", PASS},
    {PIC "\"text\":\"x\",\"media\":\"https://h/a.JPEG\"}", PASS},
    {PIC "\"text\":\"x\",\"media\":\"HTTPS://h/a.Jpg?w=400#top\"}", PASS},
    {PIC "\"text\":\"x\"," JPG ",\"thumbnail\":\"\"}", PASS},
    /* null counts as absent in thumbnail (and video duration) alone: Viber's
     * Node SDK (viber-bot) sends "thumbnail":null for a picture or video
     * without one (a departure from DESIGN.md §1.4, docs/API.md §1) */
    {PIC "\"text\":\"x\"," JPG ",\"thumbnail\":null}", PASS},
    {PIC "\"text\":\"x\"," JPG ",\"thumbnail\":\"thumb.jpg\"}",
     BAD("thumbnail: not an absolute http(s) URL")},
    {PIC "\"text\":\"x\"," JPG ",\"thumbnail\":\"http://h/t.png\"}", PASS},
    /* field order: text, media, thumbnail */
    {PIC "\"text\":\"{{769*a}}\"}", BAD("text: 769 characters, max 768")},
    {PIC "\"media\":\"nope\"}", MISSING("text: required")},
    {PIC "\"text\":\"x\",\"media\":\"http://h/a.png\",\"thumbnail\":5}",
     BAD("media: path must end in .jpeg or .jpg")},
};

#define VID "{\"type\":\"video\",\"media\":\"http://www.images.com/video.mp4\","

static const struct ccase video_cases[] = {
    {VID "\"thumbnail\":\"http://www.images.com/thumb.jpg\",\"size\":10000,\"duration\":10}", PASS},
    {VID "\"size\":10000}", PASS},
    {"{\"type\":\"video\",\"size\":10000}", MISSING("media: required")},
    {"{\"type\":\"video\",\"media\":\"\",\"size\":10000}", MISSING("media: required")},
    {"{\"type\":\"video\",\"media\":\"video.mp4\",\"size\":10000}",
     BAD("media: not an absolute http(s) URL")},
    {VID "\"duration\":10}", MISSING("size: required")},
    {VID "\"size\":1}", PASS},
    {VID "\"size\":52428800}", PASS},
    {VID "\"size\":0}", BAD("size: 0 out of range 1..52428800")},
    {VID "\"size\":-1}", BAD("size: -1 out of range 1..52428800")},
    {VID "\"size\":52428801}", BAD("size: 52428801 out of range 1..52428800")},
    {VID "\"size\":-0}", BAD("size: 0 out of range 1..52428800")},
    /* numbers as numeric strings */
    {VID "\"size\":\"10000\"}", PASS},
    {VID "\"size\":\"52428800\"}", PASS},
    {VID "\"size\":\"52428801\"}", BAD("size: 52428801 out of range 1..52428800")},
    {VID "\"size\":\"0\"}", BAD("size: 0 out of range 1..52428800")},
    {VID "\"size\":\"-5\"}", BAD("size: -5 out of range 1..52428800")},
    {VID "\"size\":\"1e3\"}", PASS},
    {VID "\"size\":\"1000.0\"}", PASS},
    {VID "\"size\":1e3}", PASS},
    {VID "\"size\":10000.0}", PASS},
    {VID "\"size\":1.5}", BAD("size: must be an integer")},
    {VID "\"size\":\"1.5\"}", BAD("size: must be an integer")},
    {VID "\"size\":1.0000001}", BAD("size: must be an integer")},
    {VID "\"size\":\"abc\"}", BAD("size: must be an integer")},
    {VID "\"size\":\"\"}", BAD("size: must be an integer")},
    {VID "\"size\":\" 1\"}", BAD("size: must be an integer")},
    {VID "\"size\":\"1 \"}", BAD("size: must be an integer")},
    {VID "\"size\":\"+1\"}", BAD("size: must be an integer")},
    {VID "\"size\":\"01\"}", BAD("size: must be an integer")},
    {VID "\"size\":\"0x10\"}", BAD("size: must be an integer")},
    {VID "\"size\":\"1,000\"}", BAD("size: must be an integer")},
    {VID "\"size\":\"10kB\"}", BAD("size: must be an integer")},
    {VID "\"size\":\"inf\"}", BAD("size: must be an integer")},
    {VID "\"size\":\"NaN\"}", BAD("size: must be an integer")},
    {VID "\"size\":NaN}", BAD("size: must be an integer")},
    {VID "\"size\":Infinity}", BAD("size: Infinity out of range 1..52428800")},
    {VID "\"size\":1e999}", BAD("size: 1e999 out of range 1..52428800")},
    {VID "\"size\":true}", BAD("size: must be an integer")},
    {VID "\"size\":false}", BAD("size: must be an integer")},
    {VID "\"size\":null}", BAD("size: must be an integer")},
    {VID "\"size\":{}}", BAD("size: must be an integer")},
    {VID "\"size\":[1]}", BAD("size: must be an integer")},
    {VID "\"size\":\"1\\u00002\"}", BAD("size: must be an integer")},
    {VID "\"size\":1e20}", BAD("size: 1e20 out of range 1..52428800")},
    {VID "\"size\":\"99999999999999999999\"}",
     BAD("size: 99999999999999999999 out of range 1..52428800")},
    {VID "\"size\":\"-99999999999999999999\"}",
     BAD("size: -99999999999999999999 out of range 1..52428800")},
    {VID "\"size\":\"9223372036854775807\"}",
     BAD("size: 9223372036854775807 out of range 1..52428800")},
    {VID "\"size\":18446744073709551615}",
     BAD("size: 18446744073709551615 out of range 1..52428800")},
    /* duration: optional, 0..180 */
    {VID "\"size\":1,\"duration\":0}", PASS},
    {VID "\"size\":1,\"duration\":180}", PASS},
    {VID "\"size\":1,\"duration\":\"180\"}", PASS},
    {VID "\"size\":1,\"duration\":181}", BAD("duration: 181 out of range 0..180")},
    {VID "\"size\":1,\"duration\":-1}", BAD("duration: -1 out of range 0..180")},
    {VID "\"size\":1,\"duration\":10.5}", BAD("duration: must be an integer")},
    {VID "\"size\":1,\"duration\":null}", PASS}, /* the Node SDK's: null is absent */
    {VID "\"size\":1,\"duration\":null,\"thumbnail\":null,\"text\":null}", PASS},
    {VID "\"size\":1,\"duration\":\"\"}", BAD("duration: must be an integer")},
    {VID "\"size\":1,\"duration\":true}", BAD("duration: must be an integer")},
    /* thumbnail: optional URL */
    {VID "\"size\":1,\"thumbnail\":\"\"}", PASS},
    {VID "\"size\":1,\"thumbnail\":\"file:///etc/passwd\"}",
     BAD("thumbnail: not an absolute http(s) URL")},
    {VID "\"size\":1,\"thumbnail\":false}", BAD("thumbnail: must be a string")},
    /* field order: media, size, duration, thumbnail */
    {VID "\"size\":0,\"duration\":999}", BAD("size: 0 out of range 1..52428800")},
    {VID "\"size\":1,\"duration\":999,\"thumbnail\":5}", BAD("duration: 999 out of range 0..180")},
    {"{\"type\":\"video\",\"media\":\"x\"}", BAD("media: not an absolute http(s) URL")},
};

#define FIL "{\"type\":\"file\",\"media\":\"http://www.images.com/file.doc\",\"size\":10000,"

static const struct ccase file_cases[] = {
    {FIL "\"file_name\":\"name_of_file.doc\"}", PASS},
    {"{\"type\":\"file\",\"size\":1,\"file_name\":\"a.pdf\"}", MISSING("media: required")},
    {"{\"type\":\"file\",\"media\":\"http://h/f\",\"file_name\":\"a.pdf\"}",
     MISSING("size: required")},
    {"{\"type\":\"file\",\"media\":\"http://h/f\",\"size\":52428801,\"file_name\":\"a.pdf\"}",
     BAD("size: 52428801 out of range 1..52428800")},
    {"{\"type\":\"file\",\"media\":\"http://h/f\",\"size\":\"2.5\",\"file_name\":\"a.pdf\"}",
     BAD("size: must be an integer")},
    {FIL "\"x\":1}", MISSING("file_name: required")},
    {FIL "\"file_name\":\"\"}", MISSING("file_name: required")},
    {FIL "\"file_name\":null}", BAD("file_name: must be a string")},
    {FIL "\"file_name\":5}", BAD("file_name: must be a string")},
    {FIL "\"file_name\":\"{{252*a}}.pdf\"}", PASS},
    {FIL "\"file_name\":\"{{253*a}}.pdf\"}", BAD("file_name: 257 characters, max 256")},
    {FIL "\"file_name\":\"{{252*é}}.pdf\"}", PASS},
    {FIL "\"file_name\":\"{{253*é}}.pdf\"}", BAD("file_name: 257 characters, max 256")},
    {FIL "\"file_name\":\"{{300*a}}.exe\"}", BAD("file_name: 304 characters, max 256")},
    {FIL "\"file_name\":\"a\xff.pdf\"}", BAD("file_name: not valid UTF-8")},
    {FIL "\"file_name\":\"a.exe\\u0000.pdf\"}", BAD("file_name: contains a NUL character")},
    /* extensions */
    {FIL "\"file_name\":\"README\"}", BAD("file_name: no extension")},
    {FIL "\"file_name\":\"a.\"}", BAD("file_name: no extension")},
    {FIL "\"file_name\":\".\"}", BAD("file_name: no extension")},
    {FIL "\"file_name\":\".bashrc\"}", BAD("file_name: no extension")},
    {FIL "\"file_name\":\"a.exe.\"}", BAD("file_name: no extension")},
    {FIL "\"file_name\":\"a. \"}", BAD("file_name: no extension")},
    {FIL "\"file_name\":\"   \"}", BAD("file_name: no extension")},
    {FIL "\"file_name\":\"..bashrc\"}", PASS},
    {FIL "\"file_name\":\"a.b\"}", PASS},
    {FIL "\"file_name\":\"report.pdf\"}", PASS},
    {FIL "\"file_name\":\"report.PDF\"}", PASS},
    {FIL "\"file_name\":\"setup.exe.txt\"}", PASS},
    {FIL "\"file_name\":\"a.inf\"}", PASS},
    {FIL "\"file_name\":\"a.ex\"}", PASS},
    {FIL "\"file_name\":\"a.exe1\"}", PASS},
    {FIL "\"file_name\":\"a.vbscripts\"}", PASS},
    {FIL "\"file_name\":\"a.workflows\"}", PASS},
    {FIL "\"file_name\":\"exe\"}", BAD("file_name: no extension")},
    {FIL "\"file_name\":\"a.exe\"}", BAD("file_name: forbidden extension .exe")},
    {FIL "\"file_name\":\"A.EXE\"}", BAD("file_name: forbidden extension .exe")},
    {FIL "\"file_name\":\"a.Exe\"}", BAD("file_name: forbidden extension .exe")},
    {FIL "\"file_name\":\"setup.txt.exe\"}", BAD("file_name: forbidden extension .exe")},
    {FIL "\"file_name\":\"a.exe \"}", BAD("file_name: forbidden extension .exe")},
    {FIL "\"file_name\":\"..exe\"}", BAD("file_name: forbidden extension .exe")},
    {FIL "\"file_name\":\"\xd0\xb6.VbScript\"}", BAD("file_name: forbidden extension .vbscript")},
    {FIL "\"file_name\":\"a.WORKFLOW\"}", BAD("file_name: forbidden extension .workflow")},
    {FIL "\"file_name\":\"a.Ps1\"}", BAD("file_name: forbidden extension .ps1")},
    {FIL "\"file_name\":\"a.u3P\"}", BAD("file_name: forbidden extension .u3p")},
    {FIL "\"file_name\":\"a.inf1\"}", BAD("file_name: forbidden extension .inf1")},
    {FIL "\"file_name\":\"{{251*a}}.exe\"}", BAD("file_name: forbidden extension .exe")},
};

#define CON "{\"type\":\"contact\",\"contact\":"

static const struct ccase contact_cases[] = {
    {CON "{\"name\":\"John Doe\",\"phone_number\":\"+12025550164\"}}", PASS},
    {"{\"type\":\"contact\"}", MISSING("contact: required")},
    {"{\"type\":\"contact\",\"name\":\"a\",\"phone_number\":\"1\"}", MISSING("contact: required")},
    {CON "null}", BAD("contact: must be an object")},
    {CON "\"\"}", BAD("contact: must be an object")},
    {CON "\"John\"}", BAD("contact: must be an object")},
    {CON "[]}", BAD("contact: must be an object")},
    {CON "5}", BAD("contact: must be an object")},
    {CON "{}}", MISSING("contact.name: required")},
    {CON "{\"phone_number\":\"1\"}}", MISSING("contact.name: required")},
    {CON "{\"name\":\"\",\"phone_number\":\"1\"}}", MISSING("contact.name: required")},
    {CON "{\"name\":null,\"phone_number\":\"1\"}}", BAD("contact.name: must be a string")},
    {CON "{\"name\":\"{{28*a}}\",\"phone_number\":\"1\"}}", PASS},
    {CON "{\"name\":\"{{28*😀}}\",\"phone_number\":\"1\"}}", PASS},
    {CON "{\"name\":\"{{29*a}}\",\"phone_number\":\"1\"}}",
     BAD("contact.name: 29 characters, max 28")},
    {CON "{\"name\":\"{{29*ж}}\",\"phone_number\":\"1\"}}",
     BAD("contact.name: 29 characters, max 28")},
    {CON "{\"name\":\"\xc3\"}}", BAD("contact.name: not valid UTF-8")},
    {CON "{\"name\":\"a\"}}", MISSING("contact.phone_number: required")},
    {CON "{\"name\":\"a\",\"phone_number\":\"\"}}", MISSING("contact.phone_number: required")},
    {CON "{\"name\":\"a\",\"phone_number\":12025550164}}",
     BAD("contact.phone_number: must be a string")},
    {CON "{\"name\":\"a\",\"phone_number\":\"{{18*9}}\"}}", PASS},
    {CON "{\"name\":\"a\",\"phone_number\":\"{{19*9}}\"}}",
     BAD("contact.phone_number: 19 characters, max 18")},
    /* order: name before phone_number */
    {CON "{\"name\":\"{{29*a}}\"}}", BAD("contact.name: 29 characters, max 28")},
};

#define LOC "{\"type\":\"location\",\"location\":"

static const struct ccase location_cases[] = {
    {LOC "{\"lat\":\"37.7898\",\"lon\":\"-122.3942\"}}", PASS},
    {LOC "{\"lat\":37.7898,\"lon\":-122.3942}}", PASS},
    {LOC "{\"lat\":0,\"lon\":0}}", PASS},
    {"{\"type\":\"location\"}", MISSING("location: required")},
    {"{\"type\":\"location\",\"lat\":1,\"lon\":1}", MISSING("location: required")},
    {LOC "null}", BAD("location: must be an object")},
    {LOC "\"37.7,-122.3\"}", BAD("location: must be an object")},
    {LOC "[37.7,-122.3]}", BAD("location: must be an object")},
    {LOC "{}}", MISSING("location.lat: required")},
    {LOC "{\"lat\":1}}", MISSING("location.lon: required")},
    {LOC "{\"lon\":1}}", MISSING("location.lat: required")},
    {LOC "{\"lat\":90,\"lon\":180}}", PASS},
    {LOC "{\"lat\":-90,\"lon\":-180}}", PASS},
    {LOC "{\"lat\":90.0,\"lon\":-180.0}}", PASS},
    {LOC "{\"lat\":\"90\",\"lon\":\"-180\"}}", PASS},
    {LOC "{\"lat\":\"-90.000\",\"lon\":\"180.0\"}}", PASS},
    {LOC "{\"lat\":90.0001,\"lon\":0}}", BAD("location.lat: 90.0001 out of range -90..90")},
    {LOC "{\"lat\":-90.0001,\"lon\":0}}", BAD("location.lat: -90.0001 out of range -90..90")},
    {LOC "{\"lat\":\"90.0001\",\"lon\":0}}", BAD("location.lat: 90.0001 out of range -90..90")},
    {LOC "{\"lat\":90.00000000000001,\"lon\":0}}",
     BAD("location.lat: 90.00000000000001 out of range -90..90")},
    {LOC "{\"lat\":91,\"lon\":0}}", BAD("location.lat: 91 out of range -90..90")},
    {LOC "{\"lat\":\"1e3\",\"lon\":0}}", BAD("location.lat: 1e3 out of range -90..90")},
    {LOC "{\"lat\":0,\"lon\":180.5}}", BAD("location.lon: 180.5 out of range -180..180")},
    {LOC "{\"lat\":0,\"lon\":\"-180.0000001\"}}",
     BAD("location.lon: -180.0000001 out of range -180..180")},
    {LOC "{\"lat\":0,\"lon\":1e300}}", BAD("location.lon: 1e300 out of range -180..180")},
    {LOC "{\"lat\":\"abc\",\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":\"\",\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":null,\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":true,\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":{},\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":\" 37.7\",\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":\"37,7\",\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":\"37.\",\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":\".5\",\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":\"1e\",\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":\"NaN\",\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":NaN,\"lon\":0}}", BAD("location.lat: must be a number")},
    {LOC "{\"lat\":-Infinity,\"lon\":0}}", BAD("location.lat: -Infinity out of range -90..90")},
    {LOC "{\"lat\":\"1e400\",\"lon\":0}}", BAD("location.lat: 1e400 out of range -90..90")},
    {LOC "{\"lat\":\"1e1\",\"lon\":\"-1.5E+2\"}}", PASS},
    {LOC "{\"lat\":\"0.000000000000000000000000001\",\"lon\":\"1e-400\"}}", PASS},
    {LOC "{\"lat\":0,\"lon\":\"x\"}}", BAD("location.lon: must be a number")},
    /* order: lat before lon */
    {LOC "{\"lat\":100,\"lon\":\"x\"}}", BAD("location.lat: 100 out of range -90..90")},
};

#define URLT "{\"type\":\"url\","

static const struct ccase url_cases[] = {
    {URLT "\"media\":\"http://www.website.com/go_here\"}", PASS},
    {URLT "\"text\":\"optional text\",\"media\":\"http://www.website.com/go_here\"}", PASS},
    {URLT "\"text\":\"x\"}", MISSING("media: required")},
    {URLT "\"media\":\"\"}", MISSING("media: required")},
    {URLT "\"media\":null}", BAD("media: must be a string")},
    {URLT "\"media\":\"http://example.com/{{1981*a}}\"}", PASS},
    {URLT "\"media\":\"http://example.com/{{1982*a}}\"}", BAD("media: 2001 characters, max 2000")},
    {URLT "\"media\":\"{{2001*é}}\"}", BAD("media: 2001 characters, max 2000")},
    {URLT "\"media\":\"javascript:alert(1)\"}", BAD("media: not an absolute http(s) URL")},
    {URLT "\"media\":\"http://exa mple.com\"}", BAD("media: not an absolute http(s) URL")},
    {URLT "\"media\":\"http://u:p@example.com/\"}", BAD("media: not an absolute http(s) URL")},
    {URLT "\"media\":\"http://example.com/\xc3\xa9\"}", BAD("media: not an absolute http(s) URL")},
    {URLT "\"media\":\"http://example.com/\xc3\"}", BAD("media: not valid UTF-8")},
    {URLT "\"media\":\"http://example.com/a.png\"}", PASS},
    {URLT "\"media\":\"http://h/\",\"text\":\"\"}", PASS},
    {URLT "\"media\":\"http://h/\",\"text\":\"{{120*a}}\"}", PASS},
    {URLT "\"media\":\"http://h/\",\"text\":\"{{120*€}}\"}", PASS},
    {URLT "\"media\":\"http://h/\",\"text\":\"{{121*a}}\"}", BAD("text: 121 characters, max 120")},
    {URLT "\"media\":\"http://h/\",\"text\":null}", BAD("text: must be a string")},
    {URLT "\"media\":\"http://h/\",\"text\":5}", BAD("text: must be a string")},
    /* order: media before text */
    {URLT "\"text\":\"{{121*a}}\"}", MISSING("media: required")},
};

#define STK "{\"type\":\"sticker\",\"sticker_id\":"

static const struct ccase sticker_cases[] = {
    {STK "46105}", PASS},
    {STK "\"46105\"}", PASS},
    {STK "1}", PASS},
    {STK "9007199254740992}", PASS},
    {STK "\"9007199254740992\"}", PASS},
    {"{\"type\":\"sticker\"}", MISSING("sticker_id: required")},
    {STK "0}", BAD("sticker_id: 0 out of range 1..9007199254740992")},
    {STK "-1}", BAD("sticker_id: -1 out of range 1..9007199254740992")},
    {STK "\"0\"}", BAD("sticker_id: 0 out of range 1..9007199254740992")},
    {STK "9007199254740993}", BAD("sticker_id: 9007199254740993 out of range 1..9007199254740992")},
    {STK "9223372036854775807}",
     BAD("sticker_id: 9223372036854775807 out of range 1..9007199254740992")},
    {STK "1e17}", BAD("sticker_id: 1e17 out of range 1..9007199254740992")},
    {STK "\"9223372036854775808\"}",
     BAD("sticker_id: 9223372036854775808 out of range 1..9007199254740992")},
    {STK "1.5}", BAD("sticker_id: must be an integer")},
    {STK "\"x\"}", BAD("sticker_id: must be an integer")},
    {STK "\"\"}", BAD("sticker_id: must be an integer")},
    {STK "null}", BAD("sticker_id: must be an integer")},
    {STK "true}", BAD("sticker_id: must be an integer")},
};

#define TXT "{\"type\":\"text\",\"text\":\"hi\","

static const struct ccase sender_cases[] = {
    {TXT "\"sender\":{\"name\":\"Bob\",\"avatar\":\"http://h/a.jpg\"}}", PASS},
    {TXT "\"sender\":{}}", PASS},
    {TXT "\"sender\":{\"name\":\"\"}}", PASS},
    {TXT "\"sender\":{\"avatar\":5}}", PASS}, /* avatar is not a rule */
    {TXT "\"sender\":{\"name\":\"{{28*a}}\"}}", PASS},
    {TXT "\"sender\":{\"name\":\"{{28*é}}\"}}", PASS},
    {TXT "\"sender\":{\"name\":\"{{29*a}}\"}}", BAD("sender.name: 29 characters, max 28")},
    {TXT "\"sender\":{\"name\":\"{{29*😀}}\"}}", BAD("sender.name: 29 characters, max 28")},
    {TXT "\"sender\":{\"name\":null}}", BAD("sender.name: must be a string")},
    {TXT "\"sender\":{\"name\":7}}", BAD("sender.name: must be a string")},
    {TXT "\"sender\":{\"name\":\"\xe0\x80\x80\"}}", BAD("sender.name: not valid UTF-8")},
    {TXT "\"sender\":null}", BAD("sender: must be an object")},
    {TXT "\"sender\":\"Bob\"}", BAD("sender: must be an object")},
    {TXT "\"sender\":[]}", BAD("sender: must be an object")},
    /* order: the type's rules first, sender last */
    {"{\"type\":\"text\",\"sender\":5}", MISSING("text: required")},
    {"{\"type\":\"text\",\"text\":\"{{7001*a}}\",\"sender\":{\"name\":\"{{29*a}}\"}}",
     BAD("text: 7001 characters, max 7000")},
    {"{\"type\":\"sticker\",\"sticker_id\":0,\"sender\":null}",
     BAD("sticker_id: 0 out of range 1..9007199254740992")},
};

static void test_content_type(void **state)
{
    RUN(msg_check_content, type_cases);
}
static void test_content_text(void **state)
{
    RUN(msg_check_content, text_cases);
}
static void test_content_picture(void **state)
{
    RUN(msg_check_content, picture_cases);
}
static void test_content_video(void **state)
{
    RUN(msg_check_content, video_cases);
}
static void test_content_file(void **state)
{
    RUN(msg_check_content, file_cases);
}
static void test_content_contact(void **state)
{
    RUN(msg_check_content, contact_cases);
}
static void test_content_location(void **state)
{
    RUN(msg_check_content, location_cases);
}
static void test_content_url(void **state)
{
    RUN(msg_check_content, url_cases);
}
static void test_content_sticker(void **state)
{
    RUN(msg_check_content, sticker_cases);
}
static void test_content_sender(void **state)
{
    RUN(msg_check_content, sender_cases);
}

/* Every forbidden extension, in three spellings; and a few neighbours pass. */
static void test_forbidden_extensions(void **state)
{
    static const char *const ext[] = {
        "action", "apk", "app",    "bat",  "bin", "cmd",      "com",      "command", "cpl",
        "csh",    "exe", "gadget", "inf1", "ins", "inx",      "ipa",      "isu",     "job",
        "jse",    "ksh", "lnk",    "msc",  "msi", "msp",      "mst",      "osx",     "out",
        "paf",    "pif", "prg",    "ps1",  "reg", "rgs",      "run",      "sct",     "shb",
        "shs",    "u3p", "vb",     "vbe",  "vbs", "vbscript", "workflow", "ws",      "wsf"};
    char json[256], want[64], detail[MSG_DETAIL_MAX];
    int bad = 0;

    assert_int_equal(sizeof ext / sizeof ext[0], 45);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        for (int spelling = 0; spelling < 3; spelling++) {
            char e[16];
            size_t n = strlen(ext[i]);
            for (size_t k = 0; k <= n; k++) {
                char c = ext[i][k];
                if ((spelling == 1 || (spelling == 2 && k == 0)) && c >= 'a' && c <= 'z')
                    c = (char)(c - 32);
                e[k] = c;
            }
            snprintf(json, sizeof json,
                     "{\"type\":\"file\",\"media\":\"http://h/f\",\"size\":1,"
                     "\"file_name\":\"x.%s\"}",
                     e);
            snprintf(want, sizeof want, "file_name: forbidden extension .%s", ext[i]);
            struct json_object *o = parse(json);
            int st = msg_check_content(o, detail, sizeof detail);
            if (st != VCP_STATUS_BAD_DATA || strcmp(detail, want) != 0) {
                print_error("x.%s: %d \"%s\"\n", e, st, detail);
                bad++;
            }
            json_object_put(o);

            /* as an inner extension it is harmless */
            snprintf(json, sizeof json,
                     "{\"type\":\"file\",\"media\":\"http://h/f\",\"size\":1,"
                     "\"file_name\":\"x.%s.txt\"}",
                     e);
            o = parse(json);
            if (msg_check_content(o, detail, sizeof detail) != VCP_STATUS_OK) {
                print_error("x.%s.txt: \"%s\"\n", e, detail);
                bad++;
            }
            json_object_put(o);
        }
    }
    assert_int_equal(bad, 0);
}

/* ---- msg_check_present and msg_validate --------------------------------- */

static const struct ccase present_cases[] = {
    {"{\"from\":\"u\",\"type\":\"text\"}", PASS},
    {"{}", MISSING("from: required")},
    {"[]", MISSING("from: required")},
    {"{\"type\":\"text\"}", MISSING("from: required")},
    {"{\"from\":\"\",\"type\":\"text\"}", MISSING("from: required")},
    {"{\"from\":\"\",\"type\":\"\"}", MISSING("from: required")},
    {"{\"from\":\"u\"}", MISSING("type: required")},
    {"{\"from\":\"u\",\"type\":\"\"}", MISSING("type: required")},
    {"{\"from\":null,\"type\":null}", PASS},
    {"{\"from\":5,\"type\":7}", PASS},
    {"{\"from\":false,\"type\":{}}", PASS},
    {"{\"from\":\"u\",\"type\":\"nope\"}", PASS},
    {"{\"from\":\" \",\"type\":\" \"}", PASS},
};

static const struct ccase validate_cases[] = {
    {"{\"from\":\"01234567890A=\",\"type\":\"text\",\"text\":\"Hello world!\"}", PASS},
    {"{\"type\":\"text\",\"text\":\"x\"}", MISSING("from: required")},
    {"{\"from\":\"\",\"type\":\"text\",\"text\":\"x\"}", MISSING("from: required")},
    {"{\"from\":5,\"type\":\"\"}", MISSING("type: required")},
    {"{\"from\":5,\"type\":\"text\",\"text\":\"x\"}", BAD("from: must be a string")},
    {"{\"from\":null,\"type\":\"text\",\"text\":\"x\"}", BAD("from: must be a string")},
    {"{\"from\":[\"u\"],\"type\":\"text\",\"text\":\"x\"}", BAD("from: must be a string")},
    {"{\"from\":5,\"type\":\"nope\"}", BAD("from: must be a string")},
    {"{\"from\":\"u\",\"type\":5}", BAD("type: must be a string")},
    {"{\"from\":\"u\",\"type\":\"nope\"}", BAD("type: unknown message type \"nope\" (" TYPES ")")},
    {"{\"from\":\"u\",\"type\":\"text\"}", MISSING("text: required")},
    {"{\"from\":\"u\",\"type\":\"sticker\",\"sticker_id\":\"46105\"}", PASS},
};

static void test_present(void **state)
{
    RUN(msg_check_present, present_cases);
}

static void test_validate(void **state)
{
    RUN(msg_validate, validate_cases);
}

/* ---- msg_normalize ------------------------------------------------------- */

struct ncase {
    const char *in;
    const char *out; /* NULL: msg_normalize returns NULL */
};

static const struct ncase norm_cases[] = {
    {"{\"auth_token\":\"t\",\"from\":\"u\",\"type\":\"text\",\"text\":\"Hello world!\","
     "\"min_api_version\":1,\"keyboard\":{}}",
     "{\"type\":\"text\",\"text\":\"Hello world!\"}"},
    {"{\"type\":\"text\",\"text\":\"caf\xc3\xa9 \\\"q\\\" \\n 😀\"}",
     "{\"type\":\"text\",\"text\":\"caf\xc3\xa9 \\\"q\\\" \\n 😀\"}"},
    {"{\"thumbnail\":\"http://www.images.com/thumb.jpg\",\"type\":\"picture\",\"text\":\"Picture "
     "description\",\"media\":\"http://www.images.com/img.jpg\"}",
     "{\"type\":\"picture\",\"text\":\"Picture description\",\"media\":\"http://www.images.com/"
     "img.jpg\",\"thumbnail\":\"http://www.images.com/thumb.jpg\"}"},
    {"{\"type\":\"picture\",\"text\":\"\",\"media\":\"http://h/a.jpg\",\"thumbnail\":\"\"}",
     "{\"type\":\"picture\",\"text\":\"\",\"media\":\"http://h/a.jpg\"}"},
    {"{\"type\":\"video\",\"media\":\"http://www.images.com/video.mp4\",\"thumbnail\":\"http://"
     "www.images.com/thumb.jpg\",\"size\":\"10000\",\"duration\":\"10\"}",
     "{\"type\":\"video\",\"media\":\"http://www.images.com/video.mp4\",\"size\":10000,"
     "\"duration\":10,\"thumbnail\":\"http://www.images.com/thumb.jpg\"}"},
    {"{\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":1e4}",
     "{\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":10000}"},
    {"{\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":52428800.0,\"duration\":0}",
     "{\"type\":\"video\",\"media\":\"http://h/v.mp4\",\"size\":52428800,\"duration\":0}"},
    {"{\"type\":\"file\",\"file_name\":\"name_of_file.doc\",\"size\":10000,\"media\":\"http://"
     "www.images.com/file.doc\",\"from\":\"u\"}",
     "{\"type\":\"file\",\"media\":\"http://www.images.com/file.doc\",\"size\":10000,"
     "\"file_name\":\"name_of_file.doc\"}"},
    {"{\"type\":\"contact\",\"contact\":{\"phone_number\":\"+12025550164\",\"name\":\"John "
     "Doe\",\"avatar\":\"x\"}}",
     "{\"type\":\"contact\",\"contact\":{\"name\":\"John "
     "Doe\",\"phone_number\":\"+12025550164\"}}"},
    {"{\"type\":\"location\",\"location\":{\"lat\":\"37.7898\",\"lon\":\"-122.3942\"}}",
     "{\"type\":\"location\",\"location\":{\"lat\":37.7898,\"lon\":-122.3942}}"},
    {"{\"type\":\"location\",\"location\":{\"lon\":-180,\"lat\":90,\"alt\":3}}",
     "{\"type\":\"location\",\"location\":{\"lat\":90.0,\"lon\":-180.0}}"},
    {"{\"type\":\"location\",\"location\":{\"lat\":0.1,\"lon\":\"1e1\"}}",
     "{\"type\":\"location\",\"location\":{\"lat\":0.1,\"lon\":10.0}}"},
    {"{\"type\":\"location\",\"location\":{\"lat\":\"0.30000000000000004\",\"lon\":\"-0\"}}",
     "{\"type\":\"location\",\"location\":{\"lat\":0.30000000000000004,\"lon\":-0.0}}"},
    {"{\"type\":\"location\",\"location\":{\"lat\":1e-7,\"lon\":\"-0.000001\"}}",
     "{\"type\":\"location\",\"location\":{\"lat\":1e-07,\"lon\":-1e-06}}"},
    {"{\"type\":\"url\",\"text\":\"optional text to describe the URL\",\"media\":\"http://"
     "www.website.com/go_here\"}",
     "{\"type\":\"url\",\"media\":\"http://www.website.com/go_here\",\"text\":\"optional text "
     "to describe the URL\"}"},
    {"{\"type\":\"url\",\"media\":\"http://h/\",\"text\":\"\"}",
     "{\"type\":\"url\",\"media\":\"http://h/\"}"},
    {"{\"type\":\"sticker\",\"sticker_id\":\"46105\"}",
     "{\"type\":\"sticker\",\"sticker_id\":46105}"},
    {"{\"type\":\"sticker\",\"sticker_id\":9007199254740992.0}",
     "{\"type\":\"sticker\",\"sticker_id\":9007199254740992}"},
    /* sender: name, and avatar when it is a URL; nothing else */
    {"{\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"avatar\":\"https://a.example/x.jpg\","
     "\"name\":\"Bob\",\"id\":1}}",
     "{\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":\"Bob\",\"avatar\":\"https://"
     "a.example/x.jpg\"}}"},
    {"{\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":\"Bob\",\"avatar\":\"javascript:"
     "x\"}}",
     "{\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":\"Bob\"}}"},
    {"{\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"avatar\":\"http://h/a.png\"}}",
     "{\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"avatar\":\"http://h/a.png\"}}"},
    {"{\"type\":\"text\",\"text\":\"hi\",\"sender\":{\"name\":\"\",\"avatar\":7}}",
     "{\"type\":\"text\",\"text\":\"hi\"}"},
    {"{\"type\":\"text\",\"text\":\"hi\",\"sender\":{}}", "{\"type\":\"text\",\"text\":\"hi\"}"},
    /* misuse: no type, unknown type */
    {"{\"text\":\"hi\"}", NULL},
    {"{\"type\":\"nope\"}", NULL},
    {"{\"type\":5}", NULL},
};

static void test_normalize(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
        const struct ncase *c = &norm_cases[i];
        struct json_object *in = parse(c->in);
        struct json_object *out = msg_normalize(in);
        if (c->out == NULL) {
            if (out != NULL) {
                print_error("norm row %zu: want NULL, got %s\n", i, plain(out));
                bad++;
            }
        } else if (out == NULL || strcmp(plain(out), c->out) != 0) {
            print_error("norm row %zu\n  got  %s\n  want %s\n", i, out ? plain(out) : "NULL",
                        c->out);
            bad++;
        } else {
            /* The stored form is itself a valid message ... */
            char detail[MSG_DETAIL_MAX];
            if (msg_check_content(in, detail, sizeof detail) != VCP_STATUS_OK ||
                msg_check_content(out, detail, sizeof detail) != VCP_STATUS_OK) {
                print_error("norm row %zu: not valid: %s\n", i, detail);
                bad++;
            }
            /* ... that normalises to itself, also after a trip through text. */
            struct json_object *again = msg_normalize(out);
            struct json_object *reread = json_tokener_parse(plain(out));
            struct json_object *third = reread ? msg_normalize(reread) : NULL;
            if (again == NULL || strcmp(plain(again), c->out) != 0 || third == NULL ||
                strcmp(plain(third), c->out) != 0) {
                print_error("norm row %zu: not idempotent\n", i);
                bad++;
            }
            json_object_put(again);
            json_object_put(reread);
            json_object_put(third);
        }
        json_object_put(out);
        json_object_put(in);
    }
    assert_int_equal(bad, 0);
}

/* Reals keep their exact value, whatever the printed form. */
static void test_normalize_values(void **state)
{
    struct json_object *in = parse(
        "{\"type\":\"location\",\"location\":{\"lat\":\"37.7898\",\"lon\":-122.39420000000001}}");
    struct json_object *out = msg_normalize(in);
    assert_non_null(out);
    struct json_object *loc, *lat, *lon;
    assert_true(json_object_object_get_ex(out, "location", &loc));
    assert_true(json_object_object_get_ex(loc, "lat", &lat));
    assert_true(json_object_object_get_ex(loc, "lon", &lon));
    assert_int_equal(json_object_get_type(lat), json_type_double);
    assert_true(json_object_get_double(lat) == 37.7898);
    assert_true(json_object_get_double(lon) == -122.39420000000001);
    json_object_put(out);
    json_object_put(in);
}

/* ---- msg_json_int64 / msg_json_double ------------------------------------ */

struct numcase {
    const char *json; /* a JSON value */
    int int_rc;
    int64_t i;
    int dbl_rc;
    double d;
};

static const struct numcase num_cases[] = {
    {"42", 0, 42, 0, 42},
    {"\"42\"", 0, 42, 0, 42},
    {"-7", 0, -7, 0, -7},
    {"\"-7\"", 0, -7, 0, -7},
    {"0", 0, 0, 0, 0},
    {"\"0\"", 0, 0, 0, 0},
    {"\"-0\"", 0, 0, 0, 0},
    {"1.5", -1, 0, 0, 1.5},
    {"\"1.5\"", -1, 0, 0, 1.5},
    {"\"-1.5\"", -1, 0, 0, -1.5},
    {"1e4", 0, 10000, 0, 10000},
    {"\"1e3\"", 0, 1000, 0, 1000},
    {"\"1E+3\"", 0, 1000, 0, 1000},
    {"\"1000e-3\"", 0, 1, 0, 1},
    {"10000.0", 0, 10000, 0, 10000},
    {"\"10000.0\"", 0, 10000, 0, 10000},
    {"\"37.7898\"", -1, 0, 0, 37.7898},
    {"\"-122.3942\"", -1, 0, 0, -122.3942},
    {"\"0.1\"", -1, 0, 0, 0.1},
    {"\"0.30000000000000004\"", -1, 0, 0, 0.30000000000000004},
    {"\"123456.789e3\"", 0, 123456789, 0, 123456789},
    {"\"1.7976931348623157e308\"", -1, 0, 0, DBL_MAX},
    {"\"2.2250738585072014e-308\"", -1, 0, 0, DBL_MIN},
    {"\"4.9406564584124654e-324\"", -1, 0, 0, 4.9406564584124654e-324},
    {"\"1e-400\"", 0, 0, 0, 0},
    {"\"9223372036854775807\"", 0, INT64_MAX, 0, 9223372036854775807.0},
    {"\"-9223372036854775808\"", 0, INT64_MIN, 0, -9223372036854775808.0},
    {"\"9223372036854775808\"", -1, 0, 0, 9223372036854775808.0},
    {"\"-9223372036854775809\"", -1, 0, 0, -9223372036854775809.0},
    {"\"12345678901234567890\"", -1, 0, 0, 12345678901234567890.0},
    {"\"123456789012345678901234567890\"", -1, 0, 0, 123456789012345678901234567890.0},
    {"9223372036854775807", 0, INT64_MAX, 0, 9223372036854775807.0},
    {"-9223372036854775808", 0, INT64_MIN, 0, -9223372036854775808.0},
    {"18446744073709551615", -1, 0, 0, 18446744073709551615.0},
    {"9007199254740992.0", 0, 9007199254740992LL, 0, 9007199254740992.0},
    {"9007199254740994.0", -1, 0, 0, 9007199254740994.0},
    {"-9007199254740992.0", 0, -9007199254740992LL, 0, -9007199254740992.0},
    {"1e300", -1, 0, 0, 1e300},
    /* not numbers */
    {"\"abc\"", -1, 0, -1, 0},
    {"\"\"", -1, 0, -1, 0},
    {"\" 1\"", -1, 0, -1, 0},
    {"\"1 \"", -1, 0, -1, 0},
    {"\"\\t1\"", -1, 0, -1, 0},
    {"\"+1\"", -1, 0, -1, 0},
    {"\"01\"", -1, 0, -1, 0},
    {"\"00\"", -1, 0, -1, 0},
    {"\"-\"", -1, 0, -1, 0},
    {"\"--1\"", -1, 0, -1, 0},
    {"\"1.\"", -1, 0, -1, 0},
    {"\".5\"", -1, 0, -1, 0},
    {"\"1e\"", -1, 0, -1, 0},
    {"\"1e+\"", -1, 0, -1, 0},
    {"\"1.5.5\"", -1, 0, -1, 0},
    {"\"1,5\"", -1, 0, -1, 0},
    {"\"0x1A\"", -1, 0, -1, 0},
    {"\"1_000\"", -1, 0, -1, 0},
    {"\"inf\"", -1, 0, -1, 0},
    {"\"-Infinity\"", -1, 0, -1, 0},
    {"\"nan\"", -1, 0, -1, 0},
    {"\"1e400\"", -1, 0, -1, 0},
    {"\"\xd9\xa1\"", -1, 0, -1, 0}, /* ARABIC-INDIC DIGIT ONE */
    {"\"1\\u00002\"", -1, 0, -1, 0},
    {"\"{{500*1}}\"", -1, 0, -1, 0},
    {"NaN", -1, 0, -1, 0},
    {"Infinity", -1, 0, -1, 0},
    {"-Infinity", -1, 0, -1, 0},
    {"true", -1, 0, -1, 0},
    {"false", -1, 0, -1, 0},
    {"null", -1, 0, -1, 0},
    {"[1]", -1, 0, -1, 0},
    {"{}", -1, 0, -1, 0},
};

static void test_numbers(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof num_cases / sizeof num_cases[0]; i++) {
        const struct numcase *c = &num_cases[i];
        /* json-c's tokener returns NULL for a bare null: use a wrapper. */
        char wrapped[1200];
        snprintf(wrapped, sizeof wrapped, "[%s]", c->json);
        struct json_object *arr = parse(wrapped);
        struct json_object *v = json_object_array_get_idx(arr, 0);
        int64_t got_i = 0x5a5a;
        double got_d = 12345.0;
        int ri = msg_json_int64(v, &got_i);
        int rd = msg_json_double(v, &got_d);
        if (ri != c->int_rc || (ri == 0 && got_i != c->i) || (ri != 0 && got_i != 0x5a5a)) {
            print_error("num row %zu %s: int rc %d value %" PRId64 "\n", i, c->json, ri, got_i);
            bad++;
        }
        if (rd != c->dbl_rc ||
            (rd == 0 && memcmp(&got_d, &c->d, sizeof got_d) != 0 && !(got_d == 0 && c->d == 0))) {
            print_error("num row %zu %s: double rc %d value %.17g\n", i, c->json, rd, got_d);
            bad++;
        }
        json_object_put(arr);
    }
    assert_int_equal(bad, 0);
    /* out may be NULL: the check alone */
    struct json_object *v = json_object_new_string("12");
    assert_int_equal(msg_json_int64(v, NULL), 0);
    assert_int_equal(msg_json_double(v, NULL), 0);
    json_object_put(v);
    assert_int_equal(msg_json_int64(NULL, NULL), -1); /* JSON null */
}

/* Numeric strings convert exactly as strtod does (this test runs in the C locale). */
static void test_numbers_vs_strtod(void **state)
{
    uint64_t x = 0x243f6a8885a308d3ULL;
    char buf[64];
    int bad = 0;

    for (int iter = 0; iter < 200000 && bad < 10; iter++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int ndig = 1 + (int)(x % 20);
        int point = (int)((x >> 8) % (uint64_t)(ndig + 1));
        int exp = (int)((x >> 16) % 80) - 40;
        bool use_exp = (x >> 24) & 1;
        size_t n = 0;
        if ((x >> 25) & 1)
            buf[n++] = '-';
        for (int k = 0; k < ndig; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            char digit = (char)('0' + x % 10);
            if (k == 0 && ndig > 1 && point != 1 && digit == '0')
                digit = '1'; /* no leading zeros */
            if (k == 0 && point == 0)
                buf[n++] = '0', buf[n++] = '.';
            buf[n++] = digit;
            if (k + 1 == point && k + 1 < ndig)
                buf[n++] = '.';
        }
        if (use_exp)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "e%d", exp);
        buf[n] = '\0';

        struct json_object *v = json_object_new_string(buf);
        double got, want = strtod(buf, NULL);
        if (msg_json_double(v, &got) != 0 || memcmp(&got, &want, sizeof got) != 0) {
            print_error("\"%s\": got %.17g, strtod %.17g\n", buf, got, want);
            bad++;
        }
        json_object_put(v);
    }
    assert_int_equal(bad, 0);
}

/* ---- small API pieces ---------------------------------------------------- */

static void test_type_names(void **state)
{
    static const char *const names[] = {"text",    "picture",  "video", "file",
                                        "contact", "location", "url",   "sticker"};
    assert_int_equal(MSG_TYPE_COUNT, 8);
    for (int t = 0; t < MSG_TYPE_COUNT; t++) {
        assert_string_equal(msg_type_name((enum msg_type)t), names[t]);
        assert_int_equal(msg_type_parse(names[t]), t);
    }
    assert_null(msg_type_name(MSG_TYPE_NONE));
    assert_null(msg_type_name(MSG_TYPE_COUNT));
    assert_int_equal(msg_type_parse(NULL), MSG_TYPE_NONE);
    assert_int_equal(msg_type_parse(""), MSG_TYPE_NONE);
    assert_int_equal(msg_type_parse("Text"), MSG_TYPE_NONE);
    assert_int_equal(msg_type_parse("tex"), MSG_TYPE_NONE);
    assert_int_equal(msg_type_parse("texts"), MSG_TYPE_NONE);
}

/* Success clears a detail left over from an earlier failure. */
static void test_detail_cleared(void **state)
{
    char detail[MSG_DETAIL_MAX] = "stale";
    struct json_object *o = parse("{\"from\":\"u\",\"type\":\"text\",\"text\":\"x\"}");
    assert_int_equal(msg_check_content(o, detail, sizeof detail), VCP_STATUS_OK);
    assert_string_equal(detail, "");
    memcpy(detail, "stale", 6);
    assert_int_equal(msg_check_present(o, detail, sizeof detail), VCP_STATUS_OK);
    assert_string_equal(detail, "");
    memcpy(detail, "stale", 6);
    assert_int_equal(msg_validate(o, detail, sizeof detail), VCP_STATUS_OK);
    assert_string_equal(detail, "");
    json_object_put(o);
}

/* The client builds messages from C strings, not from parsed text. */
static void test_built_objects(void **state)
{
    char detail[MSG_DETAIL_MAX];
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "from", json_object_new_string("u"));
    json_object_object_add(o, "type", json_object_new_string("file"));
    json_object_object_add(o, "media", json_object_new_string("https://h/f.bin"));
    json_object_object_add(o, "size", json_object_new_int64(52428800));
    json_object_object_add(o, "file_name", json_object_new_string("\xff.pdf"));
    assert_int_equal(msg_validate(o, detail, sizeof detail), VCP_STATUS_BAD_DATA);
    assert_string_equal(detail, "file_name: not valid UTF-8");
    json_object_object_add(o, "file_name", json_object_new_string("f.pdf"));
    assert_int_equal(msg_validate(o, detail, sizeof detail), VCP_STATUS_OK);
    json_object_object_add(o, "size", json_object_new_double(52428800.5));
    assert_int_equal(msg_validate(o, detail, sizeof detail), VCP_STATUS_BAD_DATA);
    assert_string_equal(detail, "size: must be an integer");
    json_object_object_add(o, "size", json_object_new_boolean(1));
    assert_int_equal(msg_validate(o, detail, sizeof detail), VCP_STATUS_BAD_DATA);
    assert_string_equal(detail, "size: must be an integer");
    json_object_object_add(o, "size", NULL); /* JSON null */
    assert_int_equal(msg_validate(o, detail, sizeof detail), VCP_STATUS_BAD_DATA);
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_content_text),
        cmocka_unit_test(test_content_picture),
        cmocka_unit_test(test_content_video),
        cmocka_unit_test(test_content_file),
        cmocka_unit_test(test_content_contact),
        cmocka_unit_test(test_content_location),
        cmocka_unit_test(test_content_url),
        cmocka_unit_test(test_content_sticker),
        cmocka_unit_test(test_content_sender),
        cmocka_unit_test(test_forbidden_extensions),
        cmocka_unit_test(test_present),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_normalize_values),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_numbers_vs_strtod),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_detail_cleared),
        cmocka_unit_test(test_built_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
