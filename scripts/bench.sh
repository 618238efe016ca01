#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# altdma's side-by-side benchmarks (README "Benchmarks"): Debian's stock 6.1
# kernel in QEMU (TCG, q35 + intel-iommu, intel_iommu=on, -smp 4, 4 GiB so
# that swiotlb is set up; intremap=off: on a busy host the stock kernel's
# IO-APIC timer check through interrupt remapping can fail at boot and
# panic, and interrupt remapping plays no part in DMA mapping), altdma.ko built with BENCH=1 against
# linux-headers-amd64, and scripts/bench-init.sh as /init. One boot runs
# (a)-(d) in alternating rounds and (e) at 4 vCPUs; a second, short boot
# runs (e) at 2 vCPUs. scripts/bench_report.py turns the result lines into
# one table and JSON.
#
#   scripts/bench.sh [--rounds N]   the full benchmark (default 5 rounds)
#   scripts/bench.sh --profile      function_graph traces of the map and
#                                   unmap paths (console-smp4.log)
#   scripts/bench.sh --perf [PART]  perf's sampled profile (cpu-clock) of
#                                   4 KiB map+unmap, each contender; PART
#                                   "iova": (b)'s fast path and trees alone
#                                   (six timed rounds, then the profiles),
#                                   "frag": (b)'s 32-bit-full case, "big":
#                                   (a)'s first 200 pairs of 1 MiB after
#                                   set-up, "fio": (d)'s 1 MiB reads, six
#                                   alternating rounds with altdma's
#                                   flush and unmap counts, "strict":
#                                   (a)'s strict rows at 4 threads (four
#                                   timed rounds, then a system-wide
#                                   profile of each contender), "gdb",
#                                   "gdbcold", "gdbiova", "gdbiovatree"
#                                   and "gdbfrag": the VM that
#                                   scripts/bench-insns.sh drives
#   scripts/bench.sh --mapbench     cross-check of (a) with the kernel's own
#                                   kernel/dma/map_benchmark.c on the debug
#                                   test kernel (altdma built in)
#   scripts/bench.sh --smoke        one tiny round of every case (fio for
#                                   1 s): checks that each runs; last line
#                                   "bench-smoke: N passed, N failed"
#
# Outputs in $ALTDMA_BUILD/bench/ (or bench-smoke/): results-smpN.txt,
# console-smpN.log, table.txt, results.json.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

smoke= profile= perf= mapbench= rounds=5
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 ;;
	--profile) profile=1 smoke=1 ;;
	--perf) perf=map smoke=1
		case ${2:-} in [a-z]*) perf=$2; shift ;; esac ;;
	--mapbench) mapbench=1 ;;
	--rounds) rounds=$2; shift ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done

if [ -n "$mapbench" ]; then
	exec "$ALTDMA_REPO/scripts/bench-mapbench.sh" "$rounds"
fi
pkgs=(busybox-static qemu-system-x86 kmod cpio build-essential python3
	linux-image-amd64 linux-headers-amd64 fio)
[ -n "$perf" ] && pkgs+=(linux-perf)
need_pkgs "${pkgs[@]}"
kver=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's|/boot/vmlinuz-||' |
	grep '^6\.1\.' | sort -V | tail -n 1)
[ -n "$kver" ] || die "no Debian 6.1 kernel in /boot"
kdir=/usr/src/linux-headers-$kver
[ -d "$kdir" ] || die "no $kdir: install linux-headers-$kver"
out=$ALTDMA_BUILD/bench${smoke:+-smoke}
mkdir -p "$out/mod"

# altdma.ko with the benchmarks; cp -p keeps times so make rebuilds only
# what changed
rm -rf "$out/mod/bench"
cp -pr "$ALTDMA_REPO"/Kbuild "$ALTDMA_REPO"/Makefile "$ALTDMA_REPO"/*.c \
	"$ALTDMA_REPO"/*.h "$ALTDMA_REPO"/bench "$out/mod/"
make -C "$out/mod" KDIR="$kdir" BENCH=1 >"$out/build.log" 2>&1 ||
	{ tail -n 20 "$out/build.log"; die "altdma.ko (BENCH=1) build failed"; }

# the initramfs: busybox, the virtio modules, altdma.ko, fio and its
# libraries
root=$out/root
rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt}
cp /bin/busybox "$root/bin/busybox"
cp "$ALTDMA_REPO/scripts/bench-init.sh" "$root/init"
cp "$ALTDMA_REPO/scripts/vm-guest.sh" "$root/guest.sh"
chmod +x "$root/init"
cp "$out/mod/altdma.ko" "$root/altdma.ko"
altdma_stock_modules "$root" "$kver" virtio_pci virtio_blk
fio=$(command -v fio) || die "no fio"
cp "$fio" "$root/bin/fio"
bins=$fio
if [ -n "$perf" ]; then
	cp "$(command -v perf)" "$root/bin/perf" || die "no perf"
	bins="$bins $(command -v perf)"
fi
mkdir -p "$root/lib64" "$root/lib/x86_64-linux-gnu"
ldd $bins | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' |
	while read -r lib; do
		case $lib in
		*ld-linux*) cp -L "$lib" "$root/lib64/" ;;
		*) cp -L "$lib" "$root/lib/x86_64-linux-gnu/" ;;
		esac
	done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz"

# boot SMP MODE: one VM run; results in $out/results-smpSMP.txt
boot() {
	local smp=$1 mode=$2 res=$out/results-smp$1.txt con=$out/console-smp$1.log
	local ll=4 extra=

	[ -n "$perf" ] && extra=" bench_perf=$perf"

	[ "$mode" = profile -o "$mode" = perf ] && ll=7
	rm -f "$res" "$con" "$out/disk.img"
	truncate -s 256M "$out/disk.img"
	log "booting the stock kernel, -smp $smp, bench_mode=$mode; console: $con"
	vm_run -accel tcg -m 4G -smp "$smp" \
		-M q35,kernel-irqchip=split -device intel-iommu,intremap=on \
		-kernel "/boot/vmlinuz-$kver" -initrd "$out/initramfs.gz" \
		-append "console=ttyS0 intel_iommu=on intremap=off panic=-1 loglevel=$ll bench_mode=$mode bench_rounds=$rounds$extra" \
		-display none -no-reboot -monitor none \
		-serial "file:$con" -serial "file:$res" \
		-drive "if=none,id=d0,file=$out/disk.img,format=raw" \
		-device "virtio-blk-pci,drive=d0,addr=03.0,iommu_platform=on,disable-legacy=on"
	tr -d '\r' <"$res" >"$res.clean" && mv "$res.clean" "$res"
}

start=$(date +%s)
if [ -n "$profile" ]; then
	boot 4 profile
	sed -n '/=== profile/,$p' "$out/console-smp4.log"
	exit 0
elif [ -n "$perf" ]; then
	boot 4 perf
	sed -n '/=== perf/,$p' "$out/console-smp4.log" | grep -v '^\['
	exit 0
elif [ -n "$smoke" ]; then
	rounds=1
	boot 4 smoke
	boot 2 mem
else
	boot 4 full
	boot 2 mem
fi
secs=$(($(date +%s) - start))
python3 "$ALTDMA_REPO/scripts/bench_report.py" --out "$out" \
	${smoke:+--smoke} --secs "$secs" "$out/results-smp4.txt" "$out/results-smp2.txt"
