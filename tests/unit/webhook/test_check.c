/*
 * Live tests of the asynchronous webhook check (src/webhook/check.c) against
 * real receivers on 127.0.0.1.  receiver.py makes a CA and certificates for
 * the run, starts the receivers on ephemeral ports and runs this program with
 * WEBHOOK_TEST_DIR, WEBHOOK_TOKEN and WEBHOOK_PORT_{GOOD,WRONGNAME,
 * SELFSIGNED,HTTP,CLOSER,GARBAGE} in the environment (and with bogus proxy variables, which
 * the checker must ignore).  Every check here goes to 127.0.0.1 or
 * "localhost" only.
 *
 * Every test also asserts the callback contract: done is called exactly once
 * per check, on the checker's thread, and no detail contains the token.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "vcp/status.h"
#include "webhook/webhook.h"

#define TS        1457764197627ULL
#define MT        241256543215ULL
#define CHAT      "vcp \"test\" \\ caf\xc3\xa9\n"
#define MAX_SLOTS 64

/* Where the receivers are, from receiver.py. */
static struct {
    const char *dir;
    const char *token;
    int good, wrong, self, http, closer, garbage;
    char ca[1024];
} env;

/* One check's outcome, as the done callback saw it. */
struct slot {
    struct batch *b;
    int calls;
    int status;
    char detail[512];
    pthread_t thread;
};

/* A set of checks started together. */
struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, finished;
    struct slot slots[MAX_SLOTS];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_done(void *arg, int status, const char *detail)
{
    struct slot *s = arg;
    pthread_mutex_lock(&s->b->mu);
    s->calls++;
    s->status = status;
    snprintf(s->detail, sizeof s->detail, "%s", detail != NULL ? detail : "(null)");
    s->thread = pthread_self();
    s->b->finished++;
    if (getenv("WEBHOOK_TEST_VERBOSE") != NULL)
        fprintf(stderr, "  done: %d \"%s\"\n", status, s->detail);
    pthread_cond_broadcast(&s->b->cv);
    pthread_mutex_unlock(&s->b->mu);
}

