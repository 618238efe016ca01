#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# /init of the benchmark VM (scripts/bench.sh). Runs altdma's side-by-side
# benchmarks on the virtio-blk disk 0000:00:03.0 and reports one line per
# measurement on /dev/ttyS1:
#   R key=value ...       a measurement (round, case, contender, result)
#   ok: ... / FAIL: ...   a check (a contender could be set up and ran)
# The last line is "done". Kernel arguments: bench_mode=full|smoke|mem,
# bench_rounds=N; bench_mode=profile prints function_graph traces of the
# map and unmap paths on the console instead; bench_mode=mapbench (on the
# debug test kernel, altdma built in) runs the kernel's dma_map_benchmark.
. /guest.sh
TAG=bench
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
BLK=0000:00:03.0
D=/sys/bus/pci/devices/$BLK
B=/sys/kernel/debug/altdma_bench
arg() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
mode=$(arg bench_mode); mode=${mode:-smoke}
rounds=$(arg bench_rounds); rounds=${rounds:-1}
ncpu=$(grep -c ^processor /proc/cpuinfo)
# it*r: iterations of the rotating-buffer rows of (a); in smoke mode just
# enough to go round the buffers once. itf: (b)'s fast path, all steady
# state after a warm-up round; 20,000 (about 0.1 s a row) so that one
# burst of the VM's deferred work (RCU frees after a teardown) does not
# move a row by half, as it did at 2000
if [ "$mode" = smoke ]; then it4=50 it64=20 it1m=5 itf=200 nfill=4096 fit=200
	it4r=300 it64r=300 it1mr=20
else it4=2000 it64=1000 it1m=200 itf=20000 nfill=262144 fit=20000
	it4r=$it4 it64r=$it64 it1mr=$it1m; fi

for m in $(cat /modules.order); do insmod $m; done
if [ -e /altdma.ko ]; then
	check "insmod altdma.ko (with the benchmarks)" insmod /altdma.ko
fi
check "virtio disk probed" wait_for /dev/vda
grp=$(basename "$(readlink $D/iommu_group)")
T=/sys/kernel/iommu_groups/$grp/type
say "info: cpus=$ncpu group=$grp type=$(cat $T) mode=$mode rounds=$rounds"

unbind() { [ -e $D/driver ] && echo $BLK > $D/driver/unbind; true; }
# bench LABEL CMD...: run one command, report its result
bench() {
	l=$1; shift
	if echo "$*" > $B 2>/dev/null; then
		say "R $l $(cat $B)"
	else
		say "FAIL: $l: $* ($(cat $B))"
	fi
}
# setup CONTENDER: give the (unbound) disk that contender's DMA ops
setup() {
	case $1 in
	kernel-lazy) echo DMA-FQ > $T; [ "$(cat $T)" = DMA-FQ ] ;;
	kernel-strict|kernel-bounce|floor) echo DMA > $T; [ "$(cat $T)" = DMA ] ;;
	altdma-deferred) echo "$BLK inval=deferred" > $A/attach ;;
	altdma-strict) echo "$BLK inval=strict" > $A/attach ;;
	altdma-bounce) echo "$BLK inval=strict bounce=force" > $A/attach ;;
	esac
}
# bench_cmd CONTENDER: the benchmark command a contender's rows run
bench_cmd() { if [ $1 = floor ]; then echo floor; else echo map; fi; }
teardown() {
	case $1 in altdma-*) echo $BLK > $A/detach ;; esac
	unbind
}
# rotate N WORDS...: the words, starting at the (N mod count)-th
rotate() {
	n=$1; shift
	k=$((n % $#)); i=0
	for w in "$@"; do [ $i -ge $k ] && printf '%s ' $w; i=$((i + 1)); done
	i=0
	for w in "$@"; do [ $i -lt $k ] && printf '%s ' $w; i=$((i + 1)); done
}
iters_of() { case $1 in 4096) echo $it4 ;; 65536) echo $it64 ;; *) echo $it1m ;; esac; }
# rotating rows of (a): iterations, and distinct buffers per thread (256;
# 16 of 1 MiB, so that 4 threads hold 64 MiB, not 1 GiB, of the VM's 4 GiB)
iters_rot() { case $1 in 4096) echo $it4r ;; 65536) echo $it64r ;; *) echo $it1mr ;; esac; }
bufs_of() { case $1 in 1048576) echo 16 ;; *) echo 256 ;; esac; }

