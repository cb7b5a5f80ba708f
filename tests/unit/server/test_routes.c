/* The route table: exact paths, the admin prefix, 404 versus 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/server.h"
#include "server/routes.h"
#include "server/admin_http.h"
#include "server/api.h"

static void finds_api_routes(void **state)
{
    bool known;
    const struct route *r;

    r = route_find("POST", "/pa/post", &known);
    assert_non_null(r);
    assert_ptr_equal(r->fn, api_post);
    assert_ptr_equal(route_find("POST", "/pa/set_webhook", &known)->fn, api_set_webhook);
    assert_ptr_equal(route_find("GET", "/pa/get_account_info", &known)->fn, api_get_account_info);
    assert_ptr_equal(route_find("POST", "/pa/get_account_info", &known)->fn, api_get_account_info);
    assert_ptr_equal(route_find("DELETE", "/admin/v1/channels/pa:1/members/x", &known)->fn,
                     admin_http);
}

static void wrong_method_is_405_unknown_path_404(void **state)
{
    bool known;

    assert_null(route_find("GET", "/pa/post", &known));
    assert_true(known);
    assert_null(route_find("PUT", "/pa/set_webhook", &known));
    assert_true(known);
    assert_null(route_find("POST", "/pa/posts", &known));
    assert_false(known);
    assert_null(route_find("POST", "/pa/post/", &known));
    assert_false(known);
    assert_null(route_find("GET", "/admin/v2/channels", &known));
    assert_false(known);
    assert_null(route_find("OPTIONS", "/admin/v1/channels", &known));
    assert_true(known);
    /* PATCH edits a channel's details (admin_http.c) */
    assert_non_null(route_find("PATCH", "/admin/v1/channels/pa:1", &known));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_api_routes),
        cmocka_unit_test(wrong_method_is_405_unknown_path_404),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
