#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The hygiene checks a maintainer would run, each required at zero:
#  - altdma.ko built from scratch with W=1 and sparse (C=2) against the
#    headers of both Debian 12 kernel lines (6.1: linux-headers-amd64,
#    6.12: see stock_kernel in lib.sh);
#  - checkpatch.pl --strict over every source file;
#  - kernel-doc -none over every C file and header;
#  - modinfo: every module parameter has a description;
#  - make coccicheck MODE=report (every semantic patch of the tree).
# The tools come from the linux-source-6.1 tree (scripts/test-kernel.sh
# --prepare); every build runs in a scratch copy under $ALTDMA_BUILD, so
# the work tree stays clean. One line per check, with its count; the last
# line is "hygiene: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

pass=0 fail=0
count() { # count NAME N: passes when N is 0
	if [ "$2" -eq 0 ]; then pass=$((pass + 1)); echo "ok: $1"
	else fail=$((fail + 1)); echo "FAIL: $1"; fi
}

need_pkgs build-essential sparse coccinelle "${ALTDMA_KERNEL_PKGS[@]}"
"$ALTDMA_REPO/scripts/test-kernel.sh" --prepare >&2 || exit 1
cd "$ALTDMA_REPO" || exit 1
start=$(date +%s)

# W=1 + sparse against each kernel line, from scratch (warnings only show
# when a file is compiled)
for line in 6.1 6.12; do
	kver=$(stock_kernel "$line") || exit 1
	obj=$ALTDMA_BUILD/oot-$line
	rm -rf "$obj" && mkdir -p "$obj"
	cp -r Kbuild Makefile ./*.c ./*.h kunit bench "$obj"/
	make -C "$obj" KDIR="/usr/src/linux-headers-$kver" W=1 C=2 BENCH=1 \
		-j"$ALTDMA_JOBS" >"$obj/build.log" 2>&1
	st=$?
	n=$(grep -c -E 'warning:|error:' "$obj/build.log")
	grep -E 'warning:|error:' "$obj/build.log" | head -20
	[ "$st" -eq 0 ] && [ -f "$obj/altdma.ko" ] || { n=$((n + 1)); tail -n 5 "$obj/build.log"; }
	count "altdma.ko (with bench/) builds against linux-headers-$kver: W=1 + sparse, $n warnings" "$n"
done

# the test modules (testmod/: the reliability VM's driver, the contract
# walker and the sanitizer's misuse module) against 6.1, the same way
kver=$(stock_kernel 6.1) || exit 1
obj=$ALTDMA_BUILD/oot-6.1-testmod
rm -rf "$obj" && mkdir -p "$obj"
cp testmod/Kbuild testmod/*.[ch] "$obj"/
make -C "/usr/src/linux-headers-$kver" M="$obj" W=1 C=2 modules \
	>"$obj/build.log" 2>&1
st=$?
n=$(grep -c -E 'warning:|error:' "$obj/build.log")
grep -E 'warning:|error:' "$obj/build.log" | head -20
[ "$st" -eq 0 ] && [ -f "$obj/altdma_stress.ko" ] &&
	[ -f "$obj/altdma_contract.ko" ] && [ -f "$obj/altdma_lateunmap.ko" ] &&
	[ -f "$obj/altdma_san_misuse.ko" ] ||
	{ n=$((n + 1)); tail -n 5 "$obj/build.log"; }
count "testmod/ (altdma_stress.ko, altdma_contract.ko, altdma_lateunmap.ko, altdma_san_misuse.ko) builds against linux-headers-$kver: W=1 + sparse, $n warnings" "$n"

# modinfo describes every parameter: each one modinfo knows the type of
# has a description too
ko=$ALTDMA_BUILD/oot-6.1/altdma.ko
typed=$(modinfo -F parmtype "$ko" 2>/dev/null | cut -d: -f1 | sort)
described=$(modinfo -F parm "$ko" 2>/dev/null | cut -d: -f1 | sort)
n=$(comm -23 <(echo "$typed") <(echo "$described") | grep -c .)
[ -n "$typed" ] || n=1
count "modinfo: $(echo "$typed" | grep -c .) parameters, $n without a description" "$n"

# checkpatch --strict and kernel-doc, from the linux-source-6.1 tree.
# altdma_compat.h is the one place that tests the kernel version, so there
# (only) checkpatch's LINUX_VERSION_CODE rule, meant for in-tree code, is
# off; a version test in any other file is a finding of its own.
cp_run() { # cp_run ARGS... FILES...: checkpatch's findings, one per line
	"$ALTDMA_SRC/scripts/checkpatch.pl" --strict --no-tree --terse \
		--show-types "$@" 2>&1 | grep -E '^[^:]+:[0-9]+: '
}
src=($(ls ./*.c ./*.h kunit/*.c kunit/*.h testmod/*.c testmod/*.h bench/*.c bench/*.h |
	grep -v '^./altdma_compat.h$') Kbuild Kconfig testmod/Kbuild)
out=$(cp_run -f "${src[@]}"; cp_run --ignore LINUX_VERSION_CODE -f ./altdma_compat.h
      grep -n -E 'LINUX_VERSION_CODE|KERNEL_VERSION' "${src[@]}" |
	sed 's/$/ (a version test outside altdma_compat.h)/')
n=$(printf '%s' "$out" | grep -c .)
[ "$n" -eq 0 ] || printf '%s\n' "$out" | head -20
count "checkpatch --strict (LINUX_VERSION_CODE only in altdma_compat.h): $n findings" "$n"
out=$("$ALTDMA_SRC/scripts/kernel-doc" -none ./*.c ./*.h kunit/*.c kunit/*.h \
	testmod/*.c testmod/*.h bench/*.c bench/*.h 2>&1)
n=$(printf '%s' "$out" | grep -c .)
[ "$n" -eq 0 ] || printf '%s\n' "$out" | head -20
count "kernel-doc -none: $n warnings" "$n"

# no physical address in the kernel log (issue 14): a log call (pr_*,
# dev_*, printk, WARN*) whose format has %pa (not %pad, a DMA address) or
# %px is a finding; debugfs (seq_printf) and trace events may show them
out=$(python3 - ./*.c ./*.h testmod/*.c <<'PY'
import re, sys
call = re.compile(r'\b(pr_\w+|dev_\w+|printk\w*|WARN\w*)\s*\(')
lit = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
bad = re.compile(r'%(pa(?!d)|px)')
for path in sys.argv[1:]:
    text = open(path).read()
    for m in call.finditer(text):
        depth, i, fmt = 1, m.end(), ''
        while i < len(text) and depth:
            s = lit.match(text, i)
            if s:
                fmt += s.group(0)
                i = s.end()
                continue
            depth += {'(': 1, ')': -1}.get(text[i], 0)
            i += 1
        if bad.search(fmt):
            line = text.count('\n', 0, m.start()) + 1
            print(f'{path}:{line}: {m.group(1)}() prints a physical address')
PY
)
n=$(printf '%s' "$out" | grep -c .)
[ "$n" -eq 0 ] || printf '%s\n' "$out" | head -20
count "no physical address (%pa, %px) in a kernel log format: $n findings" "$n"

# coccicheck over a scratch copy (M=); a report line names a file and line,
# and a semantic patch that could not run on a file (EXN) counts too
obj=$ALTDMA_BUILD/cocci
rm -rf "$obj" && mkdir -p "$obj"
cp -r Kbuild ./*.c ./*.h kunit testmod bench "$obj"/
make -C "$ALTDMA_SRC" coccicheck MODE=report M="$obj" J="$ALTDMA_JOBS" \
	>"$obj/coccicheck.log" 2>&1
st=$?
out=$(grep -E "^$obj/[^:]+:[0-9]+:|^EXN" "$obj/coccicheck.log")
n=$(printf '%s' "$out" | grep -c .)
[ "$n" -eq 0 ] || printf '%s\n' "$out" | head -20
[ "$st" -eq 0 ] || { n=$((n + 1)); tail -n 5 "$obj/coccicheck.log"; }
count "coccicheck MODE=report ($(ls "$ALTDMA_SRC"/scripts/coccinelle/*/*.cocci | wc -l) semantic patches): $n findings" "$n"

echo "hygiene: wall time $(($(date +%s) - start)) s"
echo "hygiene: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