# (a) single-mapping cost, on the same buffer every time and rotating
# through distinct buffers (bufs=), and (c) the bounce path, with the disk
# unbound and kept unbound (driver_override names no driver)
echo altdma_bench_none > $D/driver_override
unbind
map_round() { # map_round ROUND
	for c in $(rotate $1 kernel-lazy kernel-strict altdma-deferred altdma-strict floor); do
		if ! setup $c; then say "FAIL: a: set up $c"; unbind; continue; fi
		for s in 4096 65536 1048576; do
			for t in 1 $ncpu; do
				cmd=$(bench_cmd $c)
				bench "round=$1 case=a size=$s threads=$t contender=$c" \
					$cmd dev=$BLK size=$s threads=$t iters=$(iters_of $s)
			done
		done
		for s in 4096 65536 1048576; do
			nb=$(bufs_of $s)
			for t in 1 $ncpu; do
				cmd=$(bench_cmd $c)
				bench "round=$1 case=a-rot size=$s threads=$t bufs=$nb contender=$c" \
					$cmd dev=$BLK size=$s threads=$t iters=$(iters_rot $s) bufs=$nb
			done
		done
		teardown $c
	done
	for c in $(rotate $1 kernel-bounce altdma-bounce); do
		if ! setup $c; then say "FAIL: c: set up $c"; unbind; continue; fi
		u=0; [ $c = kernel-bounce ] && u=1
		bench "round=$1 case=c size=512 threads=1 contender=$c" \
			map dev=$BLK size=512 off=564 threads=1 iters=$it4 untrusted=$u
		teardown $c
	done
}
# (b) the IOVA allocators alone
iova_round() { # iova_round ROUND
	for c in $(rotate $1 kernel altdma); do
		k=0; [ $c = kernel ] && k=1
		for n in 1 16; do
			bench "round=$1 case=b-fast npages=$n contender=$c" \
				iova-fast kernel=$k npages=$n iters=$itf
		done
		bench "round=$1 case=b-frag contender=$c" \
			iova-frag kernel=$k nfill=$nfill iters=$fit budget_ms=15000 seed=$1
		bench "round=$1 case=b-frag-tree contender=$c" \
			iova-frag kernel=$k nfill=$nfill iters=$fit budget_ms=15000 seed=$1 nocache=1
	done
}
# (e) memory after the same load on every CPU
mem_run() {
	if ! setup altdma-deferred; then say "FAIL: e: set up altdma-deferred"; return; fi
	for s in 4096 65536 1048576; do
		echo map dev=$BLK size=$s threads=$ncpu iters=$(iters_of $s) > $B
	done
	bench "round=0 case=e contender=both" mem dev=$BLK
	# a second later: altdma's depots give idle magazines back (the
	# kernel's 6.1 depot never shrinks; its figure stays the same)
	sleep 1
	bench "round=0 case=e-idle contender=both" mem dev=$BLK
	teardown altdma-deferred
}
# (d) fio on the disk: the kernel's default ops (lazy dma-iommu) against
# altdma deferred, and 4 KiB random reads also strict against strict
fio_one() { # fio_one ROUND CONTENDER JOB...
	r1=$1 c1=$2; shift 2
	for j in "$@"; do
		rw=${j%%:*} rest=${j#*:}; bs=${rest%%:*} qd=${rest#*:}
		out=$(fio --name=b --filename=/dev/vda --direct=1 --thread \
			--ioengine=libaio --rw=$rw --bs=$bs --iodepth=$qd \
			--runtime=$frt --time_based --minimal 2>/tmp/fio.err)
		bw=$(echo "$out" | awk -F';' '{ print $7 }')
		iops=$(echo "$out" | awk -F';' '{ print $8 }')
		if [ -n "$iops" ] && [ "$iops" -gt 0 ] 2>/dev/null; then
			say "R round=$r1 case=d rw=$rw bs=$bs qd=$qd contender=$c1 iops=$iops kib_s=$bw"
		else
			say "FAIL: d: fio $rw $bs on $c1: $(head -c 200 /tmp/fio.err)"
		fi
	done
}
fio_round() { # fio_round ROUND
	for c in $(rotate $1 kernel-lazy altdma-deferred kernel-strict altdma-strict); do
		case $c in
		kernel-*)
			gt=DMA-FQ; [ $c = kernel-strict ] && gt=DMA
			unbind
			echo $gt > $T
			if [ "$(cat $T)" != $gt ]; then
				say "FAIL: d: group type $gt for $c"; continue
			fi
			echo $BLK > /sys/bus/pci/drivers_probe ;;
		altdma-deferred) echo "$BLK inval=deferred" > $A/attach ;;
		altdma-strict) echo "$BLK inval=strict" > $A/attach ;;
		esac
		fj="randread:4k:32 read:1m:8"
		case $c in *-strict) fj=randread:4k:32 ;; esac
		if wait_for /dev/vda; then fio_one $1 $c $fj
		else say "FAIL: d: no disk on $c"; fi
		case $c in altdma-*) echo $BLK > $A/detach ;; esac
	done
}

