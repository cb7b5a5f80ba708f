/*
 * tokgen: exact bit layout, strict monotonicity (hence uniqueness) under a
 * frozen clock, a clock stepping backwards and a clock before the epoch,
 * node separation, and the decoded timestamp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/tokgen.h"

#define NOW (TOKGEN_EPOCH_MS + 170000000000ULL) /* some day in 2025 */

static unsigned node_of(uint64_t id)
{
    return (unsigned)((id >> 12) & 0x3ff);
}

static void test_init(void **state)
{
    struct tokgen g;
    assert_int_equal(tokgen_init(&g, 0), 0);
    assert_int_equal(tokgen_init(&g, TOKGEN_NODE_MAX), 0);
    assert_int_equal(tokgen_init(&g, TOKGEN_NODE_MAX + 1), -1);
    assert_int_equal(tokgen_init(&g, 1u << 20), -1);
    assert_int_equal(tokgen_init(NULL, 1), -1);
}

static void test_layout(void **state)
{
    struct tokgen g;
    assert_int_equal(tokgen_init(&g, 5), 0);
    uint64_t id = tokgen_next(&g, TOKGEN_EPOCH_MS + 1000);
    assert_int_equal(id, (1000ULL << 22) | (5ULL << 12) | 0);
    assert_int_equal(tokgen_next(&g, TOKGEN_EPOCH_MS + 1000), (1000ULL << 22) | (5ULL << 12) | 1);
    assert_int_equal(tokgen_next(&g, TOKGEN_EPOCH_MS + 1001), (1001ULL << 22) | (5ULL << 12) | 0);
    assert_int_equal(tokgen_time_ms(id), TOKGEN_EPOCH_MS + 1000);
    assert_int_equal(node_of(id), 5);
}

static void test_same_ms_100k(void **state)
{
    struct tokgen g;
    assert_int_equal(tokgen_init(&g, 1023), 0);
    uint64_t prev = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t id = tokgen_next(&g, NOW);
        assert_true(id > prev); /* strictly increasing: no duplicates */
        assert_true(id <= INT64_MAX);
        assert_int_equal(node_of(id), 1023);
        /* 4096 per millisecond, then the next one is borrowed */
        assert_int_equal(tokgen_time_ms(id), NOW + (uint64_t)(i / 4096));
        assert_int_equal(id & 0xfff, (uint64_t)(i % 4096));
        prev = id;
    }
    /* When the real clock passes the borrowed time, ids follow it again. */
    uint64_t later = NOW + 100000 / 4096 + 1;
    uint64_t id = tokgen_next(&g, later);
    assert_true(id > prev);
    assert_int_equal(tokgen_time_ms(id), later);
    assert_int_equal(id & 0xfff, 0);
}

static void test_clock_back(void **state)
{
    struct tokgen g;
    assert_int_equal(tokgen_init(&g, 7), 0);
    uint64_t a = tokgen_next(&g, NOW);
    uint64_t b = tokgen_next(&g, NOW - 5000); /* NTP stepped back 5 s */
    uint64_t c = tokgen_next(&g, NOW - 4000);
    uint64_t d = tokgen_next(&g, NOW);
    uint64_t e = tokgen_next(&g, NOW + 1);
    assert_true(a < b && b < c && c < d && d < e);
    assert_int_equal(tokgen_time_ms(b), NOW); /* held at the last ms */
    assert_int_equal(tokgen_time_ms(e), NOW + 1);

    /* A long stretch backwards, past a full millisecond of sequence. */
    uint64_t prev = e;
    for (int i = 0; i < 10000; i++) {
        uint64_t id = tokgen_next(&g, NOW - (uint64_t)i);
        assert_true(id > prev);
        prev = id;
    }
}

static void test_before_epoch(void **state)
{
    /* A clock at or before 2020 (unset RTC): ids stay non-zero and increase. */
    struct tokgen g;
    assert_int_equal(tokgen_init(&g, 0), 0);
    uint64_t prev = 0;
    for (int i = 0; i < 5000; i++) {
        uint64_t id = tokgen_next(&g, (uint64_t)i % 3 ? 0 : TOKGEN_EPOCH_MS);
        assert_true(id != 0);
        assert_true(id > prev);
        prev = id;
    }
}

