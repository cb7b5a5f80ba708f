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