static struct batch *batch_new(void)
{
    struct batch *b = calloc(1, sizeof *b);
    assert_non_null(b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    return b;
}

static void batch_start(struct batch *b, struct webhook *w, const char *url)
{
    assert_true(b->started < MAX_SLOTS);
    struct slot *s = &b->slots[b->started++];
    s->b = b;
    struct webhook_check c = {
        .url = url,
        .token = env.token,
        .chat_hostname = CHAT,
        .message_token = MT,
        .timestamp_ms = TS,
        .done = on_done,
        .arg = s,
    };
    assert_int_equal(webhook_check_start(w, &c), 0);
}

/* Waits until every started check has finished; fails after timeout_s. */
static void batch_wait(struct batch *b, double timeout_s)
{
    double end = now_s() + timeout_s;
    pthread_mutex_lock(&b->mu);
    while (b->finished < b->started) {
        if (now_s() > end) {
            pthread_mutex_unlock(&b->mu);
            fail_msg("only %d of %d checks finished in %.0f s", b->finished, b->started, timeout_s);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    pthread_mutex_unlock(&b->mu);
}

/* After webhook_free: the callback contract held for every check. */
static void batch_free(struct batch *b)
{
    for (int i = 0; i < b->started; i++) {
        const struct slot *s = &b->slots[i];
        assert_int_equal(s->calls, 1);
        assert_false(pthread_equal(s->thread, pthread_self()));
        if (strstr(s->detail, env.token) != NULL)
            fail_msg("detail leaks the token: %s", s->detail);
        if (s->status == VCP_STATUS_OK)
            assert_string_equal(s->detail, "");
        else
            assert_int_equal(s->status, VCP_STATUS_INVALID_URL);
    }
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* A checker configuration; the test CA is the extra CA unless no_ca. */
static struct webhook_cfg cfg_of(bool allow_private, bool no_ca)
{
    struct webhook_cfg cfg = {
        .allow_private = allow_private,
        .extra_ca = no_ca ? NULL : env.ca,
        .connect_timeout_ms = 2000,
        .total_timeout_ms = 8000,
    };
    return cfg;
}

static struct webhook *checker(const struct webhook_cfg *cfg)
{
    struct webhook *w = NULL;
    char err[256];
    if (webhook_new(&w, cfg, err, sizeof err) != 0)
        fail_msg("webhook_new: %s", err);
    assert_non_null(w);
    return w;
}

/* Runs one check with a fresh checker; returns its status, detail in d. */
static int check_once(const struct webhook_cfg *cfg, const char *url, char *d, size_t dlen)
{
    struct webhook *w = checker(cfg);
    struct batch *b = batch_new();
    batch_start(b, w, url);
    batch_wait(b, 20);
    webhook_free(w);
    int status = b->slots[0].status;
    snprintf(d, dlen, "%s", b->slots[0].detail);
    batch_free(b);
    return status;
}

static void url_of(char *buf, size_t len, const char *scheme, const char *host, int port,
                   const char *path)
{
    snprintf(buf, len, "%s://%s:%d%s", scheme, host, port, path);
}

static void assert_prefix(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", s, prefix);
}

/* Reads dir/name into buf (NUL-terminated); returns its length or -1. */
static long read_test_file(const char *name, char *buf, size_t len)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", env.dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

/* The receiver got exactly our body, signed with the token in both places. */
static void assert_recorded(const char *id)
{
    char name[64], got[4096], want[4096], qsig[128], hsig[128], hex[65];
    snprintf(name, sizeof name, "%s.body", id);
    long n = read_test_file(name, got, sizeof got);
    assert_true(n > 0);
    int wn = webhook_body(want, sizeof want, TS, CHAT, MT);
    assert_int_equal(n, wn);
    assert_memory_equal(got, want, (size_t)wn);
    webhook_sign(env.token, want, (size_t)wn, hex);
    snprintf(name, sizeof name, "%s.qsig", id);
    assert_true(read_test_file(name, qsig, sizeof qsig) == 64);
    assert_string_equal(qsig, hex);
    snprintf(name, sizeof name, "%s.hsig", id);
    assert_true(read_test_file(name, hsig, sizeof hsig) == 64);
    assert_string_equal(hsig, hex);
}

static void test_ok_signed(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    char url[256], d[512];

    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/verify?id=ok1");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_OK);
    assert_recorded("ok1");

    /* No query yet: "?sig="; the fragment must not swallow it. */
    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/verify#frag?x=1");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_OK);
    assert_recorded("noid");

    /* A query ending in '&', a fragment, and a host name in the cert. */
    url_of(url, sizeof url, "https", "localhost", env.good, "/verify?id=ok3&#top");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_OK);
    assert_recorded("ok3");
}

static void test_wakeup_is_prompt(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    struct webhook *w = checker(&cfg);
    struct batch *b = batch_new();
    char url[256];

    /* After a first check the thread goes back to sleep in curl_multi_poll
     * (for up to a second); a new check must wake it at once. */
    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/ok");
    batch_start(b, w, url);
    batch_wait(b, 20);
    usleep(50 * 1000);
    double t0 = now_s();
    batch_start(b, w, url);
    batch_wait(b, 20);
    double took = now_s() - t0;
    assert_int_equal(b->slots[0].status, VCP_STATUS_OK);
    assert_int_equal(b->slots[1].status, VCP_STATUS_OK);
    if (took > 0.6)
        fail_msg("a check on an idle checker took %.2f s: wakeup missed?", took);
    webhook_free(w);
    batch_free(b);
}

/* A path on GOOD and the detail it must give (NULL: success). */
struct status_case {
    const char *path;
    const char *detail;
};

static const struct status_case status_cases[] = {
    {"/status/200", NULL},
    {"/big", NULL}, /* 200 with 1 MiB: read a little, then hang up */
    {"/status/500", "webhook answered HTTP 500"},
    {"/status/404", "webhook answered HTTP 404"},
    {"/status/204", "webhook answered HTTP 204"},
    {"/status/201", "webhook answered HTTP 201"},
    {"/status/302", "webhook answered HTTP 302 (redirects are not followed)"},
    {"/status/301", "webhook answered HTTP 301 (redirects are not followed)"},
    {"/status/307", "webhook answered HTTP 307 (redirects are not followed)"},
};

static void test_status_codes(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    for (size_t i = 0; i < sizeof status_cases / sizeof status_cases[0]; i++) {
        const struct status_case *c = &status_cases[i];
        char url[256], d[512];
        url_of(url, sizeof url, "https", "127.0.0.1", env.good, c->path);
        int st = check_once(&cfg, url, d, sizeof d);
        if (c->detail == NULL && st != VCP_STATUS_OK)
            fail_msg("%s: %d \"%s\", want ok", c->path, st, d);
        if (c->detail != NULL && (st != VCP_STATUS_INVALID_URL || strcmp(d, c->detail) != 0))
            fail_msg("%s: %d \"%s\", want invalidUrl \"%s\"", c->path, st, d, c->detail);
    }
}

static void test_unknown_ca(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, true); /* system CAs only */
    char url[256], d[512];
    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/ok");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    assert_prefix(d, "TLS: ");
    assert_non_null(strstr(d, "certificate"));
}

static void test_explicit_system_ca(void **state)
{
    (void)state;
    /* The test CA as the "system" bundle and no extra CA: trusted. */
    struct webhook_cfg cfg = cfg_of(true, true);
    cfg.system_ca = env.ca;
    char url[256], d[512];
    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/ok");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_OK);
}

static void test_self_signed(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    char url[256], d[512];
    url_of(url, sizeof url, "https", "127.0.0.1", env.self, "/ok");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    assert_prefix(d, "TLS: ");
}

static void test_wrong_host_name(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    char url[256], d[512];
    url_of(url, sizeof url, "https", "127.0.0.1", env.wrong, "/ok");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    assert_prefix(d, "TLS: ");
    url_of(url, sizeof url, "https", "localhost", env.wrong, "/ok");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    assert_prefix(d, "TLS: ");
}

static void test_timeout(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    cfg.total_timeout_ms = 1000;
    char url[256], d[512];
    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/slow/3000");
    double t0 = now_s();
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    double took = now_s() - t0;
    assert_string_equal(d, "timed out after 1000 ms");
    if (took < 0.9 || took > 2.5)
        fail_msg("timeout of 1000 ms took %.2f s", took);
}

static void test_ssrf_guard(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(false, false);
    char url[256], d[512], buf[64];

    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/verify?id=ssrf1");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    assert_string_equal(d, "address not allowed: 127.0.0.1");
    assert_int_equal(read_test_file("ssrf1.body", buf, sizeof buf), -1); /* never arrived */

    url_of(url, sizeof url, "https", "localhost", env.good, "/verify?id=ssrf2");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    if (strcmp(d, "address not allowed: 127.0.0.1") != 0 &&
        strcmp(d, "address not allowed: ::1") != 0)
        fail_msg("localhost: \"%s\"", d);
    assert_int_equal(read_test_file("ssrf2.body", buf, sizeof buf), -1);

    url_of(url, sizeof url, "https", "[::ffff:127.0.0.1]", env.good, "/verify?id=ssrf3");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    assert_prefix(d, "address not allowed: ");
    assert_int_equal(read_test_file("ssrf3.body", buf, sizeof buf), -1);
}

static void test_connect_refused(void **state)
{
    (void)state;
    /* A port that is bound but not listening refuses connections. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);

    struct webhook_cfg cfg = cfg_of(true, false);
    char url[256], d[512];
    url_of(url, sizeof url, "https", "127.0.0.1", ntohs(sa.sin_port), "/ok");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    assert_prefix(d, "could not connect: ");
    close(fd);
}

static long group_max(const char *group)
{
    char name[64], buf[32];
    snprintf(name, sizeof name, "%s.max", group);
    if (read_test_file(name, buf, sizeof buf) <= 0)
        return -1;
    return strtol(buf, NULL, 10);
}

static void test_fresh_connection_each_time(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    struct webhook *w = checker(&cfg);
    struct batch *b = batch_new();
    char url[256], buf[32];

    /* The receiver keeps connections alive; the checker must not reuse
     * them, or later checks would skip the connect and the SSRF guard. */
    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/ok");
    assert_true(read_test_file("connections", buf, sizeof buf) > 0);
    long before = strtol(buf, NULL, 10);
    for (int i = 0; i < 3; i++) {
        batch_start(b, w, url);
        batch_wait(b, 20);
        assert_int_equal(b->slots[i].status, VCP_STATUS_OK);
    }
    assert_true(read_test_file("connections", buf, sizeof buf) > 0);
    assert_int_equal(strtol(buf, NULL, 10) - before, 3);
    webhook_free(w);
    batch_free(b);
}

static void test_fifty_in_parallel(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    struct webhook *w = checker(&cfg);
    struct batch *b = batch_new();
    char url[256];

    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/slow/1000?group=p50");
    double t0 = now_s();
    for (int i = 0; i < 50; i++)
        batch_start(b, w, url);
    batch_wait(b, 30);
    double took = now_s() - t0;
    for (int i = 0; i < 50; i++)
        if (b->slots[i].status != VCP_STATUS_OK)
            fail_msg("check %d: %s", i, b->slots[i].detail);
    if (getenv("WEBHOOK_TEST_VERBOSE") != NULL)
        fprintf(stderr, "  50 checks of 1 s took %.2f s\n", took);
    if (took < 0.95 || took >= 5.0)
        fail_msg("50 checks of 1 s took %.2f s", took);
    long most = group_max("p50");
    if (most < 40)
        fail_msg("only %ld of 50 checks were at the receiver at once", most);
    webhook_free(w);
    batch_free(b);
}

static void test_max_parallel_queues(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    cfg.max_parallel = 2;
    struct webhook *w = checker(&cfg);
    struct batch *b = batch_new();
    char url[256];

    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/slow/400?group=mp2");
    double t0 = now_s();
    for (int i = 0; i < 6; i++)
        batch_start(b, w, url);
    batch_wait(b, 30);
    double took = now_s() - t0;
    for (int i = 0; i < 6; i++)
        assert_int_equal(b->slots[i].status, VCP_STATUS_OK);
    assert_int_equal(group_max("mp2"), 2);
    if (took < 1.15 || took > 5.0)
        fail_msg("6 checks of 0.4 s, 2 at a time, took %.2f s", took);
    webhook_free(w);
    batch_free(b);
}

static void test_http_only_when_allowed(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    char url[256], d[512];
    url_of(url, sizeof url, "http", "127.0.0.1", env.http, "/verify?id=http1");

    /* Refused by policy, and by the checker even if the policy was skipped. */
    assert_int_equal(webhook_url_check(url, false, d, sizeof d), VCP_STATUS_INVALID_URL);
    assert_string_equal(d, "url: must use https");
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
    assert_string_equal(d, "url: must use https");
    char buf[64];
    assert_int_equal(read_test_file("http1.body", buf, sizeof buf), -1);

    cfg.allow_http = true;
    assert_int_equal(webhook_url_check(url, true, d, sizeof d), VCP_STATUS_OK);
    assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_OK);
    assert_recorded("http1");
}

/* Receivers that misbehave get details that say what happened -- never
 * "url: must use https", which libcurl's code for an answer without a
 * status line (HTTP/0.9) used to become. */
static void test_misbehaving_receivers(void **state)
{
    (void)state;
    static const struct {
        const char *scheme;
        int *port;
        const char *path;
        const char *want; /* detail prefix, or several separated by '|' */
    } rows[] = {
        {"https", &env.good, "/raw/garbage", "webhook answered without an HTTP status line"},
        {"http", &env.http, "/raw/garbage", "webhook answered without an HTTP status line"},
        {"https", &env.good, "/raw/badheader", "webhook's answer is not valid HTTP: "},
        {"https", &env.good, "/raw/short",
         "webhook answered HTTP 200, then closed the connection before the end of its body"},
        {"https", &env.good, "/raw/close", "webhook closed the connection without answering"},
        {"http", &env.http, "/raw/close", "webhook closed the connection without answering"},
        {"https", &env.good, "/raw/reset", "connection lost while reading the answer: "},
        /* closed unread: the request may meet a reset, on the send or the read */
        {"http", &env.closer, "/",
         "webhook closed the connection without answering|connection lost while "},
        {"https", &env.closer, "/", "TLS: connection closed during the handshake"},
        {"http", &env.garbage, "/", "webhook answered without an HTTP status line"},
        {"https", &env.garbage, "/", "TLS: "},
    };
    struct webhook_cfg cfg = cfg_of(true, false);
    char url[256], d[512];

    cfg.allow_http = true;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        url_of(url, sizeof url, rows[i].scheme, "127.0.0.1", *rows[i].port, rows[i].path);
        assert_int_equal(check_once(&cfg, url, d, sizeof d), VCP_STATUS_INVALID_URL);
        bool ok = false;
        for (const char *w = rows[i].want; *w != '\0' && !ok;) {
            size_t n = strcspn(w, "|");
            ok = strncmp(d, w, n) == 0;
            w += n + (w[n] == '|');
        }
        if (!ok)
            fail_msg("%s: \"%s\" does not start with \"%s\"", url, d, rows[i].want);
        if (strstr(d, "must use https") != NULL)
            fail_msg("%s: \"%s\"", url, d);
    }
}

