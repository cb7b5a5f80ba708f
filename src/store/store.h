/*
 * The storage interface of vcpd: channels, their members and their posts.
 *
 * Each backend provides one `const struct store_ops` (SQLite: sqlite.c,
 * PostgreSQL: pg.c), the way curl's vtls backends do; callers only see struct store and
 * the store_* wrappers below, so no backend detail leaks into the server.
 *
 * Threading: one struct store is one database connection and must be used by
 * one thread at a time.  vcpd opens one for its HTTP thread (reads only) and
 * one for the group-commit writer (posts, and every other write: a webhook
 * URL, the admin API), so no request waits for SQLite's write lock on the
 * HTTP thread.
 *
 * Tokens are never stored: only their SHA-256 hash (STORE_HASH_LEN bytes).
 * Strings in the structs are fixed-size, NUL-terminated and truncated by
 * nobody: callers must keep inputs within the sizes (the admin layer checks).
 */
#ifndef VCP_STORE_H
#define VCP_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_HASH_LEN 32

/* Return codes of every store operation. */
enum store_rc {
    STORE_OK = 0,
    STORE_NOTFOUND = 1, /* no such channel / member / token */
    STORE_EXISTS = 2,   /* unique key taken (member id, channel name is not unique) */
    STORE_ERROR = 3     /* database failure; store_errmsg() says what */
};

enum channel_state {
    CHANNEL_ACTIVE = 0,
    CHANNEL_BLOCKED = 1,
    CHANNEL_SUSPENDED = 2,
    CHANNEL_DELETED = 3
};

enum member_role { ROLE_SUPERADMIN = 0, ROLE_ADMIN = 1 };

struct channel {
    int64_t id;            /* internal row id */
    char pa_id[32];        /* public id: "pa:" + 20 digits */
    char name[129];        /* chat_hostname / name, <= 128 bytes */
    char uri[129];         /* channel URI (slug) */
    char icon[1025];       /* avatar URL or "" */
    char background[1025]; /* background URL or "" */
    char category[129];
    char subcategory[129];
    char country[3];     /* ISO 3166 alpha-2 or "" */
    double lat, lon;     /* location */
    char webhook[2049];  /* "" when none is set */
    int state;           /* enum channel_state */
    int rate_count;      /* token bucket: requests per window; 0 = unlimited */
    int rate_window_s;   /* window in seconds (>= 1) */
    int64_t created_ms;  /* Unix ms */
    int64_t posts_count; /* number of stored posts (informational) */
    uint64_t epoch;      /* random; drawn anew at creation and at every reset (per-channel
                            state kept in memory, such as rate buckets, is keyed by it) */
};

struct member {
    char id[65]; /* Viber-style user id, e.g. base64 of 16 random bytes */
    char name[129];
    char avatar[1025];
    int role; /* enum member_role */
};

struct post {
    uint64_t token;     /* message_token (primary key) */
    int64_t channel;    /* channel row id */
    int64_t created_ms; /* Unix ms */
    char type[16];      /* "text", ... */
    char from[65];      /* sender member id */
    const char *json;   /* normalised message (msg_normalize); owned by whoever made the struct */
};

/* An injected failure of a channel (vcpd --sandbox); the store keeps it, src/server/fault.c
 * gives spec its meaning. */
struct fault_row {
    int64_t id;         /* row id, assigned by fault_add */
    int64_t channel;    /* channel row id */
    char *spec;         /* the fault as JSON text; malloc'd in fault_list results */
    int64_t remaining;  /* answers it still gives; -1: no limit */
    int64_t seen;       /* requests it was considered for */
    int64_t hits;       /* requests it answered */
    int64_t created_ms; /* Unix ms */
};

/* One API request in a channel's journal (src/server/journal.c). */
struct journal_row {
    int64_t id;         /* row id: order of arrival; assigned by journal_append */
    int64_t channel;    /* channel row id */
    int64_t time_ms;    /* Unix ms the request arrived */
    char endpoint[24];  /* "post", "set_webhook", "get_account_info" */
    int http;           /* HTTP status answered; 0: no answer went out */
    int status;         /* API status answered; -1: none */
    char detail[256];   /* the answer's detail, "" when none */
    int64_t latency_us; /* arrival to answer */
    char fault[64];     /* injected faults ("" when none), as the access log marks them */
    char *body;         /* the request body, token masked; malloc'd in journal_list results */
};

