/*
 * `vcpd channel …`, `vcpd member …` and `vcpd sandbox reset`: administer
 * the database offline (vcpd may be running on it at the same time).  The
 * commands build the same JSON arguments the admin HTTP API takes and run
 * the same admin_exec() operations, so the two ways in cannot drift apart.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/admin.h"
#include "server/admin_cli.h"
#include "server/server.h"
#include "server/util.h"

static const char usage_channel[] =
    "usage: vcpd channel ACTION [ID] [options] [--db PATH] [--json]\n"
    "\n"
    "  create --name NAME [--superadmin NAME] [--webhook URL] [--rate N/S|off]\n"
    "         [--uri URI] [--icon URL] [--background URL] [--category C]\n"
    "         [--subcategory S] [--country CC] [--location LAT,LON]\n"
    "         [--token TOKEN] [--id pa:DIGITS] [--superadmin-id MEMBER_ID]\n"
    "                       create a channel and its first superadmin; prints the\n"
    "                       token once (default rate: 500/10, Viber's limit);\n"
    "                       --token, --id, --superadmin-id: fixtures a test suite\n"
    "                       hard-codes instead of random ones (TOKEN: 32-256 of\n"
    "                       A-Z a-z 0-9 - _ . ~ + / =, at least 10 different)\n"
    "  list                 all channels\n"
    "  show ID              one channel and its members\n"
    "  block ID | suspend ID | activate ID | delete ID\n"
    "                       change the channel's state (its token then answers\n"
    "                       7, 9, 0 or 8)\n"
    "  rotate-token ID      new token; the old one fails at once\n"
    "  set-rate ID N/S|off  allow N requests per S seconds, or no limit\n"
    "  set-webhook ID URL   store a webhook URL without the check (\"\" removes)\n"
    "  edit ID [--name NAME] [--uri URI] [--icon URL] [--background URL]\n"
    "          [--category C] [--subcategory S] [--country CC] [--location LAT,LON]\n"
    "                       change what get_account_info and the page show\n"
    "                       (a running vcpd answers with it at once)\n"
    "  fault add ID (--status N | --http N | --drop | --latency-ms MS[-MS]\n"
    "          | --webhook fail|timeout|N) [--endpoint post|set_webhook|\n"
    "          get_account_info|any] [--count N] [--fraction F] [--seed S]\n"
    "                       make the channel's requests fail on purpose: answer\n"
    "                       status N or HTTP N, lose the answer, wait, or fail\n"
    "                       set_webhook's check; for the next N requests or a\n"
    "                       seeded fraction (applied only by vcpd serve --sandbox)\n"
    "  fault list ID        the channel's faults and their counters\n"
    "  fault clear ID [FAULT_ID]  remove one fault, or all of them\n"
    "  reset ID             empty the channel for the next test: its posts,\n"
    "                       faults and journal go, its rate bucket starts full;\n"
    "                       token, members and settings stay\n"
    "\n"
    "  --db PATH            database (env VCPD_DB; default " VCPD_DEFAULT_DB "); only\n"
    "                       create makes a new one, the others need it to exist\n"
    "  --json               print JSON for scripts instead of text\n"
    "ID is the channel's public id (pa:...).\n";

static const char usage_member[] =
    "usage: vcpd member ACTION ID [options] [--db PATH] [--json]\n"
    "\n"
    "  add ID --name NAME [--role superadmin|admin] [--id MEMBER_ID] [--avatar URL]\n"
    "                       add a member (default role admin; a random id unless\n"
    "                       --id); only superadmins may be the sender of posts;\n"
    "                       MEMBER_ID: 1-64 of letters, digits and + / = - _\n"
    "  remove ID MEMBER_ID  remove a member\n"
    "  list ID              the channel's members\n"
    "\n"
    "  --db PATH            an existing database (env VCPD_DB; default " VCPD_DEFAULT_DB ")\n"
    "  --json               print JSON for scripts instead of text\n";

static const char usage_sandbox[] =
    "usage: vcpd sandbox reset --yes [--db PATH] [--json]\n"
    "\n"
    "  reset --yes          delete every channel, member, post, fault and journal\n"
    "                       entry in the database,\n"
    "                       so a test suite starts from nothing (a running vcpd on\n"
    "                       the same database sees it at once)\n"
    "\n"
    "  --db PATH            database (env VCPD_DB; default " VCPD_DEFAULT_DB ")\n"
    "  --json               print JSON for scripts instead of text\n";
static void print_channel(struct json_object *ch)
{
    struct json_object *v;

    json_object_object_get_ex(ch, "id", &v);
    printf("%s", json_object_get_string(v));
    json_object_object_get_ex(ch, "name", &v);
    printf("  \"%s\"", json_object_get_string(v));
    json_object_object_get_ex(ch, "state", &v);
    printf("  %s", json_object_get_string(v));
    json_object_object_get_ex(ch, "rate", &v);
    if (v) {
        struct json_object *n, *w;
        json_object_object_get_ex(v, "count", &n);
        json_object_object_get_ex(v, "window", &w);
        printf("  rate %d/%ds", json_object_get_int(n), json_object_get_int(w));
    } else {
        printf("  rate off");
    }
    json_object_object_get_ex(ch, "webhook", &v);
    printf("  webhook %s", json_object_get_string_len(v) ? json_object_get_string(v) : "(none)");
    if (json_object_object_get_ex(ch, "posts", &v))
        printf("  posts %" PRId64, json_object_get_int64(v));
    putchar('\n');
}

static void print_member(struct json_object *m)
{
    struct json_object *id, *name, *role;

    json_object_object_get_ex(m, "id", &id);
    json_object_object_get_ex(m, "name", &name);
    json_object_object_get_ex(m, "role", &role);
    printf("  %-26s %-10s %s\n", json_object_get_string(id), json_object_get_string(role),
           json_object_get_string(name));
}

/* One fault: its id and, as JSON, what it does; then its counters. */
static void print_fault(struct json_object *f)
{
    struct json_object *what = json_object_new_object(), *v;
    static const char *const keys[] = {"endpoint",   "status",  "http",     "drop",
                                       "latency_ms", "webhook", "fraction", "seed"};

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_object_object_get_ex(f, keys[i], &v))
            json_object_object_add(what, keys[i], json_object_get(v));
    json_object_object_get_ex(f, "id", &v);
    printf("  %-4" PRId64 " %s", json_object_get_int64(v),
           json_object_to_json_string_ext(what, JSON_C_TO_STRING_PLAIN));
    json_object_object_get_ex(f, "remaining", &v);
    if (v)
        printf("  remaining %" PRId64, json_object_get_int64(v));
    json_object_object_get_ex(f, "hits", &v);
    printf("  hits %" PRId64, json_object_get_int64(v));
    json_object_object_get_ex(f, "seen", &v);
    printf(" of %" PRId64 " requests\n", json_object_get_int64(v));
    json_object_put(what);
}

