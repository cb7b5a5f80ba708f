/*
 * Unit tests for src/webhook/sign.c: HMAC-SHA256 known answers (RFC 4231)
 * and the exact bytes of the callback body, including JSON escaping of the
 * channel name (checked by re-parsing with json-c, an independent parser).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "webhook/webhook.h"

struct hmac_case {
    const char *key;
    const char *data;
    const char *hex;
};

static const struct hmac_case hmac_cases[] = {
    /* RFC 4231 test case 1: key = 20 bytes of 0x0b */
    {"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b", "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    /* RFC 4231 test case 2 */
    {"Jefe", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    /* empty key, empty message */
    {"", "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
};

static void test_hmac_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hmac_cases / sizeof hmac_cases[0]; i++) {
        char hex[65];
        memset(hex, 'X', sizeof hex);
        webhook_sign(hmac_cases[i].key, hmac_cases[i].data, strlen(hmac_cases[i].data), hex);
        assert_string_equal(hex, hmac_cases[i].hex);
    }
}

static void test_hmac_rfc4231_long_key(void **state)
{
    (void)state;
    /* RFC 4231 test case 6: 131-byte key of 0xaa (longer than the block). */
    char key[132];
    memset(key, 0xaa, 131);
    key[131] = '\0';
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    char hex[65];
    webhook_sign(key, data, strlen(data), hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_body_exact(void **state)
{
    (void)state;
    char buf[256];
    int n = webhook_body(buf, sizeof buf, 1457764197627ULL, "Channel name", 241256543215ULL);
    const char *want = "{\"event\":\"webhook\",\"timestamp\":1457764197627,"
                       "\"chat_hostname\":\"Channel name\",\"message_token\":241256543215}";
    assert_string_equal(buf, want);
    assert_int_equal(n, (int)strlen(want));
}

static void test_body_extremes(void **state)
{
    (void)state;
    char buf[256];
    int n = webhook_body(buf, sizeof buf, 0, "", UINT64_MAX);
    assert_string_equal(buf, "{\"event\":\"webhook\",\"timestamp\":0,\"chat_hostname\":\"\","
                             "\"message_token\":18446744073709551615}");
    assert_int_equal(n, (int)strlen(buf));
    n = webhook_body(buf, sizeof buf, 1, NULL, 2);
    assert_string_equal(buf, "{\"event\":\"webhook\",\"timestamp\":1,\"chat_hostname\":\"\","
                             "\"message_token\":2}");
}

struct escape_case {
    const char *in;
    const char *escaped;
};

static const struct escape_case escape_cases[] = {
    {"plain", "plain"},
    {"say \"hi\"", "say \\\"hi\\\""},
    {"back\\slash", "back\\\\slash"},
    {"a\nb\rc\td\be\ff", "a\\nb\\rc\\td\\be\\ff"},
    {"\x01\x1f\x7f", "\\u0001\\u001f\x7f"},
    {"caf\xc3\xa9 \xe2\x9c\x93 / </script>", "caf\xc3\xa9 \xe2\x9c\x93 / </script>"},
    {"\",\"event\":\"evil", "\\\",\\\"event\\\":\\\"evil"},
};

static void test_body_escaping(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof escape_cases / sizeof escape_cases[0]; i++) {
        const struct escape_case *c = &escape_cases[i];
        char buf[512], want[512];
        int n = webhook_body(buf, sizeof buf, 5, c->in, 6);
        snprintf(want, sizeof want,
                 "{\"event\":\"webhook\",\"timestamp\":5,\"chat_hostname\":\"%s\","
                 "\"message_token\":6}",
                 c->escaped);
        assert_string_equal(buf, want);
        assert_int_equal(n, (int)strlen(want));

        /* An independent parser reads back exactly the original name. */
        struct json_object *o = json_tokener_parse(buf);
        assert_non_null(o);
        assert_int_equal(json_object_object_length(o), 4);
        struct json_object *h = NULL;
        assert_true(json_object_object_get_ex(o, "chat_hostname", &h));
        assert_string_equal(json_object_get_string(h), c->in);
        struct json_object *ev = NULL;
        assert_true(json_object_object_get_ex(o, "event", &ev));
        assert_string_equal(json_object_get_string(ev), "webhook");
        json_object_put(o);
    }
}

static void test_body_buffer_bounds(void **state)
{
    (void)state;
    char buf[256];
    int n = webhook_body(buf, sizeof buf, 7, "a\"b", 8);
    assert_true(n > 0);
    size_t need = (size_t)n + 1; /* the NUL */
    char exact[256];
    assert_int_equal(webhook_body(exact, need, 7, "a\"b", 8), n);
    assert_string_equal(exact, buf);
    assert_int_equal(webhook_body(exact, need - 1, 7, "a\"b", 8), -1);
    assert_int_equal(webhook_body(exact, 10, 7, "a\"b", 8), -1);
    assert_int_equal(webhook_body(exact, 0, 7, "a\"b", 8), -1);
    /* Cut in the middle of an escape: never a half escape, always -1. */
    for (size_t len = 1; len < need; len++)
        assert_int_equal(webhook_body(exact, len, 7, "a\"b", 8), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_vectors),  cmocka_unit_test(test_hmac_rfc4231_long_key),
        cmocka_unit_test(test_body_exact),    cmocka_unit_test(test_body_extremes),
        cmocka_unit_test(test_body_escaping), cmocka_unit_test(test_body_buffer_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
