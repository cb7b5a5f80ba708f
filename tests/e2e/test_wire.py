#!/usr/bin/env python3
"""Wire cases (tests/e2e/wire/*.txt) against one real vcpd, plus the few HTTP
checks that a case file cannot express (a body that is never sent, chunked
uploads).

One vcpd (no --sandbox) serves every case; the channels the files declare
are made offline with `vcpd channel ...` before it starts.  Cases run in file
order, one test method each (test_NNN_...), so a failure names its case and
file:line.

Usage: test_wire.py [path/to/vcpd] [unittest args, e.g. -k rate]
"""
import json
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

FIXTURES, CASES = vcptest.load_case_files()
SERVER = None
CHANNELS = {}


def setUpModule():
    global SERVER
    SERVER = vcptest.Vcpd(name="wire")
    for fx in FIXTURES:
        o = fx.opts
        members = [(role, mid, "Member " + mid) for role, mid in o["member"]]
        CHANNELS[fx.name] = SERVER.create_channel(
            o.get("name", "E2E " + fx.name), superadmin=o.get("superadmin", "Owner of " + fx.name),
            webhook=o.get("webhook"), rate=o.get("rate"), state=o.get("state"), members=members)
    SERVER.start()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop_checked()


class WireCases(unittest.TestCase):
    """One test per case, named test_NNN_<case name>."""


def _make(case):
    def test(self):
        method, path, headers, body = vcptest.build_request(case, CHANNELS)
        resp = SERVER.request(method, path, headers, body)
        bad = vcptest.check_case(case, resp, CHANNELS)
        if bad:
            self.fail("%s: %s\n  request: %s\n  got: %s\n  - %s" % (
                case.where(), case.name, vcptest.describe_request(method, path, headers, body),
                resp.short(), "\n  - ".join(bad)))
    return test


for _i, _case in enumerate(CASES):
    _slug = re.sub(r"[^a-z0-9]+", "_", _case.name.lower()).strip("_")[:60]
    setattr(WireCases, "test_%03d_%s" % (_i, _slug), _make(_case))


class HttpEdges(unittest.TestCase):
    """What the case files cannot say: bodies announced but never sent."""

    def test_413_answered_before_the_body_arrives(self):
        # Content-Length says 2 MiB and nothing follows: vcpd must answer 413
        # from the header alone ("closed without reading the rest").
        s = socket.create_connection(("127.0.0.1", SERVER.port), timeout=5)
        try:
            s.sendall(b"POST /pa/post HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"X-Viber-Auth-Token: " + CHANNELS["main"].token.encode() + b"\r\n"
                      b"Content-Length: 2097152\r\n\r\n{\"from\":")
            t0 = time.monotonic()
            data = b""
            try:
                while b"\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except socket.timeout:
                pass
            self.assertTrue(data.startswith(b"HTTP/1.1 413") or data.startswith(b"HTTP/1.0 413"),
                            "expected 413 within 5 s without the body, got %r after %.1f s"
                            % (data[:80], time.monotonic() - t0))
        finally:
            s.close()

    @staticmethod
    def chunk(data):
        return b"%x\r\n%s\r\n" % (len(data), data)

    def test_413_for_chunked_body_over_1_mib(self):
        # No Content-Length: the cap must hold for chunked uploads too.
        chunk = b"x" * 65536
        s = socket.create_connection(("127.0.0.1", SERVER.port), timeout=10)
        data = b""
        try:
            s.sendall(b"POST /pa/post HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"X-Viber-Auth-Token: " + CHANNELS["main"].token.encode() + b"\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            s.sendall(self.chunk(b'{"pad":"'))
            try:
                for _ in range(40):  # 2.5 MiB at most
                    s.sendall(self.chunk(chunk))
                s.sendall(self.chunk(b'"}') + b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                while b"\r\n" not in data:
                    got = s.recv(4096)
                    if not got:
                        break
                    data += got
            except (socket.timeout, ConnectionResetError):
                pass
        finally:
            s.close()
        self.assertRegex(data[:20], rb"^HTTP/1\.[01] 413",
                         "chunked upload of 2.5 MiB: expected 413, got %r" % data[:200])

    def test_chunked_small_body_is_accepted(self):
        main = CHANNELS["main"]
        body = ('{"from":"%s","type":"text","text":"chunked"}' % main.superadmin).encode()
        chunked = self.chunk(body) + b"0\r\n\r\n"
        r = SERVER.request("POST", "/pa/post", [("X-Viber-Auth-Token", main.token),
                                                ("Transfer-Encoding", "chunked")], chunked)
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual((r.json or {}).get("status"), 0, r.short())

    def test_keep_alive_serves_several_requests(self):
        import http.client
        main = CHANNELS["main"]
        conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=10)
        try:
            for i in range(3):
                body = ('{"from":"%s","type":"text","text":"keep-alive %d"}'
                        % (main.superadmin, i)).encode()
                conn.request("POST", "/pa/post", body, {"X-Viber-Auth-Token": main.token})
                r = conn.getresponse()
                data = r.read()
                self.assertEqual(r.status, 200, data)
                self.assertIn(b'"status":0', data.replace(b" ", b""))
        finally:
            conn.close()


def raw_exchange(data, timeout=5.0):
    """Sends data on a new connection, reads until the server closes or
    timeout.  Returns (seconds, status, headers dict (lowercase), body bytes,
    closed) -- status 0 when no answer came."""
    s = socket.create_connection(("127.0.0.1", SERVER.port), timeout=timeout)
    t0 = time.monotonic()
    got, closed = b"", False
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    finally:
        s.close()
    elapsed = time.monotonic() - t0
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0]) if lines else None
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return elapsed, int(m.group(1)) if m else 0, hdrs, body, closed


