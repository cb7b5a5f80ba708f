/*
 * Unit tests of libvcp that need no vcpd: answer parsing (64-bit tokens
 * without doubles), account parsing, the backoff schedule, message
 * constructors and the raw-JSON hatch, signatures, and the retry policy
 * against a scripted fake server on 127.0.0.1 (libmicrohttpd) that answers
 * 12, drops connections, or returns 5xx -- the cases where resending a post
 * could duplicate it must show exactly one request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "client/internal.h"
#include "core/msg.h"

/* ---------------------------------------------------------------- parsing */

static void test_parse_ok_token(void **state)
{
    struct vcp_result r;
    const char *b = "{\"status\":0,\"status_message\":\"ok\",\"message_token\":9223372036854775807,"
                    "\"chat_hostname\":\"Chan\",\"billing_status\":0}";

    result_reset(&r);
    assert_int_equal(response_parse(b, strlen(b), true, &r, NULL), VCP_E_OK);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.status_name, "ok");
    assert_true(r.message_token == 9223372036854775807ULL);
    assert_string_equal(r.chat_hostname, "Chan");
    /* 2^53 + 1 would be mangled by a double. */
    b = "{\"status\":0,\"message_token\":9007199254740993}";
    result_reset(&r);
    assert_int_equal(response_parse(b, strlen(b), true, &r, NULL), VCP_E_OK);
    assert_true(r.message_token == 9007199254740993ULL);
    /* Above INT64_MAX (json-c keeps it as uint64). */
    b = "{\"status\":0,\"message_token\":18446744073709551615}";
    result_reset(&r);
    assert_int_equal(response_parse(b, strlen(b), true, &r, NULL), VCP_E_OK);
    assert_true(r.message_token == UINT64_MAX);
}

static void test_parse_errors(void **state)
{
    struct vcp_result r;
    const char *b = "{\"status\":3,\"status_message\":\"badData\",\"detail\":\"text: required\"}";

    result_reset(&r);
    assert_int_equal(response_parse(b, strlen(b), true, &r, NULL), VCP_E_STATUS);
    assert_int_equal(r.status, 3);
    assert_string_equal(r.status_name, "badData");
    assert_string_equal(r.detail, "text: required");
    /* Real Viber: no detail, status_message is the reason. */
    b = "{\"status\":2,\"status_message\":\"invalidAuthToken\"}";
    result_reset(&r);
    assert_int_equal(response_parse(b, strlen(b), false, &r, NULL), VCP_E_STATUS);
    assert_string_equal(r.detail, "invalidAuthToken");
    /* Unknown codes are general errors by name. */
    b = "{\"status\":1234,\"status_message\":\"x\"}";
    result_reset(&r);
    assert_int_equal(response_parse(b, strlen(b), false, &r, NULL), VCP_E_STATUS);
    assert_string_equal(r.status_name, "generalError");

    static const char *bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"status\":\"0\"}",
        "{\"status_message\":\"ok\"}",
        "{\"status\":0}", /* post without token */
        "{\"status\":0,\"message_token\":-5}",
        "{\"status\":0,\"message_token\":1.5}",
        "{\"status\":0,\"message_token\":0}",
        "{\"status\":0,\"message_token\":12} trailing",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        result_reset(&r);
        assert_int_equal(response_parse(bad[i], strlen(bad[i]), true, &r, NULL), VCP_E_PROTOCOL);
        assert_true(r.detail[0] != '\0');
    }
}

static void test_account_parse(void **state)
{
    const char *b =
        "{\"status\":0,\"status_message\":\"ok\",\"Id\":\"pa:123\",\"name\":\"Chan\","
        "\"location\":{\"lat\":1.5,\"lon\":2},\"subscribers_count\":7,"
        "\"event_types\":[\"delivered\",\"seen\"],"
        "\"members\":[{\"id\":\"A=\",\"name\":\"ann\",\"role\":\"admin\"},"
        "{\"id\":\"B=\",\"name\":\"bob\",\"avatar\":\"https://x/a.jpg\",\"role\":\"superadmin\"},"
        "{\"id\":\"C=\",\"role\":\"superadmin\"}]}";
    struct json_object *root = NULL;
    struct vcp_result r;
    struct vcp_account *a;

    result_reset(&r);
    assert_int_equal(response_parse(b, strlen(b), false, &r, &root), VCP_E_OK);
    a = account_from_json(root);
    json_object_put(root);
    assert_non_null(a);
    assert_string_equal(a->id, "pa:123");
    assert_string_equal(a->name, "Chan");
    assert_string_equal(a->webhook, "");
    assert_string_equal(a->location, "{\"lat\":1.5,\"lon\":2}");
    assert_int_equal(a->subscribers_count, 7);
    assert_int_equal(a->event_types_count, 2);
    assert_string_equal(a->event_types[1], "seen");
    assert_int_equal(a->members_count, 3);
    assert_string_equal(a->members[0].avatar, "");
    assert_string_equal(vcp_account_first_superadmin(a), "B=");
    vcp_account_free(a);
    vcp_account_free(NULL);
    assert_null(vcp_account_first_superadmin(NULL));
}

