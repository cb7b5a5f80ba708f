"""Fixtures for the libvcp/vcp end-to-end tests: a real vcpd on an ephemeral
127.0.0.1 port with its own SQLite file, channels made with vcpd's offline
admin commands, and read-only access to the stored posts.  Python 3 stdlib
only."""
import json
import os
import sqlite3
import subprocess
import tempfile
import time
import urllib.request


class Vcpd:
    def __init__(self, vcpd, workdir, sandbox=True, extra=()):
        self.vcpd = vcpd
        self.dir = workdir
        self.db = os.path.join(workdir, "vcpd.sqlite")
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
        """[(token, type, sender, body)] of a channel, oldest first, read-only."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return con.execute(
                "SELECT p.token, p.type, p.sender, p.body FROM posts p "
                "JOIN channels c ON c.id = p.channel WHERE c.pa_id = ? ORDER BY p.token",
                (pa_id,)).fetchall()
        finally:
            con.close()


def workdir():
    return tempfile.mkdtemp(prefix="vcp-client-test-")
