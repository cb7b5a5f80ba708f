/*
 * vcp_status_name(): every code of the wire table has its seed spelling, and
 * codes outside the table read as "generalError" (the seed's "other" row).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "vcp/status.h"

static void test_names(void **state)
{
    /* Written out, not generated from the table: the table is under test. */
    static const struct {
        int code;
        const char *name;
    } want[] = {
        {0, "ok"},
        {1, "invalidUrl"},
        {2, "invalidAuthToken"},
        {3, "badData"},
        {4, "missingData"},
        {7, "publicAccountBlocked"},
        {8, "publicAccountNotFound"},
        {9, "publicAccountSuspended"},
        {10, "webhookNotSet"},
        {12, "tooManyRequests"},
        {99, "generalError"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(vcp_status_name(want[i].code), want[i].name);
}

static void test_enum_values(void **state)
{
    assert_int_equal(VCP_STATUS_OK, 0);
    assert_int_equal(VCP_STATUS_BAD_DATA, 3);
    assert_int_equal(VCP_STATUS_MISSING_DATA, 4);
    assert_int_equal(VCP_STATUS_TOO_MANY_REQUESTS, 12);
    assert_int_equal(VCP_STATUS_GENERAL_ERROR, 99);
}

static void test_unknown_codes(void **state)
{
    static const int other[] = {-1, 5, 6, 11, 13, 98, 100, 1 << 30};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        assert_string_equal(vcp_status_name(other[i]), "generalError");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_enum_values),
        cmocka_unit_test(test_unknown_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
