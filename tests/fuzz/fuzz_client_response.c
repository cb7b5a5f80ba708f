/*
 * Fuzz target "client_response": libvcp's reading of what a server answers
 * (src/client/response.c, internal.h) -- the bytes of a possibly hostile or
 * broken server (or a man in the middle of a plain-http base URL).
 *
 * Input: byte 0 bit 0 says whether a message_token is wanted (a post); the
 * rest is the HTTP 200 body.  Properties:
 *   - response_parse returns VCP_E_OK, VCP_E_STATUS or VCP_E_PROTOCOL (or
 *     VCP_E_NOMEM), never writes past struct vcp_result's buffers, which stay
 *     NUL-terminated;
 *   - VCP_E_OK means status 0 and, when a token is wanted, a positive one;
 *     VCP_E_STATUS a non-zero status;
 *   - the root it hands back can be turned into an account and freed;
 *   - retry_after_ms on the body as a header value is -1 or >= 0, and
 *     backoff_delay_ms stays within 0..max for any attempt and seed.
 */
#include <string.h>

#include "client/internal.h"
#include "fuzz.h"
#include "vcp/vcp.h"

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vcp_result r;
    struct json_object *root = NULL;
    bool want_token;
    char *body;
    int rc;

    if (size < 1)
        return 0;
    want_token = data[0] & 1;
    data++;
    size--;
    body = malloc(size + 1);
    CHECK(body != NULL);
    memcpy(body, data, size);
    body[size] = '\0';

    memset(&r, 0x55, sizeof r);
    result_reset(&r);
    rc = response_parse(body, size, want_token, &r, &root);
    CHECK(rc == VCP_E_OK || rc == VCP_E_STATUS || rc == VCP_E_PROTOCOL || rc == VCP_E_NOMEM);
    CHECK(terminated(r.status_message, sizeof r.status_message));
    CHECK(terminated(r.detail, sizeof r.detail));
    CHECK(terminated(r.chat_hostname, sizeof r.chat_hostname));
    CHECK(r.status_name != NULL);
    if (rc == VCP_E_OK) {
        CHECK(r.status == 0);
        if (want_token)
            CHECK(r.message_token > 0);
    }
    if (rc == VCP_E_STATUS)
        CHECK(r.status != 0);
    if (root) {
        struct vcp_account *a = account_from_json(root);
        vcp_account_free(a);
        json_object_put(root);
    }

    long ms = retry_after_ms(body);
    CHECK(ms >= -1);
    if (size >= 9) {
        uint32_t seed;
        memcpy(&seed, data, 4);
        long max_ms = 1 + (long)(data[4] | data[5] << 8) * 10;
        long initial = 1 + (long)data[6] * 10;
        int attempt = (int)(int8_t)data[7];
        if (initial <= max_ms && attempt >= 1) {
            long d = backoff_delay_ms(initial, max_ms, attempt, backoff_rand(&seed));
            CHECK(d >= 0 && d <= max_ms);
        }
    }
    free(body);
    return 0;
}
