/* The answer writer: escaping must give JSON that json-c reads back exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "server/strbuf.h"

/* strbuf_kv_uint writes its digits by hand: the edges of the range */
static void uint_digits(void **state)
{
    static const struct {
        uint64_t v;
        const char *want;
    } cases[] = {
        {0, "{\"n\":0}"},
        {9, "{\"n\":9}"},
        {10, "{\"n\":10}"},
        {UINT64_C(915628237462175744), "{\"n\":915628237462175744}"},
        {UINT64_MAX, "{\"n\":18446744073709551615}"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct strbuf w;

        strbuf_init(&w);
        strbuf_open(&w);
        strbuf_kv_uint(&w, "n", cases[i].v);
        strbuf_lit(&w, "}");
        assert_string_equal(w.buf, cases[i].want);
        strbuf_free(&w);
    }
}

static void escapes_round_trip(void **state)
{
    static const char nasty[] = "q\"b\\s/\n\r\t\x01\x1f\x7f é \xf0\x9f\x98\x80 </script>";
    struct strbuf w;
    struct json_object *o, *v;

    strbuf_init(&w);
    strbuf_open(&w);
    strbuf_kv_str(&w, "s", nasty);
    strbuf_kv_int(&w, "neg", INT64_MIN);
    strbuf_kv_uint(&w, "big", UINT64_C(9223372036854775807));
    strbuf_lit(&w, "}");
    assert_non_null(strstr(w.buf, ",\"big\":9223372036854775807}"));
    o = json_tokener_parse(w.buf);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "s", &v));
    assert_string_equal(json_object_get_string(v), nasty);
    assert_true(json_object_object_get_ex(o, "neg", &v));
    assert_true(json_object_get_int64(v) == INT64_MIN);
    assert_true(json_object_object_get_ex(o, "big", &v));
    assert_true(json_object_get_int64(v) == INT64_MAX);
    json_object_put(o);
    strbuf_free(&w);
}

static void grows_past_inline_buffer(void **state)
{
    char big[5000];
    struct strbuf w;
    struct json_object *o;

    memset(big, '"', sizeof big - 1); /* every byte needs escaping */
    big[sizeof big - 1] = '\0';
    strbuf_init(&w);
    strbuf_lit(&w, "[");
    strbuf_str(&w, big, strlen(big));
    strbuf_lit(&w, "]");
    assert_int_equal(w.len, 2 + 2 + 2 * (sizeof big - 1));
    o = json_tokener_parse(w.buf);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(o, 0)), big);
    json_object_put(o);
    strbuf_free(&w);
}

static void commas_between_keys(void **state)
{
    struct strbuf w;

    strbuf_init(&w);
    strbuf_open(&w);
    strbuf_kv_int(&w, "a", 1);
    strbuf_kv_str(&w, "b", "x");
    strbuf_lit(&w, "}");
    assert_string_equal(w.buf, "{\"a\":1,\"b\":\"x\"}");
    strbuf_free(&w);
}

/* The comma follows from what was written, not from the buffer's last byte:
 * none after strbuf_open (nested too), one after a value or raw text. */
static void commas_follow_the_writes(void **state)
{
    struct strbuf w;

    (void)state;
    strbuf_init(&w);
    strbuf_open(&w);
    strbuf_kv_str(&w, "s", "{[");
    strbuf_lit(&w, ",\"o\":");
    strbuf_open(&w);
    strbuf_kv_uint(&w, "n", 1);
    strbuf_lit(&w, "}");
    strbuf_kv_int(&w, "m", -2);
    strbuf_lit(&w, ",\"raw\":[1]");
    strbuf_kv_str(&w, "t", "");
    strbuf_lit(&w, "}");
    assert_string_equal(w.buf, "{\"s\":\"{[\",\"o\":{\"n\":1},\"m\":-2,\"raw\":[1],\"t\":\"\"}");
    strbuf_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uint_digits),
        cmocka_unit_test(escapes_round_trip),
        cmocka_unit_test(grows_past_inline_buffer),
        cmocka_unit_test(commas_between_keys),
        cmocka_unit_test(commas_follow_the_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
