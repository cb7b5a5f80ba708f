"""Fixtures for the libvcp/vcp end-to-end tests: a real vcpd on an ephemeral
127.0.0.1 port with its own database (a SQLite file, or with
VCP_TEST_BACKEND=postgresql a new database of the run's cluster: the
e2e harness's vcptest.new_database), channels made with vcpd's offline
admin commands, and the stored posts as the read API gives them.  Python 3
stdlib only."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import vcptest  # noqa: E402


class Vcpd:
    def __init__(self, vcpd, workdir, sandbox=True, extra=()):
        self.vcpd = vcpd
        self.dir = workdir
        self.db = vcptest.new_database(workdir, "vcpd.sqlite")
        self.proc = None
        self.sandbox = sandbox
        self.extra = list(extra)

    def admin(self, *args):
        out = subprocess.run([self.vcpd, *args, "--db", self.db], check=True,
                             capture_output=True, text=True)
        return out.stdout

    def channel(self, name, rate=None, webhook=None, superadmin="owner"):
        """Creates a channel; returns {"id", "token", "from"}."""
        args = ["channel", "create", "--name", name, "--superadmin", superadmin, "--json"]
        if rate:
            args += ["--rate", rate]
        if webhook:
            args += ["--webhook", webhook]
        j = json.loads(self.admin(*args))
        return {"id": j["channel"]["id"], "token": j["token"], "from": j["superadmin"]["id"]}

    def start(self):
        port_file = os.path.join(self.dir, "vcpd.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        args = [self.vcpd, "serve", "--listen", "127.0.0.1:0", "--db", self.db,
                "--port-file", port_file, "--access-log", "off"]
        if self.sandbox:
            args.append("--sandbox")
        self.log = open(os.path.join(self.dir, "vcpd.log"), "ab")
        self.proc = subprocess.Popen(args + self.extra, stdout=self.log, stderr=self.log)
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().strip():
                self.port = int(open(port_file).read().strip())
                self.url = "http://127.0.0.1:%d/pa" % self.port
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("vcpd exited: see " + self.log.name)
            time.sleep(0.05)
        raise RuntimeError("vcpd did not write its port")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def raw(self, path, body, token):
        """POSTs body (bytes) as-is; returns the parsed answer."""
        req = urllib.request.Request(self.url + "/" + path, data=body, method="POST",
                                     headers={"X-Viber-Auth-Token": token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def posts(self, pa_id):
        """[(token, type, sender, message)] of a channel, oldest first, every page of
        GET /api/v1/channels/ID/posts (docs/API.md §10): what vcpd stored, on either
        backend; message is the stored message as a dict."""
        out, before = [], None
        while True:
            url = "http://127.0.0.1:%d/api/v1/channels/%s/posts?limit=200" % (
                self.port, urllib.parse.quote(pa_id, safe=""))
            if before is not None:
                url += "&before=%d" % before
            with urllib.request.urlopen(url, timeout=10) as r:
                page = json.loads(r.read())
            out += [(p["message_token"], p["type"], p["from"], p["message"])
                    for p in page["posts"]]
            before = page["next"]
            if before is None:
                return out[::-1]

def workdir():
    return tempfile.mkdtemp(prefix="vcp-client-test-")