/* ---------------------------------------------------------------- backoff */

static void test_backoff_schedule(void **state)
{
    /* Equal jitter: within [d/2, d] where d doubles from 500 and caps at 8000. */
    long expect[] = {500, 1000, 2000, 4000, 8000, 8000, 8000};
    for (int a = 1; a <= 7; a++) {
        long lo = backoff_delay_ms(500, 8000, a, 0);
        long hi = backoff_delay_ms(500, 8000, a, UINT32_MAX - 1);
        assert_int_equal(lo, expect[a - 1] - expect[a - 1] / 2);
        assert_true(hi <= expect[a - 1] && hi >= lo);
        for (uint32_t rnd = 0; rnd < 1000; rnd += 37) {
            long d = backoff_delay_ms(500, 8000, a, rnd * 2654435761u);
            assert_true(d >= expect[a - 1] / 2 && d <= expect[a - 1]);
        }
    }
    /* Huge attempt numbers do not overflow. */
    assert_true(backoff_delay_ms(500, 30000, 1000, 12345) <= 30000);
    assert_true(backoff_delay_ms(0, 0, 1, 0) >= 0);
    uint32_t s = 1, seen_diff = 0, prev = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t v = backoff_rand(&s);
        assert_true(v != 0);
        seen_diff += v != prev;
        prev = v;
    }
    assert_true(seen_diff > 90);
    assert_int_equal(retry_after_ms("3"), 3000);
    assert_int_equal(retry_after_ms(" 0\r\n"), 0);
    assert_int_equal(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
    assert_int_equal(retry_after_ms("2x"), -1);
    assert_int_equal(retry_after_ms(NULL), -1);
}

/* ---------------------------------------------------------------- messages */

static void assert_json(vcp_msg *m, const char *want)
{
    char *s;

    assert_non_null(m);
    s = vcp_msg_to_json(m);
    assert_non_null(s);
    assert_string_equal(s, want);
    vcp_free(s);
}

static void test_constructors(void **state)
{
    struct vcp_result r;
    vcp_msg *m;

    m = vcp_msg_text("U=", "hi");
    assert_json(m, "{\"from\":\"U=\",\"type\":\"text\",\"text\":\"hi\"}");
    assert_int_equal(vcp_msg_validate(m, &r), VCP_E_OK);
    vcp_msg_free(m);
    m = vcp_msg_picture("U=", "", "https://x/a.jpg", NULL);
    assert_json(
        m, "{\"from\":\"U=\",\"type\":\"picture\",\"text\":\"\",\"media\":\"https://x/a.jpg\"}");
    assert_int_equal(vcp_msg_validate(m, &r), VCP_E_OK);
    vcp_msg_free(m);
    m = vcp_msg_video("U=", "https://x/v.mp4", 100, -1, "https://x/t.jpg");
    assert_json(m, "{\"from\":\"U=\",\"type\":\"video\",\"media\":\"https://x/v.mp4\",\"size\":100,"
                   "\"thumbnail\":\"https://x/t.jpg\"}");
    vcp_msg_free(m);
    m = vcp_msg_file("U=", "https://x/f.pdf", 5, "f.pdf");
    assert_int_equal(vcp_msg_validate(m, &r), VCP_E_OK);
    vcp_msg_free(m);
    m = vcp_msg_contact("U=", "Jo", "+1");
    assert_json(m, "{\"from\":\"U=\",\"type\":\"contact\",\"contact\":{\"name\":\"Jo\","
                   "\"phone_number\":\"+1\"}}");
    vcp_msg_free(m);
    m = vcp_msg_location("U=", 37.7898, -122.3942);
    assert_json(m, "{\"from\":\"U=\",\"type\":\"location\",\"location\":{\"lat\":37.7898,"
                   "\"lon\":-122.3942}}");
    assert_int_equal(vcp_msg_validate(m, &r), VCP_E_OK);
    vcp_msg_free(m);
    m = vcp_msg_url("U=", "https://x/", NULL);
    assert_json(m, "{\"from\":\"U=\",\"type\":\"url\",\"media\":\"https://x/\"}");
    vcp_msg_free(m);
    m = vcp_msg_sticker("U=", 46105);
    assert_json(m, "{\"from\":\"U=\",\"type\":\"sticker\",\"sticker_id\":46105}");
    assert_string_equal(vcp_msg_type(m), "sticker");
    assert_string_equal(vcp_msg_from(m), "U=");
    vcp_msg_free(m);
    vcp_msg_free(NULL);

    /* Constructors do not judge; validation says what vcpd would. */
    m = vcp_msg_text(NULL, NULL);
    assert_int_equal(vcp_msg_validate(m, &r), VCP_E_INVALID);
    assert_int_equal(r.status, VCP_STATUS_MISSING_DATA);
    assert_string_equal(r.status_name, "missingData");
    assert_int_equal(vcp_msg_set_from(m, "U="), VCP_E_OK);
    assert_int_equal(vcp_msg_validate(m, &r), VCP_E_INVALID);
    char detail[MSG_DETAIL_MAX];
    int st = msg_validate(m->obj, detail, sizeof(detail));
    assert_int_equal(r.status, st);
    assert_string_equal(r.detail, detail);
    vcp_msg_free(m);
    m = vcp_msg_sticker("U=", -1);
    assert_int_equal(vcp_msg_validate(m, &r), VCP_E_INVALID);
    assert_int_equal(r.status, VCP_STATUS_BAD_DATA);
    vcp_msg_free(m);
}

