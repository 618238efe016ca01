#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Prepare Debian's linux-source-6.1 with altdma overlaid as drivers/altdma and
# build a KUnit test kernel through kunit.py: the x86_64 one with
# kunit/.kunitconfig, or an arm64 one cross-built with Debian's
# gcc-aarch64-linux-gnu (kunit_kernel in lib.sh).
#
#   scripts/test-kernel.sh [KERNEL]   prepare the tree and build KERNEL:
#                                     x86_64 (default), arm64, arm64-64k
#   scripts/test-kernel.sh --prepare  only extract and overlay the tree
#
# Outputs: $ALTDMA_BUILD/linux-source-6.1 (tree) and its .kunit (x86_64)
# or .kunit-arm64* (build dirs; each its own O=, side by side in one tree).
# The tarball is extracted again only when the installed
# linux-source-6.1 package changes; make rebuilds only what changed. A
# kernel built from the same inputs (the package version, its kunitconfig
# files and every file overlaid as drivers/altdma) is not looked at again:
# the stamp .altdma-inputs in its build dir holds their hash, written after
# a good build.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

prepare_tree() {
	local stamp=$ALTDMA_SRC/.altdma-source-version ver
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$ver" ]; then
		log "extracting linux-source-6.1 $ver"
		rm -rf "$ALTDMA_SRC"
		mkdir -p "$ALTDMA_BUILD"
		tar -C "$ALTDMA_BUILD" -xf "$ALTDMA_SRC_TARBALL"
		echo "$ver" >"$stamp"
	fi
	overlay_tree
}

# drivers/altdma is a real directory of symlinks to the project's sources, so
# that nothing in the kernel tree can recurse back into .build/. Links that
# are right are left alone (a build may be reading them), a stale one is
# replaced, and one whose source is gone is removed.
overlay_tree() {
	local dst=$ALTDMA_SRC/drivers/altdma f l
	mkdir -p "$dst"
	for l in "$dst"/* "$dst"/.[!.]*; do
		[ -L "$l" ] || continue
		f=$(readlink "$l")
		[ "$(dirname "$f")" = "$ALTDMA_REPO" ] && [ -e "$f" ] || rm -f "$l"
	done
	for f in "$ALTDMA_REPO"/Kbuild "$ALTDMA_REPO"/Kconfig \
		 "$ALTDMA_REPO"/*.c "$ALTDMA_REPO"/*.h "$ALTDMA_REPO"/kunit; do
		[ -e "$f" ] || continue
		l=$dst/$(basename "$f")
		[ "$(readlink "$l" 2>/dev/null)" = "$f" ] || ln -sfn "$f" "$l"
	done
	grep -q 'drivers/altdma/Kconfig' "$ALTDMA_SRC/drivers/Kconfig" ||
		sed -i 's|^endmenu$|source "drivers/altdma/Kconfig"\n\nendmenu|' \
			"$ALTDMA_SRC/drivers/Kconfig"
	grep -q 'CONFIG_ALTDMA' "$ALTDMA_SRC/drivers/Makefile" ||
		echo 'obj-$(CONFIG_ALTDMA) += altdma/' >>"$ALTDMA_SRC/drivers/Makefile"
}

# inputs_hash: one hash of everything the test kernel is built from
inputs_hash() {
	(cd "$ALTDMA_REPO" && cat "$ALTDMA_SRC/.altdma-source-version" &&
		for f in Kbuild Kconfig ./*.c ./*.h kunit/*.[ch] "${KK_CONFIGS[@]}"; do
			echo "== $f"; cat "$f"
		done) | sha256sum | cut -d' ' -f1
}

build_kernel() {
	local stamp=$KK_BUILD/.altdma-inputs hash c cfgs=()
	hash=$(inputs_hash)
	if [ -f "$KK_BUILD/$KK_IMAGE" ] && [ -f "$stamp" ] &&
	   [ "$(cat "$stamp")" = "$hash" ]; then
		log "the $kernel KUnit test kernel is up to date"
		return 0
	fi
	rm -f "$stamp"
	for c in "${KK_CONFIGS[@]}"; do cfgs+=(--kunitconfig="$c"); done
	log "building the $kernel KUnit test kernel in $KK_BUILD"
	(cd "$ALTDMA_SRC" && python3 tools/testing/kunit/kunit.py build \
		--arch="$KK_ARCH" ${KK_CROSS:+--cross_compile="$KK_CROSS"} \
		--build_dir="$KK_BUILD" "${cfgs[@]}" \
		--jobs="$ALTDMA_JOBS") >&2 || return 1
	echo "$hash" >"$stamp"
}

kernel=x86_64
[ "${1:-}" = --prepare ] || kernel=${1:-x86_64}
kunit_kernel "$kernel"
need_pkgs "${ALTDMA_KERNEL_PKGS[@]}"
[ "$KK_ARCH" = x86_64 ] || need_pkgs "${ALTDMA_ARM64_PKGS[@]}"
mkdir -p "$ALTDMA_BUILD"
# one preparation and one build at a time (test.sh runs jobs side by side);
# a preparation that finds the tree in place changes nothing, so it does
# not wait for a build
exec 9>"$ALTDMA_BUILD/.prepare.lock"
flock 9
prepare_tree
flock -u 9
[ "${1:-}" = "--prepare" ] && exit 0
# one build of each kernel at a time
exec 8>"$ALTDMA_BUILD/.build-$kernel.lock"
flock 8
build_kernel
