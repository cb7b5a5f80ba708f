"""The read API and the event stream of vcpd (issue 4), over real sockets.

Usage: test_feed.py PATH/TO/vcpd [unittest args]
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

TYPES = ["text", "picture", "video", "file", "contact", "location", "url", "sticker"]


def text(i):
    return {"type": "text", "text": "post %d" % i}


class FeedTest(ChannelCase):
    def posts(self, query=""):
        status, js = self.v.get_json(self.base + "/posts" + query)
        self.assertEqual(status, 200, js)
        return js

    # --- posts ----------------------------------------------------------

    def test_paging_boundaries(self):
        tokens = [self.post(text(i)) for i in range(9)]
        newest_first = list(reversed(tokens))
        js = self.posts()
        self.assertEqual([p["message_token"] for p in js["posts"]], newest_first)
        self.assertIsNone(js["next"])
        p0 = js["posts"][0]
        self.assertEqual(set(p0), {"message_token", "type", "from", "created_ms", "message"})
        self.assertEqual(p0["message"], {"type": "text", "text": "post 8"})
        self.assertEqual(p0["from"], self.sa)
        # pages of 4: 4, 4, 1, with next pointing at the last token of each page
        seen, before, pages = [], None, []
        while True:
            js = self.posts("?limit=4" + ("&before=%d" % before if before else ""))
            pages.append(len(js["posts"]))
            seen += [p["message_token"] for p in js["posts"]]
            if js["next"] is None:
                break
            self.assertEqual(js["next"], js["posts"][-1]["message_token"])
            before = js["next"]
        self.assertEqual(pages, [4, 4, 1])
        self.assertEqual(seen, newest_first)
        # exactly as many as the limit: no next
        self.assertIsNone(self.posts("?limit=9")["next"])
        js = self.posts("?limit=8")
        self.assertEqual(js["next"], newest_first[7])
        js = self.posts("?limit=8&before=%d" % js["next"])
        self.assertEqual([p["message_token"] for p in js["posts"]], newest_first[8:])
        self.assertIsNone(js["next"])
        # before the oldest: empty; before a token between posts works too
        js = self.posts("?before=%d" % tokens[0])
        self.assertEqual(js, {"posts": [], "next": None})
        js = self.posts("?before=%d&limit=2" % (tokens[5] + 1))
        self.assertEqual([p["message_token"] for p in js["posts"]], [tokens[5], tokens[4]])
        self.assertEqual(js["next"], tokens[4])
        # limit maximum and default
        self.assertEqual(len(self.posts("?limit=200")["posts"]), 9)
        self.ok = True

    def test_default_and_max_limit(self):
        tokens = [self.post(text(i)) for i in range(205)]
        js = self.posts()
        self.assertEqual(len(js["posts"]), 50)
        self.assertEqual(js["next"], tokens[-50])
        js = self.posts("?limit=200")
        self.assertEqual(len(js["posts"]), 200)
        js = self.posts("?limit=200&before=%d" % js["next"])
        self.assertEqual([p["message_token"] for p in js["posts"]], list(reversed(tokens[:5])))
        self.assertIsNone(js["next"])
        self.ok = True

    def test_type_filter(self):
        msgs = [text(0), {"type": "sticker", "sticker_id": 1}, text(1),
                {"type": "sticker", "sticker_id": 2}, {"type": "url", "media": "https://a.example/x"},
                {"type": "sticker", "sticker_id": 3}]
        tokens = [self.post(m) for m in msgs]
        js = self.posts("?type=sticker")
        self.assertEqual([p["message"]["sticker_id"] for p in js["posts"]], [3, 2, 1])
        self.assertTrue(all(p["type"] == "sticker" for p in js["posts"]))
        js = self.posts("?type=sticker&limit=2")
        self.assertEqual(js["next"], tokens[3])
        js = self.posts("?type=sticker&limit=2&before=%d" % js["next"])
        self.assertEqual([p["message_token"] for p in js["posts"]], [tokens[1]])
        self.assertIsNone(js["next"])
        self.assertEqual(self.posts("?type=video"), {"posts": [], "next": None})
        self.assertEqual(len(self.posts("?type=url")["posts"]), 1)
        self.ok = True

    def test_bad_queries(self):
        for q in ["limit=0", "limit=201", "limit=abc", "limit=-1", "limit=", "before=abc",
                  "before=0", "before=-5", "before=99999999999999999999999", "type=foo",
                  "type=TEXT"]:
            status, js = self.v.get_json(self.base + "/posts?" + q)
            self.assertEqual(status, 400, q)
            self.assertEqual(js["error"], "bad request", q)
            self.assertIn("detail", js)
        status, js = self.v.get_json(self.base + "/events?last_event_id=x")
        self.assertEqual(status, 400)
        self.ok = True

    def test_channels_and_states(self):
        status, js = self.v.get_json(self.base)
        self.assertEqual(status, 200)
        self.assertEqual(js, {"id": self.pa, "name": "Feed test", "uri": js["uri"], "icon": "",
                              "state": "active", "subscribers_count": 0})
        # the id escaped in the path is the same channel
        status, js2 = self.v.get_json(self.base.replace("pa:", "pa%3A") + "/posts")
        self.assertEqual(status, 200)
        for path in ["/api/v1/channels/pa:1", "/api/v1/channels/pa:1/posts",
                     "/api/v1/channels/abc", "/api/v1/channels/pa:12x", self.base + "/nope",
                     "/api/v1/channels/pa:1/events"]:
            self.assertEqual(self.v.get_json(path)[0], 404, path)
        token = self.post(text(1))
        other, _, _ = self.v.channel("Other")
        status, js = self.v.get_json("/api/v1/channels")
        self.assertEqual([c["id"] for c in js["channels"]], [self.pa, other])
        # blocked: still readable, state says so
        self.v.cli("channel", "block", self.pa)
        status, js = self.v.get_json(self.base)
        self.assertEqual((status, js["state"]), (200, "blocked"))
        self.assertEqual(self.posts()["posts"][0]["message_token"], token)
        # deleted: gone for readers
        self.v.cli("channel", "delete", self.pa)
        for path in [self.base, self.base + "/posts", self.base + "/events",
                     "/channels/" + self.pa]:
            self.assertEqual(self.v.request("GET", path)[0], 404, path)
        status, js = self.v.get_json("/api/v1/channels")
        self.assertEqual([c["id"] for c in js["channels"]], [other])
        self.ok = True

    def test_pages_and_assets(self):
        status, h, body = self.v.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        csp = h["content-security-policy"]
        self.assertIn("default-src 'self'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertIn(b'src="/assets/index.js"', body)
        self.assertNotIn(b"<script>", body)  # no inline script
        status, h, body = self.v.request("GET", "/channels/" + self.pa)
        self.assertEqual(status, 200)
        self.assertIn("content-security-policy", h)
        self.assertIn(b'src="/assets/channel.js"', body)
        status, h, _ = self.v.request("GET", "/assets/channel.js")
        self.assertEqual((status, h["content-type"].split(";")[0]), (200, "text/javascript"))
        status, h, _ = self.v.request("GET", "/assets/app.css")
        self.assertEqual((status, h["content-type"].split(";")[0]), (200, "text/css"))
        for path in ["/channels/pa:1", "/channels/x", "/assets/nope.js", "/assets/index.html"]:
            self.assertEqual(self.v.request("GET", path)[0], 404, path)
        self.assertEqual(self.v.request("POST", "/channels/" + self.pa)[0], 405)
        self.ok = True

    # --- events -----------------------------------------------------------

    def test_stream_live_viewers_and_heartbeat(self):
        s = Sse(self.v.port, self.base + "/events")
        self.assertEqual(s.status, 200)
        self.assertTrue(s.headers["content-type"].startswith("text/event-stream"))
        self.assertEqual(s.headers.get("cache-control"), "no-store")
        first = s.next()
        self.assertEqual(first["retry"], "2000")
        s2 = Sse(self.v.port, self.base.replace("pa:", "pa%3A") + "/events")
        self.assertEqual(self.v.get_json(self.base)[1]["subscribers_count"], 2)
        status, _, body = self.v.request("POST", "/pa/get_account_info", b"{}",
                                         {"X-Viber-Auth-Token": self.tok})
        self.assertEqual(json.loads(body)["subscribers_count"], 2)
        js = self.v.get_json("/api/v1/channels")[1]
        self.assertEqual(js["channels"][0]["subscribers_count"], 2)
        t0 = time.time()
        token = self.post({"type": "location", "location": {"lat": "1.5", "lon": -2}})
        for c in (s, s2):
            ev = c.next_post(2)
            self.assertEqual(ev["id"], str(token))
            data = json.loads(ev["data"])
            self.assertEqual(data, self.posts()["posts"][0])  # same JSON as the posts list
        self.assertLess(time.time() - t0, 1.0)
        # heartbeat comments (every 300 ms in this test)
        ev = s.next(2)
        self.assertEqual(ev["comments"], ["ping"])
        s2.close()
        self.addCleanup(s.close)
        deadline = time.time() + 3
        while self.v.get_json(self.base)[1]["subscribers_count"] != 1:
            self.assertLess(time.time(), deadline, "viewer count did not drop")
            time.sleep(0.05)
        s.close()
        self.ok = True

    def test_urls_are_written_plainly(self):
        # Viber writes "https://x/y", not json-c's default "https:\/\/x\/y": the
        # posts list and the event stream carry the URLs as they were posted.
        s = Sse(self.v.port, self.base + "/events")
        self.addCleanup(s.close)
        s.next()  # retry: 2000
        media = "https://example.com/pics/a/cat.jpg"
        token = self.post({"type": "picture", "text": "a/b", "media": media,
                           "thumbnail": "https://example.com/t/cat.jpg"})
        ev = s.next_post(2)
        self.assertEqual(ev["id"], str(token))
        status, _, body = self.v.request("GET", self.base + "/posts")
        self.assertEqual(status, 200)
        for what, raw in (("posts list", body.decode()), ("event", ev["data"])):
            with self.subTest(what=what):
                self.assertNotIn("\\/", raw)
                self.assertIn('"media":"%s"' % media, raw)
                self.assertIn('"text":"a/b"', raw)
        self.ok = True

    def test_resume_no_gap_no_duplicate(self):
        """Posts keep arriving while a viewer disconnects and resumes with
        Last-Event-ID (and once with ?last_event_id=): it sees every post
        exactly once, in order."""
        before = [self.post(text(i)) for i in range(5)]
        total = 240
        posted = []
        errors = []

        def poster():
            try:
                for i in range(total):
                    posted.append(self.post(text(1000 + i)))
                    if i % 7 == 0:
                        time.sleep(0.003)
            except Exception as e:  # reported below
                errors.append(e)

        th = threading.Thread(target=poster)
        got = []
        last = before[-1]
        s = Sse(self.v.port, self.base + "/events", last_event_id=last)
        th.start()
        reconnects = 0
        while True:
            ev = s.next_post(3)
            if ev is None:
                s.close()
                s = Sse(self.v.port, self.base + "/events", last_event_id=last)
                continue
            got.append(int(ev["id"]))
            last = int(ev["id"])
            if len(got) % 37 == 0:
                # drop the connection mid-stream and come back
                s.close()
                reconnects += 1
                if reconnects % 2:
                    s = Sse(self.v.port, self.base + "/events", last_event_id=last)
                else:
                    s = Sse(self.v.port, self.base + "/events?last_event_id=%d" % last)
            if len(got) == total:
                break
        th.join()
        s.close()
        self.assertEqual(errors, [])
        self.assertGreaterEqual(reconnects, 5)
        self.assertEqual(got, posted, "gap or duplicate")
        self.assertEqual(len(set(got)), total)
        # a resume from an old id replays everything after it, in order
        s = Sse(self.v.port, self.base + "/events", last_event_id=before[1])
        replayed = [int(s.next_post(2)["id"]) for _ in range(3 + total)]
        self.assertEqual(replayed, before[2:] + posted)
        s.close()
        self.ok = True

    def test_long_replay_is_paged_then_live(self):
        """Far more posts to replay than one page: they all arrive in order
        on the one connection, read from the store a page at a time, and
        the stream then goes on live without a gap or a duplicate."""
        first = self.post(text(0))
        tokens = [self.post(text(i)) for i in range(1, 1106)]
        s = Sse(self.v.port, self.base + "/events", last_event_id=first)
        got = [int(s.next_post(5)["id"]) for _ in range(len(tokens))]
        self.assertEqual(got, tokens)
        live = self.post(text(9999))
        self.assertEqual(int(s.next_post(3)["id"]), live)
        s.close()
        self.ok = True

    def test_stream_survives_shutdown(self):
        """SIGTERM with open streams: they are closed and vcpd exits 0."""
        streams = [Sse(self.v.port, self.base + "/events") for _ in range(20)]
        for s in streams:
            self.addCleanup(s.close)
        for s in streams:
            s.next(2)
        self.assertEqual(self.v.get_json(self.base)[1]["subscribers_count"], 20)
        self.ok = True  # tearDown checks the exit status


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: test_feed.py PATH/TO/vcpd [unittest args]")
    ChannelCase.binary = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
