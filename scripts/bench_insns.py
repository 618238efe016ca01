#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Summarise scripts/bench-insns.sh: instructions per call and per function.

usage: bench_insns.py KALLSYMS_FILE TRACE_DIR CONTENDER...
KALLSYMS_FILE holds the guest's text symbols ("addr t name [module]" lines,
as the VM writes them to its result port); TRACE_DIR holds CONTENDER-map.pc
and CONTENDER-unmap.pc, one program counter per executed instruction.
"""
import bisect
import collections
import sys


def load_symbols(path):
    syms = []
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and p[1] in ("t", "T") and len(p[0]) == 16:
                try:
                    syms.append((int(p[0], 16), " ".join(p[2:])))
                except ValueError:
                    pass
    syms.sort()
    return syms


def main():
    syms = load_symbols(sys.argv[1])
    addrs = [a for a, _ in syms]
    for c in sys.argv[3:]:
        for op in ("map", "unmap"):
            with open("%s/%s-%s.pc" % (sys.argv[2], c, op)) as f:
                pcs = [int(x, 16) for x in f if x.strip()]
            per = collections.Counter()
            for pc in pcs:
                i = bisect.bisect_right(addrs, pc) - 1
                per[syms[i][1] if i >= 0 else "?"] += 1
            top = ", ".join("%s %d" % (s, n) for s, n in per.most_common(12))
            print("%-16s %-5s %6d instructions: %s" % (c, op, len(pcs), top))


if __name__ == "__main__":
    main()
