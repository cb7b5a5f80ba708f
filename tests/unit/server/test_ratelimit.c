/* Token buckets: burst up to the allowance, refill at count/window, per channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/ratelimit.h"

#define SEC 1000000ULL

static void burst_then_refuse(void **state)
{
    struct ratelimit *rl = ratelimit_new();
    uint64_t t = 5 * SEC;

    for (int i = 0; i < 500; i++)
        assert_true(ratelimit_take(rl, 1, 0, 500, 10, t));
    assert_false(ratelimit_take(rl, 1, 0, 500, 10, t));
    /* 10 s / 500 = 20 ms per token */
    assert_false(ratelimit_take(rl, 1, 0, 500, 10, t + 19999));
    assert_true(ratelimit_take(rl, 1, 0, 500, 10, t + 20000));
    assert_false(ratelimit_take(rl, 1, 0, 500, 10, t + 20001));
    ratelimit_free(rl);
}

static void refill_caps_at_count(void **state)
{
    struct ratelimit *rl = ratelimit_new();

    assert_true(ratelimit_take(rl, 7, 0, 3, 1, 0));
    /* an hour idle refills to 3, not to 10800 */
    for (int i = 0; i < 3; i++)
        assert_true(ratelimit_take(rl, 7, 0, 3, 1, 3600 * SEC));
    assert_false(ratelimit_take(rl, 7, 0, 3, 1, 3600 * SEC));
    ratelimit_free(rl);
}

static void channels_are_independent(void **state)
{
    struct ratelimit *rl = ratelimit_new();

    /* many channels force the table to grow; each keeps its own bucket */
    for (int64_t ch = 1; ch <= 1000; ch++)
        assert_true(ratelimit_take(rl, ch, 0, 1, 60, 0));
    for (int64_t ch = 1; ch <= 1000; ch++)
        assert_false(ratelimit_take(rl, ch, 0, 1, 60, 1));
    assert_true(ratelimit_take(rl, 1001, 0, 1, 60, 1));
    ratelimit_free(rl);
}

static void zero_means_unlimited(void **state)
{
    struct ratelimit *rl = ratelimit_new();

    for (int i = 0; i < 100000; i++)
        assert_true(ratelimit_take(rl, 3, 0, 0, 10, 0));
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

static void clock_going_back_does_not_refill(void **state)
{
    struct ratelimit *rl = ratelimit_new();

    assert_true(ratelimit_take(rl, 9, 0, 1, 10, 100 * SEC));
    assert_false(ratelimit_take(rl, 9, 0, 1, 10, 50 * SEC));
    assert_false(ratelimit_take(rl, 9, 0, 1, 10, 100 * SEC));
    assert_true(ratelimit_take(rl, 9, 0, 1, 10, 110 * SEC));
    ratelimit_free(rl);
}

/* A reset channel (new epoch) starts with a full bucket; the old epoch's
 * emptiness does not carry over. */
static void new_epoch_starts_full(void **state)
{
    struct ratelimit *rl = ratelimit_new();

    assert_true(ratelimit_take(rl, 4, 111, 2, 60, 0));
    assert_true(ratelimit_take(rl, 4, 111, 2, 60, 1));
    assert_false(ratelimit_take(rl, 4, 111, 2, 60, 2));
    assert_true(ratelimit_take(rl, 4, 222, 2, 60, 3));
    assert_true(ratelimit_take(rl, 4, 222, 2, 60, 4));
    assert_false(ratelimit_take(rl, 4, 222, 2, 60, 5));
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_refuse),
        cmocka_unit_test(refill_caps_at_count),
        cmocka_unit_test(channels_are_independent),
        cmocka_unit_test(zero_means_unlimited),
        cmocka_unit_test(new_epoch_starts_full),
        cmocka_unit_test(clock_going_back_does_not_refill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
