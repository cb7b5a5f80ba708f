#!/usr/bin/env python3
"""vcpd as the Viber a CI suite runs against (issue 12): each feature used
the way a test suite would use it -- over real sockets, with the CLI a CI
script would call.

  Health     /readyz (ready only when the store answers), /version and
             `vcpd --version` with the build's git commit
  Fixtures   a channel made with a chosen token, public id and member ids
  Reset      one call empties a channel, or the whole sandbox
  Details    name, icon, background, uri, category, subcategory, country,
             location edited over the admin API and offline, answered at once
  Faults     injected statuses, HTTP errors, lost answers, latency and failed
             webhook checks -- and how libvcp / `vcp post --batch` cope
  Journal    what the application sent and why it was refused: the last N
             requests, filtered, streamed live, kept across restarts
  Media      --check-media against a local HTTPS server serving JPEG, PNG
             and MP4 files this test makes

Usage: test_ci_tools.py [path/to/vcpd] [unittest args]
"""
import http.client
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

KEY = "e2e-ci-tools-8a7b6c5d4e3f"
V = None


def setUpModule():
    global V
    V = vcptest.Vcpd("--sandbox", "--webhook-timeout", "1500", name="ci", admin_key=KEY).start()


def tearDownModule():
    if V is not None:
        V.stop_checked()