/* Human-readable form of an admin_exec() answer. */
static void print_human(const char *op, struct json_object *out)
{
    struct json_object *v, *arr;

    if (json_object_object_get_ex(out, "channels", &arr)) {
        if (json_object_array_length(arr) == 0)
            printf("no channels\n");
        for (size_t i = 0; i < json_object_array_length(arr); i++)
            print_channel(json_object_array_get_idx(arr, i));
        return;
    }
    if (json_object_object_get_ex(out, "channel", &v))
        print_channel(v);
    if (json_object_object_get_ex(out, "token", &v))
        printf("token: %s\n  (shown once: vcpd keeps only its hash)\n", json_object_get_string(v));
    if (json_object_object_get_ex(out, "superadmin", &v)) {
        printf("superadmin (use as \"from\"):\n");
        print_member(v);
    }
    if (json_object_object_get_ex(out, "member", &v)) {
        printf("member added:\n");
        print_member(v);
    }
    if (json_object_object_get_ex(out, "deleted", &v)) {
        struct json_object *n;
        if (json_object_object_get_ex(v, "channels", &n))
            printf("deleted %" PRId64 " channels\n", json_object_get_int64(n));
        if (json_object_object_get_ex(v, "posts", &n))
            printf("deleted %" PRId64 " posts\n", json_object_get_int64(n));
    }
    if (json_object_object_get_ex(out, "fault", &v)) {
        printf("fault added:\n");
        print_fault(v);
    }
    if (json_object_object_get_ex(out, "faults", &arr)) {
        if (json_object_array_length(arr) == 0)
            printf("no faults\n");
        for (size_t i = 0; i < json_object_array_length(arr); i++)
            print_fault(json_object_array_get_idx(arr, i));
    }
    if (json_object_object_get_ex(out, "cleared", &v))
        printf("%" PRId64 " faults cleared\n", json_object_get_int64(v));
    if (json_object_object_get_ex(out, "removed", &v))
        printf("member %s removed\n", json_object_get_string(v));
    if (json_object_object_get_ex(out, "members", &arr)) {
        if (strcmp(op, "channel.show") == 0)
            printf("members:\n");
        for (size_t i = 0; i < json_object_array_length(arr); i++)
            print_member(json_object_array_get_idx(arr, i));
    }
}

