/* The body reader shared by vcpd and libvcp: every way a body can be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/body.h"
#include "core/msg.h"

struct row {
    const char *body;
    bool empty_ok;
    int status;
    const char *detail; /* exact, or prefix when it ends in '*' */
};

static const struct row rows[] = {
    {"{}", false, VCP_STATUS_OK, ""},
    {" {\"a\":[1,2,{\"b\":null}]} \n", false, VCP_STATUS_OK, ""},
    {"{\"s\":\"it's \\\"NaN\\\" /* x */\"}", false, VCP_STATUS_OK, ""},
    {"", false, VCP_STATUS_BAD_DATA, "body: empty, expected a JSON object"},
    {"", true, VCP_STATUS_OK, ""},
    {"42", false, VCP_STATUS_BAD_DATA, "body: must be a JSON object"},
    {"null", false, VCP_STATUS_BAD_DATA, "body: must be a JSON object"},
    {"[1]", false, VCP_STATUS_BAD_DATA, "body: must be a JSON object"},
    {"\"x\"", false, VCP_STATUS_BAD_DATA, "body: must be a JSON object"},
    {"{'a':1}", false, VCP_STATUS_BAD_DATA, "body: invalid JSON (unexpected character at byte 1)"},
    {"{\"a\":NaN}", false, VCP_STATUS_BAD_DATA,
     "body: invalid JSON (unexpected character at byte 5)"},
    {"{\"a\":-Infinity}", false, VCP_STATUS_BAD_DATA,
     "body: invalid JSON (unexpected character at byte 6)"},
    {"{} // c", false, VCP_STATUS_BAD_DATA, "body: invalid JSON (unexpected character at byte 3)"},
    {"{\"a\":1} x", false, VCP_STATUS_BAD_DATA,
     "body: invalid JSON (unexpected character at byte 8)"},
    {"{}{}", false, VCP_STATUS_BAD_DATA, "body: invalid JSON (*"},
    {"{\"a\":1,}", false, VCP_STATUS_BAD_DATA, "body: invalid JSON (*"},
    {"{\"a\":", false, VCP_STATUS_BAD_DATA, "body: invalid JSON (unexpected end of data)"},
    {"{\"a\":\"\xff\"}", false, VCP_STATUS_BAD_DATA, "body: invalid UTF-8 at byte 6"},
    {"{\"a\":\"\xc3\xa9\"}", false, VCP_STATUS_OK, ""},
    /* RFC 8259 §7: control characters must be escaped */
    {"{\"a\":\"x\x01y\"}", false, VCP_STATUS_BAD_DATA,
     "body: invalid JSON (raw control character U+0001 in a string at byte 7)"},
    {"{\"a\":\"x\ty\"}", false, VCP_STATUS_BAD_DATA,
     "body: invalid JSON (raw control character U+0009 in a string at byte 7)"},
    {"{\"a\\nb\":1}", false, VCP_STATUS_OK, ""},
    {"{\"a\nb\":1}", false, VCP_STATUS_BAD_DATA,
     "body: invalid JSON (raw control character U+000A in a string at byte 3)"},
    {"{\"a\":\"\x1f\"}", false, VCP_STATUS_BAD_DATA,
     "body: invalid JSON (raw control character U+001F in a string at byte 6)"},
    {"{\"a\":\"\x7f\"}", false, VCP_STATUS_OK, ""}, /* DEL is not a control character to JSON */
    {"\t{ \"a\" :\r\n1 }\n", false, VCP_STATUS_OK, ""},
    /* UTF-8 as Unicode defines it, everywhere: values, keys, ignored fields */
    {"{\"a\":\"\xc0\xaf\"}", false, VCP_STATUS_BAD_DATA, "body: invalid UTF-8 at byte 6"},
    {"{\"a\":\"\xed\xa0\x80\"}", false, VCP_STATUS_BAD_DATA, "body: invalid UTF-8 at byte 6"},
    {"{\"a\":\"\xf4\x90\x80\x80\"}", false, VCP_STATUS_BAD_DATA, "body: invalid UTF-8 at byte 6"},
    {"{\"a\":\"\xf0\x9f\x98\x80\"}", false, VCP_STATUS_OK, ""},
    {"{\"ab\xe2\x82\":1}", false, VCP_STATUS_BAD_DATA, "body: invalid UTF-8 at byte 4"},
    {"{\"a\":1}\xc3", false, VCP_STATUS_BAD_DATA, "body: invalid UTF-8 at byte 7"},
    {"{\"a\":1}\xc3\xa9", false, VCP_STATUS_BAD_DATA,
     "body: invalid JSON (unexpected character at byte 7)"},
    /* \u0000 would cut the string (a key at once) for every C consumer */
    {"{\"a\":\"x\\u0000y\"}", false, VCP_STATUS_BAD_DATA,
     "body: escaped NUL (U+0000) in a string at byte 7"},
    {"{\"a\\u0000b\":1}", false, VCP_STATUS_BAD_DATA,
     "body: escaped NUL (U+0000) in a string at byte 3"},
    {"{\"a\":\"\\\\u0000\"}", false, VCP_STATUS_OK, ""}, /* an escaped backslash, then text */
    {"{\"a\":\"\\u0001\\u001f\"}", false, VCP_STATUS_OK, ""},
    /* unpaired surrogates: json-c would make them U+FFFD */
    {"{\"a\":\"\\ud800\"}", false, VCP_STATUS_BAD_DATA,
     "body: unpaired surrogate U+D800 in a string at byte 6"},
    {"{\"a\":\"\\uDC00\"}", false, VCP_STATUS_BAD_DATA,
     "body: unpaired surrogate U+DC00 in a string at byte 6"},
    {"{\"a\":\"\\ud800x\"}", false, VCP_STATUS_BAD_DATA,
     "body: unpaired surrogate U+D800 in a string at byte 6"},
    {"{\"a\":\"\\ud800\\u0041\"}", false, VCP_STATUS_BAD_DATA,
     "body: unpaired surrogate U+D800 in a string at byte 6"},
    {"{\"a\":\"\\ud83d\\ude00\\udbff\\udfff\"}", false, VCP_STATUS_OK, ""},
    {"{\"a\":\"\\ud83d\\ude00\\ude00\"}", false, VCP_STATUS_BAD_DATA,
     "body: unpaired surrogate U+DE00 in a string at byte 18"},
    {"{\"a\":\"\\ud800", false, VCP_STATUS_BAD_DATA,
     "body: unpaired surrogate U+D800 in a string at byte 6"},
    {"{\"a\":\"\\u00\"}", false, VCP_STATUS_BAD_DATA, "body: invalid JSON (*"},
};

