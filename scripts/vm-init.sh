#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# /init of altdma's test VM (scripts/vm-test.sh). Loads the virtio modules
# listed in /modules.order, attaches altdma to the virtio disk and both
# NICs, moves data through them and reports one line per check on
# /dev/ttyS1 ("ok: ..." or "FAIL: ..."), which the host keeps apart from
# the console. The last result line is "done".
#
# On the debug test kernel (kernel argument altdma_vm=builtin) altdma and
# the virtio drivers are built in: nothing is loaded, the devices are
# attached through debugfs, and there is no rmmod.
. /guest.sh
BLK=0000:00:03.0 NIC0=0000:00:04.0 NIC1=0000:00:05.0

builtin=
grep -q altdma_vm=builtin /proc/cmdline && builtin=1
# I/O volumes: the debug kernel (KASAN, lockdep, DMA_API_DEBUG under TCG) is
# 5-10 times slower than a stock one and moves a quarter of the data; the
# same paths run either way
RAW_MB=16 NET_MB=4 FILES=40 KB_MOD=700
[ -n "$builtin" ] && RAW_MB=4 NET_MB=1 FILES=16 KB_MOD=200
# the sanitizer reports the misuse module got, each matched (san_misuse);
# never empty: busybox's grep -v -f of an empty file drops every line
echo '(whole kernel log lines, left out of the final scan)' > /tmp/san-expected
# kmemleak (debug kernel only): forget what boot left, scan at the end
KML=/sys/kernel/debug/kmemleak
[ -e $KML ] && echo scan > $KML && echo clear > $KML
for m in $(cat /modules.order); do insmod $m; done
check "virtio disk probed without altdma" wait_for /dev/vda
# Under amd-iommu (AMD-Vi, /sys/class/iommu/ivhd*) every attach keeps its
# IOVA space below 2^48: QEMU 7.2's amd-iommu caches a translation under
# the IOVA's page number ORed with the device ID shifted left by 36, so two
# devices' IOVAs at or above 2^48 share entries and one device's DMA lands
# in another's pages (fixed upstream in November 2025, QEMU commit
# "amd_iommu: Support 64-bit address for IOTLB lookup"). altdma gives out
# IOVAs from the top of the domain's aperture, 64 bits under AMD-Vi.
XOPTS=
ls -d /sys/class/iommu/ivhd* > /dev/null 2>&1 && XOPTS=' iova_pages=0xfffffffff'
if [ -n "$builtin" ]; then
	check "attach $BLK and $NIC0 at runtime with inval=deferred$XOPTS" sh -c \
		"echo '$BLK inval=deferred$XOPTS' > $A/attach && echo '$NIC0 inval=deferred$XOPTS' > $A/attach"
elif [ -n "$XOPTS" ]; then
	check "insmod altdma.ko, attach $BLK and $NIC0 with inval=deferred$XOPTS" sh -c \
		"insmod /altdma.ko && echo '$BLK inval=deferred$XOPTS' > $A/attach && echo '$NIC0 inval=deferred$XOPTS' > $A/attach"
else
	check "insmod altdma.ko devices=$BLK,$NIC0 inval=deferred" \
		insmod /altdma.ko devices=$BLK,$NIC0 inval=deferred
fi
check "two devices attached" [ "$(wc -l < $A/devices)" -eq 2 ]
# NIC1 carries the I/O checks under the DMA ownership sanitizer (issue 16)
NIC1_OPTS="bounce=sanitize inval=strict policy=wrap$XOPTS"
check "attach $NIC1 at runtime with $NIC1_OPTS" \
	sh -c "echo '$NIC1 $NIC1_OPTS' > $A/attach"
check "three devices attached" [ "$(wc -l < $A/devices)" -eq 3 ]
check "$NIC1 options in force" \
	grep -q '^options: bounce=sanitize inval=strict policy=wrap' $A/$NIC1/stats
check "disk driver bound again after attach" wait_for /dev/vda
wait_until "both NICs bound again" 1200 nics_bound
nic0=$(netif_of $NIC0) nic1=$(netif_of $NIC1)
check "both NICs bound again after attach ($nic0, $nic1)" [ -n "$nic0" -a -n "$nic1" ]

# misuse: each refused, nothing changed
check "attach of an attached device is refused" \
	sh -c "! echo $BLK > $A/attach"