# mapbench: the kernel's own kernel/dma/map_benchmark.c (debug test kernel,
# altdma built in) bound to the disk through driver_override, driven by
# tools/testing/selftests/dma/dma_map_benchmark, on the kernel's ops and on
# altdma's in turn
mapbench_one() { # mapbench_one ROUND CONTENDER
	unbind
	echo dma_map_benchmark > $D/driver_override
	case $2 in
	kernel-lazy) echo DMA-FQ > $T; echo $BLK > /sys/bus/pci/drivers_probe ;;
	kernel-strict) echo DMA > $T; echo $BLK > /sys/bus/pci/drivers_probe ;;
	altdma-deferred) echo "$BLK inval=deferred" > $A/attach ;;
	altdma-strict) echo "$BLK inval=strict" > $A/attach ;;
	esac
	if [ "$(basename "$(readlink $D/driver)")" != dma_map_benchmark ]; then
		say "FAIL: mapbench: dma_map_benchmark not bound on $2"
	else
		for t in 1 $ncpu; do
			out=$(dma_map_benchmark -t $t -s 2 -g 1 -b 32 2>&1)
			m=$(echo "$out" | sed -n 's/.*average map latency(us):\([0-9.]*\).*/\1/p')
			u=$(echo "$out" | sed -n 's/.*average unmap latency(us):\([0-9.]*\).*/\1/p')
			if [ -n "$m" ] && [ -n "$u" ]; then
				say "R round=$1 case=mapbench threads=$t contender=$2 map_us=$m unmap_us=$u"
			else
				say "FAIL: mapbench $2 -t $t: $(echo $out | head -c 200)"
			fi
		done
	fi
	case $2 in altdma-*) echo $BLK > $A/detach ;; esac
	unbind
}

