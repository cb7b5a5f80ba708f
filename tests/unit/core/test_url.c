/*
 * url_parse() and url_path_has_ext() as data: each row is a URL and what the
 * parser must make of it (or that it must refuse it).  Adding a case is
 * adding a row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/url.h"

struct pcase {
    const char *url;
    size_t len; /* 0: strlen(url) */
    int rc;     /* 0 or -1 */
    bool https;
    const char *host; /* expected pieces when rc == 0 */
    int port;
    const char *path;
};

#define OK(u, s, h, p, pa)   \
    {                        \
        u, 0, 0, s, h, p, pa \
    }
#define BAD(u)                         \
    {                                  \
        u, 0, -1, false, NULL, 0, NULL \
    }

static const struct pcase parse_cases[] = {
    OK("http://example.com", false, "example.com", -1, ""),
    OK("https://example.com/", true, "example.com", -1, "/"),
    OK("HTTPS://Example.COM/A", true, "Example.COM", -1, "/A"),
    OK("HtTp://x/y?q#f", false, "x", -1, "/y"),
    OK("http://x?q=/a.jpg", false, "x", -1, ""),
    OK("http://x#f", false, "x", -1, ""),
    OK("http://www.images.com/img.jpg", false, "www.images.com", -1, "/img.jpg"),
    OK("http://x:80/", false, "x", 80, "/"),
    OK("http://x:1", false, "x", 1, ""),
    OK("https://x:65535/p", true, "x", 65535, "/p"),
    OK("http://x:080/", false, "x", 80, "/"),
    OK("http://127.0.0.1:8080/a", false, "127.0.0.1", 8080, "/a"),
    OK("http://[::1]/", false, "::1", -1, "/"),
    OK("https://[2001:db8::1]:8443/p?q", true, "2001:db8::1", 8443, "/p"),
    OK("http://[::ffff:10.0.0.1]/", false, "::ffff:10.0.0.1", -1, "/"),
    OK("http://exa_mple.com", false, "exa_mple.com", -1, ""),
    OK("http://ex%41mple.com/", false, "ex%41mple.com", -1, "/"),
    OK("http://a-b.c~d!$&'()*+,;=/", false, "a-b.c~d!$&'()*+,;=", -1, "/"),
    OK("http://x/!$&'()*+,;=:@-._~/?[]@", false, "x", -1, "/!$&'()*+,;=:@-._~/"),
    OK("http://x/%C3%A9%2f", false, "x", -1, "/%C3%A9%2f"),
    OK("http://host/@x", false, "host", -1, "/@x"),
    OK("http://x/y#frag#2", false, "x", -1, "/y"),
    OK("http://x//a", false, "x", -1, "//a"),
    /* schemes and shape */
    BAD(""),
    BAD("http"),
    BAD("http://"),
    BAD("https://"),
    BAD("http:///path"),
    BAD("http:/x"),
    BAD("http:x"),
    BAD("//x/"),
    BAD("ftp://x/a.jpg"),
    BAD("httpx://a"),
    BAD("javascript:alert(1)"),
    BAD("mailto:a@b.c"),
    BAD(" http://x/"),
    BAD("http://x/ "),
    /* userinfo is refused */
    BAD("http://user@host/"),
    BAD("http://user:pw@host/"),
    BAD("https://bank.com@evil.example/"),
    BAD("http://@host/"),
    /* ports */
    BAD("http://x:"),
    BAD("http://x:/"),
    BAD("http://x:0/"),
    BAD("http://x:65536/"),
    BAD("http://x:99999/"),
    BAD("http://x:000080/"),
    BAD("http://x:8a/"),
    BAD("http://x:-1/"),
    BAD("http://x:80:81/"),
    BAD("http://:80/"),
    /* IPv6 */
    BAD("http://[::1/"),
    BAD("http://[]/"),
    BAD("http://[zz]/"),
    BAD("http://[::1]x/"),
    BAD("http://[::1]:/"),
    /* a NUL inside the brackets must not end the address early (fuzzing) */
    {"http://[::1\0\"><img src=x>]/a.jpg", 30, -1, false, NULL, 0, NULL},
    BAD("http://[fe80::1%25eth0]/"),
    BAD("http://[v1.x]/"),
    BAD("http://::1/"),
    BAD("http://x[1]/"),
    /* characters */
    BAD("http://exa mple.com/"),
    BAD("http://x/a b"),
    BAD("http://x/a\tb"),
    BAD("http://x/a\nb"),
    BAD("http://x/a\x01"),
    BAD("http://x/a\x7f"),
    BAD("http://x/\xc3\xa9"),
    BAD("http://\xc3\xa9.com/"),
    BAD("http://x/%zz"),
    BAD("http://x/%4"),
    BAD("http://x/%"),
    BAD("http://ex%4mple.com/"),
    BAD("http://x/a\"b"),
    BAD("http://x/a<b"),
    BAD("http://x/a>b"),
    BAD("http://x/a\\b"),
    BAD("http://x/a^b"),
    BAD("http://x/a`b"),
    BAD("http://x/a{b"),
    BAD("http://x/a|b"),
    BAD("http://x/a}b"),
    BAD("http://x?a b"),
    BAD("http://x#a b"),
    BAD("http://x\\y/"),
    /* an embedded NUL, seen through an explicit length */
    {"http://x/a\0b", 12, -1, false, NULL, 0, NULL},
    {"http://x\0/", 10, -1, false, NULL, 0, NULL},
    /* the length bounds what is parsed */
    {"http://x/a b", 10, 0, false, "x", -1, "/a"},
};