check "attach of a missing device is refused" \
	sh -c "! echo 0000:00:1f.6 > $A/attach"
# q35's ICH9 functions 00:1f.0/2/3 share one IOMMU group under
# intel-iommu and amd-iommu; under virtio-iommu they are behind no IOMMU at all
why="its group has other devices"
[ -e /sys/bus/pci/devices/0000:00:1f.2/iommu_group ] || why="it is behind no IOMMU"
# arm64 virt has no such function
[ -e /sys/bus/pci/devices/0000:00:1f.2 ] || why="there is no such device"
check "attach of 0000:00:1f.2 is refused ($why)" \
	sh -c "! echo 0000:00:1f.2 > $A/attach"
check "bad option is refused" sh -c "! echo $BLK bounce=maybe > $A/attach"
check "still three devices attached" [ "$(wc -l < $A/devices)" -eq 3 ]

# hot-unplug (issue 15): remove the attached forced-bounce NIC through
# sysfs (the PCI core's removal path, as on an unplug: driver released,
# then the device deleted) while it sends (100 pings a second to a static
# neighbour, each bounced) with its receive ring mapped. altdma detaches
# it inside the removal, before the IOMMU core releases it from its group
# (6.12 warns if the group is not on its default domain then). Rescan and
# attach again: the network checks below run through the re-added NIC.
n1=$(netif_of $NIC1)
ip link set $n1 up && ip addr add 10.9.7.2/24 dev $n1 &&
	arp -i $n1 -s 10.9.7.9 52:54:00:a1:d0:99
ping -q -i 0.01 -s 1400 10.9.7.9 > /dev/null 2>&1 & pinger=$!
nic1_sent() { [ "$(stat_of $NIC1 maps)" -gt 200 ]; }
wait_until "$NIC1 to map 200 times" 1200 nic1_sent
dmesg > /tmp/dmesg-before
check "hot-unplug: $NIC1 removed while sending" \
	sh -c "echo 1 > /sys/bus/pci/devices/$NIC1/remove"
kill $pinger 2>/dev/null
check "hot-unplug: $NIC1 detached on its removal" \
	sh -c "dmesg | grep -q '$NIC1: altdma: detached on removal' && ! grep -q $NIC1 $A/devices"
dmesg | tail -n +$(($(wc -l < /tmp/dmesg-before) + 1)) > /tmp/dmesg-unplug
check "hot-unplug: no WARNING, oops or fault in the kernel log" \
	sh -c "! grep -E 'WARNING:|BUG:|Oops|Call Trace|Call trace|KASAN|DMAR: .*fault|Event logged \[|arm-smmu-v3.*event' /tmp/dmesg-unplug"
grep -E 'WARNING:|BUG:|Oops|Call Trace|Call trace|KASAN|DMAR: .*fault|Event logged \[|arm-smmu-v3.*event' /tmp/dmesg-unplug | head -n 5
echo 1 > /sys/bus/pci/rescan
check "hot-unplug: $NIC1 re-added by a rescan" \
	wait_for /sys/bus/pci/devices/$NIC1/iommu_group
check "hot-unplug: $NIC1 attached again" \
	sh -c "echo '$NIC1 $NIC1_OPTS' > $A/attach"
wait_until "both NICs bound again" 1200 nics_bound
nic1=$(netif_of $NIC1)
check "hot-unplug: three devices attached, $NIC1 bound again ($nic1)" \
	[ "$(wc -l < $A/devices)" -eq 3 -a -n "$nic1" ]

# bind/unbind storm (issue 15): sysfs unbind and bind, driver_override
# and debugfs attach/detach of the NIC from three processes at once, a
# fixed number of rounds each (bound by work, not time). Refusals are
# expected; what must hold after: one consistent layer (attached with its
# domain and ops, or not at all), the driver bound, and the network checks
# below pass through it, with no fault or DMA refusal in the log.
PD=/sys/bus/pci/drivers/virtio-pci
storm_bind() { i=0; while [ $i -lt 30 ]; do
	echo $NIC1 > $PD/unbind; echo $NIC1 > $PD/bind; i=$((i + 1)); done 2>/dev/null; }
