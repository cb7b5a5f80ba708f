/*
 * utf8_count(): the table pins every class of ill-formed input (Unicode
 * table 3-7 boundaries) and the ASCII fast path's 8-byte edges; a
 * differential test then compares the counter with a slow reference decoder
 * on many random byte strings weighted toward the interesting bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"

struct ucase {
    const char *s;
    size_t len; /* 0: strlen(s) */
    long want;
};

static const struct ucase cases[] = {
    {"", 0, 0},
    {"a", 0, 1},
    {"hello", 0, 5},
    {"1234567", 0, 7},
    {"12345678", 0, 8},
    {"123456789", 0, 9},
    {"1234567890abcdefXYZ", 0, 19},
    {"\0", 1, 1}, /* U+0000 is well-formed */
    {"a\0b\0", 4, 4},
    {"\x7f", 0, 1},
    /* 2 bytes */
    {"\xc2\x80", 0, 1}, /* U+0080, lowest */
    {"\xdf\xbf", 0, 1}, /* U+07FF */
    {"\xc3\xa9", 0, 1}, /* é */
    {"caf\xc3\xa9", 0, 4},
    {"\xc0\x80", 0, -1}, /* overlong NUL */
    {"\xc1\xbf", 0, -1}, /* overlong */
    {"\xc3\x28", 0, -1}, /* bad continuation */
    {"\xc3", 0, -1},     /* truncated */
    /* 3 bytes */
    {"\xe0\xa0\x80", 0, 1},  /* U+0800 */
    {"\xe0\x9f\xbf", 0, -1}, /* overlong */
    {"\xe2\x82\xac", 0, 1},  /* € */
    {"\xe2\x82", 0, -1},     /* truncated */
    {"\xed\x9f\xbf", 0, 1},  /* U+D7FF */
    {"\xed\xa0\x80", 0, -1}, /* U+D800 surrogate */
    {"\xed\xbf\xbf", 0, -1}, /* U+DFFF surrogate */
    {"\xee\x80\x80", 0, 1},  /* U+E000 */
    {"\xef\xbf\xbf", 0, 1},  /* U+FFFF */
    {"\xef\xbf\x3f", 0, -1},
    /* 4 bytes */
    {"\xf0\x90\x80\x80", 0, 1},  /* U+10000 */
    {"\xf0\x8f\xbf\xbf", 0, -1}, /* overlong */
    {"\xf0\x9f\x98\x80", 0, 1},  /* 😀 */
    {"\xf4\x8f\xbf\xbf", 0, 1},  /* U+10FFFF */
    {"\xf4\x90\x80\x80", 0, -1}, /* U+110000 */
    {"\xf5\x80\x80\x80", 0, -1},
    {"\xf0\x9f\x98", 0, -1}, /* truncated */
    {"\xf0\x9f\x98\x28", 0, -1},
    /* lone bytes */
    {"\x80", 0, -1},
    {"\xbf", 0, -1},
    {"a\x80", 0, -1},
    {"\xfe", 0, -1},
    {"\xff", 0, -1},
    /* the fast path's edges: a bad or multibyte byte at offsets 7, 8, 15 */
    {"1234567\xc3\xa9", 0, 8},
    {"12345678\xc3\xa9", 0, 9},
    {"1234567\x80", 0, -1},
    {"12345678\x80", 0, -1},
    {"123456789abcdef\xff", 0, -1},
    {"123456789abcdef\xf0\x9f\x98\x80", 0, 16},
    {"\xc3\xa9"
     "1234567890abcdef",
     0, 17},
    {"12345678\xe2\x82", 0, -1}, /* truncated at the very end after the fast path */
    /* length limits the view: a sequence cut by len is truncated */
    {"\xc3\xa9", 1, -1},
    {"abc\xe2\x82\xac", 5, -1},
    {"abc\xe2\x82\xac", 3, 3},
};

static void test_table(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ucase *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->s);
        long got = utf8_count(c->s, len);
        if (got != c->want) {
            print_error("case %zu: got %ld, want %ld\n", i, got, c->want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* The reference: decode a code point, then judge it (slow and obvious). */
static long ref_count(const unsigned char *s, size_t len)
{
    long n = 0;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t need;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            n++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return -1;
        }
        if (i + need >= len)
            return -1; /* truncated */
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        i += need + 1;
        n++;
    }
    return n;
}

static void test_differential(void **state)
{
    /* Bytes that sit on the table's boundaries, plus ASCII. */
    static const unsigned char pool[] = {'a',  'b',  0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                         0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef,
                                         0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff, 'z',  '0'};
    uint64_t x = 0x9e3779b97f4a7c15ULL; /* fixed seed: failures reproduce */
    unsigned char buf[24];
    long valid = 0;

    for (int iter = 0; iter < 300000; iter++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = (size_t)(x % sizeof buf);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* mostly continuation bytes after a lead, to reach valid forms */
            buf[i] =
                (x & 3) ? (unsigned char)(0x80 | ((x >> 8) & 0x3f)) : pool[(x >> 16) % sizeof pool];
        }
        long want = ref_count(buf, len);
        long got = utf8_count((const char *)buf, len);
        if (got != want) {
            print_error("iteration %d: got %ld, want %ld\n", iter, got, want);
            fail();
        }
        valid += want > 0;
    }
    /* The generator must actually produce valid multibyte text too. */
    assert_true(valid > 1000);
}

static void test_long_text(void **state)
{
    /* 7000 × "é" and a long ASCII run, as the message limits use them. */
    static char buf[7000 * 4];
    for (size_t i = 0; i < 7000; i++)
        memcpy(buf + 2 * i, "\xc3\xa9", 2);
    assert_int_equal(utf8_count(buf, 14000), 7000);
    for (size_t i = 0; i < 7000; i++)
        memcpy(buf + 4 * i, "\xf0\x9f\x98\x80", 4);
    assert_int_equal(utf8_count(buf, 28000), 7000);
    assert_int_equal(utf8_count(buf, 27999), -1);
    memset(buf, 'x', sizeof buf);
    assert_int_equal(utf8_count(buf, sizeof buf), (long)sizeof buf);
    buf[sizeof buf - 1] = (char)0x80;
    assert_int_equal(utf8_count(buf, sizeof buf), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_differential),
        cmocka_unit_test(test_long_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
