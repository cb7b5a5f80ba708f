/*
 * The body reader (see body.h).  json-c does the parsing; this file adds
 * what json-c leaves out: a size limit, a refusal of json-c's extensions to
 * JSON, which even its strict mode accepts (single-quoted strings, NaN,
 * Infinity), and of what its strict mode lets through inside strings (raw
 * control characters, malformed UTF-8, "\u0000", unpaired surrogates).
 */
#include "core/body.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"
#include "vcp/status.h"

/*
 * What the scan before the parse found wrong, and where.  json-c (0.16, even
 * with JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8) takes raw control
 * characters inside strings, overlong forms, UTF-8-encoded surrogates and
 * code points past U+10FFFF, turns unpaired surrogate escapes into U+FFFD,
 * and keeps "\u0000" inside a string that every C consumer then cuts short
 * (a key is cut at once).  RFC 8259 forbids the first ones; the rest cannot
 * be represented faithfully, so all of them are refused here.
 */
enum scan_err {
    SCAN_OK,
    SCAN_CHAR,      /* a byte that cannot be JSON outside a string */
    SCAN_DEEP,      /* the bracket that opens level BODY_DEPTH_MAX + 1 */
    SCAN_CONTROL,   /* raw U+0000..U+001F inside a string (cp says which) */
    SCAN_UTF8,      /* not well-formed UTF-8 */
    SCAN_NUL,       /* the escape \u0000 */
    SCAN_SURROGATE, /* a \uD800-\uDFFF escape that is not half of a pair (cp) */
};

#define BIG_MAX 8 /* huge integer literals remembered for their text */

struct scan {
    enum scan_err err;
    size_t at;   /* offset of the offending byte (the '\\' of an escape) */
    unsigned cp; /* SCAN_CONTROL, SCAN_SURROGATE: the code point */
    /* Integer literals outside int64..uint64, which json-c saturates (a
     * 5,000-digit number reads as 18446744073709551615): their text, so a
     * detail can quote what was sent.  n counts them all, past BIG_MAX too. */
    struct {
        size_t off, len;
    } big[BIG_MAX];
    size_t n_big;
};