/* Filters of journal_list: 0 / -1 / NULL when not filtering on them. */
struct journal_query {
    int64_t before_id;    /* only ids < this (paging) */
    int64_t since_ms;     /* only time_ms >= this */
    int status;           /* only this API status (-1: any) */
    const char *endpoint; /* only this endpoint */
    size_t limit;
};

/* A lease on a message_token node id (node_acquire). */
struct node_lease {
    int node;           /* 0..1023 (core/tokgen.h's TOKGEN_NODE_MAX) */
    char holder[128];   /* who holds it: a text naming the process, e.g. "vcpd pid 7 on host" */
    int64_t expires_ms; /* Unix ms the lease ends unless renewed */
};

struct tokgen;      /* core/tokgen.h */
struct store;       /* one connection; opaque */
struct store_watch; /* a connection that hears of other connections' commits; opaque */
struct store_board; /* the config version shared by the connections of one process; opaque */

/* Longest wait of a configuration write for the watches' answers (store_watch_open). */
#define STORE_SYNC_MAX_MS 500

struct store_ops {
    const char *name; /* "sqlite" */
    /* Opens (creating and migrating as needed) the database named by dsn. */
    int (*open)(const char *dsn, struct store **out, char *err, size_t err_len);
    void (*close)(struct store *s);
    /*
     * Text of this connection's last failure ("" before any), owned by the connection and
     * valid until its next call.  Never holds token hashes or DSN passwords.
     */
    const char *(*errmsg)(struct store *s);
    /*
     * A number that changes whenever a channel or a member changes, through
     * any connection of any process using the same database, and is cheap
     * to read (at most one small query, none while nothing was written):
     * callers may cache channel data while it stays the same.  0 means the
     * backend cannot tell (the read failed), so nothing may be cached.
     * A change moves it in its own transaction: once committed, the next
     * read on any connection sees the new number.
     *
     * PostgreSQL: 0 unless a watch (store_watch_open below) is attached to
     * the connection; then the watch's number, query-free, which moves when
     * the database's notification of a committed change reaches the watch
     * (on loopback well under a millisecond after the commit, not in the
     * committing transaction itself), and is 0 while the watch's connection
     * is lost: nothing is cached that a missed notification could leave stale.
     */
    uint64_t (*config_version)(struct store *s);
    /*
     * STORE_OK when the database answers a read of the channels table now
     * (readiness: the file is there, readable and of a schema this program
     * knows); STORE_ERROR otherwise, errmsg saying why.
     */
    int (*ping)(struct store *s);

    /*
     * Creates a channel from c and its n first members (its superadmin
     * first; members may be NULL when n is 0) in one transaction: all or
     * nothing (a channel nobody can post to is never left behind).  The
     * caller chooses c->pa_id (random digits, or a fixture's); the store
     * assigns c->id and c->created_ms and writes them back.  STORE_EXISTS
     * when pa_id or the token hash is taken, or two members share an id.
     */
    int (*channel_create)(struct store *s, struct channel *c, const uint8_t hash[STORE_HASH_LEN],
                          const struct member *members, size_t n);
    /*
     * The channel whose token hashes to hash, deleted ones included (STORE_NOTFOUND if none).
     * On every request's path, so one index lookup: out->posts_count is NOT counted, it is 0.
     */
    int (*channel_by_token)(struct store *s, const uint8_t hash[STORE_HASH_LEN],
                            struct channel *out);
    /* The channel with that pa_id, posts_count filled in; STORE_NOTFOUND if none. */
    int (*channel_by_pa_id)(struct store *s, const char *pa_id, struct channel *out);
    /*
     * All channels, deleted ones included, oldest first, posts_count filled in; *out is
     * malloc'd (NULL when n == 0), caller frees.
     */
    int (*channel_list)(struct store *s, struct channel **out, size_t *n);
    /*
     * The setters return STORE_NOTFOUND when no channel has that id.  set_token replaces the
     * hash at once (the old token stops working) and is STORE_EXISTS when another channel
     * has that hash; set_webhook with url NULL or "" removes the webhook.
     */
    int (*channel_set_state)(struct store *s, int64_t id, int state);
    int (*channel_set_token)(struct store *s, int64_t id, const uint8_t hash[STORE_HASH_LEN]);
    int (*channel_set_webhook)(struct store *s, int64_t id, const char *url);
    int (*channel_set_rate)(struct store *s, int64_t id, int count, int window_s);
    /*
     * Sets the details get_account_info shows from c: name, uri, icon, background,
     * category, subcategory, country, lat, lon (nothing else of c is read).
     */
    int (*channel_set_details)(struct store *s, int64_t id, const struct channel *c);
    /*
     * Empties channel id: deletes its posts and sets its epoch, in one
     * transaction; *posts says how many posts went.  The channel, its token
     * and members stay.  STORE_NOTFOUND when no channel has that id.
     */
    int (*channel_reset)(struct store *s, int64_t id, uint64_t epoch, int64_t *posts);
    /*
     * Empties the whole database: every post, member and channel, in one
     * transaction; *channels and *posts say how many went.
     */
    int (*reset_all)(struct store *s, int64_t *channels, int64_t *posts);

