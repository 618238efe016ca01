#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# /init of altdma's reliability VM (scripts/vm-stress.sh), on the debug test
# kernel (altdma and the virtio drivers built in). Reports one line per
# check on /dev/ttyS1 ("ok: ..." or "FAIL: ..."), asks the host for
# hot-unplug steps there ("hotplug: unplug N", "hotplug: replug N") and
# ends with "done". Phases:
#   1. fault injection on the attach path, then on the map and alloc paths
#      (fail-nth: every allocation point on each path fails once)
#   2. exhaustion of a shrunk IOVA space and bounce pool
#   3. an untrusted device on the real vIOMMU
#   4. stress: kthreads of altdma_stress.ko beside real disk and network I/O
#   5. a driver misusing the DMA API on the disk; real I/O right after
#   6. hot-unplug of the attached disk while I/O runs, and back
#   7. detach everything; no sanitizer report; kmemleak scan
. /guest.sh
BLK=0000:01:00.0 NIC0=0000:00:04.0 NIC1=0000:00:05.0
KML=/sys/kernel/debug/kmemleak
DERR=/sys/kernel/debug/dma-api/error_count
. /params

wait_blk() { # wait_blk: until /dev/vda is a block device, up to 120 s
	wait_until "/dev/vda as a block device" 1200 [ -b /dev/vda ]
}
wait_gone() { # wait_gone PATH: until PATH is gone, up to 20 min (as long
	# as the host waits for QEMU's DEVICE_DELETED, scripts/qmp-hotplug.py)
	wait_until "$1 to go" 12000 [ ! -e "$1" ]
}
attached() { grep -qx "$1" $A/devices; }
attach() { echo "$*" > $A/attach; }
detach() { echo "$1" > $A/detach; }
# the kernel log since the last call, kept in /tmp/log.PHASE
LOGS=
phase_log() {
	dmesg -c > /tmp/log.$1
	LOGS="$LOGS $1"
}
# a module run: its summary line, and the load status as the check
st_run() { # st_run NAME ARGS...
	n=$1; shift
	insmod /altdma_stress.ko "$@"
	rc=$?
	line=$(dmesg | grep 'altdma_stress: [a-z]*: ' | grep -v ': passed$\|: FAILED$' | tail -n 1)
	check "$n: ${line#*altdma_stress: }" [ $rc -eq 0 ]
}
# the teardown line of the last detach of PCI-NAME, and whether it is clean
teardown_clean() {
	dmesg | grep "$1: altdma: teardown:" | tail -n 1 |
		grep -q ': 0 IOVA ranges (0 pages) and 0 bounce slots held, 0 by leaked'
}

dmesg -n 1
# DMA_API_DEBUG prints every error, not just the first
echo 1 > /sys/kernel/debug/dma-api/all_errors
check "virtio disk probed on the hot-plug root port" wait_for /dev/vda
nic0_bound() { [ -n "$(netif_of $NIC0)" ]; }
wait_until "$NIC0 bound" 1200 nic0_bound
echo scan > $KML
echo clear > $KML
phase_log boot

# ---- 1. fault injection ----
# fail-nth (failslab and fail_page_alloc, GFP_KERNEL and order-0 too, no
# message): altdma_stress.ko fails the n-th allocation of its own task
# around one call, for n = 1, 2, ... until the call needs no more, so
# every allocation point on the path fails once. NIC1 without a driver:
# only altdma's attach (and the IOMMU core under it) allocates.
echo none > /sys/bus/pci/devices/$NIC1/driver_override
echo $NIC1 > /sys/bus/pci/devices/$NIC1/driver/unbind
for t in failslab fail_page_alloc; do
	echo N > /sys/kernel/debug/$t/ignore-gfp-wait
	echo 0 > /sys/kernel/debug/$t/verbose
done
echo 0 > /sys/kernel/debug/fail_page_alloc/min-order
faults=0
fi_run() { # fi_run NAME MODE
	insmod /altdma_stress.ko mode=$2 devs=$NIC1
	rc=$?
	line=$(dmesg | sed -n 's/.*altdma_stress: faults: [0-9a-f:.]*: \(faults=.*\)/\1/p' | tail -n 1)
	n=$(echo "$line" | sed -n 's/faults=\([0-9]*\).*/\1/p')
	faults=$((faults + ${n:-0}))
	check "$1: every allocation failed in turn: ${line:-no summary}; each next call succeeded" \
		[ $rc -eq 0 -a "${n:-0}" -gt 0 ]
	dmesg | grep 'altdma_stress: faults: .*allocation points' | sed 's/.*altdma_stress: faults: /figure: faults: /' > $R
	rmmod altdma_stress 2>/dev/null
}
fi_run "attach path (bounce=force inval=deferred)" faults:attach
check "after the attach faults: $NIC1 not attached" sh -c "! grep -qx $NIC1 $A/devices"
phase_log faults-attach
attach "$NIC1 bounce=force"
fi_run "map and alloc paths (map_page, bounced map_page, map_sg, alloc_coherent)" faults
check "after the map faults: live=$(stat_of $NIC1 live) iova_pages_in_use=$(stat_of $NIC1 iova_pages_in_use)" \
	[ "$(stat_of $NIC1 live)" = 0 -a "$(stat_of $NIC1 iova_pages_in_use)" = 0 ]