static void test_nodes_differ(void **state)
{
    struct tokgen a, b;
    assert_int_equal(tokgen_init(&a, 1), 0);
    assert_int_equal(tokgen_init(&b, 2), 0);
    for (int i = 0; i < 5000; i++) {
        uint64_t x = tokgen_next(&a, NOW), y = tokgen_next(&b, NOW);
        assert_true(x != y);
        assert_int_equal(node_of(x), 1);
        assert_int_equal(node_of(y), 2);
        assert_int_equal(x & ~(0x3ffULL << 12), y & ~(0x3ffULL << 12));
    }
}

static void test_far_future_positive(void **state)
{
    struct tokgen g;
    assert_int_equal(tokgen_init(&g, TOKGEN_NODE_MAX), 0);
    uint64_t last = TOKGEN_EPOCH_MS + (1ULL << 41) - 1; /* 2089-09-06 */
    uint64_t id = tokgen_next(&g, last);
    assert_true(id <= INT64_MAX);
    assert_int_equal(tokgen_time_ms(id), last);
}

/* After a restart with the clock behind, ids go on above the last one stored. */
static void test_resume(void **state)
{
    struct tokgen g, h;
    assert_int_equal(tokgen_init(&g, 9), 0);
    uint64_t last = 0;
    for (int i = 0; i < 5000; i++)
        last = tokgen_next(&g, NOW);
    assert_int_equal(tokgen_init(&h, 9), 0);
    assert_int_equal(tokgen_resume(&h, last), 0);
    uint64_t prev = last;
    for (int i = 0; i < 5000; i++) {
        uint64_t id = tokgen_next(&h, NOW - 3600000); /* an hour behind */
        assert_true(id > prev);
        assert_int_equal(node_of(id), 9);
        prev = id;
    }
    /* an older id does not move it back; none, or another node's, is refused */
    assert_int_equal(tokgen_resume(&h, last), 0);
    assert_true(tokgen_next(&h, NOW - 3600000) > prev);
    assert_int_equal(tokgen_resume(&h, 0), -1);
    assert_int_equal(tokgen_init(&g, 8), 0);
    assert_int_equal(tokgen_resume(&g, last), -1);
}

/* tokgen_raise: the smallest id of the node above a floor of any node and above everything
 * made, which is then taken; tokgen_above the same by arithmetic alone. */
static void test_raise(void **state)
{
    struct tokgen g;
    uint64_t made, other, r;

    (void)state;
    assert_int_equal(tokgen_init(&g, 5), 0);
    made = tokgen_next(&g, NOW);
    /* a floor of a higher node in the same ms: the next ms, seq 0 */
    other = (((NOW - TOKGEN_EPOCH_MS) << 22) | (9ULL << 12) | 7);
    r = tokgen_raise(&g, other);
    assert_true(r > other);
    assert_int_equal(r, (((NOW - TOKGEN_EPOCH_MS + 1) << 22) | (5ULL << 12)));
    assert_int_equal(tokgen_above(other, 5), r);
    assert_true(tokgen_next(&g, NOW) > r); /* never given again, nor below */
    /* a floor of a lower node: same ms, seq 0 -- unless already made: then above all made */
    other = (((NOW - TOKGEN_EPOCH_MS + 50) << 22) | (1ULL << 12) | 3);
    assert_int_equal(tokgen_above(other, 5), ((NOW - TOKGEN_EPOCH_MS + 50) << 22) | (5ULL << 12));
    r = tokgen_raise(&g, other);
    assert_int_equal(r, ((NOW - TOKGEN_EPOCH_MS + 50) << 22) | (5ULL << 12));
    made = tokgen_next(&g, NOW + 50);
    assert_int_equal(made, r + 1);
    assert_int_equal(tokgen_raise(&g, other), made + 1); /* floor below what was made */
    /* a floor of its own node: the next id */
    assert_int_equal(tokgen_above(made, 5), made + 1);
    assert_int_equal(node_of(tokgen_above(made | 0xfff, 5)), 5);
    assert_int_equal(tokgen_above(made | 0xfff, 5), ((made >> 22) + 1) << 22 | (5ULL << 12));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_same_ms_100k),
        cmocka_unit_test(test_clock_back),
        cmocka_unit_test(test_before_epoch),
        cmocka_unit_test(test_nodes_differ),
        cmocka_unit_test(test_far_future_positive),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_raise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
