#!/usr/bin/env python3
"""`make run` (scripts/run.sh) as a new user meets it: the banner's commands
are pasted as printed and must work, including the admin API example shown
when VCPD_ADMIN_KEY is set.

The script is copied into a temp dir (it keeps its database in ../var next
to itself), and run on 127.0.0.1 port 0 (VCPD_LISTEN) with the vcpd under
test; its vcp is the one built next to that vcpd.

Usage: test_run_script.py [path/to/vcpd] [unittest args]
"""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

KEY = "run-script-admin-key-0123456789"


class RunScript(unittest.TestCase):
    def start(self, env_extra):
        d = vcptest.make_temp_dir("run")
        os.makedirs(os.path.join(d, "scripts"))
        script = os.path.join(d, "scripts", "run.sh")
        shutil.copy(os.path.join(vcptest.REPO, "scripts", "run.sh"), script)
        env = vcptest.clean_env(dict({"VCPD_LISTEN": "127.0.0.1:0"}, **env_extra))
        p = subprocess.Popen(["bash", script, vcptest.vcpd_bin()], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, cwd=d)
        self.addCleanup(self.stop, p)
        banner, deadline = b"", time.time() + 30
        while b"Stop:" not in banner:
            self.assertLess(time.time(), deadline, "no banner: %r" % banner[-300:])
            ready, _, _ = select.select([p.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    self.fail("run.sh ended: %r %r" % (banner, p.stderr.read()))
                banner += chunk
        return banner.decode()

    @staticmethod
    def stop(p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)  # run.sh's trap stops vcpd, then exits
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    @staticmethod
    def commands(banner, start):
        """The shell commands of the banner that begin with start, with their
        backslash-continued lines joined."""
        out, lines = [], banner.split("\n")
        for i, line in enumerate(lines):
            if line.strip().startswith(start):
                cmd = line.strip()
                while cmd.endswith("\\"):
                    i += 1
                    cmd = cmd[:-1] + " " + lines[i].strip()
                out.append(cmd)
        return out

    def sh(self, cmd):
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30,
                           env=vcptest.clean_env())
        self.assertEqual(r.returncode, 0, "%s: %s" % (cmd, r.stderr))
        return r.stdout

    def test_banner_commands_work_and_show_the_admin_api(self):
        banner = self.start({"VCPD_ADMIN_KEY": KEY})
        # the pasted post command (the README's first screen)
        posts = [c for c in self.commands(banner, "curl") if "/pa/post" in c]
        self.assertEqual(len(posts), 1, banner)
        self.assertEqual(json.loads(self.sh(posts[0]))["status"], 0)
        # the admin API examples: list, then create
        admin = [c for c in self.commands(banner, "curl") if "/admin/v1/" in c]
        self.assertEqual(len(admin), 2, banner)
        listed = json.loads(self.sh(admin[0]))
        self.assertEqual([c["name"] for c in listed["channels"]], ["Demo Channel"])
        created = json.loads(self.sh(admin[1]))
        self.assertEqual(created["channel"]["name"], "Team news")
        self.assertIsInstance(created["token"], str)

    def test_without_a_key_the_banner_says_how_to_enable_it(self):
        banner = self.start({})
        self.assertFalse([c for c in self.commands(banner, "curl") if "/admin/v1/" in c])
        self.assertRegex(banner, r"Admin API: +off \(start with VCPD_ADMIN_KEY=")
        m = re.search(r"Or with the client: +(.*)", banner)
        self.assertTrue(m, banner)
        self.assertIn("posted text", self.sh(m.group(1)))


if __name__ == "__main__":
    vcptest.main()