detach $NIC1
check "after the map faults: teardown holds no IOVA range and no bounce slot" teardown_clean $NIC1
say "figure: faults injected $faults"
phase_log faults

# ---- 2. exhaustion ----
# deferred: freed ranges wait for a flush, and must still be found again
check "attach with iova_pages=64 bounce_pages=8" \
	attach "$NIC1 bounce=force inval=deferred iova_pages=64 bounce_pages=8"
st_run exhaust mode=exhaust devs=$NIC1
dmesg | grep 'altdma_stress: exhaust: ' | sed 's/.*altdma_stress: /figure: /' > $R
rmmod altdma_stress
check "after exhaustion: live=0, failed maps counted ($(stat_of $NIC1 failed))" \
	[ "$(stat_of $NIC1 live)" = 0 -a "$(stat_of $NIC1 failed)" -ge 2 ]
detach $NIC1
check "after exhaustion: teardown holds no IOVA range and no bounce slot" teardown_clean $NIC1
phase_log exhaust

# ---- 3. untrusted ----
insmod /altdma_stress.ko mode=mark devs=$NIC1 && rmmod altdma_stress
check "untrusted device: bounce=off inval=deferred asked, bounce=auto inval=strict in force" \
	sh -c "echo '$NIC1 bounce=off inval=deferred' > $A/attach && grep -q '^options: bounce=auto inval=strict' $A/$NIC1/stats"
st_run untrusted mode=untrusted devs=$NIC1
rmmod altdma_stress
detach $NIC1
check "untrusted: teardown holds no IOVA range and no bounce slot" teardown_clean $NIC1
echo > /sys/bus/pci/devices/$NIC1/driver_override
phase_log untrusted

# ---- 4. stress beside real I/O ----
check "attach disk, NIC0 deferred, NIC1 forced bounce strict" sh -c \
	"echo '$BLK inval=deferred' > $A/attach && echo '$NIC0 inval=deferred' > $A/attach && echo '$NIC1 bounce=force inval=strict' > $A/attach"