/* "N/S" or "off" into a rate object. */
static struct json_object *parse_rate(const char *s)
{
    struct json_object *o;
    unsigned long n, w = ADMIN_DEFAULT_RATE_WINDOW;
    char buf[32];
    char *slash;

    if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0)
        return json_object_new_string("off");
    snprintf(buf, sizeof buf, "%s", s);
    slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (parse_uint(buf, 1000000000UL, &n) != 0 ||
        (slash && parse_uint(slash + 1, 86400, &w) != 0) || w == 0)
        return NULL;
    o = json_object_new_object();
    json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
    json_object_object_add(o, "window", json_object_new_int64((int64_t)w));
    return o;
}

/* "LAT,LON" into {"lat":"LAT","lon":"LON"}: the numbers are checked by the operation. */
static struct json_object *parse_location(const char *s)
{
    const char *comma = strchr(s, ',');
    struct json_object *o;

    if (!comma || comma == s || comma[1] == '\0')
        return NULL;
    o = json_object_new_object();
    json_object_object_add(o, "lat", json_object_new_string_len(s, (int)(comma - s)));
    json_object_object_add(o, "lon", json_object_new_string(comma + 1));
    return o;
}

/* Flags with a meaning of their own; any other flag an operation accepts is a string argument. */
enum flag_kind { F_STRING, F_RATE, F_LOCATION, F_DROP, F_YES, F_JSON, F_DB };

static const struct {
    const char *name; /* without "--" */
    enum flag_kind kind;
} special_flags[] = {
    {"rate", F_RATE}, {"location", F_LOCATION}, {"drop", F_DROP},
    {"yes", F_YES},   {"json", F_JSON},         {"db", F_DB},
};

static const char *const create_flags[] = {"name",          "superadmin", "webhook",    "rate",
                                           "uri",           "icon",       "background", "category",
                                           "subcategory",   "country",    "token",      "id",
                                           "superadmin-id", "location",   NULL};
static const char *const edit_flags[] = {
    "name", "uri", "icon", "background", "category", "subcategory", "country", "location", NULL};
static const char *const fault_flags[] = {"endpoint", "status", "http",     "drop", "latency-ms",
                                          "webhook",  "count",  "fraction", "seed", NULL};
static const char *const member_flags[] = {"name", "role", "id", "avatar", NULL};
static const char *const yes_flags[] = {"yes", NULL};
static const char *const no_flags[] = {NULL};

