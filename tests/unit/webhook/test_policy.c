/*
 * Unit tests for src/webhook/policy.c: the SSRF address table and the URL
 * policy of set_webhook.  Addresses are plain sockaddr values made with
 * inet_pton -- no traffic.  Cases are data: add a row, not code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "vcp/status.h"
#include "webhook/webhook.h"

/* An address and whether the default policy (allow_private=false) allows it. */
struct addr_case {
    const char *addr;
    bool allowed;
};

static const struct addr_case addr_cases[] = {
    /* 0.0.0.0/8 */
    {"0.0.0.0", false},
    {"0.255.255.255", false},
    {"1.0.0.0", true},
    /* 10/8 */
    {"9.255.255.255", true},
    {"10.0.0.0", false},
    {"10.255.255.255", false},
    {"11.0.0.0", true},
    /* 100.64/10 */
    {"100.63.255.255", true},
    {"100.64.0.0", false},
    {"100.127.255.255", false},
    {"100.128.0.0", true},
    /* 127/8 */
    {"126.255.255.255", true},
    {"127.0.0.1", false},
    {"127.255.255.255", false},
    {"128.0.0.0", true},
    /* 169.254/16 */
    {"169.253.255.255", true},
    {"169.254.0.0", false},
    {"169.254.169.254", false},
    {"169.254.255.255", false},
    {"169.255.0.0", true},
    /* 172.16/12 */
    {"172.15.255.255", true},
    {"172.16.0.0", false},
    {"172.31.255.255", false},
    {"172.32.0.0", true},
    /* 192.0.0/24 */
    {"191.255.255.255", true},
    {"192.0.0.0", false},
    {"192.0.0.255", false},
    {"192.0.1.0", true},
    /* 192.168/16 */
    {"192.167.255.255", true},
    {"192.168.0.0", false},
    {"192.168.255.255", false},
    {"192.169.0.0", true},
    /* 198.18/15 */
    {"198.17.255.255", true},
    {"198.18.0.0", false},
    {"198.19.255.255", false},
    {"198.20.0.0", true},
    /* 224/4 multicast, 240/4 reserved + broadcast */
    {"223.255.255.255", true},
    {"224.0.0.0", false},
    {"239.255.255.255", false},
    {"240.0.0.0", false},
    {"255.255.255.255", false},
    /* public */
    {"8.8.8.8", true},
    {"1.1.1.1", true},
    {"93.184.216.34", true},

    /* IPv6 */
    {"::", false},
    {"::1", false},
    {"::2", false}, /* IPv4-compatible 0.0.0.2 */
    {"fc00::1", false},
    {"fd12::1", false},
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
    {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
    {"fe80::1", false},
    {"febf:ffff::1", false},
    {"fec0::1", false},
    {"ff02::1", false},
    {"ff00::", false},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
    /* IPv4-mapped ::ffff:0:0/96 */
    {"::ffff:127.0.0.1", false},
    {"::ffff:10.0.0.1", false},
    {"::ffff:169.254.169.254", false},
    {"::ffff:0.0.0.0", false},
    {"::ffff:8.8.8.8", true},
    /* IPv4-compatible ::/96 */
    {"::127.0.0.1", false},
    {"::192.168.1.1", false},
    {"::8.8.8.8", true},
    /* NAT64 64:ff9b::/96 */
    {"64:ff9b::7f00:1", false},
    {"64:ff9b::a00:1", false},
    {"64:ff9b::808:808", true},
    {"64:ff9b:1::a00:1", true}, /* outside the /96 */
    /* 6to4 2002::/16 */
    {"2002:7f00:1::1", false},
    {"2002:c0a8:101::1", false},
    {"2002:a9fe:a9fe::1", false},
    {"2002:808:808::1", true},
    /* public */
    {"2001:4860:4860::8888", true},
    {"2606:4700:4700::1111", true},
    {"2a00:1450:4001:82a::200e", true},
};

/* Fills ss from text; returns the family. */
static int make_addr(const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(443);
        return AF_INET;
    }
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(443);
        return AF_INET6;
    }
    fail_msg("bad test address %s", text);
    return -1;
}

static void test_addr_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++) {
        struct sockaddr_storage ss;
        make_addr(addr_cases[i].addr, &ss);
        bool got = webhook_addr_allowed((const struct sockaddr *)&ss, false);
        if (got != addr_cases[i].allowed)
            fail_msg("%s: allowed=%d, want %d", addr_cases[i].addr, got, addr_cases[i].allowed);
    }
}

