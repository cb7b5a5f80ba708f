#!/usr/bin/env python3
"""set_webhook against a real HTTPS receiver (docs/API.md §4).

The receiver listens on 127.0.0.1 with a certificate from a CA made for this
run.  Loopback webhooks need --sandbox (which relaxes only http and private
addresses; TLS verification stays strict), so most tests use a sandbox vcpd
that trusts the run's CA; others show what happens without the CA, without
the sandbox, and with slow, failing and redirecting receivers.

Usage: test_webhook.py [path/to/vcpd] [unittest args]
"""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vcptest  # noqa: E402

CERTS = None
SB = None        # --sandbox, trusts the run's CA, 1.5 s total timeout
SB_NOCA = None   # --sandbox, system CAs only
PROD = None      # no --sandbox, trusts the run's CA
SLOW = None      # --sandbox, trusts the run's CA, 10 s total timeout
TIMEOUT_MS = 1500


def setUpModule():
    global CERTS, SB, SB_NOCA, PROD, SLOW
    CERTS = vcptest.make_ca(os.path.join(vcptest.make_temp_dir("webhook-pki"), "pki"))
    SB = vcptest.Vcpd("--sandbox", "--webhook-ca", CERTS.ca, "--webhook-timeout", str(TIMEOUT_MS),
                      "--webhook-connect-timeout", "1000", name="webhook-sandbox").start()
    SB_NOCA = vcptest.Vcpd("--sandbox", "--webhook-timeout", "3000",
                           name="webhook-sandbox-noca").start()
    PROD = vcptest.Vcpd("--webhook-ca", CERTS.ca, "--webhook-timeout", "3000",
                        name="webhook-prod").start()
    SLOW = vcptest.Vcpd("--sandbox", "--webhook-ca", CERTS.ca, "--webhook-timeout", "10000",
                        name="webhook-slow").start()


def tearDownModule():
    for v in (SB, SB_NOCA, PROD, SLOW):
        if v is not None:
            v.stop_checked()


_n = [0]


def channel(v, webhook=None, name=None):
    _n[0] += 1
    return v.create_channel(name or "E2E hook %d" % _n[0], superadmin="Hook Owner",
                            webhook=webhook, rate="off")


class Base(unittest.TestCase):
    def setUp(self):
        self.receivers = []

    def tearDown(self):
        for r in self.receivers:
            r.close()

    def receiver(self, cert=None, **kw):
        r = vcptest.HttpsReceiver(cert or CERTS.server, **kw)
        self.receivers.append(r)
        return r

    def set_webhook(self, v, ch, url, where="header", timeout=20):
        return v.api("/pa/set_webhook", {"url": url}, token=ch.token, where=where, timeout=timeout)

    def assertStatus(self, resp, status, detail_has=None):
        self.assertEqual(resp.status, 200, resp.short())
        js = resp.json or {}
        self.assertEqual((js.get("status"), js.get("status_message")),
                         (status, vcptest.STATUS_NAMES[status]), resp.short())
        if detail_has is not None:
            self.assertIn(detail_has, js.get("detail") or "", resp.short())
        return js

    def account(self, v, ch):
        r = v.api("/pa/get_account_info", token=ch.token)
        return self.assertStatus(r, 0)

    def assertGoodCallback(self, cb, ch, path="/viber/webhook"):
        self.assertEqual(cb.method, "POST")
        self.assertEqual(cb.path, path)
        self.assertRegex(cb.sig_header or "", r"^[0-9a-f]{64}$", "X-Viber-Content-Signature")
        self.assertEqual(cb.sig_query, cb.sig_header, "sig query parameter != header")
        self.assertEqual(cb.sig_header, vcptest.sign(ch.token, cb.body),
                         "signature is not HMAC-SHA256(token, body): body %r" % cb.body)
        self.assertTrue(cb.sig_ok)
        js = cb.json
        self.assertIsInstance(js, dict, cb.body)
        self.assertEqual(js.get("event"), "webhook", cb.body)
        ts = js.get("timestamp")
        self.assertIsInstance(ts, int, cb.body)
        self.assertLess(abs(ts - time.time() * 1000), 60000, "timestamp is not ms now: %r" % ts)
        self.assertEqual(js.get("chat_hostname"), ch.name, cb.body)
        mt = js.get("message_token")
        self.assertTrue(isinstance(mt, int) and not isinstance(mt, bool) and mt > 0, cb.body)


