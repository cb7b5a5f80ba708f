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
    {"{\"a\":\"\xff\"}", false, VCP_STATUS_BAD_DATA, "body: invalid JSON (*"},
    {"{\"a\":\"\xc3\xa9\"}", false, VCP_STATUS_OK, ""},
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table),
        cmocka_unit_test(size_and_depth_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
