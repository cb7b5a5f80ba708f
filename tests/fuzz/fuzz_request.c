/*
 * Fuzz target "request": the path of a /pa/post body through vcpd, minus the
 * parts that need a database (token, channel, members, rate).
 *
 *   body -> body_parse (src/core/body.h: strict, depth-limited tokener)
 *        -> msg_check_present -> msg_check_content -> msg_normalize
 *        -> the normalised JSON text (what the store keeps)
 *
 * and the answer vcpd would send, written with the strbuf writer exactly as
 * api_reply_status() and post_committed() write it.  Properties checked
 * besides "no crash, no leak, no UB":
 *   - every answer parses back with json-c (strict, UTF-8 validated) into
 *     the same status, status_message and detail;
 *   - a status is one of the wire codes the step may give;
 *   - the normalised message is itself a valid body: it parses with the API
 *     tokener, passes msg_check_content, and normalising it again gives the
 *     same text (the stored form is a fixed point).
 */
#include <string.h>

#include <json-c/json.h>

#include "core/msg.h"
#include "fuzz.h"
#include "server/strbuf.h"
#include "server/server.h"
#include "server/api.h"
#include "core/body.h"
#include "vcp/status.h"

static struct json_tokener *tok;    /* the API's own settings */
static struct json_tokener *strict; /* to read answers back: strict + UTF-8 */

/* Parses text (len bytes) as one strict JSON value; NULL if it is not one. */
static struct json_object *read_back(const char *text, size_t len)
{
    struct json_object *o;