def git_head():
    """The repository's commit (12 digits) when the tests run in a git
    checkout, else None."""
    try:
        p = subprocess.run(["git", "-C", vcptest.REPO, "rev-parse", "--short=12", "HEAD"],
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = p.stdout.decode().strip()
    return out if p.returncode == 0 and re.fullmatch(r"[0-9a-f]{12}", out) else None


class Health(unittest.TestCase):
    def test_version_names_the_build(self):
        p = subprocess.run([vcptest.vcpd_bin(), "--version"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        m = re.fullmatch(r"vcpd (\d+\.\d+\.\d+) \(git ([0-9a-f]{12}(?:-dirty)?|unknown)\)\n",
                         p.stdout.decode())
        self.assertTrue(m, p.stdout)
        r = V.request("GET", "/version")
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual(r.json, {"name": "vcpd", "version": m.group(1), "git": m.group(2)})
        head = git_head()
        if head and not m.group(2).endswith("-dirty"):
            # built from a clean checkout (make test builds first): that commit
            self.assertEqual(m.group(2), head)

    @unittest.skipUnless(vcptest.BACKEND == "sqlite",
                         "overwrites the SQLite file; test_pg_outage.py covers PostgreSQL")
    def test_readyz_follows_the_store(self):
        """Ready while the database answers; a database that stops answering
        (here: its files overwritten under the running server) is 503 with
        the reason, while /healthz (liveness) stays 200."""
        w = vcptest.Vcpd(name="ready")
        w.cli("channel", "create", "--name", "Ready")
        w.start()
        try:
            r = w.request("GET", "/readyz")
            self.assertEqual((r.status, r.json), (200, {"status": "ready"}), r.short())
            self.assertEqual(w.request("HEAD", "/readyz").status, 200)
            for suffix in ("", "-shm"):
                path = w.db + suffix
                with open(path, "r+b") as f:
                    f.write(b"\x5a" * os.path.getsize(path))
            r = w.request("GET", "/readyz")
            self.assertEqual(r.status, 503, r.short())
            self.assertEqual(r.json["status"], "not ready")
            self.assertIn("not a database", r.json["detail"])
            self.assertEqual(w.request("GET", "/healthz").status, 200)
        finally:
            w.stop()


# What a suite hard-codes: vcpd makes these, not random ones.
FIX_TOKEN = "ci-fixture-4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c"
FIX_ID = "pa:424242424242"
FIX_OWNER = "Owner0000000000000000A=="
FIX_EDITOR = "Editor000000000000000B=="


def clean_fixture(test, name, rate):
    """What a suite's setUp does: the whole sandbox reset, then the fixture
    channel (FIX_TOKEN, FIX_ID, FIX_OWNER) created again."""
    test.assertEqual(V.admin("POST", "/admin/v1/reset").status, 200)
    r = V.admin("POST", "/admin/v1/channels",
                {"name": name, "token": FIX_TOKEN, "id": FIX_ID, "superadmin_id": FIX_OWNER,
                 "webhook": "https://127.0.0.1:9/hook", "rate": rate})
    test.assertEqual(r.status, 201, r.short())


def posts_of(v, pa_id):
    r = v.request("GET", "/api/v1/channels/%s/posts" % pa_id)
    assert r.status == 200, r.short()
    return r.json["posts"]


class Fixtures(unittest.TestCase):
    def create(self, v=None, **extra):
        body = {"name": "Fixture", "superadmin": "Owner", "token": FIX_TOKEN, "id": FIX_ID,
                "superadmin_id": FIX_OWNER, "webhook": "https://127.0.0.1:9/hook",
                "members": [{"id": FIX_EDITOR, "name": "Editor", "role": "admin"}]}
        body.update(extra)
        return (v or V).admin("POST", "/admin/v1/channels", body)

    def setUp(self):
        self.assertEqual(V.admin("POST", "/admin/v1/reset").status, 200)

    def test_a_suite_hard_codes_token_id_and_members(self):
        r = self.create()
        self.assertEqual(r.status, 201, r.short())
        self.assertEqual(r.json["token"], FIX_TOKEN)
        self.assertEqual(r.json["channel"]["id"], FIX_ID)
        self.assertEqual(r.json["superadmin"]["id"], FIX_OWNER)
        self.assertEqual([m["id"] for m in r.json["members"]], [FIX_EDITOR])
        # the hard-coded values work on the wire
        ok = V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": "fixture"})
        self.assertEqual(ok.json["status"], 0, ok.short())
        no = V.post(FIX_TOKEN, {"from": FIX_EDITOR, "type": "text", "text": "fixture"})
        self.assertEqual(no.json["status"], 3, no.short())
        info = V.api("/pa/get_account_info", token=FIX_TOKEN).json
        self.assertEqual(info["id"], FIX_ID)
        self.assertEqual({(m["id"], m["role"]) for m in info["members"]},
                         {(FIX_OWNER, "superadmin"), (FIX_EDITOR, "admin")})
        self.assertEqual(len(posts_of(V, FIX_ID)), 1)
        # the token is still kept only as its hash
        for suffix in ("", "-wal"):
            if os.path.exists(V.db + suffix):
                with open(V.db + suffix, "rb") as f:
                    self.assertNotIn(FIX_TOKEN.encode(), f.read())
        # taken: the same token or id again is a conflict
        r = self.create(id="pa:1", name="Other")
        self.assertEqual((r.status, r.json["detail"]), (409, "token: already the token of another channel"))
        r = self.create(token=FIX_TOKEN.replace("c", "d"))
        self.assertEqual((r.status, r.json["detail"]), (409, "id: %s is taken" % FIX_ID))

    def test_the_cli_makes_the_same_fixture(self):
        out = V.cli("channel", "create", "--name", "CLI fixture", "--token", FIX_TOKEN, "--id",
                    FIX_ID, "--superadmin-id", FIX_OWNER, "--webhook", "https://127.0.0.1:9/h")
        self.assertEqual((out["token"], out["channel"]["id"], out["superadmin"]["id"]),
                         (FIX_TOKEN, FIX_ID, FIX_OWNER))
        ok = V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": "cli fixture"})
        self.assertEqual(ok.json["status"], 0, ok.short())

    def test_weak_or_bad_fixtures_are_refused_and_change_nothing(self):
        cases = [
            ({"token": "short-token"}, "token: 11 characters; a chosen token needs 32 to 256"),
            ({"token": "a" * 40}, "token: too weak, only 1 different characters (at least 10); "
                                  "leave it out and vcpd makes a random one"),
            ({"token": "0123456789" * 3 + "ab cd"},
             "token: character 33 is not one of A-Z a-z 0-9 - _ . ~ + / ="),
            ({"token": 12345}, "token: must be a string"),
            ({"id": "pa:12ab"}, 'id: expected "pa:" and 1 to 20 digits'),
            ({"superadmin_id": "has space"},
             "superadmin_id: only letters, digits and + / = - _ (at most 64)"),
            ({"members": [{"name": "x", "id": "?"}]},
             "members[0].id: only letters, digits and + / = - _ (at most 64)"),
            ({"members": [{"id": "NoName"}]}, "members[0].name: required"),
            ({"members": [{"name": "dup", "id": FIX_OWNER}]},
             "members[0].id: %s is given twice" % FIX_OWNER),
            ({"members": {"name": "x"}}, "members: must be an array of members"),
        ]
        for extra, detail in cases:
            with self.subTest(extra=extra):
                r = self.create(**extra)
                self.assertEqual(r.status, 400, r.short())
                self.assertEqual(r.json["detail"], detail)
        self.assertEqual(V.admin("GET", "/admin/v1/channels").json["channels"], [])
        p = V.cli("channel", "create", "--name", "x", "--token", "tooshort", check=False)
        self.assertEqual(p.returncode, 3, p.stderr_text)
        self.assertIn("token: 8 characters; a chosen token needs 32 to 256", p.stderr_text)


class Reset(unittest.TestCase):
    def setUp(self):
        clean_fixture(self, "Resettable", {"count": 3, "window": 600})

    def post(self, text="x"):
        return V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": text}).json["status"]

    def exhaust(self):
        self.assertEqual([self.post("p%d" % i) for i in range(4)], [0, 0, 0, 12])
        self.assertEqual(len(posts_of(V, FIX_ID)), 3)

    def assert_clean(self):
        self.assertEqual(posts_of(V, FIX_ID), [])
        # a fresh start: the rate bucket is full again, token and members stay
        self.assertEqual([self.post("again%d" % i) for i in range(4)], [0, 0, 0, 12])

    def test_admin_api_resets_a_channel(self):
        self.exhaust()
        r = V.admin("POST", "/admin/v1/channels/%s/reset" % FIX_ID)
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual(r.json["deleted"], {"posts": 3})
        self.assertEqual(r.json["channel"]["posts"], 0)
        self.assert_clean()

    def test_cli_resets_a_channel_under_the_running_server(self):
        self.exhaust()
        out = V.cli("channel", "reset", FIX_ID)
        self.assertEqual(out["deleted"], {"posts": 3})
        self.assert_clean()

    def test_whole_sandbox_reset(self):
        self.exhaust()
        r = V.admin("POST", "/admin/v1/reset")
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual(r.json, {"deleted": {"channels": 1, "posts": 3}})
        self.assertEqual(V.admin("GET", "/admin/v1/channels").json["channels"], [])
        self.assertEqual(V.api("/pa/get_account_info", token=FIX_TOKEN).json["status"], 2)
        self.assertEqual(V.request("GET", "/api/v1/channels/%s/posts" % FIX_ID).status, 404)
        # the same fixture again, on a row id that may be reused: a full bucket
        r = V.admin("POST", "/admin/v1/channels",
                    {"name": "Again", "token": FIX_TOKEN, "id": FIX_ID,
                     "superadmin_id": FIX_OWNER, "webhook": "https://127.0.0.1:9/hook",
                     "rate": {"count": 3, "window": 600}})
        self.assertEqual(r.status, 201, r.short())
        self.assert_clean()

    def test_cli_sandbox_reset_wants_yes(self):
        p = V.cli("sandbox", "reset", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("add --yes", p.stderr_text)
        self.assertEqual(len(V.admin("GET", "/admin/v1/channels").json["channels"]), 1)
        out = V.cli("sandbox", "reset", "--yes")
        self.assertEqual(out, {"deleted": {"channels": 1, "posts": 0}})
        self.assertEqual(V.api("/pa/get_account_info", token=FIX_TOKEN).json["status"], 2)

    def test_whole_reset_only_in_sandbox(self):
        w = vcptest.Vcpd(name="prod", admin_key=KEY).start()
        try:
            w.cli("channel", "create", "--name", "Kept")
            r = w.admin("POST", "/admin/v1/reset")
            self.assertEqual(r.status, 403, r.short())
            self.assertEqual(r.json["detail"], "resetting the whole store needs vcpd --sandbox")
            self.assertEqual(len(w.admin("GET", "/admin/v1/channels").json["channels"]), 1)
            self.assertEqual(w.admin("POST", "/admin/v1/reset", key="wrong-key-0123456789").status,
                             401)
        finally:
            w.stop()


class Details(unittest.TestCase):
    EDIT = {"name": "Renamed ✓", "icon": "https://cdn.example/icon.jpg",
            "background": "https://cdn.example/bg.jpg", "uri": "renamed",
            "category": "News", "subcategory": "Local", "country": "UA",
            "location": {"lat": 50.45, "lon": 30.5234}}

    def setUp(self):
        self.assertEqual(V.admin("POST", "/admin/v1/reset").status, 200)
        self.ch = V.create_channel("Before", webhook="https://127.0.0.1:9/hook")

    def info(self):
        r = V.api("/pa/get_account_info", token=self.ch.token)
        self.assertEqual(r.json["status"], 0, r.short())
        return r.json

    def assert_shown(self, want):
        info = self.info()  # the running server answers with the change at once
        for k, v in want.items():
            if k != "location":
                self.assertEqual(info[k], v, k)
        if "location" in want:
            self.assertAlmostEqual(info["location"]["lat"], want["location"]["lat"], places=5)
            self.assertAlmostEqual(info["location"]["lon"], want["location"]["lon"], places=5)
        page = V.request("GET", "/api/v1/channels/" + self.ch.pa_id).json  # what the page reads
        for k in ("name", "icon", "uri"):
            if k in want:
                self.assertEqual(page[k], want[k])
        post = V.post(self.ch.token, self.ch.text("after the edit")).json
        if "name" in want:
            self.assertEqual(post["chat_hostname"], want["name"])

    def test_admin_api_edits_at_once(self):
        self.info()  # cached by the server from here on
        r = V.admin("PATCH", "/admin/v1/channels/" + self.ch.pa_id, self.EDIT)
        self.assertEqual(r.status, 200, r.short())
        for k, v in self.EDIT.items():
            self.assertEqual(r.json["channel"][k], v)
        self.assert_shown(self.EDIT)
        # a partial edit keeps the rest
        r = V.admin("PATCH", "/admin/v1/channels/" + self.ch.pa_id, {"name": "Only the name"})
        self.assertEqual(r.status, 200, r.short())
        self.assert_shown(dict(self.EDIT, name="Only the name"))

    def test_cli_edits_under_the_running_server(self):
        self.info()
        out = V.cli("channel", "edit", self.ch.pa_id, "--name", "From the CLI", "--icon",
                    "https://cdn.example/cli.jpg", "--country", "DE", "--location", "-33.5,151.25",
                    "--category", "Sport")
        self.assertEqual(out["channel"]["name"], "From the CLI")
        self.assert_shown({"name": "From the CLI", "icon": "https://cdn.example/cli.jpg",
                           "country": "DE", "category": "Sport",
                           "location": {"lat": -33.5, "lon": 151.25}})

    def test_bad_edits_change_nothing(self):
        before = self.info()
        cases = [({}, "nothing to change: give name, uri, icon, background, category, "
                      "subcategory, country or location"),
                 ({"name": ""}, "name: required"),
                 ({"name": "x" * 129}, "name: too long"),
                 ({"icon": "ftp://x/y.jpg"}, "icon: not an absolute http(s) URL"),
                 ({"country": "Ukraine"}, "country: two capital letters (ISO 3166-1 alpha-2)"),
                 ({"location": {"lat": 91, "lon": 0}}, "location.lat: must be -90..90"),
                 ({"location": {"lat": 1}}, "location.lon: required"),
                 ({"name": "ok", "location": "here"}, 'location: expected {"lat":N,"lon":N}')]
        for body, detail in cases:
            with self.subTest(body=body):
                r = V.admin("PATCH", "/admin/v1/channels/" + self.ch.pa_id, body)
                self.assertEqual((r.status, r.json.get("detail")), (400, detail), r.short())
        self.assertEqual(self.info(), before)
        p = V.cli("channel", "edit", self.ch.pa_id, "--location", "north", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--location: expected LAT,LON", p.stderr_text)
        self.assertEqual(V.admin("PATCH", "/admin/v1/channels/pa:1", {"name": "x"}).status, 404)


def vcp_bin():
    """The vcp CLI built next to vcpd ($VCP_BIN wins)."""
    p = os.environ.get("VCP_BIN") or os.path.join(
        os.path.dirname(os.path.dirname(vcptest.vcpd_bin())), "cli", "vcp")
    if not os.access(p, os.X_OK):
        raise vcptest.HarnessError("vcp not found at %s (set VCP_BIN)" % p)
    return p


class Faults(unittest.TestCase):
    def setUp(self):
        clean_fixture(self, "Faulty", "off")
        self.base = "/admin/v1/channels/%s/faults" % FIX_ID

    def add(self, **spec):
        r = V.admin("POST", self.base, spec)
        self.assertEqual(r.status, 200, r.short())
        return r.json["fault"]

    def faults(self):
        r = V.admin("GET", self.base)
        self.assertEqual(r.status, 200, r.short())
        return r.json["faults"]

    def post(self, text="x"):
        return V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": text})

    def info(self):
        return V.api("/pa/get_account_info", token=FIX_TOKEN)

    def texts(self):
        return [p["message"]["text"] for p in reversed(posts_of(V, FIX_ID))]

    def access_log(self):
        with open(V.access_path, encoding="utf-8") as f:
            return f.read()

    def wait_logged(self, needle, n):
        """vcpd flushes its access log at a line written 200 ms after the last
        flush: ask /healthz until needle shows n times."""
        deadline = time.monotonic() + 5
        while self.access_log().count(needle) < n and time.monotonic() < deadline:
            time.sleep(0.25)
            V.request("GET", "/healthz")
        return self.access_log().count(needle)

    # -- the faults themselves --

    def test_next_n_with_a_status_or_an_http_status(self):
        f = self.add(endpoint="post", status=12, count=2)
        self.assertEqual((f["status"], f["count"], f["remaining"], f["endpoint"]),
                         (12, 2, 2, "post"))
        got = [self.post("p%d" % i) for i in range(3)]
        self.assertEqual([g.json["status"] for g in got], [12, 12, 0])
        self.assertEqual(got[0].json["status_message"], "tooManyRequests")
        self.assertEqual(got[0].json["detail"], "injected fault %d (vcpd --sandbox)" % f["id"])
        self.assertEqual(self.info().json["status"], 0)  # another endpoint: untouched
        self.assertEqual(self.texts(), ["p2"])            # refused ones were not stored
        listed = self.faults()
        self.assertEqual([(x["remaining"], x["hits"], x["seen"]) for x in listed], [(0, 2, 2)])
        h = self.add(http=503, count=1)  # endpoint "any"
        r = self.info()
        self.assertEqual(r.status, 503, r.short())
        self.assertEqual(r.json["detail"], "injected fault %d (vcpd --sandbox)" % h["id"])
        self.assertEqual(self.info().json["status"], 0)
        # every injected answer is marked in the access log
        self.assertEqual(self.wait_logged("fault=status:12", 2), 2)
        self.assertEqual(self.wait_logged("fault=http:503", 1), 1)

    def test_a_seeded_fraction_is_reproducible(self):
        def run(seed):
            f = self.add(endpoint="get_account_info", status=99, fraction=0.5, seed=seed)
            pattern = [self.info().json["status"] for _ in range(40)]
            V.admin("DELETE", "%s/%d" % (self.base, f["id"]))
            return pattern
        first = run(42)
        self.assertEqual(set(first), {0, 99}, first)
        self.assertTrue(8 <= first.count(99) <= 32, first)
        self.assertEqual(run(42), first)     # same seed, same requests hit
        self.assertNotEqual(run(43), first)  # another seed, another pattern

    def test_latency_fixed_and_ranged_without_blocking_others(self):
        self.add(endpoint="get_account_info", latency_ms=1000, count=1)
        slow = {}

        def call():
            slow["resp"] = self.info()
        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.2)
        t0 = time.monotonic()
        self.assertEqual(self.post("meanwhile").json["status"], 0)  # the server is not held up
        self.assertLess(time.monotonic() - t0, 0.7)
        t.join(10)
        self.assertEqual(slow["resp"].json["status"], 0)
        self.assertGreaterEqual(slow["resp"].elapsed, 1.0)
        f = self.add(endpoint="post", latency_ms=[200, 400], count=4)
        self.assertEqual(f["latency_ms"], [200, 400])
        for i in range(4):
            r = self.post("late %d" % i)
            self.assertEqual(r.json["status"], 0)
            self.assertGreaterEqual(r.elapsed, 0.2)
        self.assertLess(self.post("on time").elapsed, 1.0)
        self.assertEqual(self.wait_logged("fault=latency:", 5), 5)
        # latency then an answer fault: both apply to the same request
        self.add(endpoint="post", latency_ms=300, count=1)
        self.add(endpoint="post", status=9, count=1)
        r = self.post("both")
        self.assertEqual(r.json["status"], 9)
        self.assertGreaterEqual(r.elapsed, 0.3)
        self.assertEqual(self.wait_logged("fault=latency:300ms,status:9", 1), 1)

    def test_webhook_checks_fail_time_out_or_answer_non_200(self):
        hook = "http://127.0.0.1:%d/sandbox/webhook" % V.port  # passes for real
        for spec in ("fail", 500, "timeout"):
            self.add(webhook=spec, count=1)
        got = []
        for _ in range(4):
            r = V.api("/pa/set_webhook", {"url": hook}, token=FIX_TOKEN)
            got.append((r.json["status"], r.json.get("detail", ""), r.elapsed))
        self.assertEqual([g[0] for g in got], [1, 1, 1, 0])
        self.assertIn("could not connect to the webhook (injected fault", got[0][1])
        self.assertIn("webhook answered HTTP 500 (injected fault", got[1][1])
        self.assertIn("timed out after 1500 ms (injected fault", got[2][1])
        self.assertGreaterEqual(got[2][2], 1.5)  # as long as vcpd's --webhook-timeout
        self.assertEqual(self.info().json["webhook"], hook)  # only the real check stored it
        r = V.admin("POST", self.base, {"webhook": "fail", "endpoint": "post"})
        self.assertEqual((r.status, r.json["detail"]),
                         (400, "endpoint: a webhook fault is a fault of set_webhook"))

    def test_drop_loses_the_answer_of_a_handled_request(self):
        self.add(endpoint="post", drop=True, count=1)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.post("lost answer")
        self.assertEqual(self.texts(), ["lost answer"])  # handled: stored, answer lost
        self.assertEqual(self.post("next").json["status"], 0)
        self.assertEqual(self.wait_logged("fault=drop", 1), 1)

    # -- what a client does under them --

    def batch(self, tag, n, *extra):
        path = os.path.join(V.dir, "%s.jsonl" % tag)
        if not os.path.exists(path):
            with open(path, "w") as f:
                for i in range(n):
                    f.write(json.dumps({"type": "text", "text": "%s %d" % (tag, i)}) + "\n")
        env = vcptest.clean_env({"VIBER_API_URL": "http://127.0.0.1:%d/pa" % V.port,
                                 "VIBER_AUTH_TOKEN": FIX_TOKEN})
        return subprocess.run([vcp_bin(), "post", "--batch", path] + list(extra), env=env,
                              capture_output=True, text=True, timeout=120)

    def test_vcp_batch_backs_off_on_12(self):
        self.add(endpoint="post", status=12, count=2)
        p = self.batch("bo", 4)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("tooManyRequests, retry", p.stderr)
        self.assertEqual(self.texts(), ["bo %d" % i for i in range(4)])  # each once, in order

    def test_vcp_batch_never_double_posts_after_a_lost_answer(self):
        self.add(endpoint="post", drop=True, count=1)
        p = self.batch("drop", 3)
        self.assertEqual(p.returncode, 6, p.stderr)  # outcome unknown: not resent
        self.assertIn("line 1 may or may not have been posted", p.stderr)
        self.assertEqual(self.texts(), ["drop 0"])  # vcpd had stored it
        p = self.batch("drop", 3)
        self.assertEqual(p.returncode, 6, p.stderr)  # still refuses to guess
        p = self.batch("drop", 3, "--unknown", "skip")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.texts(), ["drop 0", "drop 1", "drop 2"])

    def test_vcp_batch_on_5xx_and_99(self):
        self.add(endpoint="post", http=503, count=1)
        p = self.batch("five", 2)
        self.assertEqual(p.returncode, 6, p.stderr)  # a 5xx may hide a stored post
        self.assertEqual(self.texts(), [])            # here it did not: resend
        p = self.batch("five", 2, "--unknown", "resend")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.texts(), ["five 0", "five 1"])
        self.add(endpoint="post", status=99, count=1)
        p = self.batch("gen", 2)
        self.assertEqual(p.returncode, 1, p.stderr)  # a refusal: certain, stops
        self.assertIn("generalError", p.stderr)
        p = self.batch("gen", 2)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.texts(), ["five 0", "five 1", "gen 0", "gen 1"])

    def test_libvcp_retries_idempotent_calls_on_5xx(self):
        self.add(endpoint="get_account_info", http=502, count=2)
        env = vcptest.clean_env({"VIBER_API_URL": "http://127.0.0.1:%d/pa" % V.port,
                                 "VIBER_AUTH_TOKEN": FIX_TOKEN})
        p = subprocess.run([vcp_bin(), "account", "--json"], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["id"], FIX_ID)
        self.assertEqual(self.faults()[0]["hits"], 2)

    # -- as a setting --

    def test_listed_inspected_cleared_and_reset(self):
        a = self.add(endpoint="post", status=12)
        b = self.add(latency_ms="10-20", fraction="0.5", seed="7")  # the CLI's strings
        self.assertEqual((b["latency_ms"], b["fraction"], b["seed"], b["count"]),
                         ([10, 20], 0.5, 7, None))
        self.assertEqual([f["id"] for f in self.faults()], [a["id"], b["id"]])
        r = V.admin("DELETE", "%s/%d" % (self.base, a["id"]))
        self.assertEqual((r.status, r.json), (200, {"cleared": 1}))
        self.assertEqual(V.admin("DELETE", "%s/%d" % (self.base, a["id"])).status, 404)
        self.assertEqual(self.post("ok").json["status"], 0)
        out = V.cli("channel", "fault", "add", FIX_ID, "--endpoint", "post", "--status", "7",
                    "--count", "1")
        self.assertEqual(out["fault"]["status"], 7)
        self.assertEqual(self.post().json["status"], 7)  # made offline, applied at once
        listed = V.cli("channel", "fault", "list", FIX_ID)["faults"]
        self.assertEqual([f["hits"] for f in listed], [listed[0]["hits"], 1])
        self.assertEqual(V.cli("channel", "fault", "clear", FIX_ID), {"cleared": 2})
        self.add(endpoint="post", status=12)
        V.admin("POST", "/admin/v1/channels/%s/reset" % FIX_ID)  # reset clears faults too
        self.assertEqual(self.faults(), [])
        self.assertEqual(self.post().json["status"], 0)

    def test_bad_faults_are_refused(self):
        cases = [({}, "fault: give one of status, http, drop, latency_ms, webhook"),
                 ({"status": 12, "http": 500}, "fault: status and http: give only one"),
                 ({"status": 0}, "status: one of the API's non-zero statuses "
                                 "(1 2 3 4 7 8 9 10 12 99)"),
                 ({"status": 5}, "status: one of the API's non-zero statuses "
                                 "(1 2 3 4 7 8 9 10 12 99)"),
                 ({"http": 200}, "http: an HTTP status 400..599"),
                 ({"drop": False}, "drop: must be true"),
                 ({"latency_ms": [300, 100]},
                  'latency_ms: N or [MIN, MAX] ("MIN-MAX") milliseconds, 0..60000'),
                 ({"webhook": 200}, 'webhook: "fail", "timeout" or an HTTP status other than 200'),
                 ({"status": 12, "endpoint": "send"},
                  "endpoint: one of any, post, set_webhook, get_account_info"),
                 ({"status": 12, "count": 0}, "count: 1..1000000000 (leave it out: every request)"),
                 ({"status": 12, "fraction": 0}, "fraction: a number > 0 and <= 1"),
                 ({"status": 12, "seed": -1}, "seed: an integer >= 0")]
        for spec, detail in cases:
            with self.subTest(spec=spec):
                r = V.admin("POST", self.base, spec)
                self.assertEqual((r.status, r.json.get("detail")), (400, detail), r.short())
        self.assertEqual(self.faults(), [])

    def test_faults_never_apply_outside_the_sandbox(self):
        w = vcptest.Vcpd(name="nofaults", admin_key=KEY)
        out = w.cli("channel", "create", "--name", "Prod", "--token", FIX_TOKEN, "--superadmin-id",
                    FIX_OWNER, "--webhook", "https://127.0.0.1:9/h")
        pa = out["channel"]["id"]
        w.cli("channel", "fault", "add", pa, "--status", "12")  # stored offline ...
        w.start()
        try:
            r = w.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": "real"})
            self.assertEqual(r.json["status"], 0, r.short())  # ... but not applied
            r = w.admin("POST", "/admin/v1/channels/%s/faults" % pa, {"status": 12})
            self.assertEqual((r.status, r.json["detail"]),
                             (403, "fault injection needs vcpd --sandbox"))
        finally:
            w.stop()
        with open(w.access_path, encoding="utf-8") as f:
            self.assertNotIn("fault=", f.read())


def read_events(port, path, headers, want, timeout=5.0):
    """Opens a Server-Sent Events stream and returns the first `want` events'
    data (parsed JSON), or what came within timeout."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        req = "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (
            path, "".join("%s: %s\r\n" % h for h in headers))
        sock.sendall(req.encode())
        buf, got, deadline = b"", [], time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")  # complete lines; the rest waits for more
            got += [json.loads(l[6:].decode()) for l in lines if l.startswith(b"data: ")]
        return got
    finally:
        sock.close()


class Journal(unittest.TestCase):
    def setUp(self):
        clean_fixture(self, "Journaled", "off")
        self.path = "/api/v1/channels/%s/journal" % FIX_ID

    def journal(self, query="", token=FIX_TOKEN, v=None):
        r = (v or V).request("GET", self.path + query, [("X-Viber-Auth-Token", token)])
        self.assertEqual(r.status, 200, r.short())
        self.assertNotIn(FIX_TOKEN.encode(), r.raw)  # never, in any form it was sent
        return r.json["entries"]

    def test_a_developer_sees_what_was_sent_and_why_it_was_refused(self):
        t0 = int(time.time() * 1000)
        V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": "fine"})
        V.post(FIX_TOKEN, {"from": "someone-else", "type": "text", "text": "who?"})
        V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "picture", "text": "", "media": "x"})
        V.api("/pa/post", b'{"from": oops', token=FIX_TOKEN)                 # not JSON
        V.api("/pa/post", {"from": FIX_OWNER, "type": "text"}, token=FIX_TOKEN, where="body")
        V.api("/pa/get_account_info", token=FIX_TOKEN, method="GET")
        V.api("/pa/post", {"type": "text", "text": "x"}, token="not-a-token-at-all")  # no channel
        e = self.journal()
        self.assertEqual([x["endpoint"] for x in e],
                         ["get_account_info", "post", "post", "post", "post", "post"])
        got = [(x["status"], x["status_message"], x["detail"]) for x in reversed(e)]
        self.assertEqual(got[0], (0, "ok", ""))
        self.assertEqual(got[1], (3, "badData", "from: not a superadmin of this channel"))
        self.assertEqual(got[2][0:2], (3, "badData"))
        self.assertIn("media", got[2][2])
        self.assertEqual(got[3][0:2], (3, "badData"))
        self.assertIn("body: invalid JSON", got[3][2])
        self.assertEqual(got[4], (4, "missingData", "text: required"))
        first = e[-1]
        self.assertEqual(json.loads(first["body"]),
                         {"from": FIX_OWNER, "type": "text", "text": "fine"})
        self.assertEqual(first["http"], 200)
        self.assertIsNone(first["fault"])
        self.assertGreaterEqual(first["time_ms"], t0 - 1000)
        self.assertGreater(first["latency_ms"], 0)
        self.assertEqual(e[2]["body"], '{"from": oops')  # as sent, even when it is not JSON
        self.assertEqual(json.loads(e[1]["body"])["auth_token"], "***")
        # filters, as a test's assertions use them
        self.assertEqual([x["status"] for x in self.journal("?status=3")], [3, 3, 3])
        self.assertEqual(len(self.journal("?endpoint=get_account_info")), 1)
        self.assertEqual(len(self.journal("?status=3&endpoint=post&limit=2")), 2)
        self.assertEqual(self.journal("?since=%d" % (int(time.time() * 1000) + 60000)), [])
        self.assertEqual(len(self.journal("?before=%d" % e[1]["id"])), 4)
        # the admin key reads it too; nobody else
        r = V.request("GET", self.path, [("Authorization", "Bearer " + KEY)])
        self.assertEqual((r.status, len(r.json["entries"])), (200, 6))
        for hdrs in ([], [("X-Viber-Auth-Token", "wrong")], [("Authorization", "Bearer wrong")]):
            r = V.request("GET", self.path, hdrs)
            self.assertEqual(r.status, 401, r.short())
        other = V.create_channel("Other", webhook="https://127.0.0.1:9/o")
        r = V.request("GET", self.path, [("X-Viber-Auth-Token", other.token)])
        self.assertEqual(r.status, 401, r.short())  # another channel's token
        for q, detail in (("?status=x", "status: an API status 0..99"),
                          ("?endpoint=send", "endpoint: one of post, set_webhook, get_account_info"),
                          ("?limit=0", "limit: 1..1000"), ("?since=-1", "since: Unix time in milliseconds")):
            r = V.request("GET", self.path + q, [("X-Viber-Auth-Token", FIX_TOKEN)])
            self.assertEqual((r.status, r.json["detail"]), (400, detail))

    def test_injected_faults_are_marked(self):
        V.admin("POST", "/admin/v1/channels/%s/faults" % FIX_ID, {"endpoint": "post", "status": 12, "count": 1})
        V.admin("POST", "/admin/v1/channels/%s/faults" % FIX_ID, {"endpoint": "post", "drop": True, "count": 1})
        self.assertEqual(V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": "a"}).json["status"], 12)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": "b"})
        e = self.journal()
        self.assertEqual([(x["fault"], x["http"], x["status"]) for x in e],
                         [("drop", 0, 0), ("status:12", 200, 12)])
        self.assertEqual(e[1]["detail"], "injected fault 1 (vcpd --sandbox)")

    def test_streamed_live_with_filters(self):
        got = {}

        def follow():
            got["events"] = read_events(V.port, self.path + "/events?status=3",
                                        [("X-Viber-Auth-Token", FIX_TOKEN)], want=1)
        t = threading.Thread(target=follow)
        t.start()
        time.sleep(0.3)
        V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": "not streamed: ok"})
        V.post(FIX_TOKEN, {"from": "intruder", "type": "text", "text": "streamed"})
        t.join(10)
        ev = got.get("events")
        self.assertEqual(len(ev or []), 1, ev)
        self.assertEqual((ev[0]["status"], ev[0]["detail"]),
                         (3, "from: not a superadmin of this channel"))
        self.assertEqual(ev[0]["id"], self.journal()[0]["id"])
        r = V.request("GET", self.path + "/events")
        self.assertEqual(r.status, 401)

    def test_reset_empties_it(self):
        V.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": "x"})
        self.assertEqual(len(self.journal()), 1)
        V.cli("channel", "reset", FIX_ID)
        self.assertEqual(self.journal(), [])

    def test_last_n_kept_across_a_restart_and_off_outside_the_sandbox(self):
        w = vcptest.Vcpd("--sandbox", "--journal", "5", name="journal")
        w.cli("channel", "create", "--name", "J", "--token", FIX_TOKEN, "--id", FIX_ID,
              "--superadmin-id", FIX_OWNER, "--webhook", "https://127.0.0.1:9/h", "--rate", "off")
        w.start()
        try:
            for i in range(8):
                w.post(FIX_TOKEN, {"from": FIX_OWNER, "type": "text", "text": "n%d" % i})
            texts = [json.loads(x["body"])["text"] for x in self.journal(v=w)]
            self.assertEqual(texts, ["n7", "n6", "n5", "n4", "n3"])
            w.restart()
            texts = [json.loads(x["body"])["text"] for x in self.journal(v=w)]
            self.assertEqual(texts, ["n7", "n6", "n5", "n4", "n3"])
            w.stop()
            w.flags = []  # no --sandbox: no journal unless --journal N
            w.start()
            r = w.request("GET", self.path, [("X-Viber-Auth-Token", FIX_TOKEN)])
            self.assertEqual(r.status, 404, r.short())
            self.assertIn("the journal is off", r.json["detail"])
        finally:
            w.stop()


# ---------------------------------------------------------------------------
# Media the test makes: real files of each format, of any size

def jpeg(size):
    """A baseline JPEG (8x8, grey) of exactly `size` bytes: comment segments
    pad it."""
    def seg(marker, payload):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload
    head = b"\xff\xd8" + seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    body = (seg(0xDB, b"\x00" + b"\x01" * 64)
            + seg(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
            + seg(0xC4, b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00")   # DC: one code, category 0
            + seg(0xC4, b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00")   # AC: one code, EOB
            + seg(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x3f" + b"\xff\xd9")
    pad = size - len(head) - len(body)
    assert pad == 0 or pad >= 4, size
    out = head
    while pad > 0:
        n = min(pad, 65535 + 2)
        if pad - n in (1, 2, 3):  # leave room for one more whole segment
            n -= 4
        out += seg(0xFE, b"c" * (n - 4))
        pad -= n
    return out + body


def png():
    """A 1x1 PNG."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def mp4(size):
    """An MP4 (ISO BMFF) of `size` bytes: an ftyp box and an mdat box."""
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
    ftyp = struct.pack(">I", len(ftyp) + 4) + ftyp
    return ftyp + struct.pack(">I", size - len(ftyp)) + b"mdat" + b"\x00" * (size - len(ftyp) - 8)


class MediaServer:
    """HTTPS on 127.0.0.1 with the test CA's certificate: path -> bytes.
    With "?chunked" they go out without Content-Length."""

    def __init__(self, cert, files):
        self.files = files
        self.hits = {}
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        me = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                me.hits[self.path] = me.hits.get(self.path, 0) + 1
                data = me.files.get(self.path.split("?")[0])
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                try:
                    if self.path.endswith("?chunked"):
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for off in range(0, len(data), 65536):
                            part = data[off:off + 65536]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                except OSError:
                    pass  # vcpd stops reading once it knows enough

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = self.socket.accept()
                return ctx.wrap_socket(sock, server_side=True), addr

            def handle_error(self, request, client_address):
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Media(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = vcptest.make_temp_dir("media-ca")
        cls.certs = vcptest.make_ca(d)
        cls.files = {
            "/photo.jpg": jpeg(50_000), "/thumb.jpg": jpeg(10_000),
            "/big.jpg": jpeg(1024 * 1024 + 1), "/max.jpg": jpeg(1024 * 1024),
            "/fat-thumb.jpg": jpeg(100 * 1024 + 1), "/fake.jpg": png(),  # a PNG named .jpg
            "/clip.mp4": mp4(300_000), "/clip2.mp4": mp4(200_000),
            "/doc.pdf": b"%PDF-1.4\n" + b"x" * 4000, "/doc2.pdf": b"%PDF-1.4\n" + b"y" * 3000,
            "/photo2.jpg": jpeg(30_000), "/big2.jpg": jpeg(1024 * 1024 + 5000),
        }
        cls.srv = MediaServer(cls.certs.server, cls.files)
        cls.v = vcptest.Vcpd("--sandbox", "--check-media", "--webhook-ca", cls.certs.ca,
                             name="media").start()
        cls.ch = cls.v.create_channel("Media", webhook="https://127.0.0.1:9/h", rate="off")

    @classmethod
    def tearDownClass(cls):
        cls.v.stop_checked()
        cls.srv.close()

    def post(self, msg, v=None, ch=None):
        ch = ch or self.ch
        r = (v or self.v).post(ch.token, dict(msg, **{"from": ch.superadmin}))
        self.assertEqual(r.status, 200, r.short())
        return r.json["status"], r.json.get("detail")

    def u(self, path):
        return self.srv.url(path)

    def test_pictures_and_thumbnails(self):
        ok = {"type": "picture", "text": "", "media": self.u("/photo.jpg"),
              "thumbnail": self.u("/thumb.jpg")}
        self.assertEqual(self.post(ok), (0, None))
        self.assertEqual(self.post(dict(ok, media=self.u("/max.jpg"))), (0, None))
        self.assertEqual(self.post(dict(ok, media=self.u("/fake.jpg"))),
                         (3, "media: not a JPEG (PNG data)"))
        self.assertEqual(self.post(dict(ok, media=self.u("/big.jpg"))),
                         (3, "media: 1048577 bytes, max 1 MiB"))
        self.assertEqual(self.post(dict(ok, thumbnail=self.u("/fat-thumb.jpg"))),
                         (3, "thumbnail: 102401 bytes, max 100 KiB"))
        self.assertEqual(self.post(dict(ok, thumbnail=self.u("/missing.jpg"))),
                         (3, "thumbnail: could not be fetched: the server answered HTTP 404"))
        self.assertEqual(self.post(dict(ok, media=self.u("/photo2.jpg?chunked"))), (0, None))
        self.assertEqual(self.post(dict(ok, media=self.u("/big2.jpg?chunked"))),
                         (3, "media: over 1 MiB"))  # no Content-Length: not read past the limit
        self.assertEqual([p["message"]["media"] for p in posts_of(self.v, self.ch.pa_id)
                          if p["type"] == "picture" and p["message"].get("text") == ""],
                         [self.u("/photo2.jpg?chunked"), self.u("/max.jpg"), self.u("/photo.jpg")])

    def test_videos_and_files_match_their_size(self):
        clip = {"type": "video", "media": self.u("/clip.mp4"), "size": 300_000,
                "thumbnail": self.u("/thumb.jpg")}
        self.assertEqual(self.post(clip), (0, None))
        self.assertEqual(self.post(dict(clip, size=300_001)),
                         (3, "media: 300000 bytes, but size says 300001"))
        self.assertEqual(self.post(dict(clip, media=self.u("/clip2.mp4?chunked"), size=200_000)),
                         (0, None))  # no Content-Length: counted
        self.assertEqual(self.post(dict(clip, media=self.u("/photo.jpg"), size=50_000)),
                         (3, "media: not an MP4 (JPEG data)"))
        doc = {"type": "file", "media": self.u("/doc.pdf"), "size": 4009, "file_name": "doc.pdf"}
        self.assertEqual(self.post(doc), (0, None))
        self.assertEqual(self.post(dict(doc, size=4000)), (3, "media: 4009 bytes, but size says 4000"))
        self.assertEqual(self.post(dict(doc, media=self.u("/doc2.pdf?chunked"), size=3009)), (0, None))

    def test_results_are_cached_per_url(self):
        msg = {"type": "picture", "text": "cached", "media": self.u("/photo.jpg?c=1")}
        before = self.srv.hits.get("/photo.jpg?c=1", 0)
        for _ in range(3):
            self.assertEqual(self.post(msg), (0, None))
        self.assertEqual(self.srv.hits.get("/photo.jpg?c=1", 0) - before, 1)

    def test_the_ssrf_guard_applies_and_it_is_opt_in(self):
        w = vcptest.Vcpd("--check-media", "--webhook-ca", self.certs.ca, name="media-guarded")
        ch = w.create_channel("Guarded", webhook="https://127.0.0.1:9/h", rate="off")
        w.start()
        try:
            st, detail = self.post({"type": "picture", "text": "", "media": self.u("/photo.jpg")},
                                   v=w, ch=ch)
            self.assertEqual((st, detail),
                             (3, "media: could not be fetched: address not allowed: 127.0.0.1"))
        finally:
            w.stop()
        # without --check-media nothing is fetched: a PNG named .jpg passes, as before
        ch = V.create_channel("Unchecked", webhook="https://127.0.0.1:9/h", rate="off")
        before = self.srv.hits.get("/fake.jpg", 0)
        self.assertEqual(self.post({"type": "picture", "text": "", "media": self.u("/fake.jpg")},
                                   v=V, ch=ch), (0, None))
        self.assertEqual(self.srv.hits.get("/fake.jpg", 0), before)


if __name__ == "__main__":
    vcptest.main()
