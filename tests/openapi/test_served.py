#!/usr/bin/env python3
"""vcpd serves docs/openapi.yaml, byte for byte, at GET /openapi.yaml.

Usage: test_served.py path/to/vcpd
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import vcptest  # noqa: E402


class Served(unittest.TestCase):
    def test_openapi_yaml(self):
        v = vcptest.Vcpd(name="openapi").start()
        try:
            r = v.request("GET", "/openapi.yaml")
            with open(os.path.join(vcptest.REPO, "docs", "openapi.yaml"), "rb") as f:
                want = f.read()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers.get("content-type"), "application/yaml")
            self.assertEqual(r.raw, want)
            self.assertEqual(v.request("POST", "/openapi.yaml").status, 405)
        finally:
            v.stop_checked()


if __name__ == "__main__":
    vcptest.main()
