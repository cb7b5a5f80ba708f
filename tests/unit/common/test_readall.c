/*
 * readall_stream() / readall_path(): the one whole-file reader of vcpd,
 * libvcp and vcp.  Sizes around its growth steps and its bound, the
 * terminating NUL, and the errno of each failure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/readall.h"

/* A temporary stream holding n bytes of a repeating pattern. */
static FILE *stream_of(size_t n)
{
    FILE *f = tmpfile();

    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc('a' + (int)(i % 26), f);
    rewind(f);
    return f;
}

static void sizes_round_trip(void **state)
{
    static const size_t sizes[] = {0, 1, 4095, 61440, 65536, 65537, 200000};

    (void)state;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        FILE *f = stream_of(sizes[i]);
        size_t len = 1;
        char *buf = readall_stream(f, SIZE_MAX, &len);

        assert_non_null(buf);
        assert_int_equal(len, sizes[i]);
        assert_int_equal(buf[len], '\0');
        for (size_t k = 0; k < len; k++)
            if (buf[k] != 'a' + (int)(k % 26))
                fail_msg("byte %zu of %zu", k, len);
        free(buf);
        fclose(f);
    }
}

static void bound_is_inclusive(void **state)
{
    FILE *f = stream_of(100000);
    size_t len = 7;
    char *buf;

    (void)state;
    buf = readall_stream(f, 100000, &len);
    assert_non_null(buf);
    assert_int_equal(len, 100000);
    free(buf);
    rewind(f);
    errno = 0;
    assert_null(readall_stream(f, 99999, &len));
    assert_int_equal(errno, EFBIG);
    assert_int_equal(len, 0);
    fclose(f);
}

static void path_errors_keep_errno(void **state)
{
    size_t len = 3;

    (void)state;
    errno = 0;
    assert_null(readall_path("/nonexistent/vcp-readall-test", 10, &len));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_round_trip),
        cmocka_unit_test(bound_is_inclusive),
        cmocka_unit_test(path_errors_keep_errno),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
