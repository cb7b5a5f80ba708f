#!/usr/bin/env python3
"""Reads cost a page, not a channel (issue 9 §2).

A channel with 2 million posts, made in about two seconds by one bulk
INSERT straight into the SQLite file (schema: src/store/sqlite_schema.c).
Reading the channel (GET /api/v1/channels/ID, the channel page, the admin
`channel show`) must not count those posts: each read stays under 5 ms, and
readers in a loop do not slow posting down much.  The database is handed to
vcpd as a file of schema version 1 (no posts_count column), so starting
vcpd also proves that the migration backfills the counter.

With VCP_TEST_BACKEND=postgresql the same channel is made in the test's
database of the run's cluster by one INSERT ... SELECT FROM generate_series
(through psql), which moves the channel's posts_count and last_token as
the store's own batch insert does (src/store/pg_schema.c has had the
counter from its first version: there is no older schema to hand over),
then ANALYZE, as autovacuum would soon after such a load.  The same reads
must stay as fast there.

bench/reads runs the same measurement with the issue's bound (posting slowed
by less than 20%) and prints the figures; here the bound is looser (50%)
because other tests share the machine, and still fails by far when every
read counts 2 million rows.

Usage: test_reads.py [path/to/vcpd] [unittest args]
Environment: VCP_READS_POSTS (default 2000000) posts in the channel.
"""
import http.client
import multiprocessing
import os
import sqlite3
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

POSTS = int(os.environ.get("VCP_READS_POSTS", "2000000"))
READ_MS_MAX = 5.0


def fill_channel(db, pa_id, n):
    """Appends n text posts to channel pa_id with one INSERT ... SELECT, then
    leaves the file at schema version 1, as a database of an older vcpd
    would be: no posts_count column (the next vcpd start adds and fills it)."""
    con = sqlite3.connect(db, timeout=10)
    try:
        cid, = con.execute("SELECT id FROM channels WHERE pa_id = ?", (pa_id,)).fetchone()
        sender, = con.execute("SELECT member_id FROM members WHERE channel = ? AND role = 0",
                              (cid,)).fetchone()
        con.execute("PRAGMA synchronous = OFF")
        con.execute(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?)"
            " INSERT INTO posts (token, channel, created_ms, type, sender, body)"
            " SELECT (1 << 40) + i, ?, 1700000000000, 'text', ?,"
            " '{\"type\":\"text\",\"text\":\"bulk ' || i || '\"}' FROM c", (n, cid, sender))
        # back to schema 1: without what steps 2 (posts_count), 3 (epoch,
        # faults, journal), 4 (config and its triggers, node_leases) and 5
        # (post_counts and its triggers) added
        for name, kind in con.execute("SELECT name, type FROM sqlite_master"
                                      " WHERE type = 'trigger' AND (name LIKE 'config_%'"
                                      " OR name LIKE 'post_counts_%')").fetchall():
            con.execute("DROP TRIGGER %s" % name)
        con.execute("DROP TABLE IF EXISTS post_counts")
        con.execute("DROP TABLE IF EXISTS config")
        con.execute("DROP TABLE IF EXISTS node_leases")
        cols = [r[1] for r in con.execute("PRAGMA table_info(channels)")]
        for col in ("posts_count", "epoch"):
            if col in cols:
                con.execute("ALTER TABLE channels DROP COLUMN %s" % col)
        con.execute("DROP TABLE IF EXISTS faults")
        con.execute("DROP TABLE IF EXISTS journal")
        con.execute("PRAGMA user_version = 1")
        con.commit()
    finally:
        con.close()


def fill_channel_pg(db, pa_id, n):
    """fill_channel on PostgreSQL: the same posts (tokens, sender, bodies) by one INSERT ...
    SELECT FROM generate_series, with posts_count and last_token moved in the same
    transaction, then ANALYZE (a statement of its own: not in a transaction)."""
    import pgcluster
    pg, name = pgcluster.shared(), db.rsplit("/", 1)[1]
    chan = "(SELECT id FROM channels WHERE pa_id = %s)" % vcptest.sql_literal(pa_id)
    pg.psql("INSERT INTO posts (token, channel, created_ms, type, sender, body)"
            " SELECT (1::bigint << 40) + i, c.id, 1700000000000, 'text', m.member_id,"
            " '{\"type\":\"text\",\"text\":\"bulk ' || i || '\"}'"
            " FROM generate_series(1, %d) AS i, channels c"
            " JOIN members m ON m.channel = c.id AND m.role = 0 WHERE c.id = %s;"
            "UPDATE channels SET posts_count = posts_count + %d,"
            " last_token = greatest(last_token, (1::bigint << 40) + %d) WHERE id = %s"
            % (n, chan, n, n, chan), dbname=name)
    pg.psql("ANALYZE", dbname=name)


def timed_get(port, path, conn=None):
    """(seconds, status) of one GET; reuses conn when given (keep-alive)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t0 = time.monotonic()
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    dt = time.monotonic() - t0
    if own:
        conn.close()
    return dt, resp.status


def reader(port, path, stop, go, pause, count):
    """A reader in a loop on one keep-alive connection, in its own process so
    the poster's interpreter is not shared, reading while `go` is set.  It
    waits `pause` seconds between reads: four clients spinning flat out on a
    two-core machine would measure the scheduler (they take the poster's CPU
    whatever vcpd does), not the cost of a read on vcpd's HTTP thread."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        if not go.wait(0.05):
            continue
        conn.request("GET", path)
        conn.getresponse().read()
        with count.get_lock():
            count.value += 1
        if pause:
            time.sleep(pause)
    conn.close()


