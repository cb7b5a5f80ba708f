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
 * channels.posts_count is a counter, not a count: reading a channel costs
 * one row whatever the number of its posts.
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
};

const size_t store_sqlite_migrations_n =
    sizeof store_sqlite_migrations / sizeof store_sqlite_migrations[0];
