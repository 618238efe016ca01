#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Run every altdma KUnit suite through tools/testing/kunit/kunit.py, in QEMU
# with TCG, under these vIOMMU profiles:
#   intel       x86_64, q35 + intel-iommu (interrupt remapping on)
#   virtio      x86_64, q35 + virtio-iommu-pci
#   amd         x86_64, q35 + amd-iommu (AMD-Vi; interrupt remapping on)
#   smmuv3      arm64 (4 KiB pages), virt + SMMUv3 (iommu=smmuv3)
#   smmuv3-64k  arm64 with 64 KiB pages, virt + SMMUv3
# Each carries a virtio-blk disk and a virtio-net NIC with
# iommu_platform=on,disable-legacy=on, so they sit behind the vIOMMU; the
# x86 profiles also QEMU's edu device (a DMA engine the
# altdma_viommu_inval suite drives itself; its DMA mask is the kernel's
# default for a PCI device, 32 bits; with no driver it is behind no
# virtio-iommu, and the suite skips there, as on arm64 where there is no
# edu device).
#
#   scripts/kunit.sh [--suite GLOB] [PROFILE...]   (default: intel virtio)
#       --suite   only the suites that match GLOB (kunit.py's filter_glob,
#                 e.g. altdma_iova*); the others are not expected to run
#
# The test kernel of each profile (x86_64, arm64 or arm64-64k, see
# kunit_kernel in lib.sh) is built (or brought up to date) by
# scripts/test-kernel.sh, once; each profile then boots it with "kunit.py
# exec" from a run directory of its own ($ALTDMA_BUILD/kunit-PROFILE, which
# holds only the kernel image and kunit.py's test.log), so that profiles can
# run side by side and none of them repeats kunit.py's config and make
# steps.
# Keeps kunit.py's JSON and the kernel log in $ALTDMA_BUILD/results. The last
# line is "kunit: N passed, N failed"; the exit status is non-zero on any
# failed case, crash, timeout, kernel splat or suite that did not run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

glob=
if [ "${1:-}" = --suite ]; then
	glob=$2
	shift 2
fi

# the test kernel of a profile (kunit_kernel in lib.sh)
profile_kernel() {
	case "$1" in
	intel|virtio|amd) echo x86_64 ;;
	smmuv3) echo arm64 ;;
	smmuv3-64k) echo arm64-64k ;;
	*) die "unknown profile $1 (intel, virtio, amd, smmuv3, smmuv3-64k)" ;;
	esac
}

# QEMU's machine and IOMMU. arm64: kunit.py's own arm64 arguments come
# first (-machine virt -cpu cortex-a57); these add the SMMUv3 to the same
# machine. cortex-a57 rather than "max": TCG emulates max's pointer
# authentication (QARMA) on every call and return, which makes the whole
# run several times slower.
profile_args() {
	case "$1" in
	intel) echo "-accel tcg -M q35,kernel-irqchip=split -device intel-iommu,intremap=on" ;;
	virtio) echo "-accel tcg -M q35 -device virtio-iommu-pci" ;;
	amd) echo "-accel tcg -M q35,kernel-irqchip=split -device amd-iommu,intremap=on" ;;
	smmuv3|smmuv3-64k) echo "-accel tcg -M virt,iommu=smmuv3 -cpu cortex-a57" ;;
	*) die "unknown profile $1 (intel, virtio, amd, smmuv3, smmuv3-64k)" ;;
	esac
}

# Kernel arguments per profile. Linux 6.1's own lockdep report (virtio-net
# probe: cpu_hotplug_lock -> msi md->mutex -> irq_domain_mutex ->
# dmar_global_lock -> iova_cookie->mutex -> cpu_hotplug_lock) fires at boot
# when interrupt remapping is on, and lockdep then switches itself off before
# any suite runs. The intel profile keeps DMA remapping and leaves interrupt
# remapping off so that lockdep still watches altdma. init_on_alloc=0 on
# every profile: the kernel must not zero new pages for altdma, or a
# missing zeroing (issue 14, item 1) would never show.
profile_kargs() {
	case "$1" in
	intel) echo "intremap=off init_on_alloc=0" ;;
	*) echo "init_on_alloc=0" ;;
	esac
}

devices="-smp 2 -drive if=none,id=d0,file=DISK,format=raw
 -device virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on
 -netdev hubport,id=n0,hubid=0
 -device virtio-net-pci,netdev=n0,iommu_platform=on,disable-legacy=on"
# the x86 profiles' DMA engine (altdma_viommu_inval)
edu="-device edu,dma_mask=0xffffffff"

