#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The reliability VM: the debug test kernel (KASAN, lockdep, atomic-sleep,
# DMA_API_DEBUG, kmemleak, fault injection) in QEMU (TCG, -smp 4, q35 +
# intel-iommu) with a virtio-blk disk on a hot-pluggable PCIe root port and
# two virtio-net NICs, all behind the vIOMMU. Inside, scripts/vm-stress-init.sh
# drives testmod/altdma_stress.ko (built here against the test kernel):
# fault injection on every allocation point of the attach, map and alloc
# paths (fail_function), exhaustion of a shrunk IOVA space and bounce pool,
# an untrusted device, a stress run of kthreads beside real disk and
# network I/O, a misusing driver, hot-unplug cycles of the attached disk
# (QMP device_del/device_add from scripts/qmp-hotplug.py) and a kmemleak
# scan at the end.
#
#   scripts/vm-stress.sh [--iters N] [--cycles N]
#       --iters   rounds of random operations per stress thread (default
#                 2000; a longer soak: 50000)
#       --cycles  hot-unplug cycles (default 2)
#
# Keeps its outputs in $ALTDMA_BUILD/vm-stress/ (console.log, results.txt,
# qmp.log). The last line is "vm-stress: N passed, N failed"; the exit
# status is non-zero on any failed check, or if the VM did not finish.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

iters=2000 cycles=2
while [ $# -gt 0 ]; do
	case "$1" in
	--iters) iters=$2; shift 2 ;;
	--cycles) cycles=$2; shift 2 ;;
	*) die "usage: $0 [--iters N] [--cycles N]" ;;
	esac
done

need_pkgs busybox-static qemu-system-x86 kmod cpio build-essential python3
"$ALTDMA_REPO/scripts/test-kernel.sh" >&2 || die "test kernel build failed"
kernel=$ALTDMA_KUNIT_BUILD/arch/x86/boot/bzImage
out=$ALTDMA_BUILD/vm-stress
mkdir -p "$out/testmod"

# the test driver, against the test kernel's build dir (cp -p: make only
# rebuilds what changed)
cp -p "$ALTDMA_REPO"/testmod/Kbuild "$ALTDMA_REPO"/testmod/*.[ch] "$out/testmod/"
make -C "$ALTDMA_KUNIT_BUILD" M="$out/testmod" modules >"$out/build.log" 2>&1 ||
	{ tail -n 20 "$out/build.log"; die "altdma_stress.ko build failed"; }

# the initramfs
root=$out/root
rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt}
cp /bin/busybox "$root/bin/busybox"
cp "$ALTDMA_REPO/scripts/vm-stress-init.sh" "$root/init"
cp "$ALTDMA_REPO/scripts/vm-guest.sh" "$root/guest.sh"
cp "$out/testmod/altdma_stress.ko" "$root/"
chmod +x "$root/init"
echo "iters=$iters cycles=$cycles" >"$root/params"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz"

rm -f "$out/disk.img" "$out/results.txt" "$out/console.log" "$out/qmp.sock"
truncate -s 64M "$out/disk.img"
vdev="iommu_platform=on,disable-legacy=on"
disk="driver=virtio-blk-pci,drive=d0,id=disk1,bus=rp1,$vdev"
# no KUnit suite at boot; intremap=off: see scripts/kunit.sh
kargs="intel_iommu=on intremap=off no_timer_check kunit.filter_glob=altdma_vm_none"
log "booting the stress VM (TCG, -smp 4, q35 + intel-iommu); console: $out/console.log"
start=$(date +%s)
# ACPI PCI hot-plug off: the root port uses native PCIe hot-plug (pciehp)
vm_run -accel tcg -m 1G -smp 4 \
	-M q35,kernel-irqchip=split -device intel-iommu,intremap=on \
	-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off \
	-kernel "$kernel" -initrd "$out/initramfs.gz" \
	-append "console=ttyS0 $kargs panic=-1 loglevel=6" \
	-display none -no-reboot -monitor none \
	-serial "file:$out/console.log" -serial "file:$out/results.txt" \
	-qmp "unix:$out/qmp.sock,server=on,wait=off" \
	-device pcie-root-port,id=rp1,chassis=1,slot=1,addr=07.0 \
	-blockdev "driver=raw,node-name=d0,file.driver=file,file.filename=$out/disk.img" \
	-device "$disk" \
	-netdev hubport,id=n0,hubid=0 -netdev hubport,id=n1,hubid=0 \
	-device "virtio-net-pci,netdev=n0,addr=04.0,mac=52:54:00:a1:d0:01,$vdev" \
	-device "virtio-net-pci,netdev=n1,addr=05.0,mac=52:54:00:a1:d0:02,$vdev" &
qemu=$!
python3 "$ALTDMA_REPO/scripts/qmp-hotplug.py" "$out/qmp.sock" "$out/results.txt" \
	--id disk1 --add "$disk" >"$out/qmp.log" 2>&1 &
qmp=$!
wait $qemu
st=$?
kill $qmp 2>/dev/null
wait $qmp 2>/dev/null
secs_run=$(($(date +%s) - start))

vm_verdict vm-stress "$out" "$st" "$secs_run" '^hotplug: '
