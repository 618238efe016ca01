#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# /init of altdma's unload VM (scripts/vm-unload.sh), on Debian's stock
# kernel. Reports one line per check on /dev/ttyS1, then "done".
. /guest.sh
BLK=0000:00:03.0 NIC0=0000:00:04.0 NIC1=0000:00:05.0
. /params

for m in $(cat /modules.order); do insmod $m; done
wait_for /dev/vda
check "insmod altdma.ko devices=$BLK,$NIC0 inval=deferred; attach $NIC1 bounce=force" \
	sh -c "insmod /altdma.ko devices=$BLK,$NIC0 inval=deferred && echo '$NIC1 bounce=force' > $A/attach"
check "three devices attached" [ "$(wc -l < $A/devices)" -eq 3 ]
wait_for /dev/vda
wait_until "both NICs bound again" 1200 nics_bound

# seed 002: one coherent buffer kept for good, 10^6 streaming maps through
# a 512-page IOVA space, on NIC1 without its driver
echo none > /sys/bus/pci/devices/$NIC1/driver_override
echo $NIC1 > $A/detach
echo "$NIC1 iova_pages=512" > $A/attach
t0=$(date +%s)
insmod /altdma_stress.ko mode=seed002 devs=$NIC1
rc=$?
line=$(dmesg | sed -n 's/.*altdma_stress: \(seed002: .*streaming maps.*\)/\1/p' | tail -n 1)
check "$line ($(($(date +%s) - t0)) s)" [ $rc -eq 0 ]
say "figure: $line"
rmmod altdma_stress

# issue 18: coherent buffers of random sizes (dma_alloc_coherent, _attrs,
# _pages) freed in random order, on NIC1 without its driver; afterwards
# the live mappings and IOVA pages in use are back where they were, nothing
# was refused, and maps - unmaps - quarantined_live = the mappings listed
# the count of live records "mappings" gives (exact; the lines it lists
# stop at a cap)
listed_of() { sed -n 's/^live: \([0-9]*\) (listed: [0-9]*)$/\1/p' $A/$1/mappings; }
accounted() {
	[ $(($(stat_of $1 maps) - $(stat_of $1 unmaps) - $(stat_of $1 quarantined_live))) \
		-eq "$(listed_of $1)" ]
}
for opts in "inval=deferred" "bounce=force inval=strict policy=wrap"; do
	echo $NIC1 > $A/detach
	echo "$NIC1 $opts" > $A/attach
	live0=$(stat_of $NIC1 live) pages0=$(stat_of $NIC1 iova_pages_in_use)
	insmod /altdma_stress.ko mode=coherent devs=$NIC1
	rc=$?
	line=$(dmesg | sed -n 's/.*altdma_stress: \(coherent: .*random order.*\)/\1/p' | tail -n 1)
	check "$opts: $line" [ $rc -eq 0 ]
	rmmod altdma_stress
	# deferred: the flush timer gives the IOVA back 10 ms later (60 s
	# at most on a loaded host)
	pages_back() { [ "$(stat_of $NIC1 iova_pages_in_use)" = "$pages0" ]; }
	wait_until "$NIC1 IOVA pages in use back to $pages0" 600 pages_back
	check "$opts: live back to $live0 ($(stat_of $NIC1 live)), IOVA pages in use back to $pages0 ($(stat_of $NIC1 iova_pages_in_use)), nothing refused or quarantined" \
		[ "$(stat_of $NIC1 live)" = "$live0" -a \
		  "$(stat_of $NIC1 iova_pages_in_use)" = "$pages0" -a \
		  "$(stat_of $NIC1 refused)" = 0 -a "$(stat_of $NIC1 quarantined)" = 0 ]
	check "$opts: maps - unmaps - quarantined_live = mappings listed ($(listed_of $NIC1))" \
		accounted $NIC1
done

# issue 14: the DMA API contract (contract in guest.sh) on NIC1 without
# its driver, first on the kernel's dma-iommu (detached), then on altdma
# (attached again). On altdma, nothing it does may be refused.
echo $NIC1 > $A/detach
contract dma-iommu
echo "$NIC1" > $A/attach
contract altdma
check "contract: altdma refused nothing ($(stat_of $NIC1 refused))" \
	[ "$(stat_of $NIC1 refused)" = 0 ]

