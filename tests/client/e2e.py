#!/usr/bin/env python3
"""End-to-end tests of libvcp and vcp against a real vcpd on 127.0.0.1.

usage: e2e.py TEST --vcpd PATH --vcp PATH [--lib-test PATH] [--parity-local PATH]
TEST: lib | cli | usability | parity | backoff | resume | webhook
Each test starts its own vcpd (ephemeral port, a fresh database: a SQLite file,
or with VCP_TEST_BACKEND=postgresql one of the run's cluster, vcpfix.py) and
exits non-zero on the first failed check."""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vcpfix import Vcpd, workdir  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
A = None


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)


def vcp(srv, ch, *args, input=None, env_extra=None, timeout=120):
    env = dict(os.environ)
    env.pop("VIBER_AUTH_TOKEN", None)
    env.update({"VIBER_API_URL": srv.url, "VIBER_AUTH_TOKEN": ch["token"]})
    env.update(env_extra or {})
    return subprocess.run([A.vcp, *args], capture_output=True, text=True, input=input,
                          env=env, timeout=timeout)


def sandbox_hook(srv):
    return "http://127.0.0.1:%d/sandbox/webhook" % srv.port


# ------------------------------------------------------------------ lib
def t_lib():
    d = workdir()
    srv = Vcpd(A.vcpd, d)
    lib = srv.channel("Lib", rate="off", webhook="http://127.0.0.1:9/unused")
    adm = json.loads(srv.admin("member", "add", lib["id"], "--name", "bob", "--role", "admin",
                               "--json"))
    admin_id = adm.get("id") or adm.get("member", {}).get("id")
    hook = srv.channel("Hook", rate="off")
    nohook = srv.channel("NoHook", rate="off")
    rate = srv.channel("Rate", rate="1/60", webhook="http://127.0.0.1:9/unused")
    states = {}
    for st in ("block", "suspend", "delete"):
        c = srv.channel("S-" + st, rate="off", webhook="http://127.0.0.1:9/unused")
        srv.admin("channel", st, c["id"])
        states[st] = c
    srv.start()
    try:
        env = dict(os.environ)
        env.update({
            "VCP_URL": srv.url, "VCP_TOKEN": lib["token"], "VCP_FROM": lib["from"],
            "VCP_ADMIN_FROM": admin_id, "VCP_TOKEN_HOOK": hook["token"],
            "VCP_HOOK_FROM": hook["from"], "VCP_HOOK_URL": sandbox_hook(srv),
            "VCP_BAD_HOOK": "http://127.0.0.1:1/nothing-listens-here",
            "VCP_TOKEN_NOHOOK": nohook["token"], "VCP_TOKEN_RATE": rate["token"],
            "VCP_RATE_FROM": rate["from"], "VCP_TOKEN_BOGUS": "0000-not-a-token",
            "VCP_TOKEN_BLOCKED": states["block"]["token"],
            "VCP_TOKEN_SUSPENDED": states["suspend"]["token"],
            "VCP_TOKEN_DELETED": states["delete"]["token"],
        })
        r = subprocess.run([A.lib_test], env=env, capture_output=True, text=True, timeout=120)
        sys.stdout.write(r.stdout + r.stderr)
        check(r.returncode == 0, "library e2e (cmocka) passes")
        tokens = [int(m) for m in re.findall(r"posted \w+ (\d+)", r.stdout)]
        stored = srv.posts(lib["id"])
        check(sorted(tokens) == [p[0] for p in stored], "the 8 tokens the library got are the "
              "stored posts' tokens, exactly (64-bit, no double rounding)")
        check([p[1] for p in stored] == ["text", "picture", "video", "file", "contact",
                                         "location", "url", "sticker"], "all eight types stored")
    finally:
        srv.stop()


