/*
 * Fuzz target "post_fast": the one-pass post reader (msg_fast_post,
 * src/core/msg.h) against the json-c path it stands in for, on the same
 * body.  The reader may decline any body; when it decides one, the json-c
 * path must read it too (body_parse gives an object), with the same body
 * token, and reach the same verdict at the same step:
 *
 *   MSG_FAST_ABSENT   msg_check_present     -> the same status and detail
 *   MSG_FAST_FROM     present, "from" not a string
 *   MSG_FAST_REFUSED  present, "from" a string (the same bytes),
 *                     msg_check_content     -> the same status and detail
 *   MSG_FAST_TAKEN    as REFUSED, with msg_check_content OK, and
 *                     msg_normalize, serialised as api.c stores it,
 *                     byte for byte the reader's out->json, the same type
 *
 * Since a declined body goes to the json-c path whole, this makes the
 * status, detail and stored JSON the same for every input.
 */
#include <string.h>

#include <json-c/json.h>

#include "core/body.h"
#include "core/msg.h"
#include "fuzz.h"
#include "vcp/status.h"

static struct json_tokener *tok;

/* The reader's refusal is the json-c path's: same status, same detail. */
static void same_refusal(const struct msg_fast *fast, int status, const char *detail)
{
    if (status != fast->status || strcmp(detail, fast->detail) != 0)
        fprintf(stderr, "json-c path: %d %s\nfast path:   %d %s\n", status, detail, fast->status,
                fast->detail);
    CHECK(status == fast->status);
    CHECK(strcmp(detail, fast->detail) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char detail[MSG_DETAIL_MAX];
    struct msg_fast fast;
    struct json_object *body, *v, *norm;
    int status;

    if (!tok)
        tok = body_tokener_new();
    /* exactly size bytes: a read past the body is ASan's to catch */
    char *buf = malloc(size + 1);
    CHECK(buf != NULL);
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (msg_fast_post(buf, size, &fast) != 0) {
        CHECK(fast.json == NULL && fast.auth_token == NULL && fast.from == NULL);
        free(buf);
        return 0;
    }

    body = body_parse(tok, buf, size, false, &status, detail, sizeof detail);
    CHECK(body != NULL);
    CHECK(status == VCP_STATUS_OK);

    /* the body's token, as api.c's find_token reads it */
    if (json_object_object_get_ex(body, "auth_token", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0) {
        CHECK(fast.auth_token != NULL);
        CHECK(fast.auth_token_len == (size_t)json_object_get_string_len(v));
        CHECK(memcmp(fast.auth_token, json_object_get_string(v), fast.auth_token_len) == 0);
    } else {
        CHECK(fast.auth_token == NULL);
    }

    status = msg_check_present(body, detail, sizeof detail);
    if (fast.verdict == MSG_FAST_ABSENT) {
        CHECK(status != VCP_STATUS_OK);
        same_refusal(&fast, status, detail);
        CHECK(fast.json == NULL && fast.from == NULL);
        goto out;
    }
    CHECK(status == VCP_STATUS_OK);
    CHECK(json_object_object_get_ex(body, "from", &v));
    if (fast.verdict == MSG_FAST_FROM) {
        CHECK(!json_object_is_type(v, json_type_string));
        CHECK(fast.json == NULL && fast.from == NULL);
        goto out;
    }
    CHECK(json_object_is_type(v, json_type_string));
    CHECK(fast.from != NULL);
    CHECK(fast.from_len == (size_t)json_object_get_string_len(v));
    CHECK(memcmp(fast.from, json_object_get_string(v), fast.from_len) == 0);

    status = msg_check_content(body, detail, sizeof detail);
    if (fast.verdict == MSG_FAST_REFUSED) {
        CHECK(status != VCP_STATUS_OK);
        same_refusal(&fast, status, detail);
        CHECK(fast.json == NULL);
        goto out;
    }
    CHECK(fast.verdict == MSG_FAST_TAKEN);
    if (status != VCP_STATUS_OK)
        fprintf(stderr, "json-c path: %d %s\n", status, detail);
    CHECK(status == VCP_STATUS_OK);
    CHECK(fast.status == VCP_STATUS_OK && fast.detail[0] == '\0');

    norm = msg_normalize(body);
    CHECK(norm != NULL);
    size_t len;
    const char *want = json_object_to_json_string_length(
        norm, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (len != fast.json_len || memcmp(want, fast.json, len) != 0)
        fprintf(stderr, "json-c path: %s\nfast path:   %s\n", want, fast.json);
    CHECK(len == fast.json_len && memcmp(want, fast.json, len) == 0);
    CHECK(fast.json[fast.json_len] == '\0');
    CHECK(json_object_object_get_ex(norm, "type", &v));
    CHECK(strcmp(json_object_get_string(v), msg_type_name(fast.type)) == 0);
    json_object_put(norm);
out:
    json_object_put(body);
    free(fast.json);
    free(buf);
    return 0;
}