class Accepted(Base):
    def test_accepted_with_the_runs_ca(self):
        ch = channel(SB, name="E2E Hook — ✓ ünïcode")
        rcv = self.receiver(token=ch.token, require_sig=True)
        url = rcv.url("/viber/webhook")
        js = self.assertStatus(self.set_webhook(SB, ch, url), 0)
        self.assertEqual(sorted(js.get("event_types") or []), sorted(vcptest.EVENT_TYPES), js)
        self.assertEqual(len(rcv.requests), 1, "exactly one callback before the answer")
        self.assertGoodCallback(rcv.requests[0], ch)
        self.assertEqual(self.account(SB, ch).get("webhook"), url)
        # posting works now and makes no callback (the seed says so)
        for i in range(3):
            self.assertStatus(SB.post(ch.token, ch.text("after set_webhook %d" % i)), 0)
        self.assertStatus(self.set_webhook(SB, ch, url), 0)
        self.assertEqual(len(rcv.requests), 2, "posts must not call the webhook")
        self.assertGoodCallback(rcv.requests[1], ch)
        self.assertNotEqual(rcv.requests[0].json["message_token"],
                            rcv.requests[1].json["message_token"])

    def test_url_with_a_query_keeps_it(self):
        ch = channel(SB)
        rcv = self.receiver(token=ch.token, require_sig=True)
        url = rcv.url("/hook?channel=7&x=a%20b")
        self.assertStatus(self.set_webhook(SB, ch, url), 0)
        cb = rcv.requests[0]
        self.assertEqual(cb.query.get("channel"), ["7"])
        self.assertEqual(cb.query.get("x"), ["a b"])
        self.assertGoodCallback(cb, ch, path="/hook")
        self.assertEqual(self.account(SB, ch).get("webhook"), url)

    def test_token_in_the_body_only(self):
        ch = channel(SB)
        rcv = self.receiver(token=ch.token, require_sig=True)
        self.assertStatus(self.set_webhook(SB, ch, rcv.url(), where="body"), 0)
        self.assertGoodCallback(rcv.requests[0], ch)

    def test_localhost_name(self):
        ch = channel(SB)
        rcv = self.receiver(token=ch.token, require_sig=True)
        self.assertStatus(self.set_webhook(SB, ch, rcv.url(host="localhost")), 0)
        self.assertGoodCallback(rcv.requests[0], ch)

    def test_signature_uses_the_rotated_token(self):
        ch = channel(SB)
        old = ch.token
        ch.token = SB.cli("channel", "rotate-token", ch.pa_id)["token"]
        self.assertNotEqual(ch.token, old)
        rcv = self.receiver(token=ch.token, require_sig=True)
        self.assertStatus(self.set_webhook(SB, ch, rcv.url()), 0)
        self.assertGoodCallback(rcv.requests[0], ch)

    def test_empty_url_removes_the_webhook(self):
        ch = channel(SB, webhook="https://127.0.0.1:9/offline")
        self.assertStatus(SB.post(ch.token, ch.text("before removal")), 0)
        js = self.assertStatus(self.set_webhook(SB, ch, ""), 0)
        self.assertIn("event_types", js)
        self.assertEqual(self.account(SB, ch).get("webhook"), "")
        self.assertStatus(SB.post(ch.token, ch.text("after removal")), 10)

    def test_sandbox_http_builtin_receiver(self):
        ch = channel(SB)
        url = "http://127.0.0.1:%d/sandbox/webhook" % SB.port
        self.assertStatus(self.set_webhook(SB, ch, url), 0)
        self.assertEqual(self.account(SB, ch).get("webhook"), url)
        self.assertStatus(SB.post(ch.token, ch.text("via sandbox webhook")), 0)

    def test_sandbox_builtin_receiver_checks_the_signature(self):
        body = b'{"event":"webhook","timestamp":1457764197627,"chat_hostname":"x","message_token":1}'
        sig = vcptest.sign("not-the-token", body)
        r = SB.request("POST", "/sandbox/webhook?sig=" + sig,
                       [("X-Viber-Content-Signature", sig)], body)
        self.assertEqual(r.status, 403, "built-in receiver and a bad signature: " + r.short())

    def test_failed_check_keeps_the_old_webhook(self):
        ch = channel(SB)
        good = self.receiver(token=ch.token, require_sig=True)
        self.assertStatus(self.set_webhook(SB, ch, good.url()), 0)
        bad = self.receiver(token=ch.token, status=500)
        self.assertStatus(self.set_webhook(SB, ch, bad.url("/broken")), 1)
        self.assertEqual(self.account(SB, ch).get("webhook"), good.url())
        self.assertStatus(SB.post(ch.token, ch.text("old webhook still set")), 0)