# ------------------------------------------------------------------ cli
def t_cli():
    d = workdir()
    srv = Vcpd(A.vcpd, d)
    ch = srv.channel("Cli", rate="off", webhook="http://127.0.0.1:9/unused")
    adm = json.loads(srv.admin("member", "add", ch["id"], "--name", "bob", "--role", "admin",
                               "--json"))
    admin_id = adm.get("id") or adm.get("member", {}).get("id")
    nohook = srv.channel("NoHook", rate="off")
    rate = srv.channel("Rate", rate="1/60", webhook="http://127.0.0.1:9/unused")
    blocked = srv.channel("Blocked", rate="off", webhook="http://127.0.0.1:9/unused")
    srv.admin("channel", "block", blocked["id"])
    srv.start()
    try:
        cases = [
            ("text", ["post", "text", "hello"]),
            ("picture", ["post", "picture", "https://e.com/a.jpg", "a cat",
                         "--thumbnail", "https://e.com/t.jpg"]),
            ("video", ["post", "video", "--size", "1000", "--duration", "5",
                       "https://e.com/v.mp4"]),
            ("file", ["post", "file", "https://e.com/docs/report.pdf", "--size", "99"]),
            ("contact", ["post", "contact", "John Doe", "+12025550164"]),
            ("location", ["post", "location", "-33.9249", "18.4241"]),
            ("url", ["post", "url", "https://e.com/go", "go here"]),
            ("sticker", ["post", "sticker", "46105"]),
            ("text", ["post", "json", '{"type":"text","text":"raw"}']),
        ]
        for typ, args in cases:
            r = vcp(srv, ch, *args)
            check(r.returncode == 0 and re.search(r"message_token \d+", r.stdout),
                  "vcp %s exits 0 and prints the token (%s)" % (" ".join(args[:2]),
                                                               r.stderr.strip()))
        r = vcp(srv, ch, "--json", "post", "text", "-", input="from stdin\n")
        j = json.loads(r.stdout)
        check(r.returncode == 0 and j["status"] == 0 and isinstance(j["message_token"], int),
              "--json prints the server's answer")
        posts = srv.posts(ch["id"])
        check(len(posts) == 10, "10 posts stored")
        check(all(p[2] == ch["from"] for p in posts), "--from defaulted to the superadmin")
        bodies = [p[3] for p in posts]
        check(bodies[3].get("file_name") == "report.pdf", "file name taken from the URL")
        check(bodies[9].get("text") == "from stdin", "text from stdin, newline trimmed")
        check(abs(float(bodies[5]["location"]["lat"]) + 33.9249) < 1e-9, "negative LAT parsed")

        r = vcp(srv, ch, "account")
        check(r.returncode == 0 and "superadmin" in r.stdout and ch["from"] in r.stdout,
              "vcp account lists members with roles")
        r = vcp(srv, ch, "--json", "account")
        check(json.loads(r.stdout)["name"] == "Cli", "vcp --json account")

        # Failures: exit codes and stderr per the man page.
        r = vcp(srv, ch, "post", "text", "x" * 7001)
        check(r.returncode == 3 and "badData (3): text: 7001 characters, max 7000" in r.stderr,
              "local validation: exit 3 with vcpd's detail")
        r = vcp(srv, ch, "post", "contact", "", "+1")
        check(r.returncode == 3 and "missingData" in r.stderr, "missingData: exit 3")
        r = vcp(srv, ch, "--from", admin_id, "post", "text", "x")
        check(r.returncode == 1 and "badData (3)" in r.stderr and "superadmin" in r.stderr,
              "server-side badData (not a superadmin): exit 1")
        r = vcp(srv, {"token": "bogus-token"}, "post", "text", "x", "--from", "x")
        check(r.returncode == 1 and "invalidAuthToken (2)" in r.stderr, "invalidAuthToken: exit 1")
        r = vcp(srv, blocked, "post", "text", "x", "--from", blocked["from"])
        check(r.returncode == 1 and "publicAccountBlocked (7)" in r.stderr, "blocked: exit 1")
        r = vcp(srv, nohook, "post", "text", "x")
        check(r.returncode == 1 and "webhookNotSet (10)" in r.stderr, "webhookNotSet: exit 1")
        r = vcp(srv, rate, "post", "text", "x", "--from", rate["from"])
        check(r.returncode == 0, "rate channel: first post ok")
        r = vcp(srv, rate, "--retries", "0", "post", "text", "y", "--from", rate["from"])
        check(r.returncode == 1 and "tooManyRequests (12)" in r.stderr, "tooManyRequests: exit 1")
        r = vcp(srv, nohook, "webhook", "set", "http://127.0.0.1:1/none")
        check(r.returncode == 1 and "invalidUrl (1)" in r.stderr, "invalidUrl: exit 1")
        r = vcp(srv, nohook, "--json", "webhook", "set", sandbox_hook(srv))
        check(r.returncode == 0 and json.loads(r.stdout)["status"] == 0, "webhook set")
        r = vcp(srv, nohook, "webhook", "remove")
        check(r.returncode == 0, "webhook remove")
        r = vcp(srv, ch, "--api-url", "http://127.0.0.1:1/pa", "--retries", "1", "post", "text",
                "x", "--from", "y")
        check(r.returncode == 4 and "transport error" in r.stderr, "no server: exit 4")
        r = vcp(srv, ch, "post", "sticker", "abc")
        check(r.returncode == 2, "usage error: exit 2")
        r = vcp(srv, {"token": ""}, "account")
        check(r.returncode == 2 and "VIBER_AUTH_TOKEN" in r.stderr, "no token: exit 2")
        for cmd in (["--help"], ["post", "text", "--help"], ["post", "--batch", "f", "--help"],
                    ["webhook", "serve", "--help"], ["account", "--help"],
                    ["post", "location", "--help"]):
            r = vcp(srv, ch, *cmd)
            check(r.returncode == 0 and "usage: vcp" in r.stdout, "help: vcp " + " ".join(cmd))
        check(len(srv.posts(ch["id"])) == 10, "no failed command stored anything")
    finally:
        srv.stop()


