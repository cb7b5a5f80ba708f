/*
 * The request head of an event stream served outside libmicrohttpd
 * (stream_head_parse): what is accepted, and the status of what is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/stream.h"

#define LINE "GET /api/v1/channels/pa:123/events HTTP/1.1\r\n"
#define HOST "Host: 127.0.0.1\r\n"

struct row {
    const char *head;
    unsigned status; /* 0: accepted */
    const char *pa_id;
    int resume; /* -1: not checked */
    uint64_t after;
};

static const struct row rows[] = {
    {LINE HOST "\r\n", 0, "pa:123", 0, 0},
    {LINE HOST "Last-Event-ID: 42\r\n\r\n", 0, "pa:123", 1, 42},
    {LINE HOST "last-event-id:   7  \r\n\r\n", 0, "pa:123", 1, 7},
    {LINE HOST "Last-Event-ID:\r\n\r\n", 0, "pa:123", 0, 0},
    {"GET /api/v1/channels/pa:1/events?last_event_id=9 HTTP/1.1\r\n" HOST "\r\n", 0, "pa:1", 1, 9},
    {"GET /api/v1/channels/pa:1/events?x=1&last_event_id=%39 HTTP/1.1\r\n" HOST "\r\n", 0, "pa:1",
     1, 9},
    /* the header wins over the query */
    {"GET /api/v1/channels/pa:1/events?last_event_id=9 HTTP/1.1\r\n" HOST
     "Last-Event-ID: 10\r\n\r\n",
     0, "pa:1", 1, 10},
    {"GET /api/v1/channels/pa%3A5/events HTTP/1.1\r\n" HOST "\r\n", 0, "pa:5", 0, 0},
    {"GET /api/v1/channels/pa:5/events HTTP/1.0\r\n\r\n", 0, "pa:5", 0, 0},
    {LINE HOST "Content-Length: 0\r\nAccept: text/event-stream\r\n\r\n", 0, "pa:123", 0, 0},
    /* refused */
    {LINE "\r\n", 400, NULL, -1, 0},                           /* no Host */
    {LINE HOST HOST "\r\n", 400, NULL, -1, 0},                 /* two */
    {LINE HOST "Content-Length: 5\r\n\r\n", 400, NULL, -1, 0}, /* a body */
    {LINE HOST "Transfer-Encoding: chunked\r\n\r\n", 400, NULL, -1, 0},
    {LINE HOST "Bad Name: x\r\n\r\n", 400, NULL, -1, 0},
    {LINE HOST " folded\r\n\r\n", 400, NULL, -1, 0},
    {LINE HOST "NoColon\r\n\r\n", 400, NULL, -1, 0},
    {LINE "Host: x\n\r\n", 400, NULL, -1, 0}, /* bare LF */
    {LINE HOST "Last-Event-ID: x1\r\n\r\n", 400, NULL, -1, 0},
    {LINE HOST "Last-Event-ID: 9223372036854775808\r\n\r\n", 400, NULL, -1, 0},
    {"GET /api/v1/channels/pa:1/events?last_event_id=-1 HTTP/1.1\r\n" HOST "\r\n", 400, NULL, -1,
     0},
    {"GET /api/v1/channels/pa:1/events HTTP/2.0\r\n" HOST "\r\n", 505, NULL, -1, 0},
    {"GET /api/v1/channels/pa:1/events HTTX/1.1\r\n" HOST "\r\n", 400, NULL, -1, 0},
    {"GET /api/v1/channels/pa:1/events/ HTTP/1.1\r\n" HOST "\r\n", 404, NULL, -1, 0},
    {"GET /api/v1/channels/pa:1/eventsx HTTP/1.1\r\n" HOST "\r\n", 404, NULL, -1, 0},
    {"GET /api/v1/channels/xx:1/events HTTP/1.1\r\n" HOST "\r\n", 404, NULL, -1, 0},
    {"GET /api/v1/channels/pa%3/events HTTP/1.1\r\n" HOST "\r\n", 404, NULL, -1, 0},
    {"GET /api/v1/channels/pa%00:1/events HTTP/1.1\r\n" HOST "\r\n", 404, NULL, -1, 0},
    {"GET /api/v1/channels/pa:1/events#x HTTP/1.1\r\n" HOST "\r\n", 404, NULL, -1, 0},
    {"POST /api/v1/channels/pa:1/events HTTP/1.1\r\n" HOST "\r\n", 400, NULL, -1, 0},
    {LINE HOST, 400, NULL, -1, 0}, /* no blank line */
    {LINE HOST "\r\nGET / HTTP/1.1\r\n\r\n", 400, NULL, -1, 0},
};

static void test_rows(void **state)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        struct stream_head h;
        const char *why = NULL;
        unsigned got = stream_head_parse(r->head, strlen(r->head), &h, &why);

        if (got != r->status)
            fail_msg("row %zu: status %u, want %u (%s): %s", i, got, r->status, why, r->head);
        if (got != 0) {
            assert_non_null(why);
            continue;
        }
        assert_string_equal(h.pa_id, r->pa_id);
        assert_int_equal(h.resume, r->resume);
        if (r->resume)
            assert_int_equal(h.after, r->after);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
    };
    return cmocka_run_group_tests_name("stream request head", tests, NULL, NULL);
}
