#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Cross-check of benchmark (a) with the kernel's own DMA map benchmark
# (kernel/dma/map_benchmark.c, CONFIG_DMA_MAP_BENCHMARK in the KUnit test
# kernel): boots the debug test kernel (altdma built in; KASAN and lockdep
# make every figure slower, so only the ratios mean something) under
# intel-iommu, binds dma_map_benchmark to the virtio-blk disk through
# driver_override, once on the kernel's dma-iommu (lazy, strict) and once
# attached to altdma (deferred, strict), in alternating rounds, and runs
# tools/testing/selftests/dma/dma_map_benchmark (built here, static) with
# 1 and 4 threads, 2 s each, 4 KiB granule. Called by
# "scripts/bench.sh --mapbench [--rounds N]"; ROUNDS is its argument.
# Outputs in $ALTDMA_BUILD/bench-mapbench/.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

rounds=${1:-3}
need_pkgs busybox-static qemu-system-x86 cpio build-essential python3
"$ALTDMA_REPO/scripts/test-kernel.sh" >&2 || die "test kernel build failed"
out=$ALTDMA_BUILD/bench-mapbench
root=$out/root
rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt} "$out/inc/linux"
cp "$ALTDMA_SRC/include/linux/map_benchmark.h" "$out/inc/linux/"
gcc -static -O2 -I"$out/inc" -o "$root/bin/dma_map_benchmark" \
	"$ALTDMA_SRC/tools/testing/selftests/dma/dma_map_benchmark.c" ||
	die "dma_map_benchmark build failed"
cp /bin/busybox "$root/bin/busybox"
cp "$ALTDMA_REPO/scripts/bench-init.sh" "$root/init"
cp "$ALTDMA_REPO/scripts/vm-guest.sh" "$root/guest.sh"
chmod +x "$root/init"
: >"$root/modules.order"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz"
rm -f "$out/disk.img" "$out/results.txt"
truncate -s 64M "$out/disk.img"
log "booting the debug test kernel, -smp 4, bench_mode=mapbench; console: $out/console.log"
start=$(date +%s)
vm_run -accel tcg -m 2G -smp 4 \
	-M q35,kernel-irqchip=split -device intel-iommu,intremap=on \
	-kernel "$ALTDMA_KUNIT_BUILD/arch/x86/boot/bzImage" \
	-initrd "$out/initramfs.gz" \
	-append "console=ttyS0 intel_iommu=on intremap=off panic=-1 loglevel=4 altdma_vm=builtin kunit.filter_glob=altdma_vm_none bench_mode=mapbench bench_rounds=$rounds" \
	-display none -no-reboot -monitor none \
	-serial "file:$out/console.log" -serial "file:$out/results.txt" \
	-drive "if=none,id=d0,file=$out/disk.img,format=raw" \
	-device "virtio-blk-pci,drive=d0,addr=03.0,iommu_platform=on,disable-legacy=on"
tr -d '\r' <"$out/results.txt" >"$out/results.clean"
python3 - "$out/results.clean" "$(($(date +%s) - start))" <<'PY'
import statistics, sys
recs = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("R "):
        recs.append(dict(kv.split("=", 1) for kv in line[2:].split()))
    elif line.startswith("FAIL"):
        print(line)
print("mapbench: %s s; medians over rounds of per-round altdma/kernel ratios"
      % sys.argv[2])
print("| threads | altdma | kernel | map us (altdma/kernel) | unmap us "
      "(altdma/kernel) | map ratio | unmap ratio |")
print("|---|---|---|---|---|---|---|")
for t in sorted({r["threads"] for r in recs}, key=int):
    for a, k in (("altdma-deferred", "kernel-lazy"),
                 ("altdma-strict", "kernel-strict")):
        def get(c, key):
            return {r["round"]: float(r[key]) for r in recs
                    if r["threads"] == t and r["contender"] == c}
        row = [t, a, k]
        ratios = []
        for key in ("map_us", "unmap_us"):
            x, y = get(a, key), get(k, key)
            per = [x[i] / y[i] for i in x if i in y and y[i] > 0]
            row.append("%.2f / %.2f" % (statistics.median(x.values() or [0]),
                                        statistics.median(y.values() or [0])))
            ratios.append("%.2f" % statistics.median(per) if per else "-")
        print("| " + " | ".join(row + ratios) + " |")
PY
grep -qx done "$out/results.clean" && grep -q '^R ' "$out/results.clean"
