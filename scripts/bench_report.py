#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turn the benchmark VM's result lines into one table and JSON.

Reads the "R key=value ..." lines that scripts/bench-init.sh printed in
each boot. Every ratio is altdma over the kernel (or over the floor),
computed per round between runs of the same round, which alternate; the
table quotes the median of those per-round ratios and the median of each
contender's results. With --smoke it checks instead that every case ran
and prints "bench-smoke: N passed, N failed".
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys

SIZES = ("4096", "65536", "1048576")
A_CONT = ("kernel-lazy", "kernel-strict", "altdma-deferred", "altdma-strict",
          "floor")
# (a)'s ratios and their targets (issue 13), for the same-page rows and the
# rotating-buffer rows alike
A_ROWS = (("altdma-deferred", "kernel-lazy", 0.85),
          ("altdma-strict", "kernel-strict", 0.95),
          ("altdma-strict", "floor", 1.1),
          ("altdma-deferred", "floor", 0.8))
# (d): fio jobs and the contender pairs that run them
D_JOBS = (("randread", "altdma-deferred", "kernel-lazy"),
          ("randread", "altdma-strict", "kernel-strict"),
          ("read", "altdma-deferred", "kernel-lazy"))


def parse(path):
    recs, checks, done = [], [], False
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return recs, checks, False
    for line in lines:
        if line.startswith("R "):
            recs.append(dict(kv.split("=", 1) for kv in line[2:].split()
                             if "=" in kv))
        elif line.startswith(("ok: ", "FAIL: ")):
            checks.append(line)
        elif line == "done":
            done = True
    return recs, checks, done


def pick(recs, **want):
    return [r for r in recs if all(r.get(k) == v for k, v in want.items())]


def by_round(recs, key, **want):
    """{round: value of key} for the records matching want."""
    out = {}
    for r in pick(recs, **want):
        if key in r:
            out[r["round"]] = float(r[key])
    return out


def med(values):
    return statistics.median(values) if values else None


def ratio(recs, key, num, den, **want):
    """Median over rounds of num/den, and both medians."""
    a = by_round(recs, key, contender=num, **want)
    b = by_round(recs, key, contender=den, **want)
    per = [a[k] / b[k] for k in a if k in b and b[k] > 0]
    return med(per), med(list(a.values())), med(list(b.values())), len(per)


def row(rows, name, num, den, key, recs, target, better, **want):
    r, ma, mb, n = ratio(recs, key, num, den, **want)
    met = None
    if r is not None:
        met = r <= target if better == "lower" else r >= target
    rows.append({"case": name, "altdma": num, "against": den, "metric": key,
                 "median_altdma": ma, "median_against": mb,
                 "median_ratio": r, "rounds": n,
                 "target": ("<= " if better == "lower" else ">= ") + str(target),
                 "met": met})


def build_rows(r4, r2):
    rows = []
    for case in ("a", "a-rot"):
        for s in SIZES:
            recs = pick(r4, case=case, size=s)
            for t in sorted({x["threads"] for x in recs}, key=int):
                w = dict(case=case, size=s, threads=t)
                nm = "a map+unmap %s B, %s thr" % (s, t)
                if case == "a-rot":
                    # one buffer count per size; a label per count seen
                    for b in sorted({x.get("bufs", "?") for x in recs
                                     if x["threads"] == t}):
                        for num, den, tgt in A_ROWS:
                            row(rows, "%s, %s bufs rotating" % (nm, b), num,
                                den, "ns", r4, tgt, "lower", bufs=b, **w)
                    continue
                for num, den, tgt in A_ROWS:
                    row(rows, nm, num, den, "ns", r4, tgt, "lower", **w)
    for n in ("1", "16"):
        row(rows, "b iova fast path, %s page(s)" % n, "altdma", "kernel", "ns",
            r4, 1.2, "lower", case="b-fast", npages=n)
    for case, nm, tgts in (("b-frag", "b iova 32-bit full, cached",
                            (("avg_ns", 0.5), ("p99_ns", 1.0))),
                           ("b-frag-tree", "b iova 32-bit full, trees alone",
                            (("avg_ns", 0.05), ("p99_ns", 0.01)))):
        for key, tgt in tgts:
            row(rows, "%s (%s)" % (nm, key), "altdma", "kernel", key, r4,
                tgt, "lower", case=case)
    row(rows, "c bounce 512 B unaligned", "altdma-bounce", "kernel-bounce",
        "ns", r4, 0.8, "lower", case="c")
    row(rows, "d fio 4k randread QD32, lazy (IOPS)", "altdma-deferred",
        "kernel-lazy", "iops", r4, 1.0, "higher", case="d", rw="randread")
    row(rows, "d fio 4k randread QD32, strict (IOPS)", "altdma-strict",
        "kernel-strict", "iops", r4, 1.0, "higher", case="d", rw="randread")
    row(rows, "d fio 1m seq read (KiB/s)", "altdma-deferred", "kernel-lazy",
        "kib_s", r4, 1.05, "higher", case="d", rw="read")
    for recs in (r2, r4):
        for m in pick(recs, case="e") + pick(recs, case="e-idle"):
            a, k = float(m["altdma_total"]), float(m["kernel_total"])
            when = "after load" if m["case"] == "e" else "1 s idle"
            rows.append({"case": "e memory per domain, %s CPUs, %s (bytes)"
                         % (m["cpus"], when), "altdma": "altdma-deferred",
                         "against": "kernel-lazy (lower bound)",
                         "metric": "bytes", "median_altdma": a,
                         "median_against": k, "median_ratio": a / k,
                         "rounds": 1, "target": "<= 1.0",
                         "met": a / k <= 1.0, "detail": m})
    return rows


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    return "%.3g" % v


