# SPDX-License-Identifier: GPL-2.0-only
# Shared settings and helpers for altdma's scripts. Source it, do not run it.
#
# ALTDMA_BUILD  where every build output lives (default: <repo>/.build, which
#               is git-ignored); kept between runs so only what changed is
#               rebuilt.
# ALTDMA_JOBS   make -j (default: nproc)

ALTDMA_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALTDMA_BUILD=${ALTDMA_BUILD:-$ALTDMA_REPO/.build}
ALTDMA_JOBS=${ALTDMA_JOBS:-$(nproc)}
ALTDMA_SRC_TARBALL=/usr/src/linux-source-6.1.tar.xz
ALTDMA_SRC=$ALTDMA_BUILD/linux-source-6.1
# The kernel build dir sits inside the tree (kunit.py's own default place),
# so make uses srctree=".." and the kernel's command lines are relative.
# (objtool's are not: a tree copied elsewhere with cp -a rebuilds objtool,
# and then every object.)
ALTDMA_KUNIT_BUILD=$ALTDMA_SRC/.kunit
ALTDMA_RESULTS=$ALTDMA_BUILD/results

# kunit_kernel NAME: the KUnit test kernel NAME, in variables:
#   x86_64     kunit/.kunitconfig, in $ALTDMA_KUNIT_BUILD (the default)
#   arm64      kunit/arm64.kunitconfig, cross-built, 4 KiB pages
#   arm64-64k  the same with kunit/arm64-64k.kunitconfig: 64 KiB pages
# KK_ARCH (kunit.py --arch), KK_CROSS (--cross_compile, or empty),
# KK_BUILD (build dir), KK_IMAGE (the kernel image, relative to KK_BUILD),
# KK_CONFIGS (the kunitconfig files, in order).
kunit_kernel() {
	local k=$ALTDMA_REPO/kunit
	case "$1" in
	x86_64) KK_ARCH=x86_64 KK_CROSS= KK_BUILD=$ALTDMA_KUNIT_BUILD
		KK_IMAGE=arch/x86/boot/bzImage KK_CONFIGS=("$k/.kunitconfig") ;;
	arm64|arm64-64k)
		KK_ARCH=arm64 KK_CROSS=aarch64-linux-gnu-
		KK_BUILD=$ALTDMA_SRC/.kunit-$1 KK_IMAGE=arch/arm64/boot/Image.gz
		KK_CONFIGS=("$k/arm64.kunitconfig")
		[ "$1" = arm64 ] || KK_CONFIGS+=("$k/arm64-64k.kunitconfig") ;;
	*) die "unknown KUnit kernel $1 (x86_64, arm64, arm64-64k)" ;;
	esac
}

log() { printf '[altdma] %s\n' "$*" >&2; }
die() { printf '[altdma] error: %s\n' "$*" >&2; exit 1; }

# need_pkgs PKG...: install the Debian packages that are missing. As root this
# runs apt-get (with one "apt-get update" first); otherwise it prints the exact
# command to run and fails.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		die "missing packages; run: apt-get install -y ${missing[*]}"
	fi
	log "installing: ${missing[*]}"
	if [ ! -e "$ALTDMA_BUILD/.apt-updated" ]; then
		apt-get update -q >&2 || die "apt-get update failed"
		mkdir -p "$ALTDMA_BUILD" && touch "$ALTDMA_BUILD/.apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
}

# Packages needed to build and boot the KUnit test kernel.
ALTDMA_KERNEL_PKGS=(linux-source-6.1 build-essential bc bison flex libelf-dev
	libssl-dev python3 qemu-system-x86 xz-utils rsync kmod cpio)
# ... and to cross-build and boot the arm64 ones (kunit_kernel arm64*).
ALTDMA_ARM64_PKGS=(gcc-aarch64-linux-gnu qemu-system-arm)
# Everything the test command needs (scripts/test.sh installs it in one go
# before anything else; each script still asks for what it uses).
ALTDMA_ALL_PKGS=("${ALTDMA_KERNEL_PKGS[@]}" "${ALTDMA_ARM64_PKGS[@]}"
	sparse coccinelle dkms
	busybox-static linux-image-amd64 linux-headers-amd64 util-linux fio)

