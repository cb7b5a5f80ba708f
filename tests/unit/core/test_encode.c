/*
 * encode_json_chars() and encode_hex(): the one escaper and the one hex
 * encoder vcpd's answers, webhook bodies and signatures share.  Every byte
 * value is escaped and read back by json-c; the table pins the exact
 * spelling (webhook bodies are compared byte for byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/encode.h"

static const struct {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want;
} cases[] = {
    {"", 0, ""},
    {"plain", 0, "plain"},
    {"q\"b\\s/", 0, "q\\\"b\\\\s/"},
    {"\b\f\n\r\t", 0, "\\b\\f\\n\\r\\t"},
    {"\x01\x1f\x7f", 0, "\\u0001\\u001f\x7f"},
    {"a\0b", 3, "a\\u0000b"},
    {"caf\xc3\xa9 </script>", 0, "caf\xc3\xa9 </script>"},
};

static void spelled_exactly(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].len ? cases[i].len : strlen(cases[i].in);
        char out[64];
        size_t got = encode_json_chars(out, cases[i].in, n);

        assert_true(got <= ENCODE_JSON_MAX_PER_BYTE * n);
        out[got] = '\0';
        assert_string_equal(out, cases[i].want);
    }
}

static void every_byte_round_trips(void **state)
{
    char in[255], out[2 + ENCODE_JSON_MAX_PER_BYTE * sizeof in + 1];
    struct json_object *o;
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (char)(i + 1 < 0x80 ? i + 1 : 'x'); /* all of ASCII; json-c wants UTF-8 */
    out[0] = '"';
    n = 1 + encode_json_chars(out + 1, in, sizeof in);
    out[n++] = '"';
    out[n] = '\0';
    o = json_tokener_parse(out);
    assert_non_null(o);
    assert_int_equal(json_object_get_string_len(o), sizeof in);
    assert_memory_equal(json_object_get_string(o), in, sizeof in);
    json_object_put(o);
}

static void hex_is_lowercase_and_terminated(void **state)
{
    static const uint8_t b[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[2 * sizeof b + 2];

    (void)state;
    memset(out, '#', sizeof out);
    encode_hex(b, sizeof b, out);
    assert_string_equal(out, "000fa5ff");
    encode_hex(b, 0, out);
    assert_string_equal(out, "");
}

/* encode_dec: digits at the end of the buffer, the edges of the range */
static void decimal_at_the_end(void **state)
{
    static const struct {
        uint64_t v;
        const char *want;
    } decs[] = {
        {0, "0"},
        {9, "9"},
        {10, "10"},
        {UINT64_C(18446744073709551615), "18446744073709551615"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof decs / sizeof decs[0]; i++) {
        char out[ENCODE_DEC_MAX];
        char *p = encode_dec(out, decs[i].v);

        assert_int_equal((size_t)(out + sizeof out - p), strlen(decs[i].want));
        assert_memory_equal(p, decs[i].want, strlen(decs[i].want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spelled_exactly),
        cmocka_unit_test(every_byte_round_trips),
        cmocka_unit_test(hex_is_lowercase_and_terminated),
        cmocka_unit_test(decimal_at_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