    /*
     * Faults.  fault_add stores f (spec, remaining; seen and hits start at 0) and writes the
     * new id and created_ms back (STORE_NOTFOUND: no such channel).  fault_list gives the
     * channel's faults oldest first; *out and every spec are malloc'd (free with
     * store_faults_free).  fault_remove removes one (id > 0) or all (id 0) of the channel's,
     * *n how many (STORE_NOTFOUND when id > 0 matched none).  These three move the config
     * version.  fault_count writes a fault's counters and does NOT move it: it happens on
     * the requests the fault applies to, and must not empty every cache each time.
     * channel_reset and reset_all remove the faults too.
     */
    int (*fault_add)(struct store *s, struct fault_row *f);
    int (*fault_list)(struct store *s, int64_t channel, struct fault_row **out, size_t *n);
    int (*fault_remove)(struct store *s, int64_t channel, int64_t id, int64_t *n);
    int (*fault_count)(struct store *s, int64_t id, int64_t remaining, int64_t seen, int64_t hits);

    /*
     * Journal.  journal_append inserts n rows (body non-NULL) in one transaction, writes
     * each row's new id back (0 for a row skipped: its channel no longer exists), and
     * then keeps only the newest `keep` rows of each channel it touched.  journal_list gives a
     * channel's rows newest first under q's filters; *out and every body are malloc'd (free with
     * store_journal_free).  Neither moves the config version.  channel_reset and
     * reset_all empty the journal too.
     */
    int (*journal_append)(struct store *s, struct journal_row *rows, size_t n, int64_t keep);
    int (*journal_list)(struct store *s, int64_t channel, const struct journal_query *q,
                        struct journal_row **out, size_t *n);

    /*
     * STORE_EXISTS when the member id is already in that channel, STORE_NOTFOUND when there
     * is no such channel.
     */
    int (*member_add)(struct store *s, int64_t channel, const struct member *m);
    /* STORE_NOTFOUND when member_id is not in that channel. */
    int (*member_remove)(struct store *s, int64_t channel, const char *member_id);
    /* Members in the order added; *out is malloc'd (NULL when n == 0), caller frees. */
    int (*member_list)(struct store *s, int64_t channel, struct member **out, size_t *n);
    /* Role of member_id in channel, STORE_NOTFOUND if not a member. */
    int (*member_role)(struct store *s, int64_t channel, const char *member_id, int *role);

    /*
     * Inserts n posts in one transaction, durably (all or none).  Tokens must be in
     * 1..2^63-1 and json non-NULL.  On failure nothing is stored and the result says whose
     * fault it was: STORE_EXISTS a token is already stored (or twice in p), STORE_NOTFOUND a
     * post's channel does not exist, STORE_ERROR anything else (a malformed post, or the
     * database failing: locked past the busy timeout, full, I/O error, its file deleted or
     * moved since it was opened -- every write checks that, SQLite would go on writing into
     * the unlinked file).
     *
     * A post may be stored under a larger token than it came with, written back into
     * p[i].token (which the caller then answers and publishes): on PostgreSQL with a
     * generator (set_tokgen), under the lock of each post's channel row, a token of the
     * generator's node that is not above the channel's last stored one is raised above it
     * (tokgen_raise: same node bits, so still unique, and never made again), so that each channel's
     * tokens increase in commit order across instances -- what a stream resumed with Last-Event-ID
     * relies on.  The transaction also NOTIFYs the stored tokens (store_watch_tokens).
     */
    int (*post_insert_batch)(struct store *s, struct post *p, size_t n);
    /*
     * Up to limit posts of channel with token < before (0: from the newest),
     * newest first, only of type when type is non-NULL.  *out and every
     * out[i].json are malloc'd; free with store_posts_free.  n == 0 gives
     * *out == NULL; an unknown channel simply has no posts.
     */
    int (*post_list)(struct store *s, int64_t channel, uint64_t before, const char *type,
                     size_t limit, struct post **out, size_t *n);
    /*
     * Up to limit posts of channel with token > after, OLDEST first: the
     * pages a resumed event stream replays.  Same ownership as post_list;
     * one index range, so a page costs the same on a channel of any size.
     */
    int (*post_list_after)(struct store *s, int64_t channel, uint64_t after, size_t limit,
                           struct post **out, size_t *n);

