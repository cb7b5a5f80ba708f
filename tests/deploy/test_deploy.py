"""The deployment files in deploy/ are valid for the tools that read them.

- deploy/systemd/vcpd.service: `systemd-analyze verify` finds nothing to say
  about it (it exits 0 even for unknown keys and bad values, so any remark
  fails the test); every option its ExecStart gives is one `vcpd serve
  --help` lists; TimeoutStopSec leaves vcpd its --shutdown-grace and more;
  the hardening docs/DEPLOYMENT.md promises is there; and `systemd-analyze
  security --offline=yes` rates it OK (exposure below 2.0).  The unit names
  /usr/local/sbin/vcpd (make install); the copy verified here names the
  vcpd under test instead, because verify checks that the binary exists.
- deploy/nginx/vcpd.conf: `nginx -t` accepts it as tests/e2e/lbtest.py
  fills it in (the multi-instance tests run it for real).
- docs/DEPLOYMENT.md shows both files: its ```nginx and ```ini blocks are
  the files, byte for byte (always run, no tool needed).

A tool that is missing skips its test (exit 77 when all are skipped, which
CTest reports as skipped): systemd-analyze is in Debian's `systemd`, nginx
in `nginx` (scripts/deps.sh test installs both).

Run: python3 test_deploy.py path/to/vcpd
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
UNIT = os.path.join(REPO, "deploy", "systemd", "vcpd.service")
VCPD = None


def unit_settings(text):
    """[(key, value)] of the unit's non-comment lines, in order."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        k, v = line.split("=", 1)
        out.append((k, v))
    return out


class SystemdUnit(unittest.TestCase):
    def setUp(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze not installed (Debian package systemd)")
        with open(UNIT) as f:
            self.text = f.read()
        self.settings = unit_settings(self.text)
        self.dir = tempfile.mkdtemp(prefix="vcp-deploy-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.copy = os.path.join(self.dir, "vcpd.service")
        with open(self.copy, "w") as f:
            f.write(self.text.replace("/usr/local/sbin/vcpd", VCPD))

    def get(self, key):
        vals = [v for k, v in self.settings if k == key]
        return vals[-1] if vals else None

    def test_verify_says_nothing(self):
        # --man=no: the man page is installed by make install, not here
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", self.copy],
                           capture_output=True, text=True, timeout=60)
        remarks = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.strip()]
        self.assertEqual((p.returncode, remarks), (0, []))

    def test_security_exposure_ok(self):
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                            self.copy], capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for vcpd\.service: ([0-9.]+)", p.stdout)
        self.assertTrue(m, p.stdout[-2000:] + p.stderr)
        self.assertLess(float(m.group(1)), 2.0, p.stdout)

    def test_execstart_options_exist_and_stop_timeout_covers_grace(self):
        exec_start = self.get("ExecStart")
        self.assertTrue(exec_start.startswith("/usr/local/sbin/vcpd serve "), exec_start)
        helptext = subprocess.run([VCPD, "serve", "--help"], capture_output=True, text=True,
                                  timeout=30)
        helptext = helptext.stdout + helptext.stderr
        for opt in re.findall(r"(--[a-z-]+)", exec_start):
            self.assertIn(opt, helptext, "ExecStart gives %s, vcpd serve does not know it" % opt)
        for var in re.findall(r"\$\{?(\w+)\}?", exec_start):
            self.assertTrue(re.search(r"\b%s=" % var, self.get("Environment") or ""),
                            "ExecStart uses ${%s} without a default in Environment=" % var)
        grace = int(re.search(r"--shutdown-grace (\d+)", exec_start).group(1))
        stop = self.get("TimeoutStopSec")
        self.assertRegex(stop, r"^\d+s?$")
        self.assertGreater(int(stop.rstrip("s")), grace,
                           "TimeoutStopSec must leave vcpd its --shutdown-grace")

    def test_hardening(self):
        want = {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "DynamicUser": "yes",
                "StateDirectory": "vcpd", "Restart": "on-failure", "ProtectHome": "yes",
                "PrivateTmp": "yes", "CapabilityBoundingSet": ""}
        got = {k: self.get(k) for k in want}
        self.assertEqual(got, want)
        # the default SQLite database lives in the state directory
        self.assertIn("VCPD_DB=/var/lib/vcpd/", self.get("Environment"))


class NginxConf(unittest.TestCase):
    def test_nginx_accepts_the_conf(self):
        if not shutil.which("nginx") and not os.access("/usr/sbin/nginx", os.X_OK):
            self.skipTest("nginx not installed (Debian package nginx)")
        sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
        import lbtest
        n = lbtest.Nginx(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], name="nginx-t")
        ok, out = n.test_config()
        shutil.rmtree(n.dir, ignore_errors=True)
        self.assertTrue(ok, out)


class DocShowsTheFiles(unittest.TestCase):
    def block(self, lang):
        with open(os.path.join(REPO, "docs", "DEPLOYMENT.md")) as f:
            doc = f.read()
        blocks = re.findall(r"^```%s\n(.*?)^```$" % lang, doc, re.M | re.S)
        self.assertEqual(len(blocks), 1, "DEPLOYMENT.md: %d ```%s blocks" % (len(blocks), lang))
        return blocks[0]

    def test_nginx_conf(self):
        with open(os.path.join(REPO, "deploy", "nginx", "vcpd.conf")) as f:
            self.assertEqual(self.block("nginx"), f.read())

    def test_unit(self):
        with open(UNIT) as f:
            self.assertEqual(self.block("ini"), f.read())


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        VCPD = os.path.abspath(sys.argv.pop(1))
    if not VCPD or not os.access(VCPD, os.X_OK):
        sys.exit("usage: test_deploy.py path/to/vcpd")
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    sys.exit(77 if r.testsRun and len(r.skipped) == r.testsRun else 0)