# profile: function_graph times of one contender's map and unmap (the
# children of altdma_map_page/altdma_unmap_page, or of the kernel's
# iommu_dma_map_page/iommu_dma_unmap_page), for the console
profile_one() { # profile_one CONTENDER SIZE [FUNCTIONS]
	setup $1 || { say "FAIL: profile: set up $1"; return; }
	bench "case=p contender=$1 size=$2 warm" map dev=$BLK size=$2 threads=1 iters=2000
	F=/sys/kernel/tracing
	echo 0 > $F/tracing_on
	case $1 in
	altdma-*) fns="altdma_map_page altdma_unmap_page" ;;
	*) fns="iommu_dma_map_page iommu_dma_unmap_page" ;;
	esac
	echo ${3:-$fns} > $F/set_graph_function
	echo > $F/trace
	echo 1 > $F/tracing_on
	echo map dev=$BLK size=$2 threads=1 iters=600 > $B
	echo 0 > $F/tracing_on
	# total traced time and calls per function, over 600 map+unmap pairs
	# (tracing slows every call: compare shares, not absolute times)
	echo "=== profile $1 size $2 (${3:-$fns}): us per function over 600 pairs, calls" > /dev/console
	grep -v '^#' $F/trace | awk -F'|' '
		$1 ~ /us/ {
			d = $1; sub(/^[^)]*\)/, "", d); gsub(/[^0-9.]/, "", d)
			f = $2; gsub(/[ ;{}()]|\/\*|\*\//, "", f)
			sub(/\[altdma\]/, "", f)
			t[f] += d; n[f]++
		}
		END { for (f in t) printf "%10.0f %6d %s\n", t[f], n[f], f }' |
		sort -rn | head -n 30 > /dev/console
	teardown $1
}

# perf_one CONTENDER SIZE: where the CPU time of one thread's map+unmap
# goes, sampled by perf (cpu-clock; no tracer in the path), for the
# console: the top symbols, the kernel's and altdma's alike
perf_one() {
	setup $1 || { say "FAIL: perf: set up $1"; return; }
	bench "case=p contender=$1 size=$2 warm" map dev=$BLK size=$2 threads=1 iters=2000
	# the one bench thread runs on the first online CPU
	perf record -q -e cpu-clock -F 4000 -C 0 -o /tmp/perf.data -- \
		sh -c "echo map dev=$BLK size=$2 threads=1 iters=200000 > $B" \
		2>/dev/null
	echo "=== perf $1 size $2: share of CPU 0's samples per symbol ($(cat $B))" > /dev/console
	perf report -q -i /tmp/perf.data --stdio --sort sym 2>/dev/null |
		grep -v '^$' | head -n 45 > /dev/console
	rm -f /tmp/perf.data
	teardown $1
}
# perf_cold CONTENDER SIZE [PAIRS]: the same, over the first PAIRS (2000)
# pairs after the contender is set up (as each row of (a) runs), 20 times;
# this shell (the set-up and tear-down) moves to CPU 1 meanwhile
perf_cold() {
	np=${3:-2000}
	taskset -p 2 $$ > /dev/null
	perf record -q -g -e cpu-clock -F 4000 -C 0 -o /tmp/perf.data 2>/dev/null &
	pp=$!
	sleep 1
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		# a fresh default domain each time, as in a round of (a)
		case $1 in
		kernel-lazy) echo DMA > $T ;;
		kernel-strict) echo DMA-FQ > $T ;;
		esac
		setup $1 || break
		echo map dev=$BLK size=$2 threads=1 iters=$np > $B
		teardown $1
	done
	kill -INT $pp; wait $pp
	taskset -p f $$ > /dev/null
	perf report -q -n -i /tmp/perf.data --stdio --children --sort sym \
		-g none 2>/dev/null | grep -v '^$' | grep -v native_safe_halt \
		> /tmp/perf.txt
	echo "=== perf $1 size $2, first $np pairs after set-up ($(cat $B)), 20 times: CPU 0's samples in each function and its callees" > /dev/console
	head -n 60 /tmp/perf.txt > /dev/console
	echo "=== perf $1 size $2: the same, under the IOVA allocator's and the flush queue's slow paths" > /dev/console
	perf report -q -n -i /tmp/perf.data --stdio --children --sort sym \
		-g none -p 'tree_alloc|fq_drain_batch|fq_flush_iotlb' -x \
		2>/dev/null | grep -v '^$' | head -n 40 > /dev/console
	rm -f /tmp/perf.data
}