/* The offline commands: the admin operation each runs, its positional slots and its flags. */
static const struct admin_cmd {
    const char *op;
    const char *slots[2];     /* names of positional arguments; "?name": optional */
    const char *const *flags; /* flags besides --db and --json */
} cmds[] = {
    {"channel.create", {NULL, NULL}, create_flags},
    {"channel.list", {NULL, NULL}, no_flags},
    {"channel.show", {"channel", NULL}, no_flags},
    {"channel.block", {"channel", NULL}, no_flags},
    {"channel.suspend", {"channel", NULL}, no_flags},
    {"channel.activate", {"channel", NULL}, no_flags},
    {"channel.delete", {"channel", NULL}, no_flags},
    {"channel.rotate-token", {"channel", NULL}, no_flags},
    {"channel.set-rate", {"channel", "rate"}, no_flags},
    {"channel.set-webhook", {"channel", "url"}, no_flags},
    {"channel.edit", {"channel", NULL}, edit_flags},
    {"channel.reset", {"channel", NULL}, no_flags},
    {"sandbox.reset", {NULL, NULL}, yes_flags},
    {"fault.add", {"channel", NULL}, fault_flags},
    {"fault.list", {"channel", NULL}, no_flags},
    {"fault.clear", {"channel", "?fault"}, no_flags},
    {"member.add", {"channel", NULL}, member_flags},
    {"member.remove", {"channel", "member"}, no_flags},
    {"member.list", {"channel", NULL}, no_flags},
};

/* What --NAME (n bytes of name) is for cmd: its kind, or -1 when cmd does not take it. */
static int flag_kind(const struct admin_cmd *cmd, const char *name, size_t n)
{
    bool taken =
        (n == 2 && strncmp(name, "db", 2) == 0) || (n == 4 && strncmp(name, "json", 4) == 0);

    for (const char *const *f = cmd->flags; !taken && *f; f++)
        taken = strlen(*f) == n && strncmp(*f, name, n) == 0;
    if (!taken)
        return -1;
    for (size_t i = 0; i < sizeof special_flags / sizeof special_flags[0]; i++)
        if (strlen(special_flags[i].name) == n && strncmp(special_flags[i].name, name, n) == 0)
            return (int)special_flags[i].kind;
    return F_STRING;
}

/*
 * vcpd channel|member|sandbox ACTION [POSITIONAL...] [--flag value ...]:
 * flags become arguments of the same name; positionals fill the
 * operation's slots.  Hand-written rather than getopt_long because only
 * words that begin with "--" (and -h) are options here: a random member id
 * is 24 characters of the URL-safe base64 alphabet and begins with '-' one
 * time in 64 (`vcpd member remove pa:1 -Xy...`), which getopt would read as
 * short options.  Flags are looked up in the tables above, never by their
 * position in an enum.
 */
