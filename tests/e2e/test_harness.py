#!/usr/bin/env python3
"""Self-tests of the e2e harness (no vcpd needed): the certificates made for
the run verify as intended, the webhook receiver records callbacks and
judges their signatures, and every wire case file parses.  If these fail,
the e2e results mean nothing."""
import http.client
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

CERTS = None


def setUpModule():
    global CERTS
    CERTS = vcptest.make_ca(os.path.join(vcptest.make_temp_dir("harness"), "pki"))


def client_ctx(ca=None):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


def post(receiver, ctx, path, body, headers=None, host="127.0.0.1"):
    conn = http.client.HTTPSConnection(host, receiver.port, context=ctx, timeout=10)
    try:
        conn.request("POST", path, body, headers or {})
        r = conn.getresponse()
        return r.status, r.read(), r.getheader("Location")
    finally:
        conn.close()


class Certificates(unittest.TestCase):
    def test_server_cert_verifies_with_the_ca(self):
        rcv = vcptest.HttpsReceiver(CERTS.server)
        try:
            for host in ("127.0.0.1", "localhost"):
                st, _, _ = post(rcv, client_ctx(CERTS.ca), "/x", b"{}", host=host)
                self.assertEqual(st, 200)
        finally:
            rcv.close()

    def test_server_cert_fails_without_the_ca(self):
        rcv = vcptest.HttpsReceiver(CERTS.server)
        try:
            with self.assertRaises(ssl.SSLCertVerificationError):
                post(rcv, client_ctx(None), "/x", b"{}")
            self.assertEqual(rcv.wait("tls_errors", 1, 5), 1)
            self.assertEqual(rcv.requests, [])
        finally:
            rcv.close()

    def test_selfsigned_fails_even_with_the_ca(self):
        rcv = vcptest.HttpsReceiver(CERTS.selfsigned)
        try:
            with self.assertRaises(ssl.SSLCertVerificationError):
                post(rcv, client_ctx(CERTS.ca), "/x", b"{}")
        finally:
            rcv.close()

    def test_wronghost_fails_on_the_name(self):
        rcv = vcptest.HttpsReceiver(CERTS.wronghost)
        try:
            with self.assertRaises(ssl.SSLCertVerificationError) as cm:
                post(rcv, client_ctx(CERTS.ca), "/x", b"{}")
            self.assertIn("match", str(cm.exception).lower())
        finally:
            rcv.close()


