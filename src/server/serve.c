/*
 * `vcpd serve`: parses the server's options into struct config, fits the
 * connection limit into the open-file limit, starts every module, waits for
 * SIGTERM/SIGINT and shuts down in order (answers to accepted work first,
 * bounded by --shutdown-grace).  The options are one table (name, field,
 * kind, range), so adding one is one row and no switch to keep in step.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/hostport.h"
#include "core/body.h"
#include "server/answers.h"
#include "server/auth.h"
#include "server/chancache.h"
#include "server/cluster.h"
#include "server/delay.h"
#include "server/fault.h"
#include "server/journal.h"
#include "server/media.h"
#include "server/node.h"
#include "server/ratelimit.h"
#include "server/serve.h"
#include "server/server.h"
#include "server/http.h"
#include "server/sandbox.h"
#include "server/stream.h"
#include "server/tokcache.h"
#include "server/util.h"

static const char usage_serve[] =
    "usage: vcpd serve [options]\n"
    "\n"
    "Serves the Viber Channels Post API (/pa/set_webhook, /pa/get_account_info,\n"
    "/pa/post), the admin API (/admin/v1/...), /healthz, /readyz (200 only while\n"
    "the database answers), /version and /metrics.\n"
    "\n"
    "  --listen HOST:PORT          address to listen on (default 127.0.0.1:8080;\n"
    "                              [::1]:PORT for IPv6; port 0 picks a free port)\n"
    "  --db DSN                    the database (env VCPD_DB; default " VCPD_DEFAULT_DB "):\n"
    "                              a SQLite file PATH or sqlite:PATH, created if\n"
    "                              missing, or PostgreSQL: postgresql://USER@HOST/DB\n"
    "                              or key=value (\"host=... dbname=...\"); an\n"
    "                              existing database, its tables made by vcpd\n"
    "  --port-file FILE            write the bound port to FILE once listening\n"
    "  --admin-key KEY             enable the admin API with this bearer key\n"
    "                              (env VCPD_ADMIN_KEY, preferred: not in ps output)\n"
    "  --access-log FILE|-|off     one line per request (default -, stderr);\n"
    "                              never contains tokens\n"
    "  --sandbox                   allow http:// and private-address webhooks and\n"
    "                              serve the built-in receiver POST /sandbox/webhook\n"
    "  --no-rate-limit             switch per-channel rate control off\n"
    "  --node-id N                 message_token node id 0..1023, leased in the\n"
    "                              database: refused while another live vcpd holds\n"
    "                              it (env VCPD_NODE_ID; default: the lowest free\n"
    "                              one, logged); leases last 15 s, renewed every 5 s\n"
    "  --webhook-ca FILE           PEM CA(s) trusted for webhooks besides the system's\n"
    "  --webhook-connect-timeout MS  webhook connect timeout (default 3000)\n"
    "  --webhook-timeout MS        webhook total timeout (default 10000)\n"
    "  --max-connections N         connections at once (default 10000)\n"
    "  --max-connections-per-ip N  per client address, event streams included\n"
    "                              (default 1024; 0 = no limit)\n"
    "  --max-streams-per-ip N      event streams per client address (default 64;\n"
    "                              0 = no limit)\n"
    "  --connection-timeout S      close idle or stalled connections after S seconds\n"
    "                              (default 30; 0 = never)\n"
    "  --check-media               fetch a post's media and thumbnail (through the\n"
    "                              webhook checks' SSRF guard) and refuse, with 3,\n"
    "                              pictures and thumbnails that are not JPEGs of at\n"
    "                              most 1 MiB / 100 KiB, videos not MP4, over 50 MiB\n"
    "                              or not of the declared size, files likewise\n"
    "  --journal N                 keep each channel's last N API requests, readable\n"
    "                              at /api/v1/channels/ID/journal (default 1000 with\n"
    "                              --sandbox, else 0: off)\n"
    "  --shutdown-grace S          on SIGTERM/SIGINT, wait up to S seconds for the\n"
    "                              answers of posts and writes already accepted\n"
    "                              (default 10)\n"
    "  -h, --help                  this text\n"
    "\n"
    "At start vcpd raises its soft limit of open files to the hard limit and\n"
    "lowers --max-connections (and parallel webhook checks) to what that limit\n"
    "allows; the log says what was chosen.\n";

/* How an option's value lands in its struct config field. */
enum opt_kind {
    OPT_STR,      /* const char *: the argument itself */
    OPT_TRUE,     /* bool set by a flag */
    OPT_FALSE,    /* bool cleared by a flag */
    OPT_UNSIGNED, /* unsigned, 0..max */
    OPT_LONG,     /* long, 0..max */
    OPT_INT64,    /* int64_t, 0..max */
    OPT_S_TO_MS,  /* unsigned milliseconds, given in seconds 0..max */
};

