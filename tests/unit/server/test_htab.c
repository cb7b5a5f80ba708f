/* The caches' hash table: lookups by probe walk, growth, clearing, colliding hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "server/htab.h"

struct item {
    uint64_t key;
    int dropped;
};

static struct item *find(const struct htab *t, uint64_t h, uint64_t key)
{
    for (struct htab_slot *s = htab_first(t, h); s->item; s = htab_next(t, s))
        if (s->hash == h && ((struct item *)s->item)->key == key)
            return s->item;
    return NULL;
}

static void count_drop(void *item)
{
    ((struct item *)item)->dropped++;
}

static void grows_and_finds_all(void **state)
{
    enum { N = 5000 };
    struct item *v = calloc(N, sizeof *v);
    struct htab t;

    (void)state;
    htab_init(&t);
    for (uint64_t i = 0; i < N; i++) {
        v[i].key = i;
        assert_null(find(&t, i * 0x9E3779B97F4A7C15ULL, i));
        htab_add(&t, i * 0x9E3779B97F4A7C15ULL, &v[i]);
    }
    assert_int_equal(t.used, N);
    assert_true((t.mask + 1) >= 2 * N); /* never more than half full */
    for (uint64_t i = 0; i < N; i++)
        assert_ptr_equal(find(&t, i * 0x9E3779B97F4A7C15ULL, i), &v[i]);
    assert_null(find(&t, (uint64_t)N * 0x9E3779B97F4A7C15ULL, N));
    htab_fini(&t, count_drop);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(v[i].dropped, 1);
    free(v);
}

static void same_hash_different_keys(void **state)
{
    struct item v[100];
    struct htab t;

    (void)state;
    htab_init(&t);
    for (uint64_t i = 0; i < 100; i++) {
        v[i].key = i;
        htab_add(&t, 42, &v[i]); /* every item in one probe sequence, across growth */
    }
    for (uint64_t i = 0; i < 100; i++)
        assert_ptr_equal(find(&t, 42, i), &v[i]);
    assert_null(find(&t, 42, 100));
    assert_null(find(&t, 43, 0));
    htab_fini(&t, NULL);
}

static void clear_drops_each_once_and_stays_usable(void **state)
{
    struct item v[10] = {{0}};
    struct htab t;
    size_t slots;

    (void)state;
    htab_init(&t);
    for (uint64_t i = 0; i < 10; i++) {
        v[i].key = i;
        htab_add(&t, i, &v[i]);
    }
    slots = t.mask + 1;
    htab_clear(&t, count_drop);
    assert_int_equal(t.used, 0);
    assert_int_equal(t.mask + 1, slots);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(v[i].dropped, 1);
        assert_null(find(&t, i, i));
    }
    htab_add(&t, 3, &v[3]);
    assert_ptr_equal(find(&t, 3, 3), &v[3]);
    htab_fini(&t, count_drop);
    assert_int_equal(v[3].dropped, 2);
    htab_fini(&t, count_drop); /* a second fini is a no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grows_and_finds_all),
        cmocka_unit_test(same_hash_different_keys),
        cmocka_unit_test(clear_drops_each_once_and_stays_usable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
