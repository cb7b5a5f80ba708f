"""The end-to-end test harness of vcp: a real vcpd on 127.0.0.1, real sockets.

Everything here is Python 3 standard library.  The pieces:

  vcpd_bin()      where the vcpd binary is: argv[1] (CTest passes
                  $<TARGET_FILE:vcpd>), else $VCPD_BIN, else build*/ of the repo
  Vcpd            one server process: its own temp dir and database, started on
                  port 0 (the port is read from --port-file), stopped, killed
                  with SIGKILL, restarted on the same database; stderr and the
                  access log go to files that main() prints when a test fails
  Vcpd.cli()      the offline administration commands (`vcpd channel ...`)
                  with --json parsed
  Vcpd.api()      one request to the Channels Post API; returns Resp, a tuple
                  (http_status, json) with .raw and .headers
  http_request()  the HTTP client under api(): it stops sending a body as soon
                  as the server answers (413 before the body is read)
  make_ca()       a CA for the test run made with the openssl CLI, a server
                  certificate it signs for 127.0.0.1/::1/localhost, a
                  self-signed one and one for the wrong host
  HttpsReceiver   a webhook receiver (http.server + ssl) on 127.0.0.1:0 that
                  records every callback and checks its signatures
  parse_cases()   the wire case files (tests/e2e/wire/*.txt; format in
                  wire/README.md), expand() and check_case() to run them
  main()          unittest.main that keeps and prints the logs on failure
  BACKEND         the database every Vcpd gets: "sqlite" (a file in its temp
                  dir), or "postgresql" when VCP_TEST_BACKEND=postgresql -- a
                  new database in the run's throwaway cluster (pgcluster.py,
                  located by VCP_PG_STATE); new_database() makes one, query()
                  reads what a test's vcpd stored in it

Safety: every connection made here goes to 127.0.0.1 (assert_loopback), and
vcpd is only ever asked to call webhooks on loopback addresses.
"""

import glob
import hashlib
import hmac
import http.client
import http.server
import ipaddress
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import socketserver
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# The wire names of the status codes (include/vcp/status.h).
STATUS_NAMES = {
    0: "ok",
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    7: "publicAccountBlocked",
    8: "publicAccountNotFound",
    9: "publicAccountSuspended",
    10: "webhookNotSet",
    12: "tooManyRequests",
    99: "generalError",
}

# The seed's event_types list, answered by set_webhook and get_account_info.
EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed",
               "conversation_started"]

# Which database backend the started servers use (see BACKEND above).
BACKEND = os.environ.get("VCP_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgresql"):
    raise SystemExit("VCP_TEST_BACKEND must be sqlite or postgresql, not %r" % BACKEND)

_VCPD = None
_INSTANCES = []  # every Vcpd made, for the failure report
_TEMP_DIRS = []  # removed at exit when every test passed


class HarnessError(Exception):
    """The harness could not do what a test asked (not a test failure)."""


# ---------------------------------------------------------------------------
# Finding vcpd

def vcpd_bin():
    """The vcpd binary: argv[1] (taken out of sys.argv by main), $VCPD_BIN, or
    the newest build*/src/server/vcpd under the repository."""
    global _VCPD
    if _VCPD:
        return _VCPD
    cand = os.environ.get("VCPD_BIN")
    if not cand:
        found = [p for p in glob.glob(os.path.join(REPO, "build*", "src", "server", "vcpd"))
                 if os.access(p, os.X_OK)]
        if found:
            cand = max(found, key=os.path.getmtime)
    if not cand or not os.access(cand, os.X_OK):
        raise HarnessError("vcpd not found: pass its path as the first argument or set VCPD_BIN")
    _VCPD = os.path.abspath(cand)
    return _VCPD


def take_vcpd_arg():
    """Takes a vcpd path given as argv[1] out of sys.argv (unittest must not
    see it)."""
    global _VCPD
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-") and os.path.isfile(sys.argv[1]):
        _VCPD = os.path.abspath(sys.argv.pop(1))


def make_temp_dir(prefix):
    d = tempfile.mkdtemp(prefix="vcp-e2e-" + prefix + "-")
    _TEMP_DIRS.append(d)
    return d


def assert_loopback(host):
    """Refuses any address outside 127.0.0.0/8 and ::1 (and names other than
    localhost): the tests talk to nothing else."""
    if host == "localhost":
        return
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise HarnessError("refusing non-loopback host %r" % host)
    if not ip.is_loopback:
        raise HarnessError("refusing non-loopback address %r" % host)


# ---------------------------------------------------------------------------
# HTTP client