storm_override() { i=0; while [ $i -lt 30 ]; do
	echo virtio-pci > /sys/bus/pci/devices/$NIC1/driver_override
	echo > /sys/bus/pci/devices/$NIC1/driver_override; i=$((i + 1)); done 2>/dev/null; }
storm_attach() { i=0; while [ $i -lt 15 ]; do
	echo "$NIC1 $NIC1_OPTS" > $A/attach
	echo $NIC1 > $A/detach; i=$((i + 1)); done 2>/dev/null; }
dmesg > /tmp/dmesg-before
storm_bind & sb=$!
storm_override & so=$!
storm_attach & sa=$!
wait $sb $so $sa
dmesg | tail -n +$(($(wc -l < /tmp/dmesg-before) + 1)) > /tmp/dmesg-storm
say "figure: storm: $(grep -c "$NIC1: altdma: attached" /tmp/dmesg-storm) attaches, $(grep -c "$NIC1: altdma: detached," /tmp/dmesg-storm) detaches, $(grep -c "$NIC1: altdma: .*refused" /tmp/dmesg-storm) attach/detach refused"
grep -q $NIC1 $A/devices ||
	echo "$NIC1 $NIC1_OPTS" > $A/attach
[ -e /sys/bus/pci/devices/$NIC1/driver ] || echo $NIC1 > $PD/bind
wait_until "both NICs bound again" 1200 nics_bound
nic1=$(netif_of $NIC1)
check "storm: 30 binds/unbinds, 30 driver_override flips, 15 attach/detach at once; $NIC1 attached and bound ($nic1)" \
	[ "$(wc -l < $A/devices)" -eq 3 -a -n "$nic1" ]
check "storm: $NIC1 options in force" \
	grep -q '^options: bounce=sanitize inval=strict policy=wrap' $A/$NIC1/stats

# issue 16: the disk's raw and filesystem I/O below runs under the DMA
# ownership sanitizer (virtio-blk's requests bounced and watched): the
# disk is detached and attached again with bounce=sanitize (a 16 MiB pool
# for the requests in flight), and after it with its first options
BLK_OPTS='bounce=sanitize bounce_pages=4096'
check "detach $BLK, attach it again with $BLK_OPTS" \
	sh -c "echo $BLK > $A/detach && echo '$BLK $BLK_OPTS' > $A/attach"
check "$BLK options in force" \
	grep -q '^options: bounce=sanitize .* bounce_pages=4096$' $A/$BLK/stats
check "disk driver bound again after its attach with the sanitizer" \
	wait_for /dev/vda

# raw disk
dd if=/dev/urandom of=/tmp/pattern bs=1M count=$RAW_MB 2>/dev/null
sum=$(sha256sum < /tmp/pattern)
check "raw: write $RAW_MB MiB pattern" dd if=/tmp/pattern of=/dev/vda bs=1M conv=fsync 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
blockdev --flushbufs /dev/vda
check "raw: read back, checksums match" \
	[ "$(dd if=/dev/vda bs=1M count=$RAW_MB 2>/dev/null | sha256sum)" = "$sum" ]

# the virtio-blk driver under the sanitizer, after the raw I/O; then the
# disk as it was (deferred, no pool) for the rest. Not the filesystem:
# ext2 may change a metadata buffer while it is under writeback (it asks
# for no stable pages), which the sanitizer rightly reports as the CPU
# writing to a buffer the device owns, when the timing makes it happen
check "$BLK sanitizer: $(stat_of $BLK sanitize_checks) hand-offs checked, $(stat_of $BLK sanitize) findings" \
	[ "$(stat_of $BLK sanitize)" = 0 -a "$(stat_of $BLK sanitize_checks)" -gt 0 ]
check "detach $BLK, attach it again with inval=deferred" \
	sh -c "echo $BLK > $A/detach && echo '$BLK inval=deferred$XOPTS' > $A/attach"
check "disk driver bound again" wait_for /dev/vda

# filesystem
mkdir -p /tmp/tree/a/b /tmp/tree/c
i=0
while [ $i -lt $FILES ]; do
	d=/tmp/tree; [ $((i % 3)) -eq 1 ] && d=/tmp/tree/a/b
	[ $((i % 3)) -eq 2 ] && d=/tmp/tree/c
	dd if=/dev/urandom of=$d/f$i bs=1K count=$((i * 37 % KB_MOD + 1)) 2>/dev/null
	i=$((i + 1))