static void test_shutdown_finishes_everything(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    cfg.max_parallel = 1;
    struct webhook *w = checker(&cfg);
    struct batch *b = batch_new();
    char url[256];

    url_of(url, sizeof url, "https", "127.0.0.1", env.good, "/slow/5000");
    for (int i = 0; i < 3; i++)
        batch_start(b, w, url); /* one in flight, two queued */
    usleep(300 * 1000);
    double t0 = now_s();
    webhook_free(w);
    double took = now_s() - t0;
    assert_int_equal(b->finished, 3); /* before webhook_free returned */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(b->slots[i].status, VCP_STATUS_INVALID_URL);
        assert_string_equal(b->slots[i].detail, "shutting down");
    }
    if (took > 2.0)
        fail_msg("webhook_free took %.2f s", took);
    batch_free(b);
}

static void test_new_errors(void **state)
{
    (void)state;
    struct webhook *w = (struct webhook *)&w; /* must be reset to NULL */
    char err[256], path[1200];
    struct webhook_cfg cfg = cfg_of(true, true);

    cfg.extra_ca = "/nonexistent/vcp-ca.pem";
    assert_int_equal(webhook_new(&w, &cfg, err, sizeof err), -1);
    assert_null(w);
    assert_non_null(strstr(err, "/nonexistent/vcp-ca.pem"));

    snprintf(path, sizeof path, "%s/ca.cnf", env.dir); /* not PEM */
    cfg.extra_ca = path;
    assert_int_equal(webhook_new(&w, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "no PEM certificate"));

    cfg.extra_ca = NULL;
    cfg.system_ca = "/nonexistent/bundle.crt";
    assert_int_equal(webhook_new(&w, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/bundle.crt"));

    webhook_free(NULL);
}

static void test_start_rejects_bad_input(void **state)
{
    (void)state;
    struct webhook_cfg cfg = cfg_of(true, false);
    struct webhook *w = checker(&cfg);
    struct webhook_check c = {.url = "https://127.0.0.1:1/", .token = "t", .done = NULL};
    assert_int_equal(webhook_check_start(w, &c), -1);
    assert_int_equal(webhook_check_start(w, NULL), -1);
    assert_int_equal(webhook_check_start(NULL, &c), -1);
    webhook_free(w);
}

static int env_port(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL)
        return -1;
    char *end;
    errno = 0;
    long p = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || p < 1 || p > 65535)
        return -1;
    return (int)p;
}

