/*
 * Store contract tests: what every backend must do, written only against
 * struct store_ops and a DSN (fixture.h picks it), so the same table runs
 * against SQLite now and PostgreSQL later.  Backend-specific behaviour
 * (files, migrations, pragmas) is tested in test_store_sqlite.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "store/store.h"

#define S(state) (((struct fx *)*(state))->s)

static void assert_channel_equal(const struct channel *a, const struct channel *b)
{
    assert_int_equal(a->id, b->id);
    assert_string_equal(a->pa_id, b->pa_id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->uri, b->uri);
    assert_string_equal(a->icon, b->icon);
    assert_string_equal(a->background, b->background);
    assert_string_equal(a->category, b->category);
    assert_string_equal(a->subcategory, b->subcategory);
    assert_string_equal(a->country, b->country);
    assert_true(a->lat == b->lat);
    assert_true(a->lon == b->lon);
    assert_string_equal(a->webhook, b->webhook);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->rate_count, b->rate_count);
    assert_int_equal(a->rate_window_s, b->rate_window_s);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_true(a->epoch == b->epoch);
}

/* A post of channel ch with token tok, type and a body naming both. */
static struct post mkpost(int64_t ch, uint64_t tok, const char *type, char *body, size_t body_len)
{
    struct post p;

    memset(&p, 0, sizeof p);
    p.token = tok;
    p.channel = ch;
    p.created_ms = 1700000000000 + (int64_t)(tok % 1000);
    snprintf(p.type, sizeof p.type, "%s", type);
    snprintf(p.from, sizeof p.from, "AAAAAAAAAAAAAAAAAAAAA%03d==", (int)(tok % 1000));
    snprintf(body, body_len, "{\"type\":\"%s\",\"text\":\"post %llu\"}", type,
             (unsigned long long)tok);
    p.json = body;
    return p;
}

/* Number of posts of ch, through post_list. */
static size_t count_posts(struct store *s, int64_t ch)
{
    struct post *v;
    size_t n;

    assert_int_equal(store_post_list(s, ch, 0, NULL, 1000000, &v, &n), STORE_OK);
    store_posts_free(v, n);
    return n;
}

/* ---- channels ----------------------------------------------------------------------------- */

static void test_channel_create_and_get(void **state)
{
    struct store *s = S(state);
    struct channel c, got;
    uint8_t h[STORE_HASH_LEN], other[STORE_HASH_LEN];
    int64_t before = fx_now_ms();

    fx_channel(&c, fx_unique(), h);
    c.id = 12345;       /* ignored: the store assigns it */
    c.created_ms = 1;   /* likewise */
    c.posts_count = 99; /* likewise */
    assert_int_equal(store_channel_create(s, &c, h, NULL, 0), STORE_OK);
    assert_true(c.id > 0);
    assert_true(c.created_ms >= before && c.created_ms <= fx_now_ms());
    assert_int_equal(c.posts_count, 0);

    memset(&got, 0xff, sizeof got);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
    assert_channel_equal(&got, &c);
    assert_int_equal(got.posts_count, 0); /* never counted on the hot path */

    memset(&got, 0xff, sizeof got);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_channel_equal(&got, &c);
    assert_int_equal(got.posts_count, 0);

    fx_hash(other, fx_unique());
    assert_int_equal(store_channel_by_token(s, other, &got), STORE_NOTFOUND);
    assert_int_equal(store_channel_by_pa_id(s, "pa:00000000000000000000", &got), STORE_NOTFOUND);
}

static void test_channel_unique(void **state)
{
    struct store *s = S(state);
    struct channel a, b, got;
    uint8_t ha[STORE_HASH_LEN], hb[STORE_HASH_LEN];
    char hex[2 * STORE_HASH_LEN + 1];

    fx_channel(&a, fx_unique(), ha);
    assert_int_equal(store_channel_create(s, &a, ha, NULL, 0), STORE_OK);

    /* same pa_id, other hash */
    fx_channel(&b, fx_unique(), hb);
    snprintf(b.pa_id, sizeof b.pa_id, "%s", a.pa_id);
    assert_int_equal(store_channel_create(s, &b, hb, NULL, 0), STORE_EXISTS);
    assert_int_equal(store_channel_by_token(s, hb, &got), STORE_NOTFOUND);

    /* same hash, other pa_id */
    fx_channel(&b, fx_unique(), hb);
    assert_int_equal(store_channel_create(s, &b, ha, NULL, 0), STORE_EXISTS);
    assert_int_equal(store_channel_by_pa_id(s, b.pa_id, &got), STORE_NOTFOUND);

    /* the message says what, never the hash itself */
    assert_true(strlen(store_errmsg(s)) > 0);
    for (int i = 0; i < STORE_HASH_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", ha[i]);
    assert_null(strstr(store_errmsg(s), hex));

    /* names are not unique */
    fx_channel(&b, fx_unique(), hb);
    snprintf(b.name, sizeof b.name, "%s", a.name);
    assert_int_equal(store_channel_create(s, &b, hb, NULL, 0), STORE_OK);
}

static void test_channel_list(void **state)
{
    struct store *s = S(state);
    struct channel made[3], *v;
    char body[128];
    size_t n, found = 0;

    for (int i = 0; i < 3; i++)
        fx_make_channel(s, &made[i], NULL);
    for (int i = 0; i < 3; i++) {
        uint64_t t = fx_tokens(1);
        struct post p = mkpost(made[1].id, t, "text", body, sizeof body);
        assert_int_equal(store_post_insert_batch(s, &p, 1), STORE_OK);
    }

    assert_int_equal(store_channel_list(s, &v, &n), STORE_OK);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_true(v[i].id > v[i - 1].id); /* oldest first */
        for (int k = 0; k < 3; k++) {
            if (v[i].id != made[k].id)
                continue;
            assert_int_equal(k, (int)found); /* in creation order */
            assert_channel_equal(&v[i], &made[k]);
            assert_int_equal(v[i].posts_count, k == 1 ? 3 : 0);
            found++;
        }
    }
    assert_int_equal(found, 3);
    free(v);

    struct channel got;
    assert_int_equal(store_channel_by_pa_id(s, made[1].pa_id, &got), STORE_OK);
    assert_int_equal(got.posts_count, 3);
}

