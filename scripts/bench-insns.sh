#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Instructions of one steady-state map and unmap, counted exactly, per
# contender and per function: the benchmark VM (scripts/bench.sh --perf
# gdb) waits with each contender set up and warmed up (3000 pairs), and gdb
# single-steps through one dma_map_page_attrs() and the following
# dma_unmap_page_attrs() on QEMU's gdbstub. Deterministic where the timed
# rows are not: what it counts does not depend on the host's speed. An
# instruction is not a unit of time (a copy loop is cheap per instruction,
# a lock or an interrupt switch dear), so this explains the timed rows and
# never replaces them.
#
#   scripts/bench-insns.sh [CONTENDER...]   default: the six of bench.sh
#                                           and the floor (one whole
#                                           floor_one(): map, unmap, sync)
#   scripts/bench-insns.sh --cold           kernel-lazy and altdma-deferred:
#                                           the first 16 KiB pair on a fresh
#                                           domain after 20 pairs of 8 KiB
#                                           (the IOVA trees' path)
#   scripts/bench-insns.sh --iova           (b)'s fast path: one cached
#                                           alloc and one free of a page,
#                                           the kernel's alloc_iova_fast()
#                                           and free_iova_fast() against
#                                           altdma's allocator
#   scripts/bench-insns.sh --iova-tree      the same through the trees
#                                           alone (alloc_iova(), free_iova()
#                                           against altdma without caches;
#                                           64 pages kept allocated)
#   scripts/bench-insns.sh --frag           (b)'s 32-bit-full case (1024
#                                           pages below 4 GiB, full): one
#                                           timed allocation the tree above
#                                           4 GiB serves after the 32-bit
#                                           attempt failed ("alloc"), and the
#                                           next one ("free": the loop's
#                                           next iteration's first)
#
# Output: per contender, the map and unmap totals and the functions with
# the most instructions; traces in $ALTDMA_BUILD/bench-smoke/insns/.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

need_pkgs gdb
out=$ALTDMA_BUILD/bench-smoke
ins=$out/insns
rm -rf "$ins" && mkdir -p "$ins"
con=$out/console-smp4.log
all="kernel-lazy altdma-deferred kernel-strict altdma-strict kernel-bounce altdma-bounce floor"
part=gdb
if [ "${1:-}" = --cold ]; then
	shift
	part=gdbcold all="kernel-lazy altdma-deferred"
elif [ "${1:-}" = --iova ] || [ "${1:-}" = --iova-tree ]; then
	part=gdbiova all="iova-kernel iova-altdma" nth=17
	[ "$1" = --iova-tree ] && part=gdbiovatree nth=81
	shift
elif [ "${1:-}" = --frag ]; then
	# frag_alloc(): 1024 fill the space below 4 GiB; each iteration
	# then makes two, so call 1024 + 2 * 20 + 2 is the second of
	# iteration 20 (from 0), the one after it the first of iteration 21
	part=gdbfrag all="iova-kernel iova-altdma" nth=1066
	shift
fi
want=${*:-$all}
port=$((20000 + $$ % 20000))
wrap=$ins/qemu.sh
printf '#!/bin/sh\nexec qemu-system-x86_64 -gdb tcp:127.0.0.1:%s "$@"\n' "$port" >"$wrap"
chmod +x "$wrap"
rm -f "$con"
ALTDMA_QEMU=$wrap "$ALTDMA_REPO/scripts/bench.sh" --perf $part >"$ins/bench.log" 2>&1 &
bench=$!

cat >"$ins/count.py" <<'PY'
import gdb
def count_call(addr, out):
    """Step through one call of the function at addr; one PC per line."""
    gdb.execute("hbreak *%s" % addr, to_string=True)
    gdb.execute("continue", to_string=True)
    gdb.execute("delete", to_string=True)
    sp0 = int(gdb.parse_and_eval("$sp"))
    ret = int(gdb.parse_and_eval("*(unsigned long *)$sp"))
    n = 0
    with open(out, "w") as f:
        while n < 500000:
            pc = int(gdb.parse_and_eval("$pc"))
            if pc == ret and int(gdb.parse_and_eval("$sp")) > sp0:
                break
            f.write("%x\n" % pc)
            gdb.execute("stepi", to_string=True)
            n += 1
    return n
