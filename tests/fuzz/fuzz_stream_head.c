/*
 * Fuzz target "stream_head": the request head of an event stream that vcpd
 * reads itself, outside libmicrohttpd (stream_head_parse).
 *
 * Input: the head's bytes, in an exact-size copy so ASan sees any read past
 * them.  Properties:
 *   - the answer is 0 or one of the documented refusals (400, 404, 505),
 *     and a refusal says why;
 *   - an accepted head names a valid channel id ("pa:" and digits) and, when
 *     it resumes, a message_token (at most INT64_MAX);
 *   - the same bytes give the same answer (no hidden state).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "server/feed.h"
#include "server/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    struct stream_head h, h2;
    const char *why = NULL, *why2 = NULL;
    unsigned st, st2;

    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    st = stream_head_parse(buf, size, &h, &why);
    CHECK(st == 0 || st == 400 || st == 404 || st == 505);
    if (st != 0) {
        CHECK(why != NULL && why[0] != '\0');
    } else {
        CHECK(memchr(h.pa_id, '\0', sizeof h.pa_id) != NULL);
        CHECK(feed_pa_id_valid(h.pa_id, strlen(h.pa_id)));
        CHECK(!h.resume || h.after <= (uint64_t)INT64_MAX);
        CHECK(h.resume || h.after == 0);
    }
    st2 = stream_head_parse(buf, size, &h2, &why2);
    CHECK(st2 == st);
    CHECK(st != 0 || memcmp(&h, &h2, sizeof h) == 0);
    free(buf);
    return 0;
}
