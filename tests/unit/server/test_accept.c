/*
 * The acceptor's routing rule: which request lines go to the event streams'
 * daemon, which to the API's, and when it must wait for more bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "server/accept.h"

static int classify(const char *s)
{
    return acceptor_classify(s, strlen(s));
}

static void test_streams(void **state)
{
    assert_int_equal(classify("GET /api/v1/channels/pa:123/events HTTP/1.1\r\n"), 1);
    assert_int_equal(classify("GET /api/v1/channels/pa:123/events?last_event_id=5 HTTP/1.1"), 1);
    assert_int_equal(classify("GET /api/v1/channels/pa%3A1/events "), 1);
}

static void test_api(void **state)
{
    const char *api[] = {
        "POST /pa/post HTTP/1.1\r\n",
        "GET /api/v1/channels/pa:1/posts HTTP/1.1",
        "GET /api/v1/channels/pa:1/eventsx HTTP/1.1",
        "GET /api/v1/channels/pa:1/events/ HTTP/1.1",
        "GET /api/v1/channels//events HTTP/1.1",
        "GET /api/v1/channels/pa 1/events HTTP/1.1",
        "GET /api/v1/channels/pa?x/events HTTP/1.1",
        "HEAD /api/v1/channels/pa:1/events HTTP/1.1",
        "POST /api/v1/channels/pa:1/events HTTP/1.1",
        "get /api/v1/channels/pa:1/events HTTP/1.1",
        "\r\nGET /api/v1/channels/pa:1/events HTTP/1.1",
        "GET /healthz HTTP/1.1",
    };

    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++) {
        if (classify(api[i]) != 0)
            fail_msg("routed to the streams: %s", api[i]);
    }
}

static void test_undecided(void **state)
{
    const char *line = "GET /api/v1/channels/pa:123/events HTTP/1.1";
    size_t cut = strlen("GET /api/v1/channels/pa:123/events");

    /* every proper prefix of a stream's request line up to the path's end */
    for (size_t n = 0; n <= cut; n++)
        assert_int_equal(acceptor_classify(line, n), -1);
    assert_int_equal(acceptor_classify(line, cut + 1), 1);
    /* a prefix that already differs is decided at once */
    assert_int_equal(classify("POS"), 0);
    assert_int_equal(classify("GET /pa"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_undecided),
    };
    return cmocka_run_group_tests_name("acceptor routing", tests, NULL, NULL);
}
