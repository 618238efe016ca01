#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test VM: a stock Debian 12 kernel (6.1 or 6.12) in QEMU (TCG, q35 +
# intel-iommu, virtio-iommu or amd-iommu), a busybox initramfs carrying that kernel's
# virtio and ext4 modules and altdma.ko built against its headers. Inside,
# scripts/vm-init.sh attaches altdma to a virtio-blk disk and two virtio-net
# NICs wired to each other by a QEMU hub (no host network), moves data
# through them and reports one line per check on a second serial port.
#
#   scripts/vm-test.sh                    stock 6.1 (linux-image-amd64),
#                                         intel-iommu
#   scripts/vm-test.sh --stock LINE [PROFILE]
#                                         stock LINE (6.1 or 6.12, see
#                                         stock_kernel in lib.sh), PROFILE
#                                         intel (default), virtio (needs
#                                         virtio-iommu as a module: 6.12)
#                                         or amd (AMD-Vi, built into both)
#   scripts/vm-test.sh --debug PROFILE    the KUnit test kernel (KASAN,
#                                         lockdep), altdma built in;
#                                         PROFILE is intel or virtio
#
# Keeps its outputs in $ALTDMA_BUILD/vm-<name>/ (console.log, results.txt).
# The last line is "vm-<name>: N passed, N failed" (name: stock for 6.1
# under intel-iommu, stock-<line>-<profile> otherwise, debug-<profile>);
# the exit status is non-zero on any failed check, or if the VM did not
# finish.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

debug= profile=intel line=6.1
case "${1:-}" in
--debug) debug=1 profile=${2:-intel} ;;
--stock) line=${2:-6.1} profile=${3:-intel} ;;
"") ;;
*) die "usage: $0 [--stock 6.1|6.12 [intel|virtio|amd] | --debug intel|virtio]" ;;
esac
case "$profile" in intel|virtio) ;; amd) [ -z "$debug" ] || die "--debug: intel or virtio" ;;
*) die "unknown profile $profile" ;; esac