class Refused(Base):
    def assertNoWebhook(self, v, ch):
        self.assertEqual(self.account(v, ch).get("webhook"), "")
        self.assertStatus(v.post(ch.token, ch.text("x")), 10)

    def test_refused_without_the_ca(self):
        ch = channel(SB_NOCA)
        rcv = self.receiver(token=ch.token)
        self.assertStatus(self.set_webhook(SB_NOCA, ch, rcv.url()), 1, "TLS")
        self.assertEqual(rcv.requests, [], "no request may pass an unverified handshake")
        self.assertGreaterEqual(rcv.wait("connections", 1, 2), 1, "vcpd never connected")
        self.assertNoWebhook(SB_NOCA, ch)

    def test_refused_self_signed(self):
        ch = channel(SB)
        rcv = self.receiver(CERTS.selfsigned, token=ch.token)
        self.assertStatus(self.set_webhook(SB, ch, rcv.url()), 1, "TLS")
        self.assertEqual(rcv.requests, [])
        self.assertGreaterEqual(rcv.wait("connections", 1, 2), 1, "vcpd never connected")
        self.assertNoWebhook(SB, ch)

    def test_refused_wrong_host(self):
        ch = channel(SB)
        rcv = self.receiver(CERTS.wronghost, token=ch.token)
        self.assertStatus(self.set_webhook(SB, ch, rcv.url()), 1, "TLS")
        self.assertEqual(rcv.requests, [])
        self.assertNoWebhook(SB, ch)

    def test_refused_on_500(self):
        ch = channel(SB)
        rcv = self.receiver(token=ch.token, status=500)
        self.assertStatus(self.set_webhook(SB, ch, rcv.url()), 1, "500")
        self.assertEqual(len(rcv.requests), 1)
        self.assertTrue(rcv.requests[0].sig_ok, "the callback itself was fine")
        self.assertNoWebhook(SB, ch)

    def test_only_200_succeeds(self):
        for status in (201, 204, 404):
            with self.subTest(status=status):
                ch = channel(SB)
                rcv = self.receiver(token=ch.token, status=status)
                self.assertStatus(self.set_webhook(SB, ch, rcv.url()), 1, str(status))
                self.assertEqual(len(rcv.requests), 1)
                self.assertNoWebhook(SB, ch)

    def test_redirect_not_followed(self):
        for status in (302, 307):
            with self.subTest(status=status):
                ch = channel(SB)
                rcv = self.receiver(token=ch.token, status=status)
                self.assertStatus(self.set_webhook(SB, ch, rcv.url()), 1, str(status))
                self.assertEqual([cb.path for cb in rcv.requests], ["/viber/webhook"],
                                 "the redirect was followed")
                self.assertNoWebhook(SB, ch)

    def test_slow_receiver_times_out(self):
        ch = channel(SB)
        rcv = self.receiver(token=ch.token, delay=8)
        t0 = time.monotonic()
        r = self.set_webhook(SB, ch, rcv.url())
        took = time.monotonic() - t0
        rcv.release()
        self.assertStatus(r, 1, "timed out")
        self.assertEqual(len(rcv.requests), 1)
        self.assertGreater(took, TIMEOUT_MS / 1000 * 0.8, "answered before the timeout")
        self.assertLess(took, TIMEOUT_MS / 1000 + 2.5, "--webhook-timeout not honoured")
        self.assertNoWebhook(SB, ch)

    def test_closed_port_is_refused(self):
        ch = channel(SB)
        rcv = self.receiver()
        url = rcv.url()
        rcv.close()  # nothing listens there now
        self.assertStatus(self.set_webhook(SB, ch, url), 1)
        self.assertNoWebhook(SB, ch)

    def test_http_refused_without_sandbox(self):
        ch = channel(PROD)
        r = self.set_webhook(PROD, ch, "http://127.0.0.1:%d/sandbox/webhook" % PROD.port)
        self.assertStatus(r, 1, "https")
        self.assertNoWebhook(PROD, ch)

    def test_ssrf_guard_without_sandbox(self):
        ch = channel(PROD)
        rcv = self.receiver(token=ch.token)
        for host in ("127.0.0.1", "localhost", "127.0.0.2", "[::1]", "[::ffff:127.0.0.1]"):
            with self.subTest(host=host):
                r = self.set_webhook(PROD, ch, rcv.url(host=host))
                self.assertStatus(r, 1, "address not allowed")
        self.assertEqual(rcv.wait("connections", 1, 0.3), 0, "vcpd connected to a loopback webhook")
        self.assertEqual(rcv.requests, [])
        self.assertNoWebhook(PROD, ch)