static const struct serve_opt {
    const char *name;
    enum opt_kind kind;
    size_t field;      /* offsetof(struct config, ...) */
    unsigned long max; /* numbers: the largest value allowed */
    bool nonzero;      /* numbers: 0 refused */
    bool say_range;    /* numbers: the error names the range */
} serve_opts[] = {
    {"listen", OPT_STR, offsetof(struct config, listen_host), 0, false, false},
    {"db", OPT_STR, offsetof(struct config, db), 0, false, false},
    {"port-file", OPT_STR, offsetof(struct config, port_file), 0, false, false},
    {"admin-key", OPT_STR, offsetof(struct config, admin_key), 0, false, false},
    {"access-log", OPT_STR, offsetof(struct config, access_log), 0, false, false},
    {"sandbox", OPT_TRUE, offsetof(struct config, sandbox), 0, false, false},
    {"no-rate-limit", OPT_FALSE, offsetof(struct config, rate_limit), 0, false, false},
    {"node-id", OPT_UNSIGNED, offsetof(struct config, node_id), TOKGEN_NODE_MAX, false, false},
    {"webhook-ca", OPT_STR, offsetof(struct config, webhook.extra_ca), 0, false, false},
    {"webhook-connect-timeout", OPT_LONG, offsetof(struct config, webhook.connect_timeout_ms),
     1000000000UL, true, false},
    {"webhook-timeout", OPT_LONG, offsetof(struct config, webhook.total_timeout_ms), 1000000000UL,
     true, false},
    {"max-connections", OPT_UNSIGNED, offsetof(struct config, conn_limit), 1000000000UL, true,
     false},
    {"max-connections-per-ip", OPT_UNSIGNED, offsetof(struct config, per_ip_limit), 1000000000UL,
     false, false},
    {"connection-timeout", OPT_UNSIGNED, offsetof(struct config, conn_timeout_s), 1000000000UL,
     false, false},
    {"max-streams-per-ip", OPT_UNSIGNED, offsetof(struct config, per_ip_streams), 1000000000UL,
     false, false},
    {"shutdown-grace", OPT_S_TO_MS, offsetof(struct config, shutdown_grace_ms), 3600, false, false},
    {"journal", OPT_INT64, offsetof(struct config, journal_size), JOURNAL_MAX, false, true},
    {"check-media", OPT_TRUE, offsetof(struct config, check_media), 0, false, false},
};
#define N_OPTS   (sizeof serve_opts / sizeof serve_opts[0])
#define OPT_BASE 256 /* getopt_long's val for serve_opts[i] is OPT_BASE + i */

/* Stores arg into the field o names; -1 (after saying why) when it is out of range. */
static int set_opt(struct config *cfg, const struct serve_opt *o, const char *arg)
{
    char *field = (char *)cfg + o->field;
    unsigned long v = 0;

    switch (o->kind) {
    case OPT_STR:
        *(const char **)field = arg;
        return 0;
    case OPT_TRUE:
    case OPT_FALSE:
        *(bool *)field = o->kind == OPT_TRUE;
        return 0;
    default:
        break;
    }
    if (parse_uint(arg, o->max, &v) != 0 || (o->nonzero && v == 0)) {
        if (o->say_range)
            fprintf(stderr, "vcpd: --%s: bad value '%s' (0..%lu)\n", o->name, arg, o->max);
        else
            fprintf(stderr, "vcpd: --%s: bad value '%s'\n", o->name, arg);
        return -1;
    }
    if (o->kind == OPT_UNSIGNED)
        *(unsigned *)field = (unsigned)v;
    else if (o->kind == OPT_LONG)
        *(long *)field = (long)v;
    else if (o->kind == OPT_INT64)
        *(int64_t *)field = (int64_t)v;
    else
        *(unsigned *)field = (unsigned)v * 1000;
    return 0;
}

/*
 * Fills cfg from the environment and argv (defaults first).  Returns -1 to
 * go on serving, else the exit status (0 after --help, 2 on a bad option).
 */
