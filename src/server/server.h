/*
 * vcpd's one context struct, its configuration and the request type
 * shared by its modules; each module declares its functions in its own
 * header.
 *
 * Threads: one libmicrohttpd daemon thread (poll) runs every API handler,
 * so handler state (store read connection, JSON tokener, rate buckets, token
 * generator) needs no locks.  The acceptor (accept.h) hands connections to
 * that daemon, or event streams to stream.c's own thread, which touches
 * only the stream state (under its lock) and a store connection of its own.
 * The other threads never touch handler state either: the group-commit
 * writer (src/store/committer.c), the webhook checker (src/webhook/check.c),
 * the delay timer (delay.h) and the journal writer (journal.h) hand results
 * back by filling the request and resuming its suspended connection.  The
 * HTTP threads only read the database: every write (posts, a webhook URL,
 * admin operations) goes through the writer (req_commit), so another
 * process holding SQLite's write lock never stalls them.  All mutable state lives in struct server;
 * there are no other globals.
 */
#ifndef VCP_SERVER_H
#define VCP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <pthread.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "core/tokgen.h"
#include "store/committer.h"
#include "store/store.h"
#include "webhook/webhook.h"

#define BODY_HARD_MAX    (1024 * 1024)     /* past this: HTTP 413 and close */
#define BODY_DISCARD_MAX (8 * 1024 * 1024) /* chunked bodies: dropped past the cap, then closed */

struct ratelimit;
struct sandbox;
struct streams;
struct acceptor;
struct chancache;
struct cluster;
struct auth_hasher;
struct tokcache;
struct answers;
struct chan_entry;
struct faults;
struct delay;
struct journal;
struct media;
struct media_job;

#define VCPD_DEFAULT_DB "vcpd.db" /* --db when neither it nor VCPD_DB is given */

struct config {
    const char *listen_host; /* numeric address to bind */
    int listen_port;         /* 0 = ephemeral */
    const char *db;          /* store DSN */
    const char *port_file;   /* written with the bound port once listening */
    const char *admin_key;   /* NULL: admin HTTP API disabled */
    const char *access_log;  /* path, "-" (stderr) or "off" */
    bool sandbox;            /* http + private webhooks, /sandbox/webhook */
    bool rate_limit;         /* false: --no-rate-limit */
    unsigned node_id;        /* tokgen node, 0..1023 */
    bool node_id_set;        /* --node-id or VCPD_NODE_ID given: that one, else a free one */
    struct webhook_cfg webhook;
    unsigned conn_limit;        /* total connections */
    unsigned per_ip_limit;      /* connections per client address; 0 = none */
    unsigned per_ip_streams;    /* event streams per client address; 0 = none */
    unsigned conn_timeout_s;    /* idle/slow connection timeout */
    unsigned shutdown_grace_ms; /* SIGTERM: how long answers to accepted work may take */
    int64_t journal_size;       /* request journal entries per channel; 0 = off */
    bool check_media;           /* fetch and check posts' media before storing them */
};

struct metrics {
    uint64_t requests;           /* HTTP requests completed */
    uint64_t api_status[100];    /* API answers by wire status (99 = general error) */
    uint64_t http_4xx, http_5xx; /* 404/405/413/... */
    uint64_t posts;              /* posts acknowledged */
    uint64_t webhook_checks;     /* set_webhook checks started */
};