int main(void)
{
    env.dir = getenv("WEBHOOK_TEST_DIR");
    env.token = getenv("WEBHOOK_TOKEN");
    env.good = env_port("WEBHOOK_PORT_GOOD");
    env.wrong = env_port("WEBHOOK_PORT_WRONGNAME");
    env.self = env_port("WEBHOOK_PORT_SELFSIGNED");
    env.http = env_port("WEBHOOK_PORT_HTTP");
    env.closer = env_port("WEBHOOK_PORT_CLOSER");
    env.garbage = env_port("WEBHOOK_PORT_GARBAGE");
    if (env.dir == NULL || env.token == NULL || env.good < 0 || env.wrong < 0 || env.self < 0 ||
        env.http < 0 || env.closer < 0 || env.garbage < 0) {
        fprintf(stderr, "run me through receiver.py (it sets WEBHOOK_* for the receivers)\n");
        return 2;
    }
    snprintf(env.ca, sizeof env.ca, "%s/ca.pem", env.dir);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_signed),
        cmocka_unit_test(test_wakeup_is_prompt),
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_unknown_ca),
        cmocka_unit_test(test_explicit_system_ca),
        cmocka_unit_test(test_self_signed),
        cmocka_unit_test(test_wrong_host_name),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_ssrf_guard),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_fresh_connection_each_time),
        cmocka_unit_test(test_fifty_in_parallel),
        cmocka_unit_test(test_max_parallel_queues),
        cmocka_unit_test(test_http_only_when_allowed),
        cmocka_unit_test(test_misbehaving_receivers),
        cmocka_unit_test(test_shutdown_finishes_everything),
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_start_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
