#!/usr/bin/env python3
"""Several vcpd on one PostgreSQL database agree, live (issue 10).

Configuration changes made through one instance's admin API, or the offline
CLI, are in force on another instance for its very next request, though that
instance caches channels: LISTEN/NOTIFY moves its configuration version (see
src/store/pg_watch.c), and the writer returns only once every live
instance's watch has answered that it heard the change (pg.c, synced).  Each
case first warms the other instance's caches, makes the change and asks the
other instance at once.  When its listening connection is lost, an instance
caches nothing until the connection is back, so a change made meanwhile is in
force there too.

Runs on the PostgreSQL cluster of the ctest run (VCP_TEST_BACKEND=postgresql,
VCP_PG_STATE); there is nothing to check on SQLite (one file, one server).

Usage: test_cluster.py [path/to/vcpd] [unittest args]
"""
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "feed"))
from feedlib import Sse  # noqa: E402

ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
IN_FORCE_S = 2.0  # bound on the notification's delivery, with room for a loaded CI machine
DELAYS = []  # (case, seconds until in force, first answer already the new one)
HOOK = "https://127.0.0.1:9/hook"  # stored by the CLI without a check: posts need a webhook


def pg():
    import pgcluster
    return pgcluster.shared()


def dbname(v):
    return v.db.rsplit("/", 1)[1]


@unittest.skipUnless(vcptest.BACKEND == "postgresql", "several instances need PostgreSQL")
class ConfigAcrossInstances(unittest.TestCase):
    def setUp(self):
        self.a = vcptest.Vcpd(name="a", admin_key=ADMIN_KEY).start()
        self.b = vcptest.Vcpd(name="b", admin_key=ADMIN_KEY, db=self.a.db).start()
        self.ch = self.a.create_channel("Across", webhook=HOOK)
        self.warm()

    def tearDown(self):
        for v in (self.a, self.b):
            v.stop_checked()

    def post(self, v, token=None, text="hello"):
        r = v.post(token or self.ch.token, self.ch.text(text))
        self.assertEqual(r.status, 200, r.short())
        return r.json.get("status")

    def warm(self):
        """B has read the channel and keeps it (a few requests: the caches fill)."""
        for i in range(3):
            self.assertEqual(self.post(self.b, text="warm %d" % i), 0)

    def in_force(self, ask, want, case):
        """ask() again until it gives want; records the delay, fails past IN_FORCE_S."""
        t0 = time.monotonic()
        got = first = ask()
        while got != want and time.monotonic() - t0 < IN_FORCE_S:
            time.sleep(0.001)
            got = ask()
        DELAYS.append((case, time.monotonic() - t0, first == want))
        self.assertEqual(got, want, "%s: not in force after %.1f s" % (case, IN_FORCE_S))
        self.assertEqual(first, want, "%s: not in force at the very next request" % case)

    def account(self, v):
        r = v.api("/pa/get_account_info", token=self.ch.token)
        self.assertEqual(r.json.get("status"), 0, r.short())
        return r.json

    def admin_a(self, method, what, body=None, want=200):
        r = self.a.admin(method, "/admin/v1/channels/%s%s" % (self.ch.pa_id, what), body)
        self.assertEqual(r.status, want, r.short())
        return r.json

    def test_rotated_token_refused_on_the_other_at_once(self):
        new = self.admin_a("POST", "/rotate-token")["token"]
        self.in_force(lambda: self.post(self.b), 2, "rotate-token")  # the old token: invalid
        self.assertEqual(self.post(self.b, token=new), 0)

    def test_states_in_force_on_the_other(self):
        for verb, status in (("block", 7), ("activate", 0), ("suspend", 9), ("activate", 0),
                             ("delete", 8)):
            with self.subTest(verb=verb):
                self.admin_a("POST", "/" + verb)
                self.in_force(lambda: self.post(self.b, text=verb), status, verb)

    def test_cli_change_in_force_on_both(self):
        self.assertEqual(self.post(self.a), 0)  # A warm too
        self.a.cli("channel", "block", self.ch.pa_id)
        self.in_force(lambda: self.post(self.b), 7, "cli block")
        self.in_force(lambda: self.post(self.a), 7, "cli block")
        self.a.cli("channel", "activate", self.ch.pa_id)
        self.in_force(lambda: self.post(self.b), 0, "cli activate")
        self.in_force(lambda: self.post(self.a), 0, "cli activate")

    def test_rate_in_force_on_the_other(self):
        self.admin_a("PUT", "/rate", {"count": 1, "window": 60})
        # one post per minute from the change on (the channel's bucket: one for both)
        self.in_force(lambda: [self.post(self.b, text="x"), self.post(self.b, text="y")],
                      [0, 12], "rate")
        self.assertEqual(self.post(self.a, text="z"), 12)

    def test_webhook_removed_on_the_other(self):
        self.admin_a("PUT", "/webhook", {"url": ""})
        self.in_force(lambda: self.post(self.b), 10, "webhook")  # no webhook: posts refused

    def test_members_and_details_on_the_other(self):
        self.account(self.b)
        added = self.admin_a("POST", "/members", {"name": "Later Admin", "role": "admin"},
                             want=201)["member"]["id"]
        members = lambda: added in [m["id"] for m in self.account(self.b)["members"]]  # noqa
        self.in_force(members, True, "member add")
        self.admin_a("DELETE", "/members/" + added)
        self.in_force(members, False, "member remove")
        self.admin_a("PATCH", "", {"name": "Renamed Across"})
        self.in_force(lambda: self.account(self.b)["name"], "Renamed Across", "details")

    def test_watch_lost_nothing_cached_until_back(self):
        # end the listening connections (A's and B's watches), and wait until they are
        # gone: B may not have read of the loss yet
        listening = ("FROM pg_stat_activity WHERE datname = '%s' AND application_name ="
                     " 'vcpd watch'" % dbname(self.b))
        killed = pg().psql("SELECT count(pg_terminate_backend(pid)) " + listening)
        self.assertGreaterEqual(int(killed), 1)
        deadline = time.monotonic() + 5
        while int(pg().psql("SELECT count(*) " + listening)) and time.monotonic() < deadline:
            time.sleep(0.01)
        # a change made meanwhile: B cannot hear it, and must not serve its cache
        self.admin_a("POST", "/block")
        self.assertEqual(self.post(self.b), 7)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(self.b.stderr_path) as f:
                log = f.read()
            if "listening again" in log:
                break
            time.sleep(0.05)
        self.assertIn("watch connection lost", log)
        self.assertIn("listening again", log)
        # back: caching again, and hearing again
        self.admin_a("POST", "/activate")
        self.warm()
        self.admin_a("POST", "/rotate-token")
        self.in_force(lambda: self.post(self.b), 2, "rotate-token after the loss")


