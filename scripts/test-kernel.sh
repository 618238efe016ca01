#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Prepare Debian's linux-source-6.1 with altdma overlaid as drivers/altdma and
# build the x86_64 KUnit test kernel through kunit.py, with kunit/.kunitconfig.
#
#   scripts/test-kernel.sh            prepare the tree and build the kernel
#   scripts/test-kernel.sh --prepare  only extract and overlay the tree
#
# Outputs: $ALTDMA_BUILD/linux-source-6.1 (tree) and its .kunit (build dir)
# The tarball is extracted again only when the installed
# linux-source-6.1 package changes; make rebuilds only what changed.
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
# that nothing in the kernel tree can recurse back into .build/.
overlay_tree() {
	local dst=$ALTDMA_SRC/drivers/altdma f
	rm -rf "$dst"
	mkdir -p "$dst"
	for f in "$ALTDMA_REPO"/Kbuild "$ALTDMA_REPO"/Kconfig \
		 "$ALTDMA_REPO"/*.c "$ALTDMA_REPO"/*.h "$ALTDMA_REPO"/kunit; do
		[ -e "$f" ] && ln -s "$f" "$dst/$(basename "$f")"
	done
	grep -q 'drivers/altdma/Kconfig' "$ALTDMA_SRC/drivers/Kconfig" ||
		sed -i 's|^endmenu$|source "drivers/altdma/Kconfig"\n\nendmenu|' \
			"$ALTDMA_SRC/drivers/Kconfig"
	grep -q 'CONFIG_ALTDMA' "$ALTDMA_SRC/drivers/Makefile" ||
		echo 'obj-$(CONFIG_ALTDMA) += altdma/' >>"$ALTDMA_SRC/drivers/Makefile"
}

build_kernel() {
	log "building the KUnit test kernel in $ALTDMA_KUNIT_BUILD"
	(cd "$ALTDMA_SRC" && python3 tools/testing/kunit/kunit.py build \
		--arch=x86_64 --build_dir="$ALTDMA_KUNIT_BUILD" \
		--kunitconfig="$ALTDMA_REPO/kunit/.kunitconfig" \
		--jobs="$ALTDMA_JOBS") >&2
}

need_pkgs "${ALTDMA_KERNEL_PKGS[@]}"
prepare_tree
[ "${1:-}" = "--prepare" ] || build_kernel
