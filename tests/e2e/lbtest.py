"""Several vcpd instances on one PostgreSQL database behind a real nginx.

The load balancer of the multi-instance tests (issue 10), next to
vcptest.py and pgcluster.py; Python 3 standard library only.

  render_conf()   deploy/nginx/vcpd.conf -- the configuration docs/DEPLOYMENT.md
                  shows -- with its placeholders filled: @LISTEN@ with
                  nginx's address, the @SERVER@ line once per instance
  Nginx           nginx from Debian as an unprivileged process (as `nobody`
                  when the tests run as root, like the PostgreSQL cluster):
                  its own prefix, temp directories, pid file and error log
                  under a temp dir, on a free 127.0.0.1 port, in the
                  foreground; an access log with the upstream that served
                  each request (for the failure report)
  Farm            N vcpd instances on one database, each on a fixed port of
                  its own (so a restart after kill -9 comes back where nginx
                  expects it), and the nginx in front of them
  Viewer          an event-stream viewer through nginx that reconnects with
                  Last-Event-ID whenever its stream ends, as EventSource does

Everything listens on and connects to 127.0.0.1 only.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "feed"))
import feedlib  # noqa: E402
import vcptest  # noqa: E402

CONF = os.path.join(vcptest.REPO, "deploy", "nginx", "vcpd.conf")
RUN_AS = "nobody"


def render_conf(listen, servers, path=CONF):
    """The text of deploy/nginx/vcpd.conf for nginx on `listen` in front of
    `servers` (host:port strings): @LISTEN@ replaced, the line holding
    @SERVER@ repeated once per server."""
    with open(path) as f:
        lines = f.read().split("\n")
    out = []
    for line in lines:
        if line.lstrip().startswith("#"):
            out.append(line)  # the file's own explanation of the placeholders
        elif "@SERVER@" in line:
            out += [line.replace("@SERVER@", s) for s in servers]
        else:
            out.append(line.replace("@LISTEN@", listen))
    text = "\n".join(out)
    leftover = [ln for ln in out if not ln.lstrip().startswith("#")
                and ("@LISTEN@" in ln or "@SERVER@" in ln)]
    if leftover or not servers:
        raise vcptest.HarnessError("%s: placeholders left %r (servers %r)" % (path, leftover,
                                                                               servers))
    return text


def nginx_bin():
    for cand in (os.environ.get("VCP_NGINX"), shutil.which("nginx"), "/usr/sbin/nginx"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise vcptest.HarnessError("nginx not found: run scripts/deps.sh test")


def _give_to_server(path):
    """Lets the unprivileged nginx use path (when we are root)."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam(RUN_AS)
        os.chown(path, pw.pw_uid, pw.pw_gid)


class Nginx:
    """nginx with deploy/nginx/vcpd.conf in front of `servers`."""

    def __init__(self, servers, name="nginx"):
        self.name = name
        self.servers = list(servers)
        self.dir = vcptest.make_temp_dir(name)
        os.chmod(self.dir, 0o755)
        _give_to_server(self.dir)
        self.proc = None
        self.port = None
        self.error_log = os.path.join(self.dir, "error.log")
        self.access_log = os.path.join(self.dir, "access.log")
        self.logs = [self.error_log, self.access_log]
        vcptest._INSTANCES.append(self)

    def _write_conf(self):
        d = self.dir
        with open(os.path.join(d, "vcpd.conf"), "w") as f:
            f.write(render_conf("127.0.0.1:%d" % self.port, self.servers))
        # The main context around the file under test: only what a packaged
        # nginx.conf would hold (process, logs, temp paths), never proxying.
        main = """worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format lb '$msec $request_method $request_uri $status '
                  'upstream=$upstream_addr upstream_status=$upstream_status '
                  'time=$request_time';
    access_log {d}/access.log lb;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    include {d}/vcpd.conf;
}}
""".format(d=d)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(main)
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        _give_to_server(os.path.join(d, "tmp"))

    def _cmd(self, *extra):
        cmd = [nginx_bin(), "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf"),
               "-e", self.error_log] + list(extra)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", RUN_AS, "--"] + cmd
        return cmd

    def start(self, timeout=10.0):
        last = None
        for _ in range(5):  # the free port may be taken between the probe and the start
            self.port = vcptest_free_port()
            self._write_conf()
            with open(os.path.join(self.dir, "stderr.log"), "ab") as err:
                self.proc = subprocess.Popen(self._cmd("-g", "daemon off;"),
                                             stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                             cwd=self.dir)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return self
                except OSError:
                    time.sleep(0.05)
            last = "nginx exited with %s" % self.proc.poll()
            self.stop()
        raise vcptest.HarnessError("nginx did not start (%s):\n%s" % (
            last, vcptest.Vcpd.tail(self.error_log)))

    def test_config(self):
        """nginx -t on the rendered configuration: (ok, output)."""
        if self.port is None:
            self.port = vcptest_free_port()
        self._write_conf()
        p = subprocess.run(self._cmd("-t"), capture_output=True, cwd=self.dir)
        return p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")

    def stop(self):
        """SIGTERM to nginx's master (by its pid file: under runuser our
        child is runuser, not nginx), then waits."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                with open(os.path.join(self.dir, "nginx.pid")) as f:
                    os.kill(int(f.read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(self, method, path, headers=(), body=None, timeout=30.0):
        return vcptest.http_request(self.port, method, path, headers, body, timeout)

    def post(self, token, msg, timeout=30.0):
        return self.request("POST", "/pa/post", [("X-Viber-Auth-Token", token)],
                            vcptest.encode_body(msg), timeout)

    def report(self, lines=80):
        out = ["=== nginx %r on 127.0.0.1:%s -> %s (dir %s)" % (self.name, self.port,
                                                             " ".join(self.servers), self.dir)]
        for path in self.logs:
            if os.path.exists(path):
                out.append("--- %s" % path)
                out.append(vcptest.Vcpd.tail(path, lines))
        return "\n".join(out)


def vcptest_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Farm:
    """n vcpd instances on one database (db: a DSN) behind one nginx.

    Each instance listens on a port chosen here and kept across restarts.
    flags go to every `vcpd serve`.  Behind a proxy every client has the
    proxy's address, so the per-address limits are off (docs/DEPLOYMENT.md
    says the same).  start() starts the instances, then nginx."""

    PROXY_FLAGS = ["--max-connections-per-ip", "0", "--max-streams-per-ip", "0"]

    def __init__(self, n, db, flags=(), name="lb", env=None):
        self.db = db
        self.instances = []
        for i in range(n):
            port = vcptest_free_port()
            v = vcptest.Vcpd(*(list(flags) + self.PROXY_FLAGS + ["--listen", "127.0.0.1:%d" % port]),
                             name="%s-%d" % (name, i), db=db, env=env)
            v.fixed_port = port
            self.instances.append(v)
        self.nginx = Nginx(["127.0.0.1:%d" % v.fixed_port for v in self.instances],
                           name=name + "-nginx")

    def start(self):
        for v in self.instances:
            self.start_instance(v)
        self.nginx.start()
        return self

    @staticmethod
    def start_instance(v, timeout=20.0):
        """Starts (or restarts) v on its own port: a port still held by the
        old process's sockets is retried for a few seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                v.start()
                break
            except vcptest.HarnessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        if v.port != v.fixed_port:
            raise vcptest.HarnessError("vcpd listens on %d, not %d" % (v.port, v.fixed_port))
        return v

    def stop(self):
        self.nginx.stop()
        for v in self.instances:
            v.stop()


