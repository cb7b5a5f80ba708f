#!/usr/bin/env python3
"""A throwaway PostgreSQL cluster for the tests (issue 10).

One cluster serves a whole ctest run: the CTest fixture test `pg_cluster_start`
runs `pgcluster.py start STATE` and `pg_cluster_stop` runs `pgcluster.py stop
STATE`; STATE is a directory whose cluster.json says where the cluster is.
Every test then makes its own database in it, so tests never share data.

The cluster: initdb in a fresh temporary directory (UTF8, C locale, trust
authentication for its one superuser `vcp`), listening on 127.0.0.1 on a
free port and on a unix socket in its own directory.  PostgreSQL refuses to
run as root, and CI runs as root: then the server runs as `nobody` (runuser)
and its directories belong to nobody.  fsync is off: the cluster lives for
one test run, and what vcpd asks of the database (synchronous_commit on, one
transaction per batch) does not change with it.

From Python (vcptest.py, later the multi-instance tests):
    c = pgcluster.shared()          # the run's cluster (env VCP_PG_STATE), or None
    dsn = c.createdb()              # a fresh database: "postgresql://vcp@127.0.0.1:PORT/NAME"
    c.pg_stop(); c.pg_start()       # take the server away and bring it back (same data)

From shell:
    pgcluster.py start STATE | stop STATE | createdb STATE | pg-stop STATE | pg-start STATE
    pgcluster.py exec STATE -- CMD ARGS...   # CMD with VCP_TEST_PG_DSN=the admin DSN
"""

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

STATE_FILE = "cluster.json"
RUN_AS = "nobody"


class PgError(Exception):
    pass


