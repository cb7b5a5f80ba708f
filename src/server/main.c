/*
 * vcpd's entry point: `vcpd serve` runs the server; `vcpd channel …` and
 * `vcpd member …` administer the database offline (vcpd may be running on
 * it at the same time).  The offline commands build the same JSON arguments
 * the admin HTTP API takes and run the same admin_exec() operations, so the
 * two ways in cannot drift apart.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/body.h"
#include "server/admin.h"
#include "server/auth.h"
#include "server/chancache.h"
#include "server/cluster.h"
#include "server/tokcache.h"
#include "server/delay.h"
#include "server/fault.h"
#include "server/journal.h"
#include "server/media.h"
#include "server/node.h"
#include "server/stream.h"
#include "server/ratelimit.h"
#include "server/server.h"
#include "server/util.h"
#include "server/version.h"

#define DEFAULT_DB "vcpd.db"

static const char usage_main[] =
    "usage: vcpd [serve] [options]        run the server\n"
    "       vcpd channel ACTION [options] administer channels (offline, on --db)\n"
    "       vcpd member ACTION [options]  administer channel members (offline)\n"
    "       vcpd sandbox reset --yes      empty the whole database (offline)\n"
    "       vcpd --version                release and git commit of this build\n"
    "\n"
    "Run 'vcpd serve --help', 'vcpd channel --help' or 'vcpd member --help' for details.\n";

static const char usage_serve[] =
    "usage: vcpd serve [options]\n"
    "\n"
    "Serves the Viber Channels Post API (/pa/set_webhook, /pa/get_account_info,\n"
    "/pa/post), the admin API (/admin/v1/...), /healthz, /readyz (200 only while\n"
    "the database answers), /version and /metrics.\n"
    "\n"
    "  --listen HOST:PORT          address to listen on (default 127.0.0.1:8080;\n"
    "                              [::1]:PORT for IPv6; port 0 picks a free port)\n"
    "  --db DSN                    the database (env VCPD_DB; default " DEFAULT_DB "):\n"
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
    "  --db PATH            database (env VCPD_DB; default " DEFAULT_DB "); only\n"
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
    "  --db PATH            an existing database (env VCPD_DB; default " DEFAULT_DB ")\n"
    "  --json               print JSON for scripts instead of text\n";

static const char usage_sandbox[] =
    "usage: vcpd sandbox reset --yes [--db PATH] [--json]\n"
    "\n"
    "  reset --yes          delete every channel, member, post, fault and journal\n"
    "                       entry in the database,\n"
    "                       so a test suite starts from nothing (a running vcpd on\n"
    "                       the same database sees it at once)\n"
    "\n"
    "  --db PATH            database (env VCPD_DB; default " DEFAULT_DB ")\n"
    "  --json               print JSON for scripts instead of text\n";

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "HOST:PORT" or "[V6]:PORT" into host (static storage in buf) and port. */
static int parse_listen(const char *s, char *buf, size_t len, int *port)
{
    const char *colon;
    unsigned long p;
    size_t n;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        n = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        n = (size_t)(colon - s);
    }
    if (n == 0 || n >= len || parse_uint(colon + 1, 65535, &p) != 0)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *port = (int)p;
    return 0;
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

/* --- serve ------------------------------------------------------------------ */

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
 * Waits until every request handed to the writer or the webhook checker has
 * been answered (srv->in_flight is 0), or for at most ms milliseconds.
 * Returns how many were still waiting.
 */
static unsigned drain(struct server *srv, unsigned ms)
{
    const struct timespec tick = {0, 2 * 1000 * 1000};
    uint64_t deadline = mono_us() + (uint64_t)ms * 1000;
    unsigned left;

    while ((left = __atomic_load_n(&srv->in_flight, __ATOMIC_SEQ_CST)) != 0 && mono_us() < deadline)
        nanosleep(&tick, NULL);
    return left;
}

