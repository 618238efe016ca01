#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The project's test command (README).
#
#   scripts/test.sh                 every sub-suite (what CI runs)
#   scripts/test.sh --quick         kunit-intel and vm-stock: a verdict on a
#                                   change in minutes
#   scripts/test.sh NAME...         the named sub-suites only (a name below,
#                                   or a group: kunit, stock, debug, reliability,
#                                   amd, arm64)
#
# First the set-up phases, one after the other: "packages" (one apt-get
# install of everything the run needs, and the stock kernels) and "extract"
# (linux-source-6.1 unpacked, altdma overlaid). Then the sub-suites, two at a
# time on the machine's cores, in this order of priority:
#   kernel-build          the KUnit test kernel (scripts/test-kernel.sh)
#   kunit-smmuv3          every KUnit suite, arm64 virt + SMMUv3 (its own
#                         cross-built kernel, built first)
#   kunit-smmuv3-64k      ... the same with 64 KiB pages
#   vm-stress             the reliability VM on the test kernel (*)
#   kunit-intel           every KUnit suite, q35 + intel-iommu (*)
#   kunit-virtio          every KUnit suite, q35 + virtio-iommu (*)
#   kunit-amd             every KUnit suite, q35 + amd-iommu (*)
#   vm-debug-intel        the test VM on the test kernel, intel-iommu (*)
#   vm-debug-virtio       the test VM on the test kernel, virtio-iommu (*)
#   hygiene               W=1 + sparse builds against 6.1 and 6.12,
#                         checkpatch, kernel-doc, coccicheck
#   dkms                  dkms add/build/remove against both kernel lines
#   vm-stock              the test VM on stock 6.1 (intel-iommu)
#   vm-stock-6.12-intel   ... on stock 6.12, intel-iommu
#   vm-stock-6.12-virtio  ... on stock 6.12, virtio-iommu
#   vm-stock-6.1-amd      ... on stock 6.1, amd-iommu
#   vm-stock-6.12-amd     ... on stock 6.12, amd-iommu
#   vm-stock-arm64        ... on Debian's stock arm64 6.1, virt + SMMUv3
#                         (altdma.ko cross-built, scripts/vm-arm64.sh)
#   vm-unload             seed 002, stress and rmmod with devices attached
#   bench-smoke           every benchmark case once, no speed checked
# (*) waits for kernel-build; if that failed, it fails without running.
# A free core goes to the first sub-suite in this list that can start: the
# kernel build first, the host-only suites beside it while it builds, and
# the test kernel's suites (the longest path) as soon as it is there. Every check waits for events, not for a
# time, so a sub-suite beside another only takes longer.
#
# Each sub-suite's output is printed whole when it ends (and kept in
# .build/results/NAME.out). At the end: the time line of every phase (start
# and end from the start of the run, wall time, result), then the last line
# "test: N passed, N failed", counting every check of every sub-suite. The
# exit status is non-zero on any failure, build error, crash, stuck VM or
# missing summary.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

ALL=(kernel-build kunit-smmuv3 kunit-smmuv3-64k vm-stress kunit-intel
	kunit-virtio kunit-amd vm-debug-intel vm-debug-virtio hygiene dkms
	vm-stock vm-stock-6.12-intel vm-stock-6.12-virtio vm-stock-6.1-amd
	vm-stock-6.12-amd vm-stock-arm64 vm-unload bench-smoke)
SLOTS=${ALTDMA_SLOTS:-2}

