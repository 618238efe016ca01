/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma per-device contexts (altdma_dev.c): what altdma holds for one
 * device, its registry, counters and reports.
 */
#ifndef _ALTDMA_DEV_H
#define _ALTDMA_DEV_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/device.h>
#include <linux/dma-direction.h>
#include <linux/hash.h>
#include <linux/percpu.h>
#include <linux/percpu-refcount.h>
#include <linux/rcupdate.h>
#include <linux/sizes.h>
#include <linux/timer.h>
#include <linux/types.h>

#include "altdma_fq.h"
#include "altdma_map.h"
#include "altdma_pt.h"
#include "iova_alloc.h"
#include "prev_layer.h"
#include "sanitize.h"
#include "swiotlb_bounce.h"

/**
 * enum altdma_bounce_mode - which buffers go through the bounce pool
 * @ALTDMA_BOUNCE_AUTO: only for an untrusted device, and then only buffers
 *	whose start or size is not granule-aligned
 * @ALTDMA_BOUNCE_FORCE: the same rule for any device
 * @ALTDMA_BOUNCE_OFF: never (not allowed for an untrusted device)
 * @ALTDMA_BOUNCE_SANITIZE: every page and sg mapping, aligned or not, with
 *	the DMA ownership sanitizer (sanitize.c) watching each hand-off
 */
enum altdma_bounce_mode {
	ALTDMA_BOUNCE_AUTO,
	ALTDMA_BOUNCE_FORCE,
	ALTDMA_BOUNCE_OFF,
	ALTDMA_BOUNCE_SANITIZE,
};

/**
 * enum altdma_inval_mode - when the IOTLB is invalidated after an unmap
 * @ALTDMA_INVAL_STRICT: synced before the unmap returns, before the IOVA
 *	goes back to the allocator
 * @ALTDMA_INVAL_DEFERRED: the IOVA waits in a per-CPU flush queue; a
 *	flush of the whole IOTLB (queue full, or a timer) comes first, then
 *	the IOVA is freed. Untrusted devices and bounced mappings are always
 *	strict.
 */
enum altdma_inval_mode {
	ALTDMA_INVAL_STRICT,
	ALTDMA_INVAL_DEFERRED,
};

/**
 * struct altdma_dev_config - how to set up a device's context
 * @dev: the device
 * @pt: page-table backend
 * @pt_priv: passed to every @pt op
 * @granule: IOVA page size (the backend's smallest page size)
 * @iova_start: lowest usable IOVA (0 means the first granule)
 * @iova_end: highest usable IOVA (inclusive)
 * @bounce: &enum altdma_bounce_mode
 * @untrusted: treat the device as untrusted even if it is not a PCI
 *	device marked so (bounce in AUTO mode, always strict)
 * @inval: &enum altdma_inval_mode wanted (untrusted devices are strict)
 * @bounce_size: bounce pool bytes (0: the module parameter)
 * @policy: IOVA placement policy (NULL: &altdma_iova_policy_tree)
 * @prev: the layer the device was on before the attach, whose leftover
 *	mappings get their unmaps back (prev_layer.h); NULL if none. Owned
 *	by the caller, which frees it after altdma_dev_destroy().
 */
struct altdma_dev_config {
	struct device *dev;
	const struct altdma_pt_ops *pt;
	void *pt_priv;
	unsigned long granule;
	dma_addr_t iova_start;
	dma_addr_t iova_end;
	enum altdma_bounce_mode bounce;
	bool untrusted;
	enum altdma_inval_mode inval;
	size_t bounce_size;
	const struct altdma_iova_policy *policy;
	struct altdma_prev_layer *prev;
};

/**
 * struct altdma_dev_stats - a snapshot of a device context's counters
 * @maps: successful maps of every kind (an sg list counts once)
 * @unmaps: accepted unmaps and frees
 * @live: mappings live now
 * @failed: maps that failed (no IOVA, no bounce slot, backend error)
 * @bytes_bounced: bytes of mappings that went through the bounce pool
 * @refused: refused calls by &enum altdma_refusal
 * @refused_total: sum of @refused
 * @quarantined: IOVA ranges quarantined after a short unmap (of a mapping,
 *	or while undoing a failed map)
 * @quarantined_live: mappings (counted in @maps) whose unmap or free the
 *	backend did short: no longer live, never counted in @unmaps, so
 *	@maps - @unmaps - @quarantined_live is @live
 * @prev_calls: unmaps, frees and syncs of mappings the previous layer made
 *	before the attach, sent back to it (not counted in @unmaps)
 * @iotlb_syncs: strict invalidations
 * @flush_alls: whole-IOTLB flushes of the deferred queues
 * @deferred: unmapped IOVA ranges that went through a flush queue
 * @san_checks: hand-offs to the CPU the sanitizer checked (bounce=sanitize)
 * @san_found: the sanitizer's findings by &enum altdma_san_kind
 * @san_found_total: sum of @san_found
 */