class Viewer(threading.Thread):
    """A viewer of a channel's event stream through nginx.  It keeps the
    tokens of the post events in the order they arrived (seq) and, when its
    stream ends or breaks, reconnects with Last-Event-ID: the last id it got
    (as EventSource does), counting reconnects.  stop() ends it."""

    def __init__(self, port, pa_id, name="viewer"):
        super().__init__(daemon=True, name=name)
        self.port = port
        self.path = "/api/v1/channels/%s/events" % pa_id
        self.seq = []          # message_tokens, as they arrived
        self.data = {}         # message_token -> the event's data (JSON text)
        self.connects = []     # (monotonic, Last-Event-ID sent or None, HTTP status or error)
        self.errors = []
        self.lock = threading.Lock()
        self._halt = threading.Event()
        self.connected = threading.Event()

    @property
    def last(self):
        with self.lock:
            return self.seq[-1] if self.seq else None

    def _one_stream(self, last):
        try:
            s = feedlib.Sse(self.port, self.path, last_event_id=last, timeout=5)
        except (OSError, AssertionError) as e:
            self.connects.append((time.monotonic(), last, repr(e)))
            return
        self.connects.append((time.monotonic(), last, s.status))
        try:
            if s.status != 200:
                return
            self.connected.set()
            while not self._halt.is_set():
                try:
                    ev = s.next(timeout=0.5)
                except socket.timeout:
                    if getattr(s, "ended", False):
                        return
                    continue
                except (OSError, ValueError, AssertionError) as e:
                    self.errors.append(repr(e))
                    return
                if ev is None:
                    return
                if ev["event"] != "post":
                    continue
                tok = int(ev["id"])
                with self.lock:
                    self.seq.append(tok)
                    self.data.setdefault(tok, ev["data"])
        finally:
            s.close()

    def run(self):
        while not self._halt.is_set():
            self._one_stream(self.last)
            if not self._halt.is_set():
                time.sleep(0.1)

    def stop(self):
        self._halt.set()
        self.join(10)

    def catch_up(self, newest, timeout=15.0):
        """After stop(): one more resume with Last-Event-ID, reading until the
        post `newest` arrived (the stream's replay then holds every post
        newer than the last one this viewer got).  Returns True if it came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.last is not None and self.last >= newest:
                return True
            try:
                s = feedlib.Sse(self.port, self.path, last_event_id=self.last, timeout=5)
            except (OSError, AssertionError) as e:
                self.connects.append((time.monotonic(), self.last, repr(e)))
                time.sleep(0.2)
                continue
            self.connects.append((time.monotonic(), self.last, s.status))
            try:
                while time.monotonic() < deadline:
                    try:
                        ev = s.next(timeout=1.0)
                    except socket.timeout:
                        break
                    if ev is None:
                        break
                    if ev["event"] == "post":
                        tok = int(ev["id"])
                        with self.lock:
                            self.seq.append(tok)
                            self.data.setdefault(tok, ev["data"])
                        if tok >= newest:
                            return True
            finally:
                s.close()
        return self.last is not None and self.last >= newest
