#!/usr/bin/env python3
"""Several vcpd on one database (issue 10): node ids leased in the database,
tokens that keep increasing after a restart with the clock set back, and
configuration changes made elsewhere (offline CLI, admin API) in force on the
running server for its next request, whatever became of the old PATH-vcpver
side file.  Runs on both backends (VCP_TEST_BACKEND); the side-file and
symlink cases are SQLite's own and are skipped on PostgreSQL.

Usage: test_nodes.py [path/to/vcpd] [unittest args]
"""
import os
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
HOOK = "https://127.0.0.1:9/hook"  # stored by the CLI without a check: posts need a webhook


def node_of(token):
    return (token >> 12) & 1023


SQLITE_ONLY = unittest.skipUnless(vcptest.BACKEND == "sqlite", "an SQLite file's own case")


def run_sql(db, sql):
    """Runs one statement on a test database of either backend."""
    if vcptest.BACKEND == "sqlite":
        con = sqlite3.connect(db, timeout=10)
        con.execute(sql)
        con.commit()
        con.close()
        return
    import pgcluster
    pgcluster.shared().psql(sql, dbname=db.rsplit("/", 1)[1])


def serve_refused(db, *flags, env=None):
    """Runs `vcpd serve` on db expecting it to refuse to start; returns its stderr."""
    cmd = [vcptest.vcpd_bin(), "serve", "--listen", "127.0.0.1:0", "--db", db] + list(flags)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                       env=vcptest.clean_env(env))
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode == 0 or "listening on" in err:
        raise AssertionError("vcpd started, want a refusal: %s\n%s" % (" ".join(cmd), err))
    return err


def shares(a, *flags, env=None, name="second"):
    """A second Vcpd on a's database."""
    b = vcptest.Vcpd(*flags, name=name, env=env)
    b.db = a.db
    return b


class Base(unittest.TestCase):
    def setUp(self):
        self.servers = []

    def tearDown(self):
        for v in self.servers:
            v.stop_checked()

    def vcpd(self, *flags, env=None, admin_key=None, share=None):
        v = shares(share, *flags, env=env) if share else vcptest.Vcpd(*flags, env=env,
                                                                      admin_key=admin_key)
        self.servers.append(v)
        return v

    def post_tokens(self, v, ch, n):
        out = []
        for i in range(n):
            r = v.post(ch.token, ch.text("post %d" % i))
            self.assertEqual(r.status, 200, r.short())
            self.assertEqual(r.json.get("status"), 0, r.short())
            out.append(r.json["message_token"])
        return out


class NodeLeases(Base):
    def test_same_node_id_refused_at_start(self):
        a = self.vcpd("--node-id", "7").start()
        err = serve_refused(a.db, "--node-id", "7")
        self.assertIn("--node-id 7 is in use", err)
        self.assertIn("vcpd pid %d on " % a.proc.pid, err)  # names the holder
        # the first one is unharmed
        ch = a.create_channel("Leased", webhook=HOOK)
        self.assertTrue(all(node_of(t) == 7 for t in self.post_tokens(a, ch, 3)))

    def test_env_node_id_refused_too(self):
        a = self.vcpd("--node-id", "9").start()
        err = serve_refused(a.db, env={"VCPD_NODE_ID": "9"})
        self.assertIn("--node-id 9 is in use", err)

    def test_without_node_id_a_free_one(self):
        a = self.vcpd().start()
        b = self.vcpd(share=a).start()
        ch = a.create_channel("Two", webhook=HOOK)
        ta = self.post_tokens(a, ch, 5)
        tb = self.post_tokens(b, ch, 5)
        na, nb = {node_of(t) for t in ta}, {node_of(t) for t in tb}
        self.assertEqual(len(na), 1)
        self.assertEqual(len(nb), 1)
        self.assertNotEqual(na, nb)
        with open(b.stderr_path) as f:
            self.assertIn("message_token node id %d (a free one)" % nb.pop(), f.read())
        # an explicit id the other holds is refused, a free one is not
        err = serve_refused(a.db, "--node-id", str(na.pop()))
        self.assertIn("is in use", err)

    def test_released_on_clean_stop(self):
        a = self.vcpd("--node-id", "11").start()
        a.stop_checked()
        b = self.vcpd("--node-id", "11", share=a).start()
        self.assertTrue(b.running())

    def test_crashed_lease_expires(self):
        env = {"VCPD_NODE_LEASE_MS": "1500"}
        a = self.vcpd("--node-id", "12", env=env).start()
        time.sleep(1.0)  # renewed meanwhile (every 500 ms): still held past its first TTL
        a.kill9()
        self.servers.remove(a)
        err = serve_refused(a.db, "--node-id", "12", env=env)
        self.assertIn("--node-id 12 is in use", err)
        time.sleep(1.7)
        b = self.vcpd("--node-id", "12", env=env, share=a).start()
        ch = b.create_channel("After", webhook=HOOK)
        self.assertTrue(all(node_of(t) == 12 for t in self.post_tokens(b, ch, 3)))

    def test_lease_renewed(self):
        env = {"VCPD_NODE_LEASE_MS": "600"}
        a = self.vcpd("--node-id", "13", env=env).start()
        time.sleep(2.0)  # three TTLs: only renewals keep it
        err = serve_refused(a.db, "--node-id", "13", env=env)
        self.assertIn("--node-id 13 is in use", err)

    def test_lease_lost_shuts_down(self):
        # another instance took the id (as after this one was stopped past its
        # lease): this one must make no more tokens with it
        a = self.vcpd("--node-id", "14", env={"VCPD_NODE_LEASE_MS": "600"}).start()
        run_sql(a.db, "UPDATE node_leases SET holder = 'another vcpd' WHERE node = 14")
        a.proc.wait(10)
        self.assertEqual(a.proc.returncode, 0)
        with open(a.stderr_path) as f:
            self.assertIn("lease on node id 14 lost", f.read())

    def test_bad_lease_env(self):
        err = serve_refused(vcptest.Vcpd().db, env={"VCPD_NODE_LEASE_MS": "soon"})
        self.assertIn("VCPD_NODE_LEASE_MS", err)


