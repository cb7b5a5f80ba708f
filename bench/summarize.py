#!/usr/bin/env python3
"""Turns bench/run's raw results (one wrk run per line) into the table.

Input lines (tab-separated):
  workload conns target round rps p50_us p99_us errors wrk_threads
  posts_per_commit cpu_us_per_request cpu_by_thread
where cpu_by_thread is "name=us,name=us" (microseconds of CPU per request,
threads of one name summed) and posts_per_commit is "-" where there was no
commit.  Everything is per (workload, conns, wrk threads, target): medians
over the rounds, with min-max.  A ratio is vcpd's rate over nginx's of the
same round (they ran back to back), so its spread is that of the pairs.
The headline for a workload and connection count is the lower of the -t1
and -t2 median ratios (issue 11's protocol: a ratio that moves with the
client's thread count is not reported at its best).
"""
import statistics
import sys
from collections import defaultdict

ORDER = ["post_text", "post_mixed", "account", "baddata", "post_channels", "post_bigdb"]
NAMES = {
    "post_text": "post text",
    "post_mixed": "post mixed (8 types)",
    "account": "get_account_info",
    "baddata": "post badData",
    "post_channels": "post, many channels",
    "post_bigdb": "post, big database",
}
# issue 11's targets at 64 connections: (ratio, p99 ms or None)
TARGETS = {"post_text": (0.7, 5.0), "account": (0.9, None), "baddata": (0.8, None)}


def ms(us):
    return "%.2f" % (us / 1000.0)


def med(v):
    return statistics.median(v) if v else None


def spread(v, fmt):
    return (fmt % min(v)) + "-" + (fmt % max(v)) if v else "-"


def read(path):
    runs = defaultdict(dict)  # (wl, c, t, tgt) -> round -> record
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) != 12:
            continue
        wl, c, tgt, rnd, rps, p50, p99, err, t, ppc, cpu, by = f
        threads = {}
        if by != "-":
            for kv in by.split(","):
                k, v = kv.rsplit("=", 1)
                threads[k] = float(v)
        runs[(wl, int(c), int(t), tgt)][int(rnd)] = {
            "rps": float(rps), "p50": int(p50), "p99": int(p99), "err": int(err),
            "ppc": None if ppc == "-" else float(ppc), "cpu": float(cpu), "threads": threads}
    return runs


