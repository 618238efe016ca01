#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The project's test command (README): installs what it needs, then
#  1. builds altdma.ko out of tree against Debian's linux-headers-amd64 (6.1)
#     with W=1 and sparse (C=2) and requires zero warnings;
#  2. runs checkpatch --strict and kernel-doc over every source file;
#  3. builds the KUnit test kernel and runs every KUnit suite through
#     kunit.py under both vIOMMU profiles (scripts/kunit.sh);
#  4. runs the test VM (scripts/vm-test.sh) on Debian's stock 6.1 kernel,
#     then on the debug test kernel under both profiles;
#  5. runs the benchmarks' smoke mode (scripts/bench.sh --smoke): every case
#     runs once, briefly; no speed is checked.
# The last line is "test: N passed, N failed", counting every KUnit case,
# every suite-ran check, every kernel-log check, every VM check and the
# build and hygiene checks.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

pass=0 fail=0
count() { # count NAME STATUS
	if [ "$2" -eq 0 ]; then pass=$((pass + 1)); echo "ok: $1"
	else fail=$((fail + 1)); echo "FAIL: $1"; fi
}

need_pkgs build-essential linux-headers-amd64 sparse "${ALTDMA_KERNEL_PKGS[@]}"
"$ALTDMA_REPO/scripts/test-kernel.sh" --prepare || exit 1

# 1. out-of-tree build with W=1 and sparse (C=2), with the benchmarks
#    (BENCH=1), in a scratch copy so the work tree stays clean
kdir=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | grep -v 6.12 | tail -n 1)
obj=$ALTDMA_BUILD/oot-6.1
rm -rf "$obj" && mkdir -p "$obj"
cp -r "$ALTDMA_REPO"/Kbuild "$ALTDMA_REPO"/Makefile "$ALTDMA_REPO"/*.c \
	"$ALTDMA_REPO"/*.h "$ALTDMA_REPO"/kunit "$ALTDMA_REPO"/bench "$obj"/
make -C "$obj" KDIR="$kdir" W=1 C=2 BENCH=1 >"$obj/build.log" 2>&1
st=$?
warn=$(grep -c -E 'warning:|error:' "$obj/build.log")
[ "$st" -eq 0 ] && [ "$warn" -eq 0 ] && [ -f "$obj/altdma.ko" ] || {
	st=1; grep -E 'warning:|error:' "$obj/build.log" | head -20; }
count "altdma.ko builds against $(basename "$kdir"): W=1 + sparse, $warn warnings" "$st"

# 2. checkpatch --strict and kernel-doc, from the linux-source-6.1 tree
cd "$ALTDMA_REPO" || exit 1
src=(*.c *.h kunit/*.c bench/*.c bench/*.h Kbuild Kconfig)
cp_out=$("$ALTDMA_SRC/scripts/checkpatch.pl" --strict --no-tree --terse \
	--show-types -f "${src[@]}" 2>&1 | grep -E '^[^:]+:[0-9]+: ')
n=$(printf '%s' "$cp_out" | grep -c .)
[ "$n" -eq 0 ] || printf '%s\n' "$cp_out" | head -20
count "checkpatch --strict: $n findings" "$n"
kd_out=$("$ALTDMA_SRC/scripts/kernel-doc" -none *.c *.h kunit/*.c bench/*.c \
	bench/*.h 2>&1)
n=$(printf '%s' "$kd_out" | grep -c .)
[ "$n" -eq 0 ] || printf '%s\n' "$kd_out" | head -20
count "kernel-doc -none: $n warnings" "$n"

# add_run NAME CMD...: run a sub-suite, show its output, and add the counts
# of its last line ("<word>: N passed, N failed"); no such line is a failure.
add_run() {
	local name=$1 line p f
	shift
	"$@" 2>&1 | tee "$ALTDMA_RESULTS/$name.out"
	line=$(tail -n 1 "$ALTDMA_RESULTS/$name.out")
	p=$(echo "$line" | sed -n 's/^[a-z-]*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$line" | sed -n 's/^[a-z-]*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then
		p=0 f=1
		echo "FAIL: $* printed no summary"
	fi
	pass=$((pass + p)) fail=$((fail + f))
}
mkdir -p "$ALTDMA_RESULTS"

# 3. KUnit under both profiles
add_run kunit "$ALTDMA_REPO/scripts/kunit.sh"

# 4. the test VM on the stock kernel, then on the debug test kernel under
#    both profiles
add_run vm-stock "$ALTDMA_REPO/scripts/vm-test.sh"
add_run vm-debug-intel "$ALTDMA_REPO/scripts/vm-test.sh" --debug intel
add_run vm-debug-virtio "$ALTDMA_REPO/scripts/vm-test.sh" --debug virtio

# 5. the benchmarks' smoke mode (the full benchmark is "make bench")
add_run bench-smoke "$ALTDMA_REPO/scripts/bench.sh" --smoke

echo "test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
