#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/NAME/) from
the wire test cases (tests/e2e/wire/*.txt) plus a few hand-made inputs.

    python3 tests/fuzz/make_corpus.py        # rewrites corpus/{request,post_fast,webhook_url,webhook_sign}

request       every case body, placeholders filled with made-up channel values
post_fast     the same, of the /pa/post cases only, plus one body per refusal
              the one-pass reader decides itself (POST_FAST_REFUSALS)
webhook_url   every "url" of a set_webhook case, plus SSRF spellings; byte 0
              is the target's flag byte (bit 0 allow_http, bit 1 allow_private)
webhook_sign  timestamp, message_token, buffer size, key and channel names

File names are the SHA-1 of the content (as libFuzzer names its own), so
rerunning only adds what is new.  Standard library only.
"""
import hashlib
import json
import os
import struct
import sys
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import vcptest  # noqa: E402  (the wire case parser; nothing here starts vcpd)


def write(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        return 1
    return 0


def fake_channels(fixtures):
    chans = {}
    for i, fx in enumerate(fixtures):
        chans[fx.name] = SimpleNamespace(
            token="%016x-%016x-%016x" % (i, i * 7919, i * 104729),
            superadmin="c3VwZXJhZG1pbi0lZA%02d==" % i,
            pa_id="pa:%020d" % (10 ** 19 + i),
            name=fx.opts.get("name", fx.name),
            webhook=fx.opts.get("webhook", "https://127.0.0.1:8443/hook"))
    return chans


SSRF_URLS = [
    "https://127.0.0.1/", "https://2130706433/", "https://0177.0.0.1/", "https://0x7f.1/",
    "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/",
    "https://0.0.0.0/", "https://10.0.0.1/", "https://172.16.0.1/", "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/", "https://[fe80::1]/", "https://[fd00::1]/",
    "https://[fc00::1]:8443/x", "https://localhost/", "https://localhost.:1/",
    "https://user@127.0.0.1/", "https://example.com@127.0.0.1/", "http://127.0.0.1:0/",
    "https://127.0.0.1:65536/", "https://[::1/", "https://[64:ff9b::7f00:1]/",
    "https://[2002:7f00:1::]/", "HTTPS://EXAMPLE.COM/a?b#c", "https://h/%zz",
    "https://h/" + "a" * 1995, "https://h/" + "a" * 1990,
]

# One body per refusal msg_fast_post decides (src/core/msg.c): each step
# (from/type absent, "from" not a string, type, the field walker's absent,
# wrong-typed, out-of-range, too-long, bad-URL and extension rules, sender),
# so the fuzzer starts from every branch of the verdict it compares.
_F = '"from":"c3VwZXJhZG1pbi0lZA00=="'
POST_FAST_REFUSALS = [
    '{"type":"text","text":"hi"}',
    '{' + _F + ',"type":""}',
    '{"from":5,"type":"text","text":"hi"}',
    '{' + _F + ',"type":null}',
    '{' + _F + ',"type":"foo","text":"unknown type"}',
    '{' + _F + ',"type":"text","text":""}',
    '{' + _F + ',"type":"text","text":["hi"]}',
    '{' + _F + ',"type":"text","text":"' + "a" * 7001 + '"}',
    '{' + _F + ',"type":"picture","text":"","media":"https://www.example.org/photo.png"}',
    '{' + _F + ',"type":"picture","text":"","media":"ftp://h/p.jpg"}',
    '{' + _F + ',"type":"video","media":"https://www.example.org/video.mp4","size":1.5}',
    '{' + _F + ',"type":"video","media":"https://h/v.mp4","size":"52428801"}',
    '{' + _F + ',"type":"video","media":"https://h/v.mp4","size":1,"duration":true}',
    '{' + _F + ',"type":"file","media":"https://www.example.org/setup.exe","size":100,'
    '"file_name":"setup.exe"}',
    '{' + _F + ',"type":"file","media":"https://h/f","size":1,"file_name":"README"}',
    '{' + _F + ',"type":"contact","contact":{"name":"A name longer than twenty-eight",'
    '"phone_number":"1"}}',
    '{' + _F + ',"type":"contact","contact":"Jo"}',
    '{' + _F + ',"type":"location","location":{"lat":91,"lon":0}}',
    '{' + _F + ',"type":"location","location":{"lat":"1e400","lon":0}}',
    '{' + _F + ',"type":"location","location":{"lat":0}}',
    '{' + _F + ',"type":"url","media":"https://h/","text":"' + "a" * 121 + '"}',
    '{' + _F + ',"type":"sticker","sticker_id":-1}',
    '{' + _F + ',"type":"text","text":"hi","sender":{"name":"' + "b" * 29 + '"}}',
    '{' + _F + ',"type":"text","text":"hi","sender":null}',
]

ADDRS = [bytes([127, 0, 0, 1]), bytes([10, 1, 2, 3]), bytes([8, 8, 8, 8]), bytes([169, 254, 0, 1]),
         bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1]), bytes(15) + b"\x01",
         b"\xfe\x80" + bytes(14), b"\xfd" + bytes(15), b"\x20\x02\x7f\x00\x00\x01" + bytes(10),
         b"\x00\x64\xff\x9b" + bytes(8) + bytes([10, 0, 0, 1])]


def main():
    fixtures, cases = vcptest.load_case_files()
    chans = fake_channels(fixtures)
    n = {"request": 0, "post_fast": 0, "webhook_url": 0, "webhook_sign": 0}
    urls = set(SSRF_URLS)
    for c in cases:
        try:
            _, _, _, body = vcptest.build_request(c, chans)
        except (vcptest.CaseError, KeyError, ValueError) as e:
            sys.stderr.write("skipped %s: %s\n" % (c.where(), e))
            continue
        if body is None:
            continue
        if len(body) <= 64 * 1024:  # libFuzzer's -max_len is set from the corpus
            n["request"] += write("request", body)
            if c.path.endswith("/pa/post"):
                n["post_fast"] += write("post_fast", body)
        if c.path.endswith("set_webhook"):
            try:
                js = json.loads(body)
                if isinstance(js, dict) and isinstance(js.get("url"), str):
                    urls.add(js["url"])
            except ValueError:
                pass
    for b in POST_FAST_REFUSALS:
        n["post_fast"] += write("post_fast", b.encode("utf-8"))
    for u in sorted(urls):
        for flags in (0, 1, 2, 3):
            n["webhook_url"] += write("webhook_url", bytes([flags]) + u.encode("utf-8"))
    for a in ADDRS:
        n["webhook_url"] += write("webhook_url", b"\x00" + a)
        n["webhook_url"] += write("webhook_url", b"\x00" + struct.pack("=H", 10) + bytes(6) + a)
    names = ["Team news", "", 'quote " back \\ slash', "tab\tnl\ncr\r", "\x01\x1f\x7f",
             "Ünïcødé ✓ 😀", "\xff\xfe invalid utf-8", "x" * 128]
    for i, name in enumerate(names):
        key = "%016x-%016x-%016x" % (i, i, i) if i % 2 else "k" * (70 + i)
        data = struct.pack("<QQHB", 1764130000000 + i, 913646527388319744 + i,
                           [0, 1, 60, 90, 512, 4096, 100, 2][i], len(key))
        data += key.encode() + name.encode("utf-8", "surrogateescape")
        n["webhook_sign"] += write("webhook_sign", data)
    answers = [
        b'{"status":0,"status_message":"ok","message_token":913646638113751040,'
        b'"chat_hostname":"Demo Channel","billing_status":0}',
        b'{"status":3,"status_message":"badData","detail":"text: 7001 characters, max 7000"}',
        b'{"status":12,"status_message":"tooManyRequests","detail":"rate limit: 500 requests per 10 s"}',
        b'{"status":0,"status_message":"ok","event_types":["delivered","seen"]}',
        b'{"status":0,"status_message":"ok","id":"pa:1","Id":"pa:1","name":"N","uri":"u","icon":"",'
        b'"background":"","category":"","subcategory":"","location":{"lat":1.5,"lon":-2},'
        b'"country":"","webhook":"https://h/","event_types":[],"subscribers_count":3,'
        b'"chat_hostname":"N","members":[{"id":"m","name":"Ann","avatar":"","role":"superadmin"}]}',
        b'{"status":0,"message_token":-1}', b'{"status":"0"}', b'{"status":1e400}', b'[]', b'null',
        b'{"status":0,"status_message":"' + b"x" * 100 + b'","chat_hostname":"' + b"y" * 300 + b'"}',
        b'{"status":99,"status_message":"generalError","detail":"' + b"\u00e9" * 400 + b'"}',
        b'{"status":0,"message_token":18446744073709551615}', b'3',
    ]
    for i, a in enumerate(answers):
        n["client_response"] = n.get("client_response", 0) + write("client_response", bytes([i & 1]) + a)
    print("new corpus files: %s" % ", ".join("%s %d" % kv for kv in sorted(n.items())))


if __name__ == "__main__":
    main()
