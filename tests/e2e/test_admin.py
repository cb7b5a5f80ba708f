#!/usr/bin/env python3
"""Administration (docs/API.md §7) seen from the wire: what the offline CLI and
the admin HTTP API change takes effect on a running vcpd at once (states,
members, webhook, rate), and both front ends answer the documented JSON.

Usage: test_admin.py [path/to/vcpd] [unittest args]
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

KEY = "e2e-admin-0f9e8d7c6b5a"
V = None


def setUpModule():
    global V
    V = vcptest.Vcpd(name="admin", admin_key=KEY).start()


def tearDownModule():
    if V is not None:
        V.stop_checked()


class Base(unittest.TestCase):
    def st(self, resp):
        self.assertEqual(resp.status, 200, resp.short())
        return (resp.json or {}).get("status")

    def post(self, ch, text="hi", frm=None):
        return self.st(V.post(ch.token, {"from": frm or ch.superadmin, "type": "text",
                                         "text": text}))

    def assertChannelJson(self, c):
        self.assertRegex(c["id"], r"^pa:[0-9]+$")
        self.assertIn(c["state"], ("active", "blocked", "suspended", "deleted"))
        self.assertIsInstance(c["name"], str)
        self.assertIsInstance(c["webhook"], str)
        self.assertTrue(c["rate"] is None or (isinstance(c["rate"]["count"], int)
                                              and isinstance(c["rate"]["window"], int)), c)
        self.assertNotIn("token", c)
        self.assertNotIn("token_hash", c)


class Cli(Base):
    def test_create_prints_the_documented_json(self):
        out = V.cli("channel", "create", "--name", "E2E CLI ✓", "--superadmin", "Ann",
                    "--webhook", "https://127.0.0.1:9/cli", "--rate", "5/10")
        self.assertChannelJson(out["channel"])
        self.assertEqual(out["channel"]["name"], "E2E CLI ✓")
        self.assertEqual(out["channel"]["state"], "active")
        self.assertEqual(out["channel"]["webhook"], "https://127.0.0.1:9/cli")
        self.assertEqual(out["channel"]["rate"], {"count": 5, "window": 10})
        self.assertEqual(out["superadmin"]["name"], "Ann")
        self.assertEqual(out["superadmin"]["role"], "superadmin")
        self.assertIsInstance(out["token"], str)
        ch = vcptest.Channel(out)
        self.assertEqual(self.post(ch), 0)  # --webhook at creation counts as set
        # show / list agree, and never print the token
        shown = V.cli("channel", "show", ch.pa_id)
        self.assertEqual(shown["channel"]["id"], ch.pa_id)
        self.assertNotIn(ch.token, repr(shown))
        listed = V.cli("channel", "list")
        self.assertIn(ch.pa_id, [c["id"] for c in listed["channels"]])
        self.assertNotIn(ch.token, repr(listed))

    def test_only_create_makes_a_database(self):
        # In an empty directory, with the default --db and with named ones, every
        # action but "channel create" refuses, names the file it looked for and
        # leaves nothing behind.
        d = vcptest.make_temp_dir("nodb")
        actions = [["channel", "list"], ["channel", "show", "pa:1"],
                   ["channel", "block", "pa:1"], ["channel", "rotate-token", "pa:1"],
                   ["channel", "set-rate", "pa:1", "off"], ["member", "list", "pa:1"],
                   ["member", "add", "pa:1", "--name", "x"]]
        for db, shown in ((None, os.path.join(d, "vcpd.db")), ("other.db", "other.db"),
                          ("sqlite:third.db", "third.db")):
            for act in actions:
                with self.subTest(db=db, act=act):
                    cmd = [vcptest.vcpd_bin()] + act + (["--db", db] if db else [])
                    p = subprocess.run(cmd, cwd=d, capture_output=True, text=True,
                                       env=vcptest.clean_env(), timeout=30)
                    self.assertEqual(p.returncode, 1, p.stderr)
                    self.assertIn("no database at", p.stderr)
                    self.assertIn(os.path.join(d, shown) if db else shown, p.stderr)
                    self.assertEqual(p.stdout, "")
                    self.assertEqual(os.listdir(d), [])
        # VCPD_DB is where it looks too; create makes it, and then the rest work.
        env = vcptest.clean_env({"VCPD_DB": "env.db"})
        p = subprocess.run([vcptest.vcpd_bin(), "channel", "list"], cwd=d,
                           capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(os.path.join(d, "env.db"), p.stderr)
        self.assertEqual(os.listdir(d), [])
        for act in (["channel", "create", "--name", "First"], ["channel", "list"]):
            p = subprocess.run([vcptest.vcpd_bin()] + act, cwd=d, capture_output=True,
                               text=True, env=env, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("First", p.stdout)
        self.assertIn("env.db", os.listdir(d))

    def test_default_rate_is_vibers_limit(self):
        out = V.cli("channel", "create", "--name", "E2E default rate")
        self.assertEqual(out["channel"]["rate"], {"count": 500, "window": 10})

    def test_two_creates_give_distinct_ids_and_tokens(self):
        a = V.cli("channel", "create", "--name", "Same name")
        b = V.cli("channel", "create", "--name", "Same name")
        self.assertNotEqual(a["channel"]["id"], b["channel"]["id"])
        self.assertNotEqual(a["token"], b["token"])
        self.assertNotEqual(a["superadmin"]["id"], b["superadmin"]["id"])

    def test_state_changes_take_effect_at_once(self):
        ch = V.create_channel("E2E states", webhook="https://127.0.0.1:9/s", rate="off")
        self.assertEqual(self.post(ch), 0)
        for verb, status, state in (("block", 7, "blocked"), ("activate", 0, "active"),
                                    ("suspend", 9, "suspended"), ("activate", 0, "active"),
                                    ("delete", 8, "deleted")):
            with self.subTest(verb=verb):
                out = V.cli("channel", verb, ch.pa_id)
                self.assertEqual(out["channel"]["state"], state)
                self.assertEqual(self.post(ch, verb), status)
                r = V.api("/pa/get_account_info", token=ch.token)
                self.assertEqual(self.st(r), status)

    def test_members_and_the_superadmin_rule(self):
        ch = V.create_channel("E2E members", webhook="https://127.0.0.1:9/m", rate="off")
        m = V.cli("member", "add", ch.pa_id, "--name", "Adam Admin", "--role", "admin")["member"]
        self.assertEqual((m["name"], m["role"]), ("Adam Admin", "admin"))
        self.assertEqual(self.post(ch, frm=m["id"]), 3)
        s = V.cli("member", "add", ch.pa_id, "--name", "Sue Super", "--role", "superadmin",
                  "--id", "SueSuper00000000000000==")["member"]
        self.assertEqual(s["id"], "SueSuper00000000000000==")
        self.assertEqual(self.post(ch, frm=s["id"]), 0)
        info = V.api("/pa/get_account_info", token=ch.token).json
        got = {(x["id"], x["role"]) for x in info["members"]}
        self.assertEqual(got, {(ch.superadmin, "superadmin"), (m["id"], "admin"),
                               (s["id"], "superadmin")})
        listed = V.cli("member", "list", ch.pa_id)["members"]
        self.assertEqual({x["id"] for x in listed}, {ch.superadmin, m["id"], s["id"]})
        V.cli("member", "remove", ch.pa_id, s["id"])
        self.assertEqual(self.post(ch, frm=s["id"]), 3)
        self.assertEqual(self.post(ch), 0)
        # the same id twice is refused
        p = V.cli("member", "add", ch.pa_id, "--name", "X", "--id", m["id"], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(p.stderr_text.strip(), "no message on stderr")

    def test_set_webhook_and_rate_offline(self):
        ch = V.create_channel("E2E offline settings", rate="off")
        self.assertEqual(self.post(ch), 10)
        V.cli("channel", "set-webhook", ch.pa_id, "https://127.0.0.1:9/later")
        self.assertEqual(self.post(ch), 0)
        self.assertEqual(V.api("/pa/get_account_info", token=ch.token).json["webhook"],
                         "https://127.0.0.1:9/later")
        out = V.cli("channel", "set-rate", ch.pa_id, "2/60")
        self.assertEqual(out["channel"]["rate"], {"count": 2, "window": 60})
        results = [self.post(ch, "r%d" % i) for i in range(4)]
        self.assertEqual(results[:2], [0, 0])
        self.assertEqual(results[-1], 12, results)
        out = V.cli("channel", "set-rate", ch.pa_id, "off")
        self.assertIsNone(out["channel"]["rate"])
        self.assertEqual([self.post(ch, "u%d" % i) for i in range(5)], [0] * 5)

    def test_errors_exit_non_zero_with_a_message(self):
        for args in (("channel", "show", "pa:00000000000000000001"),
                     ("channel", "block", "pa:00000000000000000001"),
                     ("channel", "create"),
                     ("channel", "frobnicate"),
                     ("member", "add", "pa:00000000000000000001", "--name", "x"),
                     ("channel", "set-rate", "pa:00000000000000000001", "lots")):
            with self.subTest(args=args):
                p = V.cli(*args, check=False)
                self.assertNotEqual(p.returncode, 0, p.stdout_text)
                self.assertTrue(p.stderr_text.strip(), "no message on stderr")


class AdminApi(Base):
    def create(self, name, **extra):
        r = V.admin("POST", "/admin/v1/channels", dict({"name": name, "superadmin": "Api Owner"},
                                                       **extra))
        self.assertEqual(r.status, 201, r.short())
        self.assertChannelJson(r.json["channel"])
        self.assertEqual(r.json["superadmin"]["role"], "superadmin")
        return vcptest.Channel(r.json)

    def test_create_and_use(self):
        ch = self.create("E2E API channel")
        self.assertEqual(ch.name, "E2E API channel")
        self.assertEqual(ch.superadmin_name, "Api Owner")
        self.assertEqual(self.post(ch), 10)  # no webhook yet
        info = V.api("/pa/get_account_info", token=ch.token, method="GET").json
        self.assertEqual((info["status"], info["id"]), (0, ch.pa_id))
        r = V.admin("GET", "/admin/v1/channels/" + ch.pa_id)
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual(r.json["channel"]["id"], ch.pa_id)
        self.assertNotIn(ch.token, r.raw.decode())
        r = V.admin("GET", "/admin/v1/channels")
        self.assertIn(ch.pa_id, [c["id"] for c in r.json["channels"]])
        self.assertNotIn(ch.token, r.raw.decode())

    def test_state_changes(self):
        ch = self.create("E2E API states")
        V.cli("channel", "set-webhook", ch.pa_id, "https://127.0.0.1:9/api")
        self.assertEqual(self.post(ch), 0)
        for verb, status in (("suspend", 9), ("activate", 0), ("block", 7), ("activate", 0),
                             ("delete", 8)):
            with self.subTest(verb=verb):
                r = V.admin("POST", "/admin/v1/channels/%s/%s" % (ch.pa_id, verb))
                self.assertEqual(r.status, 200, r.short())
                self.assertEqual(self.post(ch, verb), status)
        shown = V.cli("channel", "show", ch.pa_id)
        self.assertEqual(shown["channel"]["state"], "deleted")

    def test_rate_and_members(self):
        ch = self.create("E2E API rate")
        V.cli("channel", "set-webhook", ch.pa_id, "https://127.0.0.1:9/api")
        r = V.admin("PUT", "/admin/v1/channels/%s/rate" % ch.pa_id, {"count": 1, "window": 60})
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual([self.post(ch, "a"), self.post(ch, "b")], [0, 12])
        r = V.admin("POST", "/admin/v1/channels/%s/members" % ch.pa_id,
                    {"name": "Api Admin", "role": "admin"})
        self.assertEqual(r.status, 201, r.short())  # it created a member, as create does
        mid = r.json["member"]["id"]
        r = V.admin("GET", "/admin/v1/channels/%s/members" % ch.pa_id)
        self.assertEqual({(m["id"], m["role"]) for m in r.json["members"]},
                         {(ch.superadmin, "superadmin"), (mid, "admin")})
        r = V.admin("DELETE", "/admin/v1/channels/%s/members/%s" % (ch.pa_id, mid))
        self.assertEqual(r.status, 200, r.short())
        r = V.admin("GET", "/admin/v1/channels/%s/members" % ch.pa_id)
        self.assertEqual([m["id"] for m in r.json["members"]], [ch.superadmin])

    def test_urls_are_written_plainly(self):
        # No "https:\/\/…" (json-c's default) in any admin answer: URLs as Viber writes them.
        hook, avatar = "https://127.0.0.1:9/a/hook", "https://example.com/u/ann.jpg"
        r = V.admin("POST", "/admin/v1/channels", {"name": "E2E slashes", "webhook": hook,
                                                    "icon": "https://example.com/i/icon.jpg"})
        self.assertEqual(r.status, 201, r.short())
        ch = vcptest.Channel(r.json)
        raws = [("create", r.raw)]
        r = V.admin("POST", "/admin/v1/channels/%s/members" % ch.pa_id,
                    {"name": "Ann", "avatar": avatar})
        self.assertEqual(r.status, 201, r.short())
        raws.append(("member add", r.raw))
        for path in ("", "/" + ch.pa_id, "/%s/members" % ch.pa_id):
            raws.append(("GET" + path, V.admin("GET", "/admin/v1/channels" + path).raw))
        raws.append(("account info", V.api("/pa/get_account_info", token=ch.token).raw))
        for what, raw in raws:
            with self.subTest(what=what):
                self.assertNotIn(b"\\/", raw)
                self.assertTrue(hook.encode() in raw or avatar.encode() in raw, raw)

    def test_set_webhook_and_delete(self):
        ch = self.create("E2E API webhook")
        self.assertEqual(self.post(ch), 10)
        r = V.admin("PUT", "/admin/v1/channels/%s/webhook" % ch.pa_id,
                    {"url": "https://127.0.0.1:9/put"})
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual(r.json["channel"]["webhook"], "https://127.0.0.1:9/put")
        self.assertEqual(self.post(ch), 0)
        r = V.admin("DELETE", "/admin/v1/channels/" + ch.pa_id)
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual(self.post(ch), 8)

    def test_without_a_configured_key_the_api_is_403(self):
        v = vcptest.Vcpd(name="nokey").start()
        try:
            for hdrs in ([], [("Authorization", "Bearer " + KEY)], [("Authorization", "Bearer ")]):
                r = v.request("GET", "/admin/v1/channels", hdrs)
                self.assertEqual(r.status, 403, "%r: %s" % (hdrs, r.short()))
            r = v.request("POST", "/admin/v1/channels", [("Authorization", "Bearer " + KEY)],
                          b'{"name":"sneaky"}')
            self.assertEqual(r.status, 403, r.short())
            self.assertEqual(v.cli("channel", "list")["channels"], [])
        finally:
            v.stop_checked()

    def test_unknown_channel_is_404(self):
        r = V.admin("GET", "/admin/v1/channels/pa:00000000000000000001")
        self.assertEqual(r.status, 404, r.short())
        r = V.admin("POST", "/admin/v1/channels/pa:00000000000000000001/block")
        self.assertEqual(r.status, 404, r.short())

    def test_bad_create_is_400(self):
        for body in ({}, {"name": ""}, {"name": 5}, "not json"):
            with self.subTest(body=body):
                r = V.admin("POST", "/admin/v1/channels", body)
                self.assertEqual(r.status, 400, r.short())

    def test_admin_bodies_are_read_like_api_bodies(self):
        # the same reader as /pa/*: strict JSON, 30 KiB, the same details
        for body, detail in (("{'name':'x'}", "body: invalid JSON (unexpected character at byte 1)"),
                             ("[1]", "body: must be a JSON object"),
                             ('{"name":"%s"}' % ("x" * 30720), "body: 30731 bytes, max 30720")):
            with self.subTest(body=body[:20]):
                r = V.admin("POST", "/admin/v1/channels", body)
                self.assertEqual(r.status, 400, r.short())
                self.assertEqual(r.json["detail"], detail)


class MemberIds(Base):
    """One character set for member ids (docs/API.md: letters, digits and
    + / = - _, at most 64), checked at member add by both front ends; every
    id that can be added can be removed again by both (issue 9)."""

    # "-lead": a random id begins with '-' one time in 64; `vcpd member
    # remove ID -lead` must read it as the id, not as an option
    GOOD = ["01234567890A=", "ZjKTcfFqUULvHWphNAQ7tQ==", "a+b/c==", "x-y_z",
            "/leading/slash", "-lead", "A" * 64]
    BAD = ["a?b", "a b", "a%2Fb", "a#b", "a.b", "caf\u00e9", "a\\b", "a;b", "A" * 65]

    def ids(self, ch):
        r = V.admin("GET", "/admin/v1/channels/%s/members" % ch.pa_id)
        self.assertEqual(r.status, 200, r.short())
        return {m["id"] for m in r.json["members"]}

    def test_cli_add_and_remove_round_trip(self):
        ch = V.create_channel("E2E ids CLI", rate="off")
        for mid in self.GOOD:
            with self.subTest(id=mid):
                out = V.cli("member", "add", ch.pa_id, "--name", "M", "--id", mid)
                self.assertEqual(out["member"]["id"], mid)
                self.assertIn(mid, self.ids(ch))
                V.cli("member", "remove", ch.pa_id, mid)
                self.assertNotIn(mid, self.ids(ch))

    def test_admin_api_add_and_remove_round_trip(self):
        import urllib.parse
        ch = V.create_channel("E2E ids API", rate="off")
        for mid in self.GOOD:
            # as is (a / in the last segment is part of the id) and
            # percent-encoded, as a URL library writes it
            for path_id in (mid, urllib.parse.quote(mid, safe="")):
                with self.subTest(id=mid, path=path_id):
                    r = V.admin("POST", "/admin/v1/channels/%s/members" % ch.pa_id,
                                {"name": "M", "id": mid})
                    self.assertEqual(r.status, 201, r.short())  # creates: 201
                    self.assertEqual(r.json["member"]["id"], mid)
                    r = V.admin("DELETE", "/admin/v1/channels/%s/members/%s"
                                % (ch.pa_id, path_id))
                    self.assertEqual(r.status, 200, r.short())
                    self.assertEqual(r.json["removed"], mid)
                    self.assertNotIn(mid, self.ids(ch))

    def test_ids_outside_the_set_are_refused_by_both(self):
        ch = V.create_channel("E2E ids refused", rate="off")
        before = self.ids(ch)
        for mid in self.BAD:
            with self.subTest(id=mid):
                r = V.admin("POST", "/admin/v1/channels/%s/members" % ch.pa_id,
                            {"name": "M", "id": mid})
                self.assertEqual(r.status, 400, r.short())
                self.assertTrue(r.json["detail"].startswith("id: "), r.short())
                p = V.cli("member", "add", ch.pa_id, "--name", "M", "--id", mid, check=False)
                self.assertNotEqual(p.returncode, 0, p.stdout_text)
                self.assertIn("id: ", p.stderr_text)
                self.assertEqual(self.ids(ch), before)
        r = V.admin("POST", "/admin/v1/channels/%s/members" % ch.pa_id,
                    {"name": "M", "id": "a?b"})
        self.assertEqual(r.json["detail"],
                         "id: only letters, digits and + / = - _ (at most 64)")

    def test_near_miss_paths_are_404(self):
        """The admin route table matches whole segments: a trailing slash,
        an empty member id or an unknown action is no route (and changes
        nothing)."""
        ch = V.create_channel("E2E admin near misses", rate="off")
        base = "/admin/v1/channels/" + ch.pa_id
        for method, path in (("GET", base + "/"), ("DELETE", base + "/"),
                             ("DELETE", base + "/members/"), ("POST", base + "/frob"),
                             ("POST", base + "/block/"), ("GET", base + "/member"),
                             ("PUT", base + "/members"), ("GET", "/admin/v1/channelsx"),
                             ("GET", "/admin/v1/channels//members")):
            with self.subTest(method=method, path=path):
                r = V.admin(method, path, {} if method in ("POST", "PUT") else None)
                self.assertEqual(r.status, 404, r.short())
        r = V.admin("GET", base)
        self.assertEqual((r.status, r.json["channel"]["state"]), (200, "active"), r.short())
        self.assertEqual(len(r.json["members"]), 1)

    def test_head_on_admin_get_routes(self):
        import http.client
        ch = V.create_channel("E2E ids HEAD", rate="off")
        for path in ("/admin/v1/channels", "/admin/v1/channels/" + ch.pa_id,
                     "/admin/v1/channels/%s/members" % ch.pa_id):
            conn = http.client.HTTPConnection("127.0.0.1", V.port, timeout=5)
            try:
                conn.request("HEAD", path, headers={"Authorization": "Bearer " + KEY})
                r = conn.getresponse()
                self.assertEqual((r.status, r.read()), (200, b""), path)
                self.assertEqual(r.getheader("Content-Type"), "application/json", path)
            finally:
                conn.close()


if __name__ == "__main__":
    vcptest.main()