static bool piece_is(const char *s, size_t off, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(s + off, want, len) == 0;
}

static void test_parse_table(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct pcase *c = &parse_cases[i];
        size_t len = c->len ? c->len : strlen(c->url);
        struct url_parts u;
        memset(&u, 0xa5, sizeof u);
        int rc = url_parse(c->url, len, &u);
        if (rc != c->rc) {
            print_error("case %zu \"%s\": rc %d, want %d\n", i, c->url, rc, c->rc);
            bad++;
            continue;
        }
        if (rc != 0)
            continue;
        if (u.https != c->https || u.port != c->port ||
            !piece_is(c->url, u.host_off, u.host_len, c->host) ||
            !piece_is(c->url, u.path_off, u.path_len, c->path)) {
            print_error("case %zu \"%s\": https %d port %d host \"%.*s\" path \"%.*s\"\n", i,
                        c->url, u.https, u.port, (int)u.host_len, c->url + u.host_off,
                        (int)u.path_len, c->url + u.path_off);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_parse_null(void **state)
{
    struct url_parts u;
    assert_int_equal(url_parse(NULL, 0, &u), -1);
    assert_int_equal(url_parse("http://x/", 9, NULL), -1);
}

struct ecase {
    const char *url;
    const char *ext;
    bool want;
};

static const struct ecase ext_cases[] = {
    {"http://x/a.jpg", ".jpg", true},
    {"http://x/a.JPG", ".jpg", true},
    {"http://x/a.jpg", ".JPG", true},
    {"http://x/a.Jpeg", ".jpeg", true},
    {"http://x/a.jpg?x=.png", ".jpg", true},
    {"http://x/a.jpg#b.png", ".jpg", true},
    {"http://x/a.png?a.jpg", ".jpg", false},
    {"http://x/a.png#a.jpg", ".jpg", false},
    {"http://x/a.jpeg", ".jpg", false},
    {"http://x/a.jpg/", ".jpg", false},
    {"http://x/jpg", ".jpg", false},
    {"http://x/.jpg", ".jpg", true},
    {"http://x", ".jpg", false},
    {"http://x.jpg", ".jpg", false}, /* the host is not the path */
    {"http://x.jpg/", ".jpg", false},
    {"http://x/a.jpg", "", true},
};

static void test_has_ext(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof ext_cases / sizeof ext_cases[0]; i++) {
        const struct ecase *c = &ext_cases[i];
        struct url_parts u;
        assert_int_equal(url_parse(c->url, strlen(c->url), &u), 0);
        if (url_path_has_ext(c->url, &u, c->ext) != c->want) {
            print_error("case %zu: \"%s\" ext \"%s\": want %d\n", i, c->url, c->ext, c->want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_long_url(void **state)
{
    /* No length limit in the parser itself (callers apply theirs). */
    static char buf[5000];
    memcpy(buf, "https://example.com/", 20);
    memset(buf + 20, 'a', sizeof buf - 21);
    buf[sizeof buf - 1] = '\0';
    struct url_parts u;
    assert_int_equal(url_parse(buf, strlen(buf), &u), 0);
    assert_int_equal(u.path_len, sizeof buf - 1 - 19);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_null),
        cmocka_unit_test(test_has_ext),
        cmocka_unit_test(test_long_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
