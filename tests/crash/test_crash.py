#!/usr/bin/env python3
"""Crash consistency: posts at full speed, vcpd killed with SIGKILL at random
moments, restarted on the same database, 20 times.

After every kill and restart the database (read beside the running vcpd:
the SQLite file opened read-only, or with VCP_TEST_BACKEND=postgresql the
test's database of the run's cluster, through psql) must show:
  - every post answered status 0 stored exactly once, under the
    message_token it was answered with;
  - no post stored twice, acknowledged or not;
  - every row a complete, valid message of this test (a post that was in
    flight when vcpd died is either wholly there or not at all);
  - on SQLite, PRAGMA integrity_check = ok; on PostgreSQL, which keeps its
    own pages whole, the channel's posts_count and last_token agreeing with
    its rows (they move in the statement that stores a batch).

    python3 tests/crash/test_crash.py build/src/server/vcpd
    VCP_CRASH_SEED=N   repeat a run's kill times (the seed is printed)
    VCP_CRASH_ROUNDS=N (default 20)

Schema: src/store/sqlite_schema.c and pg_schema.c (posts: token, channel,
created_ms, type, sender, body).  Standard library only; every socket goes
to 127.0.0.1.
"""
import http.client
import json
import os
import random
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import vcptest  # noqa: E402

ROUNDS = int(os.environ.get("VCP_CRASH_ROUNDS", "20"))
THREADS = 6
MARK = re.compile(r"^crash r(\d+) t(\d+) n(\d+) [0-9a-f]{8}$")


class Poster(threading.Thread):
    """Posts on one keep-alive connection until the connection dies."""

    def __init__(self, port, token, sender, rnd, idx, stop):
        super().__init__(daemon=True)
        self.port, self.token, self.sender = port, token, sender
        self.rnd, self.idx, self.stop = rnd, idx, stop
        self.acked = {}        # marker -> message_token
        self.unknown = []      # markers sent without an answer
        self.refused = []      # (marker, answer) answered but not 0
        self.salt = "%08x" % random.getrandbits(32)

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self.stop.is_set():
            marker = "crash r%d t%d n%d %s" % (self.rnd, self.idx, n, self.salt)
            n += 1
            body = json.dumps({"from": self.sender, "type": "text", "text": marker}).encode()
            try:
                conn.request("POST", "/pa/post", body,
                             {"X-Viber-Auth-Token": self.token, "Content-Type": "application/json"})
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException):
                self.unknown.append(marker)
                break
            try:
                js = json.loads(raw)
            except ValueError:
                js = None
            if resp.status == 200 and isinstance(js, dict) and js.get("status") == 0:
                self.acked[marker] = js["message_token"]
            else:
                self.refused.append((marker, resp.status, raw[:200]))
        conn.close()


class CrashTest(unittest.TestCase):
    def test_sigkill_while_posting(self):
        seed = int(os.environ.get("VCP_CRASH_SEED", str(random.randrange(1 << 30))))
        print("VCP_CRASH_SEED=%d" % seed, file=sys.stderr)
        rng = random.Random(seed)
        v = vcptest.Vcpd("--no-rate-limit", "--access-log", "off", name="crash")
        ch = v.create_channel("Crash", webhook="https://127.0.0.1:9/hook")
        chan_id = None
        acked = {}      # every acknowledged marker -> token, all rounds
        stats = []
        for rnd in range(ROUNDS):
            v.start()
            if rnd > 0:
                self.check_db(v.db, acked, ch, stats, rnd)
            stop = threading.Event()
            posters = [Poster(v.port, ch.token, ch.superadmin, rnd, i, stop)
                       for i in range(THREADS)]
            for p in posters:
                p.start()
            time.sleep(rng.uniform(0.15, 1.2))
            v.kill9()
            stop.set()
            for p in posters:
                p.join(15)
                self.assertFalse(p.is_alive(), "a poster hung after the kill")
            n_acked = 0
            for p in posters:
                self.assertEqual(p.refused, [], "posts refused before the kill")
                for m, tok in p.acked.items():
                    self.assertNotIn(m, acked)
                    acked[m] = tok
                n_acked += len(p.acked)
            stats.append(n_acked)
        v.start()
        chan_id = self.check_db(v.db, acked, ch, stats, ROUNDS)
        v.stop_checked()
        print("%d rounds, %d posts acknowledged (%s per round), channel row %s" % (
            ROUNDS, len(acked), "/".join(map(str, stats)), chan_id), file=sys.stderr)
        self.assertGreater(len(acked), ROUNDS * 10, "too few posts to mean anything")

    def check_db(self, db, acked, ch, stats, rnd):
        if vcptest.BACKEND == "sqlite":
            self.assertEqual(vcptest.query(db, "PRAGMA integrity_check"), [("ok",)],
                             "integrity_check after restart %d" % rnd)
        chan = vcptest.query(db, "SELECT id FROM channels WHERE pa_id = %s"
                             % vcptest.sql_literal(ch.pa_id))
        self.assertEqual(len(chan), 1)
        chan = chan[0]
        if vcptest.BACKEND == "postgresql":
            (counted, count, last, top), = vcptest.query(
                db, "SELECT c.posts_count AS counted, (SELECT count(*) FROM posts p"
                " WHERE p.channel = c.id) AS n, c.last_token AS last, (SELECT"
                " coalesce(max(p.token), 0) FROM posts p WHERE p.channel = c.id) AS top"
                " FROM channels c WHERE c.id = %d" % chan[0])
            self.assertEqual(counted, count, "posts_count after restart %d" % rnd)
            self.assertEqual(last, top, "last_token after restart %d" % rnd)
        seen = {}
        for token, channel, created_ms, typ, sender, body in vcptest.query(
                db, "SELECT token, channel, created_ms, type, sender, body FROM posts"):
            where = "row token %d after restart %d" % (token, rnd)
            self.assertEqual(channel, chan[0], where)
            self.assertEqual(typ, "text", where)
            self.assertEqual(sender, ch.superadmin, where)
            self.assertGreater(token, 0, where)
            self.assertGreater(created_ms, 1577836800000, where)  # after 2020-01-01
            msg = json.loads(body)
            self.assertEqual(set(msg), {"type", "text"}, where)
            self.assertEqual(msg["type"], "text", where)
            self.assertRegex(msg["text"], MARK, where)
            self.assertNotIn(msg["text"], seen, "stored twice: %r" % msg["text"])
            seen[msg["text"]] = token
        for m, tok in acked.items():
            self.assertIn(m, seen, "acknowledged post lost: %r (token %d)" % (m, tok))
            self.assertEqual(seen[m], tok, "acknowledged post %r stored under another token" % m)
        return chan[0]


if __name__ == "__main__":
    vcptest.main()