done
(cd /tmp/tree && find . -type f | sort | xargs sha256sum) > /tmp/sums
check "fs: mke2fs" mke2fs -q /dev/vda
check "fs: mount" mount -t ext2 /dev/vda /mnt
check "fs: copy a tree of $FILES files ($(du -sk /tmp/tree | cut -f1) KiB)" cp -a /tmp/tree /mnt/tree
sync
check "fs: umount" umount /mnt
echo 3 > /proc/sys/vm/drop_caches
check "fs: mount again" mount -t ext2 /dev/vda /mnt
check "fs: every checksum matches" sh -c "cd /mnt/tree && sha256sum -c -s /tmp/sums"
umount /mnt
echo 3 > /proc/sys/vm/drop_caches
disksum=$(sha256sum < /dev/vda)

# network: one NIC per network namespace, the wire is a QEMU hub
# (the sleeps hold the namespaces until they are killed below)
unshare -n sleep 1000000 & nsa=$!
unshare -n sleep 1000000 & nsb=$!
# a loaded host may not have run unshare yet: wait for both new namespaces
wait_until "both network namespaces" 1200 both_ns
ip link set $nic0 netns $nsa && ip link set $nic1 netns $nsb
ina() { nsenter -t $nsa -n "$@"; }
inb() { nsenter -t $nsb -n "$@"; }
ina ip addr add 10.9.0.1/24 dev $nic0; ina ip link set $nic0 up
inb ip addr add 10.9.0.2/24 dev $nic1; inb ip link set $nic1 up
ina ip link set lo up; inb ip link set lo up
# the link comes up when it comes up: the first answered ping, 120 s at most
wait_until "the first ping answered" 60 ina ping -c 1 -W 2 10.9.0.2 > /dev/null
check "net: ping between namespaces" ina ping -c 3 -W 2 10.9.0.2
dd if=/dev/urandom of=/tmp/p1 bs=1M count=$NET_MB 2>/dev/null
dd if=/dev/urandom of=/tmp/p2 bs=1M count=$NET_MB 2>/dev/null
xfer "net: B->A" /tmp/p1 /tmp/r1 $nsa $nsb 10.9.0.1 5001
check "net: $NET_MB MiB B->A payload matches ($(size_of /tmp/r1) bytes)" \
	[ "$(sha256sum < /tmp/r1)" = "$(sha256sum < /tmp/p1)" ]
xfer "net: A->B" /tmp/p2 /tmp/r2 $nsb $nsa 10.9.0.2 5002
check "net: $NET_MB MiB A->B payload matches ($(size_of /tmp/r2) bytes)" \
	[ "$(sha256sum < /tmp/r2)" = "$(sha256sum < /tmp/p2)" ]

# stats
for d in $BLK $NIC0 $NIC1; do
	cat $A/$d/stats
	m=$(stat_of $d maps)
	check "$d: maps=$m unmaps=$(stat_of $d unmaps) live=$(stat_of $d live) refused=$(stat_of $d refused)" \
		[ "${m:-0}" -gt 0 ]
done
check "$BLK (deferred): flush_alls=$(stat_of $BLK flush_alls)" \
	[ "$(stat_of $BLK flush_alls)" -gt 0 ]
check "$NIC1 (sanitize, strict): bytes_bounced=$(stat_of $NIC1 bytes_bounced) iotlb_syncs=$(stat_of $NIC1 iotlb_syncs)" \
	[ "$(stat_of $NIC1 bytes_bounced)" -gt 0 -a "$(stat_of $NIC1 iotlb_syncs)" -gt 0 ]
# issue 16: the virtio-net driver under the sanitizer, after the transfers
check "$NIC1 sanitizer: $(stat_of $NIC1 sanitize_checks) hand-offs checked, $(stat_of $NIC1 sanitize) findings" \
	[ "$(stat_of $NIC1 sanitize)" = 0 -a "$(stat_of $NIC1 sanitize_checks)" -gt 0 ]

# debugfs: the live mappings with their callers, the IOVA space, the pool
for d in $BLK $NIC0 $NIC1; do
	cp $A/$d/mappings /tmp/map-$d
	head -n 3 /tmp/map-$d
	cat $A/$d/iova
