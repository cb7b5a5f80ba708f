/*
 * libvcp against a real vcpd (started and provisioned by e2e.py, which passes
 * the URL and channel tokens in the environment): every message type through
 * its typed constructor, account info parsed into structs, webhook set and
 * removed, and every status vcpd answers for the states e2e.py set up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vcp/vcp.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "missing %s (run through e2e.py)\n", name);
        exit(2);
    }
    return v;
}

static vcp_client *client(const char *token_var, int retries)
{
    struct vcp_options o;
    vcp_client *c = NULL;

    vcp_options_init(&o);
    o.base_url = env("VCP_URL");
    o.max_retries = retries;
    o.backoff_initial_ms = 10;
    assert_int_equal(vcp_client_new(&c, env(token_var), &o), VCP_E_OK);
    return c;
}

static void test_all_types(void **state)
{
    const char *from = env("VCP_FROM");
    vcp_msg *msgs[] = {
        vcp_msg_text(from, "hello from libvcp ✓"),
        vcp_msg_picture(from, "a cat", "https://example.com/cat.jpg", "https://example.com/t.jpg"),
        vcp_msg_video(from, "https://example.com/v.mp4", 1000, 10, NULL),
        vcp_msg_file(from, "https://example.com/r.pdf", 2000, "r.pdf"),
        vcp_msg_contact(from, "John Doe", "+12025550164"),
        vcp_msg_location(from, 37.7898, -122.3942),
        vcp_msg_url(from, "https://example.com/go", "go here"),
        vcp_msg_sticker(from, 46105),
    };
    vcp_client *c = client("VCP_TOKEN", 0);
    uint64_t last = 0;

    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        struct vcp_result r;
        assert_non_null(msgs[i]);
        int rc = vcp_post(c, msgs[i], &r);
        if (rc != VCP_E_OK)
            fprintf(stderr, "%s: %d %s %s\n", vcp_msg_type(msgs[i]), rc, r.status_name, r.detail);
        assert_int_equal(rc, VCP_E_OK);
        assert_int_equal(r.status, 0);
        assert_true(r.message_token > last); /* time-ordered, parsed as 64-bit */
        last = r.message_token;
        assert_string_equal(r.chat_hostname, "Lib");
        printf("posted %s %llu\n", vcp_msg_type(msgs[i]), (unsigned long long)r.message_token);
        vcp_msg_free(msgs[i]);
    }
    vcp_client_free(c);
}

static void test_account(void **state)
{
    struct vcp_account *a = NULL;
    struct vcp_result r;
    vcp_client *c = client("VCP_TOKEN", 0);

    assert_int_equal(vcp_get_account_info(c, &a, &r), VCP_E_OK);
    assert_non_null(a);
    assert_string_equal(a->name, "Lib");
    assert_true(strncmp(a->id, "pa:", 3) == 0);
    assert_string_equal(vcp_account_first_superadmin(a), env("VCP_FROM"));
    assert_true(a->members_count == 2);
    int admins = 0;
    for (size_t i = 0; i < a->members_count; i++)
        admins += strcmp(a->members[i].role, "admin") == 0 &&
                  strcmp(a->members[i].id, env("VCP_ADMIN_FROM")) == 0;
    assert_int_equal(admins, 1);
    assert_true(a->event_types_count > 0);
    assert_true(a->webhook[0] != '\0');
    vcp_account_free(a);
    vcp_client_free(c);
}

static void test_webhook(void **state)
{
    struct vcp_account *a = NULL;
    struct vcp_result r;
    vcp_client *c = client("VCP_TOKEN_HOOK", 0);

    assert_int_equal(vcp_set_webhook(c, env("VCP_HOOK_URL"), &r), VCP_E_OK);
    assert_int_equal(vcp_get_account_info(c, &a, &r), VCP_E_OK);
    assert_string_equal(a->webhook, env("VCP_HOOK_URL"));
    vcp_account_free(a);
    /* A webhook that does not answer: 1 invalidUrl, with vcpd's reason. */
    assert_int_equal(vcp_set_webhook(c, env("VCP_BAD_HOOK"), &r), VCP_E_STATUS);
    assert_int_equal(r.status, VCP_STATUS_INVALID_URL);
    assert_string_equal(r.status_name, "invalidUrl");
    assert_true(r.detail[0] != '\0');
    assert_int_equal(vcp_set_webhook(c, "not a url", &r), VCP_E_STATUS);
    assert_int_equal(r.status, VCP_STATUS_INVALID_URL);
    assert_int_equal(vcp_remove_webhook(c, &r), VCP_E_OK);
    assert_int_equal(vcp_get_account_info(c, &a, &r), VCP_E_OK);
    assert_string_equal(a->webhook, "");
    vcp_account_free(a);
    /* Without a webhook, posting is refused. */
    vcp_msg *m = vcp_msg_text(env("VCP_HOOK_FROM"), "x");
    assert_int_equal(vcp_post(c, m, &r), VCP_E_STATUS);
    assert_int_equal(r.status, VCP_STATUS_WEBHOOK_NOT_SET);
    vcp_msg_free(m);
    vcp_client_free(c);
}

