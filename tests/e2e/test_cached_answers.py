#!/usr/bin/env python3
"""What vcpd keeps between requests never outlives a change (issue 11).

vcpd answers a known token without hashing it (a token -> channel cache)
and builds get_account_info's answer once per channel version and
subscriber count.  Every test here first asks, so that whatever is cached
is cached, then changes the channel -- over the admin API and with the CLI
on the same database (another process) -- and checks that the very next
answer shows the change: token rotation, webhook, details, members, state,
delete, reset, the whole sandbox reset, and a subscriber coming and going.

Usage: test_cached_answers.py [path/to/vcpd] [unittest args]
"""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

KEY = "e2e-cache-5a4b3c2d1e0f"
V = None


def setUpModule():
    global V
    V = vcptest.Vcpd("--sandbox", name="cache", admin_key=KEY).start()


def tearDownModule():
    if V is not None:
        V.stop_checked()


class Cached(unittest.TestCase):
    def setUp(self):
        self.ch = V.create_channel("Cached", superadmin="Owner",
                                   webhook="https://127.0.0.1:9/hook")

    def info(self, token=None, where="header"):
        r = V.api("/pa/get_account_info", token=token or self.ch.token, where=where)
        self.assertEqual(r.status, 200, r.short())
        return r.json

    def warm(self):
        """Asks twice by header and by body: from here on, both are cached."""
        for where in ("header", "body", "header"):
            self.assertEqual(self.info(where=where)["status"], 0)

    def admin_ok(self, method, path, body=None):
        r = V.admin(method, "/admin/v1/channels/%s%s" % (self.ch.pa_id, path), body)
        self.assertEqual(r.status, 200, r.short())
        return r.json

    def test_rotation_fails_the_old_token_at_once(self):
        for how in ("admin", "cli"):
            self.warm()
            old = self.ch.token
            if how == "admin":
                self.ch.token = self.admin_ok("POST", "/rotate-token")["token"]
            else:
                self.ch.token = V.cli("channel", "rotate-token", self.ch.pa_id)["token"]
            for where in ("header", "body"):
                js = self.info(token=old, where=where)
                self.assertEqual(js["status"], 2, (how, where, js))
                self.assertEqual(js["detail"], "auth_token: not valid")
                r = V.post(old, self.ch.text(), where=where).json
                self.assertEqual(r["status"], 2, (how, where, r))
            self.assertEqual(self.info()["status"], 0)
            self.assertEqual(V.post(self.ch.token, self.ch.text()).json["status"], 0)

    def test_webhook_shows_at_once(self):
        self.warm()
        V.cli("channel", "set-webhook", self.ch.pa_id, "https://127.0.0.1:9/other")
        self.assertEqual(self.info()["webhook"], "https://127.0.0.1:9/other")
        # removed through the API itself (this process's own writer)
        r = V.api("/pa/set_webhook", {"url": ""}, token=self.ch.token).json
        self.assertEqual(r["status"], 0, r)
        self.assertEqual(self.info()["webhook"], "")
        r = V.post(self.ch.token, self.ch.text()).json
        self.assertEqual(r["status"], 10, r)

    def test_details_show_at_once(self):
        self.warm()
        self.admin_ok("PATCH", "", {"name": "Renamed", "country": "DE",
                                    "location": {"lat": 1.25, "lon": -2.5}})
        js = self.info()
        self.assertEqual((js["name"], js["chat_hostname"], js["country"]),
                         ("Renamed", "Renamed", "DE"))
        self.assertEqual(js["location"], {"lat": 1.25, "lon": -2.5})
        V.cli("channel", "edit", self.ch.pa_id, "--name", "Again")
        self.assertEqual(self.info()["name"], "Again")
        self.assertEqual(V.post(self.ch.token, self.ch.text()).json["chat_hostname"], "Again")

    def test_members_show_at_once(self):
        self.warm()
        m = V.cli("member", "add", self.ch.pa_id, "--name", "Bea", "--role", "superadmin",
                  "--id", "BeaBeaBeaBeaBeaBeaBea000==")["member"]
        ids = [x["id"] for x in self.info()["members"]]
        self.assertIn(m["id"], ids)
        self.assertEqual(V.post(self.ch.token, dict(self.ch.text(), **{"from": m["id"]})).json[
            "status"], 0)
        V.cli("member", "remove", self.ch.pa_id, m["id"])
        self.assertNotIn(m["id"], [x["id"] for x in self.info()["members"]])
        r = V.post(self.ch.token, dict(self.ch.text(), **{"from": m["id"]})).json
        self.assertEqual((r["status"], r["detail"]),
                         (3, "from: not a superadmin of this channel"))

    def test_states_show_at_once(self):
        for verb, status in (("block", 7), ("suspend", 9), ("delete", 8)):
            self.warm()
            V.cli("channel", verb, self.ch.pa_id)
            for where in ("header", "body"):
                self.assertEqual(self.info(where=where)["status"], status, verb)
            self.admin_ok("POST", "/activate")
            self.assertEqual(self.info()["status"], 0, verb)
            self.admin_ok("POST", "/" + verb)
            self.assertEqual(self.info()["status"], status, verb)
            V.cli("channel", "activate", self.ch.pa_id)

    def test_resets(self):
        self.warm()
        before = self.info()
        V.cli("channel", "reset", self.ch.pa_id)
        self.assertEqual(self.info(), before)  # token, members and settings stay
        self.warm()
        r = V.admin("POST", "/admin/v1/reset")
        self.assertEqual(r.status, 200, r.short())
        for where in ("header", "body"):
            self.assertEqual(self.info(where=where)["status"], 2, where)

    def test_subscribers_count_follows_the_viewers(self):
        self.warm()
        self.assertEqual(self.info()["subscribers_count"], 0)
        s = socket.create_connection(("127.0.0.1", V.port), timeout=5)
        self.addCleanup(s.close)
        s.sendall(("GET /api/v1/channels/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Accept: text/event-stream\r\n\r\n" % self.ch.pa_id).encode())
        self.assertIn(b" 200 ", s.recv(4096).split(b"\r\n", 1)[0])
        self.assertEqual(self.info()["subscribers_count"], 1)
        s.close()
        deadline = time.time() + 5
        while self.info()["subscribers_count"] != 0:
            self.assertLess(time.time(), deadline, "subscribers_count stayed at 1")
            time.sleep(0.05)


if __name__ == "__main__":
    vcptest.main()
