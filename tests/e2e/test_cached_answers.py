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
import http.client
import json
import socket
import sys
import threading
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


class PostLoad:
    """Posts to a channel of its own from several keep-alive connections until stopped, so
    the writer commits batch after batch (and vcpd's HTTP thread answers the config version
    from the writer's readings, not from its own) while a test changes another channel."""

    def __init__(self, ch, conns=4):
        self.ch = ch
        self.stop = threading.Event()
        self.ok = 0
        self.bad = []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(conns)]

    def run(self):
        body = json.dumps(self.ch.text("load")).encode()
        hdrs = {"X-Viber-Auth-Token": self.ch.token, "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", V.port, timeout=10)
        try:
            while not self.stop.is_set():
                conn.request("POST", "/pa/post", body, hdrs)
                js = json.loads(conn.getresponse().read())
                if js.get("status") == 0:
                    self.ok += 1
                else:
                    self.bad.append(js)
        except (OSError, http.client.HTTPException, ValueError) as e:
            self.bad.append(repr(e))
        finally:
            conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        deadline = time.time() + 10
        while self.ok < 50 and not self.bad and time.time() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


class CachedUnderLoad(unittest.TestCase):
    """The same guarantee while posts are committed without a pause: the very next request
    after a change sees it, whoever made the change."""

    info = Cached.info
    warm = Cached.warm
    admin_ok = Cached.admin_ok

    def setUp(self):
        Cached.setUp(self)
        self.load = V.create_channel("Load", superadmin="Loader", rate="off",
                                     webhook="https://127.0.0.1:9/hook")

    def test_changes_in_force_at_once_under_load(self):
        with PostLoad(self.load) as load:
            for i in range(8):
                self.warm()
                url = "https://127.0.0.1:9/hook%d" % i
                V.cli("channel", "set-webhook", self.ch.pa_id, url)
                self.assertEqual(self.info()["webhook"], url, i)
                old = self.ch.token
                self.ch.token = V.cli("channel", "rotate-token", self.ch.pa_id)["token"]
                r = V.post(old, self.ch.text()).json
                self.assertEqual(r["status"], 2, (i, r))
                self.assertEqual(V.post(self.ch.token, self.ch.text()).json["status"], 0, i)
                V.cli("channel", "block", self.ch.pa_id)
                self.assertEqual(V.post(self.ch.token, self.ch.text()).json["status"], 7, i)
                self.admin_ok("POST", "/activate")
                self.assertEqual(V.post(self.ch.token, self.ch.text()).json["status"], 0, i)
                self.admin_ok("POST", "/block")
                self.assertEqual(self.info()["status"], 7, i)
                V.cli("channel", "activate", self.ch.pa_id)
                self.assertEqual(self.info()["status"], 0, i)
            self.assertEqual(load.bad, [])
            self.assertGreater(load.ok, 100)


if __name__ == "__main__":
    vcptest.main()