    /*
     * Node ids.  Every server that makes message_tokens holds a lease on its node id (the
     * token's bits 21-12) in the database, so two live servers never use the same one.  A
     * lease is live until its expires_ms; the holder renews it well before that, and one
     * left by a crashed process simply expires.  The clock is the backend's: the process
     * clock on SQLite (one machine), the database's where it has one.
     *
     * node_acquire takes node `want` (0..1023), or the lowest free one when want is -1, for
     * holder until now + ttl_ms, in one transaction.  A node is free when it has no lease,
     * its lease expired, or holder already holds it.  STORE_OK: *out is the new lease.
     * STORE_EXISTS: want is held by a live lease of another holder, and *out is that lease
     * (who, until when); or want is -1 and all 1024 are held (out->node is -1).
     * node_renew moves the lease's end to now + ttl_ms; STORE_NOTFOUND when holder no
     * longer holds node (it expired and another took it): the caller must stop making
     * tokens with it.  node_release ends holder's lease on node (STORE_OK also when it
     * held none).  None of the three moves the config version.
     *
     * node_last_token sets *token to the highest stored message_token whose node bits are
     * node, 0 when there is none: a server starts its token generator above it, so its
     * tokens keep increasing after a restart with the clock set back.  Read once at start;
     * it may scan back through the posts of other nodes.
     */
    int (*node_acquire)(struct store *s, int want, const char *holder, int64_t ttl_ms,
                        struct node_lease *out);
    int (*node_renew)(struct store *s, int node, const char *holder, int64_t ttl_ms);
    int (*node_release)(struct store *s, int node, const char *holder);
    int (*node_last_token)(struct store *s, int node, uint64_t *token);

    /*
     * The posts with these tokens, in the order given (tokens not stored are skipped), each
     * with its channel; *out and every json malloc'd (store_posts_free).  NULL on SQLite
     * (used by instances that hear of other instances' posts: cluster.h).
     */
    int (*post_get)(struct store *s, const uint64_t *tokens, size_t n, struct post **out,
                    size_t *nout);
    /*
     * The generator whose node's tokens post_insert_batch raises (tokgen_raise; its owner
     * keeps it alive while s is open).  NULL on a backend that never raises (SQLite: one
     * server per file, so its tokens increase in commit order anyway).
     */
    void (*set_tokgen)(struct store *s, struct tokgen *g);

    /*
     * A channel's rate bucket shared by every instance on the database (server/ratelimit.h):
     * takes up to want tokens (>= 1) from channel's bucket -- count tokens at most, refilled
     * at count per window_s seconds on the database's clock, full again when epoch is not
     * the one it was last taken under -- in one statement, so instances taking at once each
     * get their own.  *got: how many it took (0: empty).  NULL on a backend with one server
     * per database (SQLite: the bucket stays in that server's memory).
     */
    int (*rate_claim)(struct store *s, int64_t channel, uint64_t epoch, int count, int window_s,
                      int want, int *got);

    /*
     * Makes s's config_version the watch's (store_watch_open; w NULL: detach, back to 0).
     * NULL on a backend without watches.
     */
    void (*watch_attach)(struct store *s, struct store_watch *w);