static void test_channel_state(void **state)
{
    struct store *s = S(state);
    struct channel c, got;
    uint8_t h[STORE_HASH_LEN];
    const int states[] = {CHANNEL_BLOCKED, CHANNEL_SUSPENDED, CHANNEL_ACTIVE, CHANNEL_DELETED};

    fx_make_channel(s, &c, h);
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        assert_int_equal(store_channel_set_state(s, c.id, states[i]), STORE_OK);
        assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
        assert_int_equal(got.state, states[i]);
        assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
        assert_int_equal(got.state, states[i]);
    }
    /* deleted keeps its token hash, so the old token still finds it (answers 8) */
    assert_int_equal(got.state, CHANNEL_DELETED);
    assert_int_equal(store_channel_set_state(s, c.id + 1000000, CHANNEL_BLOCKED), STORE_NOTFOUND);
    /* a state outside the enum is refused, and the stored one is kept */
    assert_int_equal(store_channel_set_state(s, c.id, 7), STORE_ERROR);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
    assert_int_equal(got.state, CHANNEL_DELETED);
}

static void test_channel_token_rotation(void **state)
{
    struct store *s = S(state);
    struct channel c, d, got;
    uint8_t h[STORE_HASH_LEN], hd[STORE_HASH_LEN], fresh[STORE_HASH_LEN];

    fx_make_channel(s, &c, h);
    fx_make_channel(s, &d, hd);
    fx_hash(fresh, fx_unique());

    assert_int_equal(store_channel_set_token(s, c.id, fresh), STORE_OK);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_NOTFOUND);
    assert_int_equal(store_channel_by_token(s, fresh, &got), STORE_OK);
    assert_int_equal(got.id, c.id);

    /* another channel's hash is taken */
    assert_int_equal(store_channel_set_token(s, c.id, hd), STORE_EXISTS);
    assert_int_equal(store_channel_by_token(s, fresh, &got), STORE_OK);
    assert_int_equal(got.id, c.id);
    assert_int_equal(store_channel_by_token(s, hd, &got), STORE_OK);
    assert_int_equal(got.id, d.id);

    assert_int_equal(store_channel_set_token(s, c.id + 1000000, h), STORE_NOTFOUND);
}

static void test_channel_webhook(void **state)
{
    struct store *s = S(state);
    struct channel c, got;
    uint8_t h[STORE_HASH_LEN];

    fx_make_channel(s, &c, h);
    assert_string_equal(c.webhook, "");
    assert_int_equal(store_channel_set_webhook(s, c.id, "https://hooks.example.com/v?x=1"),
                     STORE_OK);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
    assert_string_equal(got.webhook, "https://hooks.example.com/v?x=1");

    assert_int_equal(store_channel_set_webhook(s, c.id, ""), STORE_OK);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
    assert_string_equal(got.webhook, "");

    assert_int_equal(store_channel_set_webhook(s, c.id, "https://a.example/"), STORE_OK);
    assert_int_equal(store_channel_set_webhook(s, c.id, NULL), STORE_OK);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_string_equal(got.webhook, "");

    assert_int_equal(store_channel_set_webhook(s, c.id + 1000000, "https://a.example/"),
                     STORE_NOTFOUND);
}

static void test_channel_rate(void **state)
{
    struct store *s = S(state);
    struct channel c, got;
    uint8_t h[STORE_HASH_LEN];

    fx_make_channel(s, &c, h);
    assert_int_equal(store_channel_set_rate(s, c.id, 7, 60), STORE_OK);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
    assert_int_equal(got.rate_count, 7);
    assert_int_equal(got.rate_window_s, 60);
    assert_int_equal(store_channel_set_rate(s, c.id, 0, 1), STORE_OK); /* unlimited */
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_OK);
    assert_int_equal(got.rate_count, 0);
    assert_int_equal(got.rate_window_s, 1);
    assert_int_equal(store_channel_set_rate(s, c.id + 1000000, 1, 1), STORE_NOTFOUND);
}

/* Every string field at its full size, with multi-byte UTF-8, comes back intact. */
static void test_channel_full_fields(void **state)
{
    struct store *s = S(state);
    struct channel c, got;
    uint8_t h[STORE_HASH_LEN];
    char *fields[] = {c.name, c.uri, c.icon, c.background, c.category, c.subcategory, c.webhook};
    size_t sizes[] = {sizeof c.name,     sizeof c.uri,         sizeof c.icon,   sizeof c.background,
                      sizeof c.category, sizeof c.subcategory, sizeof c.webhook};

    fx_channel(&c, fx_unique(), h);
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        size_t i = 0;
        for (; i + 2 < sizes[f]; i += 2) {
            fields[f][i] = (char)0xd0; /* "ж", two bytes */
            fields[f][i + 1] = (char)0xb6;
        }
        for (; i + 1 < sizes[f]; i++)
            fields[f][i] = 'x';
        fields[f][sizes[f] - 1] = '\0';
    }
    assert_int_equal(store_channel_create(s, &c, h, NULL, 0), STORE_OK);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
    assert_channel_equal(&got, &c);
    assert_int_equal(strlen(got.webhook), sizeof got.webhook - 1);
}

