#!/usr/bin/env python3
"""Durability and credentials: every post answered status 0 survives
`kill -9` (docs/API.md §4, post: status 0 only after commit), token rotation takes
effect at once (CLI and admin API, §1.6), and the admin API wants its key.

Stored posts are read from the database itself, read-only (vcptest.query:
the SQLite file, or with VCP_TEST_BACKEND=postgresql the test's database of
the run's cluster; schema: src/store/sqlite_schema.c and pg_schema.c:
posts(token PRIMARY KEY = message_token, channel, created_ms, type, sender,
body)).

Usage: test_durability.py [path/to/vcpd] [unittest args]
"""
import collections
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

ADMIN_KEY = "e2e-admin-key-0123456789abcdef"


def stored_posts(db, pa_id):
    """{token: (type, sender, body)} of the channel's posts, read-only."""
    rows = vcptest.query(db, "SELECT id FROM channels WHERE pa_id = %s"
                         % vcptest.sql_literal(pa_id))
    if not rows:
        raise AssertionError("channel %s not in the database" % pa_id)
    return {t: (ty, s, b) for t, ty, s, b in vcptest.query(
        db, "SELECT token, type, sender, body FROM posts WHERE channel = %d" % rows[0][0])}


class Base(unittest.TestCase):
    def assertStatus(self, resp, status):
        self.assertEqual(resp.status, 200, resp.short())
        js = resp.json or {}
        self.assertEqual((js.get("status"), js.get("status_message")),
                         (status, vcptest.STATUS_NAMES[status]), resp.short())
        return js


