#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The unload VM: Debian's stock 6.1 kernel (where altdma is a module) in
# QEMU (TCG, -smp 2, q35 + intel-iommu), a virtio-blk disk and two
# virtio-net NICs behind the vIOMMU. Inside, scripts/vm-unload-init.sh
# checks that 10^6 map/unmap pairs grow unreclaimable slab by less than
# 1 MiB under each IOVA policy (issue 13, mode=churn on a driverless NIC),
# walks the DMA API contract (issue 14, testmod/altdma_contract.c) on that
# NIC on the kernel's dma-iommu and then on altdma (init_on_alloc=0, so a
# missing zeroing shows),
# runs testmod/altdma_stress.ko's stress on the three attached devices
# beside disk I/O, lets it leak one mapping on the disk, then unloads
# altdma with all three attached and their drivers mapping: every device
# is detached (driver unbound first), the leak is listed, the drivers come
# back on the kernel's own ops and the data written through altdma reads
# the same. Then altdma loads and attaches again.
#
#   scripts/vm-unload.sh [--iters N]    stress rounds per thread (default 5000)
#
# Outputs in $ALTDMA_BUILD/vm-unload/. The last line is
# "vm-unload: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

iters=5000
[ "${1:-}" = "--iters" ] && iters=$2

need_pkgs busybox-static qemu-system-x86 kmod cpio build-essential \
	linux-image-amd64 linux-headers-amd64
kver=$(altdma_stock_kver)
[ -n "$kver" ] || die "no Debian 6.1 kernel in /boot"
kdir=/usr/src/linux-headers-$kver
[ -d "$kdir" ] || die "no $kdir: install linux-headers-$kver"
out=$ALTDMA_BUILD/vm-unload
mkdir -p "$out/mod" "$out/testmod"
cp -p "$ALTDMA_REPO"/Kbuild "$ALTDMA_REPO"/Makefile "$ALTDMA_REPO"/*.c \
	"$ALTDMA_REPO"/*.h "$out/mod/"
make -C "$out/mod" KDIR="$kdir" >"$out/build.log" 2>&1 ||
	{ tail -n 20 "$out/build.log"; die "altdma.ko build failed"; }
cp -p "$ALTDMA_REPO"/testmod/Kbuild "$ALTDMA_REPO"/testmod/*.[ch] "$out/testmod/"
make -C "$kdir" M="$out/testmod" modules >>"$out/build.log" 2>&1 ||
	{ tail -n 20 "$out/build.log"; die "altdma_stress.ko build failed"; }

root=$out/root
rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt}
cp /bin/busybox "$root/bin/busybox"
cp "$ALTDMA_REPO/scripts/vm-unload-init.sh" "$root/init"
cp "$ALTDMA_REPO/scripts/vm-guest.sh" "$root/guest.sh"
chmod +x "$root/init"
cp "$out/mod/altdma.ko" "$out/testmod/altdma_stress.ko" \
	"$out/testmod/altdma_contract.ko" "$root/"
echo "iters=$iters" >"$root/params"
altdma_stock_modules "$root" "$kver" virtio_pci virtio_blk virtio_net
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz"

rm -f "$out/disk.img" "$out/results.txt" "$out/console.log"
truncate -s 64M "$out/disk.img"
log "booting the unload VM ($kver, TCG, q35 + intel-iommu); console: $out/console.log"
start=$(date +%s)
vm_test_boot "$out" "/boot/vmlinuz-$kver" "intel_iommu=on no_timer_check" \
	-M q35,kernel-irqchip=split -device intel-iommu,intremap=on
st=$?
secs_run=$(($(date +%s) - start))

vm_verdict vm-unload "$out" "$st" "$secs_run"