struct server {
    struct config cfg;
    struct MHD_Daemon *mhd;      /* the HTTP daemon (the API, pages, ...) */
    struct acceptor *acceptor;   /* listens; hands connections to mhd or streams */
    struct store *store;         /* API thread's connection: reads only (writes: committer),
                                    but PostgreSQL's rate-bucket claims (ratelimit.h) */
    struct chancache *cache;     /* token hash -> channel (HTTP thread only) */
    struct auth_hasher *hasher;  /* token hashing (HTTP thread only) */
    struct tokcache *tokens;     /* token -> channel, before hashing (HTTP thread only) */
    struct answers *answers;     /* status answers built once (answers.h; HTTP thread only) */
    struct committer *committer; /* posts: group commit on its own thread */
    struct store_board *board;   /* SQLite: the writer's config-version readings, which
                                    store answers from (store.h) */
    struct webhook *webhook;     /* set_webhook checks on their own thread */
    struct json_tokener *tok;    /* reused for every body (HTTP thread only) */
    struct tokgen tokgen;        /* message_token ids (HTTP thread only) */
    struct ratelimit *rl;        /* per-channel token buckets */
    struct sandbox *sandbox;     /* pending self-checks; NULL unless --sandbox */
    struct streams *streams;     /* live event streams (stream.h) */
    struct cluster *cluster;     /* other instances' changes (cluster.h); NULL on SQLite */
    struct faults *faults;       /* fault injection (fault.h); NULL unless --sandbox */
    struct delay *delay;         /* answers later (delay.h); NULL unless --sandbox */
    struct journal *journal;     /* request journal (journal.h); NULL when off */
    struct media *media;         /* --check-media cache (media.h); NULL when off */
    FILE *log;                   /* access log, NULL when off */
    /* The daemon's and the streams' threads complete requests: the access log and the
     * metrics are written under this lock. */
    pthread_mutex_t stats_lock;
    uint64_t log_flushed_ms; /* last fflush of the access log */
    struct metrics metrics;
    /* Shutdown: handlers hand new work to the committer and the checker
     * only under intake_lock and while !stopping; work already accepted (the
     * store write after a webhook check) goes on until writer_closed.  So
     * both can be drained and stopped without a request slipping in behind. */
    pthread_mutex_t intake_lock;
    bool stopping;
    bool writer_closed;
    /* Requests suspended for other work (the writer, the checker, a delay,
     * the journal, a media fetch) and not yet answered (their completion not
     * yet reported by libmicrohttpd): shutdown waits for 0, up to
     * cfg.shutdown_grace_ms.  Atomic: read by the main thread, which
     * waits on drained (under drain_lock); the decrement to 0 signals it. */
    unsigned in_flight;
    pthread_mutex_t drain_lock;
    pthread_cond_t drained;
};

struct req;
struct route; /* routes.h */
/* A handler answers a request (queues a response or suspends). MHD_YES/NO. */
typedef enum MHD_Result (*route_fn)(struct req *r);

/* What a request is waiting for while its connection is suspended. */
enum req_wait { WAIT_NONE, WAIT_COMMIT, WAIT_WEBHOOK, WAIT_DELAY, WAIT_JOURNAL, WAIT_MEDIA };

/*
 * One HTTP request: created on the first call of the access handler, freed
 * by the completion callback.  The body buffer starts inline; bigger bodies
 * (up to BODY_HARD_MAX) move to the heap.
 */
struct req {
    struct server *srv;
    struct MHD_Connection *conn;
    const struct route *route;
    char method[8];
    char path[128]; /* path without query, for the access log */
    uint64_t start_us;
    char *body; /* body bytes, NUL-terminated */
    size_t body_len;
    size_t body_cap;
    bool too_big;     /* body passed BODY_HARD_MAX */
    size_t discarded; /* bytes dropped after that (chunked bodies) */
    enum req_wait wait;
    bool in_flight;  /* counted in srv->in_flight until completed */
    bool deferred;   /* the final call was passed once (half-closed clients, http.c) */
    route_fn cont;   /* called when the suspended work resumes the request */
    bool answered;   /* a response is queued */
    int http_status; /* for the access log */
    int api_status;  /* wire status answered, -1 when not an API answer */

    /* state of suspended work */
    struct commit_req commit;
    struct channel *chan;   /* the request's channel: &ent->ch, or heap when ent is NULL */
    struct chan_entry *ent; /* the cache entry chan belongs to (a reference), or NULL */
    char *post_json;        /* normalised message being committed */
    char *webhook_url;      /* URL being checked */
    uint64_t wh_token;      /* message_token of the check's callback */
    int wh_status;          /* result of the webhook check */
    char wh_detail[256];    /* its detail; also an admin operation's (admin_http.c) */
    /* an admin API operation run on the writer's connection (admin_http.c) */
    const char *admin_op;           /* operation name (static string) */
    struct json_object *admin_args; /* its arguments, owned */
    struct json_object *admin_out;  /* its answer, owned */
    int admin_rc;                   /* enum admin_rc */

    /* fault injection (fault.h) */
    bool fault_delayed;  /* its latency was added: the request started anew */
    bool fault_drop;     /* close the connection instead of answering */
    char fault_mark[64]; /* what was injected, for the access log ("" when nothing) */

    /* request journal (journal.h) */
    const char *journal_ep;  /* "post", ...: journal this request (its channel is known) */
    char *journal_body;      /* its body, token masked (malloc'd) */
    char answer_detail[256]; /* the detail answered */
    bool journal_waited;     /* a journal read that waited for the writer already */
    struct media_job *media; /* --check-media fetches in flight (media.h) */

    char inline_body[2048]; /* last: req_new zeroes everything before it */
};

#endif
