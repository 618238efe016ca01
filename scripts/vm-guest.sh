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
#                     (prefix $TAG, default "vm", and the uptime)
#   check NAME CMD... "ok: NAME" if CMD succeeds, else "FAIL: NAME"
#   wait_until WHAT TENTHS CMD...  until CMD succeeds, polled every 0.1 s;
#                     after TENTHS polls, say what timed out ("info: ")
#   wait_for PATH [TENTHS]  until PATH exists (default 120 s)
#   alive PID         the process PID runs (a zombie does not)
#   size_of FILE      FILE's size in bytes (0 when it does not exist)
#   progress_wait WHAT FILE STALL PID...  until every PID has exited, for
#                     as long as FILE keeps growing: STALL seconds without a
#                     byte more kill them and fail, saying how far FILE got
#   listening NSPID PORT  a TCP socket listens on PORT in NSPID's netns
#   xfer WHAT IN OUT RNS SNS ADDR PORT  IN sent over TCP from the netns of
#                     SNS to a listener in the netns of RNS (ADDR:PORT) that
#                     writes OUT; see below
#   netif_of PCI-NAME the network interface of a virtio-net PCI device
#   stat_of PCI-NAME KEY    a number from altdma's stats of the device
#   nics_bound        both NICs ($NIC0, $NIC1) have their network interface
#   both_ns           the processes $nsa and $nsb are in network namespaces
#                     of their own (made with unshare -n)
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /tmp /mnt
R=/dev/ttyS1
A=/sys/kernel/debug/altdma

# (the console copy carries the guest's uptime, to see where time goes)
say() { echo "$*" > $R; echo "[${TAG:-vm} $(cut -d' ' -f1 /proc/uptime)] $*"; }
check() { # check NAME CMD...
	n=$1; shift
	if "$@"; then say "ok: $n"; else say "FAIL: $n"; fi
}
wait_until() { # wait_until WHAT TENTHS CMD...
	_w=$1 _n=$2 _i=0 _t0=$(cut -d. -f1 /proc/uptime)
	shift 2
	until "$@"; do
		_i=$((_i + 1))
		if [ $_i -ge "$_n" ]; then
			say "info: timed out after $(($(cut -d. -f1 /proc/uptime) - _t0)) s ($_n polls) waiting for $_w"
			return 1
		fi
		usleep 100000
	done
}
wait_for() { # wait_for PATH [TENTHS]
	wait_until "$1 to appear" "${2:-1200}" [ -e "$1" ]
}
alive() { # alive PID
	[ -e /proc/$1/stat ] && ! grep -q ') Z ' /proc/$1/stat
}
size_of() { # size_of FILE
	if [ -e "$1" ]; then wc -c < "$1"; else echo 0; fi
}
progress_wait() { # progress_wait WHAT FILE STALL PID...
	_w=$1 _f=$2 _stall=$3 _last=-1 _idle=0
	shift 3
	while :; do
		_up=
		for _p in "$@"; do alive $_p && _up=1; done
		[ -z "$_up" ] && return 0
		_now=$(size_of $_f)
		if [ "$_now" != "$_last" ]; then _last=$_now _idle=0; else _idle=$((_idle + 1)); fi
		if [ $_idle -ge $((_stall * 10)) ]; then
			say "info: $_w: stalled for $_stall s at $_now bytes"
			kill "$@" 2>/dev/null
			return 1
		fi
		usleep 100000
	done
}
listening() { # listening NSPID PORT
	nsenter -t $1 -n cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p=":$(printf '%04X' $2)" '$2 ~ p "$" && $4 == "0A" { f = 1 } END { exit !f }'
}
# xfer WHAT IN OUT RNS SNS ADDR PORT: the listener (in RNS's netns) writes
# exactly the size of IN to OUT, then closes; the sender (in SNS's netns)
# connects to ADDR:PORT and sends IN. An attempt ends when the listener has
# all the bytes, or fails after 60 s in which OUT did not grow; a failed
# attempt is said on the result port with the bytes received, and both
# ends are started again, three attempts in all. Succeeds when OUT holds
# as many bytes as IN (the caller compares the contents).
xfer() {
	_what=$1 _in=$2 _out=$3 _rns=$4 _sns=$5 _addr=$6 _port=$7 _try=1
	_size=$(size_of $_in)
	while [ $_try -le 3 ]; do
		rm -f $_out
		nsenter -t $_rns -n nc -l -p $_port -e sh -c "head -c $_size > $_out" &
		_lp=$!
		if wait_until "$_what: listener on port $_port" 600 listening $_rns $_port; then
			nsenter -t $_sns -n nc $_addr $_port < $_in > /dev/null &
			_cp=$!
			progress_wait "$_what" $_out 60 $_lp
			kill $_cp 2>/dev/null
			[ "$(size_of $_out)" -eq $_size ] && return 0
		fi
		say "info: $_what: attempt $_try got $(size_of $_out) of $_size bytes"
		kill $_lp 2>/dev/null
		_try=$((_try + 1))
	done
	return 1
}
netif_of() { # netif_of PCI-NAME
	ls /sys/bus/pci/devices/$1/virtio*/net 2>/dev/null | head -n 1
}
nics_bound() { [ -n "$(netif_of $NIC0)" -a -n "$(netif_of $NIC1)" ]; }
own_ns() { [ "$(readlink /proc/$1/ns/net)" != "$(readlink /proc/self/ns/net)" ]; }
both_ns() { own_ns $nsa && own_ns $nsb; }
stat_of() { # stat_of PCI-NAME KEY
	sed -n "s/^$2: \([0-9]*\).*/\1/p" $A/$1/stats
}