# perf_map: the profiles of (a), cold and warm
perf_map() {
	echo altdma_bench_none > $D/driver_override
	unbind
	for c in kernel-lazy altdma-deferred; do
		perf_cold $c 4096
	done
	perf_cold altdma-deferred 1048576
	for c in kernel-lazy altdma-deferred kernel-strict altdma-strict; do
		perf_one $c 4096
	done
}
# perf_big: (a)'s 1 MiB rows, deferred against lazy: the first 200 pairs
# after set-up (all from the trees: no flush queue is full yet)
perf_big() {
	echo altdma_bench_none > $D/driver_override
	unbind
	for c in kernel-lazy altdma-deferred; do
		perf_cold $c 1048576 $it1m
	done
}
# perf_fio: (d)'s 1 MiB sequential read, lazy against deferred, six
# alternating rounds; altdma's flushes and deferred unmaps after each
perf_fio() {
	frt=5
	# as before (d) in a full run: unbound, then no override
	echo altdma_bench_none > $D/driver_override
	unbind
	echo > $D/driver_override
	for r in 1 2 3 4 5 6; do
		for c in $(rotate $r kernel-lazy altdma-deferred); do
			case $c in
			kernel-lazy)
				unbind
				echo DMA-FQ > $T
				echo $BLK > /sys/bus/pci/drivers_probe ;;
			*) echo "$BLK inval=deferred" > $A/attach ;;
			esac
			wait_for /dev/vda && fio_one $r $c read:1m:8
			case $c in
			altdma-*)
				echo "=== perf fio round $r: $(grep -h 'flush_alls\|^deferred' $A/$BLK/stats | tr '\n' ' ')" > /dev/console
				echo $BLK > $A/detach ;;
			esac
		done
	done
}
# perf_strict: (a)'s strict rows at one thread per vCPU, where four vCPUs
# on two host cores wait on each other: the kernel's strict ops, altdma
# strict and the floor, four alternating rounds of 4 KiB and 64 KiB, then
# perf's system-wide profile of each at 4 KiB
perf_strict() {
	echo altdma_bench_none > $D/driver_override
	unbind
	for r in 1 2 3 4; do
		for c in $(rotate $r kernel-strict altdma-strict floor); do
			setup $c || { say "FAIL: perf: set up $c"; continue; }
			cmd=$(bench_cmd $c)
			for s in 4096 65536; do
				echo $cmd dev=$BLK size=$s threads=$ncpu iters=$(iters_of $s) > $B
				echo "=== perf strict round $r $c size $s threads $ncpu: $(cat $B)" > /dev/console
			done
			teardown $c
		done
	done
	for c in kernel-strict altdma-strict floor; do
		setup $c || { say "FAIL: perf: set up $c"; continue; }
		cmd=$(bench_cmd $c)
		perf_all "strict $c size 4096 threads $ncpu" \
			"$cmd dev=$BLK size=4096 threads=$ncpu iters=20000"
		teardown $c
	done
}
# perf_all LABEL COMMAND: perf's system-wide profile of one benchmark
# command, the samples in each function and its callees
perf_all() {
	perf record -q -g -e cpu-clock -F 4000 -a -o /tmp/perf.data -- \
		sh -c "echo $2 > $B" 2>/dev/null
	echo "=== perf $1: samples in each function and its callees ($(cat $B))" > /dev/console
	perf report -q -n -i /tmp/perf.data --stdio --children --sort sym \
		-g none 2>/dev/null | grep -v '^$' |
		grep -v 'native_safe_halt\|_idle\|idle_call\|start_kernel\|startup\|rest_init' |
		head -n 40 > /dev/console
	rm -f /tmp/perf.data
}
# perf_iova KERNEL ITERS [ARGS]: perf's profile of (b)'s fast path, or
# with "nocache=1 nfill=N" of the trees alone
perf_iova() {
	k=$1 it=$2; shift 2
	perf_all "iova-fast kernel=$k $*" "iova-fast kernel=$k npages=1 iters=$it $*"
}

