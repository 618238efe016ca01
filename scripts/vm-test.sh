#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test VM: Debian's stock 6.1 kernel (linux-image-amd64) in QEMU (TCG,
# q35 + intel-iommu), a busybox initramfs carrying the stock virtio and
# ext4 modules and altdma.ko built against linux-headers-amd64. Inside,
# scripts/vm-init.sh attaches altdma to a virtio-blk disk and two virtio-net
# NICs wired to each other by a QEMU hub (no host network), moves data
# through them and reports one line per check on a second serial port.
#
#   scripts/vm-test.sh
#
# Keeps its outputs in $ALTDMA_BUILD/vm-<kernel>/ (console.log, results.txt).
# The last line is "vm-stock: N passed, N failed"; the exit status is
# non-zero on any failed check, or if the VM did not finish.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

need_pkgs linux-image-amd64 linux-headers-amd64 busybox-static \
	qemu-system-x86 kmod cpio build-essential

kver=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's|/boot/vmlinuz-||' |
	grep '^6\.1\.' | sort -V | tail -n 1)
[ -n "$kver" ] || die "no Debian 6.1 kernel in /boot"
kdir=/usr/src/linux-headers-$kver
[ -d "$kdir" ] || die "no $kdir: install linux-headers-$kver"
out=$ALTDMA_BUILD/vm-$kver
mkdir -p "$out/mod" "$out/root"

# altdma.ko against the stock headers; cp -p keeps times so make rebuilds
# only what changed
cp -p "$ALTDMA_REPO"/Kbuild "$ALTDMA_REPO"/Makefile "$ALTDMA_REPO"/*.c \
	"$ALTDMA_REPO"/*.h "$out/mod/"
make -C "$out/mod" KDIR="$kdir" >"$out/build.log" 2>&1 ||
	{ tail -n 20 "$out/build.log"; die "altdma.ko build failed"; }

# the initramfs
root=$out/root
rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt}
cp /bin/busybox "$root/bin/busybox"
cp "$ALTDMA_REPO/scripts/vm-init.sh" "$root/init"
chmod +x "$root/init"
cp "$out/mod/altdma.ko" "$root/altdma.ko"
: >"$root/modules.order"
for m in virtio_pci virtio_blk virtio_net ext4; do
	modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
	base=$(basename "$ko")
	case "$ko" in
	*.xz) xz -dc "$ko" >"$root/${base%.xz}"; base=${base%.xz} ;;
	*.zst) zstd -qdc "$ko" >"$root/${base%.zst}"; base=${base%.zst} ;;
	*) cp "$ko" "$root/$base" ;;
	esac
	echo "/$base" >>"$root/modules.order"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz"

rm -f "$out/disk.img" "$out/results.txt" "$out/console.log"
truncate -s 64M "$out/disk.img"
vdev="iommu_platform=on,disable-legacy=on"
log "booting $kver (TCG, q35 + intel-iommu); console: $out/console.log"
start=$(date +%s)
timeout 900 qemu-system-x86_64 -accel tcg -m 1G -smp 2 \
	-M q35,kernel-irqchip=split -device intel-iommu,intremap=on \
	-kernel "/boot/vmlinuz-$kver" -initrd "$out/initramfs.gz" \
	-append "console=ttyS0 intel_iommu=on panic=-1 loglevel=6" \
	-display none -no-reboot -monitor none \
	-serial "file:$out/console.log" -serial "file:$out/results.txt" \
	-drive "if=none,id=d0,file=$out/disk.img,format=raw" \
	-device "virtio-blk-pci,drive=d0,addr=03.0,$vdev" \
	-netdev hubport,id=n0,hubid=0 -netdev hubport,id=n1,hubid=0 \
	-device "virtio-net-pci,netdev=n0,addr=04.0,mac=52:54:00:a1:d0:01,$vdev" \
	-device "virtio-net-pci,netdev=n1,addr=05.0,mac=52:54:00:a1:d0:02,$vdev"
st=$?
secs=$(($(date +%s) - start))

tr -d '\r' <"$out/results.txt" >"$out/results.clean" 2>/dev/null
cat "$out/results.clean"
pass=$(grep -c '^ok: ' "$out/results.clean")
fail=$(grep -c '^FAIL: ' "$out/results.clean")
if ! grep -qx done "$out/results.clean"; then
	echo "FAIL: the VM did not finish (qemu status $st, see $out/console.log)"
	fail=$((fail + 1))
fi
echo "vm-stock: wall time ${secs} s"
echo "vm-stock: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
