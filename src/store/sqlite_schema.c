/*
 * The migrations of the SQLite schema (see sqlite_schema.h).
 *
 * Shaped for size and for the two hot paths.  posts is a rowid table whose
 * INTEGER PRIMARY KEY is the message_token: tokens are time-ordered, so new
 * rows are appended to the end of the table b-tree and its pages stay full,
 * and the token is stored once.  Its one index is on (channel) alone: an
 * index entry of a rowid table always ends with the rowid, so the entries
 * are already ordered by (channel, token) and serve "newest first before a
 * token" in both directions; naming the token in the index would store it a
 * second time (measured: 3% more bytes per post, 9% with token DESC).
 * channels.token_hash is UNIQUE, and that index is the one lookup every API
 * request makes.  members keeps insertion order in its rowid (position).
 * The posts of a channel are counted in post_counts (step 5; before it, in
 * channels.posts_count), a counter, not a count: reading a channel costs one
 * row whatever the number of its posts.  posts.channel is not a foreign key
 * (step 6): the commit of a batch checks each of its channels once.
 */
#include "store/sqlite_schema.h"

const char *const store_sqlite_migrations[] = {
    /* 1: channels, members, posts. */
    "CREATE TABLE channels ("
    " id INTEGER PRIMARY KEY,"
    " pa_id TEXT NOT NULL UNIQUE,"
    " token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
    " name TEXT NOT NULL,"
    " uri TEXT NOT NULL,"
    " icon TEXT NOT NULL,"
    " background TEXT NOT NULL,"
    " category TEXT NOT NULL,"
    " subcategory TEXT NOT NULL,"
    " country TEXT NOT NULL,"
    " lat REAL NOT NULL,"
    " lon REAL NOT NULL,"
    " webhook TEXT NOT NULL,"
    " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),"
    " rate_count INTEGER NOT NULL,"
    " rate_window_s INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE members ("
    " position INTEGER PRIMARY KEY,"
    " channel INTEGER NOT NULL REFERENCES channels (id),"
    " member_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " avatar TEXT NOT NULL,"
    " role INTEGER NOT NULL CHECK (role IN (0, 1)),"
    " UNIQUE (channel, member_id)"
    ");"
    "CREATE TABLE posts ("
    " token INTEGER PRIMARY KEY,"
    " channel INTEGER NOT NULL REFERENCES channels (id),"
    " created_ms INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " sender TEXT NOT NULL,"
    " body TEXT NOT NULL"
    ");"
    "CREATE INDEX posts_by_channel ON posts (channel);",
    /*
     * 2: channels.posts_count, kept by post_insert_batch in the transaction
     * that stores the posts.  Reads of a channel used to count its posts
     * with a correlated count(*): 80-125 ms per read at 2 million posts, on
     * the HTTP thread.  The backfill counts once, here.
     */
    "ALTER TABLE channels ADD COLUMN posts_count INTEGER NOT NULL DEFAULT 0;"
    "UPDATE channels SET posts_count ="
    " (SELECT count(*) FROM posts WHERE posts.channel = channels.id);",
    /*
     * 3: Issue 12, vcpd as a CI sandbox.  channels.epoch: a random number
     * drawn at creation and at every reset of the channel, so state kept in
     * memory per channel (rate buckets) starts afresh after a reset made by
     * any process, and a row id reused after a whole-sandbox reset never
     * inherits the state of the channel that had it before.  faults: the
     * injected failures of a channel; spec is the fault as the admin layer
     * wrote it (JSON, read back by it), the counters are kept up to date by
     * the server that applies it: remaining (NULL: no limit), seen (requests
     * it was considered for: the index of its seeded random sequence), hits.
     * journal: the last API requests of each channel, as answered (status
     * -1: no API status; body with the token masked), trimmed per channel
     * by whoever appends; read newest first, so (channel, id) is its index.
     */
    "ALTER TABLE channels ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE faults ("
    " id INTEGER PRIMARY KEY,"
    " channel INTEGER NOT NULL REFERENCES channels (id),"
    " spec TEXT NOT NULL,"
    " remaining INTEGER,"
    " seen INTEGER NOT NULL,"
    " hits INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX faults_by_channel ON faults (channel);"
    "CREATE TABLE journal ("
    " id INTEGER PRIMARY KEY,"
    " channel INTEGER NOT NULL REFERENCES channels (id),"
    " time_ms INTEGER NOT NULL,"
    " endpoint TEXT NOT NULL,"
    " http INTEGER NOT NULL,"
    " status INTEGER NOT NULL,"
    " detail TEXT NOT NULL,"
    " latency_us INTEGER NOT NULL,"
    " fault TEXT NOT NULL,"
    " body TEXT NOT NULL"
    ");"
    "CREATE INDEX journal_by_channel ON journal (channel);",
    /*
     * 4: Issue 10, several instances and the offline CLI on one file.
     * config: one row whose version moves, in the transaction of the change
     * itself, with every change to what a server caches (channels other
     * than their posts_count, members, faults other than their counters):
     * triggers, so no writer can forget it and a failed write moves nothing.
     * It replaces the PATH-vcpver side file, which failed silently when it
     * was missing, not writable, or named through a symlink.  node_leases:
     * the message_token node ids taken by running servers, each held by a
     * holder (a text naming the process) until expires_ms (Unix ms).
     */
    "CREATE TABLE config (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);"
    "INSERT INTO config (id, version) VALUES (1, 1);"
    "CREATE TRIGGER config_channels_ins AFTER INSERT ON channels"
    " BEGIN UPDATE config SET version = version + 1; END;"
    "CREATE TRIGGER config_channels_del AFTER DELETE ON channels"
    " BEGIN UPDATE config SET version = version + 1; END;"
    "CREATE TRIGGER config_channels_upd AFTER UPDATE OF id, pa_id, token_hash, name, uri, icon,"
    " background, category, subcategory, country, lat, lon, webhook, state, rate_count,"
    " rate_window_s, created_ms, epoch ON channels"
    " BEGIN UPDATE config SET version = version + 1; END;"
    "CREATE TRIGGER config_members_ins AFTER INSERT ON members"
    " BEGIN UPDATE config SET version = version + 1; END;"
    "CREATE TRIGGER config_members_del AFTER DELETE ON members"
    " BEGIN UPDATE config SET version = version + 1; END;"
    "CREATE TRIGGER config_members_upd AFTER UPDATE ON members"
    " BEGIN UPDATE config SET version = version + 1; END;"
    "CREATE TRIGGER config_faults_ins AFTER INSERT ON faults"
    " BEGIN UPDATE config SET version = version + 1; END;"
    "CREATE TRIGGER config_faults_del AFTER DELETE ON faults"
    " BEGIN UPDATE config SET version = version + 1; END;"
    "CREATE TABLE node_leases ("
    " node INTEGER PRIMARY KEY CHECK (node BETWEEN 0 AND 1023),"
    " holder TEXT NOT NULL,"
    " expires_ms INTEGER NOT NULL"
    ");",
    /*
     * 5: Issue 11, the cost of growth.  The posts of a channel are counted in
     * a narrow table of their own, post_counts, no longer in channels: every
     * commit adds its posts to each of their channels' counts, and
     * rewriting a whole channels row (17 columns, URLs among them) for that
     * made a post to one of 10,000 channels in rotation cost a third more
     * than a post to one channel.  A channel without a row has 0.  Triggers
     * forget a count with its posts: a reset draws a new epoch, a whole
     * reset deletes the channels.  channels.posts_count stays, unused.
     */
    "CREATE TABLE post_counts (channel INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
    "INSERT INTO post_counts (channel, n)"
    " SELECT id, posts_count FROM channels WHERE posts_count <> 0;"
    "UPDATE channels SET posts_count = 0;"
    "CREATE TRIGGER post_counts_reset AFTER UPDATE OF epoch ON channels"
    " BEGIN DELETE FROM post_counts WHERE channel = new.id; END;"
    "CREATE TRIGGER post_counts_gone AFTER DELETE ON channels"
    " BEGIN DELETE FROM post_counts WHERE channel = old.id; END;",
    /*
     * 6: Issue 11, the writer's cost per post.  posts.channel is no longer a
     * foreign key: SQLite checked it with a lookup in channels for every row
     * (8% of the writer's SQLite work at 26 posts a commit), where the batch
     * needs one check per channel -- post_insert_batch's count upsert now
     * adds to a channel's count only when the channel exists, and a batch
     * with a post of a channel that does not is refused (STORE_NOTFOUND) as
     * the foreign key refused it.  Nothing else deletes channels but
     * reset_all, which deletes the posts first.  The table is not rebuilt:
     * dropping a foreign key changes nothing on disk, so its CREATE text is
     * edited in place as SQLite documents for removing a FOREIGN KEY
     * constraint (lang_altertable.html, writable_schema), which takes no
     * time on a database of any size.  The UPDATE matches step 1's text
     * exactly: a file whose posts table reads otherwise (edited by hand)
     * keeps its foreign key, which is only slower.  A table created and
     * dropped moves the schema cookie, as the documented procedure's
     * "PRAGMA schema_version = X+1" does, so a connection opened before
     * the step reloads the schema at its next statement; RESET reloads
     * the migrating connection's.  sqlite_master, not its 3.33 alias
     * sqlite_schema.  (An SQLite built with SQLITE_DBCONFIG_DEFENSIVE on
     * by default refuses the UPDATE, and this step with it; Debian's is
     * not built so.)
     */
    "PRAGMA writable_schema = ON;"
    "UPDATE sqlite_master SET sql = 'CREATE TABLE posts ("
    " token INTEGER PRIMARY KEY,"
    " channel INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " sender TEXT NOT NULL,"
    " body TEXT NOT NULL"
    ")' WHERE type = 'table' AND name = 'posts' AND sql = 'CREATE TABLE posts ("
    " token INTEGER PRIMARY KEY,"
    " channel INTEGER NOT NULL REFERENCES channels (id),"
    " created_ms INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " sender TEXT NOT NULL,"
    " body TEXT NOT NULL"
    ")';"
    "CREATE TABLE schema_step_6 (x);"
    "DROP TABLE schema_step_6;"
    "PRAGMA writable_schema = RESET;",
};

const size_t store_sqlite_migrations_n =
    sizeof store_sqlite_migrations / sizeof store_sqlite_migrations[0];
