#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The project's test command (README): installs what it needs, then
#  1. the hygiene checks, each at zero (scripts/hygiene.sh): W=1 + sparse
#     builds against the 6.1 and 6.12 headers, checkpatch --strict,
#     kernel-doc, coccicheck;
#  2. dkms add/build/remove against both kernel lines (scripts/dkms-check.sh);
#  3. builds the KUnit test kernel and runs every KUnit suite through
#     kunit.py under both vIOMMU profiles (scripts/kunit.sh);
#  4. runs the test VM (scripts/vm-test.sh) on Debian's stock 6.1 kernel,
#     on the stock 6.12 kernel under both vIOMMU profiles, then on the debug
#     test kernel under both profiles;
#  5. runs the reliability VM (scripts/vm-stress.sh) on the debug test
#     kernel: fault injection, exhaustion, untrusted device, stress beside
#     real I/O, a misusing driver, hot-unplug, sanitizers and kmemleak;
#     then the unload VM (scripts/vm-unload.sh) on the stock kernel;
#  6. runs the benchmarks' smoke mode (scripts/bench.sh --smoke): every case
#     runs once, briefly; no speed is checked.
# The last line is "test: N passed, N failed", counting every check of every
# sub-suite: hygiene, DKMS, every KUnit case, every suite-ran check, every
# kernel-log check and every VM check.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

pass=0 fail=0
count() { # count NAME STATUS
	if [ "$2" -eq 0 ]; then pass=$((pass + 1)); echo "ok: $1"
	else fail=$((fail + 1)); echo "FAIL: $1"; fi
}

# add_run NAME CMD...: run a sub-suite, show its output, and add the counts
# of its last line ("<word>: N passed, N failed"); no such line is a failure.
add_run() {
	local name=$1 line p f
	shift
	"$@" 2>&1 | tee "$ALTDMA_RESULTS/$name.out"
	line=$(tail -n 1 "$ALTDMA_RESULTS/$name.out")
	p=$(echo "$line" | sed -n 's/^[a-z0-9.-]*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$line" | sed -n 's/^[a-z0-9.-]*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then
		p=0 f=1
		echo "FAIL: $* printed no summary"
	fi
	pass=$((pass + p)) fail=$((fail + f))
}
mkdir -p "$ALTDMA_RESULTS"

# 1. hygiene, 2. DKMS
add_run hygiene "$ALTDMA_REPO/scripts/hygiene.sh"
add_run dkms "$ALTDMA_REPO/scripts/dkms-check.sh"

# 3. KUnit under both profiles
add_run kunit "$ALTDMA_REPO/scripts/kunit.sh"

# 4. the test VM on the stock kernels (6.1; 6.12 under both profiles),
#    then on the debug test kernel under both profiles
add_run vm-stock "$ALTDMA_REPO/scripts/vm-test.sh"
add_run vm-stock-6.12-intel "$ALTDMA_REPO/scripts/vm-test.sh" --stock 6.12 intel
add_run vm-stock-6.12-virtio "$ALTDMA_REPO/scripts/vm-test.sh" --stock 6.12 virtio
add_run vm-debug-intel "$ALTDMA_REPO/scripts/vm-test.sh" --debug intel
add_run vm-debug-virtio "$ALTDMA_REPO/scripts/vm-test.sh" --debug virtio

# 5. the reliability VMs: the debug kernel one, and unload on the stock
#    kernel (where altdma is a module)
add_run vm-stress "$ALTDMA_REPO/scripts/vm-stress.sh"
add_run vm-unload "$ALTDMA_REPO/scripts/vm-unload.sh"

# 6. the benchmarks' smoke mode (the full benchmark is "make bench")
add_run bench-smoke "$ALTDMA_REPO/scripts/bench.sh" --smoke

echo "test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