int admin_cli_main(const char *group, int argc, char **argv)
{
    /* "channel fault": `vcpd channel fault add ...` runs the fault.* operations */
    const char *ops_group = strcmp(group, "channel fault") == 0 ? "fault" : group;
    const char *usage = strncmp(group, "channel", 7) == 0 ? usage_channel
                        : strcmp(group, "sandbox") == 0   ? usage_sandbox
                                                          : usage_member;
    const char *db = getenv("VCPD_DB") ? getenv("VCPD_DB") : VCPD_DEFAULT_DB;
    const struct admin_cmd *cmd = NULL;
    struct json_object *args = NULL, *out = NULL;
    struct store *store = NULL;
    char op[64], detail[256], err[512], key[40];
    const char *bad = NULL;
    bool json = false, yes = false;
    int slot = 0, rc = 2;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    snprintf(op, sizeof op, "%s.%s", ops_group, argv[1]);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmds[i].op, op) == 0)
            cmd = &cmds[i];
    if (!cmd) {
        fprintf(stderr, "vcpd %s: unknown action '%s'\n%s", group, argv[1], usage);
        return 2;
    }
    args = json_object_new_object();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            rc = 0;
            goto out;
        }
        if (strncmp(a, "--", 2) == 0) {
            const char *name = a + 2, *val, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            int kind = flag_kind(cmd, name, n);

            bad = a;
            if (kind < 0 || n + 1 > sizeof key)
                goto bad_flag;
            if (kind == F_DROP || kind == F_YES || kind == F_JSON) {
                if (eq) /* switches take no value */
                    goto bad_flag;
                if (kind == F_DROP)
                    json_object_object_add(args, "drop", json_object_new_boolean(1));
                else if (kind == F_YES)
                    yes = true;
                else
                    json = true;
                continue;
            }
            val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) {
                fprintf(stderr, "vcpd %s: --%.*s needs a value\n", group, (int)n, name);
                goto out;
            }
            if (kind == F_DB) {
                db = val;
            } else if (kind == F_LOCATION || kind == F_RATE) {
                bool rate = kind == F_RATE;
                struct json_object *v = rate ? parse_rate(val) : parse_location(val);
                if (!v) {
                    fprintf(stderr, "vcpd %s: --%s: expected %s\n", group,
                            rate ? "rate" : "location", rate ? "N/S or off" : "LAT,LON");
                    goto out;
                }
                json_object_object_add(args, rate ? "rate" : "location", v);
            } else {
                memcpy(key, name, n);
                key[n] = '\0';
                for (char *p = key; *p; p++) /* --superadmin-id: "superadmin_id" */
                    if (*p == '-')
                        *p = '_';
                json_object_object_add(args, key, json_object_new_string(val));
            }
            continue;
        }
        if (slot >= 2 || !cmd->slots[slot]) {
            fprintf(stderr, "vcpd %s %s: unexpected argument '%s'\n", group, argv[1], a);
            goto out;
        }
        if (strcmp(cmd->slots[slot], "rate") == 0) {
            struct json_object *r = parse_rate(a);
            if (!r) {
                fprintf(stderr, "vcpd %s %s: expected N/S or off, got '%s'\n", group, argv[1], a);
                goto out;
            }
            json_object_object_add(args, "rate", r);
        } else {
            const char *name = cmd->slots[slot];
            json_object_object_add(args, name + (name[0] == '?'), json_object_new_string(a));
        }
        slot++;
    }
    for (int s = slot; s < 2; s++)
        if (cmd->slots[s] && cmd->slots[s][0] != '?') {
            fprintf(stderr, "vcpd %s %s: missing %s\n%s", group, argv[1], cmd->slots[s], usage);
            goto out;
        }
    if (strcmp(op, "sandbox.reset") == 0 && !yes) {
        fprintf(stderr,
                "vcpd sandbox reset: this deletes every channel, member and post in %s; "
                "add --yes to do it\n",
                store_dsn_shown(db));
        goto out;
    }
    /* Opening a SQLite file creates it: only "channel create" may do that, the
     * other actions on a mistyped or forgotten --db would leave an empty
     * database behind and answer as if it were the real one. */
    if (strcmp(op, "channel.create") != 0 && store_backend(db) == &store_sqlite_ops) {
        const char *path = strncmp(db, "sqlite:", 7) == 0 ? db + 7 : db;
        char cwd[4096];
        if (access(path, F_OK) != 0) {
            int e = errno;
            bool rel = path[0] != '/' && getcwd(cwd, sizeof cwd) != NULL;
            fprintf(stderr,
                    "vcpd %s %s: no database at %s%s%s (%s); 'vcpd channel create' makes one, "
                    "--db PATH or VCPD_DB names another\n",
                    group, argv[1], rel ? cwd : "", rel ? "/" : "", path, strerror(e));
            rc = 1;
            goto out;
        }
    }
    if (store_open(db, &store, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "vcpd: database %s: %s\n", store_dsn_shown(db), err);
        rc = 1;
        goto out;
    }
    rc = admin_exec(store, op, args, &out, detail, sizeof detail);
    if (rc != ADMIN_OK) {
        fprintf(stderr, "vcpd %s %s: %s\n", group, argv[1], detail);
        rc = rc == ADMIN_ERROR ? 1 : 3;
        goto out;
    }
    if (json)
        printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    else
        print_human(op, out);
    rc = 0;
    goto out;
bad_flag:
    fprintf(stderr, "vcpd %s %s: unknown option '%s'\n%s", group, argv[1], bad, usage);
out:
    json_object_put(out);
    json_object_put(args);
    store_close(store);
    return rc;
}
