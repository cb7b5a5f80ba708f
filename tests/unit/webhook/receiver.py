#!/usr/bin/env python3
"""Webhook receivers for the live webhook check test (test_webhook_check.c).

Usage: receiver.py TEST_BINARY [ARGS...]

Makes a throw-away CA and server certificates for this run with the openssl
command-line tool, starts HTTPS (and one plain HTTP) receivers on ephemeral
127.0.0.1 ports, runs TEST_BINARY with their coordinates in the environment,
and exits with its status.  Nothing listens on or connects to any address but
127.0.0.1.

Receivers (all on 127.0.0.1, port 0 -> ephemeral):
  GOOD       cert for IP:127.0.0.1 + DNS:localhost signed by the test CA
  WRONGNAME  cert for DNS:wrong.example signed by the test CA
  SELFSIGNED self-signed cert for IP:127.0.0.1 + DNS:localhost
  HTTP       plain http

Paths (POST only; anything else answers 405):
  /verify?id=X   200 when header X-Viber-Content-Signature == query sig ==
                 HMAC-SHA256(TOKEN, raw body), Content-Type is
                 application/json, the User-Agent is vcpd's and the body is
                 the webhook event; else 403.  Writes X.body (raw), X.qsig and
                 X.hsig into the test directory either way.
  /status/N      answers HTTP N (3xx with a Location pointing at /ok)
  /slow/MS[?group=G]  answers 200 after MS ms; G.max in the test directory
                 holds the most requests of group G seen at once
  /big           200 with a 1 MiB body
  /ok            200
  /raw/NAME      misbehaves after reading the request (RAW_ANSWERS): bytes
                 that are not HTTP, a broken header, a body cut short, a
                 close without a word, a reset
Plus two plain-TCP listeners that never speak HTTP or TLS:
  CLOSER         accepts and closes at once, reading nothing
  GARBAGE        accepts, writes a line of text and closes
The receivers keep connections alive; the file "connections" in the test
directory counts the TCP connections accepted so far.
"""
import hashlib
import hmac
import http.server
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

TOKEN = "tok-4f2a9c-SECRET-must-never-appear-in-a-detail"