class NotBlocking(Base):
    def test_slow_check_does_not_delay_posts(self):
        a = channel(SLOW, webhook="https://127.0.0.1:9/a")
        b = channel(SLOW, webhook="https://127.0.0.1:9/b")
        rcv = self.receiver(token=a.token, delay=5)
        out = {}

        def check():
            t0 = time.monotonic()
            out["resp"] = self.set_webhook(SLOW, a, rcv.url())
            out["took"] = time.monotonic() - t0

        t = threading.Thread(target=check, daemon=True)
        t.start()
        try:
            self.assertEqual(rcv.wait("requests", 1, 5), 1, "the check never reached the receiver")
            for ch, what in ((b, "other channel"), (a, "same channel")):
                t0 = time.monotonic()
                r = SLOW.post(ch.token, ch.text("while a check is pending: " + what))
                took = time.monotonic() - t0
                self.assertStatus(r, 0)
                self.assertLess(took, 1.0, "post on the %s took %.2f s" % (what, took))
            t0 = time.monotonic()
            self.assertStatus(SLOW.api("/pa/get_account_info", token=b.token), 0)
            self.assertLess(time.monotonic() - t0, 1.0)
            self.assertTrue(t.is_alive(), "set_webhook answered before its callback did")
        finally:
            rcv.release()
            t.join(15)
        self.assertStatus(out["resp"], 0)
        self.assertEqual(self.account(SLOW, a).get("webhook"), rcv.url())

    def test_checks_run_in_parallel(self):
        chans = [channel(SLOW) for _ in range(3)]
        rcv = self.receiver(delay=5)
        results = [None] * 3

        def check(i):
            results[i] = self.set_webhook(SLOW, chans[i], rcv.url("/p%d" % i))

        threads = [threading.Thread(target=check, args=(i,), daemon=True) for i in range(3)]
        for t in threads:
            t.start()
        try:
            self.assertEqual(rcv.wait("requests", 3, 4), 3,
                             "three slow checks were not pending at the same time")
        finally:
            rcv.release()
            for t in threads:
                t.join(15)
        for r in results:
            self.assertStatus(r, 0)


class Shutdown(Base):
    def test_sigterm_while_a_check_is_pending(self):
        v = vcptest.Vcpd("--sandbox", "--webhook-ca", CERTS.ca, "--webhook-timeout", "10000",
                         name="webhook-shutdown").start()
        ch = channel(v)
        rcv = self.receiver(token=ch.token, delay=30)
        out = {}

        def check():
            try:
                out["resp"] = self.set_webhook(v, ch, rcv.url(), timeout=30)
            except Exception as e:  # the connection may be closed instead of answered
                out["error"] = e

        t = threading.Thread(target=check, daemon=True)
        t.start()
        try:
            self.assertEqual(rcv.wait("requests", 1, 5), 1)
            t0 = time.monotonic()
            rc = v.stop(timeout=15)
            took = time.monotonic() - t0
            t.join(5)
            self.assertFalse(t.is_alive(), "set_webhook still waiting after vcpd exited")
            self.assertEqual(rc, 0, "exit status with a check in flight\n" + v.tail(v.stderr_path))
            self.assertLess(took, 12, "shutdown waited %.1f s" % took)
            if "resp" in out and out["resp"].status == 200:
                self.assertNotEqual(out["resp"].json.get("status"), 0, out["resp"].short())
        finally:
            rcv.release()
            v.stop_checked()


if __name__ == "__main__":
    vcptest.main()