/* Value of the 4 hex digits at s[0..3], or -1 (json-c refuses those). */
static long hex4(const char *s, size_t avail)
{
    long v = 0;

    if (avail < 4)
        return -1;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/*
 * Checks the escape whose '\\' is at s[i]; returns the offset of its last
 * byte, or sets sc->err.  Only \u escapes need a look: the others are one
 * character, which json-c judges.
 */
static size_t scan_escape(const char *s, size_t n, size_t i, struct scan *sc)
{
    long v, lo;

    if (i + 1 >= n || s[i + 1] != 'u')
        return i + 1;
    if ((v = hex4(s + i + 2, n - i - 2)) < 0)
        return i + 1; /* json-c reports the bad escape */
    if (v == 0) {
        sc->err = SCAN_NUL;
    } else if (v >= 0xDC00 && v <= 0xDFFF) {
        sc->err = SCAN_SURROGATE;
    } else if (v >= 0xD800 && v <= 0xDBFF) {
        /* a high surrogate must be followed at once by a low one */
        if (i + 7 < n && s[i + 6] == '\\' && s[i + 7] == 'u' &&
            (lo = hex4(s + i + 8, n - i - 8)) >= 0xDC00 && lo <= 0xDFFF)
            return i + 11;
        sc->err = SCAN_SURROGATE;
    } else {
        return i + 5;
    }
    sc->at = i;
    sc->cp = (unsigned)v;
    return i;
}

/* Remembers the integer literal s[i..end) when json-c cannot hold it. */
static void scan_number(const char *s, size_t i, size_t end, struct scan *sc)
{
    static const char u64_max[] = "18446744073709551615", i64_min[] = "9223372036854775808";
    bool neg = s[i] == '-';
    size_t d = i + (neg ? 1 : 0), digits = end - d;
    const char *lim = neg ? i64_min : u64_max;
    size_t lim_len = neg ? sizeof i64_min - 1 : sizeof u64_max - 1;

    for (size_t k = d; k < end; k++) {
        if (s[k] < '0' || s[k] > '9')
            return; /* a fraction or an exponent: json-c keeps a real's text */
    }
    /* at or past the limit: json-c's value is the limit either way */
    if (digits < lim_len || (digits == lim_len && memcmp(s + d, lim, lim_len) < 0))
        return;
    if (sc->n_big < BIG_MAX) {
        sc->big[sc->n_big].off = i;
        sc->big[sc->n_big].len = end - i;
    }
    sc->n_big++;
}

/*
 * Outside strings, JSON has only white space, punctuation, numbers and the
 * letters of true/false/null, so one pass over the bytes rejects json-c's
 * extensions before the parse.  The same pass checks what is inside strings
 * (see enum scan_err) and counts container nesting (json-c's own depth limit
 * also counts a scalar as a level, so it cannot say "16 levels of objects and
 * arrays" exactly).  Stops at the first fault, in sc.
 */
static void scan(const char *s, size_t n, struct scan *sc)
{
    static const bool ok[256] = {
        [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1,
        [']'] = 1, [','] = 1,  [':'] = 1,  ['0'] = 1,  ['1'] = 1, ['2'] = 1, ['3'] = 1,
        ['4'] = 1, ['5'] = 1,  ['6'] = 1,  ['7'] = 1,  ['8'] = 1, ['9'] = 1, ['-'] = 1,
        ['+'] = 1, ['.'] = 1,  ['e'] = 1,  ['E'] = 1,  ['t'] = 1, ['r'] = 1, ['u'] = 1,
        ['f'] = 1, ['a'] = 1,  ['l'] = 1,  ['s'] = 1,  ['n'] = 1,
    };
    bool in_string = false;
    int depth = 0;

    memset(sc, 0, sizeof *sc);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (in_string) {
            if (c == '\\') {
                i = scan_escape(s, n, i, sc);
            } else if (c == '"') {
                in_string = false;
            } else if (c < 0x20) {
                sc->err = SCAN_CONTROL;
                sc->cp = c;
            } else if (c >= 0x80) {
                size_t k = utf8_seq_len(s + i, n - i);
                if (k == 0)
                    sc->err = SCAN_UTF8;
                else
                    i += k - 1;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > BODY_DEPTH_MAX)
                sc->err = SCAN_DEEP;
        } else if (c == '}' || c == ']') {
            depth--; /* unbalanced input is json-c's to refuse */
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t end = i + 1;
            while (end < n && ok[(unsigned char)s[end]] && strchr("0123456789.eE+-", s[end]))
                end++;
            scan_number(s, i, end, sc);
            i = end - 1;
        } else if (c >= 0x80) {
            /* say "invalid UTF-8" only where it is: a valid sequence here
             * is simply not JSON */
            sc->err = utf8_seq_len(s + i, n - i) == 0 ? SCAN_UTF8 : SCAN_CHAR;
        } else if (!ok[c]) {
            sc->err = SCAN_CHAR;
        }
        if (sc->err != SCAN_OK) {
            if (sc->err != SCAN_NUL && sc->err != SCAN_SURROGATE)
                sc->at = i;
            return;
        }
    }
}

/* Calls fn on every integer in o, in document order; stops when it returns false. */
static bool each_int(struct json_object *o, bool (*fn)(struct json_object *, void *), void *arg)
{
    switch (json_object_get_type(o)) {
    case json_type_int:
        return fn(o, arg);
    case json_type_object: {
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            if (!each_int(val, fn, arg))
                return false;
        }
        return true;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            if (!each_int(json_object_array_get_idx(o, i), fn, arg))
                return false;
        }
        return true;
    default:
        return true;
    }
}

/* json-c's value for an integer literal past int64..uint64 */
static bool saturated(struct json_object *v)
{
    return json_object_get_int64(v) == INT64_MIN ||
           (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) == UINT64_MAX);
}

struct big_walk {
    const char *body;
    const struct scan *sc;
    size_t seen;
};

static bool count_big(struct json_object *v, void *arg)
{
    struct big_walk *w = arg;
    if (saturated(v))
        w->seen++;
    return true;
}

