#!/usr/bin/env python3
"""Turns bench/run's raw results (one wrk run per line) into the table.

Input lines (tab-separated): workload conns target rep rps p50_us p99_us errors
Medians are taken per (workload, conns, target) over the repetitions.
"""
import statistics
import sys
from collections import defaultdict

ORDER = ["post_text", "post_mixed", "account", "baddata"]
NAMES = {
    "post_text": "post text",
    "post_mixed": "post mixed (8 types)",
    "account": "get_account_info",
    "baddata": "post badData",
}


def ms(us):
    return "%.2f" % (us / 1000.0)


def main(path):
    runs = defaultdict(list)
    for line in open(path):
        f = line.split()
        if len(f) != 8:
            continue
        wl, c, tgt, _rep, rps, p50, p99, err = f
        runs[(wl, int(c), tgt)].append((float(rps), int(p50), int(p99), int(err)))

    def med(key, i):
        v = [r[i] for r in runs.get(key, [])]
        return statistics.median(v) if v else None

    conns = sorted({k[1] for k in runs})
    wls = [w for w in ORDER if any(k[0] == w for k in runs)]
    hdr = "%-22s %5s | %9s %7s %7s | %9s %7s %7s | %6s | %s" % (
        "workload", "conns", "vcpd r/s", "p50 ms", "p99 ms", "nginx r/s", "p50 ms", "p99 ms",
        "ratio", "errors")
    print(hdr)
    print("-" * len(hdr))
    for wl in wls:
        for c in conns:
            v, n = (wl, c, "vcpd"), (wl, c, "nginx")
            if v not in runs or n not in runs:
                continue
            vr, nr = med(v, 0), med(n, 0)
            errs = sum(r[3] for r in runs[v]) + sum(r[3] for r in runs[n])
            print("%-22s %5d | %9.0f %7s %7s | %9.0f %7s %7s | %6.2f | %s" % (
                NAMES[wl], c, vr, ms(med(v, 1)), ms(med(v, 2)), nr, ms(med(n, 1)),
                ms(med(n, 2)), vr / nr if nr else 0, errs or "-"))
    print("(median of %d runs each; ratio = vcpd req/s / nginx req/s; errors = socket "
          "errors, non-2xx and unexpected API statuses summed over all runs)"
          % max(len(r) for r in runs.values()))

    if any(k[2] == "prism" for k in runs):
        print()
        hdr = "%-22s %5s | %9s | %9s %7s %7s | %10s | %s" % (
            "workload", "conns", "vcpd r/s", "Prism r/s", "p50 ms", "p99 ms", "vcpd/Prism",
            "errors")
        print(hdr)
        print("-" * len(hdr))
        for c in conns:
            v, p = ("post_text", c, "vcpd"), ("post_text", c, "prism")
            if v not in runs or p not in runs:
                continue
            vr, pr = med(v, 0), med(p, 0)
            errs = sum(r[3] for r in runs[p])
            print("%-22s %5d | %9.0f | %9.0f %7s %7s | %10.1f | %s" % (
                NAMES["post_text"], c, vr, pr, ms(med(p, 1)), ms(med(p, 2)),
                vr / pr if pr else 0, errs or "-"))

    # The targets, from this same run.
    print()
    def ratio(wl, c, other="nginx"):
        a, b = med((wl, c, "vcpd"), 0), med((wl, c, other), 0)
        return a / b if a and b else None

    checks = []
    r = ratio("post_text", 64)
    p99 = med(("post_text", 64, "vcpd"), 2)
    if r is not None:
        checks.append(("post text @64: >= 0.60 x nginx, p99 <= 5 ms",
                       "%.2f x, p99 %s ms" % (r, ms(p99)), r >= 0.6 and p99 <= 5000))
    for wl in ("account", "baddata"):
        r = ratio(wl, 64)
        if r is not None:
            checks.append(("%s @64: >= 0.80 x nginx" % NAMES[wl], "%.2f x" % r, r >= 0.8))
    r = ratio("post_text", 64, "prism")
    if r is not None:
        checks.append(("post text @64: >= 30 x Prism", "%.1f x" % r, r >= 30))
    for name, got, ok in checks:
        print("target %-46s %-22s %s" % (name, got, "met" if ok else "MISSED"))


if __name__ == "__main__":
    main(sys.argv[1])
