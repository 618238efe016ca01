#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# What every altdma test VM's /init starts with, copied into the initramfs
# as /guest.sh and sourced first: busybox's applets, proc, sys, dev and
# debugfs, the result port and the helpers to report on it.
#   R                 the result port (/dev/ttyS1): the host counts its
#                     "ok: " and "FAIL: " lines and waits for "done"
#   A                 altdma's debugfs directory
#   say LINE          one line on the result port, echoed on the console
#                     (prefix $TAG, default "vm")
#   check NAME CMD... "ok: NAME" if CMD succeeds, else "FAIL: NAME"
#   wait_for PATH [TENTHS]  until PATH exists (default 20 s)
#   netif_of PCI-NAME the network interface of a virtio-net PCI device
#   stat_of PCI-NAME KEY    a number from altdma's stats of the device
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /tmp /mnt
R=/dev/ttyS1
A=/sys/kernel/debug/altdma

say() { echo "$*" > $R; echo "[${TAG:-vm}] $*"; }
check() { # check NAME CMD...
	n=$1; shift
	if "$@"; then say "ok: $n"; else say "FAIL: $n"; fi
}
wait_for() { # wait_for PATH [TENTHS]
	i=0
	while [ ! -e "$1" ] && [ $i -lt "${2:-200}" ]; do usleep 100000; i=$((i + 1)); done
	[ -e "$1" ]
}
netif_of() { # netif_of PCI-NAME
	ls /sys/bus/pci/devices/$1/virtio*/net 2>/dev/null | head -n 1
}
stat_of() { # stat_of PCI-NAME KEY
	sed -n "s/^$2: \([0-9]*\).*/\1/p" $A/$1/stats
}
