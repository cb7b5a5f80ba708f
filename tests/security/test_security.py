#!/usr/bin/env python3
"""Security tests of vcpd (docs/SECURITY.md says what each one guards):

  TokenSecrecy   after a run full of bad requests, webhook failures, token
                 rotations (admin API and CLI) and admin-key guesses, no
                 token and no admin key appears in the access log, stderr,
                 /metrics or any API answer; the database file holds no
                 token, only its SHA-256
  AdminAuth      the admin API answers 401 without the key, with a wrong
                 one, a prefix of it, another scheme; 403 when no key is set
  SsrfGuard      without --sandbox, set_webhook to loopback, private,
                 link-local, unique-local, CGNAT, multicast, broadcast,
                 unspecified, IPv4-mapped/-compatible/NAT64/6to4 addresses,
                 decimal/octal/hex spellings, localhost and names from a
                 hosts file (bind-mounted over /etc/hosts in a private mount
                 namespace, vcpd alone runs in it) all give 1 "address not
                 allowed" -- and no connection reaches the listeners
  TlsChecks      with --sandbox and the run's CA: expired, not yet valid,
                 self-signed, wrong-host and unknown-CA certificates give 1
                 with a TLS detail; the good certificate gives 0

    python3 tests/security/test_security.py build/src/server/vcpd [-k Ssrf]

Every connection goes to 127.0.0.1 or ::1; no test makes vcpd resolve a
name that is not in the hosts file (no DNS traffic).
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import vcptest  # noqa: E402

ADMIN_KEY = "adm-" + os.urandom(16).hex()


class Listener:
    """TCP listeners on 127.0.0.1:P and [::1]:P that count connections (a
    refused webhook must never connect)."""

    def __init__(self):
        self.hits = []
        self.socks = []
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s4.bind(("127.0.0.1", 0))
        self.port = s4.getsockname()[1]
        self.socks.append(s4)
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s6.bind(("::1", self.port))
            self.socks.append(s6)
        except OSError:
            pass  # no IPv6 loopback: the v4 listener still counts
        for s in self.socks:
            s.listen(64)
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s):
        while True:
            try:
                c, addr = s.accept()
            except OSError:
                return
            self.hits.append(addr)
            c.close()

    def close(self):
        for s in self.socks:
            s.close()


def namespace_wrapper(d, hosts_text):
    """A script that runs vcpd in a private mount namespace with hosts_text
    bind-mounted over /etc/hosts (the real file is never touched).  None
    when this machine cannot do that (no unshare, not root)."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        return None
    hosts = os.path.join(d, "hosts")
    with open(hosts, "w") as f:
        f.write(hosts_text)
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            "mount --bind '%s' /etc/hosts && grep -q evil-loop.test /etc/hosts" % hosts],
                           capture_output=True)
    if probe.returncode != 0:
        return None
    wrap = os.path.join(d, "vcpd-hosts")
    with open(wrap, "w") as f:
        f.write("#!/bin/sh\n# vcpd with %s as /etc/hosts, in its own mount namespace\n"
                "exec unshare -m sh -c 'h=$1; shift; mount --bind \"$h\" /etc/hosts && exec \"$@\"' "
                "sh '%s' '%s' \"$@\"\n" % (hosts, hosts, vcptest.vcpd_bin()))
    os.chmod(wrap, 0o755)
    return wrap


class NsVcpd(vcptest.Vcpd):
    """A Vcpd started through a wrapper script instead of the binary."""

    def __init__(self, wrapper, *flags, **kw):
        super().__init__(*flags, **kw)
        self.wrapper = wrapper

    def start(self, timeout=20.0):
        real = vcptest._VCPD
        vcptest._VCPD = self.wrapper
        try:
            return super().start(timeout)
        finally:
            vcptest._VCPD = real


