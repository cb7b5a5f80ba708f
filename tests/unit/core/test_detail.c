/*
 * detail_set (core/detail.h) writes the details' plain conversions itself
 * instead of calling vsnprintf (issue 11); its output must stay vsnprintf's
 * byte for byte, truncation and the terminating NUL included, for every
 * buffer size, and a format it does not take must still come out right.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/detail.h"

#define BUF 96

/* Truncating is what is tested here. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

/* Checks detail_set against vsnprintf at every size 0..BUF for one call;
 * the caller passes the same arguments twice. */
#define SAME(...)                                                                   \
    do {                                                                            \
        for (size_t len = 0; len <= BUF; len++) {                                   \
            char got[BUF + 1], want[BUF + 1];                                       \
            memset(got, 'x', sizeof got);                                           \
            memset(want, 'x', sizeof want);                                         \
            assert_int_equal(detail_set(len ? got : NULL, len, 7, __VA_ARGS__), 7); \
            if (len == 0)                                                           \
                continue;                                                           \
            snprintf(want, len, __VA_ARGS__);                                       \
            assert_memory_equal(got, want, sizeof got);                             \
        }                                                                           \
    } while (0)

static void test_plain_conversions(void **state)
{
    (void)state;
    SAME("text: required");
    SAME("%s", "");
    SAME("%s: must be %s", "location.lat", "a number");
    SAME("%s: %ld characters, max %ld", "contact.name", 31L, 28L);
    SAME("%s: %s out of range %" PRId64 "..%" PRId64, "location.lat", "91", (int64_t)-90,
         (int64_t)90);
    SAME("%" PRId64 "|%" PRId64 "|%" PRIu64, INT64_MIN, INT64_MAX, UINT64_MAX);
    SAME("%d %d %d %u %u", 0, INT_MIN, INT_MAX, 0u, UINT_MAX);
    SAME("%ld %lu %lld %llu %zu", LONG_MIN, ULONG_MAX, LLONG_MIN, ULLONG_MAX, (size_t)SIZE_MAX);
    SAME("type: unknown message type \"%s\" (one of %.*s)", "foo", 12, "text, picture, video");
    SAME("%.*s|%.*s|%.*s", 0, "abc", 5, "abc", -1, "abcdef");
    SAME("100%% %s %%", "sure");
    SAME("%s", "é ✓ 😀 — a detail that is longer than the buffer is, by a good many bytes....");
}

static void test_other_formats_fall_back(void **state)
{
    (void)state;
    SAME("%5s|%-4d|%x|%c", "ab", 7, 255u, 'z');
    SAME("%s %.2f", "lat", 1.25);
    SAME("%s: %s %04d", "a", "b", 12);
    SAME("%s %p", "ptr", (void *)0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_conversions),
        cmocka_unit_test(test_other_formats_fall_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
