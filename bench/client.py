#!/usr/bin/env python3
"""Small clients and a slow HTTPS webhook receiver for bench/run and bench/cost.

  client.py load PORT PATH N --conns C --token T --body JSON --expect S
      sends exactly N requests over C keep-alive connections to 127.0.0.1:PORT
      and fails unless every answer is HTTP 200 with "status": S.  With
      --channels FILE ("TOKEN SUPERADMIN_ID" lines) instead of --token, the
      requests go to those channels in rotation, FROM in the body replaced
      by each one's superadmin id.
  client.py receiver --cert C --key K --delay SECONDS --port-file F
      HTTPS server on 127.0.0.1 (ephemeral port) answering every POST with
      200 after SECONDS; one thread per connection, so slow answers overlap.
  client.py burst PORT N --token T --url URL
      N concurrent set_webhook calls to vcpd (one thread and connection
      each, released together); prints the wall time until the last answer
      and fails unless all N answered status 0.
  client.py channels PORT N --admin-key K --webhook URL --out FILE
      creates N channels through the admin API (8 connections) with URL
      stored as their webhook, and writes one "TOKEN SUPERADMIN_ID" line per
      channel to FILE (the fixture of bench/post_channels.lua).

Only 127.0.0.1 is ever contacted.
"""
import argparse
import http.client
import http.server
import json
import os
import socketserver
import ssl
import sys
import threading
import time

HOST = "127.0.0.1"


def request(conn, path, token, body):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Viber-Auth-Token"] = token
    conn.request("POST", path, body=body.encode(), headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, data


def cmd_load(a):
    errors = []
    counts = [a.n // a.conns + (1 if i < a.n % a.conns else 0) for i in range(a.conns)]
    # --channels: (token, body) in rotation, FROM in the body replaced by each channel's sender
    chans = [(t, a.body.replace("FROM", f)) for t, f in
             (line.split() for line in open(a.channels))] if a.channels else [(a.token, a.body)]
    turn = iter(range(1 << 62))

    def worker(k):
        conn = http.client.HTTPConnection(HOST, a.port, timeout=600)
        try:
            for _ in range(k):
                token, body = chans[next(turn) % len(chans)]
                st, data = request(conn, a.path, token, body)
                if st != 200 or json.loads(data).get("status") != a.expect:
                    errors.append((st, data[:200]))
                    return
        except Exception as e:  # noqa: BLE001 - report any failure
            errors.append(("exception", repr(e)))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in counts if k]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("load: unexpected answer: %r" % (errors[0],), file=sys.stderr)
        return 1
    print("load: %d requests in %.2f s" % (a.n, time.monotonic() - t0), file=sys.stderr)
    return 0


class SlowHandler(http.server.BaseHTTPRequestHandler):
    delay = 1.0
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        time.sleep(self.delay)
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


class TLSThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    ctx = None

    def finish_request(self, request, client_address):
        # The TLS handshake runs on the connection's own thread, so that 200
        # handshakes do not queue behind each other on the accept loop.
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


def cmd_receiver(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    SlowHandler.delay = a.delay
    TLSThreadingServer.ctx = ctx
    srv = TLSThreadingServer((HOST, 0), SlowHandler)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, a.port_file)
    srv.serve_forever()


def cmd_burst(a):
    results = [None] * a.n
    start = threading.Barrier(a.n + 1)
    body = json.dumps({"url": a.url})

    def worker(i):
        conn = http.client.HTTPConnection(HOST, a.port, timeout=60)
        conn.connect()
        start.wait()
        try:
            st, data = request(conn, "/pa/set_webhook", a.token, body)
            d = json.loads(data)
            results[i] = (st, d.get("status"), time.monotonic(), d.get("detail"))
        except Exception as e:  # noqa: BLE001
            results[i] = ("exception", repr(e), time.monotonic())
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(a.n)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    ok = sum(1 for r in results if r and r[0] == 200 and r[1] == 0)
    wall = max(r[2] for r in results if r) - t0
    print("BURST n=%d ok=%d wall_s=%.3f" % (a.n, ok, wall))
    if ok != a.n:
        bad = [r for r in results if not (r and r[0] == 200 and r[1] == 0)]
        print("burst: %d failed, e.g. %r" % (len(bad), bad[0]), file=sys.stderr)
        return 1
    return 0


def cmd_channels(a):
    lines = [None] * a.n
    errors = []
    body = lambda i: json.dumps({"name": "Bench %05d" % i, "webhook": a.webhook}).encode()

    def worker(k):
        conn = http.client.HTTPConnection(HOST, a.port, timeout=60)
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + a.admin_key}
        try:
            for i in range(k, a.n, 8):
                conn.request("POST", "/admin/v1/channels", body=body(i), headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 201:
                    errors.append((resp.status, data[:200]))
                    return
                d = json.loads(data)
                lines[i] = "%s %s\n" % (d["token"], d["superadmin"]["id"])
        except Exception as e:  # noqa: BLE001 - report any failure
            errors.append(("exception", repr(e)))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("channels: %d failed, e.g. %r" % (len(errors), errors[0]), file=sys.stderr)
        return 1
    with open(a.out + ".tmp", "w") as f:
        f.writelines(lines)
    os.replace(a.out + ".tmp", a.out)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("load")
    s.add_argument("port", type=int)
    s.add_argument("path")
    s.add_argument("n", type=int)
    s.add_argument("--conns", type=int, default=1)
    s.add_argument("--token", default="")
    s.add_argument("--body", default="{}")
    s.add_argument("--expect", type=int, default=0)
    s.add_argument("--channels")
    s = sub.add_parser("receiver")
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--delay", type=float, default=1.0)
    s.add_argument("--port-file", required=True)
    s = sub.add_parser("burst")
    s.add_argument("port", type=int)
    s.add_argument("n", type=int)
    s.add_argument("--token", required=True)
    s.add_argument("--url", required=True)
    s = sub.add_parser("channels")
    s.add_argument("port", type=int)
    s.add_argument("n", type=int)
    s.add_argument("--admin-key", required=True)
    s.add_argument("--webhook", required=True)
    s.add_argument("--out", required=True)
    a = p.parse_args()
    return {"load": cmd_load, "receiver": cmd_receiver, "burst": cmd_burst,
            "channels": cmd_channels}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