done
cat $A/$NIC1/bounce
n=$(grep -c ' caller=' /tmp/map-$NIC0)
check "$NIC0 mappings: $n listed, the count line agrees" \
	[ "$n" -gt 0 -a "$(sed -n 's/^live: \([0-9]*\) .*/\1/p' /tmp/map-$NIC0)" = "$n" ]
check "every mapping's caller is the virtio ring, above the DMA API" sh -c \
	"! cat /tmp/map-* | grep ' caller=' | grep -v -E ' caller=(vring|virtqueue)'"
iova_sum() { # iova_sum PCI-NAME: free + every kind of range = all pages
	awk '/^pages:/ { all = $2 } /^free_pages:/ { sum += $2 }
	     /^(allocated|cached|reserved):/ { sum += $4 }
	     END { exit !(all > 0 && sum == all) }' $A/$1/iova
}
iova_sums() { iova_sum $BLK && iova_sum $NIC0 && iova_sum $NIC1; }
check "iova: free and used pages add up on each device" iova_sums
check "iova: fragmentation reported" grep -q '^fragmentation: [0-9.]*%$' $A/$NIC0/iova
check "bounce: $NIC1 pool shows its maps and copies" sh -c \
	"grep -q '^maps: [1-9]' $A/$NIC1/bounce && grep -q '^bytes_to_device: [1-9]' $A/$NIC1/bounce && grep -q '^seg0_fragmentation: ' $A/$NIC1/bounce"
check "bounce: $BLK has no pool" grep -q '^pool: none' $A/$BLK/bounce
# issue 14 item 4: as dma-iommu, the host bridge's windows are reserved
check "iova: $BLK keeps the PCI host bridge's windows out ($(grep -c ' pci-window$' $A/$BLK/iova) listed)" \
	grep -q '^reserve: 0x[0-9a-f]*-0x[0-9a-f]* pci-window$' $A/$BLK/iova

# issue 14 item 9, stock kernels: 4 MiB map/unmap pairs on the deferred
# NIC, each freeing a page-table page (VT-d) through altdma's flush queue,
# leave the kernel's count of IOMMU page-table pages (6.11+) where it was.
# A first pass places the tables of the space the rounds use.
ptpages() { awk '/^nr_iommu_pages /{ print $2 }' /proc/vmstat; }
pttables() {
	insmod /altdma_stress.ko mode=pttables devs=$NIC0 rounds=128 &&
		rmmod altdma_stress
}
if [ -e /altdma_stress.ko ]; then
	check "pttables: 128 map/unmap pairs of 4 MiB on the deferred $NIC0" pttables
	pt0=$(ptpages)
	check "pttables: 128 more pairs" pttables
	pt1=$(ptpages)
	# AMD-Vi's unmap (iommu_v1_unmap_pages) clears PTEs and frees no
	# table; its tables go with the domain: the count grows with the IOVA
	# space the rounds touch
	if [ -n "$pt0" ] && [ -n "$XOPTS" ]; then
		say "note: pttables: nr_iommu_pages $pt0 -> $pt1, not checked: AMD-Vi frees a domain's page-table pages only with the domain"
	elif [ -n "$pt0" ]; then
		# the flush queue's timer frees the last rounds' tables: wait
		# for the count to come back (it never does if frees are not
		# uncounted), rather than for a time
		pt_settled() { [ $(($(ptpages) - pt0)) -lt 16 ]; }
		wait_until "nr_iommu_pages back within 16 of $pt0 (it was at $(ptpages) when the wait began)" 1200 pt_settled
		pt1=$(ptpages)
		check "pttables: nr_iommu_pages $pt0 -> $pt1 (less than 16 more)" \
			[ $((pt1 - pt0)) -lt 16 ]
	fi
fi

