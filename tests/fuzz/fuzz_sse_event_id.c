/*
 * Fuzz target "sse_event_id": how vcpd reads a stream's resume point
 * (the Last-Event-ID header or ?last_event_id=) and the paging numbers of
 * GET .../posts (limit, before): feed_parse_event_id and feed_parse_u64.
 *
 * Input: the bytes as a C string (cut at the first NUL, as libmicrohttpd
 * hands values over), in an exact-size copy so ASan sees any read past it.
 *   - feed_parse_u64 agrees with a reference written from the contract:
 *     1..20 characters, digits only, value at most UINT64_MAX (compared as
 *     digit strings, without arithmetic);
 *   - on success the value printed with PRIu64 is the input without its
 *     leading zeros ("0" for all zeros), so a resumed stream and the id it
 *     sent name the same post;
 *   - feed_parse_event_id accepts exactly what feed_parse_u64 accepts up to
 *     INT64_MAX (a message_token), with the same value;
 *   - failure leaves *out untouched; NULL and "" are refused.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "server/feed.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

/* Whether the digit string d (no leading zeros, n > 0 digits) is at most max. */
static bool digits_le(const char *d, size_t n, const char *max)
{
    size_t m = strlen(max);

    return n < m || (n == m && memcmp(d, max, n) <= 0);
}

static void check(const char *s)
{
    size_t n = strlen(s), lead = 0;
    bool digits = n > 0;
    uint64_t u = SENTINEL, id = SENTINEL;
    char printed[32];

    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            digits = false;
    while (lead + 1 < n && s[lead] == '0')
        lead++;
    const char *canon = s + lead; /* without leading zeros, "0" stays */
    size_t cn = n - lead;
    bool want_u64 = digits && n <= 20 && digits_le(canon, cn, "18446744073709551615");
    bool want_id = want_u64 && digits_le(canon, cn, "9223372036854775807");

    int rc = feed_parse_u64(s, &u);
    CHECK(rc == 0 || rc == -1);
    CHECK((rc == 0) == want_u64);
    if (rc == 0) {
        snprintf(printed, sizeof printed, "%" PRIu64, u);
        CHECK(strlen(printed) == cn && memcmp(printed, canon, cn) == 0);
    } else {
        CHECK(u == SENTINEL);
    }

    int rc2 = feed_parse_event_id(s, &id);
    CHECK(rc2 == 0 || rc2 == -1);
    CHECK((rc2 == 0) == want_id);
    if (rc2 == 0) {
        CHECK(id == u && id <= INT64_MAX);
    } else {
        CHECK(id == SENTINEL);
        if (rc == 0)
            CHECK(u > INT64_MAX);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t v = SENTINEL;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t n = nul ? (size_t)(nul - data) : size;
    char *s = malloc(n + 1);

    CHECK(s != NULL);
    memcpy(s, data, n);
    s[n] = '\0';
    check(s);
    free(s);
    CHECK(feed_parse_u64(NULL, &v) == -1 && feed_parse_event_id(NULL, &v) == -1);
    CHECK(feed_parse_event_id("", &v) == -1 && v == SENTINEL);
    return 0;
}