static int serve(int argc, char **argv)
{
    static char host[64];
    enum {
        O_LISTEN = 256,
        O_DB,
        O_PORT_FILE,
        O_ADMIN_KEY,
        O_ACCESS_LOG,
        O_SANDBOX,
        O_NO_RATE,
        O_NODE,
        O_WH_CA,
        O_WH_CONNECT,
        O_WH_TIMEOUT,
        O_MAXCONN,
        O_MAXIP,
        O_CONN_TIMEOUT,
        O_MAXSTREAMS,
        O_GRACE,
        O_JOURNAL,
        O_CHECK_MEDIA
    };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"db", required_argument, NULL, O_DB},
        {"port-file", required_argument, NULL, O_PORT_FILE},
        {"admin-key", required_argument, NULL, O_ADMIN_KEY},
        {"access-log", required_argument, NULL, O_ACCESS_LOG},
        {"sandbox", no_argument, NULL, O_SANDBOX},
        {"no-rate-limit", no_argument, NULL, O_NO_RATE},
        {"node-id", required_argument, NULL, O_NODE},
        {"webhook-ca", required_argument, NULL, O_WH_CA},
        {"webhook-connect-timeout", required_argument, NULL, O_WH_CONNECT},
        {"webhook-timeout", required_argument, NULL, O_WH_TIMEOUT},
        {"max-connections", required_argument, NULL, O_MAXCONN},
        {"max-connections-per-ip", required_argument, NULL, O_MAXIP},
        {"connection-timeout", required_argument, NULL, O_CONN_TIMEOUT},
        {"max-streams-per-ip", required_argument, NULL, O_MAXSTREAMS},
        {"shutdown-grace", required_argument, NULL, O_GRACE},
        {"journal", required_argument, NULL, O_JOURNAL},
        {"check-media", no_argument, NULL, O_CHECK_MEDIA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct server *srv = xcalloc(1, sizeof *srv);
    struct config *cfg = &srv->cfg;
    const char *listen = "127.0.0.1:8080";
    char err[512];
    unsigned long v;
    long journal = -1; /* --journal: -1 until given */
    struct node *node = NULL;
    sigset_t sigs;
    int c, sig, port, rc = 1;
    unsigned left;

    cfg->db = getenv("VCPD_DB") ? getenv("VCPD_DB") : DEFAULT_DB;
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
    if (getenv("VCPD_NODE_ID")) {
        if (parse_uint(getenv("VCPD_NODE_ID"), TOKGEN_NODE_MAX, &v) != 0) {
            fprintf(stderr, "vcpd: VCPD_NODE_ID must be 0..%d\n", TOKGEN_NODE_MAX);
            return 2;
        }
        cfg->node_id = (unsigned)v;
        cfg->node_id_set = true;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            listen = optarg;
            break;
        case O_DB:
            cfg->db = optarg;
            break;
        case O_PORT_FILE:
            cfg->port_file = optarg;
            break;
        case O_ADMIN_KEY:
            cfg->admin_key = optarg;
            break;
        case O_ACCESS_LOG:
            cfg->access_log = optarg;
            break;
        case O_SANDBOX:
            cfg->sandbox = true;
            break;
        case O_NO_RATE:
            cfg->rate_limit = false;
            break;
        case O_WH_CA:
            cfg->webhook.extra_ca = optarg;
            break;
        case O_NODE:
        case O_WH_CONNECT:
        case O_WH_TIMEOUT:
        case O_MAXCONN:
        case O_MAXIP:
        case O_CONN_TIMEOUT:
        case O_MAXSTREAMS:
        case O_GRACE: {
            unsigned long max = c == O_NODE ? TOKGEN_NODE_MAX : c == O_GRACE ? 3600 : 1000000000UL;
            if (parse_uint(optarg, max, &v) != 0 ||
                ((c == O_WH_CONNECT || c == O_WH_TIMEOUT || c == O_MAXCONN) && v == 0)) {
                fprintf(stderr, "vcpd: --%s: bad value '%s'\n", opts[c - O_LISTEN].name, optarg);
                return 2;
            }
            if (c == O_NODE) {
                cfg->node_id = (unsigned)v;
                cfg->node_id_set = true;
            } else if (c == O_WH_CONNECT)
                cfg->webhook.connect_timeout_ms = (long)v;
            else if (c == O_WH_TIMEOUT)
                cfg->webhook.total_timeout_ms = (long)v;
            else if (c == O_MAXCONN)
                cfg->conn_limit = (unsigned)v;
            else if (c == O_MAXIP)
                cfg->per_ip_limit = (unsigned)v;
            else if (c == O_MAXSTREAMS)
                cfg->per_ip_streams = (unsigned)v;
            else if (c == O_GRACE)
                cfg->shutdown_grace_ms = (unsigned)v * 1000;
            else
                cfg->conn_timeout_s = (unsigned)v;
            break;
        }
        case O_CHECK_MEDIA:
            cfg->check_media = true;
            break;
        case O_JOURNAL:
            if (parse_uint(optarg, JOURNAL_MAX, &v) != 0) {
                fprintf(stderr, "vcpd: --journal: bad value '%s' (0..%d)\n", optarg, JOURNAL_MAX);
                return 2;
            }
            journal = (long)v;
            break;
        case 'h':
            fputs(usage_serve, stdout);
            return 0;
        default:
            fputs(usage_serve, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vcpd: unexpected argument '%s'\n%s", argv[optind], usage_serve);
        return 2;
    }
    if (parse_listen(listen, host, sizeof host, &cfg->listen_port) != 0) {
        fprintf(stderr, "vcpd: --listen: expected HOST:PORT, got '%s'\n", listen);
        return 2;
    }
    cfg->listen_host = host;
    if (cfg->admin_key && strlen(cfg->admin_key) < 16) {
        fprintf(stderr, "vcpd: the admin key must be at least 16 characters\n");
        return 2;
    }
    cfg->webhook.allow_http = cfg->sandbox;
    cfg->webhook.allow_private = cfg->sandbox;
    if (fit_fd_limit(cfg) != 0)
        return 1;
    cfg->journal_size = journal >= 0 ? journal : cfg->sandbox ? JOURNAL_DEFAULT_SANDBOX : 0;

    /* Signals go to sigwait() below, so every thread started from here on
     * inherits the mask and none is interrupted. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&srv->intake_lock, NULL);
    pthread_mutex_init(&srv->stats_lock, NULL);

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
    int committer_rc = committer_new(&srv->committer, cfg->db, err, sizeof err);
    pthread_setname_np(pthread_self(), "vcpd");
    if (committer_rc != 0) {
        log_msg("error", "database %s: %s", store_dsn_shown(cfg->db), err);
        goto out;
    }
    committer_set_tokgen(srv->committer, &srv->tokgen); /* PostgreSQL may raise tokens */
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
    log_msg("info", "listening on http://%s%s%s:%d (database %s%s%s)", strchr(host, ':') ? "[" : "",
            host, strchr(host, ':') ? "]" : "", port, store_dsn_shown(cfg->db),
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
    auth_hasher_free(srv->hasher);
    if (srv->tok)
        json_tokener_free(srv->tok);
    store_close(srv->store);
    if (srv->log && srv->log != stderr)
        fclose(srv->log);
    else if (srv->log)
        fflush(srv->log);
    pthread_mutex_destroy(&srv->intake_lock);
    pthread_mutex_destroy(&srv->stats_lock);
    free(srv);
    return rc;
}

/* --- offline administration ------------------------------------------------------ */

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

/*
 * vcpd channel|member ACTION [POSITIONAL...] [--flag value ...]: flags become
 * arguments of the same name; positionals fill the operation's slots.
 */
static int admin_cli(const char *group, int argc, char **argv)
{
    static const struct {
        const char *op;
        const char *slots[2]; /* names of positional arguments; "?name": optional */
        const char *flags;    /* accepted --flags (space separated, trailing space) */
    } table[] = {
        {"channel.create",
         {NULL, NULL},
         "name superadmin webhook rate uri icon background category subcategory country token id "
         "superadmin-id location "},
        {"channel.list", {NULL, NULL}, ""},
        {"channel.show", {"channel", NULL}, ""},
        {"channel.block", {"channel", NULL}, ""},
        {"channel.suspend", {"channel", NULL}, ""},
        {"channel.activate", {"channel", NULL}, ""},
        {"channel.delete", {"channel", NULL}, ""},
        {"channel.rotate-token", {"channel", NULL}, ""},
        {"channel.set-rate", {"channel", "rate"}, ""},
        {"channel.set-webhook", {"channel", "url"}, ""},
        {"channel.edit",
         {"channel", NULL},
         "name uri icon background category subcategory country location "},
        {"channel.reset", {"channel", NULL}, ""},
        {"sandbox.reset", {NULL, NULL}, ""},
        {"fault.add",
         {"channel", NULL},
         "endpoint status http latency-ms webhook count fraction seed "},
        {"fault.list", {"channel", NULL}, ""},
        {"fault.clear", {"channel", "?fault"}, ""},
        {"member.add", {"channel", NULL}, "name role id avatar "},
        {"member.remove", {"channel", "member"}, ""},
        {"member.list", {"channel", NULL}, ""},
    };
    /* "channel fault": `vcpd channel fault add ...` runs the fault.* operations */
    const char *ops_group = strcmp(group, "channel fault") == 0 ? "fault" : group;
    const char *usage = strncmp(group, "channel", 7) == 0 ? usage_channel
                        : strcmp(group, "sandbox") == 0   ? usage_sandbox
                                                          : usage_member;
    const char *db = getenv("VCPD_DB") ? getenv("VCPD_DB") : DEFAULT_DB;
    struct json_object *args = NULL, *out = NULL;
    struct store *store = NULL;
    char op[64], detail[256], err[512], flag[40];
    const char *bad = NULL;
    bool json = false, yes = false;
    int slot = 0, idx = -1, rc = 2;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    snprintf(op, sizeof op, "%s.%s", ops_group, argv[1]);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].op, op) == 0)
            idx = (int)i;
    if (idx < 0) {
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
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--yes") == 0 && strcmp(op, "sandbox.reset") == 0) {
            yes = true;
            continue;
        }
        if (strcmp(a, "--drop") == 0 && strcmp(op, "fault.add") == 0) {
            json_object_object_add(args, "drop", json_object_new_boolean(1));
            continue;
        }
        if (strncmp(a, "--", 2) == 0) {
            bad = a;
            const char *name = a + 2, *val, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            if (n == 0 || n + 2 > sizeof flag)
                goto bad_flag;
            memcpy(flag, name, n);
            flag[n] = ' ';
            flag[n + 1] = '\0';
            val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) {
                fprintf(stderr, "vcpd %s: --%.*s needs a value\n", group, (int)n, name);
                goto out;
            }
            flag[n] = '\0';
            if (strcmp(flag, "db") == 0) {
                db = val;
                continue;
            }
            flag[n] = ' ';
            if (!strstr(table[idx].flags, flag) ||
                (strstr(table[idx].flags, flag) != table[idx].flags &&
                 strstr(table[idx].flags, flag)[-1] != ' '))
                goto bad_flag;
            flag[n] = '\0';
            if (strcmp(flag, "location") == 0) {
                struct json_object *l = parse_location(val);
                if (!l) {
                    fprintf(stderr, "vcpd %s: --location: expected LAT,LON\n", group);
                    goto out;
                }
                json_object_object_add(args, "location", l);
            } else if (strcmp(flag, "rate") == 0) {
                struct json_object *r = parse_rate(val);
                if (!r) {
                    fprintf(stderr, "vcpd %s: --rate: expected N/S or off\n", group);
                    goto out;
                }
                json_object_object_add(args, "rate", r);
            } else {
                for (char *p = flag; *p; p++) /* --superadmin-id: "superadmin_id" */
                    if (*p == '-')
                        *p = '_';
                json_object_object_add(args, flag, json_object_new_string(val));
            }
            continue;
        }
        if (slot >= 2 || !table[idx].slots[slot]) {
            fprintf(stderr, "vcpd %s %s: unexpected argument '%s'\n", group, argv[1], a);
            goto out;
        }
        if (strcmp(table[idx].slots[slot], "rate") == 0) {
            struct json_object *r = parse_rate(a);
            if (!r) {
                fprintf(stderr, "vcpd %s %s: expected N/S or off, got '%s'\n", group, argv[1], a);
                goto out;
            }
            json_object_object_add(args, "rate", r);
        } else {
            const char *name = table[idx].slots[slot];
            json_object_object_add(args, name + (name[0] == '?'), json_object_new_string(a));
        }
        slot++;
    }
    for (int s = slot; s < 2; s++)
        if (table[idx].slots[s] && table[idx].slots[s][0] != '?') {
            fprintf(stderr, "vcpd %s %s: missing %s\n%s", group, argv[1], table[idx].slots[s],
                    usage);
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

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("vcpd %s (git %s)\n", vcpd_version, vcpd_git_hash);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (argc >= 3 && strcmp(argv[1], "channel") == 0 && strcmp(argv[2], "fault") == 0)
        return admin_cli("channel fault", argc - 2, argv + 2);
    if (argc >= 2 && (strcmp(argv[1], "channel") == 0 || strcmp(argv[1], "member") == 0 ||
                      strcmp(argv[1], "sandbox") == 0))
        return admin_cli(argv[1], argc - 1, argv + 1);
    if (argc >= 2 && argv[1][0] != '-') {
        fprintf(stderr, "vcpd: unknown command '%s'\n%s", argv[1], usage_main);
        return 2;
    }
    return serve(argc, argv);
}