struct altdma_dev_stats {
	u64 maps;
	u64 unmaps;
	u64 live;
	u64 failed;
	u64 bytes_bounced;
	u64 refused[ALTDMA_REFUSE_KINDS];
	u64 refused_total;
	u64 quarantined;
	u64 quarantined_live;
	u64 prev_calls;
	u64 iotlb_syncs;
	u64 flush_alls;
	u64 deferred;
	u64 san_checks;
	u64 san_found[ALTDMA_SAN_KINDS];
	u64 san_found_total;
};

/**
 * struct altdma_dev_pcpu - one CPU's share of a context's hot counters
 * @maps: see &altdma_dev_stats
 * @unmaps: see &altdma_dev_stats
 * @bytes_bounced: see &altdma_dev_stats
 * @iotlb_syncs: see &altdma_dev_stats
 * @deferred: see &altdma_dev_stats
 *
 * Context: updated with this_cpu ops from any context; summed by
 * altdma_dev_get_stats() without a lock (a snapshot taken while mappings
 * change may be off by the calls in flight).
 */
struct altdma_dev_pcpu {
	u64 maps;
	u64 unmaps;
	u64 bytes_bounced;
	u64 iotlb_syncs;
	u64 deferred;
};

/*
 * Largest mapping whose IOVA (and mapping object) the per-CPU caches keep:
 * 2 MiB, where dma-iommu stops at 128 KiB.
 */
#define ALTDMA_DEV_CACHE_LIMIT	SZ_2M

/* Released mappings remembered by &altdma_dev.recent (a power of two). */
#define ALTDMA_RECENT		64

/**
 * struct altdma_dev - altdma's state for one device
 * @dev: the device
 * @op_dev: @dev while the context is registered, NULL before and after:
 *	what a DMA op compares when it finds the context in its CPU's
 *	lookup cache (altdma_dev_lookup())
 * @reg_node: in the registry's hash table (RCU)
 * @pt: page-table backend
 * @pt_priv: its private data
 * @pool: its bounce pool, or NULL when it never bounces
 * @san: its sanitizer (bounce=sanitize), else NULL
 * @granule: IOVA page size
 * @shift: log2(@granule)
 * @bounce_mask: a buffer whose start or size has a bit of it set bounces
 *	(when there is a pool): @granule - 1, or every bit under sanitize
 * @bounce: &enum altdma_bounce_mode in force
 * @untrusted: the device is untrusted
 * @inval: &enum altdma_inval_mode in force
 * @coherent: the device snoops CPU caches
 * @pcpu: per-CPU maps, unmaps, bytes_bounced, iotlb_syncs, deferred
 * @iovad: the device's IOVA space; its range objects are the mappings
 *	(&struct altdma_map), found through its index
 * @fq: per-CPU flush queues (deferred mode only, else NULL)
 * @fq_timer: flushes the queues %ALTDMA_FQ_TIMEOUT_MS after an entry
 * @fq_started: flushes started
 * @fq_finished: flushes finished
 * @failed: see &altdma_dev_stats
 * @refused: see &altdma_dev_stats
 * @quarantined: see &altdma_dev_stats
 * @quarantined_live: quarantines of published mappings (no longer live)
 * @flush_alls: see &altdma_dev_stats
 * @reported: kinds of refusal (bit per &enum altdma_refusal) and
 *	quarantine (bit %ALTDMA_REFUSE_KINDS) already reported
 * @users: held by every DMA op while it uses the context (taken under RCU
 *	from the registry with altdma_dev_get()); killed by
 *	altdma_dev_unregister(), which then waits for @users_gone
 * @users_gone: completed when the last user of a killed @users is gone
 * @prev: see &altdma_dev_config.prev
 * @prev_calls: see &altdma_dev_stats
 * @rcu: frees the context after a grace period: an op may still hold the
 *	pointer it read from a lookup cache just before the cache was cleared
 * @recent: DMA addresses of the last mappings whose objects went straight
 *	back to the IOVA tree (sizes the caches do not keep, or a policy
 *	that does not cache) or were quarantined, by IOVA page: a bounded
 *	history that tells a second unmap of one of them apart from an
 *	unknown address
 *
 * The fields up to @fq are read on every call and written only at set-up;
 * what calls write (counters, flush numbers, the IOVA domain's locks) is
 * per CPU or on cache lines of its own.
 */