# stock_kernel LINE: the release (uname -r) of Debian 12's stock kernel of
# LINE (6.1 or 6.12), with its image and headers installed. 6.1 is
# linux-image-amd64 + linux-headers-amd64; 6.12 comes from bookworm-security
# as linux-image-6.12.N+deb12-amd64-unsigned + linux-headers-6.12.N+deb12-amd64:
# an installed pair is used as is, otherwise the newest pair apt offers is
# installed.
stock_kernel() {
	local line=$1 kver pat
	case "$line" in
	6.1) need_pkgs linux-image-amd64 linux-headers-amd64
	     pat='6\.1\.[0-9]+-[0-9]+-amd64' ;;
	6.12) pat='6\.12\.[0-9]+\+deb12-amd64' ;;
	*) die "unknown kernel line $line (6.1 or 6.12)" ;;
	esac
	kver=$(ls /boot 2>/dev/null | sed -n 's/^vmlinuz-//p' | grep -E "^$pat\$" |
		while read -r k; do [ -d "/usr/src/linux-headers-$k" ] && echo "$k"; done |
		sort -V | tail -n 1)
	if [ -z "$kver" ] && [ "$line" = 6.12 ]; then
		[ -e "$ALTDMA_BUILD/.apt-updated" ] || need_pkgs_update
		kver=$(apt-cache search --names-only \
			'^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
			sed -n 's/^linux-image-\([^ ]*\)-unsigned .*/\1/p' | sort -V | tail -n 1)
		[ -n "$kver" ] || die "no linux-image-6.12.*+deb12-amd64-unsigned in apt (bookworm-security)"
		need_pkgs "linux-image-$kver-unsigned" "linux-headers-$kver"
	fi
	[ -n "$kver" ] || die "no Debian $line kernel with headers in /boot"
	echo "$kver"
}

# apt-get update once per build dir (need_pkgs does the same on demand).
need_pkgs_update() {
	[ "$(id -u)" -eq 0 ] || return 0
	apt-get update -q >&2 || die "apt-get update failed"
	mkdir -p "$ALTDMA_BUILD" && touch "$ALTDMA_BUILD/.apt-updated"
}

# altdma_stock_kver: the newest Debian 6.1 kernel installed, with headers.
altdma_stock_kver() {
	stock_kernel 6.1
}

# altdma_stock_modules ROOT KVER MODULE...: copy MODULE... of the stock
# kernel KVER and their dependencies into ROOT (decompressed) and list them
# in ROOT/modules.order in the order to insmod them. The modules are looked
# up under $ALTDMA_MODROOT when it is set (a kernel of another
# architecture, unpacked there), else in the host's /lib/modules.
altdma_stock_modules() {
	local root=$1 kver=$2 ko base
	shift 2
	: >"$root/modules.order"
	for m in "$@"; do
		modprobe ${ALTDMA_MODROOT:+-d "$ALTDMA_MODROOT"} -S "$kver" \
			--show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		base=$(basename "$ko")
		case "$ko" in
		*.xz) xz -dc "$ko" >"$root/${base%.xz}"; base=${base%.xz} ;;
		*.zst) zstd -qdc "$ko" >"$root/${base%.zst}"; base=${base%.zst} ;;
		*) cp "$ko" "$root/$base" ;;
		esac
		echo "/$base" >>"$root/modules.order"
	done
}

# vm_run QEMU-ARGS...: run qemu-system-x86_64 (or $ALTDMA_QEMU) QEMU-ARGS...
# until it exits.
# There is no limit on the wall time: a VM whose result port (the last
# "-serial file:PATH" or "-chardev file,...,path=PATH") gets no new line
# for $ALTDMA_VM_STALL seconds
# (default 1200) is stuck, and is killed with one line that says so, how
# long it ran and its last result. Only results count as progress: a guest
# stuck in a loop of soft-lockup or RCU-stall reports still writes its
# console. Returns QEMU's exit status (124 when killed).
vm_run() {
	local stall=${ALTDMA_VM_STALL:-1200} files=() a pid now last= idle=0 t0
	for a in "$@"; do
		case "$a" in
		file:*) files+=("${a#file:}") ;;
		file,*path=*) files+=("${a##*path=}") ;;
		esac
	done
	t0=$(date +%s)
	"${ALTDMA_QEMU:-qemu-system-x86_64}" "$@" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		now=$(wc -c <"${files[-1]}" 2>/dev/null)
		if [ "$now" != "$last" ]; then
			last=$now idle=0
		else
			idle=$((idle + 5))
		fi
		if [ "$idle" -ge "$stall" ]; then
			echo "FAIL: the VM wrote nothing for $stall s (killed after $(($(date +%s) - t0)) s; last result: $(tail -n 1 "${files[-1]}" 2>/dev/null | tr -d '\r'))"
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 124
		fi
	done
	wait "$pid"
}