    /*
     * Attaches s to board b (store_board_new; NULL: detach): s publishes there the config
     * version its write transactions see, and its config_version answers from the board's
     * reading while that is fresh.  NULL on a backend whose version is not read from the
     * database (PostgreSQL: the watch).
     */
    void (*board_attach)(struct store *s, struct store_board *b);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/*
 * The backend for a DSN: "postgresql://...", "postgres://..." or a libpq key=value string
 * ("host=... dbname=...") -> PostgreSQL; "sqlite:PATH" or a plain path -> SQLite.  NULL if
 * unknown.
 */
const struct store_ops *store_backend(const char *dsn);

/* Opens dsn with its backend.  Returns STORE_OK or STORE_ERROR with err filled. */
int store_open(const char *dsn, struct store **out, char *err, size_t err_len);
void store_close(struct store *s); /* NULL is a no-op */

/*
 * dsn as it may be shown in a log or a message: a PostgreSQL DSN with its password (in the
 * URI's user:password@, a ?password= parameter or a password=... keyword) replaced by ***,
 * a file path as it is.  The text lives in a buffer of the calling thread, valid until its
 * next call there; truncated past 1023 bytes.
 */
const char *store_dsn_shown(const char *dsn);

/*
 * Watching the commits of every other connection, of any process (several vcpd on one
 * PostgreSQL database: LISTEN/NOTIFY).  A watch is one connection of its own, used by one
 * thread, that the database tells as transactions commit: a change of configuration
 * (channels, members, faults; store_config_version) moves the number that the stores it is
 * attached to give as their config_version -- read from any thread, lock-free.
 *
 * A change is in force everywhere once it is reported done: after each configuration write
 * (of any connection of any process) the writer sends a marker behind it and waits until
 * the watch of every live node lease (node_acquire) has answered that it heard it -- and so
 * everything before it -- at most STORE_SYNC_MAX_MS (a watch that is lost does not answer,
 * and its stores cache nothing meanwhile anyway).  node: the node id this process leases,
 * which its watch answers for (-1: none).
 *
 * store_watch_open: STORE_OK with *out, STORE_NOTFOUND when dsn's backend needs no watch
 * (SQLite: its config_version reads the database itself), STORE_ERROR with err filled.
 * store_watch_fd: the socket to poll for input, -1 while the connection is lost.
 * store_watch_read: takes in what arrived, without waiting; while the connection is lost it
 * tries to reconnect (at most every 250 ms) and returns STORE_ERROR (store_watch_errmsg says
 * why), and the attached stores' config_version is 0 meanwhile; once it is back, the version
 * moves (whatever changed meanwhile is read afresh).  store_watch_close(NULL) is a no-op;
 * detach the stores first.
 */
int store_watch_open(const char *dsn, int node, struct store_watch **out, char *err,
                     size_t err_len);
int store_watch_fd(struct store_watch *w);
int store_watch_read(struct store_watch *w);
/* The tokens of the posts committed (by any instance) that the last store_watch_read took
 * in, in commit order; *n how many.  Owned by w, valid until its next read. */
const uint64_t *store_watch_tokens(struct store_watch *w, size_t *n);
/* Moves w's version now (any thread): for a change this process just committed, in force
 * here before its notification comes back. */
void store_watch_touch(struct store_watch *w);
const char *store_watch_errmsg(struct store_watch *w);
void store_watch_close(struct store_watch *w);
/* Attaches w to s (w NULL: detaches); a no-op on a backend without watches. */
void store_watch_attach(struct store *s, struct store_watch *w);

/*
 * A board: the config version (config_version) that one connection of this process read
 * last, with the time it holds for, shared with the other connections attached to it
 * (SQLite).  vcpd's writer reads the version inside every batch's write transaction, where
 * its snapshot is the newest, and publishes it; the HTTP thread's connection answers from
 * it instead of reading the database itself while posts are being committed.
 *
 * A reading (version, t_ns) says: every commit that ended before t_ns (store_mono_ns) moved
 * the version to at most `version`, none after it as far as the reader knows.  Thread-safe
 * (one mutex, taken for a few instructions once per write transaction and at most once per
 * freshness period of each reader).  store_board_new returns NULL when memory runs out;
 * store_board_free(NULL) is a no-op; detach every store first.
 */
struct store_board *store_board_new(void);
void store_board_free(struct store_board *b);
/* Attaches s to b (NULL: detaches); a no-op on a backend without boards. */
void store_board_attach(struct store *s, struct store_board *b);
/* For backends: puts the reading (version, t_ns) on b unless b holds a younger one (a larger
 * t_ns); version 0 (cannot tell) is never put. */
void store_board_publish(struct store_board *b, uint64_t version, int64_t t_ns);
/* For backends: b's reading; 0 when b holds none.  *t_ns gets its time. */
uint64_t store_board_read(struct store_board *b, int64_t *t_ns);

/* s->ops->set_tokgen when the backend has it; a no-op otherwise. */
void store_set_tokgen(struct store *s, struct tokgen *g);

/* Frees the result of journal_list. */
void store_journal_free(struct journal_row *j, size_t n);

/* Frees the result of fault_list. */
void store_faults_free(struct fault_row *f, size_t n);

/* Frees the result of post_list. */
void store_posts_free(struct post *p, size_t n);

/*
 * Why post_insert_batch refuses p before touching the database (a token
 * outside 1..2^63-1, no body), or NULL when it does not: the one rule of
 * both backends and of the committer, which fails such a post alone.
 */
const char *store_post_malformed(const struct post *p);

/* Clocks of the backends: wall-clock Unix ms, and monotonic ns. */
int64_t store_now_ms(void);
int64_t store_mono_ns(void);

/*
 * Every struct store begins with a pointer to its ops, so these wrappers can
 * dispatch without knowing the backend.
 */
struct store {
    const struct store_ops *ops;
};

#define store_errmsg(s)                     ((s)->ops->errmsg(s))
#define store_config_version(s)             ((s)->ops->config_version(s))
#define store_ping(s)                       ((s)->ops->ping(s))
#define store_channel_create(s, c, h, m, n) ((s)->ops->channel_create((s), (c), (h), (m), (n)))
#define store_channel_by_token(s, h, o)     ((s)->ops->channel_by_token((s), (h), (o)))
#define store_channel_by_pa_id(s, id, o)    ((s)->ops->channel_by_pa_id((s), (id), (o)))
#define store_channel_list(s, o, n)         ((s)->ops->channel_list((s), (o), (n)))
#define store_channel_set_state(s, id, st)  ((s)->ops->channel_set_state((s), (id), (st)))
#define store_channel_set_token(s, id, h)   ((s)->ops->channel_set_token((s), (id), (h)))
#define store_channel_set_webhook(s, id, u) ((s)->ops->channel_set_webhook((s), (id), (u)))
#define store_channel_set_rate(s, id, c, w) ((s)->ops->channel_set_rate((s), (id), (c), (w)))
#define store_channel_set_details(s, id, c) ((s)->ops->channel_set_details((s), (id), (c)))
#define store_channel_reset(s, id, e, n)    ((s)->ops->channel_reset((s), (id), (e), (n)))
#define store_reset_all(s, c, n)            ((s)->ops->reset_all((s), (c), (n)))
#define store_fault_add(s, f)               ((s)->ops->fault_add((s), (f)))
#define store_fault_list(s, ch, o, n)       ((s)->ops->fault_list((s), (ch), (o), (n)))
#define store_fault_remove(s, ch, id, n)    ((s)->ops->fault_remove((s), (ch), (id), (n)))
#define store_fault_count(s, id, r, se, h)  ((s)->ops->fault_count((s), (id), (r), (se), (h)))
#define store_journal_append(s, r, n, k)    ((s)->ops->journal_append((s), (r), (n), (k)))
#define store_journal_list(s, ch, q, o, n)  ((s)->ops->journal_list((s), (ch), (q), (o), (n)))
#define store_member_add(s, ch, m)          ((s)->ops->member_add((s), (ch), (m)))
#define store_member_remove(s, ch, m)       ((s)->ops->member_remove((s), (ch), (m)))
#define store_member_list(s, ch, o, n)      ((s)->ops->member_list((s), (ch), (o), (n)))
#define store_member_role(s, ch, m, r)      ((s)->ops->member_role((s), (ch), (m), (r)))
#define store_post_insert_batch(s, p, n)    ((s)->ops->post_insert_batch((s), (p), (n)))
#define store_post_list(s, ch, b, t, l, o, n) \
    ((s)->ops->post_list((s), (ch), (b), (t), (l), (o), (n)))
#define store_post_list_after(s, ch, a, l, o, n) \
    ((s)->ops->post_list_after((s), (ch), (a), (l), (o), (n)))
#define store_node_acquire(s, w, h, t, o) ((s)->ops->node_acquire((s), (w), (h), (t), (o)))
#define store_node_renew(s, n, h, t)      ((s)->ops->node_renew((s), (n), (h), (t)))
#define store_node_release(s, n, h)       ((s)->ops->node_release((s), (n), (h)))
#define store_node_last_token(s, n, t)    ((s)->ops->node_last_token((s), (n), (t)))
#define store_post_get(s, t, n, o, no)    ((s)->ops->post_get((s), (t), (n), (o), (no)))
#define store_rate_claim(s, ch, e, c, w, want, got) \
    ((s)->ops->rate_claim((s), (ch), (e), (c), (w), (want), (got)))

#endif
