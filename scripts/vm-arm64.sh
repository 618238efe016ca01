#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test VM on arm64: Debian 12's stock arm64 6.1 kernel (the same ABI as
# the amd64 one of stock_kernel 6.1) in qemu-system-aarch64 (TCG, virt +
# SMMUv3), a busybox initramfs (busybox-static:arm64) carrying its virtio
# and ext4 modules and altdma.ko cross-built against its headers. Inside,
# scripts/vm-init.sh runs the same checks as on x86 (scripts/vm-test.sh):
# attach to the virtio disk and both NICs behind the SMMUv3, raw,
# filesystem and network I/O, stats, debugfs, trace events, detach, rmmod.
#
#   scripts/vm-arm64.sh
#
# The arm64 packages (linux-image-*-arm64, linux-headers-*-arm64,
# busybox-static) are fetched with apt-get download (arm64 added to dpkg's
# architectures, once) and unpacked under $ALTDMA_BUILD/arm64-stock, not
# installed. The headers' kbuild programs are the host's: the amd64
# linux-kbuild-6.1 of the same version (it comes with linux-headers-amd64),
# the way Debian cross-builds modules.
# Results come out on a PCI 16550 (pci-serial-2x, the guest's ttyS1; virt
# has a single PL011, the console). Keeps its outputs in
# $ALTDMA_BUILD/vm-stock-arm64/; the last line is
# "vm-stock-arm64: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

need_pkgs "${ALTDMA_ARM64_PKGS[@]}" kmod cpio build-essential xz-utils
amd=$(stock_kernel 6.1) || exit 1
kver=${amd%-amd64}-arm64
name=stock-arm64
out=$ALTDMA_BUILD/vm-$name
debs=$ALTDMA_BUILD/arm64-debs
sysroot=$ALTDMA_BUILD/arm64-stock/$kver
mod=$ALTDMA_BUILD/mod-$kver
mkdir -p "$out" "$debs" "$mod"

# the arm64 packages, once per kernel version
exec 7>"$ALTDMA_BUILD/arm64-stock.lock"
flock 7
if [ ! -f "$sysroot/.unpacked" ]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		[ "$(id -u)" -eq 0 ] || die "run: dpkg --add-architecture arm64 && apt-get update"
		log "adding arm64 to dpkg's architectures"
		dpkg --add-architecture arm64 && need_pkgs_update
	fi
	want=("linux-image-$kver:arm64" "linux-headers-$kver:arm64" busybox-static:arm64)
	(cd "$debs" && apt-get download -q "${want[@]}") >&2 ||
		{ need_pkgs_update; (cd "$debs" && apt-get download -q "${want[@]}") >&2; } ||
		die "apt-get download ${want[*]} failed"
	rm -rf "$sysroot" && mkdir -p "$sysroot"
	for d in "$debs"/linux-image-"$kver"_*_arm64.deb \
		 "$debs"/linux-headers-"$kver"_*_arm64.deb \
		 "$debs"/busybox-static_*_arm64.deb; do
		dpkg-deb -x "$d" "$sysroot" || die "cannot unpack $d"
	done
	# the headers' scripts/ and tools/ point at ../../lib/linux-kbuild-6.1
	mkdir -p "$sysroot/usr/lib"
	ln -sfn /usr/lib/linux-kbuild-6.1 "$sysroot/usr/lib/linux-kbuild-6.1"
	depmod -b "$sysroot" "$kver" || die "depmod failed"
	touch "$sysroot/.unpacked"
fi
flock -u 7
kdir=$sysroot/usr/src/linux-headers-$kver
[ -d /usr/lib/linux-kbuild-6.1 ] || die "no /usr/lib/linux-kbuild-6.1 (linux-headers-amd64)"

# altdma.ko and the test modules, cross-built (only what changed)
cross=(KDIR="$kdir" CROSS_COMPILE=aarch64-linux-gnu-)
start=$(date +%s)
cp -p "$ALTDMA_REPO"/Kbuild "$ALTDMA_REPO"/Makefile "$ALTDMA_REPO"/dkms.conf \
	"$ALTDMA_REPO"/*.c "$ALTDMA_REPO"/*.h "$mod/"
make -C "$mod" "${cross[@]}" >"$out/build.log" 2>&1 ||
	{ tail -n 20 "$out/build.log"; die "altdma.ko build failed"; }
mkdir -p "$mod/testmod"
cp -p "$ALTDMA_REPO"/testmod/Kbuild "$ALTDMA_REPO"/testmod/*.[ch] "$mod/testmod/"
make -C "$kdir" M="$mod/testmod" CROSS_COMPILE=aarch64-linux-gnu- modules \
	>>"$out/build.log" 2>&1 ||
	{ tail -n 20 "$out/build.log"; die "testmod build failed"; }
log "altdma.ko and the test modules for $kver: $(($(date +%s) - start)) s"

# the initramfs
root=$out/root
rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt}
cp "$sysroot/bin/busybox" "$root/bin/busybox"
cp "$ALTDMA_REPO/scripts/vm-init.sh" "$root/init"
cp "$ALTDMA_REPO/scripts/vm-guest.sh" "$root/guest.sh"
chmod +x "$root/init"
# (not the late-unmap driver: it maps on a device with no driver before
# the attach, and on arm64 such a device has no DMA ops; README)
cp "$mod/altdma.ko" "$mod/testmod/altdma_contract.ko" \
	"$mod/testmod/altdma_stress.ko" "$mod/testmod/altdma_san_misuse.ko" \
	"$root/"
ALTDMA_MODROOT=$sysroot altdma_stock_modules "$root" "$kver" \
	virtio_pci virtio_blk virtio_net ext4
grep -q virtio_blk "$root/modules.order" || die "no virtio_blk module in $kver"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz"

rm -f "$out/disk.img" "$out/results.txt" "$out/console.log"
truncate -s 64M "$out/disk.img"
vdev="iommu_platform=on,disable-legacy=on"
log "booting $name ($kver, TCG, virt + SMMUv3); console: $out/console.log"
start=$(date +%s)
ALTDMA_QEMU=qemu-system-aarch64 vm_run -accel tcg -M virt,iommu=smmuv3 \
	-cpu cortex-a57 -m 1G -smp 2 \
	-kernel "$sysroot/boot/vmlinuz-$kver" -initrd "$out/initramfs.gz" \
	-append "console=ttyAMA0 panic=-1 loglevel=6 init_on_alloc=0" \
	-display none -no-reboot -monitor none \
	-serial "file:$out/console.log" \
	-chardev null,id=r0 -chardev "file,id=r1,path=$out/results.txt" \
	-drive "if=none,id=d0,file=$out/disk.img,format=raw" \
	-device "virtio-blk-pci,drive=d0,addr=03.0,$vdev" \
	-netdev hubport,id=n0,hubid=0 -netdev hubport,id=n1,hubid=0 \
	-device "virtio-net-pci,netdev=n0,addr=04.0,mac=52:54:00:a1:d0:01,$vdev" \
	-device "virtio-net-pci,netdev=n1,addr=05.0,mac=52:54:00:a1:d0:02,$vdev" \
	-device pci-serial-2x,chardev1=r0,chardev2=r1,addr=06.0
st=$?
secs=$(($(date +%s) - start))

vm_verdict "vm-$name" "$out" "$st" "$secs"