    json_tokener_reset(strict);
    o = json_tokener_parse_ex(strict, text, (int)len);
    if (json_tokener_get_error(strict) != json_tokener_success ||
        json_tokener_get_parse_end(strict) != len) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static const char *get_str(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The {"status":N,"status_message":...,"detail":...} answer, written by api.c's own code. */
static void check_status_answer(int status, const char *detail)
{
    struct strbuf w;
    struct json_object *o, *v;
    const char *s;

    strbuf_init(&w);
    api_status_json(&w, status, detail);
    CHECK(w.len == strlen(w.buf));
    o = read_back(w.buf, w.len);
    if (!o)
        fprintf(stderr, "answer is not strict UTF-8 JSON: %s\n", w.buf);
    CHECK(o != NULL);
    CHECK(json_object_object_get_ex(o, "status", &v) && json_object_is_type(v, json_type_int));
    CHECK(json_object_get_int(v) == status);
    s = get_str(o, "status_message");
    CHECK(s && strcmp(s, vcp_status_name(status)) == 0);
    if (detail && detail[0]) {
        s = get_str(o, "detail");
        CHECK(s && strcmp(s, detail) == 0);
    } else {
        CHECK(!json_object_object_get_ex(o, "detail", NULL));
    }
    json_object_put(o);
    strbuf_free(&w);
}

/* The success answer of post (post_committed), with chat_hostname taken from
 * the input ("from") so the writer's escaping sees arbitrary strings. */
static void check_post_answer(uint64_t token, const char *hostname)
{
    struct strbuf w;
    struct json_object *o, *v;

    strbuf_init(&w);
    strbuf_lit(&w, "{\"status\":0,\"status_message\":\"ok\"");
    strbuf_kv_uint(&w, "message_token", token);
    strbuf_kv_str(&w, "chat_hostname", hostname);
    strbuf_lit(&w, ",\"billing_status\":0}");
    /* "from" passed the API tokener's UTF-8 check, so the answer must pass
     * the strict reader too. */
    o = read_back(w.buf, w.len);
    CHECK(o != NULL && json_object_is_type(o, json_type_object));
    CHECK(json_object_object_get_ex(o, "message_token", &v));
    CHECK(json_object_get_uint64(v) == token);
    json_object_put(o);
    strbuf_free(&w);
}

static bool known_status(int s)
{
    return s == VCP_STATUS_OK || s == VCP_STATUS_BAD_DATA || s == VCP_STATUS_MISSING_DATA;
}

/* A URL kept in the stored form is printable ASCII only (url.h's promise:
 * no spaces, controls or bytes >= 0x80), whatever field it sits in. */
static void check_url_field(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return;
    const char *s = json_object_get_string(v);
    int len = json_object_get_string_len(v);
    for (int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            fprintf(stderr, "stored %s has byte 0x%02x at %d\n", key, c, i);
        CHECK(c > 0x20 && c < 0x7f);
    }
}

/* The stored form: valid, and a fixed point of msg_normalize. */
static void check_normalized(struct json_object *body)
{
    char detail[MSG_DETAIL_MAX];
    struct json_object *norm, *again, *norm2;
    const char *text, *text2;
    size_t len, len2;
    int status;

    norm = msg_normalize(body);
    CHECK(norm != NULL);
    text = json_object_to_json_string_length(norm, JSON_C_TO_STRING_PLAIN, &len);
    CHECK(text != NULL && len == strlen(text));
    CHECK(get_str(norm, "type") != NULL);
    CHECK(!json_object_object_get_ex(norm, "auth_token", NULL));
    CHECK(!json_object_object_get_ex(norm, "from", NULL));
    check_url_field(norm, "media");
    check_url_field(norm, "thumbnail");
    if (json_object_object_get_ex(norm, "sender", &again))
        check_url_field(again, "avatar");

    again = body_parse(tok, text, len, false, &status, detail, sizeof detail);
    if (!again)
        fprintf(stderr, "stored form refused (%s): %s\n", detail, text);
    CHECK(again != NULL && status == VCP_STATUS_OK);
    status = msg_check_content(again, detail, sizeof detail);
    if (status != VCP_STATUS_OK)
        fprintf(stderr, "stored form invalid (%d %s): %s\n", status, detail, text);
    CHECK(status == VCP_STATUS_OK);
    norm2 = msg_normalize(again);
    CHECK(norm2 != NULL);
    text2 = json_object_to_json_string_length(norm2, JSON_C_TO_STRING_PLAIN, &len2);
    if (len2 != len || memcmp(text, text2, len) != 0)
        fprintf(stderr, "normalising twice differs:\n  %s\n  %s\n", text, text2);
    CHECK(len2 == len && memcmp(text, text2, len) == 0);
    json_object_put(norm2);
    json_object_put(again);
    json_object_put(norm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char detail[MSG_DETAIL_MAX];
    struct json_object *body, *from;
    char *buf;
    int status;

    if (!tok) {
        tok = body_tokener_new();
        strict = json_tokener_new_ex(BODY_DEPTH_MAX + 4);
        CHECK(tok && strict);
        json_tokener_set_flags(strict, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    }
    /* vcpd's bodies are NUL-terminated (http.c body_append). */
    buf = malloc(size + 1);
    CHECK(buf != NULL);
    memcpy(buf, data, size);
    buf[size] = '\0';

    detail[0] = '\0';
    body = body_parse(tok, buf, size, size % 2 == 0, &status, detail, sizeof detail);
    if (!body) {
        CHECK(status == VCP_STATUS_BAD_DATA && detail[0] != '\0');
        check_status_answer(status, detail);
        goto out;
    }
    CHECK(status == VCP_STATUS_OK && json_object_is_type(body, json_type_object));

    detail[0] = '\0';
    status = msg_check_present(body, detail, sizeof detail);
    CHECK(status == VCP_STATUS_OK || status == VCP_STATUS_MISSING_DATA);
    if (status == VCP_STATUS_OK) {
        detail[0] = '\0';
        status = msg_check_content(body, detail, sizeof detail);
        CHECK(known_status(status));
        CHECK((status == VCP_STATUS_OK) == (detail[0] == '\0'));
        /* the client library's entry point must agree when "from" is a string */
        if (json_object_object_get_ex(body, "from", &from) &&
            json_object_is_type(from, json_type_string)) {
            char d2[MSG_DETAIL_MAX];
            CHECK(msg_validate(body, d2, sizeof d2) == status);
            CHECK(strcmp(d2, detail) == 0);
        }
    }
    check_status_answer(status, detail);
    if (status == VCP_STATUS_OK) {
        check_normalized(body);
        /* vcpd answers 3 for a "from" that is not a string (api_post) */
        if (json_object_object_get_ex(body, "from", &from) &&
            json_object_is_type(from, json_type_string))
            check_post_answer(size * 2654435761u, json_object_get_string(from));
    }
    json_object_put(body);
out:
    free(buf);
    return 0;
}