struct altdma_dev {
	struct device *dev;
	struct device *op_dev;
	struct hlist_node reg_node;
	const struct altdma_pt_ops *pt;
	void *pt_priv;
	struct altdma_bounce_pool *pool;
	struct altdma_san *san;
	unsigned long granule;
	unsigned int shift;
	unsigned long bounce_mask;
	enum altdma_bounce_mode bounce;
	bool untrusted;
	enum altdma_inval_mode inval;
	bool coherent;
	struct altdma_dev_pcpu __percpu *pcpu;
	struct altdma_fq __percpu *fq;

	struct altdma_iova_domain iovad;

	struct timer_list fq_timer;
	atomic64_t fq_started ____cacheline_aligned_in_smp;
	atomic64_t fq_finished;

	atomic64_t failed ____cacheline_aligned_in_smp;
	atomic64_t refused[ALTDMA_REFUSE_KINDS];
	atomic64_t quarantined;
	atomic64_t quarantined_live;
	atomic64_t flush_alls;
	unsigned long reported;
	struct percpu_ref users;
	struct completion users_gone;
	struct altdma_prev_layer *prev;
	atomic64_t prev_calls;
	struct rcu_head rcu;
	dma_addr_t recent[ALTDMA_RECENT] ____cacheline_aligned_in_smp;
};

/* altdma_dev.c: contexts, the device registry, counters and reports */
struct altdma_dev *altdma_dev_create(const struct altdma_dev_config *cfg);
void altdma_dev_destroy(struct altdma_dev *adev);
int altdma_dev_register(struct altdma_dev *adev);
void altdma_dev_unregister(struct altdma_dev *adev);
struct altdma_dev *altdma_dev_find(struct device *dev);
struct altdma_dev *altdma_dev_lookup_slow(struct device *dev);
struct altdma_dev *altdma_dev_get(struct device *dev);
void altdma_dev_put(struct altdma_dev *adev);
void altdma_dev_get_stats(struct altdma_dev *adev,
			  struct altdma_dev_stats *st);
unsigned long altdma_dev_count_live(struct altdma_dev *adev);
unsigned long altdma_caller_of(unsigned long ret);
extern bool altdma_track_callers;
unsigned long altdma_map_site(unsigned long ret);
void altdma_dev_refuse(struct altdma_dev *adev, enum altdma_refusal kind,
		       const char *what, dma_addr_t addr, size_t size,
		       enum dma_data_direction dir, unsigned long caller);

/* Entries of each CPU's lookup cache (log2). */
#define ALTDMA_DEV_LAST_BITS	2

/**
 * struct altdma_dev_last - a CPU's cache of the contexts its ops found
 * @adev: by hash_ptr() of the device; an entry may be stale (its context
 *	unregistered, &altdma_dev.op_dev NULL), never freed: an unregistered
 *	context is cleared from every CPU's cache before its free is queued
 *	after a grace period
 */
struct altdma_dev_last {
	struct altdma_dev *adev[1 << ALTDMA_DEV_LAST_BITS];
};

DECLARE_PER_CPU(struct altdma_dev_last, altdma_dev_last);

/**
 * altdma_dev_lookup() - the context of a device, for a DMA op
 * @dev: the device (NULL gives NULL)
 *
 * In the common case one per-CPU load and one compare: the context this
 * CPU's ops last found for @dev. Otherwise the registry's hash table,
 * whose answer this CPU then keeps. The op uses the context until it
 * leaves its section: altdma_dev_unregister() hides the context, waits
 * for a grace period, and clears it from every CPU's cache; its memory is
 * freed after one more.
 *
 * Context: any context, under altdma_op_lock() or rcu_read_lock().
 * Return: the registered context, or NULL.
 */
static __always_inline struct altdma_dev *altdma_dev_lookup(struct device *dev)
{
	u32 i = hash_ptr(dev, ALTDMA_DEV_LAST_BITS);
	struct altdma_dev *adev = this_cpu_read(altdma_dev_last.adev[i]);

	if (likely(adev && dev && READ_ONCE(adev->op_dev) == dev))
		return adev;
	return altdma_dev_lookup_slow(dev);
}

#endif /* _ALTDMA_DEV_H */