# cmd_of NAME: the command of a sub-suite
cmd_of() {
	local s=$ALTDMA_REPO/scripts
	case "$1" in
	kernel-build) echo "$s/test-kernel.sh" ;;
	hygiene) echo "$s/hygiene.sh" ;;
	dkms) echo "$s/dkms-check.sh" ;;
	vm-stock) echo "$s/vm-test.sh" ;;
	vm-stock-6.12-intel) echo "$s/vm-test.sh --stock 6.12 intel" ;;
	vm-stock-6.12-virtio) echo "$s/vm-test.sh --stock 6.12 virtio" ;;
	vm-stock-6.1-amd) echo "$s/vm-test.sh --stock 6.1 amd" ;;
	vm-stock-6.12-amd) echo "$s/vm-test.sh --stock 6.12 amd" ;;
	vm-stock-arm64) echo "$s/vm-arm64.sh" ;;
	vm-unload) echo "$s/vm-unload.sh" ;;
	bench-smoke) echo "$s/bench.sh --smoke" ;;
	vm-stress) echo "$s/vm-stress.sh" ;;
	kunit-intel) echo "$s/kunit.sh intel" ;;
	kunit-virtio) echo "$s/kunit.sh virtio" ;;
	kunit-amd) echo "$s/kunit.sh amd" ;;
	kunit-smmuv3) echo "$s/kunit.sh smmuv3" ;;
	kunit-smmuv3-64k) echo "$s/kunit.sh smmuv3-64k" ;;
	vm-debug-intel) echo "$s/vm-test.sh --debug intel" ;;
	vm-debug-virtio) echo "$s/vm-test.sh --debug virtio" ;;
	*) return 1 ;;
	esac
}
needs_kernel() {
	case "$1" in
	kunit-smmuv3*) return 1 ;;	# builds its own arm64 kernel
	kunit-*|vm-debug-*|vm-stress) return 0 ;;
	esac
	return 1
}

# the sub-suites asked for, in the order of ALL
want=()
add_want() { local n; for n in "$@"; do want+=("$n"); done; }
if [ $# -eq 0 ]; then
	add_want "${ALL[@]}"
else
	for a in "$@"; do
		case "$a" in
		--quick) add_want kunit-intel vm-stock ;;
		kunit) add_want kunit-intel kunit-virtio kunit-amd kunit-smmuv3 \
			kunit-smmuv3-64k ;;
		stock) add_want vm-stock vm-stock-6.12-intel vm-stock-6.12-virtio \
			vm-stock-6.1-amd vm-stock-6.12-amd vm-stock-arm64 ;;
		amd) add_want kunit-amd vm-stock-6.1-amd vm-stock-6.12-amd ;;
		arm64) add_want kunit-smmuv3 kunit-smmuv3-64k vm-stock-arm64 ;;
		debug) add_want vm-debug-intel vm-debug-virtio ;;
		reliability) add_want vm-stress vm-unload ;;
		*) cmd_of "$a" >/dev/null || die "unknown sub-suite $a (see the head of $0)"
		   add_want "$a" ;;
		esac
	done
fi
queue=()
for n in "${ALL[@]}"; do
	for w in "${want[@]}"; do
		[ "$w" = "$n" ] && { queue+=("$n"); break; }
	done
done
# the test kernel's suites need it built first
for n in "${queue[@]}"; do
	if needs_kernel "$n" && [[ " ${queue[*]} " != *" kernel-build "* ]]; then
		queue=(kernel-build "${queue[@]}")
		break
	fi
done

mkdir -p "$ALTDMA_RESULTS"
T0=$(date +%s)
TL=$ALTDMA_RESULTS/timeline
: >"$TL"
pass=0 fail=0

# phase NAME CMD...: a set-up phase, in the foreground; its time goes to
# the time line; a failure counts as one failed check
phase() {
	local name=$1 t0 st
	shift
	t0=$(date +%s)
	log "phase $name"
	"$@" 2>&1 | tee "$ALTDMA_RESULTS/$name.out"
	st=${PIPESTATUS[0]}
	echo "$name $((t0 - T0)) $(($(date +%s) - T0)) $([ "$st" -eq 0 ] && echo ok || echo FAILED)" >>"$TL"
	if [ "$st" -ne 0 ]; then
		fail=$((fail + 1))
		echo "FAIL: phase $name (exit $st)"
	fi
	return "$st"
}

