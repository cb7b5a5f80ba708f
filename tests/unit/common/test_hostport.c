/* hostport_parse(): the one --listen grammar of vcpd and vcp, as data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grammar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