class KillNine(Base):
    THREADS = 8
    TARGET = 2000

    def setUp(self):
        self.v = vcptest.Vcpd(name="durability")
        self.ch = self.v.create_channel("E2E durable", webhook="https://127.0.0.1:9/d", rate="off")
        self.v.start()

    def tearDown(self):
        self.v.stop_checked()

    def test_acknowledged_posts_survive_kill_9(self):
        v, ch = self.v, self.ch
        lock = threading.Lock()
        acked = []             # (message_token, text, thread)
        errors = []
        reached = threading.Event()
        killing = threading.Event()

        def poster(idx):
            i = 0
            while not killing.is_set():
                text = "durable %d/%d" % (idx, i)
                i += 1
                try:
                    r = v.post(ch.token, ch.text(text), timeout=15)
                except (OSError, vcptest.http.client.HTTPException, vcptest.HarnessError) as e:
                    if not killing.is_set():
                        errors.append("%s: %r" % (text, e))
                    return
                js = r.json if isinstance(r.json, dict) else {}
                if r.status != 200 or js.get("status") != 0:
                    if not killing.is_set():
                        errors.append("%s: %s" % (text, r.short()))
                    return
                with lock:
                    acked.append((js["message_token"], text, idx))
                    if len(acked) >= self.TARGET:
                        reached.set()

        threads = [threading.Thread(target=poster, args=(i,), daemon=True)
                   for i in range(self.THREADS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        reached.wait(90)
        killing.set()
        v.kill9()  # requests are in flight right now
        for t in threads:
            t.join(20)
        took = time.monotonic() - t0
        self.assertEqual(errors, [], "errors before the kill")
        self.assertGreaterEqual(len(acked), self.TARGET, "only %d posts acknowledged in %.0f s"
                                % (len(acked), took))

        tokens = [t for t, _, _ in acked]
        self.assertEqual(len(set(tokens)), len(tokens), "message_token answered twice")
        for t in tokens:
            self.assertTrue(isinstance(t, int) and 0 < t < 2 ** 64, t)
        per_thread = collections.defaultdict(list)
        for t, _, idx in acked:
            per_thread[idx].append(t)
        for idx, ts in per_thread.items():
            self.assertEqual(ts, sorted(ts), "tokens of thread %d not time-ordered" % idx)

        v.start()  # same database
        stored = stored_posts(v.db, ch.pa_id)
        missing = [(t, text) for t, text, _ in acked if t not in stored]
        self.assertEqual(missing[:10], [], "%d acknowledged posts lost by kill -9" % len(missing))
        texts = collections.Counter(json.loads(b)["text"] for _, _, b in stored.values())
        for t, text, _ in acked:
            ty, sender, body = stored[t]
            self.assertEqual((ty, sender), ("text", ch.superadmin))
            self.assertEqual(json.loads(body).get("text"), text, "post %d stored other text" % t)
            self.assertEqual(texts[text], 1, "%r stored %d times" % (text, texts[text]))
        extra = len(stored) - len(acked)
        self.assertLessEqual(extra, self.THREADS,
                             "more unacknowledged posts stored than were in flight")
        self.assertEqual(max(texts.values()), 1, "a post was stored twice")

        # and it serves again, with tokens still increasing
        js = self.assertStatus(v.post(ch.token, ch.text("after restart")), 0)
        self.assertGreater(js["message_token"], max(tokens))
        self.assertIn(js["message_token"], stored_posts(v.db, ch.pa_id))
        self.assertStatus(v.api("/pa/get_account_info", token=ch.token), 0)

    def test_sigterm_exits_cleanly_and_keeps_posts(self):
        v, ch = self.v, self.ch
        tokens = []
        for i in range(100):
            tokens.append(self.assertStatus(v.post(ch.token, ch.text("term %d" % i)), 0)
                          ["message_token"])
        t0 = time.monotonic()
        rc = v.stop()
        self.assertEqual(rc, 0, "vcpd exit status on SIGTERM\n" + v.tail(v.stderr_path))
        self.assertLess(time.monotonic() - t0, 5)
        stored = stored_posts(v.db, ch.pa_id)
        self.assertEqual(sorted(t for t in tokens if t in stored), sorted(tokens))
        v.start()
        self.assertStatus(v.post(ch.token, ch.text("after SIGTERM")), 0)


class Tokens(Base):
    @classmethod
    def setUpClass(cls):
        cls.v = vcptest.Vcpd(name="tokens", admin_key=ADMIN_KEY).start()

    @classmethod
    def tearDownClass(cls):
        cls.v.stop_checked()

    def channel(self, name):
        return self.v.create_channel(name, webhook="https://127.0.0.1:9/t", rate="off")

    def assertTokenWorks(self, ch, token):
        self.assertStatus(self.v.post(token, ch.text("with a good token")), 0)
        self.assertStatus(self.v.api("/pa/get_account_info", token=token, method="GET"), 0)
        self.assertStatus(self.v.post(None, dict(ch.text("body token"), auth_token=token)), 0)

    def assertTokenDead(self, ch, token):
        self.assertStatus(self.v.post(token, ch.text("with the old token")), 2)
        self.assertStatus(self.v.post(token, ch.text("old token in the body"), where="body"), 2)
        self.assertStatus(self.v.api("/pa/get_account_info", token=token, method="GET"), 2)
        self.assertStatus(self.v.api("/pa/set_webhook", {"url": ""}, token=token), 2)

    def test_rotate_token_via_cli_while_running(self):
        ch = self.channel("E2E rotate CLI")
        old = ch.token
        self.assertTokenWorks(ch, old)
        out = self.v.cli("channel", "rotate-token", ch.pa_id)
        new = out["token"]
        self.assertEqual(out["channel"]["id"], ch.pa_id)
        self.assertNotEqual(new, old)
        self.assertGreaterEqual(len(new), 22, "a token of >= 128 random bits")
        self.assertTokenDead(ch, old)
        self.assertTokenWorks(ch, new)
        self.v.restart()
        self.assertTokenDead(ch, old)
        self.assertTokenWorks(ch, new)

    def test_rotate_token_via_admin_api(self):
        ch = self.channel("E2E rotate API")
        old = ch.token
        self.assertTokenWorks(ch, old)
        r = self.v.admin("POST", "/admin/v1/channels/%s/rotate-token" % ch.pa_id)
        self.assertEqual(r.status, 200, r.short())
        new = r.json["token"]
        self.assertEqual(r.json["channel"]["id"], ch.pa_id)
        self.assertNotEqual(new, old)
        self.assertTokenDead(ch, old)
        self.assertTokenWorks(ch, new)
        # twice in a row: the first new token dies too
        r2 = self.v.admin("POST", "/admin/v1/channels/%s/rotate-token" % ch.pa_id)
        newer = r2.json["token"]
        self.assertTokenDead(ch, new)
        self.assertTokenWorks(ch, newer)

    def test_admin_api_refuses_without_the_key(self):
        ch = self.channel("E2E admin auth")
        path = "/admin/v1/channels/%s/rotate-token" % ch.pa_id
        bad = [[], [("Authorization", "Bearer wrong-key")],
               [("Authorization", "Bearer " + ADMIN_KEY[:-1])],
               [("Authorization", "Bearer " + ADMIN_KEY + "x")],
               [("Authorization", "Bearer ")],
               [("Authorization", "Basic " + ADMIN_KEY)],
               [("Authorization", ADMIN_KEY)],
               [("X-Admin-Key", ADMIN_KEY)]]
        for hdrs in bad:
            with self.subTest(headers=hdrs):
                for method, p in (("GET", "/admin/v1/channels"), ("POST", path),
                                  ("GET", "/admin/v1/channels/" + ch.pa_id)):
                    r = self.v.request(method, p, hdrs)
                    self.assertEqual(r.status, 401, "%s %s with %r: %s" % (method, p, hdrs, r.short()))
                    self.assertNotIn(ch.token, r.raw.decode("utf-8", "replace"))
        # nothing happened: the token still works
        self.assertTokenWorks(ch, ch.token)
        r = self.v.admin("GET", "/admin/v1/channels")
        self.assertEqual(r.status, 200, r.short())
        self.assertIn(ch.pa_id, [c["id"] for c in r.json["channels"]])

    def test_admin_key_from_the_environment(self):
        v = vcptest.Vcpd(name="envkey", env={"VCPD_ADMIN_KEY": "key-from-the-environment-42"})
        v.admin_key = "key-from-the-environment-42"
        v.start()
        try:
            self.assertEqual(v.admin("GET", "/admin/v1/channels").status, 200)
            self.assertEqual(v.admin("GET", "/admin/v1/channels", key="nope").status, 401)
            self.assertEqual(v.admin("GET", "/admin/v1/channels", key="").status, 401)
        finally:
            v.stop_checked()


if __name__ == "__main__":
    vcptest.main()