static int parse_options(struct config *cfg, int argc, char **argv)
{
    static char host[64]; /* cfg->listen_host points here */
    struct option longopts[N_OPTS + 2];
    unsigned long v;
    int c;

    cfg->listen_host = "127.0.0.1:8080"; /* HOST:PORT until split below */
    cfg->db = getenv("VCPD_DB") ? getenv("VCPD_DB") : VCPD_DEFAULT_DB;
    cfg->admin_key = getenv("VCPD_ADMIN_KEY");
    cfg->access_log = "-";
    cfg->rate_limit = true;
    cfg->conn_limit = 10000;
    cfg->per_ip_limit = 1024;
    cfg->per_ip_streams = 64;
    cfg->conn_timeout_s = 30;
    cfg->shutdown_grace_ms = 10000;
    cfg->webhook.connect_timeout_ms = 3000;
    cfg->webhook.total_timeout_ms = 10000;
    cfg->journal_size = -1; /* until given: the default depends on --sandbox */
    if (getenv("VCPD_NODE_ID")) {
        if (parse_uint(getenv("VCPD_NODE_ID"), TOKGEN_NODE_MAX, &v) != 0) {
            fprintf(stderr, "vcpd: VCPD_NODE_ID must be 0..%d\n", TOKGEN_NODE_MAX);
            return 2;
        }
        cfg->node_id = (unsigned)v;
        cfg->node_id_set = true;
    }
    for (size_t i = 0; i < N_OPTS; i++) {
        bool flag = serve_opts[i].kind == OPT_TRUE || serve_opts[i].kind == OPT_FALSE;
        longopts[i] = (struct option){serve_opts[i].name, flag ? no_argument : required_argument,
                                      NULL, OPT_BASE + (int)i};
    }
    longopts[N_OPTS] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[N_OPTS + 1] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c >= OPT_BASE && c < OPT_BASE + (int)N_OPTS) {
            if (set_opt(cfg, &serve_opts[c - OPT_BASE], optarg) != 0)
                return 2;
            if (serve_opts[c - OPT_BASE].field == offsetof(struct config, node_id))
                cfg->node_id_set = true;
            continue;
        }
        if (c == 'h') {
            fputs(usage_serve, stdout);
            return 0;
        }
        fputs(usage_serve, stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "vcpd: unexpected argument '%s'\n%s", argv[optind], usage_serve);
        return 2;
    }
    if (hostport_parse(cfg->listen_host, host, sizeof host, &cfg->listen_port) != 0) {
        fprintf(stderr, "vcpd: --listen: expected HOST:PORT, got '%s'\n", cfg->listen_host);
        return 2;
    }
    cfg->listen_host = host;
    if (cfg->admin_key && strlen(cfg->admin_key) < 16) {
        fprintf(stderr, "vcpd: the admin key must be at least 16 characters\n");
        return 2;
    }
    return -1;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}
/*
 * Descriptors vcpd needs besides connections: stdio, the listening socket,
 * the access log, three database connections (file, WAL and shm each),
 * libmicrohttpd's and the threads' wake-up pipes and epoll sets.
 */
#define FD_RESERVE 64

/*
 * Raises RLIMIT_NOFILE's soft limit to the hard one (a common default is
 * 1,024 soft: 1,100 stream clients then kept new API requests from being
 * accepted) and fits the connection limit and the parallel webhook checks
 * (one socket each) into it: one descriptor per connection, event streams
 * included (the acceptor counts both).  Logs what it chose.  -1 when too
 * few remain.
 */
static int fit_fd_limit(struct config *cfg)
{
    struct rlimit rl;
    rlim_t was, avail;
    unsigned asked = cfg->conn_limit;
    int hooks = cfg->webhook.max_parallel ? cfg->webhook.max_parallel : 1024;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_msg("error", "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return -1;
    }
    was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            log_msg("warn", "cannot raise the open-file limit from %llu to %llu: %s",
                    (unsigned long long)was, (unsigned long long)rl.rlim_max, strerror(errno));
            rl.rlim_cur = was;
        }
    }
    avail = rl.rlim_cur == RLIM_INFINITY ? (rlim_t)1 << 30 : rl.rlim_cur;
    if (avail < FD_RESERVE + 64) {
        log_msg("error", "open-file limit %llu: too low to serve (at least %d)",
                (unsigned long long)avail, FD_RESERVE + 64);
        return -1;
    }
    avail -= FD_RESERVE;
    if ((rlim_t)hooks > avail / 8)
        hooks = (int)(avail / 8);
    avail -= (rlim_t)hooks;
    if ((rlim_t)cfg->conn_limit > avail)
        cfg->conn_limit = (unsigned)avail;
    cfg->webhook.max_parallel = hooks;
    log_msg("info",
            "open files: limit %llu (was %llu); max connections %u%s, event streams included; "
            "%d parallel webhook checks",
            (unsigned long long)rl.rlim_cur, (unsigned long long)was, cfg->conn_limit,
            cfg->conn_limit < asked ? " (lowered to fit)" : "", hooks);
    return 0;
}

