#!/usr/bin/env python3
"""Abuse limits of vcpd, one test each (docs/SECURITY.md lists them):

  idle/slow-loris  2,000 connections from 127.0.0.2 (half idle, half sending
                   a header line now and then) do not keep a client on
                   127.0.0.1 from being answered: p99 of 50 get_account_info
                   calls under 100 ms
  per-IP limit     --max-connections-per-ip N: connection N+1 from one
                   address is closed unanswered; other addresses are served
  timeouts         --connection-timeout S: half a header, or a header and
                   half a body, or a request answered, then silence: closed
                   after about S s
  body cap         Content-Length over 1 MiB: 413 at once, body unread;
                   a chunked body over it: 413; 30 KiB + 1: 3 badData
  JSON depth       16 levels are read, 17 are 3 badData; 30,000 '[' too
  headers, URLs    oversized: libmicrohttpd answers 431/414 and closes;
                   vcpd goes on serving
  rate flood       5,000 posts past a 10/60 s limit: every one 12, median
                   latency small, vcpd's CPU time per rejected post small

    python3 tests/abuse/test_abuse.py build/src/server/vcpd [-k flood]

Figures are printed to stderr.  Standard library only; sockets go to
127.0.0.1 and 127.0.0.2 only.
"""
import http.client
import json
import os
import resource
import socket
import statistics
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import vcptest  # noqa: E402