# issue 13, bounded memory: $CHURN map/unmap pairs of one page (4 in
# flight) on NIC1 without its driver, over its full IOVA space with
# inval=strict, under policy=wrap (every map a fresh IOVA) and then
# policy=tree: unreclaimable slab (SUnreclaim) grows by less than
# $BOUND KiB. The baseline comes after a warm-up of 10^4 pairs (altdma's
# IOVA caches and the slab caches' slabs exist). kfree_rcu()'d memory
# comes back late (6.1 hands a batch to RCU up to 5 s after it filled),
# so every reading first runs the shrinkers (drop_caches=2: kfree_rcu's
# hands its batches to RCU at once; 4 once before keeps it quiet) and
# folds the per-CPU vmstat counts (stat_refresh); readings are polled
# (slab_settle) until SUnreclaim stops falling: the baseline once 20
# polls in a row found nothing 16 KiB below the lowest reading; after
# the run, until it is back within the bound (the check passes at once)
# or 100 polls in a row (10 s, far above an RCU grace period) found
# nothing lower. The check gives the growth measured (the lowest
# reading). A map that fails (-ENOMEM) fails the check; the run goes on.
CHURN=1000000 BOUND=1024
echo 4 > /proc/sys/vm/drop_caches
slab_kb() { # slab_kb KEY: KEY of /proc/meminfo in KiB, RCU frees kicked
	echo 2 > /proc/sys/vm/drop_caches
	echo 1 > /proc/sys/vm/stat_refresh
	sed -n "s/^$1: *\([0-9]*\) kB$/\1/p" /proc/meminfo
}
# slab_settle QUIET: poll SUnreclaim every 0.1 s until it is within
# $BOUND KiB of $base (if set) or QUIET polls in a row found none 16 KiB
# below the lowest (fails then), 600 polls at most; _sun: the lowest
slab_settle() {
	_sun=$(slab_kb SUnreclaim) _quiet=0 _polls=0
	until [ -n "$base" ] && [ $((_sun - base)) -lt $BOUND ]; do
		[ $_quiet -ge $1 -o $_polls -ge 600 ] && return 1
		usleep 100000
		_v=$(slab_kb SUnreclaim) _polls=$((_polls + 1))
		if [ $_v -lt $((_sun - 16)) ]; then _quiet=0; else _quiet=$((_quiet + 1)); fi
		[ $_v -lt $_sun ] && _sun=$_v
	done
}
for p in wrap tree; do
	echo $NIC1 > $A/detach
	echo "$NIC1 inval=strict policy=$p" > $A/attach
	insmod /altdma_stress.ko mode=churn devs=$NIC1 maps=10000 && rmmod altdma_stress
	base=
	slab_settle 20
	base=$_sun rbase=$(slab_kb SReclaimable) t0=$(date +%s)
	insmod /altdma_stress.ko mode=churn devs=$NIC1 maps=$CHURN
	rc=$?
	secs=$(($(date +%s) - t0))
	line=$(dmesg | sed -n "s/.*altdma_stress: \(churn: .* of $CHURN map\/unmap pairs.*\)/\1/p" | tail -n 1)
	done_pairs=$(echo "$line" | sed -n 's/^churn: [^ ]* \([0-9]*\) of .*/\1/p')
	[ $rc -eq 0 ] && rmmod altdma_stress
	slab_settle 100 ||
		say "info: policy=$p: SUnreclaim stopped falling $((_sun - base)) KiB above $base KiB (no new low for $_quiet polls; $_polls polls)"
	say "figure: policy=$p inval=strict: ${line:-no churn line} ($secs s); SUnreclaim $base -> $_sun KiB, SReclaimable $rbase -> $(slab_kb SReclaimable) KiB"
	check "policy=$p: ${done_pairs:-0} of $CHURN map/unmap pairs grew SUnreclaim by $((_sun - base)) KiB (< $BOUND)" \
		[ $rc -eq 0 -a $((_sun - base)) -lt $BOUND ]
done
echo $NIC1 > $A/detach
echo > /sys/bus/pci/devices/$NIC1/driver_override
echo "$NIC1 bounce=force" > $A/attach
wait_for /sys/bus/pci/devices/$NIC1/driver
wait_until "both NICs bound again" 1200 nics_bound
nic0=$(netif_of $NIC0) nic1=$(netif_of $NIC1)
ip link set $nic0 up; ip link set $nic1 up

# stress beside disk I/O (the NICs up, their drivers mapping receive buffers)
dd if=/dev/urandom of=/tmp/pat bs=1M count=8 2>/dev/null
psum=$(sha256sum < /tmp/pat)
( i=0; while [ ! -e /tmp/stop ] || [ $i -eq 0 ]; do
	dd if=/tmp/pat of=/dev/vda bs=1M seek=$((i % 4 * 8)) conv=fsync 2>/dev/null
	i=$((i + 1))
  done ) & dio=$!
insmod /altdma_stress.ko mode=stress devs=$BLK,$NIC0,$NIC1 threads=4 iters=$iters
rc=$?
line=$(dmesg | sed -n 's/.*altdma_stress: \(stress: .*errors=.*\)/\1/p' | tail -n 1)
check "$line" [ $rc -eq 0 ]
say "figure: stock kernel $line"
rmmod altdma_stress
touch /tmp/stop
wait $dio
echo 3 > /proc/sys/vm/drop_caches
check "disk: the pattern written beside the stress reads back" \
	[ "$(dd if=/dev/vda bs=1M count=8 2>/dev/null | sha256sum)" = "$psum" ]