def skip_calls(addr, n):
    """Let n calls of the function at addr start."""
    for _ in range(n):
        gdb.execute("hbreak *%s" % addr, to_string=True)
        gdb.execute("continue", to_string=True)
        gdb.execute("delete", to_string=True)
        gdb.execute("stepi", to_string=True)
def count_split(addr, at, skip, out_a, out_b):
    """Step through the call of addr after skip others; PCs before the
    first at in out_a, the rest in out_b."""
    skip_calls(addr, skip)
    n = count_call(addr, out_a + ".all")
    with open(out_a + ".all") as f:
        pcs = f.read().split()
    cut = pcs.index(at) if at in pcs else len(pcs)
    with open(out_a, "w") as f:
        f.write("".join(p + "\n" for p in pcs[:cut]))
    with open(out_b, "w") as f:
        f.write("".join(p + "\n" for p in pcs[cut:]))
    return n
def count_nth(start, addr, nth, out):
    """Once the function at start runs, step through the nth call of addr."""
    gdb.execute("hbreak *%s" % start, to_string=True)
    gdb.execute("continue", to_string=True)
    gdb.execute("delete", to_string=True)
    skip_calls(addr, nth - 1)
    return count_call(addr, out)
PY

wait_line() { # wait_line PATTERN: until the console has it (10 min at most)
	local i
	for i in $(seq 1 1200); do
		grep -aq "$1" "$con" 2>/dev/null && return 0
		kill -0 $bench 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}
for c in $all; do
	wait_line "perf gdb $c ready" || die "the VM never got $c ready (see $con)"
	case " $want " in *" $c "*) ;; *) continue ;; esac
	line=$(grep -a "perf gdb $c ready" "$con")
	if [ $part != gdb ] && [ $part != gdbcold ]; then
		# after the 64 kept (--iova-tree), the 17th alloc is the
		# second round's first (a cache hit, without --iova-tree);
		# the next free is that round's first
		b=$(echo "$line" | grep -ao 'bench=[0-9a-f]*' | cut -d= -f2)
		map=$(echo "$line" | grep -ao 'alloc=[0-9a-f]*' | cut -d= -f2)
		unmap=$(echo "$line" | grep -ao 'free=[0-9a-f]*' | cut -d= -f2)
		first="count_nth('0x$b', '0x$map', $nth, '$ins/$c-map.pc')"
	elif [ $c = floor ]; then
		# one floor_one(): its map until pt_iommu_unmap(), then the
		# unmap and the IOTLB sync; the third of the three, as the
		# first of a command runs on a new domain and allocates
		# its page tables
		b=$(echo "$line" | grep -ao 'floor_one=[0-9a-f]*' | cut -d= -f2)
		u=$(echo "$line" | grep -ao 'pt_iommu_unmap=[0-9a-f]*' | cut -d= -f2)
		map=$b unmap=$u
		first="count_split('0x$b', '$u', 2, '$ins/$c-map.pc', '$ins/$c-unmap.pc')"
	else
		map=$(echo "$line" | grep -ao 'dma_map_page_attrs=[0-9a-f]*' | cut -d= -f2)
		unmap=$(echo "$line" | grep -ao 'dma_unmap_page_attrs=[0-9a-f]*' | cut -d= -f2)
		first="count_call('0x$map', '$ins/$c-map.pc')"
	fi
	[ -n "$map" ] && [ -n "$unmap" ] || die "no addresses for $c: $line"
	second="count_call('0x$unmap', '$ins/$c-unmap.pc')"
	[ $c = floor ] && second=0
	timeout 300 gdb -q -batch -ex "set architecture i386:x86-64" \
		-ex "target remote 127.0.0.1:$port" -ex "source $ins/count.py" \
		-ex "python print('COUNT map', $first)" \
		-ex "python print('COUNT unmap', $second)" \
		-ex detach >"$ins/$c-gdb.log" 2>&1
	grep -q "COUNT unmap" "$ins/$c-gdb.log" || die "gdb failed for $c (see $ins/$c-gdb.log)"
done
wait $bench
python3 "$ALTDMA_REPO/scripts/bench_insns.py" "$out/results-smp4.txt" "$ins" $want