def table(rows):
    head = ("case", "altdma", "against", "metric", "altdma med",
            "against med", "ratio med", "target", "met")
    lines = [head]
    for r in rows:
        lines.append((r["case"], r["altdma"], r["against"], r["metric"],
                      fmt(r["median_altdma"]), fmt(r["median_against"]),
                      fmt(r["median_ratio"]), r["target"],
                      {True: "yes", False: "NO", None: "-"}[r["met"]]))
    w = [max(len(x[i]) for x in lines) for i in range(len(head))]
    out = ["| " + " | ".join(x[i].ljust(w[i]) for i in range(len(head))) + " |"
           for x in lines]
    out.insert(1, "|" + "|".join("-" * (n + 2) for n in w) + "|")
    return "\n".join(out)


def smoke(r4, c4, d4, r2, c2, d2):
    ok = fail = 0

    def check(name, cond):
        nonlocal ok, fail
        print(("ok: " if cond else "FAIL: ") + name)
        if cond:
            ok += 1
        else:
            fail += 1
    for line in c4 + c2:
        check(line.split(": ", 1)[1], line.startswith("ok: "))
    check("the 4-vCPU boot finished", d4)
    check("the 2-vCPU boot finished", d2)
    for case in ("a", "a-rot"):
        for c in A_CONT:
            for s in SIZES:
                for t in ("1", "4"):
                    got = pick(r4, case=case, size=s, threads=t, contender=c)
                    check("%s %s %s B %s thr ran" % (case, c, s, t),
                          bool(got) and float(got[0]["ns"]) > 0 and
                          (case == "a" or int(got[0]["bufs"]) > 1))
    for c in ("kernel-bounce", "altdma-bounce"):
        got = pick(r4, case="c", contender=c)
        check("c %s ran" % c, bool(got) and float(got[0]["ns"]) > 0)
    for c in ("kernel", "altdma"):
        for n in ("1", "16"):
            got = pick(r4, case="b-fast", npages=n, contender=c)
            check("b fast %s %s page(s) ran" % (c, n),
                  bool(got) and float(got[0]["ns"]) > 0)
        for case in ("b-frag", "b-frag-tree"):
            got = pick(r4, case=case, contender=c)
            check("%s %s ran and filled the 32-bit space" % (case, c),
                  bool(got) and int(got[0]["filled"]) >= 4095 and
                  int(got[0]["allocs"]) > 0)
    for rw, num, den in D_JOBS:
        for c in (num, den):
            got = pick(r4, case="d", rw=rw, contender=c)
            check("d fio %s on %s ran" % (rw, c),
                  bool(got) and float(got[0]["iops"]) > 0)
    for recs, n in ((r2, "2"), (r4, "4")):
        got = pick(recs, case="e")
        check("e memory at %s CPUs measured" % n,
              bool(got) and got[0]["cpus"] == n and
              int(got[0]["altdma_total"]) > 0)
    print("bench-smoke: %d passed, %d failed" % (ok, fail))
    return fail == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--secs", type=int, default=0)
    ap.add_argument("smp4")
    ap.add_argument("smp2")
    args = ap.parse_args()
    r4, c4, d4 = parse(args.smp4)
    r2, c2, d2 = parse(args.smp2)
    if args.smoke:
        return 0 if smoke(r4, c4, d4, r2, c2, d2) else 1
    rows = build_rows(r4, r2)
    doc = {"date": datetime.datetime.now(datetime.timezone.utc)
           .strftime("%Y-%m-%d %H:%M UTC"),
           "machine": "%s, %d host CPUs; QEMU TCG q35 + intel-iommu, guest "
           "Debian 6.1 stock kernel" % (platform.node(), os.cpu_count()),
           "rounds": max([int(r["round"]) for r in r4 if "round" in r] or [0]),
           "wall_seconds": args.secs, "checks": c4 + c2,
           "finished": d4 and d2, "rows": rows}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    t = table(rows)
    with open(os.path.join(args.out, "table.txt"), "w") as f:
        f.write(t + "\n")
    print("bench: %s, %d rounds, %d s" % (doc["date"], doc["rounds"],
                                          args.secs))
    for c in doc["checks"]:
        if c.startswith("FAIL"):
            print(c)
    print(t)
    print("bench: JSON in %s" % os.path.join(args.out, "results.json"))
    return 0 if doc["finished"] else 1


if __name__ == "__main__":
    sys.exit(main())