# insns_wait: each contender set up and warmed up, then 40 s for
# scripts/bench-insns.sh to put gdb on the next dma_map_page_attrs() and
# dma_unmap_page_attrs(), which three more pairs then call; finally the
# text symbols on the result port, for its report
insns_wait() { # insns_wait [cold]
	echo altdma_bench_none > $D/driver_override
	unbind
	cs="kernel-lazy altdma-deferred kernel-strict altdma-strict kernel-bounce altdma-bounce floor"
	[ "${1:-}" = cold ] && cs="kernel-lazy altdma-deferred"
	for c in $cs; do
		# cold: a fresh default domain; 20 pairs of 8 KiB (another
		# cache class) put ranges in its tree, and gdb counts the
		# first 16 KiB pair, which the tree serves
		[ "${1:-}" = cold ] && [ $c = kernel-lazy ] && echo DMA > $T
		setup $c || { say "FAIL: insns: set up $c"; continue; }
		case $c in
		kernel-bounce) args="size=512 off=564 untrusted=1" ;;
		altdma-bounce) args="size=512 off=564" ;;
		*) args="size=4096" ;;
		esac
		[ "${1:-}" = cold ] && args="size=16384"
		# the floor: gdb counts one whole iteration, floor_one()
		cmd=$(bench_cmd $c) fns='dma_map_page_attrs\|dma_unmap_page_attrs'
		[ $c = floor ] && fns='floor_one\|pt_iommu_unmap'
		if [ "${1:-}" = cold ]; then
			echo map dev=$BLK size=8192 threads=1 iters=20 > $B
		else
			echo $cmd dev=$BLK $args threads=1 iters=3000 > $B
		fi
		echo "=== perf gdb $c ready $(grep -w "$fns" /proc/kallsyms | awk '{printf "%s=%s ", $3, $1}')" > /dev/console
		sleep 40
		echo $cmd dev=$BLK $args threads=1 iters=3 > $B
		teardown $c
	done
	grep -i ' [tT] ' /proc/kallsyms | sort > /dev/ttyS1
}
# insns_iova: (b)'s fast path for scripts/bench-insns.sh --iova: for each
# side, the addresses of the benchmark command and of the allocator's
# alloc and free, 40 s for gdb to attach, then one command of two rounds
# (the first fills the caches; gdb counts the second round's first alloc
# and first free, both served by the caches)
# (with "tree": the trees alone, alloc_iova() and free_iova() against
# altdma's allocator without caches, 64 single pages kept allocated)
# (with "frag": (b)'s 32-bit-full case on a space of 1024 pages, 64
# iterations; gdb counts two of its timed allocations, frag_alloc(): the
# "alloc" of the report is the second of iteration 20, counted from 0, the
# "free" the first of iteration 21)
insns_iova() { # insns_iova [tree|frag]
	x= ks=alloc_iova_fast kf=free_iova_fast cmd=iova-fast
	args="npages=1 iters=1" fn=altdma_bench_iova_fast
	[ "${1:-}" = tree ] && x=" nocache=1 nfill=64" ks=alloc_iova kf=free_iova
	[ "${1:-}" = frag ] && cmd=iova-frag fn=altdma_bench_iova_frag \
		args="nfill=1024 iters=64 budget_ms=60000 seed=1"
	for k in 1 0; do
		if [ $k = 1 ]; then s="$ks $kf" c=iova-kernel
		else s="altdma_iova_alloc_range altdma_iova_free" c=iova-altdma; fi
		[ "${1:-}" = frag ] && s="frag_alloc frag_alloc"
		a=$(for f in $fn $s; do
			grep -w "$f" /proc/kallsyms | awk 'NR==1 {printf "%s ", $1}'; done)
		echo "=== perf gdb $c ready $(echo $a | awk '{printf "bench=%s alloc=%s free=%s", $1, $2, $3}')" > /dev/console
		sleep 40
		echo $cmd kernel=$k $args$x > $B
	done
	grep -i ' [tT] ' /proc/kallsyms | sort > /dev/ttyS1
}
# perf_frag: (b)'s 32-bit-full case, twice each side, then perf's profile
perf_frag() {
	for r in 1 2; do for k in 1 0; do
		echo iova-frag kernel=$k nfill=262144 iters=20000 > $B
		echo "=== perf frag kernel=$k $(cat $B)" > /dev/console
	done; done
	for k in 1 0; do
		perf_all "frag kernel=$k" "iova-frag kernel=$k nfill=262144 iters=20000"
	done
}
# perf_iova_rounds: (b)'s fast path and the trees alone (1000 ranges kept),
# six alternating rounds, then perf's profile of each
perf_iova_rounds() {
	for r in 1 2 3 4 5 6; do
		for k in 1 0; do
			echo iova-fast kernel=$k npages=1 iters=20000 > $B
			f=$(cat $B)
			echo iova-fast kernel=$k npages=1 iters=2000 nocache=1 nfill=1000 > $B
			echo "=== perf round $r kernel=$k fast $f tree $(cat $B)" > /dev/console
		done
	done
	for k in 1 0; do perf_iova $k 200000; done
	for k in 1 0; do perf_iova $k 20000 nocache=1 nfill=1000; done
}