/*
 * Waits until every request suspended for other work has been answered
 * (srv->in_flight is 0: http.c signals srv->drained), or for at most ms
 * milliseconds.  Returns how many were still waiting.
 */
static unsigned drain(struct server *srv, unsigned ms)
{
    struct timespec until;
    unsigned left;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&srv->drain_lock);
    while ((left = __atomic_load_n(&srv->in_flight, __ATOMIC_SEQ_CST)) != 0)
        if (pthread_cond_timedwait(&srv->drained, &srv->drain_lock, &until) == ETIMEDOUT) {
            left = __atomic_load_n(&srv->in_flight, __ATOMIC_SEQ_CST);
            break;
        }
    pthread_mutex_unlock(&srv->drain_lock);
    return left;
}

int serve_main(int argc, char **argv)
{
    struct server *srv = xcalloc(1, sizeof *srv);
    struct config *cfg = &srv->cfg;
    char err[512];
    pthread_condattr_t ca;
    sigset_t sigs;
    struct node *node = NULL;
    int sig, port, rc, committer_rc;
    unsigned left;

    if ((rc = parse_options(cfg, argc, argv)) >= 0) {
        free(srv);
        return rc;
    }
    rc = 1;
    cfg->webhook.allow_http = cfg->sandbox;
    cfg->webhook.allow_private = cfg->sandbox;
    if (fit_fd_limit(cfg) != 0) {
        free(srv);
        return 1;
    }
    if (cfg->journal_size < 0)
        cfg->journal_size = cfg->sandbox ? JOURNAL_DEFAULT_SANDBOX : 0;

    /* Signals go to sigwait() below, so every thread started from here on
     * inherits the mask and none is interrupted. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&srv->intake_lock, NULL);
    pthread_mutex_init(&srv->stats_lock, NULL);
    pthread_mutex_init(&srv->drain_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* drain()'s deadline */
    pthread_cond_init(&srv->drained, &ca);
    pthread_condattr_destroy(&ca);

    if (strcmp(cfg->access_log, "off") == 0)
        srv->log = NULL;
    else if (strcmp(cfg->access_log, "-") == 0)
        srv->log = stderr;
    else if (!(srv->log = fopen(cfg->access_log, "a"))) {
        log_msg("error", "--access-log %s: %s", cfg->access_log, strerror(errno));
        goto out;
    }
    if (store_open(cfg->db, &srv->store, err, sizeof err) != STORE_OK) {
        log_msg("error", "database %s: %s", store_dsn_shown(cfg->db), err);
        goto out;
    }
    /* the node id lease (node.h), before any thread reads the clock */
    if (node_start(&node, srv->store, cfg->db, cfg->node_id_set ? (int)cfg->node_id : -1,
                   &srv->tokgen) != 0)
        goto out;
    if (streams_new(&srv->streams, srv) != 0) /* live streams: heartbeat thread, replay store */
        goto out;
    if (cluster_start(&srv->cluster, srv) != 0) /* PostgreSQL: hear the other instances */
        goto out;
    /* A new thread starts with its creator's name: the writer (committer.c)
     * is named so, and CPU per thread can be told apart (bench/run). */
    pthread_setname_np(pthread_self(), "vcpd-writer");
    committer_rc = committer_new(&srv->committer, cfg->db, err, sizeof err);
    pthread_setname_np(pthread_self(), "vcpd");
    if (committer_rc != 0) {
        log_msg("error", "database %s: %s", store_dsn_shown(cfg->db), err);
        goto out;
    }
    committer_set_tokgen(srv->committer, &srv->tokgen); /* PostgreSQL may raise tokens */
    /* SQLite: the HTTP thread reads the config version the writer saw (store_board_new) */
    if (!(srv->board = store_board_new())) {
        log_msg("error", "out of memory");
        goto out;
    }
    store_board_attach(srv->store, srv->board);
    committer_set_board(srv->committer, srv->board);
    if (cfg->journal_size > 0 &&
        journal_new(&srv->journal, srv, cfg->db, cfg->journal_size, err, sizeof err) != 0) {
        log_msg("error", "journal: database %s: %s", store_dsn_shown(cfg->db), err);
        goto out;
    }
    if (webhook_new(&srv->webhook, &cfg->webhook, err, sizeof err) != 0) {
        log_msg("error", "webhook checker: %s", err);
        goto out;
    }
    srv->tok = body_tokener_new();
    if (!srv->tok) {
        log_msg("error", "out of memory");
        goto out;
    }
    srv->rl = ratelimit_new();
    ratelimit_share(srv->rl, srv->store); /* PostgreSQL: one bucket per channel for all */
    srv->cache = chancache_new();
    srv->tokens = tokcache_new();
    srv->answers = answers_new();
    srv->hasher = auth_hasher_new();
    if (!srv->hasher) {
        log_msg("error", "OpenSSL: no SHA-256");
        goto out;
    }
    if (cfg->check_media)
        srv->media = media_new();
    if (cfg->sandbox) {
        sandbox_new(&srv->sandbox);
        srv->faults = faults_new(); /* fault injection exists only in the sandbox */
        if (delay_new(&srv->delay) != 0)
            goto out;
    }

    if (http_start(srv) != 0)
        goto stop;
    port = http_port(srv);
    if (cfg->port_file && write_port_file(cfg->port_file, port) != 0) {
        log_msg("error", "--port-file %s: %s", cfg->port_file, strerror(errno));
        goto stop;
    }
    log_msg("info", "listening on http://%s%s%s:%d (database %s%s%s)",
            strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
            strchr(cfg->listen_host, ':') ? "]" : "", port, store_dsn_shown(cfg->db),
            cfg->sandbox ? ", sandbox" : "", cfg->admin_key ? ", admin API on" : "");

    if (sigwait(&sigs, &sig) == 0)
        log_msg("info", "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
stop:
    /* No new connections; no new work handed to the threads; wait until the
     * work already accepted has been answered (bounded by the grace period);
     * then close the writer and the checker (anything left still gets its
     * callback, and those requests an error answer) and stop. */
    http_quiesce(srv);
    pthread_mutex_lock(&srv->intake_lock);
    srv->stopping = true;
    pthread_mutex_unlock(&srv->intake_lock);
    streams_stop(srv->streams); /* end the live streams first */
    if ((left = drain(srv, cfg->shutdown_grace_ms)) != 0)
        log_msg("warn", "shutdown grace of %u ms over: %u requests not answered yet",
                cfg->shutdown_grace_ms, left);
    pthread_mutex_lock(&srv->intake_lock);
    srv->writer_closed = true;
    pthread_mutex_unlock(&srv->intake_lock);
    committer_stop(srv->committer);
    webhook_free(srv->webhook);
    srv->webhook = NULL;
    delay_stop(srv->delay);     /* delayed answers go out now */
    journal_stop(srv->journal); /* written; waiting reads answered */
    if (left)
        drain(srv, 1000); /* what the stopped threads just resumed: error answers, at once */
out:
    http_stop(srv);
    cluster_stop(srv->cluster); /* no request reads srv->store's version any more */
    streams_free(srv->streams); /* after the daemons: their responses hold streams */
    committer_free(srv->committer);
    node_stop(node); /* no token is made after this: release the lease */
    webhook_free(srv->webhook);
    sandbox_free(srv->sandbox);
    delay_free(srv->delay);
    faults_free(srv->faults);
    journal_free(srv->journal);
    media_free(srv->media);
    ratelimit_free(srv->rl);
    tokcache_free(srv->tokens); /* before the cache: it holds entry references */
    chancache_free(srv->cache);
    answers_free(srv->answers); /* libmicrohttpd counts its own references to these */
    auth_hasher_free(srv->hasher);
    if (srv->tok)
        json_tokener_free(srv->tok);
    store_close(srv->store);
    store_board_free(srv->board); /* after both connections that use it */
    if (srv->log && srv->log != stderr)
        fclose(srv->log);
    else if (srv->log)
        fflush(srv->log);
    pthread_mutex_destroy(&srv->intake_lock);
    pthread_mutex_destroy(&srv->stats_lock);
    pthread_mutex_destroy(&srv->drain_lock);
    pthread_cond_destroy(&srv->drained);
    free(srv);
    return rc;
}
