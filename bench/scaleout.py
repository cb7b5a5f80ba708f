#!/usr/bin/env python3
"""Helpers of bench/scaleout (issue 10's benchmark; not a test).

  scaleout.py render CONF LISTEN SERVER...
      prints deploy/nginx/vcpd.conf with @LISTEN@ filled and the @SERVER@
      line once per SERVER (the rule of tests/e2e/lbtest.py)
  scaleout.py fanout PORT_A PORT_B CHANNEL TOKEN FROM N
      a viewer on instance B's event stream, N posts to instance A one after
      another (20 ms apart); prints the time from each post's acknowledgement
      by A to its event on B, p50/p99/max in ms, or "n/a: no cross-instance
      fan-out" when B's viewer gets none of them within 2 s
  scaleout.py summary RESULTS
      the throughput table: per target, the median over the rounds of posts/s
      and p99 with min-max, and each round's ratios (to SQLite direct, to one
      instance behind nginx, to nginx return 200), medians with min-max

Only 127.0.0.1 is ever contacted.
"""
import http.client
import json
import socket
import statistics
import sys
import threading
import time


def render(conf, listen, servers):
    out = []
    for line in open(conf).read().split("\n"):
        if line.lstrip().startswith("#"):
            out.append(line)
        elif "@SERVER@" in line:
            out += [line.replace("@SERVER@", s) for s in servers]
        else:
            out.append(line.replace("@LISTEN@", listen))
    sys.stdout.write("\n".join(out))


def fanout(port_a, port_b, channel, token, sender, n):
    sock = socket.create_connection(("127.0.0.1", port_b), timeout=5)
    sock.sendall(("GET /api/v1/channels/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Accept: text/event-stream\r\n\r\n" % channel).encode())
    seen = {}  # message_token -> monotonic arrival
    lock = threading.Lock()
    stop = threading.Event()

    def reader():
        buf = b""
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            buf += data
            for line in buf.split(b"\n")[:-1]:
                if line.startswith(b"id: "):
                    with lock:
                        seen.setdefault(int(line[4:].strip()), now)
            buf = buf.rsplit(b"\n", 1)[-1]

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(0.3)  # the stream is open before the first post
    conn = http.client.HTTPConnection("127.0.0.1", port_a, timeout=10)
    acked = {}
    body = json.dumps({"from": sender, "type": "text", "text": "fan-out probe"})
    for _ in range(n):
        conn.request("POST", "/pa/post", body=body,
                     headers={"X-Viber-Auth-Token": token, "Content-Type": "application/json"})
        js = json.loads(conn.getresponse().read())
        if js.get("status") == 0:
            acked[js["message_token"]] = time.monotonic()
        time.sleep(0.02)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        with lock:
            if all(k in seen for k in acked):
                break
        time.sleep(0.05)
    stop.set()
    sock.close()
    with lock:
        lat = sorted((seen[k] - a) * 1000.0 for k, a in acked.items() if k in seen)
    if not lat:
        print("fan-out A->B: n/a: no cross-instance fan-out (%d posts acknowledged by A, "
              "none reached a viewer on B within 2 s)" % len(acked))
        return
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    print("fan-out A->B: %d of %d posts reached B; ms from A's answer to B's event: "
          "p50 %.2f p99 %.2f max %.2f" % (len(lat), len(acked), p(0.5), p(0.99), lat[-1]))


NAMES = [("sqlite", "1 instance, SQLite, direct"), ("pg", "1 instance, PostgreSQL, direct"),
         ("lb1", "1 instance on PostgreSQL behind nginx"),
         ("lb2", "2 instances on PostgreSQL behind nginx"),
         ("lb3", "3 instances on PostgreSQL behind nginx"), ("nginx", "nginx return 200")]


def summary(path):
    runs = {}  # target -> round -> (rps, p99 us, errors)
    for line in open(path):
        f = line.split()
        if len(f) != 6:
            continue
        tgt, rnd, rps, _p50, p99, err = f
        runs.setdefault(tgt, {})[int(rnd)] = (float(rps), int(p99), int(err))

    def med(v):
        return statistics.median(v) if v else float("nan")

    def spread(v, fmt):
        return (fmt % min(v)) + "-" + (fmt % max(v)) if v else "-"

    def ratios(a, b):
        ra, rb = runs.get(a, {}), runs.get(b, {})
        return [ra[k][0] / rb[k][0] for k in ra if k in rb and rb[k][0] > 0]

    print("%-40s | %8s %15s | %7s %13s | %-15s | %-15s | %-15s | %s" % (
        "post text, 64 connections, wrk -t1", "posts/s", "(min-max)", "p99 ms", "(min-max)",
        "/ SQLite", "/ 1 behind nginx", "/ nginx", "errors"))
    for tgt, name in NAMES:
        r = runs.get(tgt)
        if not r:
            continue
        rps = [x[0] for x in r.values()]
        p99 = [x[1] / 1000.0 for x in r.values()]
        cells = []
        for other in ("sqlite", "lb1", "nginx"):
            rr = ratios(tgt, other)
            cells.append("%.2f (%s)" % (med(rr), spread(rr, "%.2f")) if rr and other != tgt
                         else "-")
        print("%-40s | %8.0f %15s | %7.2f %13s | %-15s | %-15s | %-15s | %d" % (
            name, med(rps), spread(rps, "%.0f"), med(p99), spread(p99, "%.2f"), cells[0],
            cells[1], cells[2], sum(x[2] for x in r.values())))
    print("(median of %d round(s), min-max beside; a ratio is taken within each round, the "
          "targets of a round running back to back; errors = wrk socket errors, non-2xx and "
          "API statuses other than 0, over all rounds)" % max(len(r) for r in runs.values()))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "render" and len(argv) >= 5:
        render(argv[2], argv[3], argv[4:])
    elif cmd == "fanout" and len(argv) == 8:
        fanout(int(argv[2]), int(argv[3]), argv[4], argv[5], argv[6], int(argv[7]))
    elif cmd == "summary" and len(argv) == 3:
        summary(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