class Resp(tuple):
    """(http_status, json) with the raw body and the headers as attributes.
    json is None when the body is not JSON."""

    def __new__(cls, status, js, raw=b"", headers=None, elapsed=0.0):
        self = tuple.__new__(cls, (status, js))
        self.status = status
        self.json = js
        self.raw = raw
        self.headers = headers or {}
        self.elapsed = elapsed
        return self

    def short(self, limit=600):
        body = self.raw.decode("utf-8", "replace")
        if len(body) > limit:
            body = body[:limit] + "...(%d bytes)" % len(self.raw)
        return "HTTP %s %s" % (self.status, body)


def http_request(port, method, path, headers=(), body=None, timeout=10.0, host="127.0.0.1"):
    """One HTTP/1.1 request on a new connection.  headers: (name, value) pairs;
    body: bytes or None (no body, no Content-Length).  The body is sent in
    chunks, and sending stops as soon as the server has answered, so an early
    413 is read rather than lost to a broken pipe.  Returns a Resp."""
    assert_loopback(host)
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        names = set()
        for k, v in headers:
            names.add(k.lower())
            conn.putheader(k, v)
        if body is not None and "content-length" not in names and "transfer-encoding" not in names:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            view = memoryview(body)
            try:
                for off in range(0, len(body), 65536):
                    r, _, _ = select.select([conn.sock], [], [], 0)
                    if r:
                        break  # the server answered (or closed) early
                    conn.sock.sendall(view[off:off + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
        resp = conn.getresponse()
        try:
            raw = resp.read()
        except (http.client.IncompleteRead, ConnectionResetError) as e:
            raw = getattr(e, "partial", b"") or b""
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        try:
            js = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            js = None
        return Resp(resp.status, js, raw, hdrs, time.monotonic() - t0)
    finally:
        conn.close()


def encode_body(body):
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------
# vcpd processes

class CliError(Exception):
    pass


def new_database(directory, name="vcp.db"):
    """A database for a new vcpd: a file path in directory on SQLite, a fresh
    database of the run's PostgreSQL cluster (its DSN) on PostgreSQL."""
    if BACKEND == "sqlite":
        return os.path.join(directory, name)
    sys.path.insert(0, HERE)
    import pgcluster
    cluster = pgcluster.shared()
    if cluster is None:
        raise HarnessError("VCP_TEST_BACKEND=postgresql needs VCP_PG_STATE, the state directory "
                           "of a cluster started with tests/e2e/pgcluster.py start")
    return cluster.createdb()


def sql_literal(text):
    """text as an SQL string literal, the same on both backends."""
    return "'" + text.replace("'", "''") + "'"


def query(db, sql):
    """The rows of one read-only query on a test database of either backend, as a list of
    tuples: through a read-only connection to the SQLite file, or through psql on
    PostgreSQL, the rows coming back as JSON so that integers and text keep their types
    there too (the columns need distinct names; quote values with sql_literal)."""
    if BACKEND == "sqlite":
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    sys.path.insert(0, HERE)
    import pgcluster
    text = pgcluster.shared().psql("SELECT coalesce(json_agg(to_json(q)), '[]') FROM (%s) q" % sql,
                                   dbname=db.rsplit("/", 1)[1])
    return [tuple(row.values()) for row in json.loads(text)]


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ThreadSanitizer", "AddressSanitizer:DEADLYSIGNAL")


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCPD_")}
    env.update(extra or {})
    return env


class Vcpd:
    """One vcpd: `Vcpd("--sandbox", ...)` makes its temp dir and database
    path; start() runs `vcpd serve` on 127.0.0.1:0 and waits for the port
    file.  The database stays across stop()/kill9()/start()."""

    def __init__(self, *flags, name="vcpd", env=None, admin_key=None, db=None):
        self.name = name
        self.dir = make_temp_dir(name)
        self.db = db or new_database(self.dir)  # db: a DSN of the caller's choosing
        self.flags = list(flags)
        if admin_key:
            self.flags += ["--admin-key", admin_key]
        self.admin_key = admin_key
        self.env = dict(env or {})
        self.proc = None
        self.port = None
        self.starts = 0
        self.logs = []  # files worth printing on failure
        _INSTANCES.append(self)

    # -- lifecycle --

    def start(self, timeout=20.0):
        if self.proc is not None and self.proc.poll() is None:
            raise HarnessError("vcpd already running")
        self.starts += 1
        n = self.starts
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.stderr_path = os.path.join(self.dir, "stderr.%d.log" % n)
        self.access_path = os.path.join(self.dir, "access.%d.log" % n)
        self.logs += [self.stderr_path, self.access_path]
        cmd = [vcpd_bin(), "serve", "--listen", "127.0.0.1:0", "--db", self.db,
               "--port-file", port_file, "--access-log", self.access_path] + self.flags
        self.cmd = cmd
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=clean_env(self.env), cwd=self.dir)
        deadline = time.monotonic() + timeout
        port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError("vcpd exited with %s before listening: %s\n%s" % (
                    self.proc.returncode, " ".join(cmd), self.tail(self.stderr_path)))
            try:
                with open(port_file) as f:
                    text = f.read().strip()
                if text.isdigit() and 0 < int(text) < 65536:
                    port = int(text)
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        if port is None:
            self.kill9()
            raise HarnessError("vcpd wrote no port file within %.0f s: %s\n%s" % (
                timeout, " ".join(cmd), self.tail(self.stderr_path)))
        self.port = port
        # The contract says the file is written once listening: one connect proves it.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM and wait; SIGKILL if it does not exit in time (and then
        raises).  Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("vcpd did not exit within %.0f s of SIGTERM" % timeout)
        return self.proc.returncode

    def stop_checked(self):
        """stop(), then fail on a crash or a sanitizer report in stderr."""
        if self.proc is None:
            return
        rc = self.stop()
        self.check_stderr()
        if rc not in (0, -signal.SIGTERM):
            raise AssertionError("vcpd exited with status %s on SIGTERM\n%s" % (
                rc, self.tail(self.stderr_path)))

    def check_stderr(self):
        for path in self.logs:
            if path.endswith(".log") and "stderr" in os.path.basename(path) and os.path.exists(path):
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
                for mark in SANITIZER_MARKS:
                    if mark in text:
                        raise AssertionError("sanitizer report in %s:\n%s" % (path, self.tail(path, 60)))

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    # -- logs --

    @staticmethod
    def tail(path, lines=40):
        try:
            with open(path, "rb") as f:
                data = f.read().decode("utf-8", "replace").splitlines()
        except OSError as e:
            return "(%s)" % e
        if len(data) > lines:
            data = ["... (%d lines before)" % (len(data) - lines)] + data[-lines:]
        return "\n".join(data)

    def report(self, lines=80):
        out = ["=== vcpd %r: %s (dir %s)" % (self.name, " ".join(getattr(self, "cmd", [])), self.dir)]
        for path in self.logs:
            if os.path.exists(path):
                out.append("--- %s" % path)
                out.append(self.tail(path, lines))
        return "\n".join(out)

    # -- offline administration --

    def cli(self, *args, json_out=True, check=True, timeout=30.0):
        """Runs `vcpd ARGS --db DB [--json]`.  Returns the parsed JSON (or the
        stdout text when json_out is false).  check: raise CliError on a
        non-zero exit; with check=False returns the CompletedProcess."""
        cmd = [vcpd_bin()] + [str(a) for a in args] + ["--db", self.db]
        if json_out:
            cmd.append("--json")
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=clean_env(),
                           cwd=self.dir)
        if not check:
            p.stdout_text = p.stdout.decode("utf-8", "replace")
            p.stderr_text = p.stderr.decode("utf-8", "replace")
            return p
        if p.returncode != 0:
            raise CliError("%s -> exit %d\nstdout: %s\nstderr: %s" % (
                " ".join(cmd), p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace")))
        text = p.stdout.decode("utf-8")
        if not json_out:
            return text
        try:
            return json.loads(text)
        except ValueError:
            raise CliError("%s printed no JSON: %r\nstderr: %s" % (
                " ".join(cmd), text[:500], p.stderr.decode("utf-8", "replace")))

    def create_channel(self, name, superadmin="Owner", webhook=None, rate=None, state=None,
                       members=()):
        """channel create (+ set-webhook, set-rate, state change, member add)
        offline; returns a Channel."""
        args = ["channel", "create", "--name", name, "--superadmin", superadmin]
        if rate is not None:
            args += ["--rate", rate]
        out = self.cli(*args)
        ch = Channel(out)
        if webhook:
            self.cli("channel", "set-webhook", ch.pa_id, webhook)
            ch.webhook = webhook
        for role, mid, mname in members:
            m = self.cli("member", "add", ch.pa_id, "--name", mname, "--role", role, "--id", mid)
            ch.members.append(m["member"])
        if state and state != "active":
            verb = {"blocked": "block", "suspended": "suspend", "deleted": "delete"}[state]
            self.cli("channel", verb, ch.pa_id)
        return ch

    # -- HTTP --

    def request(self, method, path, headers=(), body=None, timeout=10.0):
        if not self.running():
            raise HarnessError("vcpd is not running")
        return http_request(self.port, method, path, headers, body, timeout)

    def api(self, path, body=None, token=None, where="header", method="POST", headers=(),
            timeout=10.0):
        """An API request.  body: dict (JSON-encoded; POST with no body sends
        {}), str or bytes (sent as is).  token goes in X-Viber-Auth-Token
        (where='header'), in the body's auth_token ('body') or both."""
        hdrs = list(headers)
        if where not in ("header", "body", "both"):
            raise ValueError(where)
        if token is not None and where in ("body", "both"):
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise ValueError("token in the body needs a dict body")
            body = dict(body, auth_token=token)
        if token is not None and where in ("header", "both"):
            hdrs.append(("X-Viber-Auth-Token", token))
        if body is None and method == "POST":
            body = {}
        return self.request(method, path, hdrs, encode_body(body), timeout)

    def post(self, token, msg, **kw):
        return self.api("/pa/post", msg, token=token, **kw)

    def admin(self, method, path, body=None, key=None, timeout=10.0):
        """An admin API request with `Authorization: Bearer KEY` (key None:
        this instance's admin key; key "": no header)."""
        key = self.admin_key if key is None else key
        hdrs = [("Authorization", "Bearer " + key)] if key else []
        if body is not None:
            hdrs.append(("Content-Type", "application/json"))
        return self.request(method, path, hdrs, encode_body(body), timeout)


class Channel:
    """A channel as `channel create --json` printed it."""

    def __init__(self, created):
        c = created["channel"]
        self.raw = created
        self.pa_id = c["id"]
        self.name = c["name"]
        self.token = created["token"]
        self.superadmin = created["superadmin"]["id"]
        self.superadmin_name = created["superadmin"]["name"]
        self.webhook = c.get("webhook") or ""
        self.members = [created["superadmin"]]

    def text(self, text="hello"):
        return {"from": self.superadmin, "type": "text", "text": text}


# ---------------------------------------------------------------------------
# Certificates

def _openssl(*args, cwd=None):
    p = subprocess.run(["openssl"] + list(args), capture_output=True, cwd=cwd)
    if p.returncode != 0:
        raise HarnessError("openssl %s failed:\n%s" % (" ".join(args), p.stderr.decode(errors="replace")))


_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def make_ca(d):
    """Makes, under directory d: a CA (ca.pem, ca.key); server.pem/.key signed
    by it for 127.0.0.1, ::1 and localhost; selfsigned.pem/.key (the same
    names, signed by itself); wronghost.pem/.key (signed by the CA, for
    wrong-host.invalid only).  Returns a namespace of the paths."""
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)  # noqa: E731
    _openssl("req", "-x509", *_EC_KEY, "-keyout", p("ca.key"), "-out", p("ca.pem"),
             "-days", "3", "-sha256", "-subj", "/O=vcp e2e/CN=vcp e2e test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def leaf(base, cn, sans):
        ext = p(base + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n"
                    "subjectAltName=%s\n" % sans)
        _openssl("req", "-new", *_EC_KEY, "-keyout", p(base + ".key"), "-out", p(base + ".csr"),
                 "-subj", "/O=vcp e2e/CN=" + cn)
        _openssl("x509", "-req", "-in", p(base + ".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                 "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "3",
                 "-sha256", "-extfile", ext, "-out", p(base + ".pem"))

    leaf("server", "127.0.0.1", "IP:127.0.0.1,IP:::1,DNS:localhost")
    leaf("wronghost", "wrong-host.invalid", "DNS:wrong-host.invalid")
    _openssl("req", "-x509", *_EC_KEY, "-keyout", p("selfsigned.key"), "-out", p("selfsigned.pem"),
             "-days", "3", "-sha256", "-subj", "/O=vcp e2e/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
             "-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "extendedKeyUsage=serverAuth")
    return SimpleNamespace(
        dir=d, ca=p("ca.pem"), ca_key=p("ca.key"),
        server=(p("server.pem"), p("server.key")),
        selfsigned=(p("selfsigned.pem"), p("selfsigned.key")),
        wronghost=(p("wronghost.pem"), p("wronghost.key")))


# ---------------------------------------------------------------------------
# Webhook receiver

def sign(key, body):
    """Viber's callback signature: lowercase hex HMAC-SHA256 of body keyed by
    the channel's token."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    return hmac.new(key, body, hashlib.sha256).hexdigest()


class Callback(SimpleNamespace):
    """One request the receiver got: method, path, query (dict of lists),
    headers (lowercased names), body (bytes), json, sig_header, sig_query,
    sig_expected (None when the receiver has no token), sig_ok."""


class HttpsReceiver:
    """A webhook on https://127.0.0.1:PORT with the given certificate.

    status   the HTTP status answered (an int, or a function of the Callback)
    delay    seconds to wait before answering (release() ends the wait early)
    token    the key for checking signatures; with require_sig a bad or
             missing signature is answered 403 whatever status says
    Redirects (3xx) carry Location: https://127.0.0.1:PORT/redirected, a path
    answered 200, so following the redirect would be visible.

    requests: every Callback; tls_errors: handshakes that failed (what
    vcpd's TLS verification does to a bad certificate); connections: TCP
    connections accepted."""

    def __init__(self, cert, token=None, status=200, delay=0.0, require_sig=False):
        certfile, keyfile = cert
        self.token = token
        self.status = status
        self.delay = delay
        self.require_sig = require_sig
        self.requests = []
        self.tls_errors = []
        self.connections = 0
        self.cond = threading.Condition()
        self._release = threading.Event()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                receiver._handle(self)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def finish_request(self, request, client_address):
                # The handshake runs here, on the connection's own thread, so
                # a client that stalls it blocks nobody else.
                with receiver.cond:
                    receiver.connections += 1
                    receiver.cond.notify_all()
                request.settimeout(15)
                try:
                    tls = ctx.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    with receiver.cond:
                        receiver.tls_errors.append(repr(e))
                        receiver.cond.notify_all()
                    request.close()
                    return
                try:
                    Handler(tls, client_address, self)
                except OSError:
                    pass
                finally:
                    try:
                        tls.close()
                    except OSError:
                        pass

            def handle_error(self, request, client_address):
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path="/viber/webhook", host="127.0.0.1"):
        return "https://%s:%d%s" % (host, self.port, path)

    def _handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    h.rfile.readline()
                    break
                body += h.rfile.read(size)
                h.rfile.readline()
        else:
            body = h.rfile.read(n) if n else b""
        parts = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        try:
            js = json.loads(body.decode("utf-8"))
        except ValueError:
            js = None
        sig_header = h.headers.get("X-Viber-Content-Signature")
        sig_query = (query.get("sig") or [None])[-1]
        expected = sign(self.token, body) if self.token else None
        cb = Callback(method=h.command, path=parts.path, query=query,
                      headers={k.lower(): v for k, v in h.headers.items()}, body=body, json=js,
                      sig_header=sig_header, sig_query=sig_query, sig_expected=expected,
                      sig_ok=(expected is not None and sig_header == expected
                              and sig_query == expected),
                      time=time.monotonic())
        with self.cond:
            self.requests.append(cb)
            self.cond.notify_all()
        if parts.path == "/redirected":
            status = 200
        else:
            status = self.status(cb) if callable(self.status) else self.status
            if self.require_sig and not cb.sig_ok:
                status = 403
            if self.delay:
                self._release.wait(self.delay)
        payload = b'{"ok":true}' if status == 200 else b"no"
        try:
            h.send_response(status)
            if 300 <= status < 400:
                h.send_header("Location", self.url("/redirected"))
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(payload)
            h.wfile.flush()
        except OSError:
            pass  # vcpd gave up (timeout): nothing to answer to
        h.close_connection = True

    def wait(self, what, n=1, timeout=10.0):
        """Waits until len(self.<what>) >= n (what: 'requests', 'tls_errors',
        'connections'); returns the count (may be < n on timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                cur = getattr(self, what)
                cur = cur if isinstance(cur, int) else len(cur)
                left = deadline - time.monotonic()
                if cur >= n or left <= 0:
                    return cur
                self.cond.wait(left)

    def release(self):
        """Ends every pending (and future) delay at once."""
        self._release.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------
# Wire cases (format: wire/README.md)

PLACEHOLDER = re.compile(r"\{(token|superadmin|pa_id|name|webhook|repeat|hex|padto)"
                         r"(?::([^{}]*))?\}")
_PAD = b"\x00\x01PAD\x01\x00"
CASE_KEYS = {"request", "channel", "token", "header", "body", "http", "expect", "detail",
             "detail~", "json", "has", "type", "contains", "absent"}
FIXTURE_OPTS = {"webhook", "state", "rate", "member", "name", "superadmin"}


class CaseError(Exception):
    pass


class Case(SimpleNamespace):
    def where(self):
        return "%s:%d" % (os.path.basename(self.file), self.line)


def parse_cases(text, filename="<cases>"):
    """Parses one case file.  Returns (fixtures, cases): fixtures is a list of
    namespaces (name, opts, line); cases a list of Case.  Raises CaseError
    with file:line for anything malformed."""
    fixtures, cases = [], []
    lines = text.split("\n")
    cur = None
    i = 0

    def err(msg, ln):
        raise CaseError("%s:%d: %s" % (filename, ln, msg))

    while i < len(lines):
        ln = i + 1
        line = lines[i].rstrip("\r")
        i += 1
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("@channel"):
            words = shlex.split(s)
            if len(words) < 2:
                err("@channel needs a name", ln)
            opts = {"member": []}
            for w in words[2:]:
                if "=" not in w:
                    err("@channel option %r is not key=value" % w, ln)
                k, v = w.split("=", 1)
                if k not in FIXTURE_OPTS:
                    err("unknown @channel option %r" % k, ln)
                if k == "member":
                    if v.count(":") < 1 or v.split(":", 1)[0] not in ("admin", "superadmin"):
                        err("member=ROLE:ID with ROLE admin or superadmin", ln)
                    opts["member"].append(v.split(":", 1))
                else:
                    opts[k] = v
            if opts.get("state", "active") not in ("active", "blocked", "suspended", "deleted"):
                err("bad state %r" % opts["state"], ln)
            fixtures.append(SimpleNamespace(name=words[1], opts=opts, line=ln, file=filename))
            continue
        if line.startswith("==="):
            name = line[3:].strip()
            if not name:
                err("a case needs a name", ln)
            cur = Case(name=name, file=filename, line=ln, method=None, path=None, channel="main",
                       token="header", headers=[], body=None, http=200, http_set=False, status=None,
                       status_message=None, detail=None, detail_sub=[], json_eq=[], has=[],
                       types=[], contains=[], absent=[])
            cases.append(cur)
            continue
        if cur is None:
            err("text before the first case (=== name)", ln)
        m = re.match(r"^([a-z~]+)<<(\w+)\s*$", line)
        if m:
            key, tag = m.group(1), m.group(2)
            if key != "body":
                err("only body takes a block (body<<TAG)", ln)
            block = []
            while True:
                if i >= len(lines):
                    err("body block not closed by %s" % tag, ln)
                b = lines[i].rstrip("\r")
                i += 1
                if b == tag:
                    break
                block.append(b)
            cur.body = "\n".join(block)
            continue
        m = re.match(r"^([a-z~]+):(?:\s(.*)|)$", line)
        if not m or m.group(1) not in CASE_KEYS:
            err("expected KEY: VALUE with KEY one of %s, got %r" % (sorted(CASE_KEYS), line), ln)
        key, val = m.group(1), (m.group(2) or "").strip()
        if key == "request":
            w = val.split()
            if len(w) != 2 or not w[1].startswith("/"):
                err("request: METHOD /path", ln)
            cur.method, cur.path = w
        elif key == "channel":
            cur.channel = val
        elif key == "token":
            if val not in ("header", "body", "both", "none"):
                err("token: header|body|both|none", ln)
            cur.token = val
        elif key == "header":
            if ":" not in val:
                err("header: Name: value", ln)
            k, v = val.split(":", 1)
            cur.headers.append((k.strip(), v.strip()))
        elif key == "body":
            cur.body = val
        elif key == "http":
            if not val.isdigit():
                err("http: NNN", ln)
            cur.http = int(val)
            cur.http_set = True
        elif key == "expect":
            w = val.split()
            if len(w) != 2 or not w[0].isdigit():
                err("expect: CODE NAME", ln)
            cur.status, cur.status_message = int(w[0]), w[1]
            if STATUS_NAMES.get(cur.status) != cur.status_message:
                err("expect: %s is not the name of %s" % (w[1], w[0]), ln)
        elif key == "detail":
            cur.detail = val
        elif key == "detail~":
            cur.detail_sub.append(val)
        elif key in ("json", "type", "contains"):
            if " = " not in val:
                err("%s: PATH = VALUE" % key, ln)
            path, v = val.split(" = ", 1)
            {"json": cur.json_eq, "type": cur.types, "contains": cur.contains}[key].append(
                (path.strip(), v.strip()))
            if key == "type" and v.strip() not in JSON_TYPES:
                err("type: one of %s" % sorted(JSON_TYPES), ln)
        elif key == "has":
            cur.has += val.split()
        elif key == "absent":
            cur.absent += val.split()
    for c in cases:
        if c.method is None:
            raise CaseError("%s:%d: case %r has no request:" % (filename, c.line, c.name))
        if c.status is None and not c.http_set:
            raise CaseError("%s:%d: case %r expects nothing (expect: or http:)" % (
                filename, c.line, c.name))
        if c.token in ("body", "both") and c.body is None:
            raise CaseError("%s:%d: token: %s needs a body" % (filename, c.line, c.token))
    return fixtures, cases


def load_case_files(pattern=None):
    """Parses every wire/*.txt in name order.  Returns (fixtures, cases) with
    fixture names unique and case names unique."""
    pattern = pattern or os.path.join(HERE, "wire", "*.txt")
    fixtures, cases = [], []
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8") as f:
            fx, cs = parse_cases(f.read(), path)
        fixtures += fx
        cases += cs
    seen = {}
    for fx in fixtures:
        if fx.name in seen:
            raise CaseError("%s:%d: channel %r already defined" % (fx.file, fx.line, fx.name))
        seen[fx.name] = fx
    names = set()
    for c in cases:
        if c.name in names:
            raise CaseError("%s: duplicate case name %r" % (c.where(), c.name))
        names.add(c.name)
        for ch in [c.channel] + re.findall(r"\{(?:token|superadmin|pa_id|name|webhook):([^{}]*)\}",
                                          (c.body or "") + repr(c.headers) + repr(c.json_eq)
                                          + repr(c.contains)):
            if ch not in seen:
                raise CaseError("%s: unknown channel %r" % (c.where(), ch))
    return fixtures, cases


def expand(template, channels, default="main"):
    """Replaces the placeholders of a case string; returns bytes.  channels:
    name -> Channel.  {padto:N} leaves a marker that finish_body() fills."""
    out = bytearray()
    pos = 0
    for m in PLACEHOLDER.finditer(template):
        out += template[pos:m.start()].encode("utf-8")
        kind, arg = m.group(1), m.group(2)
        if kind == "repeat":
            if arg is None or ":" not in arg:
                raise CaseError("{repeat:TEXT:N}")
            s, n = arg.rsplit(":", 1)
            out += (s * int(n)).encode("utf-8")
        elif kind == "hex":
            out += bytes.fromhex(arg or "")
        elif kind == "padto":
            out += _PAD + str(int(arg)).encode() + _PAD
        else:
            ch = channels[arg or default]
            val = {"token": ch.token, "superadmin": ch.superadmin, "pa_id": ch.pa_id,
                   "name": ch.name, "webhook": ch.webhook}[kind]
            out += val.encode("utf-8")
        pos = m.end()
    out += template[pos:].encode("utf-8")
    return bytes(out)


def finish_body(body, inject_token=None):
    """Adds "auth_token" as the first member of the object body (textually,
    so the rest of the bytes are untouched), then resolves {padto:N} so the
    whole body is exactly N bytes."""
    if inject_token is not None:
        lead = len(body) - len(body.lstrip())
        if body[lead:lead + 1] != b"{":
            raise CaseError("token: body needs a body that starts with {")
        rest = body[lead + 1:]
        sep = b"" if rest.lstrip().startswith(b"}") else b","
        body = body[:lead + 1] + b'"auth_token":' + json.dumps(inject_token).encode() + sep + rest
    if _PAD in body:
        a = body.index(_PAD)
        b = body.index(_PAD, a + len(_PAD))
        n = int(body[a + len(_PAD):b])
        rest_len = len(body) - (b + len(_PAD) - a)
        if n < rest_len:
            raise CaseError("{padto:%d}: body is already %d bytes" % (n, rest_len))
        body = body[:a] + b"x" * (n - rest_len) + body[b + len(_PAD):]
    return body


def build_request(case, channels):
    """(method, path, headers, body bytes or None) of a case."""
    ch = channels[case.channel]
    headers = [(k, expand(v, channels).decode("latin-1")) for k, v in case.headers]
    if case.token in ("header", "both"):
        headers.append(("X-Viber-Auth-Token", ch.token))
    body = None
    if case.body is not None:
        body = finish_body(expand(case.body, channels),
                           ch.token if case.token in ("body", "both") else None)
    path = expand(case.path, channels).decode("utf-8")
    return case.method, path, headers, body


JSON_TYPES = {"int", "posint", "str", "list", "object", "bool", "number", "null"}


def json_path(doc, path):
    """Looks up a dotted path (list indexes are numbers).  Raises KeyError."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, list):
            cur = cur[int(part)]
        elif isinstance(cur, dict):
            cur = cur[part]
        else:
            raise KeyError(part)
    return cur


def _is_type(v, t):
    isint = isinstance(v, int) and not isinstance(v, bool)
    return {"int": isint, "posint": isint and v > 0, "str": isinstance(v, str),
            "list": isinstance(v, list), "object": isinstance(v, dict),
            "bool": isinstance(v, bool), "null": v is None,
            "number": (isint or isinstance(v, float))}[t]


def _subset(want, got):
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _subset(v, got[k]) for k, v in want.items())
    return want == got and type(want) is type(got) or (
        isinstance(want, (int, float)) and not isinstance(want, bool)
        and isinstance(got, (int, float)) and not isinstance(got, bool) and want == got)


def check_case(case, resp, channels):
    """The ways resp differs from what case expects (empty: it passed)."""
    bad = []
    if resp.status != case.http:
        bad.append("HTTP status %s, expected %s" % (resp.status, case.http))
    js = resp.json
    if resp.status == 200 and (case.status is not None or not case.http_set):
        if not isinstance(js, dict):
            bad.append("body is not a JSON object")
            return bad
        st, sm = js.get("status"), js.get("status_message")
        if not isinstance(st, int) or isinstance(st, bool):
            bad.append("status is %r, not an integer" % (st,))
        elif STATUS_NAMES.get(st, "generalError") != sm:
            bad.append("status_message %r does not name status %r" % (sm, st))
        if case.status is not None and (st, sm) != (case.status, case.status_message):
            bad.append("status %r %r, expected %d %s" % (st, sm, case.status, case.status_message))
    if case.detail is not None or case.detail_sub:
        d = js.get("detail") if isinstance(js, dict) else None
        want = expand(case.detail, channels).decode("utf-8") if case.detail is not None else None
        if want is not None and d != want:
            bad.append("detail %r, expected %r" % (d, want))
        for sub in case.detail_sub:
            sub = expand(sub, channels).decode("utf-8")
            if not isinstance(d, str) or sub not in d:
                bad.append("detail %r does not contain %r" % (d, sub))
    for path in case.has:
        try:
            json_path(js, path)
        except (KeyError, IndexError, ValueError, TypeError):
            bad.append("no %s in the answer" % path)
    for path in case.absent:
        try:
            json_path(js, path)
            bad.append("%s is in the answer, expected absent" % path)
        except (KeyError, IndexError, ValueError, TypeError):
            pass
    for path, val in case.json_eq:
        want = json.loads(expand(val, channels).decode("utf-8"))
        try:
            got = json_path(js, path)
        except (KeyError, IndexError, ValueError, TypeError):
            bad.append("no %s in the answer (expected %r)" % (path, want))
            continue
        if not _subset(want, got) or (isinstance(want, dict) and want != got):
            bad.append("%s is %r, expected %r" % (path, got, want))
    for path, t in case.types:
        try:
            got = json_path(js, path)
        except (KeyError, IndexError, ValueError, TypeError):
            bad.append("no %s in the answer (expected a %s)" % (path, t))
            continue
        if not _is_type(got, t):
            bad.append("%s is %r, not a %s" % (path, got, t))
    for path, val in case.contains:
        want = json.loads(expand(val, channels).decode("utf-8"))
        try:
            got = json_path(js, path)
        except (KeyError, IndexError, ValueError, TypeError):
            bad.append("no %s in the answer" % path)
            continue
        if not isinstance(got, list) or not any(_subset(want, g) for g in got):
            bad.append("%s = %r has no element matching %r" % (path, got, want))
    return bad


def describe_request(method, path, headers, body, limit=400):
    out = ["%s %s" % (method, path)] + ["%s: %s" % h for h in headers]
    if body is not None:
        text = body.decode("utf-8", "backslashreplace")
        if len(text) > limit:
            text = text[:limit] + "...(%d bytes in all)" % len(body)
        out.append(text)
    return "\n    ".join(out)


# ---------------------------------------------------------------------------
# Running

def main():
    """unittest.main for a test file: takes the vcpd path from argv, prints
    every vcpd's logs when something failed (keeping the temp dirs), and
    removes the temp dirs otherwise (unless VCP_E2E_KEEP=1)."""
    take_vcpd_arg()
    prog = unittest.main(exit=False, verbosity=2)
    ok = prog.result.wasSuccessful()
    if not ok:
        for v in _INSTANCES:
            sys.stderr.write("\n" + v.report() + "\n")
    if ok and os.environ.get("VCP_E2E_KEEP") != "1":
        for d in _TEMP_DIRS:
            shutil.rmtree(d, ignore_errors=True)
    elif _TEMP_DIRS:
        sys.stderr.write("kept: %s\n" % " ".join(_TEMP_DIRS))
    sys.exit(0 if ok else 1)