# vm_crashed_early OUT: whether the guest kernel of the VM whose console
# and results are in OUT crashed while booting, before its /init wrote any
# result and with no altdma code anywhere in its log (once: an int3 Oops
# from the stock 6.12 kernel's own text patching under TCG). Such a VM is
# booted once more; the caller says so with the line this prints. Any
# other crash counts as a failure.
vm_crashed_early() {
	[ ! -s "$1/results.txt" ] && grep -aq "Kernel panic" "$1/console.log" &&
		! grep -aqi altdma "$1/console.log" || return 1
	echo "note: the guest kernel crashed while booting, before /init ($(grep -a -m1 -o 'Oops: .*\|BUG: .*' "$1/console.log" | head -c 80)); booting once more"
	cp "$1/console.log" "$1/console-boot1.log"
}

# vm_test_boot OUT KERNEL KARGS MACHINE...: boot a test VM (x86, TCG, 1 GiB,
# 2 vCPUs) on MACHINE's chipset and IOMMU, with the disk OUT/disk.img at
# 03.0 and two NICs at 04.0 and 05.0, all behind the IOMMU, the console in
# OUT/console.log and the results in OUT/results.txt; once more if
# vm_crashed_early says its kernel crashed before /init. Returns QEMU's
# status of the last boot.
vm_test_boot() {
	local out=$1 kernel=$2 kargs=$3 st args
	local vdev="iommu_platform=on,disable-legacy=on"
	shift 3
	args=(-accel tcg -m 1G -smp 2 "$@"
		-kernel "$kernel" -initrd "$out/initramfs.gz"
		-append "console=ttyS0 $kargs panic=-1 loglevel=6 init_on_alloc=0"
		-display none -no-reboot -monitor none
		-serial "file:$out/console.log" -serial "file:$out/results.txt"
		-drive "if=none,id=d0,file=$out/disk.img,format=raw"
		-device "virtio-blk-pci,drive=d0,addr=03.0,$vdev"
		-netdev hubport,id=n0,hubid=0 -netdev hubport,id=n1,hubid=0
		-device "virtio-net-pci,netdev=n0,addr=04.0,mac=52:54:00:a1:d0:01,$vdev"
		-device "virtio-net-pci,netdev=n1,addr=05.0,mac=52:54:00:a1:d0:02,$vdev")
	vm_run "${args[@]}"
	st=$?
	if vm_crashed_early "$out"; then
		vm_run "${args[@]}"
		st=$?
	fi
	return $st
}

# vm_verdict NAME OUT STATUS SECS [FILTER]: the verdict of a test VM from
# OUT/results.txt (its second serial port): print the results (lines
# matching the grep -v regex FILTER left out), count "ok: " and "FAIL: "
# lines, fail if the VM never wrote "done", and print the summary line
# "NAME: N passed, N failed". STATUS is QEMU's exit status, SECS the wall
# time. Returns non-zero on any failure.
vm_verdict() {
	local name=$1 out=$2 st=$3 secs=$4 filter=${5:-^$} pass fail
	tr -d '\r' <"$out/results.txt" >"$out/results.clean" 2>/dev/null
	grep -v -e "$filter" "$out/results.clean"
	pass=$(grep -c '^ok: ' "$out/results.clean")
	fail=$(grep -c '^FAIL: ' "$out/results.clean")
	if ! grep -qx done "$out/results.clean"; then
		echo "FAIL: the VM did not finish (qemu status $st, see $out/console.log)"
		fail=$((fail + 1))
	fi
	echo "$name: wall time $secs s"
	echo "$name: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