static void test_from_json(void **state)
{
    struct vcp_result r;
    vcp_msg *m = NULL;
    const char *j =
        "{\"auth_token\":\"secret\",\"from\":\"U=\",\"type\":\"text\",\"text\":\"x\"}\r";

    assert_int_equal(vcp_msg_from_json(j, strlen(j), &m, &r), VCP_E_OK);
    assert_json(m, "{\"from\":\"U=\",\"type\":\"text\",\"text\":\"x\"}");
    assert_true(vcp_msg_has_field(m, "text"));
    assert_false(vcp_msg_has_field(m, "auth_token"));
    vcp_msg_free(m);

    static const struct {
        const char *in, *detail;
    } bad[] = {
        {"", "body: empty, expected a JSON object"},
        {"[1]", "body: must be a JSON object"},
        {"{\"a\":1", "body: invalid JSON (unexpected end of data)"},
        {"{\"a\":NaN}", "body: invalid JSON (unexpected character at byte 5)"},
        {"{\"a\":1} x", NULL}, /* json-c strict mode reports the character */
        {"{\"a\":\"\xff\"}", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = (vcp_msg *)1;
        assert_int_equal(vcp_msg_from_json(bad[i].in, strlen(bad[i].in), &m, &r), VCP_E_INVALID);
        assert_null(m);
        assert_int_equal(r.status, VCP_STATUS_BAD_DATA);
        if (bad[i].detail)
            assert_string_equal(r.detail, bad[i].detail);
    }
    assert_int_equal(vcp_msg_from_json(NULL, 0, &m, &r), VCP_E_ARG);
}

static void test_signature(void **state)
{
    char sig[65];

    /* RFC 4231 test case 2: key "Jefe". */
    const char *data = "what do ya want for nothing?";
    assert_int_equal(vcp_signature("Jefe", data, strlen(data), sig), VCP_E_OK);
    assert_string_equal(sig, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_true(vcp_signature_verify("Jefe", data, strlen(data), sig));
    assert_true(
        vcp_signature_verify("Jefe", data, strlen(data),
                             "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843"));
    sig[0] = '6';
    assert_false(vcp_signature_verify("Jefe", data, strlen(data), sig));
    assert_false(vcp_signature_verify("Jefe", data, strlen(data), "abc"));
    assert_false(vcp_signature_verify("Jefe", data, strlen(data), NULL));
}

static void test_client_args(void **state)
{
    struct vcp_options o;
    vcp_client *c = NULL;

    assert_int_equal(vcp_client_new(&c, NULL, NULL), VCP_E_ARG);
    assert_int_equal(vcp_client_new(&c, "a\r\nX-Evil: 1", NULL), VCP_E_ARG);
    vcp_options_init(&o);
    o.base_url = "ftp://x";
    assert_int_equal(vcp_client_new(&c, "tok", &o), VCP_E_ARG);
    o.base_url = "http://127.0.0.1:1/pa/";
    assert_int_equal(vcp_client_new(&c, "tok", &o), VCP_E_OK);
    assert_null(vcp_client_last_body(c));
    assert_null(vcp_client_last_url(c)); /* no request yet */
    assert_int_equal(vcp_post(c, NULL, NULL), VCP_E_ARG);
    assert_null(vcp_client_last_url(c));
    vcp_client_free(c);
    vcp_client_free(NULL);
    assert_string_equal(vcp_error_name(VCP_E_TRANSPORT), "transport error");
}

/* ---------------------------------------------------------------- retry policy */

/* A scripted server: answers[i] for the i-th request ("DROP" closes without answer). */
struct fake {
    struct MHD_Daemon *d;
    const char **answers;
    int nanswers;
    int requests;
    int port;
};

static enum MHD_Result fake_req(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls)
{
    struct fake *f = cls;

    if (*con_cls == NULL) {
        *con_cls = f;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    const char *tok = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Viber-Auth-Token");
    assert_non_null(tok);
    assert_string_equal(tok, "tok");
    int i = f->requests++;
    const char *a = i < f->nanswers ? f->answers[i] : f->answers[f->nanswers - 1];
    if (strcmp(a, "DROP") == 0)
        return MHD_NO; /* closes the connection: the client cannot know what happened */
    unsigned code = 200;
    if (strncmp(a, "HTTP", 4) == 0) {
        code = (unsigned)strtoul(a + 4, NULL, 10);
        a = "{}";
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(a), (void *)a, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static void fake_start(struct fake *f, const char **answers, int n)
{
    memset(f, 0, sizeof(*f));
    f->answers = answers;
    f->nanswers = n;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, fake_req, f,
                            MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    assert_non_null(f->d);
    f->port = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static int retries_seen;
static void count_retry(void *arg, int attempt, long delay_ms, const char *reason)
{
    retries_seen++;
    assert_true(delay_ms >= 1 && delay_ms <= 20);
}

static vcp_client *fake_client(int port, int retries)
{
    struct vcp_options o;
    char url[64];
    vcp_client *c;

    vcp_options_init(&o);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/pa", port);
    o.base_url = url;
    o.max_retries = retries;
    o.backoff_initial_ms = 2;
    o.backoff_max_ms = 20;
    o.timeout_ms = 3000;
    o.on_retry = count_retry;
    assert_int_equal(vcp_client_new(&c, "tok", &o), VCP_E_OK);
    return c;
}

static void test_retry_on_12(void **state)
{
    const char *answers[] = {"{\"status\":12,\"status_message\":\"tooManyRequests\"}",
                             "{\"status\":12,\"status_message\":\"tooManyRequests\"}",
                             "{\"status\":0,\"status_message\":\"ok\",\"message_token\":77}"};
    struct fake f;
    struct vcp_result r;

    fake_start(&f, answers, 3);
    vcp_client *c = fake_client(f.port, 5);
    vcp_msg *m = vcp_msg_text("U=", "hi");
    retries_seen = 0;
    assert_int_equal(vcp_post(c, m, &r), VCP_E_OK);
    assert_int_equal(f.requests, 3);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(retries_seen, 2);
    assert_true(r.message_token == 77);
    assert_string_equal(r.detail, "");
    assert_non_null(strstr(vcp_client_last_body(c), "77"));
    /* Out of retries: the 12 is the answer. */
    f.requests = 0;
    vcp_client_free(c);
    c = fake_client(f.port, 1);
    assert_int_equal(vcp_post(c, m, &r), VCP_E_STATUS);
    assert_int_equal(r.status, 12);
    assert_int_equal(f.requests, 2);
    vcp_msg_free(m);
    vcp_client_free(c);
    MHD_stop_daemon(f.d);
}

static void test_no_resend_after_send(void **state)
{
    struct vcp_result r;
    struct fake f;
    static const char *cases[] = {"DROP", "HTTP500", "{\"status\":0}", "garbage"};

    vcp_msg *m = vcp_msg_text("U=", "hi");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_start(&f, &cases[i], 1);
        vcp_client *c = fake_client(f.port, 5);
        int rc = vcp_post(c, m, &r);
        assert_true(rc == VCP_E_TRANSPORT || rc == VCP_E_PROTOCOL);
        assert_true(r.maybe_sent);
        assert_int_equal(f.requests, 1); /* the post may exist: never sent twice */
        /* Reading is idempotent: get_account_info retries the same failures. */
        struct vcp_account *a = NULL;
        f.requests = 0;
        rc = vcp_get_account_info(c, &a, &r);
        if (i != 2) /* "{status:0}" is a fine (empty) account */
            assert_null(a);
        vcp_account_free(a);
        if (i < 2)
            assert_int_equal(f.requests, 6);
        vcp_client_free(c);
        MHD_stop_daemon(f.d);
    }
    vcp_msg_free(m);
}

/* on_retry that notes the URL the client says it is retrying (arg: the client's address). */
static char retry_url[128];
static void note_retry_url(void *arg, int attempt, long delay_ms, const char *reason)
{
    const char *url = vcp_client_last_url(*(vcp_client **)arg);

    retries_seen++;
    snprintf(retry_url, sizeof(retry_url), "%s", url ? url : "(none)");
}

static void test_retry_refused(void **state)
{
    struct vcp_result r;
    struct vcp_options o;
    struct fake f;
    const char *ok = "{\"status\":0,\"message_token\":1}";
    char base[64], want[80];
    vcp_client *c = NULL;

    /* Find a port nobody listens on: start and stop a server. */
    fake_start(&f, &ok, 1);
    int port = f.port;
    MHD_stop_daemon(f.d);
    vcp_options_init(&o);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/pa/", port);
    o.base_url = base;
    o.max_retries = 3;
    o.backoff_initial_ms = 2;
    o.backoff_max_ms = 20;
    o.on_retry = note_retry_url;
    o.on_retry_arg = &c;
    assert_int_equal(vcp_client_new(&c, "tok", &o), VCP_E_OK);
    vcp_msg *m = vcp_msg_text("U=", "hi");
    retries_seen = 0;
    retry_url[0] = '\0';
    assert_int_equal(vcp_post(c, m, &r), VCP_E_TRANSPORT);
    assert_false(r.maybe_sent);
    assert_int_equal(r.attempts, 4);
    assert_int_equal(retries_seen, 3);
    /* The endpoint is named during the retries and after the failure. */
    snprintf(want, sizeof(want), "http://127.0.0.1:%d/pa/post", port);
    assert_string_equal(retry_url, want);
    assert_string_equal(vcp_client_last_url(c), want);
    /* Local validation: nothing sent at all. */
    vcp_msg *bad = vcp_msg_text("U=", "");
    assert_int_equal(vcp_post(c, bad, &r), VCP_E_INVALID);
    assert_int_equal(r.attempts, 0);
    vcp_msg_free(bad);
    vcp_msg_free(m);
    vcp_client_free(c);
}

/* ---------------------------------------------------------------- webhook server */

static int events;
static void on_event(void *arg, const struct vcp_webhook_event *ev)
{
    events++;
}

static size_t discard(char *p, size_t s, size_t n, void *arg)
{
    return s * n;
}

static void test_webhook_server(void **state)
{
    struct vcp_webhook_server_options o;
    vcp_webhook_server *s = NULL;
    char err[128];

    memset(&o, 0, sizeof(o));
    o.token = "tok";
    o.on_event = on_event;
    assert_int_equal(vcp_webhook_server_new(&s, &o, err, sizeof(err)), VCP_E_OK);
    int port = vcp_webhook_server_port(s);
    assert_true(port > 0);
    o.cert_file = "/nonexistent.pem";
    o.key_file = "/nonexistent.key";
    vcp_webhook_server *s2 = NULL;
    assert_int_equal(vcp_webhook_server_new(&s2, &o, err, sizeof(err)), VCP_E_IO);
    assert_null(s2);

    /* Signed and unsigned callbacks through a vcp client's HTTP stack would need the server's
     * path; use curl directly. */
    const char *body = "{\"event\":\"webhook\",\"timestamp\":1,\"message_token\":5}";
    char sig[65], url[128], hdr[128];
    vcp_signature("tok", body, strlen(body), sig);
    for (int signed_ = 0; signed_ < 2; signed_++) {
        CURL *h = curl_easy_init();
        struct curl_slist *l = NULL;
        long code = 0;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
        snprintf(hdr, sizeof(hdr), "X-Viber-Content-Signature: %s", signed_ ? sig : "00");
        l = curl_slist_append(l, hdr);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        assert_int_equal(curl_easy_perform(h), CURLE_OK);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        assert_int_equal(code, signed_ ? 200 : 403);
        curl_slist_free_all(l);
        curl_easy_cleanup(h);
    }
    assert_int_equal(events, 2);
    vcp_webhook_server_free(s);
    vcp_webhook_server_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok_token), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_account_parse),  cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_constructors),   cmocka_unit_test(test_from_json),
        cmocka_unit_test(test_signature),      cmocka_unit_test(test_client_args),
        cmocka_unit_test(test_retry_on_12),    cmocka_unit_test(test_no_resend_after_send),
        cmocka_unit_test(test_retry_refused),  cmocka_unit_test(test_webhook_server),
    };
    vcp_global_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