class HttpFraming(unittest.TestCase):
    """Framing a reverse proxy could read otherwise (issue 9): refused at the
    headers with a JSON answer, and the connection closed."""

    def post_head(self, extra):
        main = CHANNELS["main"]
        return (b"POST /pa/post HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Viber-Auth-Token: "
                + main.token.encode() + b"\r\n" + extra + b"\r\n")

    def body(self, text):
        return ('{"from":"%s","type":"text","text":"%s"}'
                % (CHANNELS["main"].superadmin, text)).encode()

    def posts_with(self, text):
        main = CHANNELS["main"]
        r = SERVER.request("GET", "/api/v1/channels/%s/posts?limit=100" % main.pa_id)
        self.assertEqual(r.status, 200, r.short())
        return [p for p in r.json["posts"] if text in p.get("message", p).get("text", "")]

    def assert_refused(self, req, status, detail, text=None):
        elapsed, got, hdrs, body, closed = raw_exchange(req)
        self.assertEqual(got, status, "expected %d, got %r after %.1f s" % (status, body, elapsed))
        self.assertLess(elapsed, 2.0, "answered only after %.1f s" % elapsed)
        self.assertTrue(closed, "connection left open after %d" % status)
        self.assertEqual(hdrs.get("connection", "").lower(), "close")
        self.assertEqual(hdrs.get("content-type"), "application/json")
        js = json.loads(body)
        self.assertIn("error", js)
        self.assertIn(detail, js.get("detail", ""))
        if text:
            self.assertEqual(self.posts_with(text), [], "the refused request was stored")

    def test_two_different_content_lengths_are_400(self):
        b = self.body("two lengths")
        self.assert_refused(
            self.post_head(b"Content-Length: %d\r\nContent-Length: 5\r\n" % len(b)) + b,
            400, "Content-Length: several, with different values", "two lengths")

    def test_content_length_with_transfer_encoding_is_400(self):
        b = self.body("length and chunked")
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(b), b)
        self.assert_refused(
            self.post_head(b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(b))
            + chunked, 400, "Content-Length and Transfer-Encoding", "length and chunked")
        self.assert_refused(
            self.post_head(b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n" % len(b))
            + chunked, 400, "Content-Length and Transfer-Encoding", "length and chunked")

    def test_unsupported_transfer_codings_are_501_at_once(self):
        for te in (b"gzip, chunked", b"identity", b"gzip", b"chunked, chunked"):
            b = self.body("coding " + te.decode())
            self.assert_refused(self.post_head(b"Transfer-Encoding: " + te + b"\r\n")
                                + b"%x\r\n%s\r\n0\r\n\r\n" % (len(b), b),
                                501, "Transfer-Encoding: only chunked is supported",
                                "coding " + te.decode())

    def test_two_transfer_encoding_headers_are_501(self):
        b = self.body("two codings")
        self.assert_refused(
            self.post_head(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")
            + b"%x\r\n%s\r\n0\r\n\r\n" % (len(b), b), 501, "only chunked", "two codings")

    def test_http11_without_host_is_400(self):
        self.assert_refused(b"GET /healthz HTTP/1.1\r\n\r\n", 400, "Host: required in HTTP/1.1")
        self.assert_refused(b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                            "Host: more than one")

    def test_white_space_in_a_header_name_is_400(self):
        # a proxy that trims "Transfer-Encoding :" would frame by chunks,
        # libmicrohttpd by the length
        b = self.body("spaced name")
        self.assert_refused(
            self.post_head(b"Content-Length: %d\r\nTransfer-Encoding : chunked\r\n" % len(b)) + b,
            400, "header name with white space", "spaced name")

    def test_http10_without_host_is_fine(self):
        _, got, _, body, _ = raw_exchange(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(got, 200, body)

    def test_identical_content_lengths_are_one(self):
        b = self.body("same length twice")
        _, got, _, body, _ = raw_exchange(
            self.post_head(b"Content-Length: %d\r\nContent-Length: %d\r\nConnection: close\r\n"
                           % (len(b), len(b))) + b)
        self.assertEqual(got, 200, body)
        self.assertEqual(json.loads(body)["status"], 0, body)
        self.assertEqual(len(self.posts_with("same length twice")), 1)

    def test_405_is_json_with_allow(self):
        for method, path, allow in (("GET", "/pa/post", "POST"),
                                    ("PUT", "/pa/get_account_info", "GET, HEAD, POST"),
                                    ("POST", "/healthz", "GET, HEAD"),
                                    ("DELETE", "/api/v1/channels", "GET, HEAD")):
            r = SERVER.request(method, path, body=b"{}" if method != "GET" else None)
            self.assertEqual(r.status, 405, r.short())
            self.assertEqual(r.headers.get("allow"), allow, "%s %s" % (method, path))
            self.assertEqual(r.json, {"error": "method not allowed"}, r.short())

    def test_head_answers_every_get_route(self):
        import http.client
        main = CHANNELS["main"]
        tok = [("X-Viber-Auth-Token", main.token)]
        paths = [("/healthz", []), ("/metrics", []), ("/openapi.yaml", []),
                 ("/pa/get_account_info", tok), ("/api/v1/channels", []),
                 ("/api/v1/channels/" + main.pa_id, []),
                 ("/api/v1/channels/%s/posts" % main.pa_id, []),
                 ("/api/v1/channels/%s/events" % main.pa_id, []), ("/", []),
                 ("/channels/" + main.pa_id, []), ("/assets/channel.js", []),
                 ("/api/v1/channels/pa:0", []), ("/admin/v1/channels", [])]
        for path, hdrs in paths:
            conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=5)
            try:
                conn.request("HEAD", path, headers=dict(hdrs))
                head = conn.getresponse()
                head.read()
                conn.close()
                if path.endswith("/events"):
                    get_status, get_type = 200, "text/event-stream; charset=utf-8"
                else:
                    g = SERVER.request("GET", path, hdrs)
                    get_status, get_type = g.status, g.headers.get("content-type")
                self.assertEqual(head.status, get_status, "HEAD %s" % path)
                self.assertNotEqual(head.status, 405, "HEAD %s" % path)
                self.assertEqual(head.getheader("Content-Type"), get_type, "HEAD %s" % path)
            finally:
                conn.close()
        # and nothing follows the headers: a second request on the same
        # connection is read as a request, not as the first one's body
        elapsed, got, hdrs, body, _ = raw_exchange(
            b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n")
        self.assertEqual(got, 200)
        self.assertTrue(body.startswith(b"HTTP/1.1 200"), body[:200])
        self.assertTrue(body.endswith(b'{"status":"ok"}'), body[-200:])

    def test_error_answers_of_libmicrohttpd(self):
        # 414, 431, 505 and a malformed Content-Length are answered by
        # libmicrohttpd 0.9.75 itself, before vcpd sees the request, with
        # its built-in HTML pages (docs/API.md §2 says so and why).  What
        # must hold: the status, and the connection closed.
        for req, status in ((b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
                            (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000
                             + b"\r\n\r\n", 431),
                            (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505),
                            (self.post_head(b"Content-Length: 12abc\r\n") + b"{}", 400)):
            elapsed, got, _, body, closed = raw_exchange(req)
            self.assertEqual(got, status, body[:200])
            self.assertTrue(closed)
            self.assertLess(elapsed, 2.0)


class ZzLogs(unittest.TestCase):
    """Runs last (class order is by name): stops vcpd so its logs are
    flushed, then checks them."""

    def test_tokens_never_logged(self):
        SERVER.stop_checked()
        with open(SERVER.access_path, "rb") as f:
            access = f.read().decode("utf-8", "replace")
        with open(SERVER.stderr_path, "rb") as f:
            stderr = f.read().decode("utf-8", "replace")
        lines = access.splitlines()
        self.assertGreaterEqual(len(lines), len(CASES), "access log has fewer lines than requests")
        self.assertTrue(any(" /pa/post " in ln and CHANNELS["main"].pa_id in ln for ln in lines),
                        "access log lines name neither path nor channel")
        self.assertFalse(any("min_api_version" in ln for ln in lines), "query string logged")
        for name, ch in CHANNELS.items():
            self.assertNotIn(ch.token, access, "token of %s in the access log" % name)
            self.assertNotIn(ch.token, stderr, "token of %s on stderr" % name)


if __name__ == "__main__":
    vcptest.main()