# smmuv3-64k runs, unless --suite says otherwise, the allocator, bounce
# pool, attach and viommu suites: the DMA-layer suites (altdma_dma_*) are
# written for 4 KiB granules on a software page table, which a 64 KiB-page
# kernel refuses (a granule is at least a CPU page).
if [ -z "$glob" ] && [ "$*" = smmuv3-64k ]; then
	glob='altdma_[ibva]*'
fi

# The suites that must run: every suite name declared in kunit/*.c.
mapfile -t suites < <(sed -n 's/^[[:space:]]*\.name = "\(altdma_[a-z0-9_]*\)",.*/\1/p' \
	"$ALTDMA_REPO"/kunit/*.c | sort -u)
[ ${#suites[@]} -gt 0 ] || die "no KUnit suites found in kunit/*.c"
expect=()
for s in "${suites[@]}"; do
	# shellcheck disable=SC2254 # the suite part of the user's glob
	[ -z "$glob" ] || case "$s" in ${glob%%.*}) ;; *) continue ;; esac
	expect+=(--expect "$s")
done
[ -z "$glob" ] || [ ${#expect[@]} -gt 0 ] || die "no suite matches $glob"

mkdir -p "$ALTDMA_RESULTS"
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(intel virtio)
total_pass=0 total_fail=0 rc=0
# every test kernel the profiles need, built once, before any runs
declare -A kernel_ok=()
for p in "${profiles[@]}"; do
	k=$(profile_kernel "$p") || exit 1
	[ -n "${kernel_ok[$k]:-}" ] && continue
	start=$(date +%s)
	if "$ALTDMA_REPO/scripts/test-kernel.sh" "$k"; then
		kernel_ok[$k]=1
	else
		kernel_ok[$k]=0
	fi
	log "the $k test kernel: $(( $(date +%s) - start )) s"
done
for p in "${profiles[@]}"; do
	kunit_kernel "$(profile_kernel "$p")"
	if [ "${kernel_ok[$(profile_kernel "$p")]}" != 1 ]; then
		echo "$p: FAIL the $(profile_kernel "$p") test kernel did not build"
		total_fail=$((total_fail + 1)) rc=1
		continue
	fi
	cfgs=()
	for c in "${KK_CONFIGS[@]}"; do cfgs+=(--kunitconfig="$c"); done
	qargs="$(profile_args "$p") ${devices/DISK/$ALTDMA_BUILD/kunit-disk-$p.img}"
	[ "$(profile_kernel "$p")" = x86_64 ] && qargs="$qargs $edu"
	[ -f "$ALTDMA_BUILD/kunit-disk-$p.img" ] || truncate -s 64M "$ALTDMA_BUILD/kunit-disk-$p.img"
	kargs=$(profile_kargs "$p")
	json=$ALTDMA_RESULTS/kunit-$p.json
	log=$ALTDMA_RESULTS/kunit-$p.log
	run=$ALTDMA_BUILD/kunit-$p
	rm -rf "$json" "$run"
	mkdir -p "$run/$(dirname "$KK_IMAGE")"
	cp "$KK_BUILD/$KK_IMAGE" "$run/$KK_IMAGE"
	log "kunit.py exec, profile $p${glob:+, suites $glob}"
	start=$(date +%s)
	# --timeout: kunit.py's only bound, on the whole boot; a hang guard
	# far above any run seen (intel about 4 min alone on 2 idle cores)
	(cd "$ALTDMA_SRC" && python3 tools/testing/kunit/kunit.py exec \
		--arch="$KK_ARCH" --build_dir="$run" "${cfgs[@]}" \
		--timeout=3600 \
		--qemu_args="$(echo $qargs)" --json="$json" \
		${kargs:+--kernel_args="$kargs"} ${glob:+"$glob"})
	kunit_rc=$?
	cp "$run/test.log" "$log" 2>/dev/null || : >"$log"
	log "profile $p: kunit.py exit $kunit_rc after $(( $(date +%s) - start )) s"
	summary=$(python3 "$ALTDMA_REPO/scripts/kunit_verdict.py" --profile "$p" \
		--json "$json" --log "$log" "${expect[@]}")
	verdict_rc=$?
	echo "$summary"
	last=$(echo "$summary" | tail -n 1)
	pass=$(echo "$last" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')
	fail=$(echo "$last" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	# kunit.py itself failing (build error, crash, timeout) with nothing
	# else counted is one more failure.
	if [ "$kunit_rc" -ne 0 ] && [ "$verdict_rc" -eq 0 ]; then
		fail=$((fail + 1))
		echo "$p: FAIL kunit.py exited $kunit_rc"
	fi
	[ "$kunit_rc" -ne 0 ] || [ "$verdict_rc" -ne 0 ] && rc=1
	total_pass=$((total_pass + ${pass:-0}))
	total_fail=$((total_fail + ${fail:-1}))
done
echo "kunit: $total_pass passed, $total_fail failed"
exit $rc