static bool tag_big(struct json_object *v, void *arg)
{
    struct big_walk *w = arg;
    if (!saturated(v))
        return true;
    char *text = strndup(w->body + w->sc->big[w->seen].off, w->sc->big[w->seen].len);
    if (text == NULL)
        return false; /* out of memory: the value prints as json-c has it */
    json_object_set_serializer(v, json_object_userdata_to_json_string, text,
                               json_object_free_userdata);
    w->seen++;
    return true;
}

/*
 * Gives each saturated integer of o the text it was sent as, so that
 * json_object_to_json_string (which a detail quotes) shows "1234…" and not
 * 18446744073709551615.  The literals and the saturated values are matched
 * in document order; when their numbers differ (a duplicate key dropped a
 * value), nothing is tagged rather than something wrongly.
 */
static void keep_big_text(struct json_object *o, const char *body, const struct scan *sc)
{
    struct big_walk w = {body, sc, 0};

    if (sc->n_big == 0 || sc->n_big > BIG_MAX)
        return;
    each_int(o, count_big, &w);
    if (w.seen != sc->n_big)
        return;
    w.seen = 0;
    each_int(o, tag_big, &w);
}

struct json_tokener *body_tokener_new(void)
{
    /* json-c counts the stack slot of the top level too: depth + 1 */
    struct json_tokener *tok = json_tokener_new_ex(BODY_DEPTH_MAX + 1);

    if (tok)
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    return tok;
}

struct json_object *body_parse(struct json_tokener *tok, const char *body, size_t len,
                               bool empty_ok, int *status, char *detail, size_t detail_len)
{
    struct json_object *o;
    enum json_tokener_error err;
    struct scan sc;

    *status = VCP_STATUS_BAD_DATA;
    if (len > BODY_MAX) {
        snprintf(detail, detail_len, "body: %zu bytes, max %d", len, BODY_MAX);
        return NULL;
    }
    if (len == 0) {
        if (!empty_ok) {
            snprintf(detail, detail_len, "body: empty, expected a JSON object");
            return NULL;
        }
        o = json_object_new_object();
        *status = o ? VCP_STATUS_OK : VCP_STATUS_GENERAL_ERROR;
        return o;
    }
    if (len == 2 && body[0] == '{' && body[1] == '}') {
        /* what SDKs send to get_account_info: no parse (json-c sets up its
         * locale on every one, ~3k instructions; issue 11) */
        o = json_object_new_object();
        *status = o ? VCP_STATUS_OK : VCP_STATUS_GENERAL_ERROR;
        return o;
    }
    scan(body, len, &sc);
    switch (sc.err) {
    case SCAN_OK:
        break;
    case SCAN_DEEP:
        snprintf(detail, detail_len, "body: nested deeper than %d levels", BODY_DEPTH_MAX);
        return NULL;
    case SCAN_CHAR:
        snprintf(detail, detail_len, "body: invalid JSON (unexpected character at byte %zu)",
                 sc.at);
        return NULL;
    case SCAN_CONTROL:
        snprintf(detail, detail_len,
                 "body: invalid JSON (raw control character U+%04X in a string at byte %zu)", sc.cp,
                 sc.at);
        return NULL;
    case SCAN_UTF8:
        snprintf(detail, detail_len, "body: invalid UTF-8 at byte %zu", sc.at);
        return NULL;
    case SCAN_NUL:
        snprintf(detail, detail_len, "body: escaped NUL (U+0000) in a string at byte %zu", sc.at);
        return NULL;
    case SCAN_SURROGATE:
        snprintf(detail, detail_len, "body: unpaired surrogate U+%04X in a string at byte %zu",
                 sc.cp, sc.at);
        return NULL;
    }
    /* The NUL after the body is passed too: it ends a bare number such as
     * "42", which json-c would otherwise wait to extend. */
    json_tokener_reset(tok);
    o = json_tokener_parse_ex(tok, body, (int)len + 1);
    err = json_tokener_get_error(tok);
    if (err != json_tokener_success) { /* with the NUL passed, never json_tokener_continue */
        json_object_put(o);
        snprintf(detail, detail_len, "body: invalid JSON (%s)", json_tokener_error_desc(err));
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        snprintf(detail, detail_len, "body: must be a JSON object");
        return NULL;
    }
    keep_big_text(o, body, &sc);
    *status = VCP_STATUS_OK;
    return o;
}
