"""PostgreSQL goes away under a running vcpd and comes back (issue 10).

The test starts a PostgreSQL cluster of its own (pgcluster.py), because it
stops and starts the server: the run's shared cluster serves other tests at
the same time.  While posts keep coming from a few clients, the server is
stopped; every post must be answered within a bounded time -- status 0
before the stop, status 99 with a detail while the database is away, never
a hang -- /readyz must say not ready (503) while /healthz stays 200; once
the server is started again vcpd must recover by itself; and every post
acknowledged with status 0 must be stored, exactly once.

OutageBehindNginx does the same to two instances behind nginx
(deploy/nginx/vcpd.conf): posts through nginx are answered by vcpd (HTTP
200, status 99 with a detail) -- never a 502/504 of nginx's, nginx keeps
sending to both instances since they share the database -- /readyz through
nginx is 503 meanwhile, and both instances post again by themselves.

Run: python3 test_pg_outage.py path/to/vcpd
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbtest  # noqa: E402
import pgcluster  # noqa: E402
import vcptest  # noqa: E402

ANSWER_BOUND_S = 8.0   # the longest any post may take to be answered
RECOVER_BOUND_S = 15.0  # from the database's start to vcpd posting again
CLIENTS = 3


class Outage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = vcptest.make_temp_dir("pgstate")
        cls.pg = pgcluster.start(cls.state)

    @classmethod
    def tearDownClass(cls):
        pgcluster.stop(cls.state)

    def setUp(self):
        self.v = vcptest.Vcpd("--sandbox", name="outage", db=self.pg.createdb("outage"))
        self.ch = self.v.create_channel("Outage", rate="off")
        self.v.start()
        self.v.cli("channel", "set-webhook", self.ch.pa_id,
                   "http://127.0.0.1:%d/sandbox/webhook" % self.v.port)
        self.lock = threading.Lock()
        self.answers = []  # (start monotonic, seconds taken, api status, message_token, detail)
        self.stop_load = threading.Event()

    def tearDown(self):
        self.stop_load.set()
        if not self.pg.running():
            self.pg.pg_start()
        self.v.stop()

    def post_once(self, text):
        t0 = time.monotonic()
        try:
            r = self.v.post(self.ch.token, self.ch.text(text), timeout=ANSWER_BOUND_S + 5)
            status = r.json.get("status") if r.status == 200 and isinstance(r.json, dict) else None
            token = r.json.get("message_token") if status == 0 else None
            detail = r.json.get("detail", "") if isinstance(r.json, dict) else r.raw
        except Exception as e:  # a hang or a dropped connection: recorded, then failed below
            status, token, detail = None, None, repr(e)
        took = time.monotonic() - t0
        with self.lock:
            self.answers.append((t0, took, status, token, detail))
        return status

    def load(self, n):
        i = 0
        while not self.stop_load.is_set():
            self.post_once("client %d post %d" % (n, i))
            i += 1
            time.sleep(0.01)

    def ready(self):
        return self.v.request("GET", "/readyz")

    def test_answers_during_an_outage_and_recovers_by_itself(self):
        self.assertEqual(self.post_once("before"), 0)
        self.assertEqual(self.ready().status, 200)
        threads = [threading.Thread(target=self.load, args=(n,), daemon=True)
                   for n in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(1.0)

        self.pg.pg_stop("fast")
        stopped = time.monotonic()
        time.sleep(0.5)
        # meanwhile: not ready (with the reason), alive, posts refused with 99 and a detail
        r = self.ready()
        self.assertEqual(r.status, 503, r.short())
        self.assertEqual(r.json["status"], "not ready")
        self.assertTrue(r.json.get("detail"), r.short())
        self.assertEqual(self.v.request("GET", "/healthz").status, 200)
        for _ in range(5):
            self.assertEqual(self.post_once("during"), 99)
        time.sleep(1.5)

        # the database accepts connections before pg_start() returns (under load,
        # well before): the outage window ends when the start begins
        starting = time.monotonic()
        self.pg.pg_start()
        started = time.monotonic()
        deadline = started + RECOVER_BOUND_S
        while time.monotonic() < deadline and self.post_once("after") != 0:
            time.sleep(0.1)
        recovered = time.monotonic()
        self.assertLess(recovered, deadline, "vcpd did not post again within %.0f s of the "
                        "database's start" % RECOVER_BOUND_S)
        self.assertEqual(self.ready().status, 200)
        time.sleep(0.5)
        self.stop_load.set()
        for t in threads:
            t.join(ANSWER_BOUND_S + 10)

        with self.lock:
            answers = list(self.answers)
        slow = [a for a in answers if a[1] > ANSWER_BOUND_S or a[2] is None]
        self.assertEqual(slow, [], "posts not answered (or not within %.0f s)" % ANSWER_BOUND_S)
        self.assertTrue(all(a[2] in (0, 99) for a in answers), set(a[2] for a in answers))
        down = [a for a in answers if stopped + 0.2 < a[0] and a[0] + a[1] < starting]
        self.assertTrue(down, "no post was made while the database was away")
        self.assertTrue(all(a[2] == 99 and a[4] for a in down),
                        [a for a in down if a[2] != 99 or not a[4]][:3])
        # a refusal says why: the database, not an unexplained internal error
        self.assertTrue(all("database unavailable" in a[4] or "not stored" in a[4]
                            for a in down), sorted({a[4] for a in down})[:5])
        self.assertTrue(any("database unavailable" in a[4] for a in down),
                        sorted({a[4] for a in down})[:5])
        sys.stderr.write("outage: a refusal said %r\n" % down[-1][4])
        acked = [a[3] for a in answers if a[2] == 0]
        self.assertEqual(len(acked), len(set(acked)), "a message_token answered twice")
        stored = self.pg.psql("SELECT token FROM posts", dbname=self.v.db.rsplit("/", 1)[1])
        stored = [int(t) for t in stored.split()]
        self.assertEqual(len(stored), len(set(stored)))
        missing = set(int(t) for t in acked) - set(stored)
        self.assertEqual(missing, set(), "acknowledged posts lost")
        sys.stderr.write("outage: %d posts, %d acknowledged, %d during the outage, recovered "
                         "%.2f s after the start\n" % (len(answers), len(acked), len(down),
                                                       recovered - started))


class OutageBehindNginx(unittest.TestCase):
    """The outage with two instances behind nginx: readiness is the same on
    every instance (they share the database), so the balancer has nowhere
    better to send a post; it passes vcpd's 99 on."""

    @classmethod
    def setUpClass(cls):
        cls.state = vcptest.make_temp_dir("pgstate")
        cls.pg = pgcluster.start(cls.state)

    @classmethod
    def tearDownClass(cls):
        pgcluster.stop(cls.state)

    def setUp(self):
        self.db = self.pg.createdb("outage_lb")
        self.farm = lbtest.Farm(2, self.db, flags=["--sandbox", "--no-rate-limit"],
                                name="outage-lb")
        self.ch = self.farm.instances[0].create_channel("Outage LB", rate="off")
        self.farm.instances[0].cli("channel", "set-webhook", self.ch.pa_id,
                                   "http://127.0.0.1:9/unused")
        self.farm.start()
        self.nginx = self.farm.nginx
        self.lock = threading.Lock()
        self.answers = []  # (start, seconds, http status, api status, token, detail)
        self.stop_load = threading.Event()

    def tearDown(self):
        self.stop_load.set()
        if not self.pg.running():
            self.pg.pg_start()
        self.farm.stop()

    def post_once(self, text, where=None):
        t0 = time.monotonic()
        try:
            target = where or self.nginx
            r = target.post(self.ch.token, self.ch.text(text), timeout=ANSWER_BOUND_S + 5)
            js = r.json if isinstance(r.json, dict) else {}
            http, status = r.status, js.get("status")
            token = js.get("message_token") if status == 0 else None
            detail = js.get("detail", "") or r.raw
        except Exception as e:
            http, status, token, detail = None, None, None, repr(e)
        with self.lock:
            self.answers.append((t0, time.monotonic() - t0, http, status, token, detail))
        return status

    def load(self, n):
        i = 0
        while not self.stop_load.is_set():
            self.post_once("client %d post %d" % (n, i))
            i += 1
            time.sleep(0.01)

    def test_outage_through_nginx(self):
        self.assertEqual(self.post_once("before"), 0)
        threads = [threading.Thread(target=self.load, args=(n,), daemon=True)
                   for n in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(1.0)

        self.pg.pg_stop("fast")
        stopped = time.monotonic()
        time.sleep(0.5)
        for _ in range(4):  # nginx alternates: both instances say so
            r = self.nginx.request("GET", "/readyz")
            self.assertEqual(r.status, 503, r.short())
            self.assertEqual(self.nginx.request("GET", "/healthz").status, 200)
        for _ in range(6):
            self.assertEqual(self.post_once("during"), 99)
        time.sleep(1.5)

        # the database accepts connections before pg_start() returns (under load,
        # well before): the outage window ends when the start begins
        starting = time.monotonic()
        self.pg.pg_start()
        started = time.monotonic()
        deadline = started + RECOVER_BOUND_S
        for v in self.farm.instances:  # each instance reconnects by itself
            while time.monotonic() < deadline and self.post_once("after", where=v) != 0:
                time.sleep(0.1)
        recovered = time.monotonic()
        self.assertLess(recovered, deadline, "an instance did not post again within %.0f s of "
                        "the database's start" % RECOVER_BOUND_S)
        self.assertEqual(self.post_once("after, through nginx"), 0)
        self.assertEqual(self.nginx.request("GET", "/readyz").status, 200)
        time.sleep(0.5)
        self.stop_load.set()
        for t in threads:
            t.join(ANSWER_BOUND_S + 10)

        with self.lock:
            answers = list(self.answers)
        slow = [a for a in answers if a[1] > ANSWER_BOUND_S or a[2] is None]
        self.assertEqual(slow, [], "posts not answered (or not within %.0f s)" % ANSWER_BOUND_S)
        # vcpd answered every post itself: no 502/503/504 of nginx's
        self.assertEqual(set(a[2] for a in answers), {200}, [a for a in answers if a[2] != 200][:3])
        self.assertTrue(all(a[3] in (0, 99) for a in answers), set(a[3] for a in answers))
        down = [a for a in answers if stopped + 0.2 < a[0] and a[0] + a[1] < starting]
        self.assertTrue(down, "no post was made while the database was away")
        self.assertTrue(all(a[3] == 99 and a[5] for a in down),
                        [a for a in down if a[3] != 99 or not a[5]][:3])
        acked = [a[4] for a in answers if a[3] == 0]
        self.assertEqual(len(acked), len(set(acked)), "a message_token answered twice")
        stored = [int(t) for t in self.pg.psql("SELECT token FROM posts",
                                               dbname=self.db.rsplit("/", 1)[1]).split()]
        self.assertEqual(len(stored), len(set(stored)))
        self.assertEqual(set(int(t) for t in acked) - set(stored), set(),
                         "acknowledged posts lost")
        sys.stderr.write("outage behind nginx: %d posts, %d acknowledged, %d during the outage\n"
                         % (len(answers), len(acked), len(down)))


class DsnPassword(unittest.TestCase):
    """A password in --db never reaches a log or a message (the cluster trusts
    local connections, so the password is ignored and vcpd runs)."""

    SECRET = "s3cret-pw-71c2"

    def test_password_never_logged(self):
        state = vcptest.make_temp_dir("pgstate")
        pg = pgcluster.start(state)
        self.addCleanup(pgcluster.stop, state)
        dsn = pg.createdb("pw").replace("://vcp@", "://vcp:%s@" % self.SECRET)
        v = vcptest.Vcpd("--sandbox", name="pw", db=dsn)
        v.create_channel("Pw")
        v.start()
        self.assertEqual(v.request("GET", "/readyz").status, 200)
        v.stop()
        # the offline CLI: a failed open (nobody on that port), with the password in a keyword
        bad = "host=127.0.0.1 port=%d user=vcp password=%s dbname=x" % (
            pgcluster.free_port(), self.SECRET)
        p = vcptest.Vcpd(name="pw-cli", db=bad).cli("channel", "list", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("password=***", p.stderr_text)
        logs = b""
        for path in v.logs:
            with open(path, "rb") as f:
                logs += f.read()
        self.assertIn(b"vcp:***@127.0.0.1", logs)  # the DSN shown, its password masked
        for text in (logs, p.stdout, p.stderr):
            self.assertNotIn(self.SECRET.encode(), text)


if __name__ == "__main__":
    vcptest.main()