static void test_addr_allow_private_flips(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++) {
        struct sockaddr_storage ss;
        make_addr(addr_cases[i].addr, &ss);
        if (!webhook_addr_allowed((const struct sockaddr *)&ss, true))
            fail_msg("%s refused with allow_private", addr_cases[i].addr);
    }
}

static void test_addr_not_ip(void **state)
{
    (void)state;
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof un.sun_path, "/tmp/x");
    assert_false(webhook_addr_allowed((const struct sockaddr *)&un, false));
    assert_false(webhook_addr_allowed((const struct sockaddr *)&un, true));
    assert_false(webhook_addr_allowed(NULL, false));
    assert_false(webhook_addr_allowed(NULL, true));
}

/* A URL, whether allow_http is on, and the expected status and detail. */
struct url_case {
    const char *url;
    bool allow_http;
    int status;
    const char *detail;
};

static const struct url_case url_cases[] = {
    {"https://example.com/hook", false, VCP_STATUS_OK, ""},
    {"https://example.com/hook", true, VCP_STATUS_OK, ""},
    {"HTTPS://Example.COM/hook?a=1#f", false, VCP_STATUS_OK, ""},
    {"https://example.com:8443/", false, VCP_STATUS_OK, ""},
    {"https://[2001:db8::1]/hook", false, VCP_STATUS_OK, ""},
    {"http://example.com/hook", false, VCP_STATUS_INVALID_URL, "url: must use https"},
    {"http://example.com/hook", true, VCP_STATUS_OK, ""},
    {"ftp://example.com/hook", false, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"ftp://example.com/hook", true, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"https:///hook", false, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"https://", false, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"//example.com/hook", false, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"/hook", false, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"example.com", false, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"", false, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"https://exa mple.com/", false, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"https://example.com:0/", false, VCP_STATUS_INVALID_URL, "url: not an absolute http(s) URL"},
    {"https://example.com:65536/", false, VCP_STATUS_INVALID_URL,
     "url: not an absolute http(s) URL"},
};

static void test_url_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
        const struct url_case *c = &url_cases[i];
        char detail[128];
        int st = webhook_url_check(c->url, c->allow_http, detail, sizeof detail);
        if (st != c->status || strcmp(detail, c->detail) != 0)
            fail_msg("\"%s\" allow_http=%d: %d \"%s\", want %d \"%s\"", c->url, c->allow_http, st,
                     detail, c->status, c->detail);
    }
}

/* "https://example.com/" padded with path bytes to exactly len bytes. */
static char *url_of_len(size_t len)
{
    const char *prefix = "https://example.com/";
    char *s = malloc(len + 1);
    assert_non_null(s);
    memset(s, 'a', len);
    memcpy(s, prefix, strlen(prefix));
    s[len] = '\0';
    return s;
}

static void test_url_length(void **state)
{
    (void)state;
    char detail[128];
    char *u = url_of_len(2000);
    assert_int_equal(webhook_url_check(u, false, detail, sizeof detail), VCP_STATUS_OK);
    assert_string_equal(detail, "");
    free(u);
    u = url_of_len(2001);
    assert_int_equal(webhook_url_check(u, false, detail, sizeof detail), VCP_STATUS_INVALID_URL);
    assert_string_equal(detail, "url: longer than 2000 characters");
    free(u);
    u = url_of_len(100000);
    assert_int_equal(webhook_url_check(u, true, detail, sizeof detail), VCP_STATUS_INVALID_URL);
    assert_string_equal(detail, "url: longer than 2000 characters");
    free(u);
}

static void test_url_null_and_small_detail(void **state)
{
    (void)state;
    char detail[8];
    assert_int_equal(webhook_url_check(NULL, true, detail, sizeof detail), VCP_STATUS_INVALID_URL);
    assert_string_equal(detail, "url: no"); /* truncated, still terminated */
    assert_int_equal(webhook_url_check("http://x.example/", false, NULL, 0),
                     VCP_STATUS_INVALID_URL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_table),  cmocka_unit_test(test_addr_allow_private_flips),
        cmocka_unit_test(test_addr_not_ip), cmocka_unit_test(test_url_table),
        cmocka_unit_test(test_url_length),  cmocka_unit_test(test_url_null_and_small_detail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