case $mode in
perf)
	case $(arg bench_perf) in
	gdb) insns_wait ;;
	gdbcold) insns_wait cold ;;
	gdbiova) insns_iova ;;
	gdbiovatree) insns_iova tree ;;
	gdbfrag) insns_iova frag ;;
	frag) perf_frag ;;
	iova) perf_iova_rounds ;;
	big) perf_big ;;
	fio) perf_fio ;;
	strict) perf_strict ;;
	*) perf_map ;;
	esac
	;;
mapbench)
	r=1
	while [ $r -le $rounds ]; do
		for c in $(rotate $r kernel-lazy altdma-deferred kernel-strict altdma-strict); do
			mapbench_one $r $c
		done
		r=$((r + 1))
	done
	;;
profile)
	mount -t tracefs tracefs /sys/kernel/tracing
	echo 16384 > /sys/kernel/tracing/buffer_size_kb
	# the tracer is set once: switching it again stalled the TCG guest
	# (soft lockups in the text patching of tracing_set_tracer())
	echo 0 > /sys/kernel/tracing/tracing_on
	echo iommu_dma_map_page > /sys/kernel/tracing/set_graph_function
	echo function_graph > /sys/kernel/tracing/current_tracer
	echo 1 > /sys/kernel/tracing/options/funcgraph-tail
	echo 3 > /sys/kernel/tracing/max_graph_depth
	echo altdma_bench_none > $D/driver_override
	unbind
	for c in kernel-lazy altdma-deferred kernel-strict altdma-strict; do
		profile_one $c 4096
	done
	profile_one altdma-deferred 4096 "altdma_iova_alloc_range altdma_fq_queue"
	profile_one kernel-lazy 4096 "alloc_iova_fast free_iova_fast"
	profile_one altdma-deferred 4096 "tree_alloc altdma_prev_maps_range"
	# last: the kernel's 1 MiB unmap under function_graph takes minutes
	for c in altdma-deferred kernel-lazy; do
		profile_one $c 1048576
	done
	;;
mem)
	mem_run
	;;
*)
	r=1
	while [ $r -le $rounds ]; do
		map_round $r
		iova_round $r
		r=$((r + 1))
	done
	mem_run
	echo > $D/driver_override
	frt=5; [ $mode = smoke ] && frt=1
	if [ -x /bin/fio ]; then
		r=1
		while [ $r -le $rounds ]; do fio_round $r; r=$((r + 1)); done
	else
		say "info: no fio in the initramfs, (d) skipped"
	fi
	;;
esac
dmesg > /tmp/dmesg
BAD='WARNING:|BUG:|Oops|Call Trace|altdma: refused|DMAR: .*fault|still live'
check "dmesg: no warning, oops, refusal or leak" sh -c "! grep -E \"$BAD\" /tmp/dmesg"
grep -E "$BAD" /tmp/dmesg | head -20
say done
sync
poweroff -f
