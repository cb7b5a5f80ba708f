/* Tokens and ids: shape, randomness (no repeats), hashing, comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/encode.h"
#include "server/auth.h"

static void token_shape_and_uniqueness(void **state)
{
    char a[AUTH_TOKEN_LEN + 1], b[AUTH_TOKEN_LEN + 1];

    assert_int_equal(auth_token_new(a), 0);
    assert_int_equal(auth_token_new(b), 0);
    assert_int_equal(strlen(a), AUTH_TOKEN_LEN);
    assert_int_equal(a[16], '-');
    assert_int_equal(a[33], '-');
    for (int i = 0; i < AUTH_TOKEN_LEN; i++)
        if (i != 16 && i != 33)
            assert_non_null(strchr("0123456789abcdef", a[i]));
    assert_string_not_equal(a, b);
}

static void hash_is_sha256(void **state)
{
    uint8_t h[STORE_HASH_LEN];
    char hex[2 * STORE_HASH_LEN + 1];

    auth_token_hash("abc", 3, h);
    encode_hex(h, sizeof h, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void hasher_matches_one_shot(void **state)
{
    struct auth_hasher *h = auth_hasher_new();
    uint8_t a[STORE_HASH_LEN], b[STORE_HASH_LEN];
    char tok[AUTH_TOKEN_LEN + 1];

    assert_non_null(h);
    for (int i = 0; i < 50; i++) { /* the context is reused: no state leaks between calls */
        assert_int_equal(auth_token_new(tok), 0);
        size_t n = (size_t)i % sizeof tok;
        auth_token_hash(tok, n, a);
        auth_hasher_token(h, tok, n, b);
        assert_memory_equal(a, b, sizeof a);
    }
    auth_hasher_free(h);
    auth_hasher_free(NULL);
}

static void comparisons(void **state)
{
    assert_true(auth_str_equal("secret-admin-key-1", "secret-admin-key-1"));
    assert_false(auth_str_equal("secret-admin-key-1", "secret-admin-key-2"));
    assert_false(auth_str_equal("secret-admin-key-1", "secret-admin-key-1x"));
    assert_false(auth_str_equal("", "x"));
    assert_true(auth_equal("abcd", "abcd", 4));
    assert_false(auth_equal("abcd", "abce", 4));
}

static void ids(void **state)
{
    char pa[32], m1[65], m2[65];

    assert_int_equal(auth_pa_id_new(pa), 0);
    assert_int_equal(strlen(pa), 23);
    assert_memory_equal(pa, "pa:", 3);
    assert_true(pa[3] >= '1' && pa[3] <= '9');
    for (int i = 4; i < 23; i++)
        assert_true(pa[i] >= '0' && pa[i] <= '9');
    assert_int_equal(auth_member_id_new(m1), 0);
    assert_int_equal(auth_member_id_new(m2), 0);
    assert_int_equal(strlen(m1), 24);
    assert_string_not_equal(m1, m2);
    /* URL-safe: member ids appear in admin API paths */
    assert_null(strpbrk(m1, "+/"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_shape_and_uniqueness),
        cmocka_unit_test(hash_is_sha256),
        cmocka_unit_test(hasher_matches_one_shot),
        cmocka_unit_test(comparisons),
        cmocka_unit_test(ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