@unittest.skipUnless(vcptest.BACKEND == "postgresql", "several instances need PostgreSQL")
class RateAcrossInstances(unittest.TestCase):
    """A channel's rate limit holds across three instances: accepted posts stay within what
    one token bucket allows (count at once, refilled at count per window) plus the
    documented margin, one chunk per instance (src/server/ratelimit.h): at most 10 %."""
    COUNT, WINDOW, SECONDS, CLIENTS = 100, 4, 3.0, 2  # clients per instance

    def setUp(self):
        self.vs = [vcptest.Vcpd(name="r0").start()]
        self.vs += [vcptest.Vcpd(name="r%d" % i, db=self.vs[0].db).start() for i in (1, 2)]
        self.ch = self.vs[0].create_channel("Rated", webhook=HOOK,
                                            rate="%d/%d" % (self.COUNT, self.WINDOW))

    def tearDown(self):
        for v in self.vs:
            v.stop_checked()

    def test_limit_holds_across_three_instances(self):
        lock = threading.Lock()
        accepted, answers = [], {}
        start = time.monotonic()

        def client(v, n):
            i = 0
            while time.monotonic() - start < self.SECONDS:
                r = v.post(self.ch.token, self.ch.text("c%d p%d" % (n, i)))
                st = r.json.get("status")
                with lock:
                    answers[st] = answers.get(st, 0) + 1
                    if st == 0:
                        accepted.append(time.monotonic())
                i += 1

        threads = [threading.Thread(target=client, args=(v, k * 10 + j))
                   for k, v in enumerate(self.vs) for j in range(self.CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.SECONDS + 30)
        took = time.monotonic() - start
        allowed = self.COUNT + self.COUNT * took / self.WINDOW  # one bucket, full at the start
        sys.stderr.write("rate %d/%d s on three instances: %d accepted in %.2f s of %d answers "
                         "%s; one bucket allows %.0f; %.1f %% of it\n" % (
                             self.COUNT, self.WINDOW, len(accepted), took, sum(answers.values()),
                             answers, allowed, 100.0 * len(accepted) / allowed))
        self.assertEqual(set(answers) - {0, 12}, set(), answers)
        self.assertGreater(answers.get(12, 0), 0, "the limit was never reached")
        self.assertLessEqual(len(accepted), allowed * 1.10)
        self.assertGreaterEqual(len(accepted), allowed * 0.5)  # stricter, not closed
        stored = pg().psql("SELECT count(*) FROM posts", dbname=dbname(self.vs[0]))
        self.assertEqual(int(stored), len(accepted))


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


@unittest.skipUnless(vcptest.BACKEND == "postgresql", "several instances need PostgreSQL")
class FanOut(unittest.TestCase):
    """Live events across instances: posts accepted by either of two instances reach the
    viewers of both, each once, tokens strictly increasing (each channel's token order is its
    commit order, store.h), within 100 ms p99 on loopback (measured from the answer to the
    poster to the event at the viewer); a viewer that resumes with Last-Event-ID in the
    middle gets the rest with no gap and no duplicate."""
    POSTERS, POSTS = 2, 40  # per instance

    def setUp(self):
        self.a = vcptest.Vcpd(name="fa").start()
        self.b = vcptest.Vcpd(name="fb", db=self.a.db).start()
        self.ch = self.a.create_channel("Fanned", webhook=HOOK, rate="off")
        self.path = "/api/v1/channels/%s/events" % self.ch.pa_id

    def tearDown(self):
        for v in (self.a, self.b):
            v.stop_checked()

    def watch(self, v, out, stop, last_event_id=None):
        s = Sse(v.port, self.path, last_event_id=last_event_id)
        try:
            while True:
                try:
                    ev = s.next_post(timeout=0.2)
                except socket.timeout:
                    if stop.is_set():
                        return
                    continue
                if ev is None:
                    out.append(("closed", time.monotonic()))
                    return
                out.append((int(ev["id"]), time.monotonic()))
        finally:
            s.close()

    def test_posts_of_both_reach_viewers_of_both(self):
        lock = threading.Lock()
        acked = []  # (token, instance, monotonic time the answer arrived)
        seen = {"a": [], "b": []}
        stop = threading.Event()
        viewers = [threading.Thread(target=self.watch, args=(v, seen[k], stop))
                   for k, v in (("a", self.a), ("b", self.b))]
        for t in viewers:
            t.start()
        time.sleep(0.3)  # both streams open

        def poster(k, v, n):
            for i in range(self.POSTS):
                r = v.post(self.ch.token, self.ch.text("%s%d post %d" % (k, n, i)))
                self.assertEqual(r.json.get("status"), 0, r.short())
                with lock:
                    acked.append((r.json["message_token"], k, time.monotonic()))

        posters = [threading.Thread(target=poster, args=(k, v, n))
                   for k, v in (("a", self.a), ("b", self.b)) for n in range(self.POSTERS)]
        for t in posters:
            t.start()
        for t in posters:
            t.join(60)
        total = 2 * self.POSTERS * self.POSTS
        self.assertEqual(len(acked), total)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and min(len(seen["a"]), len(seen["b"])) < total:
            time.sleep(0.02)
        stop.set()
        for t in viewers:
            t.join(5)

        want = sorted(t for t, _, _ in acked)
        stored = [int(x) for x in pg().psql("SELECT token FROM posts ORDER BY token",
                                            dbname=dbname(self.a)).split()]
        self.assertEqual(stored, want)  # what was answered is what was stored
        for k in ("a", "b"):
            got = [t for t, _ in seen[k]]
            self.assertNotIn("closed", got)
            self.assertEqual(got, sorted(set(got)), "viewer on %s: not strictly increasing" % k)
            self.assertEqual(got, want, "viewer on %s: not every post once" % k)
        at = {k: {t: when for t, when in seen[k]} for k in seen}
        lat = {}
        for src, dst in (("a", "b"), ("b", "a"), ("a", "a"), ("b", "b")):
            lat[src + dst] = [max(0.0, at[dst][t] - when) for t, k, when in acked if k == src]
        sys.stderr.write("fan-out, from the answer to the poster to the event at a viewer: %s\n" %
                         "; ".join("%s->%s p50 %.1f ms p99 %.1f ms" % (
                             k[0], k[1], percentile(v, 0.5) * 1e3, percentile(v, 0.99) * 1e3)
                             for k, v in sorted(lat.items())))
        # issue 10's target, p99 under 100 ms across instances; bench/scaleout measures it
        # on a quiet machine.  Under the sanitizers (make test-sanitize sets ASAN_OPTIONS)
        # every instruction costs several times more: there the bound is 500 ms, which a
        # post that only reached the other instance by replay or a stuck reader still fails.
        bound = 0.500 if "ASAN_OPTIONS" in os.environ else 0.100
        for k in ("ab", "ba"):
            self.assertLess(percentile(lat[k], 0.99), bound, k)

        # a viewer resuming in the middle, on either instance: the rest, once each, in order
        mid = want[len(want) // 2]
        for v in (self.a, self.b):
            s = Sse(v.port, self.path, last_event_id=mid)
            rest = []
            while len(rest) < len(want) - len(want) // 2 - 1:
                ev = s.next_post(timeout=5)
                self.assertIsNotNone(ev)
                rest.append(int(ev["id"]))
            s.close()
            self.assertEqual(rest, [t for t in want if t > mid])


def tearDownModule():
    if DELAYS:
        first = sum(1 for d in DELAYS if d[2])
        sys.stderr.write("config changes in force on the other instance: %d of %d at its very "
                         "next request; longest delay %.1f ms (%s)\n" % (
                             first, len(DELAYS), max(d[1] for d in DELAYS) * 1e3,
                             max(DELAYS, key=lambda d: d[1])[0]))


if __name__ == "__main__":
    vcptest.main()