# a driver leaks one mapping on the disk (its page is freed at its rmmod)
insmod /altdma_stress.ko mode=misuse devs=$BLK
leaked=$(dmesg | sed -n 's/.*misuse: .*leaked mapping at dma \(0x[0-9a-f]*\).*/\1/p' | tail -n 1)
check "misuse driver loaded, leaked a map at $leaked" [ -n "$leaked" ]
disksum=$(sha256sum < /dev/vda)

# unload with everything attached and mapped
dmesg -c > /dev/null
check "rmmod altdma with three devices attached and mapping" rmmod altdma
dmesg > /tmp/unload
check "unload: every device detached, drivers unbound first" \
	[ "$(grep -c 'altdma: detached, original domain and DMA ops restored' /tmp/unload)" -eq 3 ]
check "unload: the leaked map ($leaked) is listed" \
	grep -q "$BLK: altdma: still live at teardown: dma $leaked, size 100" /tmp/unload
check "unload: nothing else was left (one leak in all)" \
	[ "$(grep -c 'still live at teardown: dma' /tmp/unload)" -eq 1 ]
for d in $NIC0 $NIC1; do
	check "unload: $d teardown holds no IOVA range and no bounce slot" \
		grep -q "$d: altdma: teardown: 0 IOVA ranges (0 pages) and 0 bounce slots held, 0 by leaked" /tmp/unload
done
check "unload: debugfs gone" [ ! -e $A ]
check "unload: disk back on its own ops" wait_for /dev/vda
check "unload: the disk reads the same through the kernel's ops" \
	[ "$(sha256sum < /dev/vda)" = "$disksum" ]
check "unload: both NICs back" wait_until "both NICs bound again" 1200 nics_bound
check "rmmod altdma_stress (frees the leaked page)" rmmod altdma_stress

# and it loads and attaches again
reload() {
	insmod /altdma.ko devices=$BLK && wait_for /dev/vda &&
		dd if=/dev/vda of=/dev/null bs=1M count=8 2>/dev/null &&
		echo $BLK > $A/detach && rmmod altdma
}
check "insmod altdma.ko devices=$BLK again; I/O; detach; rmmod" reload

# unload under I/O, three times (issue 15): the disk read in a loop and the
# forced-bounce NIC sending (100 pings a second to a static neighbour)
# while rmmod detaches every device (drivers released first), then waits
# for callers that loaded the ops before their restore and for RCU
# callbacks. Each cycle waits for both kinds of I/O to be under way.
nic1_maps() { [ "$(stat_of $NIC1 maps)" -gt 200 ]; }
blk_reads() { [ "$(stat_of $BLK maps)" -gt 200 ]; }
unload_cycle() { # unload_cycle K
	insmod /altdma.ko devices=$BLK,$NIC0 inval=deferred &&
		echo "$NIC1 bounce=force" > $A/attach || return 1
	wait_for /dev/vda && wait_until "both NICs bound again" 1200 nics_bound ||
		return 1
	n1=$(netif_of $NIC1)
	ip link set $n1 up && ip addr add 10.9.8.2/24 dev $n1 &&
		arp -i $n1 -s 10.9.8.9 52:54:00:a1:d0:98 || return 1
	rm -f /tmp/ustop
	ping -q -i 0.01 -s 1400 10.9.8.9 > /dev/null 2>&1 & up=$!
	( while [ ! -e /tmp/ustop ]; do
		dd if=/dev/vda of=/dev/null bs=1M count=8 2>/dev/null
		echo 1 > /proc/sys/vm/drop_caches
	  done ) & ur=$!
	wait_until "unload $1: $NIC1 sending" 1200 nic1_maps &&
		wait_until "unload $1: the disk reading" 1200 blk_reads
	st=$?
	rmmod altdma || st=1
	touch /tmp/ustop
	kill $up 2>/dev/null
	wait $ur
	[ $st -eq 0 ] && [ ! -e $A ]
}
for k in 1 2 3; do
	check "unload under I/O $k: rmmod with the disk reading and $NIC1 sending" \
		unload_cycle $k
done
check "unload under I/O: the disk back on its own ops" wait_for /dev/vda
check "unload under I/O: both NICs back on their own ops" \
	wait_until "both NICs bound again" 1200 nics_bound
dmesg > /tmp/all
export BAD='WARNING:|BUG:|Oops|Call Trace|DMAR: .*fault|failed with error'
check "dmesg: no warning, oops or DMAR fault" sh -c "! grep -E \"\$BAD\" /tmp/all"
grep -E "$BAD" /tmp/all
say done
sync
poweroff -f