class ClockBack(Base):
    def test_tokens_increase_after_restart_with_clock_behind(self):
        a = self.vcpd("--node-id", "4").start()
        ch = a.create_channel("Clock", webhook=HOOK)
        before = self.post_tokens(a, ch, 20)
        a.stop_checked()
        a.env["VCPD_TEST_CLOCK_OFFSET_MS"] = str(-3600 * 1000)  # an hour behind
        a.start()
        after = self.post_tokens(a, ch, 20)
        self.assertGreater(min(after), max(before))
        self.assertEqual(after, sorted(after))
        self.assertEqual(len(set(before + after)), 40)


class ConfigInForce(Base):
    """A change the CLI reports done is in force on the running server at its
    next request.  Each case first warms the server's channel cache."""

    def start_warm(self, *flags, db_flag=None, admin_key=None):
        v = self.vcpd(*flags, admin_key=admin_key)
        if db_flag:
            v.flags += ["--db", db_flag(v)]
        v.start()
        ch = v.create_channel("Config", webhook=HOOK)
        self.post_tokens(v, ch, 2)  # cached now
        return v, ch

    def assert_blocked_next(self, v, ch):
        r = v.post(ch.token, ch.text("after the change"))
        self.assertEqual(r.json.get("status"), 7, r.short())

    def test_cli_change_in_force(self):
        v, ch = self.start_warm()
        v.cli("channel", "block", ch.pa_id)
        self.assert_blocked_next(v, ch)
        v.cli("channel", "activate", ch.pa_id)
        self.assertEqual(v.post(ch.token, ch.text()).json.get("status"), 0)
        new = v.cli("channel", "rotate-token", ch.pa_id)
        self.assertEqual(v.post(ch.token, ch.text()).json.get("status"), 2)
        self.assertEqual(v.post(new["token"], ch.text()).json.get("status"), 0)

    def test_admin_change_in_force(self):
        v, ch = self.start_warm(admin_key=ADMIN_KEY)
        r = v.admin("POST", "/admin/v1/channels/%s/block" % ch.pa_id)
        self.assertIn(r.status, (200, 204), r.short())
        self.assert_blocked_next(v, ch)

    @SQLITE_ONLY
    def test_side_file_deleted(self):
        v, ch = self.start_warm()
        side = v.db + "-vcpver"
        if os.path.exists(side):
            os.unlink(side)
        v.cli("channel", "block", ch.pa_id)
        self.assert_blocked_next(v, ch)

    @SQLITE_ONLY
    def test_side_file_not_writable(self):
        # A directory where the side file would be: no process can open it for
        # writing, root included (CI runs as root, where a mode would not stop it).
        v, ch = self.start_warm()
        side = v.db + "-vcpver"
        if os.path.exists(side):
            os.unlink(side)
        os.mkdir(side)
        v.cli("channel", "block", ch.pa_id)
        self.assert_blocked_next(v, ch)

    @SQLITE_ONLY
    def test_database_through_symlink(self):
        def link(v):
            path = os.path.join(v.dir, "link.db")
            os.symlink(v.db, path)
            return path
        v, ch = self.start_warm(db_flag=link)  # the server opens link.db, the CLI vcp.db
        v.cli("channel", "block", ch.pa_id)
        self.assert_blocked_next(v, ch)


if __name__ == "__main__":
    vcptest.main()