def find_bindir():
    """The newest /usr/lib/postgresql/*/bin with initdb (Debian's layout), or PATH."""
    env = os.environ.get("VCP_PG_BINDIR")
    if env:
        return env
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    if cands:
        return os.path.dirname(cands[-1])
    path = shutil.which("initdb")
    if path:
        return os.path.dirname(path)
    raise PgError("no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin: "
                  "run scripts/deps.sh test")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, state):
        self.state = state
        self.bindir = state["bindir"]
        self.datadir = state["datadir"]
        self.sockdir = state["sockdir"]
        self.port = state["port"]
        self.user = state["user"]

    # -- as whom the server runs --

    def _as_server(self, cmd):
        if os.geteuid() == 0:
            return ["runuser", "-u", RUN_AS, "--"] + cmd
        return cmd

    def _run(self, cmd, timeout=60):
        r = subprocess.run(self._as_server(cmd), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                           cwd=self.state["root"])
        if r.returncode != 0:
            raise PgError("%s failed (%d): %s" % (cmd[0], r.returncode,
                                                  r.stdout.decode(errors="replace")[-2000:]))
        return r.stdout.decode(errors="replace")

    # -- DSNs --

    def admin_dsn(self):
        """key=value DSN of the maintenance database, over the unix socket."""
        return "host=%s port=%d user=%s dbname=postgres" % (self.sockdir, self.port, self.user)

    def dsn(self, dbname):
        """URI DSN of a database, over TCP on 127.0.0.1 (what vcpd would use on a network)."""
        return "postgresql://%s@127.0.0.1:%d/%s" % (self.user, self.port, dbname)

    def psql(self, sql, dbname="postgres"):
        cmd = [os.path.join(self.bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
               "-h", self.sockdir, "-p", str(self.port), "-U", self.user, "-d", dbname,
               "-c", sql]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise PgError("psql %r: %s" % (sql, r.stderr.decode(errors="replace")))
        return r.stdout.decode()

    def dump(self, dsn):
        """pg_dump --data-only of the database a dsn() names: every stored byte, as text."""
        cmd = [os.path.join(self.bindir, "pg_dump"), "-h", self.sockdir, "-p", str(self.port),
               "-U", self.user, "-d", dsn.rsplit("/", 1)[1], "--data-only"]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise PgError("pg_dump: %s" % r.stderr.decode(errors="replace"))
        return r.stdout

    def createdb(self, prefix="t"):
        """A new empty database; returns its URI DSN."""
        name = "%s_%s" % (prefix, uuid.uuid4().hex[:16])
        self.psql('CREATE DATABASE "%s"' % name)
        return self.dsn(name)

    # -- the server --

    def pg_start(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-l",
                   os.path.join(self.state["root"], "postgres.log"), "-w", "-t", "60", "start"])

    def pg_stop(self, mode="fast"):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-m", mode, "-w",
                   "-t", "60", "stop"])

    def running(self):
        r = subprocess.run(self._as_server([os.path.join(self.bindir, "pg_ctl"), "-D",
                                            self.datadir, "status"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           cwd=self.state["root"])
        return r.returncode == 0


def load(statedir):
    with open(os.path.join(statedir, STATE_FILE)) as f:
        return Cluster(json.load(f))


def shared():
    """The cluster of this test run (env VCP_PG_STATE names its state directory), or None."""
    statedir = os.environ.get("VCP_PG_STATE")
    if not statedir or not os.path.exists(os.path.join(statedir, STATE_FILE)):
        return None
    return load(statedir)


def start(statedir):
    """initdb + start; writes statedir/cluster.json.  Stops a leftover cluster first."""
    os.makedirs(statedir, exist_ok=True)
    if os.path.exists(os.path.join(statedir, STATE_FILE)):
        stop(statedir)
    bindir = find_bindir()
    root = tempfile.mkdtemp(prefix="vcp-pg-")
    os.chmod(root, 0o755)
    datadir = os.path.join(root, "data")
    sockdir = os.path.join(root, "sock")
    os.mkdir(sockdir)
    if os.geteuid() == 0:
        pw = pwd.getpwnam(RUN_AS)
        for d in (root, sockdir):
            os.chown(d, pw.pw_uid, pw.pw_gid)
    state = {"bindir": bindir, "root": root, "datadir": datadir, "sockdir": sockdir,
             "port": 0, "user": "vcp"}
    c = Cluster(state)
    c._run([os.path.join(bindir, "initdb"), "-D", datadir, "-U", "vcp", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync"], timeout=120)
    conf = ("listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = '%s'\n"
            "max_connections = 300\n"
            "shared_buffers = 32MB\n"
            "fsync = off\n"
            "full_page_writes = off\n"
            "log_min_messages = warning\n" % sockdir)
    last = None
    for _ in range(5):  # the free port may be taken between the probe and the start
        state["port"] = c.port = free_port()
        with open(os.path.join(root, "port.conf"), "w") as f:
            f.write("port = %d\n" % c.port)
        with open(os.path.join(datadir, "postgresql.conf"), "a") as f:
            f.write(conf + "include '%s'\n" % os.path.join(root, "port.conf"))
        conf = ""  # appended once
        try:
            c.pg_start()
            last = None
            break
        except PgError as e:
            last = e
    if last:
        raise last
    with open(os.path.join(statedir, STATE_FILE), "w") as f:
        json.dump(state, f)
    return c


def stop(statedir):
    """Stops the cluster and removes its directory (and the state file)."""
    path = os.path.join(statedir, STATE_FILE)
    if not os.path.exists(path):
        return
    c = load(statedir)
    try:
        if c.running():
            c.pg_stop("immediate")
    finally:
        shutil.rmtree(c.state["root"], ignore_errors=True)
        os.unlink(path)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, statedir = argv[1], argv[2]
    try:
        if cmd == "start":
            c = start(statedir)
            print("postgresql %s on 127.0.0.1:%d, socket %s" % (c.bindir, c.port, c.sockdir))
        elif cmd == "stop":
            stop(statedir)
        elif cmd == "createdb":
            print(load(statedir).createdb())
        elif cmd == "pg-stop":
            load(statedir).pg_stop()
        elif cmd == "pg-start":
            load(statedir).pg_start()
        elif cmd == "exec":
            rest = argv[3:]
            if rest[:1] == ["--"]:
                rest = rest[1:]
            env = dict(os.environ, VCP_TEST_PG_DSN=load(statedir).admin_dsn(),
                       VCP_PG_STATE=statedir)
            return subprocess.call(rest, env=env)
        else:
            sys.stderr.write("pgcluster: unknown command %s\n" % cmd)
            return 2
    except PgError as e:
        sys.stderr.write("pgcluster: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