# trace events, through tracefs: read the disk (deferred: map, unmap, a
# flush of all) and ping over the forced-bounce NIC (strict: bounce and an
# IOTLB sync per unmap)
T=/sys/kernel/tracing
mount -t tracefs tracefs $T 2>/dev/null
echo 0 > $T/tracing_on; echo > $T/trace
# no comm recording: enabling it patches the scheduler's own tracepoints
# (sched_switch, sched_wakeup) on every CPU while they run, and under TCG
# a vCPU then took the patch's int3 after the patch was done (an "Oops:
# int3" in ttwu_do_activate on 6.12); the events below need no comm
echo 0 > $T/options/record-cmd
echo 1 > $T/events/altdma/enable && echo 1 > $T/tracing_on
echo 3 > /proc/sys/vm/drop_caches
dd if=/dev/vda of=/dev/null bs=64k count=32 2>/dev/null
ina ping -c 2 -W 2 10.9.0.2 >/dev/null
# every event the checks below look for, 60 s at most
traced() {
	for e in "altdma_map: " "altdma_unmap: " "altdma_bounce: " \
		 "altdma_flush: $BLK flush_all" "altdma_flush: $NIC1 iotlb_sync"; do
		grep -q " $e" $T/trace || return 1
	done
}
wait_until "every trace event" 600 traced
echo 0 > $T/tracing_on; echo 0 > $T/events/altdma/enable
cp $T/trace /tmp/trace
for e in map unmap bounce flush; do
	grep -m 2 " altdma_$e: " /tmp/trace
done
for e in map unmap bounce; do
	check "trace: altdma_$e fired ($(grep -c " altdma_$e: " /tmp/trace) events)" \
		grep -q " altdma_$e: " /tmp/trace
done
check "trace: altdma_flush fired for the deferred disk (flush_all)" \
	grep -q " altdma_flush: $BLK flush_all" /tmp/trace
check "trace: altdma_flush fired for the strict NIC (iotlb_sync)" \
	grep -q " altdma_flush: $NIC1 iotlb_sync" /tmp/trace
check "trace: altdma_map names the caller above the DMA API" sh -c \
	"grep ' altdma_map: ' /tmp/trace | grep -q -E 'caller=(vring|virtqueue)'"

kill $nsa $nsb
wait 2>/dev/null
# the NICs go back to the first network namespace when theirs are gone
wait_until "both NICs back in the first network namespace" 1200 \
	sh -c "ip link show $nic0 && ip link show $nic1" > /dev/null

# late CMD: a command to testmod/altdma_lateunmap.ko; each line it prints
# ("CMD: CHECK: ok" or "FAILED (...)") is a check
late() {
	_n=$(dmesg | wc -l)
	echo "$1" > /sys/module/altdma_lateunmap/parameters/cmd
	dmesg | tail -n +$((_n + 1)) | grep -o 'altdma_lateunmap: .*' |
		sed 's/^altdma_lateunmap: //' | grep -E ': (ok|FAILED .*)$' > /tmp/late
	[ -s /tmp/late ] || check "late layers: \"$1\" printed its checks" false
	while read -r line; do
		case "$line" in
		*": ok") check "late layers: $line" true ;;
		*) check "late layers: $line" false ;;
		esac
	done < /tmp/late
}
# issue 15, defect 5: mappings that outlive a change of layer, as
# page_pool's pages in flight outlive their driver, on NIC1 (no driver,
# on dma-iommu): set A, made on dma-iommu and unmapped after the attach,
# goes back to dma-iommu (19 calls: 8 page syncs and unmaps, the list's
# sync and unmap, a free); set B, made on altdma, is not given an address
# of A, and a detach waits for it until it is unmapped through altdma
late_layers() {
	insmod /altdma_lateunmap.ko dev=$NIC1
	late "map A"
	echo "$NIC1 inval=strict$XOPTS" > $A/attach
	# where dma-iommu's allocator held space at the attach, read from it:
	# only there does a newly placed range need a page-table walk
	check "late layers: dma-iommu's IOVA ranges read at the attach ($(stat_of $NIC1 prev_spans) spans)" \
		[ "$(stat_of $NIC1 prev_spans)" -gt 0 ]
	late "map B"
	r0=$(stat_of $NIC1 refused)
	late "unmap A"
	check "late layers: set A went back to dma-iommu ($(stat_of $NIC1 prev_calls) calls), nothing refused" \
		[ "$(stat_of $NIC1 prev_calls)" -eq 19 -a "$(stat_of $NIC1 refused)" = "$r0" ]
	say "figure: late layers: $(stat_of $NIC1 prev_avoided) ranges kept out of altdma's IOVA space for dma-iommu's mappings"
	check "late layers: set B live on altdma ($(stat_of $NIC1 live) mappings)" \
		[ "$(stat_of $NIC1 live)" -eq 10 ]
	echo 600000 > /sys/module/altdma/parameters/drain_ms
	rm -f /tmp/late_rc
	(echo $NIC1 > $A/detach; echo $? > /tmp/late_rc) &
	wait_until "the detach to wait for set B" 1200 \
		sh -c "dmesg | grep -q '$NIC1: altdma: detach waits for 10 mappings'"
	late "unmap B"
	wait_until "the detach to end" 1200 [ -s /tmp/late_rc ]
	check "late layers: the detach ended once set B was unmapped through altdma" \
		[ "$(cat /tmp/late_rc 2>/dev/null)" = 0 ]
	echo 5000 > /sys/module/altdma/parameters/drain_ms
	rmmod altdma_lateunmap
}