# ------------------------------------------------------------------ usability
def t_usability():
    """What a new user meets first: help for every command and group, errors
    that name the valid choices, retries that are never silent, --quiet."""
    d = workdir()
    srv = Vcpd(A.vcpd, d)
    ch = srv.channel("Usable", rate="off", webhook="http://127.0.0.1:9/unused")
    srv.start()
    try:
        # Every command of the general usage answers --help with its own usage.
        r = vcp(srv, ch, "--help")
        check(r.returncode == 0 and "Exit status" in r.stdout, "vcp --help: the general usage")
        commands = []
        for line in r.stdout.splitlines():
            if not line.startswith("  vcp "):
                continue
            words = []
            for w in line.split()[1:]:
                if not re.fullmatch(r"[a-z]+", w):
                    if w == "--batch":
                        words.append(w)
                    break
                words.append(w)
            commands.append(words)
        check(len(commands) >= 14, "the usage lists %d commands" % len(commands))
        for words in commands:
            forms = [words + ["--help"], words + ["-h"]]
            if "--batch" not in words:  # ("vcp help post --batch" lacks --batch's value)
                forms.append(["help"] + words)
            for form in forms:
                r = vcp(srv, ch, *form)
                want = "usage: vcp " + " ".join(words)
                check(r.returncode == 0 and r.stdout.startswith(want)
                      and "Exit status" not in r.stdout,
                      "vcp %s: its own usage (%s)" % (" ".join(form), r.stderr.strip()))
        # The groups ("post", "webhook") have a help of their own listing their commands.
        for group, subs in (("post", ["text", "picture", "video", "file", "contact", "location",
                                      "url", "sticker", "json", "--batch"]),
                            ("webhook", ["set", "remove", "serve"])):
            r = vcp(srv, ch, group, "--help")
            check(r.returncode == 0 and r.stdout.startswith("usage: vcp " + group)
                  and "Exit status" not in r.stdout
                  and all(("vcp %s %s" % (group, s)) in r.stdout for s in subs),
                  "vcp %s --help lists %s (%s)" % (group, ", ".join(subs), r.stderr.strip()))
            r = vcp(srv, ch, group)
            check(r.returncode == 2 and all(s.lstrip("-") in r.stderr for s in subs),
                  "vcp %s alone names its commands: %s" % (group, r.stderr.strip()))
        r = vcp(srv, ch, "post", "--batch", "--help")
        check(r.returncode == 0 and r.stdout.startswith("usage: vcp post --batch")
              and "No such file" not in r.stderr, "vcp post --batch --help: the batch usage")
        r = vcp(srv, ch, "post", "text", "--from", "--help")
        check(r.returncode == 0 and r.stdout.startswith("usage: vcp post text"),
              "a value option followed by --help: help, not a value")
        # Unknown names: the valid ones are named.
        types = ["text", "picture", "video", "file", "contact", "location", "url", "sticker"]
        r = vcp(srv, ch, "post", "gif", "x")
        check(r.returncode == 2 and "'gif'" in r.stderr
              and all(t in r.stderr for t in types + ["json", "--batch"]),
              "vcp post gif: names the bad type and the valid ones: " + r.stderr.strip())
        r = vcp(srv, ch, "webhook", "frob")
        check(r.returncode == 2 and "'frob'" in r.stderr and "set, remove, serve" in r.stderr,
              "vcp webhook frob: names the valid commands: " + r.stderr.strip())
        r = vcp(srv, ch, "frob")
        check(r.returncode == 2 and "'frob'" in r.stderr and "post, webhook, account" in r.stderr,
              "vcp frob: names the commands: " + r.stderr.strip())
        r = vcp(srv, ch, "post", "json", '{"type":"gif"}')
        check(r.returncode == 3 and 'unknown message type "gif" (one of %s)' % ", ".join(types)
              in r.stderr, "a JSON message of an unknown type: the valid types are named")
        ans = srv.raw("post", json.dumps({"from": ch["from"], "type": "gif"}).encode(),
                      ch["token"])
        check(ans["status"] == 3 and ", ".join(types) in ans["detail"],
              "vcpd's detail names the valid types too: " + ans["detail"])

        # Sandbox mode: status 10 names the built-in receiver, and that URL works.
        nohook = srv.channel("Usable, no webhook", rate="off")
        ans = srv.raw("post", json.dumps({"from": nohook["from"], "type": "text",
                                          "text": "x"}).encode(), nohook["token"])
        check(ans["status"] == 10 and sandbox_hook(srv) in ans["detail"],
              "status 10 in sandbox mode names the receiver: " + ans.get("detail", ""))
        url = re.search(r"http://\S+/sandbox/webhook", ans["detail"]).group(0)
        r = vcp(srv, nohook, "webhook", "set", url)
        check(r.returncode == 0, "and set_webhook to it succeeds (%s)" % r.stderr.strip())
        r = vcp(srv, nohook, "post", "text", "now it posts")
        check(r.returncode == 0, "then posting works (%s)" % r.stderr.strip())

        # Retries say what is retried and when; the final error names the endpoint.
        dead = "http://127.0.0.1:1/pa"
        t0 = time.monotonic()
        r = vcp(srv, ch, "--api-url", dead, "--retries", "2", "post", "text", "x", "--from", "y")
        notices = [l for l in r.stderr.splitlines() if "retry" in l]
        check(r.returncode == 4 and len(notices) == 2
              and all(l.startswith("vcp: %s/post: " % dead) for l in notices)
              and "retry 1 of 2 in " in notices[0] and "retry 2 of 2 in " in notices[1],
              "each retry is announced with the endpoint: %r" % notices)
        last = r.stderr.strip().splitlines()[-1]
        check("transport error" in last and dead + "/post" in last and "3 attempts" in last,
              "the final error names the endpoint and the attempts: " + last)
        check(time.monotonic() - t0 < 30, "and it did not hang")
        r = vcp(srv, ch, "--api-url", dead, "--retries", "2", "--quiet", "account")
        check(r.returncode == 4 and "retry" not in r.stderr
              and dead + "/get_account_info" in r.stderr,
              "--quiet: no retry notices, the error still names the endpoint: " + r.stderr.strip())

        # --quiet batches print no per-line results (--json still does).
        path = write_batch(d, 3, "quiet", ch["from"])
        r = vcp(srv, ch, "--quiet", "post", "--batch", path)
        check(r.returncode == 0 and r.stdout == "" and r.stderr == "",
              "--quiet batch: silent on success (%r, %r)" % (r.stdout, r.stderr))
        check(len(srv.posts(ch["id"])) == 3, "and it posted the 3 lines")
        path = write_batch(d, 2, "loud", ch["from"])
        r = vcp(srv, ch, "post", "--batch", path)
        check(r.returncode == 0 and r.stdout.count("posted text") == 2,
              "without --quiet: one line per post when stdout is not a terminal")
        path = write_batch(d, 2, "json", ch["from"])
        r = vcp(srv, ch, "--quiet", "--json", "post", "--batch", path)
        check(r.returncode == 0 and [json.loads(l)["status"] for l in r.stdout.splitlines()]
              == [0, 0], "--quiet --json: the JSON results are still written")
    finally:
        srv.stop()