static void table(void **state)
{
    struct json_tokener *tok = body_tokener_new();
    char detail[MSG_DETAIL_MAX];

    assert_non_null(tok);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        int status = -1;
        size_t n = strlen(r->detail);
        detail[0] = '\0';
        struct json_object *o =
            body_parse(tok, r->body, strlen(r->body), r->empty_ok, &status, detail, sizeof detail);
        if (status != r->status)
            fail_msg("row %zu (%s): status %d, want %d (%s)", i, r->body, status, r->status,
                     detail);
        if (n > 0 && r->detail[n - 1] == '*')
            assert_memory_equal(detail, r->detail, n - 1);
        else if (r->status != VCP_STATUS_OK)
            assert_string_equal(detail, r->detail);
        assert_true((o != NULL) == (r->status == VCP_STATUS_OK));
        json_object_put(o);
    }
    json_tokener_free(tok);
}

static void size_and_depth_limits(void **state)
{
    struct json_tokener *tok = body_tokener_new();
    char detail[MSG_DETAIL_MAX], *big = malloc(BODY_MAX + 2);
    struct json_object *o;
    int status;

    /* exactly BODY_MAX bytes passes, one more is refused */
    memset(big, ' ', BODY_MAX + 1);
    memcpy(big, "{}", 2);
    big[BODY_MAX] = '\0';
    o = body_parse(tok, big, BODY_MAX, false, &status, detail, sizeof detail);
    assert_int_equal(status, VCP_STATUS_OK);
    json_object_put(o);
    big[BODY_MAX] = ' ';
    big[BODY_MAX + 1] = '\0';
    assert_null(body_parse(tok, big, BODY_MAX + 1, false, &status, detail, sizeof detail));
    assert_string_equal(detail, "body: 30721 bytes, max 30720");

    /* BODY_DEPTH_MAX levels of objects and arrays pass, one more is refused,
     * whether the innermost holds a value or is empty */
    for (int inner = 0; inner < 2; inner++) {
        for (int depth = BODY_DEPTH_MAX; depth <= BODY_DEPTH_MAX + 1; depth++) {
            size_t n = 0;
            for (int i = 0; i < depth - 1; i++)
                n += (size_t)snprintf(big + n, 8, i % 2 ? "[" : "{\"a\":");
            n += (size_t)snprintf(big + n, 8, (depth - 1) % 2 ? "[" : "{");
            if (inner)
                n += (size_t)snprintf(big + n, 8, (depth - 1) % 2 ? "1" : "\"b\":1");
            for (int i = depth - 1; i >= 0; i--)
                big[n++] = i % 2 ? ']' : '}';
            big[n] = '\0';
            o = body_parse(tok, big, n, false, &status, detail, sizeof detail);
            if (depth <= BODY_DEPTH_MAX) {
                assert_int_equal(status, VCP_STATUS_OK);
            } else {
                assert_int_equal(status, VCP_STATUS_BAD_DATA);
                assert_string_equal(detail, "body: nested deeper than 16 levels");
            }
            json_object_put(o);
        }
    }
    free(big);
    json_tokener_free(tok);
}

