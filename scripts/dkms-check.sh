#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# DKMS check: what "make dkms-install" does, short of installing, against
# Debian's linux-headers-amd64 (6.1) and the 6.12 line. The sources are
# copied as the Makefile copies them, and dkms runs with a scratch DKMS
# tree and source tree under $ALTDMA_BUILD/dkms (--dkmstree,
# --sourcetree), so nothing outside the build dir changes: dkms add, dkms
# build for each kernel, the built module's vermagic matches that kernel,
# dkms remove --all leaves nothing behind. Module signing is skipped
# (sign_file points nowhere) so that dkms does not create a MOK key pair
# in /var/lib/dkms. Last line "dkms: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

pass=0 fail=0
check() { # check NAME CMD...
	local n=$1
	shift
	if "$@"; then pass=$((pass + 1)); echo "ok: $n"
	else fail=$((fail + 1)); echo "FAIL: $n"; fi
}

need_pkgs dkms build-essential
kvers=("$(stock_kernel 6.1)" "$(stock_kernel 6.12)")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$ALTDMA_REPO/dkms.conf")
top=$ALTDMA_BUILD/dkms
rm -rf "$top" && mkdir -p "$top/tree" "$top/src/altdma-$ver"
(cd "$ALTDMA_REPO" && cp Kbuild Makefile dkms.conf ./*.c ./*.h "$top/src/altdma-$ver/")
export sign_file=/nonexistent
dk() { # dk ACTION ARGS...: dkms on the scratch trees, output in dkms.log
	echo "# dkms $*" >>"$top/dkms.log"
	dkms "$@" --dkmstree "$top/tree" --sourcetree "$top/src" >>"$top/dkms.log" 2>&1
}

start=$(date +%s)
check "dkms add altdma/$ver" dk add -m altdma -v "$ver"
for k in "${kvers[@]}"; do
	log "dkms build altdma/$ver for $k"
	check "dkms build altdma/$ver for $k" \
		dk build -m altdma -v "$ver" -k "$k" ||
		tail -n 20 "$top/tree/altdma/$ver/build/make.log" 2>/dev/null
	ko=$(ls "$top/tree/altdma/$ver/$k"/*/module/altdma.ko* 2>/dev/null | head -n 1)
	vm=$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)
	check "built module's vermagic is $k ($vm)" [ "$vm" = "$k" ]
done
dkms status -m altdma --dkmstree "$top/tree" --sourcetree "$top/src" >"$top/status.log" 2>&1
check "dkms status lists both builds" \
	[ "$(grep -c ': built' "$top/status.log")" -eq "${#kvers[@]}" ]
check "dkms remove --all" dk remove -m altdma -v "$ver" --all
check "nothing left in the DKMS tree" [ -z "$(ls -A "$top/tree/altdma" 2>/dev/null)" ]
check "no MOK key pair created" [ ! -e /var/lib/dkms/mok.key ] || [ -n "$(find /var/lib/dkms/mok.key ! -newermt "@$start")" ]
rm -rf "$top/src"
echo "dkms: wall time $(($(date +%s) - start)) s"
echo "dkms: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