CA_CNF = """
[req]
distinguished_name = dn
prompt = no
[dn]
CN = vcp webhook test CA
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

LEAF_CNF = """
[req]
distinguished_name = dn
prompt = no
[dn]
CN = {cn}
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {san}
"""


def openssl(d, *args):
    r = subprocess.run(["openssl", *args], cwd=d, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("openssl %s failed: %s" % (args[0], r.stderr))


def write(d, name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def make_certs(d):
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    write(d, "ca.cnf", CA_CNF)
    openssl(d, "req", "-x509", "-config", "ca.cnf", "-extensions", "ca_ext", *key,
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2")
    leaves = [("good", "127.0.0.1", "IP:127.0.0.1,DNS:localhost"),
              ("wrong", "wrong.example", "DNS:wrong.example")]
    for serial, (name, cn, san) in enumerate(leaves, start=2):
        write(d, name + ".cnf", LEAF_CNF.format(cn=cn, san=san))
        openssl(d, "req", "-new", "-config", name + ".cnf", *key,
                "-keyout", name + ".key", "-out", name + ".csr")
        openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-set_serial", str(serial), "-days", "2", "-extfile", name + ".cnf",
                "-extensions", "leaf_ext", "-out", name + ".pem")
    write(d, "self.cnf", LEAF_CNF.format(cn="127.0.0.1", san="IP:127.0.0.1,DNS:localhost"))
    openssl(d, "req", "-x509", "-config", "self.cnf", "-extensions", "leaf_ext", *key,
            "-keyout", "self.key", "-out", "self.pem", "-days", "2")


class Groups:
    """Concurrency per /slow group, to show max_parallel holds."""

    def __init__(self, d):
        self.d, self.lock, self.now, self.max = d, threading.Lock(), {}, {}
        self.connections = 0

    def connected(self):
        with self.lock:
            self.connections += 1
            write(self.d, "connections", str(self.connections))

    def enter(self, g):
        with self.lock:
            self.now[g] = self.now.get(g, 0) + 1
            self.max[g] = max(self.max.get(g, 0), self.now[g])
            write(self.d, g + ".max", str(self.max[g]))

    def leave(self, g):
        with self.lock:
            self.now[g] -= 1


# /raw/NAME: what is written instead of an HTTP answer (None: nothing), and
# whether the connection is then reset rather than closed.
RAW_ANSWERS = {
    "garbage": (b"SSH-2.0-OpenSSH_9.2 not an HTTP server\r\n", False),
    "badheader": (b"HTTP/1.1 200 OK\r\nthis line is no header\r\n\r\n", False),
    "short": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part", False),
    "close": (None, False),
    "reset": (None, True),
}


class Handler(http.server.BaseHTTPRequestHandler):
    # Keep-alive on our side, so only the checker's own settings keep it
    # from reusing a connection (the "connections" file shows it doesn't).
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body=b"", headers=()):
        try:
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(0, len(body), 65536):
                self.wfile.write(body[i:i + 65536])
        except OSError:
            pass  # the checker hung up (timeout, size limit): expected

    def do_GET(self):
        self.answer(405)

    def verify(self, query, body):
        d = self.server.test_dir
        rid = query.get("id", ["noid"])[0]
        qsig = query.get("sig", [""])[0]
        hsig = self.headers.get("X-Viber-Content-Signature", "")
        with open(os.path.join(d, rid + ".body"), "wb") as f:
            f.write(body)
        write(d, rid + ".qsig", qsig)
        write(d, rid + ".hsig", hsig)
        want = hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
        problems = []
        if len(query.get("sig", [])) != 1:
            problems.append("sig query parameter missing or repeated")
        if not hmac.compare_digest(qsig, want):
            problems.append("query sig wrong")
        if not hmac.compare_digest(hsig, want):
            problems.append("header signature wrong")
        if self.headers.get("Content-Type") != "application/json":
            problems.append("content type")
        if not self.headers.get("User-Agent", "").startswith("vcpd/"):
            problems.append("user agent")
        try:
            ev = json.loads(body)
            if ev.get("event") != "webhook" or not isinstance(ev.get("timestamp"), int):
                problems.append("event fields")
        except ValueError:
            problems.append("body is not JSON")
        if problems:
            self.answer(403, "; ".join(problems).encode())
        else:
            self.answer(200)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = url.path.strip("/").split("/")
        if parts[0] == "verify":
            self.verify(query, body)
        elif parts[0] == "status" and len(parts) == 2:
            code = int(parts[1])
            loc = [("Location", "/ok")] if 300 <= code < 400 else []
            self.answer(code, headers=loc)
        elif parts[0] == "slow" and len(parts) == 2:
            group = query.get("group", [None])[0]
            if group:
                self.server.groups.enter(group)
            time.sleep(int(parts[1]) / 1000.0)
            if group:
                self.server.groups.leave(group)
            self.answer(200)
        elif parts[0] == "big":
            self.answer(200, b"x" * (1 << 20))
        elif parts[0] == "ok":
            self.answer(200)
        elif parts[0] == "raw" and len(parts) == 2 and parts[1] in RAW_ANSWERS:
            data, reset = RAW_ANSWERS[parts[1]]
            if data:
                self.wfile.write(data)
                self.wfile.flush()
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            self.close_connection = True
        else:
            self.answer(404)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 50 checks connect at once

    def __init__(self, ctx, test_dir, groups):
        self.ctx, self.test_dir, self.groups = ctx, test_dir, groups
        super().__init__(("127.0.0.1", 0), Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, on the request's own thread, so a
        # client that fails verification cannot stall the accept loop.
        request.settimeout(15)
        self.groups.connected()
        if self.ctx is None:
            return super().finish_request(request, client_address)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except OSError:
            return  # the checker refused our certificate: expected
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        pass  # clients hang up on purpose in several cases


def raw_listener(d, groups, greeting):
    """A TCP listener that answers every connection with greeting (b"":
    nothing) and closes it, without reading: no HTTP, no TLS."""
    ls = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return  # closed at the end of the run
            groups.connected()
            try:
                if greeting:
                    c.sendall(greeting)
            except OSError:
                pass
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return ls


def tls_ctx(d, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, name + ".pem"), os.path.join(d, name + ".key"))
    return ctx


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: receiver.py TEST_BINARY [ARGS...]")
    with tempfile.TemporaryDirectory(prefix="vcp-webhook-") as d:
        make_certs(d)
        groups = Groups(d)
        servers = {
            "GOOD": Server(tls_ctx(d, "good"), d, groups),
            "WRONGNAME": Server(tls_ctx(d, "wrong"), d, groups),
            "SELFSIGNED": Server(tls_ctx(d, "self"), d, groups),
            "HTTP": Server(None, d, groups),
        }
        for s in servers.values():
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                             daemon=True).start()
        env = dict(os.environ, WEBHOOK_TEST_DIR=d, WEBHOOK_TOKEN=TOKEN)
        for name, s in servers.items():
            env["WEBHOOK_PORT_" + name] = str(s.server_address[1])
        raw = {"CLOSER": raw_listener(d, groups, b""),
               "GARBAGE": raw_listener(d, groups, b"220 smtp.example ESMTP not HTTP\r\n")}
        for name, ls in raw.items():
            env["WEBHOOK_PORT_" + name] = str(ls.getsockname()[1])
        # Proxies that lead nowhere: the checker must ignore the environment.
        for var in ("http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            env[var] = "http://127.0.0.1:9"
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        rc = subprocess.run(sys.argv[1:], env=env).returncode
        for s in servers.values():
            s.shutdown()
            s.server_close()
        for ls in raw.values():
            ls.close()
    sys.exit(rc)


if __name__ == "__main__":
    main()