/* set_details changes exactly the shown details; the rest of the channel stays. */
static void test_channel_details(void **state)
{
    struct store *s = S(state);
    struct channel c, d, got;
    uint8_t h[STORE_HASH_LEN];

    fx_channel(&c, fx_unique(), h);
    assert_int_equal(store_channel_create(s, &c, h, NULL, 0), STORE_OK);
    d = c;
    snprintf(d.name, sizeof d.name, "Renamed");
    snprintf(d.uri, sizeof d.uri, "renamed");
    snprintf(d.icon, sizeof d.icon, "https://example.com/i.jpg");
    snprintf(d.background, sizeof d.background, "https://example.com/b.jpg");
    snprintf(d.category, sizeof d.category, "News");
    snprintf(d.subcategory, sizeof d.subcategory, "Local");
    snprintf(d.country, sizeof d.country, "DE");
    d.lat = -33.5;
    d.lon = 151.25;
    snprintf(d.webhook, sizeof d.webhook, "https://ignored.example/"); /* not a detail */
    d.rate_count = 1;                                                  /* nor this */
    assert_int_equal(store_channel_set_details(s, c.id, &d), STORE_OK);
    snprintf(d.webhook, sizeof d.webhook, "%s", c.webhook);
    d.rate_count = c.rate_count;
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
    assert_channel_equal(&got, &d);
    assert_int_equal(store_channel_set_details(s, c.id + 1000000, &d), STORE_NOTFOUND);
}

/* ---- members ------------------------------------------------------------------------------ */

static struct member mkmember(const char *id, const char *name, int role)
{
    struct member m;

    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "%s", id);
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.avatar, sizeof m.avatar, "https://example.com/%s.png", name);
    m.role = role;
    return m;
}

static void assert_members(struct store *s, int64_t ch, const char *const *ids, size_t want)
{
    struct member *v;
    size_t n;

    assert_int_equal(store_member_list(s, ch, &v, &n), STORE_OK);
    assert_int_equal(n, want);
    if (want == 0)
        assert_null(v);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i].id, ids[i]);
    free(v);
}

static void test_members(void **state)
{
    struct store *s = S(state);
    int64_t a = fx_make_channel(s, NULL, NULL);
    int64_t b = fx_make_channel(s, NULL, NULL);
    struct member m1 = mkmember("01234567890123456789AB==", "Alice", ROLE_SUPERADMIN);
    struct member m2 = mkmember("zzzz", "Bob", ROLE_ADMIN);
    struct member m3 = mkmember("mmmm", "Carol", ROLE_ADMIN);
    struct member *v;
    size_t n;
    int role = -1;

    assert_members(s, a, NULL, 0);
    assert_int_equal(store_member_add(s, a, &m1), STORE_OK);
    assert_int_equal(store_member_add(s, a, &m2), STORE_OK);
    assert_int_equal(store_member_add(s, a, &m3), STORE_OK);
    {
        const char *want[] = {m1.id, m2.id, m3.id}; /* order added, not by id */
        assert_members(s, a, want, 3);
    }
    assert_int_equal(store_member_list(s, a, &v, &n), STORE_OK);
    assert_string_equal(v[0].name, "Alice");
    assert_string_equal(v[0].avatar, "https://example.com/Alice.png");
    assert_int_equal(v[0].role, ROLE_SUPERADMIN);
    assert_int_equal(v[1].role, ROLE_ADMIN);
    free(v);

    /* duplicate in the same channel; the same id in another channel is fine */
    struct member dup = mkmember(m2.id, "Bob again", ROLE_SUPERADMIN);
    assert_int_equal(store_member_add(s, a, &dup), STORE_EXISTS);
    assert_int_equal(store_member_add(s, b, &dup), STORE_OK);

    assert_int_equal(store_member_role(s, a, m1.id, &role), STORE_OK);
    assert_int_equal(role, ROLE_SUPERADMIN);
    assert_int_equal(store_member_role(s, a, m2.id, &role), STORE_OK);
    assert_int_equal(role, ROLE_ADMIN);
    assert_int_equal(store_member_role(s, b, m2.id, &role), STORE_OK);
    assert_int_equal(role, ROLE_SUPERADMIN);
    assert_int_equal(store_member_role(s, b, m1.id, &role), STORE_NOTFOUND);

    /* remove keeps the others' order; re-adding goes to the end */
    assert_int_equal(store_member_remove(s, a, m2.id), STORE_OK);
    assert_int_equal(store_member_remove(s, a, m2.id), STORE_NOTFOUND);
    assert_int_equal(store_member_role(s, a, m2.id, &role), STORE_NOTFOUND);
    {
        const char *want[] = {m1.id, m3.id};
        assert_members(s, a, want, 2);
    }
    assert_int_equal(store_member_remove(s, a, m3.id), STORE_OK);
    assert_int_equal(store_member_add(s, a, &m3), STORE_OK);
    assert_int_equal(store_member_add(s, a, &m2), STORE_OK);
    {
        const char *want[] = {m1.id, m3.id, m2.id};
        assert_members(s, a, want, 3);
    }
    {
        const char *want[] = {m2.id};
        assert_members(s, b, want, 1);
    }

    /* an unknown channel has no members and takes none */
    assert_int_equal(store_member_add(s, b + 1000000, &m1), STORE_NOTFOUND);
    assert_members(s, b + 1000000, NULL, 0);
    /* a role outside the enum is refused */
    struct member bad = mkmember("bad", "Bad", 5);
    assert_int_equal(store_member_add(s, a, &bad), STORE_ERROR);
}

