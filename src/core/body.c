/*
 * The body reader (see body.h).  json-c does the parsing; this file adds
 * what json-c leaves out: a size limit, and a refusal of json-c's
 * extensions to JSON, which even its strict mode accepts (single-quoted
 * strings, NaN, Infinity).
 */
#include "core/body.h"

#include <stdio.h>

#include "vcp/status.h"

/*
 * Outside strings, JSON has only white space, punctuation, numbers and the
 * letters of true/false/null, so one pass over the bytes rejects json-c's
 * extensions before the parse.  The same pass counts container nesting
 * (json-c's own depth limit also counts a scalar as a level, so it cannot
 * say "16 levels of objects and arrays" exactly).  Returns n, or the offset
 * of the first byte that cannot be JSON with *too_deep false, or of the
 * bracket that opens level BODY_DEPTH_MAX + 1 with *too_deep true.
 */
static size_t plain_json(const char *s, size_t n, bool *too_deep)
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

    *too_deep = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > BODY_DEPTH_MAX) {
                *too_deep = true;
                return i;
            }
        } else if (c == '}' || c == ']') {
            depth--; /* unbalanced input is json-c's to refuse */
        } else if (!ok[(unsigned char)c]) {
            return i;
        }
    }
    return n;
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
    bool too_deep;
    size_t bad;

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
    if ((bad = plain_json(body, len, &too_deep)) < len) {
        if (too_deep)
            snprintf(detail, detail_len, "body: nested deeper than %d levels", BODY_DEPTH_MAX);
        else
            snprintf(detail, detail_len, "body: invalid JSON (unexpected character at byte %zu)",
                     bad);
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
    *status = VCP_STATUS_OK;
    return o;
}
