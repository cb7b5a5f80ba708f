/* hostport_parse(): the one --listen grammar of vcpd and vcp, as data;
 * hostport_sockaddr(): the address vcpd and vcp webhook serve bind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "common/hostport.h"

static const struct {
    const char *in;
    const char *host; /* NULL: refused */
    int port;
} cases[] = {
    {"127.0.0.1:8080", "127.0.0.1", 8080},
    {"0.0.0.0:0", "0.0.0.0", 0},
    {"localhost:65535", "localhost", 65535},
    {"[::1]:443", "::1", 443},
    {"[fe80::1%eth0]:1", "fe80::1%eth0", 1},
    {"::1:80", "::1", 80}, /* the last colon splits */
    {"127.0.0.1:65536", NULL, 0},
    {"127.0.0.1:", NULL, 0},
    {"127.0.0.1:-1", NULL, 0},
    {"127.0.0.1:+1", NULL, 0},
    {"127.0.0.1: 1", NULL, 0},
    {"127.0.0.1:1x", NULL, 0},
    {":8080", NULL, 0},
    {"8080", NULL, 0},
    {"[::1]8080", NULL, 0},
    {"[::1", NULL, 0},
    {"[]:80", NULL, 0},
    {"", NULL, 0},
    {"a-host-name-much-longer-than-the-buffer-of-32-bytes:80", NULL, 0},
};

static void grammar(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char host[32] = "untouched";
        int port = -7;
        int rc = hostport_parse(cases[i].in, host, sizeof host, &port);

        if (cases[i].host == NULL) {
            if (rc != -1)
                fail_msg("'%s' accepted", cases[i].in);
            assert_int_equal(port, -7);
        } else {
            if (rc != 0)
                fail_msg("'%s' refused", cases[i].in);
            assert_string_equal(host, cases[i].host);
            assert_int_equal(port, cases[i].port);
        }
    }
}

static void sockaddrs(void **state)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    socklen_t len = 0;
    char text[INET6_ADDRSTRLEN];
    static const char *const refused[] = {"localhost", "",    "127.0.0.1:80", "[::1]",
                                          "1.2.3",     "::g", "256.0.0.1"};

    (void)state;
    assert_int_equal(hostport_sockaddr("127.0.0.1", 8080, &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(s4->sin_port), 8080);
    assert_non_null(inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text));
    assert_string_equal(text, "127.0.0.1");

    assert_int_equal(hostport_sockaddr("::1", 65535, &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(ntohs(s6->sin6_port), 65535);
    assert_non_null(inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text));
    assert_string_equal(text, "::1");

    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (hostport_sockaddr(refused[i], 80, &ss, &len) != -1)
            fail_msg("'%s' accepted", refused[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grammar),
        cmocka_unit_test(sockaddrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