# issue 14: the DMA API contract on NIC1 without its driver, on altdma
# (bounce=force inval=strict policy=wrap) and on the kernel's own layer;
# then NIC1 attached as before with its driver back (the contract module
# on the stock kernels only; the late-unmap one, issue 15, on every kernel)
nic1_bound() { [ -n "$(netif_of $NIC1)" ]; }
if [ -e /altdma_contract.ko -o -e /altdma_lateunmap.ko ]; then
	echo none > /sys/bus/pci/devices/$NIC1/driver_override
	echo $NIC1 > /sys/bus/pci/devices/$NIC1/driver/unbind
	# issue 16: each DMA ownership mistake on NIC1 (bounce=sanitize),
	# one load of the misuse module each (san_misuse in guest.sh)
	if [ -e /altdma_san_misuse.ko ]; then
		for m in cpu_write_to_dev cpu_write_bidi cpu_read_early \
			dev_outside dev_to_dev; do
			san_misuse $m
		done
	fi
	[ -e /altdma_contract.ko ] && contract altdma
	echo $NIC1 > $A/detach
	[ -e /altdma_contract.ko ] && contract dma-iommu
	[ -e /altdma_lateunmap.ko ] && late_layers
	echo "$NIC1 bounce=force inval=strict policy=wrap$XOPTS" > $A/attach
	echo > /sys/bus/pci/devices/$NIC1/driver_override
	echo $NIC1 > /sys/bus/pci/drivers_probe
	check "$NIC1 attached again, its driver back" \
		wait_until "$NIC1 bound to its driver" 1200 nic1_bound
fi

# detach, unload, then the original ops still work
for d in $BLK $NIC0 $NIC1; do
	check "detach $d" sh -c "echo $d > $A/detach"
done
check "detach of a detached device is refused" sh -c "! echo $BLK > $A/detach"
if [ -z "$builtin" ]; then
	check "rmmod altdma" rmmod altdma
else
	check "no device attached" [ "$(wc -l < $A/devices)" -eq 0 ]
fi
check "disk back on its own ops" wait_for /dev/vda
check "disk written through altdma reads the same through the kernel's ops" \
	[ "$(sha256sum < /dev/vda)" = "$disksum" ]
check "both NICs back on their own ops" \
	wait_until "both NICs bound to their driver again" 1200 nics_bound
# the attach/detach refusals above are deliberate; a DMA refusal is not,
# but for the contract module's one wrapping buffer (called from it); a
# sanitizer report is not, but for the misuse module's, each matched
# line by line (san_misuse in guest.sh)
export BAD='WARNING:|BUG:|Oops|Call Trace|Call trace|KASAN|turning off the locking|still live|altdma: refused|altdma: sanitize|DMAR: .*fault|Event logged \[|Completion-Wait loop timed out|arm-smmu-v3.*event|failed with error'
dmesg | grep -v 'altdma_contract_init+' | grep -v -x -F -f /tmp/san-expected > /tmp/dmesg
check "dmesg: no warning, oops, refusal or leak" \
	sh -c "! grep -E \"\$BAD\" /tmp/dmesg"
grep -E "$BAD" /tmp/dmesg
if [ -e $KML ]; then
	echo scan > $KML
	echo scan > $KML
	cat $KML > /tmp/leaks
	n=$(grep -c '^unreferenced object' /tmp/leaks)
	check "kmemleak: $n leaks" [ "$n" -eq 0 ]
	head -n 60 /tmp/leaks
fi
say done
sync
poweroff -f