# contract LAYER: testmod/altdma_contract.ko (issue 14) on $NIC1, which has
# no driver: one check per line the module prints ("LAYER: CHECK: ok" or
# "FAILED (...)"); a check not run on that layer (dma-iommu is known to
# fail it) is a note, not a pass
contract() {
	insmod /altdma_contract.ko dev=$NIC1
	dmesg | sed -n "s/.*altdma_contract: \($1: .*\)/\1/p" > /tmp/contract
	rmmod altdma_contract 2>/dev/null
	grep -q "^$1: [0-9]* passed" /tmp/contract ||
		check "$1: the contract module ran to its summary" false
	while read -r line; do
		case "$line" in
		*": ok") check "contract: $line" true ;;
		*": FAILED "*) check "contract: $line" false ;;
		*": not run: "*) say "note: contract: $line" ;;
		esac
	done < /tmp/contract
}

# san_misuse NAME: testmod/altdma_san_misuse.ko (issue 16) makes the DMA
# ownership mistake NAME on $NIC1 (no driver, attached with
# bounce=sanitize): one check per line of the module's own on what the
# data did ("NAME: CHECK: ok" or "FAILED (...)"); then, for the report
# the module says is due ("NAME: expect: kind=K dma=D size=S dir=R
# bytes=F..L changed=N fn=F op=O"), one check that exactly one new
# "altdma: sanitize" line is in the kernel log and it names $NIC1, D, S,
# R, F..L, N, the module's function as the mapping's caller and O as the
# call that found it, and one that the kind's counter in stats went up by
# one, the other kinds' not at all, and debugfs's last finding of the
# kind is this one. With nothing due (a read is no finding), no line and
# no count. Each line matched goes to /tmp/san-expected, which the final
# scan of the kernel log leaves out (and nothing else).
san_kind_text() {
	case "$1" in
	cpu_write) echo "CPU wrote to a buffer the device owned" ;;
	dev_outside) echo "device wrote outside its mapping" ;;
	dev_to_device) echo "device wrote into a to-device mapping" ;;
	esac
}
san_line() { grep '^sanitize: ' $A/$NIC1/stats; }
san_count() { san_line | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
san_field() { echo " $_exp" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
san_misuse() {
	_m=$1
	_before=$(san_line)
	_n0="$(stat_of $NIC1 sanitize) $(san_count cpu_write) $(san_count dev_outside) $(san_count dev_to_device)"
	dmesg > /tmp/dmesg-before
	insmod /altdma_san_misuse.ko dev=$NIC1 mistake=$_m
	# (debugfs resolves the last finding's symbols when read)
	cp $A/$NIC1/sanitize /tmp/san-debugfs
	rmmod altdma_san_misuse 2>/dev/null
	dmesg | tail -n +$(($(wc -l < /tmp/dmesg-before) + 1)) > /tmp/san-$_m
	sed -n "s/.*altdma_san_misuse: \($_m: .*\)/\1/p" /tmp/san-$_m > /tmp/san-mod
	[ "$(grep -c "^$_m: [0-9]* passed" /tmp/san-mod)" -eq 1 ] ||
		check "sanitize misuse: $_m: the module ran once to its summary" false
	while read -r line; do
		case "$line" in
		*": ok") check "sanitize misuse: $line" true ;;
		*": FAILED "*) check "sanitize misuse: $line" false ;;
		esac
	done < /tmp/san-mod
	grep ' altdma: sanitize: ' /tmp/san-$_m > /tmp/san-lines
	_exp=$(sed -n "s/^$_m: expect: //p" /tmp/san-mod | head -n 1)
	if [ -z "$_exp" ]; then
		check "sanitize misuse: $_m: no report, nothing counted ($(san_line))" \
			[ ! -s /tmp/san-lines -a "$(san_line)" = "$_before" ]
		return
	fi
	_k=$(san_field kind) _fn=$(san_field fn) _op=$(san_field op)
	_what="dma $(san_field dma) size $(san_field size) dir $(san_field dir): bytes $(san_field bytes) of the data changed ($(san_field changed) bytes)"
	_p1="$NIC1: altdma: sanitize: $(san_kind_text $_k): $_what; mapped by $_fn+"
	# the module's function is the caller (6.1's DMA API tail-calls the
	# op), or the caller's caller; gcc may have split off its .cold part
	_p2="; found by $_op, caller ([^ ]* \(from )?$_fn(\.cold)?\+"
	if [ "$(wc -l < /tmp/san-lines)" -eq 1 ] && grep -F -- "$_p1" /tmp/san-lines |
		grep -q -E -- "$_p2"; then
		cat /tmp/san-lines >> /tmp/san-expected
		check "sanitize misuse: $_m: one report: $_k, $_what, mapped by $_fn, found by $_op" true
	else
		check "sanitize misuse: $_m: one report: $_k, $_what, mapped by $_fn, found by $_op ($(wc -l < /tmp/san-lines) lines)" false
		cat /tmp/san-lines
	fi
	# the total and the three kinds: +1 for the kind, +0 for the others
	_want=""
	set -- $_n0
	_want="$(($1 + 1))"
	for _x in cpu_write dev_outside dev_to_device; do
		shift
		[ $_x = $_k ] && _want="$_want $(($1 + 1))" || _want="$_want $1"
	done
	_n1="$(stat_of $NIC1 sanitize) $(san_count cpu_write) $(san_count dev_outside) $(san_count dev_to_device)"
	_last="last: dma=$(san_field dma) size=$(san_field size) dir=$(san_field dir) bytes=$(san_field bytes) changed=$(san_field changed) mapped_by=$_fn+"
	check "sanitize misuse: $_m: counted once as $_k ($(san_line)), debugfs's last $_k is it" \
		sh -c "[ '$_n1' = '$_want' ] && grep '^$_k: ' /tmp/san-debugfs | grep -F -- '$_last' | grep -q -E -- ' found_by=$_op caller=([^ ]* from=)?$_fn(\.cold)?\+'"
}
