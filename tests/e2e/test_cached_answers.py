#!/usr/bin/env python3
"""What vcpd keeps between requests never outlives a change (issue 11).

vcpd answers a known token without hashing it (a token -> channel cache)
and builds get_account_info's answer once per channel version and
subscriber count.  Every test here first asks, so that whatever is cached
is cached, then changes the channel -- over the admin API and with the CLI
on the same database (another process) -- and checks that the very next
answer shows the change: token rotation, webhook, details, members, state,
delete, reset, the whole sandbox reset, and a subscriber coming and going.

vcpd also keeps the libmicrohttpd responses of those answers and of its
status answers (answers.h) and queues them again: RawBytes checks on raw
sockets that what goes on the wire is byte for byte what a response made
for each request gave (the headers as they were before responses were
kept), on keep-alive and closing connections, and past the table's bound.

Usage: test_cached_answers.py [path/to/vcpd] [unittest args]
"""
import json
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


def exchange(sock, method, path, headers=(), body=b""):
    """One request on an open raw socket; returns (head, body) as bytes,
    the head with its Date value blanked (the one header that varies)."""
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    head += "Content-Length: %d\r\n\r\n" % len(body)
    sock.sendall(head.encode() + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("closed before the answer's head: %r" % data)
        data += chunk
    got, _, rest = data.partition(b"\r\n\r\n")
    length = None
    lines = got.split(b"\r\n")
    for i, line in enumerate(lines):
        name, _, value = line.partition(b": ")
        if name.lower() == b"content-length":
            length = int(value)
        if name.lower() == b"date":
            lines[i] = name + b": <date>"
    if length is None:
        raise AssertionError("no Content-Length: %r" % got)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("closed in the answer's body")
        rest += chunk
    return b"\r\n".join(lines), rest[:length]


def golden(body, close=False):
    """The head vcpd sent for a JSON answer before its responses were kept
    (recorded from vcpd built at 623bd45, libmicrohttpd 0.9.75)."""
    return (b"HTTP/1.1 200 OK\r\nDate: <date>\r\n" + (b"Connection: close\r\n" if close else b"") +
            b"Content-Type: application/json\r\nContent-Length: %d" % len(body))


class RawBytes(unittest.TestCase):
    def setUp(self):
        self.ch = V.create_channel("Raw", superadmin="Owner", webhook="https://127.0.0.1:9/hook",
                                   rate="off")
        f = self.ch.superadmin
        # bench/baddata.lua's refusals, a missing and an unknown token, the account answer
        self.asks = [
            ("/pa/get_account_info", self.ch.token, b"{}"),
            ("/pa/post", self.ch.token, ('{"from":"%s","type":"video","media":"https://www.example'
                                         '.org/video.mp4","size":1.5}' % f).encode()),
            ("/pa/post", self.ch.token, ('{"from":"%s","type":"location","location":{"lat":91,'
                                         '"lon":0}}' % f).encode()),
            ("/pa/post", self.ch.token, ('{"from":"%s","type":"foo","text":"x"}' % f).encode()),
            ("/pa/post", None, b'{"from":"x","type":"text","text":"hi"}'),
            ("/pa/post", "no-such-token", b'{"from":"x","type":"text","text":"hi"}'),
            ("/pa/get_account_info", "no-such-token", b"{}"),
            ("/pa/post", self.ch.token, b'{"from":"nobody","type":"text","text":"hi"}'),
        ]

    def ask(self, sock, path, token, body, extra=()):
        hdrs = [("X-Viber-Auth-Token", token)] if token else []
        return exchange(sock, "POST", path, hdrs + list(extra), body)

    def test_kept_answers_send_the_same_bytes(self):
        s = socket.create_connection(("127.0.0.1", V.port), timeout=10)
        self.addCleanup(s.close)
        first = [self.ask(s, *a) for a in self.asks]
        for rnd in range(3):  # again on the same connection: the kept responses
            for a, (head, body) in zip(self.asks, first):
                self.assertEqual(self.ask(s, *a), (head, body), (rnd, a[0], body))
        for (head, body) in first:
            self.assertEqual(head, golden(body), body)
        statuses = [json.loads(b)["status"] for _, b in first]
        self.assertEqual(statuses, [0, 3, 3, 3, 2, 2, 2, 3])
        # another connection gets them too, and one that asks to close
        # gets "Connection: close" added for it alone
        for a, (head, body) in zip(self.asks, first):
            s2 = socket.create_connection(("127.0.0.1", V.port), timeout=10)
            try:
                self.assertEqual(self.ask(s2, *a), (head, body))
                got = self.ask(s2, *a, extra=[("Connection", "close")])
                self.assertEqual(got, (golden(body, close=True), body))
                self.assertEqual(s2.recv(1), b"")  # and is closed
            finally:
                s2.close()
        self.assertEqual(self.ask(s, *self.asks[0]), first[0])

    def test_past_the_bound_answers_stay_right(self):
        """More distinct refusals than the table keeps (256): it is emptied
        and refilled, and every answer is still the one its request gets."""
        s = socket.create_connection(("127.0.0.1", V.port), timeout=10)
        self.addCleanup(s.close)
        f = self.ch.superadmin
        for rnd in range(2):
            for i in range(300):
                body = ('{"from":"%s","type":"t%d"}' % (f, i)).encode()
                head, got = self.ask(s, "/pa/post", self.ch.token, body)
                js = json.loads(got)
                self.assertEqual(head, golden(got))
                want = 'type: unknown message type "t%d"' % i
                self.assertEqual(js["status"], 3, (rnd, i))
                self.assertTrue(js["detail"].startswith(want), (rnd, i, js["detail"]))
        # the account answer is rebuilt when the channel changes, headers and all
        head, body = self.ask(s, *self.asks[0])
        V.cli("channel", "edit", self.ch.pa_id, "--name", "Raw, renamed")
        head2, body2 = self.ask(s, *self.asks[0])
        self.assertEqual(json.loads(body2)["name"], "Raw, renamed")
        self.assertEqual(head2, golden(body2))
        self.assertNotEqual(len(body), len(body2))


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