/* ---- posts -------------------------------------------------------------------------------- */

static void test_posts_batch_and_list(void **state)
{
    struct store *s = S(state);
    int64_t a = fx_make_channel(s, NULL, NULL);
    int64_t b = fx_make_channel(s, NULL, NULL);
    uint64_t t0 = fx_tokens(50);
    struct post p[50], *v;
    char body[50][128];
    size_t n;

    /* tokens t0..t0+49: even ones in a (text, picture alternating by 4), odd in b */
    for (int i = 0; i < 50; i++)
        p[i] = mkpost(i % 2 ? b : a, t0 + (uint64_t)i, (i / 2) % 4 == 3 ? "picture" : "text",
                      body[i], sizeof body[i]);
    assert_int_equal(store_post_insert_batch(s, p, 50), STORE_OK);
    assert_int_equal(store_post_insert_batch(s, p, 0), STORE_OK);

    assert_int_equal(store_post_list(s, a, 0, NULL, 10, &v, &n), STORE_OK);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        const struct post *want = &p[48 - 2 * i]; /* newest first */
        assert_int_equal(v[i].token, want->token);
        assert_int_equal(v[i].channel, a);
        assert_int_equal(v[i].created_ms, want->created_ms);
        assert_string_equal(v[i].type, want->type);
        assert_string_equal(v[i].from, want->from);
        assert_string_equal(v[i].json, want->json);
    }
    store_posts_free(v, n);

    assert_int_equal(count_posts(s, a), 25);
    assert_int_equal(count_posts(s, b), 25);
    assert_int_equal(count_posts(s, b + 1000000), 0);
}

/* channel_reset empties one channel and sets its epoch; reset_all empties everything. */
static void test_resets(void **state)
{
    struct store *s = S(state);
    int64_t a = fx_make_channel(s, NULL, NULL);
    int64_t b = fx_make_channel(s, NULL, NULL);
    uint64_t t0 = fx_tokens(6), v;
    struct post p[6];
    struct channel *list;
    char body[6][128];
    int64_t n, chans;
    size_t len;

    for (int i = 0; i < 6; i++)
        p[i] = mkpost(i < 4 ? a : b, t0 + (uint64_t)i, "text", body[i], sizeof body[i]);
    assert_int_equal(store_post_insert_batch(s, p, 6), STORE_OK);
    v = store_config_version(s);
    assert_int_equal(store_channel_reset(s, a, 0x8000000000000001ULL, &n), STORE_OK);
    assert_int_equal(n, 4);
    assert_true(v == 0 || store_config_version(s) != v);
    assert_int_equal(count_posts(s, a), 0);
    assert_int_equal(count_posts(s, b), 2); /* the other channel keeps its posts */
    assert_int_equal(store_channel_list(s, &list, &len), STORE_OK);
    for (size_t i = 0; i < len; i++)
        if (list[i].id == a)
            assert_true(list[i].epoch == 0x8000000000000001ULL);
    free(list);
    assert_int_equal(store_channel_reset(s, a + 1000000, 1, &n), STORE_NOTFOUND);

    assert_int_equal(store_reset_all(s, &chans, &n), STORE_OK);
    assert_true(chans >= 2);
    assert_int_equal(n, 2);
    assert_int_equal(store_channel_list(s, &list, &len), STORE_OK);
    assert_int_equal(len, 0);
    free(list);
    assert_int_equal(count_posts(s, b), 0);
}

/* Faults are stored with their spec and counters; only add and remove move the config version. */
static void test_faults(void **state)
{
    struct store *s = S(state);
    int64_t a = fx_make_channel(s, NULL, NULL);
    struct fault_row f = {.channel = a, .spec = "{\"status\":12}", .remaining = 3}, g, *v;
    size_t n;
    int64_t k;
    uint64_t ver;

    ver = store_config_version(s);
    assert_int_equal(store_fault_add(s, &f), STORE_OK);
    assert_true(ver == 0 || store_config_version(s) != ver);
    g = f;
    g.spec = "{\"drop\":true}";
    g.remaining = -1;
    assert_int_equal(store_fault_add(s, &g), STORE_OK);
    ver = store_config_version(s);
    assert_int_equal(store_fault_count(s, f.id, 2, 5, 1), STORE_OK);
    assert_true(store_config_version(s) == ver);
    assert_int_equal(store_fault_list(s, a, &v, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].spec, "{\"status\":12}");
    assert_int_equal(v[0].remaining, 2);
    assert_int_equal(v[0].seen, 5);
    assert_int_equal(v[0].hits, 1);
    assert_int_equal(v[1].remaining, -1);
    store_faults_free(v, n);
    assert_int_equal(store_fault_remove(s, a, f.id, &k), STORE_OK);
    assert_int_equal(k, 1);
    assert_int_equal(store_fault_remove(s, a, f.id, &k), STORE_NOTFOUND);
    assert_int_equal(store_fault_remove(s, a, 0, &k), STORE_OK);
    assert_int_equal(k, 1);
    f.channel = a + 1000000;
    assert_int_equal(store_fault_add(s, &f), STORE_NOTFOUND);
}

