"""Event streams that cannot be abused or lose a post (issue 9, section 1),
over real sockets: commit-order delivery under concurrent posting, replays
read in pages with bounded memory, streams under the per-address limits,
and a stream asked for on a kept-alive API connection.

Usage: test_streams.py PATH/TO/vcpd [unittest args]
"""

import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from feedlib import ChannelCase, Sse  # noqa: E402



def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Delivery(ChannelCase):
    def test_concurrent_posts_reach_every_stream_in_order(self):
        """16 posters at once fill group commits of many posts, whose
        requests libmicrohttpd resumes in any order: a live viewer and a
        resuming viewer each get every post exactly once, in token order."""
        first = self.post({"type": "text", "text": "before"})
        live = Sse(self.v.port, self.base + "/events")
        live.next(2)  # retry line: registered
        resumed = Sse(self.v.port, self.base + "/events", last_event_id=first)
        posted, errors = [], []
        lock = threading.Lock()

        def poster(k):
            try:
                for i in range(30):
                    t = self.post({"type": "text", "text": "p %d %d" % (k, i)})
                    with lock:
                        posted.append(t)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=poster, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        want = sorted(posted)
        for s in (live, resumed):
            got = [int(s.next_post(5)["id"]) for _ in range(len(want))]
            self.assertEqual(got, want, "gap, duplicate or disorder")
            s.close()
        self.ok = True

    def test_stream_on_kept_alive_api_connection(self):
        """A stream asked for after an API request on the same connection
        (browsers reuse connections) is served and goes live."""
        sock = socket.create_connection(("127.0.0.1", self.v.port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(4096)
        head, rest = buf.split(b"\r\n\r\n", 1)
        length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length")][0])
        while len(rest) < length:
            rest += sock.recv(4096)
        s = Sse(self.v.port, self.base + "/events", sock=sock)
        self.assertEqual(s.status, 200)
        t = self.post({"type": "text", "text": "live"})
        self.assertEqual(int(s.next_post(3)["id"]), t)
        s.close()
        self.ok = True


class BoundedReplay(ChannelCase):
    def setUp(self):
        # Under AddressSanitizer freed memory stays in its quarantine (256 MB
        # by default), which RSS would count as held by the replays: keep the
        # quarantine small, so RSS measures what vcpd really holds.
        asan = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=1"
        self.addCleanup(os.environ.__setitem__, "ASAN_OPTIONS", asan)
        super().setUp()

    def test_replays_that_are_not_read_hold_little_memory(self):
        """40 clients resume from the first of 400 maximal posts (~11 MB to
        replay each) and never read: vcpd reads replays a page at a time as
        sockets drain, so its memory grows by far less than one replay per
        client, and the API answers meanwhile."""
        big = "\U0001F600" * 7000  # 7000 characters, 28,000 bytes
        first = self.post({"type": "text", "text": "first"})
        for _ in range(400):
            self.post({"type": "text", "text": big})
        time.sleep(0.2)
        before = rss_kib(self.v.proc.pid)
        socks = []
        for _ in range(40):
            sk = socket.socket()
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sk.connect(("127.0.0.1", self.v.port))
            sk.sendall(("GET %s/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: %d\r\n\r\n"
                        % (self.base, first)).encode())
            socks.append(sk)
        time.sleep(1.5)
        t0 = time.time()
        status, _, _ = self.v.request("GET", "/healthz")
        took = time.time() - t0
        grown = rss_kib(self.v.proc.pid) - before
        for sk in socks:
            sk.close()
        self.assertEqual(status, 200)
        self.assertLess(took, 0.2, "the API waited for the replays")
        # one replay held in memory would be 11 MB per client, 440 MB in all
        self.assertLess(grown, 40 * 1024, "RSS grew by %d KiB" % grown)
        sys.stderr.write("\n40 unread replays: RSS +%d KiB, /healthz %.1f ms\n"
                         % (grown, took * 1000))
        self.ok = True


class AddressLimits(ChannelCase):
    extra = ("--max-connections-per-ip", "4", "--max-streams-per-ip", "2")

    def test_streams_count_toward_the_address_limits(self):
        a = Sse(self.v.port, self.base + "/events")
        b = Sse(self.v.port, self.base + "/events")
        self.assertEqual((a.status, b.status), (200, 200))
        # a third stream from the same address: 429 with a JSON detail
        c = Sse(self.v.port, self.base + "/events")
        self.assertEqual(c.status, 429)
        self.assertIn("address", json.loads(c.buf or c.sock.recv(4096))["detail"])
        c.close()
        # another address is not affected
        d = Sse(self.v.port, self.base + "/events", source="127.0.0.2")
        self.assertEqual(d.status, 200)
        # two streams + two API connections are the four this address may hold
        idle = [socket.create_connection(("127.0.0.1", self.v.port)) for _ in range(2)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", self.v.port), timeout=3)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = extra.recv(4096)
        except ConnectionResetError:
            got = b""
        self.assertEqual(got, b"", "a fifth connection was served")
        extra.close()
        for s in idle:
            s.close()
        a.close()
        # places come back when connections close
        deadline = time.time() + 3
        while True:
            # a closed idle stream is noticed at its next heartbeat (300 ms)
            try:
                e = Sse(self.v.port, self.base + "/events")
                if e.status == 200:
                    break
                e.close()
            except (ConnectionError, AssertionError):
                pass
            self.assertLess(time.time(), deadline, "stream place not given back")
            time.sleep(0.1)
        for s in (b, d, e):
            s.close()
        self.ok = True


def raw(port, data, timeout=5):
    """Sends data on a new connection; everything the server answered
    before closing."""
    sk = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sk.sendall(data)
    out = b""
    try:
        while True:
            b = sk.recv(65536)
            if not b:
                break
            out += b
    except ConnectionResetError:
        pass
    sk.close()
    return out


class RequestHead(ChannelCase):
    """A stream's request head, read by vcpd itself: refusals are JSON with
    the right status, and the connection closes."""
    extra = ("--connection-timeout", "2")

    def refused(self, data, status):
        out = raw(self.v.port, data)
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 %d " % status), out[:200])
        self.assertIn(b"Connection: close", head)
        js = json.loads(body)
        self.assertTrue(js["error"] and js["detail"], js)
        return js

    def test_refusals(self):
        ev = "GET %s/events" % self.base
        self.refused(("%s HTTP/1.1\r\n\r\n" % ev).encode(), 400)  # no Host
        self.refused(("%s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" % ev).encode(),
                     400)
        self.refused(("%s HTTP/1.1\r\nHost: x\r\nLast-Event-ID: x\r\n\r\n" % ev).encode(), 400)
        self.refused(("%s HTTP/3.0\r\nHost: x\r\n\r\n" % ev).encode(), 505)
        js = self.refused(b"GET /api/v1/channels/pa:1/events HTTP/1.1\r\nHost: x\r\n\r\n", 404)
        self.assertEqual(js["detail"], "no such channel")
        big = ("%s HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n" % (ev, "a" * 9000)).encode()
        self.refused(big, 431)
        # a deleted channel is gone for streams too
        self.v.cli("channel", "delete", self.pa)
        self.refused(("%s HTTP/1.1\r\nHost: x\r\n\r\n" % ev).encode(), 404)
        self.ok = True

    def test_head_that_never_ends_is_closed(self):
        sk = socket.create_connection(("127.0.0.1", self.v.port), timeout=10)
        sk.sendall(("GET %s/events HTTP/1.1\r\nHost: x\r\n" % self.base).encode())
        t0 = time.time()
        self.assertEqual(sk.recv(100), b"")  # closed, unanswered
        self.assertLess(time.time() - t0, 5)
        sk.close()
        # the place is given back: a stream still opens
        s = Sse(self.v.port, self.base + "/events")
        self.assertEqual(s.status, 200)
        s.close()
        self.ok = True


class Timeouts(ChannelCase):
    extra = ("--connection-timeout", "2")

    def test_a_slow_steady_reader_is_not_stalled(self):
        """The connection timeout ends a stream whose socket takes nothing,
        not one that reads slowly but steadily: a replay of ~8 MB read at
        ~1 MB/s for longer than the timeout stays open."""
        big = "\U0001F600" * 7000
        first = self.post({"type": "text", "text": "first"})
        for _ in range(300):
            self.post({"type": "text", "text": big})
        sk = socket.socket()
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sk.connect(("127.0.0.1", self.v.port))
        sk.settimeout(5)
        sk.sendall(("GET %s/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: %d\r\n\r\n"
                    % (self.base, first)).encode())
        got, t0, checked = 0, time.time(), False
        while time.time() - t0 < 5:  # 2.5 times the timeout
            b = sk.recv(16384)
            self.assertTrue(b, "the stream was closed after %.1f s, %d bytes"
                            % (time.time() - t0, got))
            got += len(b)
            time.sleep(0.015)
            if not checked and time.time() - t0 > 4:
                # vcpd's side: the socket buffers hold megabytes, so what
                # the client reads says little; the stream must still be open
                checked = True
                self.assertEqual(self.v.get_json(self.base)[1]["subscribers_count"], 1,
                                 "vcpd ended the stream of a reading client")
        sk.close()
        self.assertGreater(got, 1_000_000)
        self.ok = True

    def test_half_close_after_the_head_gets_the_stream(self):
        sk = socket.create_connection(("127.0.0.1", self.v.port), timeout=5)
        sk.sendall(("GET %s/events HTTP/1.1\r\nHost: x\r\n\r\n" % self.base).encode())
        sk.shutdown(socket.SHUT_WR)
        out = b""
        while b"retry:" not in out:
            b = sk.recv(4096)
            if not b:
                break
            out += b
        sk.close()
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:100])
        self.assertIn(b"retry: 2000", out)
        self.ok = True

    def test_a_head_of_exactly_8_KiB_is_taken(self):
        head = "GET %s/events HTTP/1.1\r\nHost: x\r\nX-Pad: " % self.base
        head += "a" * (8192 - len(head) - 4) + "\r\n\r\n"
        self.assertEqual(len(head), 8192)
        sk = socket.create_connection(("127.0.0.1", self.v.port), timeout=5)
        sk.sendall(head.encode())
        self.assertTrue(sk.recv(100).startswith(b"HTTP/1.1 200 "))
        sk.close()
        self.assertTrue(raw(self.v.port, (head[:-4] + "a\r\n\r\n").encode())
                        .startswith(b"HTTP/1.1 431 "))
        self.ok = True


class NoTimeout(ChannelCase):
    extra = ("--connection-timeout", "0")

    def test_zero_means_never(self):
        status, _, _ = self.v.request("GET", "/healthz")
        self.assertEqual(status, 200)
        s = Sse(self.v.port, self.base + "/events")
        self.assertEqual(s.status, 200)
        t = self.post({"type": "text", "text": "x"})
        self.assertEqual(int(s.next_post(3)["id"]), t)
        s.close()
        self.ok = True


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: test_streams.py PATH/TO/vcpd [unittest args]")
    ChannelCase.binary = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