wait_for /dev/vda
wait_until "both NICs bound" 1200 nics_bound
nic0=$(netif_of $NIC0) nic1=$(netif_of $NIC1)
check "both NICs bound ($nic0, $nic1)" [ -n "$nic0" -a -n "$nic1" ]
# (the sleeps hold the namespaces until they are killed below)
unshare -n sleep 1000000 & nsa=$!
unshare -n sleep 1000000 & nsb=$!
wait_until "both network namespaces" 1200 both_ns
ip link set $nic0 netns $nsa && ip link set $nic1 netns $nsb
ina() { nsenter -t $nsa -n "$@"; }
inb() { nsenter -t $nsb -n "$@"; }
ina ip addr add 10.9.0.1/24 dev $nic0; ina ip link set $nic0 up
inb ip addr add 10.9.0.2/24 dev $nic1; inb ip link set $nic1 up
# the link comes up when it comes up: the first answered ping, 120 s at most
check "net: ping" wait_until "the first ping answered" 60 ina ping -c 1 -W 2 10.9.0.2
dd if=/dev/urandom of=/tmp/pat bs=1M count=4 2>/dev/null
psum=$(sha256sum < /tmp/pat)
# disk: write and read back 4 MiB at rotating offsets until told to stop,
# and at least once
disk_io() {
	i=0 bad=0
	while [ ! -e /tmp/stop ] || [ $i -eq 0 ]; do
		dd if=/tmp/pat of=/dev/vda bs=1M seek=$((i % 8 * 4)) conv=fsync 2>/dev/null
		echo 3 > /proc/sys/vm/drop_caches
		[ "$(dd if=/dev/vda bs=1M skip=$((i % 8 * 4)) count=4 2>/dev/null | sha256sum)" = "$psum" ] || bad=$((bad + 1))
		i=$((i + 1))
	done
	echo "$i $bad" > /tmp/disk_io
}
# network: 1400-byte pings A->B in rounds of 20 until told to stop, and at
# least once (each reply checked by ICMP's checksum); TCP transfers stalled
# under this load
net_io() {
	i=0 got=0
	while [ ! -e /tmp/stop ] || [ $i -eq 0 ]; do
		n=$(ina ping -q -c 20 -s 1400 -W 2 10.9.0.2 2>/dev/null |
			sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
		got=$((got + ${n:-0}))
		i=$((i + 1))
	done
	echo "$i $got" > /tmp/net_io
}
rm -f /tmp/stop
disk_io & dio=$!
net_io & nio=$!
st_run "stress (6 threads x $iters rounds, -smp 4, beside disk and network I/O)" \
	mode=stress devs=$BLK,$NIC0,$NIC1 threads=6 iters=$iters
dmesg | grep 'altdma_stress: stress: ' | sed 's/.*altdma_stress: /figure: /' > $R
rmmod altdma_stress
touch /tmp/stop
wait $dio $nio
read dn dbad < /tmp/disk_io
read nn nbad < /tmp/net_io
check "stress: disk I/O beside it: $dn rounds of 4 MiB, $dbad bad" [ "$dn" -gt 0 -a "$dbad" = 0 ]
check "stress: network I/O beside it: $nbad of $((nn * 20)) pings of 1400 bytes answered" [ "$nbad" -gt 0 ]
kill $nsa $nsb
wait 2>/dev/null
# the NICs go back to the first network namespace when theirs are gone
wait_until "both NICs back in the first network namespace" 1200 \
	sh -c "ip link show $nic0 && ip link show $nic1" > /dev/null
for d in $NIC0 $NIC1; do
	check "stress: detach $d" detach $d
	check "stress: $d teardown holds no IOVA range and no bounce slot" teardown_clean $d
done
phase_log stress

# ---- 5. misuse by a driver, on the disk ----
derr0=$(cat $DERR)
st_run "misuse on $BLK" mode=misuse devs=$BLK
leaked=$(dmesg | sed -n 's/.*misuse: .*leaked mapping at dma \(0x[0-9a-f]*\).*/\1/p' | tail -n 1)
check "misuse: refusals counted: $(grep '^refused:' $A/$BLK/stats)" \
	grep -q '^refused: 5 unknown=2 double=1 size=1 direction=1 kind=0$' $A/$BLK/stats
for k in 'double unmap' 'wrong size' 'unknown address' 'wrong direction'; do
	check "misuse: reported once: $k" \
		[ "$(dmesg | grep -c "$BLK: altdma: refused .*($k)")" = 1 ]
done
check "misuse: the kernel's DMA_API_DEBUG saw it too (error_count $derr0 -> $(cat $DERR))" \
	[ "$(cat $DERR)" -ge $((derr0 + 5)) ]
dd if=/dev/urandom of=/tmp/p2 bs=1M count=8 2>/dev/null
dd if=/tmp/p2 of=/dev/vda bs=1M conv=fsync 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
check "misuse: disk I/O right after: 8 MiB read back matches" \
	[ "$(dd if=/dev/vda bs=1M count=8 2>/dev/null | sha256sum)" = "$(sha256sum < /tmp/p2)" ]
check "misuse: detach $BLK" detach $BLK
check "misuse: the leaked map ($leaked) is listed at detach" \
	sh -c "dmesg | grep -q '$BLK: altdma: still live at teardown: dma $leaked, size 100'"
check "misuse: teardown holds only the leaked map" \
	sh -c "dmesg | grep '$BLK: altdma: teardown:' | tail -n 1 | grep -q ': 1 IOVA ranges (1 pages) and 0 bounce slots held, 1 by leaked'"
rmmod altdma_stress
derr1=$(cat $DERR)
phase_log misuse

# ---- 6. hot-unplug ----
survived=0 k=1
while [ $k -le $cycles ]; do
	ok=1
	attach "$BLK inval=deferred" || ok=0
	wait_blk || ok=0
	rm -f /tmp/stop
	# I/O until the disk goes (only while /dev/vda is a block device: dd
	# would create a regular file in its place)
	rm -f /tmp/hio_round
	( while [ ! -e /tmp/stop ] && [ -b /dev/vda ]; do
		dd if=/dev/urandom of=/dev/vda bs=64K count=64 conv=fsync,notrunc 2>/dev/null
		dd if=/dev/vda of=/dev/null bs=64K count=64 2>/dev/null
		touch /tmp/hio_round
	  done ) & hio=$!
	# the unplug comes once the I/O is under way: one round done
	wait_until "hot-unplug $k: the first round of I/O" 1200 [ -e /tmp/hio_round ] || ok=0
	say "hotplug: unplug $k"
	wait_gone /sys/bus/pci/devices/$BLK || ok=0
	touch /tmp/stop
	wait $hio 2>/dev/null
	[ -b /dev/vda ] || rm -f /dev/vda
	# the detach runs inside the removal (the bus notifier), before the
	# device's sysfs directory goes
	wait_until "hot-unplug $k: the detach on removal" 1200 sh -c "! grep -qx $BLK $A/devices" || ok=0
	dmesg | grep -q "$BLK: altdma: detached on removal of the device" || ok=0
	teardown_clean $BLK || ok=0
	check "hot-unplug $k: removed under I/O, detached, nothing held" [ $ok -eq 1 ]
	say "hotplug: replug $k"
	ok=1
	wait_for /sys/bus/pci/devices/$BLK 1200 || ok=0
	wait_blk || ok=0
	attach "$BLK inval=strict" || ok=0
	wait_blk || ok=0
	dd if=/tmp/p2 of=/dev/vda bs=1M conv=fsync 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches
	[ "$(dd if=/dev/vda bs=1M count=8 2>/dev/null | sha256sum)" = "$(sha256sum < /tmp/p2)" ] || ok=0
	detach $BLK || ok=0
	teardown_clean $BLK || ok=0
	check "hot-unplug $k: re-added device attached again, 8 MiB I/O verified, detach clean" [ $ok -eq 1 ]
	[ $ok -eq 1 ] && survived=$((survived + 1))
	k=$((k + 1))
done
say "figure: hot-unplug cycles survived $survived of $cycles"
phase_log hotplug

# ---- 7. the end: sanitizers and kmemleak ----
check "no device attached" [ "$(wc -l < $A/devices)" -eq 0 ]
BAD='WARNING:|BUG:|Oops|Call Trace|KASAN|turning off the locking|possible recursive|circular locking|sleeping function called|still live|altdma: refused|DMAR: .*fault|kmemleak: .*disabl|DMA-API: [a-z_-]+ [0-9a-f]{4}:'
# Two reports of the kernel's own, seen on hot-unplug without altdma's
# code in them, are set apart and counted: lockdep on pciehp's
# pci_rescan_remove_lock -> reset_lock (Linux 6.1 pciehp), and
# DMA_API_DEBUG finding virtio-blk's requests still mapped when its driver
# is released under I/O (altdma's own teardown, after, finds none live).
known_filter() { # known_filter LOG: the log without the known reports
	awk '
	/-+\[ cut here \]-+/ { cut = 1; blk = "" }
	/WARNING: possible circular locking dependency/ { lk = 1; blk = "" }
	cut || lk {
		blk = blk $0 "\n"
		if (cut && /---\[ end trace/) {
			if (blk ~ /pending DMA allocations while released/) known++
			else printf "%s", blk
			cut = 0
		} else if (lk && /<\/TASK>/) {
			if (blk ~ /pci_rescan_remove_lock/ && blk ~ /reset_lock/) known++
			else printf "%s", blk
			lk = 0
		}
		next
	}
	{ print }
	END { print known + 0 > "/tmp/known" }' "$1"
}
reports=0 known=0
for p in $LOGS; do
	known_filter /tmp/log.$p > /tmp/flog.$p
	known=$((known + $(cat /tmp/known)))
	mv /tmp/flog.$p /tmp/log.$p
	if [ $p = misuse ]; then
		# the misuse is expected to be reported, by altdma and by
		# DMA_API_DEBUG (warnings from kernel/dma/debug.c only)
		n=$(grep -E 'BUG:|Oops|KASAN|turning off the locking|circular locking|sleeping function called' /tmp/log.$p | wc -l)
		n=$((n + $(grep 'WARNING:' /tmp/log.$p | grep -vc 'kernel/dma/debug.c')))
	else
		n=$(grep -cE "$BAD" /tmp/log.$p)
	fi
	[ "$n" -eq 0 ] || { echo "--- $p:"; grep -E -A60 "$BAD" /tmp/log.$p | head -n 200; }
	reports=$((reports + n))
done
check "sanitizers: $reports KASAN/lockdep/atomic-sleep/DMA_API_DEBUG/warning reports in all phases ($known known kernel reports set apart)" [ $reports -eq 0 ]
say "figure: sanitizer reports $reports; known kernel reports (pciehp lockdep, virtio-blk under removal) $known"
echo scan > $KML
echo scan > $KML
cat $KML > /tmp/leaks
nleaks=$(grep -c '^unreferenced object' /tmp/leaks)
check "kmemleak: $nleaks leaks" [ "$nleaks" -eq 0 ]
[ "$nleaks" -eq 0 ] || head -n 60 /tmp/leaks
say done
sync
poweroff -f