/* One status per channel state or request, as vcpd answers them. */
static void test_statuses(void **state)
{
    static const struct {
        const char *token_var;
        int status;
        const char *name;
    } cases[] = {
        {"VCP_TOKEN_BOGUS", VCP_STATUS_INVALID_AUTH_TOKEN, "invalidAuthToken"},
        {"VCP_TOKEN_BLOCKED", VCP_STATUS_PUBLIC_ACCOUNT_BLOCKED, "publicAccountBlocked"},
        {"VCP_TOKEN_DELETED", VCP_STATUS_PUBLIC_ACCOUNT_NOT_FOUND, "publicAccountNotFound"},
        {"VCP_TOKEN_SUSPENDED", VCP_STATUS_PUBLIC_ACCOUNT_SUSPENDED, "publicAccountSuspended"},
        {"VCP_TOKEN_NOHOOK", VCP_STATUS_WEBHOOK_NOT_SET, "webhookNotSet"},
    };
    struct vcp_result r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vcp_client *c = client(cases[i].token_var, 3);
        vcp_msg *m = vcp_msg_text(env("VCP_FROM"), "x");
        assert_int_equal(vcp_post(c, m, &r), VCP_E_STATUS);
        assert_int_equal(r.status, cases[i].status);
        assert_string_equal(r.status_name, cases[i].name);
        assert_int_equal(r.attempts, 1); /* not retried */
        assert_false(r.maybe_sent);
        vcp_msg_free(m);
        vcp_client_free(c);
    }
    /* badData decided by the server alone: an admin (not superadmin) as sender. */
    vcp_client *c = client("VCP_TOKEN", 0);
    vcp_msg *m = vcp_msg_text(env("VCP_ADMIN_FROM"), "x");
    assert_int_equal(vcp_post(c, m, &r), VCP_E_STATUS);
    assert_int_equal(r.status, VCP_STATUS_BAD_DATA);
    assert_non_null(strstr(r.detail, "superadmin"));
    vcp_msg_free(m);
    /* missingData / badData found locally: nothing sent, vcpd's wording. */
    m = vcp_msg_file(env("VCP_FROM"), "https://e.com/x.exe", 10, "x.exe");
    assert_int_equal(vcp_post(c, m, &r), VCP_E_INVALID);
    assert_int_equal(r.status, VCP_STATUS_BAD_DATA);
    assert_int_equal(r.attempts, 0);
    vcp_msg_free(m);
    m = vcp_msg_contact(env("VCP_FROM"), NULL, "+1");
    assert_int_equal(vcp_post(c, m, &r), VCP_E_INVALID);
    assert_int_equal(r.status, VCP_STATUS_MISSING_DATA);
    vcp_msg_free(m);
    vcp_client_free(c);
    /* tooManyRequests: a channel allowing 1 request a minute, no retries. */
    c = client("VCP_TOKEN_RATE", 0);
    m = vcp_msg_text(env("VCP_RATE_FROM"), "x");
    int first = vcp_post(c, m, &r);
    assert_int_equal(first, VCP_E_OK);
    assert_int_equal(vcp_post(c, m, &r), VCP_E_STATUS);
    assert_int_equal(r.status, VCP_STATUS_TOO_MANY_REQUESTS);
    assert_string_equal(r.status_name, "tooManyRequests");
    vcp_msg_free(m);
    vcp_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_types),
        cmocka_unit_test(test_account),
        cmocka_unit_test(test_webhook),
        cmocka_unit_test(test_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