# ------------------------------------------------------------------ parity
def t_parity():
    d = workdir()
    srv = Vcpd(A.vcpd, d)
    ch = srv.channel("Parity", rate="off", webhook="http://127.0.0.1:9/unused")
    srv.start()
    try:
        rows = []
        for line in open(os.path.join(HERE, "parity.txt"), encoding="utf-8"):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            line = line.replace("$FROM", ch["from"])
            line = re.sub(r"\$REPEAT\((.),(\d+)\)", lambda m: m.group(1) * int(m.group(2)), line)
            rows.append(line)
        path = os.path.join(d, "bodies.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(r + "\n" for r in rows))
        out = subprocess.run([A.parity_local, path], capture_output=True, text=True, check=True)
        local = [l.split("\t", 1) for l in out.stdout.split("\n")[:-1]]
        check(len(local) == len(rows), "library judged all %d rows" % len(rows))
        bad = 0
        for body, (lst, ldet) in zip(rows, local):
            ans = srv.raw("post", body.encode("utf-8"), ch["token"])
            rst, rdet = ans["status"], ans.get("detail", "")
            if (int(lst), ldet) != (rst, rdet):
                bad += 1
                print("MISMATCH %s\n  local  %s %r\n  vcpd   %s %r" % (body[:120], lst, ldet,
                                                                     rst, rdet))
        statuses = sorted({int(l[0]) for l in local})
        check(statuses == [0, 3, 4], "table covers ok, badData and missingData")
        check(bad == 0, "identical status and detail for every row (%d rows)" % len(rows))
    finally:
        srv.stop()


# ------------------------------------------------------------------ backoff
def write_batch(d, n, tag, with_from=None):
    path = os.path.join(d, tag + ".jsonl")
    with open(path, "w") as f:
        for i in range(n):
            m = {"type": "text", "text": "%s %03d" % (tag, i)}
            if with_from and i % 2:
                m["from"] = with_from
            f.write(json.dumps(m) + "\n")
    return path


def stored_texts(srv, ch):
    return [p[3].get("text") for p in srv.posts(ch["id"])]


def t_backoff():
    d = workdir()
    srv = Vcpd(A.vcpd, d)
    # 4 requests per 2 s; the default-from lookup is one of them.
    ch = srv.channel("Backoff", rate="4/2", webhook="http://127.0.0.1:9/unused")
    srv.start()
    try:
        n = 16
        path = write_batch(d, n, "bo", ch["from"])
        t0 = time.monotonic()
        r = vcp(srv, ch, "post", "--batch", path)
        took = time.monotonic() - t0
        sys.stdout.write(r.stderr[-2000:])
        check(r.returncode == 0, "batch under a tight rate limit exits 0")
        texts = stored_texts(srv, ch)
        check(sorted(texts) == ["bo %03d" % i for i in range(n)], "all %d landed, none twice" % n)
        check(texts == ["bo %03d" % i for i in range(n)], "in file order")
        check("tooManyRequests, retry" in r.stderr, "rate limiting was hit and waited out")
        # 17 requests that succeed at 4 per 2 s: at least (17 - 4) / 2 s = 6.5 s.
        low = (n + 1 - 4) / 2.0
        check(took >= low * 0.9, "time follows the limit: %.1f s >= %.1f s" % (took, low))
        check(took <= low * 3 + 10, "and backoff does not overshoot wildly: %.1f s" % took)
        r = vcp(srv, ch, "post", "--batch", path)
        check(r.returncode == 0 and len(stored_texts(srv, ch)) == n, "re-run posts nothing new")
    finally:
        srv.stop()


# ------------------------------------------------------------------ resume
def t_resume():
    d = workdir()
    srv = Vcpd(A.vcpd, d)
    ch = srv.channel("Resume", rate="5/1", webhook="http://127.0.0.1:9/unused")
    srv.start()
    env = dict(os.environ, VIBER_API_URL=srv.url, VIBER_AUTH_TOKEN=ch["token"])

    def acked(state):
        try:
            return sum(1 for l in open(state) if l.startswith("A "))
        except FileNotFoundError:
            return 0

    try:
        n = 40
        # A bad line: nothing is sent.
        bad = os.path.join(d, "bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"type":"text","text":"fine"}\n{"type":"text","text":""}\n{"type":"x"}\n')
        r = vcp(srv, ch, "post", "--batch", bad)
        check(r.returncode == 3 and "bad.jsonl:2: missingData" in r.stderr
              and "bad.jsonl:3: badData" in r.stderr, "invalid batch: every bad line named, exit 3")
        check(len(srv.posts(ch["id"])) == 0, "invalid batch sent nothing")

        for sig, tag in ((signal.SIGTERM, "term"), (signal.SIGKILL, "kill")):
            path = write_batch(d, n, tag)
            state = path + ".state"
            p = subprocess.Popen([A.vcp, "post", "--batch", path], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 60
            while acked(state) < 8 and time.monotonic() < deadline:
                time.sleep(0.02)
            p.send_signal(sig)
            out, err = p.communicate(timeout=60)
            if sig == signal.SIGTERM:
                check(p.returncode == 8 and "resume" in err, "SIGTERM: stops between posts, exit 8")
            else:
                check(p.returncode == -9, "SIGKILL: killed")
            before = stored_texts(srv, ch)
            check(0 < len([t for t in before if t.startswith(tag)]) < n,
                  "%s: interrupted mid-run (%d stored)" % (tag, len(before)))
            r = subprocess.run([A.vcp, "post", "--batch", path], env=env, capture_output=True,
                               text=True, timeout=120)
            if r.returncode == 6:
                # The kill landed between the server's ack and the state write (or after the
                # intent record): vcp refuses to guess.  Decide like a user would: look.
                m = re.search(r":(\d+): sent before an interruption", r.stderr)
                check(m is not None, "unknown outcome names the line")
                line = int(m.group(1))
                text = "%s %03d" % (tag, line - 1)
                decision = "skip" if text in stored_texts(srv, ch) else "resend"
                print("unknown outcome for line %d -> --unknown %s" % (line, decision))
                r = subprocess.run([A.vcp, "post", "--batch", path, "--unknown", decision],
                                   env=env, capture_output=True, text=True, timeout=120)
            check(r.returncode == 0, "re-run completes (%s)" % r.stderr.strip()[-300:])
            got = [t for t in stored_texts(srv, ch) if t.startswith(tag)]
            check(sorted(got) == ["%s %03d" % (tag, i) for i in range(n)],
                  "%s: every message stored exactly once" % tag)
            check(acked(state) + sum(1 for l in open(state) if l.startswith("K ")) == n,
                  "state file accounts for every line")
        # Editing an acknowledged line is noticed.
        path = os.path.join(d, "term.jsonl")
        lines = open(path).read().split("\n")
        lines[0] = '{"type":"text","text":"edited"}'
        open(path, "w").write("\n".join(lines))
        r = subprocess.run([A.vcp, "post", "--batch", path], env=env, capture_output=True,
                           text=True)
        check(r.returncode == 7 and "does not match" in r.stderr, "edited file refused (exit 7)")
    finally:
        srv.stop()


# ------------------------------------------------------------------ webhook serve
def make_certs(d):
    def run(*a):
        subprocess.run(a, check=True, capture_output=True, cwd=d)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=vcp test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out",
        "srv.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")


def t_webhook():
    d = workdir()
    make_certs(d)
    srv = Vcpd(A.vcpd, d, extra=["--webhook-ca", os.path.join(d, "ca.pem")])
    ch = srv.channel("Hooked", rate="off")
    srv.start()
    env = dict(os.environ, VIBER_API_URL=srv.url, VIBER_AUTH_TOKEN=ch["token"])
    procs = []
    try:
        for scheme in ("http", "https"):
            pf = os.path.join(d, scheme + ".port")
            args = [A.vcp, "webhook", "serve", "--listen", "127.0.0.1:0", "--port-file", pf]
            if scheme == "https":
                args += ["--cert", os.path.join(d, "srv.pem"), "--key", os.path.join(d, "srv.key")]
            log = open(os.path.join(d, scheme + ".log"), "w+")
            p = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
            procs.append(p)
            for _ in range(100):
                if os.path.exists(pf):
                    break
                time.sleep(0.05)
            port = int(open(pf).read())
            url = "%s://127.0.0.1:%d/viber" % (scheme, port)
            r = vcp(srv, ch, "webhook", "set", url)
            check(r.returncode == 0, "vcpd set_webhook accepts vcp webhook serve over %s (%s)"
                  % (scheme, r.stderr.strip()))
            time.sleep(0.2)
            log.seek(0)
            text = log.read()
            check("event=webhook" in text and "signature=ok -> 200" in text,
                  "serve verified vcpd's signature and logged the callback (%s)" % scheme)
            r = vcp(srv, ch, "post", "text", "after webhook")
            check(r.returncode == 0, "posting works once the webhook is set")
        # The wrong token: the signature fails, serve answers 403, vcpd says invalidUrl.
        pf = os.path.join(d, "wrong.port")
        p = subprocess.Popen([A.vcp, "webhook", "serve", "--port-file", pf],
                             env=dict(env, VIBER_AUTH_TOKEN="not-the-token"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        for _ in range(100):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        r = vcp(srv, ch, "webhook", "set", "http://127.0.0.1:%d/" % int(open(pf).read()))
        check(r.returncode == 1 and "invalidUrl" in r.stderr, "bad signature -> 403 -> invalidUrl")
        procs[0].send_signal(signal.SIGINT)
        check(procs[0].wait(10) == 0, "serve stops cleanly on SIGINT")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        srv.stop()


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("test", choices=["lib", "cli", "usability", "parity", "backoff", "resume",
                                         "webhook"])
    ap.add_argument("--vcpd", required=True)
    ap.add_argument("--vcp", required=True)
    ap.add_argument("--lib-test")
    ap.add_argument("--parity-local")
    A = ap.parse_args()
    globals()["t_" + A.test]()
    print("PASS", A.test)


if __name__ == "__main__":
    main()
