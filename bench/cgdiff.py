#!/usr/bin/env python3
"""Per-request profile from two callgrind runs: (measured - baseline) / N.

  cgdiff.py MEASURED BASELINE N [TOP] [--inclusive]

Reads both files through callgrind_annotate, subtracts the baseline's Ir per
function (start-up and shutdown), divides by N and prints the top functions,
so that what a request costs is not buried under what starting vcpd costs.
"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$")


def load(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100", "--tree=none", "--auto=no"]
    if inclusive:
        args.append("--inclusive=yes")
    out = subprocess.run(args + [path], capture_output=True, text=True, check=True).stdout
    funcs = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if not m or "PROGRAM TOTALS" in line or "events annotated" in line:
            continue
        # "file:function [object]": keep the function; the object only
        # for anonymous addresses (stripped libraries), to say whose they are
        m2 = re.match(r"^(\S*?):(\S+)(?:\s+\[(.*)\])?$", m.group(2).strip())
        if not m2:
            continue
        func, obj = m2.group(2), (m2.group(3) or "").rsplit("/", 1)[-1]
        name = "%s [%s]" % (func, obj) if func.startswith("0x") else func
        if func.startswith("0x") and obj and not inclusive:
            name = "(%s)" % obj  # all anonymous code of one library together
        funcs[name] = funcs.get(name, 0) + int(m.group(1).replace(",", ""))
    return funcs


def main():
    a = [x for x in sys.argv[1:] if not x.startswith("--")]
    inclusive = "--inclusive" in sys.argv
    meas, base, n = load(a[0], inclusive), load(a[1], inclusive), int(a[2])
    top = int(a[3]) if len(a) > 3 else 25
    diff = {k: (v - base.get(k, 0)) / n for k, v in meas.items()}
    rows = sorted(diff.items(), key=lambda kv: -kv[1])[:top]
    for name, ir in rows:
        print("%10.0f  %s" % (ir, name[:110]))


if __name__ == "__main__":
    main()