OTHER = "127.0.0.2"  # the abusive peer: another loopback address
HOOK = "https://127.0.0.1:9/hook"  # stored without a check; never called


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connect_from(src, port, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_until_closed(s, limit):
    """Reads until EOF/reset or limit seconds.  Returns (seconds, bytes,
    closed)."""
    t0 = time.monotonic()
    out = b""
    s.settimeout(0.2)
    while time.monotonic() - t0 < limit:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0, out, True
        if not b:
            return time.monotonic() - t0, out, True
        out += b
    return time.monotonic() - t0, out, False


def proc_cpu_s(pid):
    """utime + stime of a process in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def socket_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def alive(v):
    r = vcptest.http_request(v.port, "GET", "/healthz", timeout=5)
    return r.status == 200


class Abuse(unittest.TestCase):
    def vcpd(self, *flags, **kw):
        # libmicrohttpd logs every dropped connection to stderr: that log
        # stays, the access log (one line per request) goes.
        v = vcptest.Vcpd(*flags, "--access-log", "off", **kw)
        self.addCleanup(v.stop_checked)
        return v

    def test_2000_idle_and_slowloris(self):
        n = 2000
        have = raise_nofile(n + 512)
        self.assertGreaterEqual(have, n + 200, "RLIMIT_NOFILE too low for the test")
        v = self.vcpd("--max-connections-per-ip", str(n + 100), name="loris")
        ch = v.create_channel("Loris", webhook=HOOK)
        v.start()
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        t0 = time.monotonic()
        for i in range(n):
            s = connect_from(OTHER, v.port)
            if i % 2:
                # slow loris: a request line and a first header, never finished
                s.sendall(b"POST /pa/post HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        opened = time.monotonic() - t0
        # vcpd has accepted them all (it holds one socket each)
        deadline = time.monotonic() + 10
        while socket_fds(v.proc.pid) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        held = socket_fds(v.proc.pid)
        self.assertGreaterEqual(held, n, "vcpd did not accept the %d connections" % n)

        stop = threading.Event()

        def trickle():  # the slow half sends one more header line now and then
            k = 0
            while not stop.wait(0.5):
                for s in socks[1::2][k % 10::10]:
                    try:
                        s.sendall(b"X-Slow: %d\r\n" % k)
                    except OSError:
                        pass
                k += 1
        tr = threading.Thread(target=trickle, daemon=True)
        tr.start()
        self.addCleanup(stop.set)

        lat = []
        for i in range(50):
            # not vcptest.http_request: its select() cannot take fds >= 1024
            t0 = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=10)
            conn.request("GET", "/pa/get_account_info", headers={"X-Viber-Auth-Token": ch.token})
            resp = conn.getresponse()
            js = json.loads(resp.read())
            conn.close()
            lat.append((time.monotonic() - t0) * 1000)
            self.assertEqual((resp.status, js.get("status")), (200, 0), js)
        stop.set()
        tr.join()
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print("\n  %d connections from %s opened in %.2f s, vcpd holds %d sockets; "
              "get_account_info from 127.0.0.1: median %.2f ms, p99 %.2f ms, max %.2f ms"
              % (n, OTHER, opened, held, statistics.median(lat), p99, lat[-1]), file=sys.stderr)
        self.assertLess(p99, 100.0)
        # the slow ones are still held open (nothing else closed them)
        self.assertGreaterEqual(socket_fds(v.proc.pid), n - 10)

    def test_per_ip_connection_limit(self):
        limit = 8
        v = self.vcpd("--max-connections-per-ip", str(limit), name="perip")
        ch = v.create_channel("PerIP", webhook=HOOK)
        v.start()
        held = [connect_from(OTHER, v.port) for _ in range(limit)]
        self.addCleanup(lambda: [s.close() for s in held])
        time.sleep(0.2)
        # one more from the same address: closed without an answer
        extra = connect_from(OTHER, v.port)
        try:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass
        secs, data, closed = read_until_closed(extra, 3.0)
        extra.close()
        print("\n  connection %d from %s: closed=%s after %.3f s, %d bytes answered"
              % (limit + 1, OTHER, closed, secs, len(data)), file=sys.stderr)
        self.assertTrue(closed, "connection beyond the per-IP limit was kept open")
        self.assertEqual(data, b"", "connection beyond the per-IP limit was answered")
        # another address is served meanwhile
        r = v.api("/pa/get_account_info", token=ch.token)
        self.assertEqual(r.json["status"], 0)
        # the held connections themselves still work
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        _, data, _ = read_until_closed(held[0], 3.0)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
        held[0].close()
        # a freed slot is usable again
        deadline = time.monotonic() + 3
        while True:
            s = connect_from(OTHER, v.port)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            _, data, _ = read_until_closed(s, 2.0)
            s.close()
            if data.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), "freed slot not reusable: %r" % data[:100])

    def test_read_timeouts(self):
        timeout = 2
        v = self.vcpd("--connection-timeout", str(timeout), name="timeout")
        ch = v.create_channel("Timeout", webhook=HOOK)
        v.start()
        cases = {
            "idle": b"",
            # kept alive after an answer: libmicrohttpd's idle timeout
            "idle after an answer": b"POST /pa/get_account_info HTTP/1.1\r\nHost: x\r\n"
                                    b"X-Viber-Auth-Token: %s\r\nContent-Length: 2\r\n\r\n{}"
                                    % ch.token.encode(),
            "half header": b"POST /pa/post HTTP/1.1\r\nHost: x\r\nContent-Le",
            "half body": b"POST /pa/post HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"from\":",
        }
        socks = {}
        for name, data in cases.items():
            s = connect_from("127.0.0.1", v.port)
            if data:
                s.sendall(data)
            socks[name] = s
        results = {}
        threads = []
        for name, s in socks.items():
            def run(name=name, s=s):
                results[name] = read_until_closed(s, timeout + 6)
            t = threading.Thread(target=run)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        for s in socks.values():
            s.close()
        print("\n  --connection-timeout %d: %s" % (timeout, ", ".join(
            "%s closed after %.2f s" % (k, r[0]) for k, r in results.items())), file=sys.stderr)
        for name, (secs, data, closed) in results.items():
            self.assertTrue(closed, "%s: still open after %.1f s" % (name, secs))
            self.assertGreaterEqual(secs, timeout - 0.5, name)
            self.assertLessEqual(secs, timeout + 2.5, name)
        self.assertTrue(results["idle after an answer"][1].startswith(b"HTTP/1.1 200"))
        self.assertTrue(alive(v))

    def test_body_cap(self):
        v = self.vcpd(name="bodycap")
        ch = v.create_channel("Cap", webhook=HOOK)
        v.start()
        # announced: answered before any body byte is sent
        s = connect_from("127.0.0.1", v.port)
        t0 = time.monotonic()
        s.sendall(b"POST /pa/post HTTP/1.1\r\nHost: x\r\nX-Viber-Auth-Token: %s\r\n"
                  b"Content-Length: 1048577\r\n\r\n" % ch.token.encode())
        secs, data, closed = read_until_closed(s, 3.0)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        self.assertTrue(closed)
        self.assertLess(time.monotonic() - t0, 1.0)
        # chunked, no length known: read, dropped, 413 at the end
        s = connect_from("127.0.0.1", v.port)
        s.sendall(b"POST /pa/post HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
        for _ in range(20):  # 1.25 MiB
            s.sendall(chunk)
        s.sendall(b"0\r\n\r\n")
        secs, data, closed = read_until_closed(s, 5.0)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        # just over the API limit: badData, not 413
        r = v.api("/pa/post", b'{"a":"' + b"x" * (30721 - 8) + b'"}', token=ch.token)
        self.assertEqual((r.status, r.json["status"]), (200, 3), r.short())
        self.assertIn("30721 bytes", r.json["detail"])
        self.assertTrue(alive(v))

    def test_json_depth(self):
        v = self.vcpd(name="depth")
        ch = v.create_channel("Depth", webhook=HOOK)
        v.start()

        def nested(levels):  # levels containers (an object, then arrays) around a 1
            return b'{"a":' + b"[" * (levels - 1) + b"1" + b"]" * (levels - 1) + b"}"
        r = v.api("/pa/get_account_info", nested(16), token=ch.token)
        self.assertEqual(r.json["status"], 0, r.short())
        r = v.api("/pa/get_account_info", nested(17), token=ch.token)
        self.assertEqual(r.json["status"], 3, r.short())
        self.assertEqual(r.json["detail"], "body: nested deeper than 16 levels")
        detail = r.json["detail"]
        t0 = time.monotonic()
        for body in (b"[" * 30000, b'{"a":' * 4000 + b"1" + b"}" * 4000):
            r = v.api("/pa/post", body, token=ch.token)
            self.assertEqual(r.json["status"], 3, r.short())
            self.assertEqual(r.json["detail"], "body: nested deeper than 16 levels")
        print("\n  depth 16 read, 17 refused (%s); 30,000 '[' and 4,000 '{' refused in %.1f ms"
              % (detail, (time.monotonic() - t0) * 1000), file=sys.stderr)
        self.assertTrue(alive(v))

    def test_oversized_headers_and_urls(self):
        v = self.vcpd(name="headers")
        ch = v.create_channel("Headers", webhook=HOOK)
        v.start()
        cases = {
            "URL 70 KB": b"GET /pa/get_account_info?" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "header 70 KB": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
            "5,000 headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Many: b\r\n" * 5000 + b"\r\n",
            "token 70 KB": b"GET /pa/get_account_info HTTP/1.1\r\nHost: x\r\nX-Viber-Auth-Token: "
                           + b"t" * 70000 + b"\r\n\r\n",
        }
        seen = []
        for name, data in cases.items():
            s = connect_from("127.0.0.1", v.port)
            try:
                s.sendall(data)
            except OSError:
                pass
            secs, out, closed = read_until_closed(s, 5.0)
            s.close()
            line = out.split(b"\r\n", 1)[0].decode("latin-1")
            seen.append("%s -> %s" % (name, line or "closed"))
            self.assertTrue(closed, name)
            self.assertTrue(line == "" or line.split()[1] in ("414", "431", "413", "400"),
                            "%s: %s" % (name, line))
            self.assertTrue(alive(v), "vcpd stopped answering after %s" % name)
        # a long but acceptable token is refused by vcpd itself, not looked up
        r = v.api("/pa/get_account_info", token="t" * 300)
        self.assertEqual(r.json["status"], 2)
        print("\n  " + "; ".join(seen), file=sys.stderr)

    def test_rate_limit_flood(self):
        v = self.vcpd(name="flood")
        ch = v.create_channel("Flood", webhook=HOOK, rate="10/60")
        v.start()
        for _ in range(10):
            r = v.post(ch.token, ch.text("within"))
            self.assertEqual(r.json["status"], 0, r.short())
        total, threads = 5000, 4
        body = json.dumps(ch.text("flood")).encode()
        lat, answers = [], {}
        lock = threading.Lock()

        def flood(n):
            conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=10)
            mine, got = [], {}
            for _ in range(n):
                t0 = time.monotonic()
                conn.request("POST", "/pa/post", body, {"X-Viber-Auth-Token": ch.token})
                resp = conn.getresponse()
                js = json.loads(resp.read())
                mine.append((time.monotonic() - t0) * 1000)
                got[js["status"]] = got.get(js["status"], 0) + 1
            conn.close()
            with lock:
                lat.extend(mine)
                for k, c in got.items():
                    answers[k] = answers.get(k, 0) + c
        cpu0 = proc_cpu_s(v.proc.pid)
        t0 = time.monotonic()
        ts = [threading.Thread(target=flood, args=(total // threads,)) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.monotonic() - t0
        cpu = proc_cpu_s(v.proc.pid) - cpu0
        lat.sort()
        per = cpu / total * 1e6
        print("\n  %d posts past 10/60 s: answers %s in %.2f s (%.0f/s); latency median %.3f ms, "
              "p99 %.3f ms; vcpd CPU %.2f s = %.0f us per rejected post"
              % (total, answers, wall, total / wall, statistics.median(lat),
                 lat[int(len(lat) * 0.99)], cpu, per), file=sys.stderr)
        self.assertEqual(answers, {12: total})
        self.assertLess(statistics.median(lat), 20.0)
        self.assertLess(per, 1000.0, "more than 1 ms of CPU per rejected request")
        # nothing past the limit was stored
        info = v.cli("channel", "show", ch.pa_id)
        posts = info.get("channel", info).get("posts")
        self.assertEqual(posts, 10, info)


if __name__ == "__main__":
    vcptest.main()