need_pkgs busybox-static qemu-system-x86 kmod cpio build-essential xz-utils
if [ -n "$debug" ]; then
	# the KUnit test kernel, built (or brought up to date) by its script
	"$ALTDMA_REPO/scripts/test-kernel.sh" >&2 || die "test kernel build failed"
	name=debug-$profile
	kernel=$ALTDMA_KUNIT_BUILD/arch/x86/boot/bzImage
	out=$ALTDMA_BUILD/vm-$name
	mkdir -p "$out/root" "$out/testmod"
	# the late-unmap driver against the test kernel's build dir (altdma
	# is built in there), in each profile's own directory
	cp -p "$ALTDMA_REPO"/testmod/Kbuild "$ALTDMA_REPO"/testmod/*.[ch] \
		"$out/testmod/"
	make -C "$ALTDMA_KUNIT_BUILD" M="$out/testmod" modules \
		>"$out/build.log" 2>&1 ||
		{ tail -n 20 "$out/build.log"; die "testmod build failed"; }
else
	kver=$(stock_kernel "$line") || exit 1
	kdir=/usr/src/linux-headers-$kver
	name=stock-$line-$profile
	[ "$name" = stock-6.1-intel ] && name=stock
	kernel=/boot/vmlinuz-$kver
	out=$ALTDMA_BUILD/vm-$name
	mod=$ALTDMA_BUILD/mod-$kver
	mkdir -p "$out/root" "$mod"

	# altdma.ko against the stock headers; cp -p keeps times so make
	# rebuilds only what changed; one build at a time in $mod (both
	# profiles of a kernel line share it, and may run side by side)
	exec 7>"$mod.lock"
	flock 7
	cp -p "$ALTDMA_REPO"/Kbuild "$ALTDMA_REPO"/Makefile "$ALTDMA_REPO"/*.c \
		"$ALTDMA_REPO"/*.h "$mod/"
	make -C "$mod" KDIR="$kdir" >"$out/build.log" 2>&1 ||
		{ tail -n 20 "$out/build.log"; die "altdma.ko build failed"; }
	cp "$mod/altdma.ko" "$out/altdma.ko"
	# the test drivers: the contract walker (issue 14), run on a NIC on
	# both layers, altdma_stress (the page-table accounting check) and
	# the sanitizer's misuse module (issue 16)
	mkdir -p "$mod/testmod"
	cp -p "$ALTDMA_REPO"/testmod/Kbuild "$ALTDMA_REPO"/testmod/*.[ch] \
		"$mod/testmod/"
	make -C "$kdir" M="$mod/testmod" modules >>"$out/build.log" 2>&1 ||
		{ tail -n 20 "$out/build.log"; die "testmod build failed"; }
	cp "$mod/testmod/altdma_contract.ko" "$mod/testmod/altdma_stress.ko" \
		"$mod/testmod/altdma_lateunmap.ko" "$mod/testmod/altdma_san_misuse.ko" "$out/"
	flock -u 7
	mods="virtio_pci virtio_blk virtio_net ext4"
	if [ "$profile" = virtio ]; then
		# the endpoints defer their probe until the vIOMMU is up
		modprobe -S "$kver" --show-depends virtio_iommu >/dev/null 2>&1 ||
			die "$kver has no virtio_iommu module"
		mods="virtio_pci virtio_iommu virtio_blk virtio_net ext4"
	fi
fi

# the initramfs
root=$out/root
rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt}
cp /bin/busybox "$root/bin/busybox"
cp "$ALTDMA_REPO/scripts/vm-init.sh" "$root/init"
cp "$ALTDMA_REPO/scripts/vm-guest.sh" "$root/guest.sh"
chmod +x "$root/init"
if [ -z "$debug" ]; then
	cp "$out/altdma.ko" "$out/altdma_contract.ko" "$out/altdma_stress.ko" \
		"$out/altdma_lateunmap.ko" "$out/altdma_san_misuse.ko" "$root/"
	# shellcheck disable=SC2086 # $mods is a list of module names
	altdma_stock_modules "$root" "$kver" $mods
else
	: >"$root/modules.order"
	# (not the contract walker: DMA_API_DEBUG flags its own calls)
	cp "$out/testmod/altdma_lateunmap.ko" "$root/"
fi
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz"

rm -f "$out/disk.img" "$out/results.txt" "$out/console.log"
# the debug kernel moves a quarter of the data (vm-init.sh): a quarter of
# the disk, which mke2fs and the whole-disk checksums read
truncate -s "$([ -n "$debug" ] && echo 16M || echo 64M)" "$out/disk.img"
if [ "$profile" = intel ]; then
	machine=(-M q35,kernel-irqchip=split -device intel-iommu,intremap=on)
	kargs="intel_iommu=on"
elif [ "$profile" = amd ]; then
	# AMD-Vi takes the first free slot (00:02.0); Debian's kernels enable
	# it on their own, iommu.passthrough=0 only says what the tests need:
	# every device on a translated DMA domain
	machine=(-M q35,kernel-irqchip=split -device amd-iommu,intremap=on)
	kargs="iommu.passthrough=0"
else
	machine=(-M q35 -device virtio-iommu-pci,addr=06.0)
	kargs=""
fi
if [ -n "$debug" ]; then
	# no KUnit suite at boot; intremap=off: see scripts/kunit.sh
	kargs="$kargs altdma_vm=builtin kunit.filter_glob=altdma_vm_none"
	[ "$profile" = intel ] && kargs="$kargs intremap=off"
fi
# no_timer_check: a loaded host can make TCG miss the boot-time timer check
# ("timer doesn't work through Interrupt-remapped IO-APIC" panics)
kargs="$kargs no_timer_check"
log "booting $name (${kver:-test kernel}, TCG, q35 + $profile-iommu); console: $out/console.log"
start=$(date +%s)
vm_test_boot "$out" "$kernel" "$kargs" "${machine[@]}"
st=$?
secs=$(($(date +%s) - start))

vm_verdict "vm-$name" "$out" "$st" "$secs"