/* json-c saturates integers past int64..uint64: the detail quotes the text sent */
static void big_integers_keep_their_text(void **state)
{
    struct json_tokener *tok = body_tokener_new();
    char detail[MSG_DETAIL_MAX], *body = malloc(6000);
    struct json_object *o, *v;
    int status;
    size_t n;

    n = (size_t)snprintf(body, 6000, "{\"from\":\"x\",\"type\":\"sticker\",\"sticker_id\":");
    for (int i = 0; i < 5000; i++)
        body[n++] = (char)('1' + i % 9);
    memcpy(body + n, "}", 2);
    n++;
    o = body_parse(tok, body, n, false, &status, detail, sizeof detail);
    assert_int_equal(status, VCP_STATUS_OK);
    assert_int_equal(msg_validate(o, detail, sizeof detail), VCP_STATUS_BAD_DATA);
    assert_string_equal(detail, "sticker_id: 12345678912345678912345678912345... out of range "
                                "1..9007199254740992");
    json_object_put(o);

    /* negative, several of them, and one at the limit (exact, left alone) */
    snprintf(body, 6000,
             "{\"a\":[-99999999999999999999,18446744073709551615,5,"
             "{\"b\":123456789012345678901234567890}]}");
    o = body_parse(tok, body, strlen(body), false, &status, detail, sizeof detail);
    assert_int_equal(status, VCP_STATUS_OK);
    assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                        "{\"a\":[-99999999999999999999,18446744073709551615,5,"
                        "{\"b\":123456789012345678901234567890}]}");
    json_object_object_get_ex(o, "a", &v);
    assert_int_equal(json_object_get_int64(json_object_array_get_idx(v, 0)), INT64_MIN);
    json_object_put(o);

    /* a duplicate key drops one literal: nothing is tagged rather than wrongly */
    snprintf(body, 6000,
             "{\"a\":11111111111111111111111,\"a\":22222222222222222222222,"
             "\"b\":33333333333333333333333}");
    o = body_parse(tok, body, strlen(body), false, &status, detail, sizeof detail);
    assert_int_equal(status, VCP_STATUS_OK);
    assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                        "{\"a\":18446744073709551615,\"b\":18446744073709551615}");
    json_object_put(o);
    free(body);
    json_tokener_free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table),
        cmocka_unit_test(big_integers_keep_their_text),
        cmocka_unit_test(size_and_depth_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
