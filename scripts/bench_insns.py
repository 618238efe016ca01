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


# The DMA layer's own functions on the kernel's side (dma-iommu, its IOVA
# allocator and flush queue, swiotlb); altdma's are the module's.
KERNEL_LAYER = ("iommu_dma_", "__iommu_dma_", "alloc_iova", "free_iova",
                "iova_", "fq_", "queue_iova", "iommu_get_dma_domain",
                "swiotlb_", "iommu_dma_alloc_iova", "__swiotlb_")


def layer_own(name):
    return name.endswith("[altdma]") or name.startswith(KERNEL_LAYER)


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
            own = sum(n for s, n in per.items() if layer_own(s))
            top = ", ".join("%s %d" % (s, n) for s, n in per.most_common(12))
            print("%-16s %-5s %6d instructions, %5d the layer's own: %s" %
                  (c, op, len(pcs), own, top))


if __name__ == "__main__":
    main()