def make_dated_cert(ca, d, base, start, end):
    """A leaf for 127.0.0.1/::1/localhost signed by the run's CA with the
    given validity (openssl ca -startdate/-enddate, YYYYMMDDHHMMSSZ)."""
    p = lambda name: os.path.join(d, name)  # noqa: E731
    os.makedirs(p("newcerts"), exist_ok=True)
    open(p("index.txt"), "a").close()
    if not os.path.exists(p("serial")):
        with open(p("serial"), "w") as f:
            f.write("%s\n" % os.urandom(8).hex())
    with open(p("ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = dflt\n[dflt]\ndir = %s\ndatabase = %s\nnew_certs_dir = %s\n"
                "serial = %s\ndefault_md = sha256\npolicy = pol\nunique_subject = no\n"
                "[pol]\ncommonName = supplied\norganizationName = optional\n"
                "[leaf]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost\n"
                % (d, p("index.txt"), p("newcerts"), p("serial")))
    vcptest._openssl("req", "-new", *vcptest._EC_KEY, "-keyout", p(base + ".key"),
                     "-out", p(base + ".csr"), "-subj", "/O=vcp e2e/CN=127.0.0.1")
    vcptest._openssl("ca", "-batch", "-config", p("ca.cnf"), "-cert", ca.ca, "-keyfile", ca.ca_key,
                     "-in", p(base + ".csr"), "-out", p(base + ".pem"), "-startdate", start,
                     "-enddate", end, "-extensions", "leaf", "-notext")
    return p(base + ".pem"), p(base + ".key")


def read_all(paths):
    out = b""
    for path in paths:
        if os.path.exists(path):
            with open(path, "rb") as f:
                out += f.read()
    return out


class TokenSecrecy(unittest.TestCase):
    def test_tokens_never_logged_and_stored_hashed(self):
        lis = Listener()
        self.addCleanup(lis.close)
        ca = vcptest.make_ca(vcptest.make_temp_dir("sec-ca"))
        v = vcptest.Vcpd(admin_key=ADMIN_KEY, name="secrecy")
        sb = vcptest.Vcpd("--sandbox", "--webhook-ca", ca.ca, "--webhook-timeout", "2000",
                          name="secrecy-sandbox")
        v.start()
        sb.start()
        answers = []  # every API answer body that must not hold a secret
        tokens = []

        def api(inst, *a, **kw):
            r = inst.api(*a, **kw)
            answers.append(r.raw)
            return r

        # channel made over the admin API (its answer legitimately holds the token)
        r = v.admin("POST", "/admin/v1/channels", {"name": "Secret", "superadmin": "Ann",
                                                   "webhook": "https://127.0.0.1:9/h"})
        self.assertEqual(r.status, 201, r.short())
        tok = r.json["token"]
        tokens.append(tok)
        pa = r.json["channel"]["id"]
        sa = r.json["superadmin"]["id"]
        self.assertEqual(api(v, "/pa/get_account_info", token=tok).json["status"], 0)
        for where in ("header", "body", "both"):
            api(v, "/pa/post", {"from": sa, "type": "text"}, token=tok, where=where)
            api(v, "/pa/post", {"from": sa, "type": "text", "text": "x" * 7001}, token=tok, where=where)
            api(v, "/pa/post", {"from": "nobody", "type": "nope"}, token=tok, where=where)
            api(v, "/pa/post", {"from": sa, "type": "picture", "text": "", "media": "ftp://x"},
                token=tok, where=where)
        # broken JSON around the token, a token in the query string
        for body in ('{"auth_token":"%s", bad' % tok, '{"auth_token":"%s"' % tok,
                     '{"auth_token":"%s","x":NaN}' % tok, "[\"%s\"]" % tok,
                     '{"auth_token":"%s"}' % (tok + "x"), '{"auth_token":"%s "}' % tok):
            api(v, "/pa/post", body.encode())
        answers.append(vcptest.http_request(v.port, "GET", "/pa/get_account_info?auth_token=" + tok).raw)
        answers.append(vcptest.http_request(v.port, "GET", "/pa/nothing?auth_token=" + tok,
                                            headers=[("X-Viber-Auth-Token", tok)]).raw)
        answers.append(vcptest.http_request(v.port, "PUT", "/pa/post",
                                            headers=[("X-Viber-Auth-Token", tok)]).raw)
        api(v, "/pa/post", {"from": sa, "type": "text", "text": "hi"}, token=tok.upper())
        api(v, "/pa/post", {"from": sa, "type": "text", "text": "hi"}, token=tok + tok)
        # webhook failures: the SSRF guard (no sandbox) ...
        for url in ("https://127.0.0.1:%d/h" % lis.port, "https://[::1]:%d/h" % lis.port,
                    "http://127.0.0.1:%d/h" % lis.port):
            self.assertEqual(api(v, "/pa/set_webhook", {"url": url}, token=tok).json["status"], 1)
        # ... and TLS failures, non-200 answers, timeouts (sandbox instance)
        sbch = sb.create_channel("SecretSandbox")
        tokens.append(sbch.token)
        bad = vcptest.HttpsReceiver(ca.selfsigned)
        err = vcptest.HttpsReceiver(ca.server, status=500)
        slow = vcptest.HttpsReceiver(ca.server, delay=5)
        for rc in (bad, err, slow):
            self.addCleanup(rc.close)
            r = api(sb, "/pa/set_webhook", {"url": rc.url()}, token=sbch.token, where="both")
            self.assertEqual(r.json["status"], 1, r.short())
        good = vcptest.HttpsReceiver(ca.server, token=sbch.token, require_sig=True)
        self.addCleanup(good.close)
        self.assertEqual(api(sb, "/pa/set_webhook", {"url": good.url()}, token=sbch.token).json["status"], 0)
        # rotations: over the admin API, then offline while vcpd runs
        r = v.admin("POST", "/admin/v1/channels/%s/rotate-token" % pa)
        self.assertEqual(r.status, 200, r.short())
        tok2 = r.json["token"]
        tokens.append(tok2)
        self.assertEqual(api(v, "/pa/get_account_info", token=tok).json["status"], 2)
        self.assertEqual(api(v, "/pa/get_account_info", token=tok2).json["status"], 0)
        tok3 = v.cli("channel", "rotate-token", pa)["token"]
        tokens.append(tok3)
        for t in (tok, tok2):
            self.assertEqual(api(v, "/pa/get_account_info", token=t).json["status"], 2)
        self.assertEqual(api(v, "/pa/get_account_info", token=tok3).json["status"], 0)
        # state changes answer with the channel id, never the token
        v.admin("POST", "/admin/v1/channels/%s/block" % pa)
        self.assertEqual(api(v, "/pa/get_account_info", token=tok3).json["status"], 7)
        v.admin("POST", "/admin/v1/channels/%s/activate" % pa)
        # admin key guesses
        for key in ("", "wrong-key-0123456789", ADMIN_KEY[:-1], ADMIN_KEY + "x"):
            answers.append(v.admin("GET", "/admin/v1/channels", key=key).raw)
        answers.append(vcptest.http_request(v.port, "GET", "/metrics").raw)
        answers.append(vcptest.http_request(sb.port, "GET", "/metrics").raw)

        v.stop_checked()
        sb.stop_checked()
        logs = read_all(v.logs + sb.logs)
        self.assertGreater(len(logs), 1000, "the logs are suspiciously empty")
        secrets = tokens + [ADMIN_KEY]
        for s in secrets:
            b = s.encode()
            self.assertNotIn(b, logs, "a secret is in the logs")
            self.assertNotIn(b.lower(), logs.lower(), "a secret is in the logs (case folded)")
            for a in answers:
                self.assertNotIn(b, a, "a secret is in an answer: %r" % a[:300])

        # at rest: hashes only (the database, its WAL and shared memory)
        # (on PostgreSQL: a dump of the database's data, where bytea is hex text)
        for inst, live in ((v, tok3), (sb, sbch.token)):
            digest = hashlib.sha256(live.encode()).digest()
            if vcptest.BACKEND == "postgresql":
                sys.path.insert(0, os.path.join(vcptest.HERE))
                import pgcluster
                data = pgcluster.shared().dump(inst.db)
                digest = b"\\x" + digest.hex().encode()
            else:
                data = read_all([inst.db, inst.db + "-wal", inst.db + "-shm"])
            self.assertGreater(len(data), 0)
            for s in secrets:
                self.assertNotIn(s.encode(), data, "a token is stored in clear in %s" % inst.db)
            self.assertIn(digest, data, "the live token's SHA-256 is not in %s" % inst.db)
        print("\n  %d secrets, %d answers, %d bytes of logs checked" % (
            len(secrets), len(answers), len(logs)), file=sys.stderr)


class AdminAuth(unittest.TestCase):
    def test_admin_key_required(self):
        v = vcptest.Vcpd(admin_key=ADMIN_KEY, name="admin")
        v.start()
        self.addCleanup(v.stop_checked)
        wrong = {
            "no header": [],
            "empty bearer": [("Authorization", "Bearer ")],
            "wrong key": [("Authorization", "Bearer " + "k" * len(ADMIN_KEY))],
            "prefix": [("Authorization", "Bearer " + ADMIN_KEY[:-1])],
            "longer": [("Authorization", "Bearer " + ADMIN_KEY + "0")],
            "other scheme": [("Authorization", "Basic " + ADMIN_KEY)],
            "bare key": [("Authorization", ADMIN_KEY)],
            "other header": [("X-Admin-Key", ADMIN_KEY)],
        }
        for name, hdrs in wrong.items():
            for method, path, body in (("GET", "/admin/v1/channels", None),
                                       ("POST", "/admin/v1/channels", b'{"name":"Intruder"}')):
                h = list(hdrs) + ([("Content-Type", "application/json")] if body else [])
                r = vcptest.http_request(v.port, method, path, h, body)
                self.assertEqual(r.status, 401, "%s %s with %s: %s" % (method, path, name, r.short()))
        r = v.admin("GET", "/admin/v1/channels")
        self.assertEqual(r.status, 200, r.short())
        self.assertEqual(r.json["channels"], [], "a refused request created a channel")
        # without a configured key the API is off: 403 whatever is sent
        off = vcptest.Vcpd(name="admin-off")
        off.start()
        self.addCleanup(off.stop_checked)
        for hdrs in ([], [("Authorization", "Bearer " + ADMIN_KEY)]):
            r = vcptest.http_request(off.port, "GET", "/admin/v1/channels", hdrs)
            self.assertEqual(r.status, 403, r.short())


# Host names the SSRF test resolves through its own hosts file.
HOSTS = """127.0.0.1 localhost
::1 localhost ip6-localhost
127.0.0.1 evil-loop.test
127.9.9.9 evil-loop2.test
10.1.2.3 evil-private.test
192.168.7.7 evil-private2.test
169.254.169.254 evil-metadata.test
::1 evil-v6.test
::ffff:127.0.0.1 evil-mapped.test
fd00::1 evil-ula.test
fe80::1 evil-linklocal.test
10.0.0.1 evil-multi.test
127.0.0.1 evil-multi.test
"""

SSRF_HOSTS = [
    "127.0.0.1", "127.1.2.3", "[::1]", "0.0.0.0", "[::]", "10.0.0.1", "172.16.0.1",
    "172.31.255.254", "192.168.0.1", "100.64.0.1", "169.254.169.254", "224.0.0.1",
    "255.255.255.255", "[fe80::1]", "[fc00::1]", "[fd12:3456::1]", "[ff02::1]",
    "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::ffff:10.0.0.1]", "[::ffff:169.254.169.254]",
    "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[2002:a00:1::1]",
    "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "017700000001", "127.1", "0",
    "localhost", "LOCALHOST",
]
SSRF_NAMES = ["evil-loop.test", "evil-loop2.test", "evil-private.test", "evil-private2.test",
              "evil-metadata.test", "evil-v6.test", "evil-mapped.test", "evil-ula.test",
              "evil-linklocal.test", "evil-multi.test"]


class SsrfGuard(unittest.TestCase):
    def check(self, v, ch, lis, hosts):
        results = []
        for h in hosts:
            url = "https://%s:%d/hook" % (h, lis.port)
            r = v.api("/pa/set_webhook", {"url": url}, token=ch.token)
            results.append("%s -> %s" % (h, r.json.get("detail")))
            self.assertEqual(r.json["status"], 1, "%s: %s" % (url, r.short()))
            self.assertIn("address not allowed", r.json.get("detail", ""), url)
        self.assertEqual(lis.hits, [], "a refused webhook connected")
        return results

    def test_private_addresses_refused(self):
        lis = Listener()
        self.addCleanup(lis.close)
        v = vcptest.Vcpd(name="ssrf")
        ch = v.create_channel("Ssrf")
        v.start()
        self.addCleanup(v.stop_checked)
        res = self.check(v, ch, lis, SSRF_HOSTS)
        # http:// is refused earlier, by the URL policy
        r = v.api("/pa/set_webhook", {"url": "http://127.0.0.1:%d/" % lis.port}, token=ch.token)
        self.assertEqual((r.json["status"], r.json["detail"]), (1, "url: must use https"))
        print("\n  " + "; ".join(res), file=sys.stderr)

    def test_hosts_file_names_refused(self):
        d = vcptest.make_temp_dir("ssrf-ns")
        wrap = namespace_wrapper(d, HOSTS)
        if wrap is None:
            self.skipTest("cannot bind-mount a hosts file in a private mount namespace here")
        lis = Listener()
        self.addCleanup(lis.close)
        v = NsVcpd(wrap, name="ssrf-ns")
        ch = v.create_channel("SsrfNames")
        v.start()
        self.addCleanup(v.stop_checked)
        res = self.check(v, ch, lis, SSRF_NAMES)
        print("\n  " + "; ".join(res), file=sys.stderr)


class TlsChecks(unittest.TestCase):
    def test_bad_certificates_refused(self):
        d = vcptest.make_temp_dir("tls")
        ca = vcptest.make_ca(d)
        expired = make_dated_cert(ca, d, "expired", "20200101000000Z", "20200201000000Z")
        future = make_dated_cert(ca, d, "future", "20990101000000Z", "20990201000000Z")
        other = vcptest.make_ca(os.path.join(d, "other"))  # a CA vcpd does not know
        v = vcptest.Vcpd("--sandbox", "--webhook-ca", ca.ca, "--webhook-timeout", "3000", name="tls")
        ch = v.create_channel("Tls")
        v.start()
        self.addCleanup(v.stop_checked)
        cases = [("expired", expired, "127.0.0.1"), ("not yet valid", future, "127.0.0.1"),
                 ("self-signed", ca.selfsigned, "127.0.0.1"),
                 ("wrong host", ca.wronghost, "127.0.0.1"),
                 ("unknown CA", other.server, "127.0.0.1")]
        seen = []
        for name, cert, host in cases:
            rc = vcptest.HttpsReceiver(cert, token=ch.token)
            self.addCleanup(rc.close)
            r = v.api("/pa/set_webhook", {"url": rc.url(host=host)}, token=ch.token)
            seen.append("%s -> %s" % (name, r.json.get("detail")))
            self.assertEqual(r.json["status"], 1, "%s: %s" % (name, r.short()))
            self.assertTrue(r.json["detail"].startswith("TLS"), "%s: %s" % (name, r.short()))
            self.assertEqual(rc.requests, [], "%s: the callback was sent" % name)
        # the control: the good certificate passes, by name and by address
        for host in ("127.0.0.1", "localhost"):
            good = vcptest.HttpsReceiver(ca.server, token=ch.token, require_sig=True)
            self.addCleanup(good.close)
            r = v.api("/pa/set_webhook", {"url": good.url(host=host)}, token=ch.token)
            self.assertEqual(r.json["status"], 0, r.short())
        print("\n  " + "; ".join(seen), file=sys.stderr)


if __name__ == "__main__":
    vcptest.main()
