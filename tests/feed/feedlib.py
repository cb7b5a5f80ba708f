"""Helpers of the feed tests: a vcpd on 127.0.0.1:0 with one channel, a
small HTTP client and a Server-Sent Events client over raw sockets.

Python 3 standard library only; every connection goes to 127.0.0.1.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest


def read(path):
    with open(path) as f:
        return f.read()


def database(directory):
    """A SQLite file in directory, or with VCP_TEST_BACKEND=postgresql a new
    database of the run's PostgreSQL cluster (tests/e2e/vcptest.py's rule)."""
    if os.environ.get("VCP_TEST_BACKEND", "sqlite") == "sqlite":
        return os.path.join(directory, "vcpd.db")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
    import vcptest
    return vcptest.new_database(directory)


class Vcpd:
    """One vcpd process on its own temporary database."""

    def __init__(self, binary, env=None, extra=()):
        self.bin = binary
        self.dir = tempfile.mkdtemp(prefix="vcp-feed-")
        self.db = database(self.dir)
        self.port_file = os.path.join(self.dir, "port")
        self.log = os.path.join(self.dir, "access.log")
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--port-file", self.port_file,
             "--db", self.db, "--sandbox", "--access-log", self.log] + list(extra),
            stdout=self.err, stderr=self.err, env=e)
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(self.port_file) and read(self.port_file).strip():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("vcpd exited: " + self.stderr())
            time.sleep(0.02)
        else:
            raise RuntimeError("vcpd did not start: " + self.stderr())
        self.port = int(read(self.port_file).strip())

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(os.path.join(self.dir, "stderr"), "rb") as f:
            return f.read().decode(errors="replace")

    def cli(self, *args):
        out = subprocess.run([self.bin, *args, "--db", self.db], check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out) if "--json" in args else out

    def channel(self, name="Feed test", rate="off"):
        """Creates a channel that may post: (pa_id, token, superadmin id)."""
        c = self.cli("channel", "create", "--name", name, "--rate", rate, "--json")
        pa_id = c["channel"]["id"]
        self.cli("channel", "set-webhook", pa_id,
                 "http://127.0.0.1:%d/sandbox/webhook" % self.port)
        return pa_id, c["token"], c["superadmin"]["id"]

    def request(self, method, path, body=None, headers=None):
        """(status, headers dict (lower-case), body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def get_json(self, path):
        status, _, body = self.request("GET", path)
        return status, (json.loads(body) if body else None)

    def post(self, token, msg):
        status, _, body = self.request("POST", "/pa/post",
                                       json.dumps(msg, ensure_ascii=False).encode(),
                                       {"X-Viber-Auth-Token": token})
        js = json.loads(body)
        if status != 200 or js["status"] != 0:
            raise AssertionError("post failed: %r" % js)
        return js["message_token"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        return self.proc.returncode

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Sse:
    """A Server-Sent Events client on a raw socket (the format by hand, so a
    test sees exactly what vcpd sends)."""

    def __init__(self, port, path, last_event_id=None, timeout=10, source=None, sock=None):
        """source: the local address to connect from; sock: an open
        connection to ask on (a kept-alive one) instead of a new one."""
        self.sock = sock or socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0) if source else None)
        hdr = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n" % (path, port)
        if last_event_id is not None:
            hdr += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((hdr + "\r\n").encode())
        self.buf = b""
        self.closed = False
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise AssertionError("stream closed before its head: %r" % self.buf)
        head, self.raw = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        self.buf = b""
        self._decode()

    def _decode(self):
        """Moves what has arrived of the body from raw to buf, taking the
        chunked framing off (strictly: a malformed chunk fails the test)."""
        if not self.chunked:
            self.buf += self.raw
            self.raw = b""
            return
        while b"\r\n" in self.raw:
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            if rest[size:size + 2] != b"\r\n":
                raise AssertionError("bad chunk framing: %r" % self.raw[:80])
            if size == 0:
                self.ended = True
            self.buf += rest[:size]
            self.raw = rest[size + 2:]

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise
        if not data:
            self.closed = True
            return False
        if hasattr(self, "raw"):
            self.raw += data
            self._decode()
        else:
            self.buf += data
        return True

    def next(self, timeout=5.0):
        """The next event as a dict (id, event, data, comments), or None when
        the server closed the stream."""
        self.sock.settimeout(timeout)
        while b"\n\n" not in self.buf:
            if not self._fill():
                return None
        block, self.buf = self.buf.split(b"\n\n", 1)
        ev = {"comments": [], "data": None, "id": None, "event": None, "retry": None}
        data = []
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                ev["comments"].append(line[1:].strip())
                continue
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "data":
                data.append(v)
            elif k in ("id", "event", "retry"):
                ev[k] = v
        if data:
            ev["data"] = "\n".join(data)
        return ev

    def next_post(self, timeout=5.0):
        """The next post event (skipping heartbeats and retry), or None at the end."""
        while True:
            ev = self.next(timeout)
            if ev is None or ev["event"] == "post":
                return ev

    def close(self):
        self.sock.close()


class ChannelCase(unittest.TestCase):
    """A test with its own vcpd (heartbeats every 300 ms, `extra` options)
    and one channel that may post.  Set ok when the test got to its end:
    otherwise tearDown prints vcpd's stderr.  vcpd must exit cleanly."""
    binary = None  # PATH/TO/vcpd, set by the test program
    extra = ()

    def setUp(self):
        self.v = Vcpd(self.binary, env={"VCPD_SSE_PING_MS": "300"}, extra=self.extra)
        self.pa, self.tok, self.sa = self.v.channel()
        self.base = "/api/v1/channels/" + self.pa
        self.ok = False

    def tearDown(self):
        rc = self.v.stop()
        if not self.ok or rc != 0:
            sys.stderr.write("\n--- vcpd stderr (exit %s) ---\n%s\n" % (rc, self.v.stderr()))
        self.v.cleanup()
        self.assertEqual(rc, 0, "vcpd did not exit cleanly")

    def post(self, msg):
        m = dict(msg)
        m["from"] = self.sa
        return self.v.post(self.tok, m)