# the packages of every sub-suite, in one apt-get, and both stock kernels
install_all() {
	need_pkgs "${ALTDMA_ALL_PKGS[@]}" && stock_kernel 6.1 >/dev/null &&
		stock_kernel 6.12 >/dev/null
}
phase packages install_all
phase extract "$ALTDMA_REPO/scripts/test-kernel.sh" --prepare

# the sub-suites, SLOTS at a time
declare -A pid_of=() t_of=() name_of=()
kernel_state=pending # pending, running, ok, failed
[[ " ${queue[*]} " == *" kernel-build "* ]] || kernel_state=ok

# finish NAME STATUS: print its output whole, add its counts
finish() {
	local name=$1 st=$2 out=$ALTDMA_RESULTS/$1.out line p f
	cat "$out"
	if [ "$name" = kernel-build ]; then
		kernel_state=$([ "$st" -eq 0 ] && echo ok || echo failed)
		[ "$st" -eq 0 ] || { fail=$((fail + 1)); echo "FAIL: the test kernel did not build"; }
		p=- f=-
	else
		line=$(tail -n 1 "$out")
		p=$(echo "$line" | sed -n 's/^[a-z0-9.-]*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
		f=$(echo "$line" | sed -n 's/^[a-z0-9.-]*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
		if [ -z "$p" ]; then
			p=0 f=1
			echo "FAIL: $name printed no summary"
		fi
		pass=$((pass + p)) fail=$((fail + f))
	fi
	echo "$name ${t_of[$name]} $(($(date +%s) - T0)) $p/$f" >>"$TL"
	log "$name done after $(($(date +%s) - T0 - ${t_of[$name]})) s: ${p} passed, ${f} failed"
}

# start NAME: in the background; the kernel build at normal priority, the
# others a little below it, so that the critical path goes first
start() {
	local name=$1 nice=5
	[ "$name" = kernel-build ] && nice=0 kernel_state=running
	t_of[$name]=$(($(date +%s) - T0))
	log "start $name"
	# shellcheck disable=SC2046 # the command is words
	nice -n "$nice" $(cmd_of "$name") >"$ALTDMA_RESULTS/$name.out" 2>&1 &
	pid_of[$name]=$!
	name_of[$!]=$name
}

while [ ${#queue[@]} -gt 0 ] || [ ${#pid_of[@]} -gt 0 ]; do
	# start what can start, in priority order
	rest=()
	for n in "${queue[@]}"; do
		if [ ${#pid_of[@]} -ge "$SLOTS" ]; then
			rest+=("$n")
		elif needs_kernel "$n" && [ "$kernel_state" = failed ]; then
			echo "FAIL: $n not run: the test kernel did not build"
			fail=$((fail + 1))
			echo "$n - - not-run" >>"$TL"
		elif needs_kernel "$n" && [ "$kernel_state" != ok ]; then
			rest+=("$n")
		else
			start "$n"
		fi
	done
	queue=("${rest[@]}")
	[ ${#pid_of[@]} -gt 0 ] || continue
	# the next sub-suite to end (by its own job, not by a PID that the
	# system may have given to another process since)
	wait -n -p done_pid "${pid_of[@]}"
	st=$?
	n=${name_of[$done_pid]}
	unset "pid_of[$n]" "name_of[$done_pid]"
	finish "$n" "$st"
done

echo
echo "time line (seconds from the start of the run):"
printf '  %-22s %6s %6s %6s  %s\n' phase start end wall result
while read -r name s e r; do
	if [ "$s" = - ]; then
		printf '  %-22s %6s %6s %6s  %s\n' "$name" - - - "$r"
	else
		printf '  %-22s %6d %6d %6d  %s\n' "$name" "$s" "$e" $((e - s)) "$r"
	fi
done <"$TL"
echo "  total wall time: $(($(date +%s) - T0)) s"
echo "test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