def main(path):
    runs = read(path)
    cells = sorted({(k[0], k[1], k[2]) for k in runs},
                   key=lambda x: (ORDER.index(x[0]) if x[0] in ORDER else 99, x[1], x[2]))

    def col(key, name):
        return [r[name] for r in runs.get(key, {}).values() if r[name] is not None]

    def ratios(wl, c, t, other="nginx"):
        a, b = runs.get((wl, c, t, "vcpd"), {}), runs.get((wl, c, t, other), {})
        return [a[k]["rps"] / b[k]["rps"] for k in a if k in b and b[k]["rps"] > 0]

    hdr = ("%-20s %5s %2s | %7s %13s %6s | %7s %13s %6s | %5s %9s | %6s %6s %5s | %6s | %s" % (
        "workload", "conns", "t", "vcpd/s", "(min-max)", "p99 ms", "nginx/s", "(min-max)",
        "p99 ms", "ratio", "(min-max)", "vcpd", "nginx", "x", "posts/", "errors"))
    print(hdr)
    print("%-20s %5s %2s | %28s %6s | %28s %6s | %15s | %6s %6s %5s | %6s |" % (
        "", "", "", "", "", "", "", "", "us/req", "us/req", "", "commit"))
    print("-" * len(hdr))
    rounds = 0
    for wl, c, t in cells:
        v, n = (wl, c, t, "vcpd"), (wl, c, t, "nginx")
        if v not in runs or n not in runs:
            continue
        rounds = max(rounds, len(runs[v]))
        vr, nr, rr = col(v, "rps"), col(n, "rps"), ratios(wl, c, t)
        vc, nc = med(col(v, "cpu")), med(col(n, "cpu"))
        ppc = col(v, "ppc")
        errs = sum(col(v, "err")) + sum(col(n, "err"))
        print("%-20s %5d %2d | %7.0f %13s %6s | %7.0f %13s %6s | %5.2f %9s | %6.2f %6.2f %5.2f | %6s | %s"
              % (NAMES.get(wl, wl), c, t, med(vr), spread(vr, "%.0f"), ms(med(col(v, "p99"))),
                 med(nr), spread(nr, "%.0f"), ms(med(col(n, "p99"))), med(rr), spread(rr, "%.2f"),
                 vc, nc, vc / nc if nc else 0, "%.1f" % med(ppc) if ppc else "-", errs or "-"))
    print("(median of %d round(s), min-max beside; t = wrk threads; ratio = vcpd r/s / nginx r/s "
          "of the same round; us/req = CPU microseconds per request, all threads of the process(es); "
          "x = vcpd's CPU per request in units of nginx's; posts/commit from vcpd's /metrics; "
          "errors = socket errors, non-2xx and unexpected API statuses summed over all runs)"
          % rounds)

    print()
    print("CPU per request by thread (median us; vcpd: MHD-single = the HTTP thread, "
          "vcpd-writer = the group commit):")
    for wl, c, t in cells:
        parts = []
        for tgt in ("vcpd", "nginx"):
            recs = runs.get((wl, c, t, tgt), {}).values()
            names = sorted({k for r in recs for k in r["threads"]})
            vals = ["%s %.2f" % (k, med([r["threads"].get(k, 0.0) for r in recs])) for k in names]
            if vals:
                parts.append("%s: %s" % (tgt, ", ".join(vals)))
        if parts:
            print("  %-20s %5d t%d  %s" % (NAMES.get(wl, wl), c, t, "; ".join(parts)))

    if any(k[3] == "prism" for k in runs):
        print()
        hdr = "%-20s %5s %2s | %9s | %9s %7s %7s | %10s | %s" % (
            "workload", "conns", "t", "vcpd r/s", "Prism r/s", "p50 ms", "p99 ms", "vcpd/Prism",
            "errors")
        print(hdr)
        print("-" * len(hdr))
        for wl, c, t in cells:
            v, p = (wl, c, t, "vcpd"), (wl, c, t, "prism")
            if v not in runs or p not in runs:
                continue
            vr, pr = med(col(v, "rps")), med(col(p, "rps"))
            print("%-20s %5d %2d | %9.0f | %9.0f %7s %7s | %10.1f | %s" % (
                NAMES.get(wl, wl), c, t, vr, pr, ms(med(col(p, "p50"))), ms(med(col(p, "p99"))),
                vr / pr if pr else 0, sum(col(p, "err")) or "-"))

    # Headline: per workload and connection count, the lower of the thread counts' ratios.
    print()
    print("headline (the lower median ratio over wrk -t1/-t2):")
    head = {}
    for wl, c, t in cells:
        rr = ratios(wl, c, t)
        if rr and ((wl, c) not in head or med(rr) < head[(wl, c)][0]):
            head[(wl, c)] = (med(rr), t, med(col((wl, c, t, "vcpd"), "p99")))
    for (wl, c), (r, t, p99) in sorted(
            head.items(), key=lambda x: (ORDER.index(x[0][0]) if x[0][0] in ORDER else 99,
                                         x[0][1])):
        print("  %-20s %5d: %.2f x nginx (at -t%d), vcpd p99 %s ms" % (NAMES.get(wl, wl), c, r, t,
                                                                      ms(p99)))
    print()
    for wl, (want, want_p99) in TARGETS.items():
        if (wl, 64) not in head:
            continue
        r, t, p99 = head[(wl, 64)]
        ok = r >= want and (want_p99 is None or p99 / 1000.0 <= want_p99)
        name = "%s @64: >= %.2f x nginx%s" % (NAMES[wl], want,
                                              ", p99 <= %g ms" % want_p99 if want_p99 else "")
        got = "%.2f x%s" % (r, ", p99 %s ms" % ms(p99) if want_p99 else "")
        print("target %-46s %-22s %s" % (name, got, "met" if ok else "MISSED"))
    r = ratios("post_text", 64, 1, "prism") or ratios("post_text", 64, 2, "prism")
    if r:
        print("target %-46s %-22s %s" % ("post text @64: >= 30 x Prism", "%.1f x" % med(r),
                                         "met" if med(r) >= 30 else "MISSED"))


if __name__ == "__main__":
    main(sys.argv[1])
