#!/usr/bin/env python3
"""vcpd as the Viber a CI suite runs against (issue 12): each feature used
the way a test suite would use it -- over real sockets, with the CLI a CI
script would call.

  Health     /readyz (ready only when the store answers), /version and
             `vcpd --version` with the build's git commit

Usage: test_ci_tools.py [path/to/vcpd] [unittest args]
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

KEY = "e2e-ci-tools-8a7b6c5d4e3f"
V = None


def setUpModule():
    global V
    V = vcptest.Vcpd("--sandbox", name="ci", admin_key=KEY).start()


def tearDownModule():
    if V is not None:
        V.stop_checked()


def git_head():
    """The repository's commit (12 digits) when the tests run in a git
    checkout, else None."""
    try:
        p = subprocess.run(["git", "-C", vcptest.REPO, "rev-parse", "--short=12", "HEAD"],
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = p.stdout.decode().strip()
    return out if p.returncode == 0 and re.fullmatch(r"[0-9a-f]{12}", out) else None


class Health(unittest.TestCase):
    def test_version_names_the_build(self):
        p = subprocess.run([vcptest.vcpd_bin(), "--version"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        m = re.fullmatch(r"vcpd (\d+\.\d+\.\d+) \(git ([0-9a-f]{12}(?:-dirty)?|unknown)\)\n",
                         p.stdout.decode())
        self.assertTrue(m, p.stdout)
        r = V.request("GET", "/version")
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual(r.json, {"name": "vcpd", "version": m.group(1), "git": m.group(2)})
        head = git_head()
        if head:  # built from this checkout: the commit is the one checked out
            self.assertEqual(m.group(2).split("-")[0], head)

    def test_readyz_follows_the_store(self):
        """Ready while the database answers; a database that stops answering
        (here: its files overwritten under the running server) is 503 with
        the reason, while /healthz (liveness) stays 200."""
        w = vcptest.Vcpd(name="ready")
        w.cli("channel", "create", "--name", "Ready")
        w.start()
        try:
            r = w.request("GET", "/readyz")
            self.assertEqual((r.status, r.json), (200, {"status": "ready"}), r.short())
            self.assertEqual(w.request("HEAD", "/readyz").status, 200)
            for suffix in ("", "-shm"):
                path = w.db + suffix
                with open(path, "r+b") as f:
                    f.write(b"\x5a" * os.path.getsize(path))
            r = w.request("GET", "/readyz")
            self.assertEqual(r.status, 503, r.short())
            self.assertEqual(r.json["status"], "not ready")
            self.assertIn("not a database", r.json["detail"])
            self.assertEqual(w.request("GET", "/healthz").status, 200)
        finally:
            w.stop()


if __name__ == "__main__":
    vcptest.main()