class Receiver(unittest.TestCase):
    TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec2f7d6bcc8b61"

    def test_good_signature_is_ok(self):
        rcv = vcptest.HttpsReceiver(CERTS.server, token=self.TOKEN, require_sig=True)
        try:
            body = b'{"event":"webhook","timestamp":1457764197627,"message_token":241256543215}'
            sig = vcptest.sign(self.TOKEN, body)
            st, _, _ = post(rcv, client_ctx(CERTS.ca), "/hook?sig=" + sig, body,
                            {"X-Viber-Content-Signature": sig})
            self.assertEqual(st, 200)
            cb = rcv.requests[0]
            self.assertTrue(cb.sig_ok)
            self.assertEqual(cb.path, "/hook")
            self.assertEqual(cb.json["event"], "webhook")
        finally:
            rcv.close()

    def test_known_hmac_vector(self):
        # RFC 4231 test case 2
        self.assertEqual(vcptest.sign("Jefe", b"what do ya want for nothing?"),
                         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")

    def test_bad_signatures_are_refused(self):
        rcv = vcptest.HttpsReceiver(CERTS.server, token=self.TOKEN, require_sig=True)
        try:
            body = b'{"event":"webhook"}'
            good = vcptest.sign(self.TOKEN, body)
            bad = vcptest.sign("other", body)
            cases = [
                ("/h?sig=" + good, {}),                                       # header missing
                ("/h", {"X-Viber-Content-Signature": good}),                 # query missing
                ("/h?sig=" + bad, {"X-Viber-Content-Signature": good}),      # query wrong
                ("/h?sig=" + good, {"X-Viber-Content-Signature": bad}),      # header wrong
                ("/h?sig=" + good.upper(), {"X-Viber-Content-Signature": good.upper()}),
            ]
            for path, hdrs in cases:
                st, _, _ = post(rcv, client_ctx(CERTS.ca), path, body, hdrs)
                self.assertEqual(st, 403, (path, hdrs))
            self.assertEqual(len(rcv.requests), len(cases))
            self.assertFalse(any(cb.sig_ok for cb in rcv.requests))
        finally:
            rcv.close()

    def test_status_redirect_and_delay(self):
        rcv = vcptest.HttpsReceiver(CERTS.server, status=302, delay=0.3)
        try:
            t0 = time.monotonic()
            st, _, loc = post(rcv, client_ctx(CERTS.ca), "/h", b"{}")
            self.assertEqual(st, 302)
            self.assertEqual(loc, rcv.url("/redirected"))
            self.assertGreaterEqual(time.monotonic() - t0, 0.25)
            st, _, _ = post(rcv, client_ctx(CERTS.ca), "/redirected", b"{}")
            self.assertEqual(st, 200)
        finally:
            rcv.close()

    def test_release_ends_the_delay(self):
        rcv = vcptest.HttpsReceiver(CERTS.server, delay=30)
        try:
            out = []
            t = threading.Thread(target=lambda: out.append(post(rcv, client_ctx(CERTS.ca), "/h", b"{}")))
            t0 = time.monotonic()
            t.start()
            self.assertEqual(rcv.wait("requests", 1, 5), 1)
            rcv.release()
            t.join(5)
            self.assertEqual(out[0][0], 200)
            self.assertLess(time.monotonic() - t0, 5)
        finally:
            rcv.close()

    def test_stalled_handshake_blocks_nobody(self):
        rcv = vcptest.HttpsReceiver(CERTS.server)
        try:
            idle = socket.create_connection(("127.0.0.1", rcv.port))  # never says hello
            try:
                t0 = time.monotonic()
                st, _, _ = post(rcv, client_ctx(CERTS.ca), "/h", b"{}")
                self.assertEqual(st, 200)
                self.assertLess(time.monotonic() - t0, 2)
            finally:
                idle.close()
        finally:
            rcv.close()


class CaseFiles(unittest.TestCase):
    class Ch:
        token = "TOK"
        superadmin = "SA="
        pa_id = "pa:1"
        name = "Näme"
        webhook = "https://127.0.0.1:9/h"

    CHS = {"main": Ch, "other": Ch}

    def test_all_case_files_parse(self):
        fixtures, cases = vcptest.load_case_files()
        self.assertGreater(len(cases), 150)
        names = {f.name for f in fixtures}
        for needed in ("main", "blocked", "suspended", "deleted", "nowebhook", "rated"):
            self.assertIn(needed, names)
        statuses = {c.status for c in cases}
        for code in (0, 1, 2, 3, 4, 7, 8, 9, 10, 12):
            self.assertIn(code, statuses, "no case expects status %d" % code)
        for code in (404, 405, 413):
            self.assertIn(code, {c.http for c in cases})
        types = set()
        for c in cases:
            if c.status == 0 and c.path == "/pa/post":
                types.update(re.findall(r'"type"\s*:\s*"(\w+)"', c.body))
        for t in ("text", "picture", "video", "file", "contact", "location", "url", "sticker"):
            self.assertIn(t, types, "no successful case of type %s" % t)

    def test_parse_errors_name_the_line(self):
        bad = ["=== x\nrequest: POST /pa/post\nexpect: 3 ok\n",      # name does not match code
               "=== x\nrequest: POST\nexpect: 0 ok\n",
               "=== x\nrequest: POST /pa/post\n",                    # expects nothing
               "=== x\nrequest: POST /a\nbody<<END\n{}\n",            # block not closed
               "=== x\nrequest: POST /a\nfrobnicate: 1\nexpect: 0 ok\n",
               "request: POST /a\n",
               "@channel x frob=1\n"]
        for text in bad:
            with self.assertRaises(vcptest.CaseError, msg=text) as cm:
                vcptest.parse_cases(text, "t.txt")
            self.assertIn("t.txt:", str(cm.exception))

    def test_placeholders(self):
        e = lambda s: vcptest.expand(s, self.CHS)  # noqa: E731
        self.assertEqual(e('{"a":"{token}","b":"{superadmin:other}"}'), b'{"a":"TOK","b":"SA="}')
        self.assertEqual(e("{repeat:\u00e9:3}"), "\u00e9\u00e9\u00e9".encode())
        self.assertEqual(e("{repeat:a:b:2}"), b"a:ba:b")
        self.assertEqual(e("x{hex:ff 00}y"), b"x\xff\x00y")
        self.assertEqual(e('{"name":"{name}"}'), '{"name":"Näme"}'.encode())
        self.assertEqual(e('{"a":1}'), b'{"a":1}')  # JSON braces untouched
        body = vcptest.finish_body(e('{"x":"{padto:100}"}'))
        self.assertEqual(len(body), 100)
        self.assertTrue(body.startswith(b'{"x":"xxx'))
        body = vcptest.finish_body(e('{"x":"{padto:100}"}'), inject_token="TOK")
        self.assertEqual(len(body), 100)
        self.assertEqual(json.loads(body)["auth_token"], "TOK")
        self.assertEqual(vcptest.finish_body(b" {}", inject_token="T"), b' {"auth_token":"T"}')
        self.assertEqual(vcptest.finish_body(b'{"a":1}', inject_token="T"),
                         b'{"auth_token":"T","a":1}')

    def test_check_case(self):
        _, cases = vcptest.parse_cases(
            "=== c\nrequest: POST /pa/post\nexpect: 3 badData\ndetail: text: required\n"
            "detail~: text\njson: billing_status = 0\ntype: message_token = posint\n"
            "has: a.0.b\ncontains: a = {\"b\":1}\nabsent: zz\n", "t.txt")
        c = cases[0]
        good = vcptest.Resp(200, {"status": 3, "status_message": "badData",
                                  "detail": "text: required", "billing_status": 0,
                                  "message_token": 5, "a": [{"b": 1, "c": 2}]})
        self.assertEqual(vcptest.check_case(c, good, self.CHS), [])
        for change in ({"status": 4}, {"status_message": "missingData"}, {"detail": "x"},
                       {"billing_status": False}, {"message_token": 0}, {"message_token": "5"},
                       {"a": [{"b": 2}]}, {"zz": 1}):
            js = dict(good.json, **change)
            self.assertNotEqual(vcptest.check_case(c, vcptest.Resp(200, js), self.CHS), [], change)
        self.assertNotEqual(vcptest.check_case(c, vcptest.Resp(500, good.json), self.CHS), [])
        self.assertNotEqual(vcptest.check_case(c, vcptest.Resp(200, None, b"nope"), self.CHS), [])


if __name__ == "__main__":
    vcptest.main()