/* The journal keeps the newest `keep` rows per channel, newest first, filtered. */
static void test_journal(void **state)
{
    struct store *s = S(state);
    int64_t a = fx_make_channel(s, NULL, NULL);
    int64_t b = fx_make_channel(s, NULL, NULL);
    struct journal_row rows[6], *v;
    struct journal_query q = {.status = -1, .limit = 100};
    size_t n;

    memset(rows, 0, sizeof rows);
    for (int i = 0; i < 6; i++) {
        rows[i].channel = i < 5 ? a : b + 1000000; /* the last: no such channel, skipped */
        rows[i].time_ms = 1000 + i;
        snprintf(rows[i].endpoint, sizeof rows[i].endpoint, "%s", i == 4 ? "set_webhook" : "post");
        rows[i].http = 200;
        rows[i].status = i % 2 ? 3 : 0;
        snprintf(rows[i].detail, sizeof rows[i].detail, "d%d", i);
        rows[i].body = "{}";
    }
    assert_int_equal(store_journal_append(s, rows, 6, 3), STORE_OK);
    assert_true(rows[0].id > 0 && rows[4].id > rows[0].id);
    assert_int_equal(rows[5].id, 0);
    assert_int_equal(store_journal_list(s, a, &q, &v, &n), STORE_OK);
    assert_int_equal(n, 3); /* trimmed to the newest 3 */
    assert_string_equal(v[0].detail, "d4");
    assert_string_equal(v[2].detail, "d2");
    assert_string_equal(v[0].body, "{}");
    store_journal_free(v, n);
    q.status = 3;
    assert_int_equal(store_journal_list(s, a, &q, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].detail, "d3");
    store_journal_free(v, n);
    q.status = -1;
    q.endpoint = "set_webhook";
    assert_int_equal(store_journal_list(s, a, &q, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    store_journal_free(v, n);
    q.endpoint = NULL;
    q.since_ms = 1004;
    assert_int_equal(store_journal_list(s, a, &q, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    store_journal_free(v, n);
    q.since_ms = 0;
    q.before_id = rows[4].id;
    assert_int_equal(store_journal_list(s, a, &q, &v, &n), STORE_OK);
    assert_int_equal(n, 2);
    store_journal_free(v, n);
    assert_int_equal(store_journal_list(s, b, &q, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_null(v);
}

/* Pages of a channel, walked with before = the last token seen. */
static void test_posts_paging(void **state)
{
    struct store *s = S(state);
    int64_t a = fx_make_channel(s, NULL, NULL);
    uint64_t t0 = fx_tokens(25);
    struct post p[25], *v;
    char body[25][128];
    size_t n;

    for (int i = 0; i < 25; i++)
        p[i] =
            mkpost(a, t0 + (uint64_t)i, i % 5 == 0 ? "picture" : "text", body[i], sizeof body[i]);
    assert_int_equal(store_post_insert_batch(s, p, 25), STORE_OK);

    /* 25 posts in pages of 10: 10, 10, 5, then nothing */
    uint64_t before = 0, expect = t0 + 24;
    size_t pages[] = {10, 10, 5, 0};
    for (size_t pg = 0; pg < 4; pg++) {
        assert_int_equal(store_post_list(s, a, before, NULL, 10, &v, &n), STORE_OK);
        assert_int_equal(n, pages[pg]);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(v[i].token, expect--);
        if (n)
            before = v[n - 1].token;
        else
            assert_null(v);
        store_posts_free(v, n);
    }
    assert_int_equal(expect, t0 - 1);

    /* before is exclusive */
    assert_int_equal(store_post_list(s, a, t0 + 10, NULL, 100, &v, &n), STORE_OK);
    assert_int_equal(n, 10);
    assert_int_equal(v[0].token, t0 + 9);
    assert_int_equal(v[9].token, t0);
    store_posts_free(v, n);
    assert_int_equal(store_post_list(s, a, t0 + 25, NULL, 1, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].token, t0 + 24);
    store_posts_free(v, n);
    assert_int_equal(store_post_list(s, a, t0, NULL, 10, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_post_list(s, a, 1, NULL, 10, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    /* any bound past every token means from the newest */
    assert_int_equal(store_post_list(s, a, UINT64_MAX, NULL, 2, &v, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].token, t0 + 24);
    store_posts_free(v, n);
    /* limit 0 */
    v = (struct post *)&n;
    assert_int_equal(store_post_list(s, a, 0, NULL, 0, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_null(v);

    /* type filter: pictures are t0, t0+5, ..., t0+20 */
    assert_int_equal(store_post_list(s, a, 0, "picture", 3, &v, &n), STORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].token, t0 + 20);
    assert_int_equal(v[1].token, t0 + 15);
    assert_int_equal(v[2].token, t0 + 10);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i].type, "picture");
    store_posts_free(v, n);
    assert_int_equal(store_post_list(s, a, t0 + 10, "picture", 100, &v, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].token, t0 + 5);
    assert_int_equal(v[1].token, t0);
    store_posts_free(v, n);
    assert_int_equal(store_post_list(s, a, 0, "text", 100, &v, &n), STORE_OK);
    assert_int_equal(n, 20);
    store_posts_free(v, n);
    assert_int_equal(store_post_list(s, a, 0, "sticker", 100, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
}

/* Pages newer than a token, oldest first: what a resumed stream replays. */
static void test_posts_after(void **state)
{
    struct store *s = S(state);
    int64_t a = fx_make_channel(s, NULL, NULL);
    int64_t b = fx_make_channel(s, NULL, NULL);
    uint64_t t0 = fx_tokens(30);
    struct post p[30], *v;
    char body[30][128];
    size_t n;

    /* tokens t0..t0+29: the first 25 in a, the last 5 in b */
    for (int i = 0; i < 30; i++)
        p[i] = mkpost(i < 25 ? a : b, t0 + (uint64_t)i, "text", body[i], sizeof body[i]);
    assert_int_equal(store_post_insert_batch(s, p, 30), STORE_OK);

    /* from the start in pages of 10: 10, 10, 5, then nothing; b's never */
    uint64_t after = 0, expect = t0;
    size_t pages[] = {10, 10, 5, 0};
    for (size_t pg = 0; pg < 4; pg++) {
        assert_int_equal(store_post_list_after(s, a, after, 10, &v, &n), STORE_OK);
        assert_int_equal(n, pages[pg]);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(v[i].token, expect++);
            assert_int_equal(v[i].channel, a);
            assert_string_equal(v[i].json, p[v[i].token - t0].json);
        }
        if (n)
            after = v[n - 1].token;
        else
            assert_null(v);
        store_posts_free(v, n);
    }
    assert_int_equal(expect, t0 + 25);

    /* after is exclusive */
    assert_int_equal(store_post_list_after(s, a, t0 + 20, 100, &v, &n), STORE_OK);
    assert_int_equal(n, 4);
    assert_int_equal(v[0].token, t0 + 21);
    assert_int_equal(v[3].token, t0 + 24);
    store_posts_free(v, n);
    assert_int_equal(store_post_list_after(s, b, t0 + 24, 2, &v, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].token, t0 + 25);
    store_posts_free(v, n);
    /* past every token, and the largest bound: nothing */
    assert_int_equal(store_post_list_after(s, a, t0 + 24, 10, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_post_list_after(s, a, UINT64_MAX, 10, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_post_list_after(s, a, 0, 0, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_null(v);
}

/* A batch that breaks a rule stores nothing, and the connection stays usable. */
static void test_posts_all_or_nothing(void **state)
{
    struct store *s = S(state);
    int64_t a = fx_make_channel(s, NULL, NULL);
    uint64_t t0 = fx_tokens(20);
    struct post p[10];
    char body[10][128];

    /* duplicate token inside the batch */
    for (int i = 0; i < 10; i++)
        p[i] = mkpost(a, t0 + (uint64_t)i, "text", body[i], sizeof body[i]);
    p[7].token = p[2].token;
    assert_int_equal(store_post_insert_batch(s, p, 10), STORE_EXISTS);
    assert_true(strlen(store_errmsg(s)) > 0);
    assert_int_equal(count_posts(s, a), 0);

    /* one token already stored */
    p[7].token = t0 + 7;
    assert_int_equal(store_post_insert_batch(s, &p[5], 1), STORE_OK);
    assert_int_equal(store_post_insert_batch(s, p, 10), STORE_EXISTS);
    assert_int_equal(count_posts(s, a), 1);

    /* a channel that does not exist */
    for (int i = 0; i < 10; i++)
        p[i] = mkpost(a, t0 + 10 + (uint64_t)i, "text", body[i], sizeof body[i]);
    p[9].channel = a + 1000000;
    assert_int_equal(store_post_insert_batch(s, p, 10), STORE_NOTFOUND);
    assert_int_equal(count_posts(s, a), 1);

    /* tokens outside 1..2^63-1, no body */
    p[9].channel = a;
    p[3].token = 0;
    assert_int_equal(store_post_insert_batch(s, p, 10), STORE_ERROR);
    p[3].token = (uint64_t)INT64_MAX + 1;
    assert_int_equal(store_post_insert_batch(s, p, 10), STORE_ERROR);
    p[3].token = t0 + 13;
    p[4].json = NULL;
    assert_int_equal(store_post_insert_batch(s, p, 10), STORE_ERROR);
    p[4].json = body[4];
    assert_int_equal(count_posts(s, a), 1);

    /* no transaction was left open: a good batch commits */
    assert_int_equal(store_post_insert_batch(s, p, 10), STORE_OK);
    assert_int_equal(count_posts(s, a), 11);
}

/*
 * channel_create with a first member is one transaction: when the member
 * cannot be stored (here a role the schema refuses) the channel is not
 * stored either; with a good member both are.
 */
static void test_channel_create_with_member(void **state)
{
    struct store *s = S(state);
    struct channel c, got;
    struct member m, *list;
    uint8_t h[STORE_HASH_LEN];
    size_t n;

    fx_channel(&c, fx_unique(), h);
    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "first-%llu", (unsigned long long)fx_unique());
    snprintf(m.name, sizeof m.name, "Owner");
    m.role = 7; /* neither superadmin nor admin */
    assert_int_not_equal(store_channel_create(s, &c, h, &m, 1), STORE_OK);
    assert_true(strlen(store_errmsg(s)) > 0);
    assert_int_equal(store_channel_by_pa_id(s, c.pa_id, &got), STORE_NOTFOUND);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_NOTFOUND);

    m.role = ROLE_SUPERADMIN;
    assert_int_equal(store_channel_create(s, &c, h, &m, 1), STORE_OK);
    assert_true(c.id > 0);
    assert_int_equal(store_channel_by_token(s, h, &got), STORE_OK);
    assert_int_equal(store_member_list(s, c.id, &list, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, m.id);
    assert_int_equal(list[0].role, ROLE_SUPERADMIN);
    free(list);
}

/* posts_count of channel id, as channel_by_pa_id reads it. */
static int64_t stored_count(struct store *s, const struct channel *c)
{
    struct channel got;

    assert_int_equal(store_channel_by_pa_id(s, c->pa_id, &got), STORE_OK);
    return got.posts_count;
}

/*
 * posts_count is the number of stored posts: batches mixing channels add to
 * each, and a failed batch adds nothing (the counter moves in the posts'
 * own transaction).
 */
static void test_posts_count(void **state)
{
    struct store *s = S(state);
    struct channel a, b;
    uint64_t t0 = fx_tokens(20);
    struct post p[10];
    char body[10][128];

    fx_make_channel(s, &a, NULL);
    fx_make_channel(s, &b, NULL);
    assert_int_equal(stored_count(s, &a), 0);
    for (int i = 0; i < 10; i++)
        p[i] = mkpost(i % 3 ? a.id : b.id, t0 + (uint64_t)i, "text", body[i], sizeof body[i]);
    assert_int_equal(store_post_insert_batch(s, p, 10), STORE_OK);
    assert_int_equal(stored_count(s, &a), 6);
    assert_int_equal(stored_count(s, &b), 4);

    /* a batch that fails on its last row */
    for (int i = 0; i < 10; i++)
        p[i] = mkpost(a.id, t0 + 10 + (uint64_t)i, "text", body[i], sizeof body[i]);
    p[9].token = t0; /* already stored */
    assert_int_equal(store_post_insert_batch(s, p, 10), STORE_EXISTS);
    assert_int_equal(stored_count(s, &a), 6);
    assert_int_equal(store_post_insert_batch(s, p, 9), STORE_OK);
    assert_int_equal(stored_count(s, &a), 15);
    assert_int_equal((int64_t)count_posts(s, a.id), 15);
}

/* Bodies up to the 30 KiB request limit, and the largest token, round-trip. */
static void test_posts_large(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    int64_t a = fx_make_channel(s, NULL, NULL);
    size_t len = 30 * 1024;
    char *big = malloc(len + 1);
    struct post p, *v;
    char small[128];
    size_t n;

    assert_non_null(big);
    memset(big, 'x', len);
    memcpy(big, "{\"text\":\"", 9);
    memcpy(big + len - 2, "\"}", 2);
    big[len] = '\0';
    p = mkpost(a, fx_tokens(1), "text", small, sizeof small);
    p.json = big;
    assert_int_equal(store_post_insert_batch(s, &p, 1), STORE_OK);
    assert_int_equal(store_post_list(s, a, 0, NULL, 10, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].token, p.token);
    assert_int_equal(strlen(v[0].json), len);
    assert_memory_equal(v[0].json, big, len);
    store_posts_free(v, n);
    free(big);

    /* the largest token (only once per database: tokens are global) */
    if (f->fresh) {
        p = mkpost(a, (uint64_t)INT64_MAX, "text", small, sizeof small);
        assert_int_equal(store_post_insert_batch(s, &p, 1), STORE_OK);
        assert_int_equal(store_post_list(s, a, 0, NULL, 1, &v, &n), STORE_OK);
        assert_int_equal(n, 1);
        assert_int_equal(v[0].token, (uint64_t)INT64_MAX);
        store_posts_free(v, n);
    }
}

/* What one connection commits, another sees at once. */
static void test_two_connections(void **state)
{
    struct fx *f = *state;
    struct store *s2 = NULL;
    struct channel c, got;
    uint8_t h[STORE_HASH_LEN];
    char err[256], body[128];
    struct post p, *v;
    size_t n;

    assert_int_equal(f->ops->open(f->dsn, &s2, err, sizeof err), STORE_OK);
    assert_ptr_equal(s2->ops, f->ops);
    fx_make_channel(f->s, &c, h);
    assert_int_equal(store_channel_by_token(s2, h, &got), STORE_OK);
    p = mkpost(c.id, fx_tokens(1), "text", body, sizeof body);
    assert_int_equal(store_post_insert_batch(s2, &p, 1), STORE_OK);
    assert_int_equal(store_post_list(f->s, c.id, 0, NULL, 10, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].token, p.token);
    store_posts_free(v, n);
    assert_int_equal(store_channel_set_state(f->s, c.id, CHANNEL_BLOCKED), STORE_OK);
    assert_int_equal(store_channel_by_token(s2, h, &got), STORE_OK);
    assert_int_equal(got.state, CHANNEL_BLOCKED);
    store_close(s2);
}

/* Every committed change to channels or members moves the config version,
 * as seen from another connection; posts do not move it. */
static void test_config_version(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s, *other = NULL;
    struct member m;
    uint8_t h[STORE_HASH_LEN];
    char err[256], body[64];
    uint64_t v;
    int64_t ch;

    if (store_config_version(s) == 0) {
        skip(); /* a backend that cannot tell caches nothing; nothing to check */
        return;
    }
    assert_int_equal(store_open(f->dsn, &other, err, sizeof err), STORE_OK);
#define MOVES(call)                                                             \
    do {                                                                        \
        v = store_config_version(other);                                        \
        call;                                                                   \
        assert_true(store_config_version(other) != v);                          \
        assert_int_equal(store_config_version(other), store_config_version(s)); \
    } while (0)
    MOVES(ch = fx_make_channel(s, NULL, h));
    MOVES(assert_int_equal(store_channel_set_state(s, ch, CHANNEL_BLOCKED), STORE_OK));
    fx_hash(h, fx_unique());
    MOVES(assert_int_equal(store_channel_set_token(s, ch, h), STORE_OK));
    MOVES(assert_int_equal(store_channel_set_webhook(s, ch, "https://x.example/"), STORE_OK));
    MOVES(assert_int_equal(store_channel_set_rate(s, ch, 5, 10), STORE_OK));
    {
        struct channel d;
        assert_int_equal(store_channel_by_token(s, h, &d), STORE_OK);
        snprintf(d.name, sizeof d.name, "Renamed");
        MOVES(assert_int_equal(store_channel_set_details(s, ch, &d), STORE_OK));
    }
    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "v%llu", (unsigned long long)fx_unique());
    snprintf(m.name, sizeof m.name, "V");
    MOVES(assert_int_equal(store_member_add(s, ch, &m), STORE_OK));
    MOVES(assert_int_equal(store_member_remove(s, ch, m.id), STORE_OK));
#undef MOVES
    /* posts are not configuration */
    v = store_config_version(other);
    struct post p = mkpost(ch, fx_tokens(1), "text", body, sizeof body);
    assert_int_equal(store_post_insert_batch(s, &p, 1), STORE_OK);
    assert_true(store_config_version(other) == v);
    /* a failed change does not move it */
    assert_int_equal(store_channel_set_state(s, ch + 1000000, CHANNEL_ACTIVE), STORE_NOTFOUND);
    assert_true(store_config_version(other) == v);
    store_close(other);
}

/* Node id leases: one live holder per node, a free one on request, renewal, release, expiry;
 * and the highest stored token of a node. */
static void test_node_leases(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s, *other = NULL;
    struct node_lease a, b;
    char err[256], body[64], ha[64], hb[64];
    uint64_t v, last;
    int64_t ch;

    snprintf(ha, sizeof ha, "holder a %llu", (unsigned long long)fx_unique());
    snprintf(hb, sizeof hb, "holder b %llu", (unsigned long long)fx_unique());
    assert_int_equal(store_open(f->dsn, &other, err, sizeof err), STORE_OK);
    v = store_config_version(other);
    assert_int_equal(store_node_acquire(s, -1, ha, 60000, &a), STORE_OK);
    assert_in_range(a.node, 0, 1023);
    assert_string_equal(a.holder, ha);
    /* held by a live lease: refused, and told who holds it until when */
    assert_int_equal(store_node_acquire(other, a.node, hb, 60000, &b), STORE_EXISTS);
    assert_int_equal(b.node, a.node);
    assert_string_equal(b.holder, ha);
    assert_true(b.expires_ms >= a.expires_ms - 1000);
    /* any free one is another one */
    assert_int_equal(store_node_acquire(other, -1, hb, 60000, &b), STORE_OK);
    assert_true(b.node != a.node);
    /* its own holder takes it again, and renews it */
    assert_int_equal(store_node_acquire(s, a.node, ha, 60000, &a), STORE_OK);
    assert_int_equal(store_node_renew(s, a.node, ha, 60000), STORE_OK);
    assert_int_equal(store_node_renew(s, a.node, hb, 60000), STORE_NOTFOUND);
    /* released: free for another holder */
    assert_int_equal(store_node_release(s, a.node, ha), STORE_OK);
    assert_int_equal(store_node_release(s, a.node, ha), STORE_OK);
    assert_int_equal(store_node_renew(s, a.node, ha, 60000), STORE_NOTFOUND);
    assert_int_equal(store_node_acquire(other, a.node, hb, 60000, &b), STORE_OK);
    assert_int_equal(store_node_release(other, a.node, hb), STORE_OK);
    /* a lease not renewed expires (ttl 1 ms) and another holder may take it */
    assert_int_equal(store_node_acquire(s, a.node, ha, 1, &a), STORE_OK);
    usleep(20000);
    assert_int_equal(store_node_acquire(other, a.node, hb, 60000, &b), STORE_OK);
    assert_int_equal(store_node_renew(s, a.node, ha, 60000), STORE_NOTFOUND);
    assert_int_equal(store_node_release(other, a.node, hb), STORE_OK);
    assert_int_equal(store_node_acquire(s, 1024, ha, 60000, &a), STORE_ERROR);
    /* leases are not configuration */
    assert_true(store_config_version(other) == v);

    /* the highest stored token whose node bits (21-12) are the node's */
    ch = fx_make_channel(s, NULL, NULL);
    /* above every token the other tests store, so these are their nodes' highest */
    uint64_t base = (fx_tokens(1) + (1ULL << 32)) & ~((1ULL << 22) - 1);
    struct post p[3] = {
        mkpost(ch, base | (1021ULL << 12) | 5, "text", body, sizeof body),
        mkpost(ch, (base + (2ULL << 22)) | (1022ULL << 12), "text", body, sizeof body),
        mkpost(ch, (base - (1ULL << 22)) | (1021ULL << 12) | 9, "text", body, sizeof body),
    };
    assert_int_equal(store_post_insert_batch(s, p, 3), STORE_OK);
    assert_int_equal(store_node_last_token(other, 1021, &last), STORE_OK);
    assert_true(last == p[0].token);
    assert_int_equal(store_node_last_token(other, 1022, &last), STORE_OK);
    assert_true(last == p[1].token);
    store_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
        T(test_channel_create_and_get),
        T(test_channel_unique),
        T(test_channel_list),
        T(test_channel_state),
        T(test_channel_token_rotation),
        T(test_channel_webhook),
        T(test_channel_rate),
        T(test_channel_full_fields),
        T(test_channel_details),
        T(test_members),
        T(test_posts_batch_and_list),
        T(test_posts_paging),
        T(test_resets),
        T(test_faults),
        T(test_journal),
        T(test_posts_after),
        T(test_posts_all_or_nothing),
        T(test_posts_count),
        T(test_channel_create_with_member),
        T(test_posts_large),
        T(test_two_connections),
        T(test_config_version),
        T(test_node_leases),
#undef T
    };

    return cmocka_run_group_tests_name("store contract", tests, fx_group_setup, fx_group_teardown);
}