def post_rate(v, ch, seconds):
    """Posts one after another for `seconds`; returns (posts per second,
    median latency in ms)."""
    lat = []
    end = time.monotonic() + seconds
    conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=30)
    body = ('{"from":"%s","type":"text","text":"timed"}' % ch.superadmin).encode()
    hdrs = {"X-Viber-Auth-Token": ch.token, "Content-Type": "application/json"}
    t_start = time.monotonic()
    while time.monotonic() < end:
        t0 = time.monotonic()
        conn.request("POST", "/pa/post", body, hdrs)
        r = conn.getresponse()
        raw = r.read()
        if b'"status":0' not in raw:
            raise AssertionError("post failed: %r" % raw)
        lat.append(time.monotonic() - t0)
    conn.close()
    return len(lat) / (time.monotonic() - t_start), statistics.median(lat) * 1000


def measure(v, ch, readers=4, seconds=3.0, pause=0.002, rounds=3):
    """The figures of §2: read latency (median, max of 30, ms), posting rate
    and median post latency alone and with `readers` readers in a loop
    (each pausing `pause` s between reads), and how many reads they made.
    The two conditions alternate over `rounds` rounds of seconds/rounds
    each and each keeps its best round, so that a moment of load from
    elsewhere (ctest runs suites side by side) falls on one round, not on
    one condition."""
    path = "/api/v1/channels/" + ch.pa_id
    timed_get(v.port, path)  # warm the page cache
    conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=30)
    reads = []
    for _ in range(30):
        dt, status = timed_get(v.port, path, conn)
        if status != 200:
            raise AssertionError("GET %s: HTTP %d" % (path, status))
        reads.append(dt * 1000)
    conn.close()
    stop, go = multiprocessing.Event(), multiprocessing.Event()
    count = multiprocessing.Value("l", 0)
    procs = [multiprocessing.Process(target=reader, args=(v.port, path, stop, go, pause, count),
                                     daemon=True) for _ in range(readers)]
    alone, loaded, reads_per_s = [], [], []
    for p in procs:
        p.start()
    try:
        for _ in range(rounds):
            alone.append(post_rate(v, ch, seconds / rounds))
            go.set()
            time.sleep(0.2)
            before = count.value
            t0 = time.monotonic()
            loaded.append(post_rate(v, ch, seconds / rounds))
            reads_per_s.append((count.value - before) / (time.monotonic() - t0))
            go.clear()
            time.sleep(0.05)
    finally:
        stop.set()
        for p in procs:
            p.join(10)
    alone_best, loaded_best = max(alone), max(loaded)
    return {"read_median_ms": statistics.median(reads), "read_max_ms": max(reads),
            "posts_per_s_alone": alone_best[0], "post_median_ms_alone": alone_best[1],
            "posts_per_s_with_readers": loaded_best[0],
            "post_median_ms_with_readers": loaded_best[1],
            "reads_per_s": max(reads_per_s)}


class BigChannel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = vcptest.Vcpd(name="reads")
        cls.ch = cls.v.create_channel("Big channel", webhook="https://127.0.0.1:9/r", rate="off")
        t0 = time.monotonic()
        if vcptest.BACKEND == "sqlite":
            fill_channel(cls.v.db, cls.ch.pa_id, POSTS)
        else:
            fill_channel_pg(cls.v.db, cls.ch.pa_id, POSTS)
        cls.fill_s = time.monotonic() - t0
        cls.v.start(timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.v.stop_checked()

    def test_count_is_kept(self):
        """The counter holds the bulk posts (on SQLite the migration counted them), and
        every stored post adds one."""
        show = lambda: self.v.cli("channel", "show", self.ch.pa_id)["channel"]["posts"]  # noqa
        self.assertEqual(show(), POSTS)
        for i in range(3):
            r = self.v.post(self.ch.token, self.ch.text("one more %d" % i))
            self.assertEqual((r.json or {}).get("status"), 0, r.short())
        self.assertEqual(show(), POSTS + 3)

    def test_reads_do_not_count(self):
        f = measure(self.v, self.ch, seconds=3.0)
        sys.stderr.write("%d posts (filled in %.1f s): %s\n" % (
            POSTS, self.fill_s, ", ".join("%s %.2f" % kv for kv in sorted(f.items()))))
        self.assertLess(f["read_median_ms"], READ_MS_MAX, f)
        self.assertGreater(f["posts_per_s_with_readers"], 0.5 * f["posts_per_s_alone"], f)

    def test_page_does_not_count(self):
        """The channel page reads the channel the same way."""
        path = "/channels/" + self.ch.pa_id
        conn = http.client.HTTPConnection("127.0.0.1", self.v.port, timeout=30)
        times = []
        for _ in range(15):
            dt, status = timed_get(self.v.port, path, conn)
            self.assertEqual(status, 200)
            times.append(dt * 1000)
        conn.close()
        self.assertLess(statistics.median(times), READ_MS_MAX, times)


if __name__ == "__main__":
    vcptest.main()
