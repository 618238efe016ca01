/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma DMA mapping layer: per-device contexts, the page-table backend
 * interface, mapping records and the struct dma_map_ops built on the IOVA
 * allocator (iova_alloc.h) and the bounce pool (swiotlb_bounce.h).
 */
#ifndef _ALTDMA_DMA_IOMMU_OPS_H
#define _ALTDMA_DMA_IOMMU_OPS_H

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/dma-direction.h>
#include <linux/completion.h>
#include <linux/iommu.h>
#include <linux/percpu-refcount.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "iova_alloc.h"
#include "swiotlb_bounce.h"

/*
 * Mapping records are spread over this many xarrays by IOVA page, so that
 * maps on different CPUs (which get different IOVAs from their own caches)
 * rarely take the same lock.
 */
#define ALTDMA_REC_SHARDS	8

/* Entries in one CPU's deferred-invalidation queue. */
#define ALTDMA_FQ_SIZE		256
/* Longest an unmapped IOVA waits for its flush in deferred mode, in ms. */
#define ALTDMA_FQ_TIMEOUT_MS	10

/**
 * struct altdma_pt_ops - a page-table backend
 * @name: shown in reports
 * @map: map [@iova, @iova + @size) to @phys with IOMMU_* @prot; @size and
 *	both addresses are multiples of the device's granule. Returns 0 or a
 *	negative errno; on failure nothing of the range stays mapped.
 * @unmap: unmap [@iova, @iova + @size), adding the range to @gather; the
 *	IOTLB is not synced. Returns the bytes unmapped: fewer than @size
 *	means the page tables are in an unknown state for the rest.
 * @iova_to_phys: what @iova translates to, or 0 if nothing is mapped there
 * @iotlb_sync: invalidate what @gather collected (strict mode)
 * @flush_all: invalidate the whole IOTLB of the domain (deferred mode)
 * @coherent: optional; false if the device does not snoop CPU caches
 *	(absent: coherent)
 * @cache_sync: optional; called with every range the CPU caches must be
 *	cleaned (@for_device) or invalidated for, in addition to the
 *	architecture's helper (a test backend records them)
 *
 * Context: every op except the optional ones may be called in any context
 * where dma_map_*() is legal (atomic included) and must not sleep.
 */
struct altdma_pt_ops {
	const char *name;
	int (*map)(void *priv, unsigned long iova, phys_addr_t phys,
		   size_t size, int prot, gfp_t gfp);
	size_t (*unmap)(void *priv, unsigned long iova, size_t size,
			struct iommu_iotlb_gather *gather);
	phys_addr_t (*iova_to_phys)(void *priv, unsigned long iova);
	void (*iotlb_sync)(void *priv, struct iommu_iotlb_gather *gather);
	void (*flush_all)(void *priv);
	bool (*coherent)(void *priv);
	void (*cache_sync)(void *priv, phys_addr_t phys, size_t size,
			   enum dma_data_direction dir, bool for_device);
};

/**
 * enum altdma_bounce_mode - which buffers go through the bounce pool
 * @ALTDMA_BOUNCE_AUTO: only for an untrusted device, and then only buffers
 *	whose start or size is not granule-aligned
 * @ALTDMA_BOUNCE_FORCE: the same rule for any device
 * @ALTDMA_BOUNCE_OFF: never (not allowed for an untrusted device)
 */
enum altdma_bounce_mode {
	ALTDMA_BOUNCE_AUTO,
	ALTDMA_BOUNCE_FORCE,
	ALTDMA_BOUNCE_OFF,
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
 * enum altdma_refusal - why a call of a driver was refused
 * @ALTDMA_REFUSE_UNKNOWN: no mapping of this device starts at that address
 * @ALTDMA_REFUSE_DOUBLE: the mapping there was already unmapped
 * @ALTDMA_REFUSE_SIZE: the size (or number of entries) is not the mapped one
 * @ALTDMA_REFUSE_DIR: the direction is not the mapped one
 * @ALTDMA_REFUSE_TYPE: the mapping was made by another kind of call (e.g.
 *	dma_unmap_page() of a dma_map_sg() mapping, or a free of a streaming
 *	mapping)
 * @ALTDMA_REFUSE_KINDS: number of kinds
 */
enum altdma_refusal {
	ALTDMA_REFUSE_UNKNOWN,
	ALTDMA_REFUSE_DOUBLE,
	ALTDMA_REFUSE_SIZE,
	ALTDMA_REFUSE_DIR,
	ALTDMA_REFUSE_TYPE,
	ALTDMA_REFUSE_KINDS,
};

/**
 * enum altdma_map_type - the call that made a mapping
 * @ALTDMA_MAP_PAGE: dma_map_page()/dma_map_single()
 * @ALTDMA_MAP_SG: dma_map_sg()
 * @ALTDMA_MAP_RESOURCE: dma_map_resource()
 * @ALTDMA_MAP_COHERENT: dma_alloc_coherent()/dma_alloc_attrs()
 * @ALTDMA_MAP_PAGES: dma_alloc_pages()
 */
enum altdma_map_type {
	ALTDMA_MAP_PAGE,
	ALTDMA_MAP_SG,
	ALTDMA_MAP_RESOURCE,
	ALTDMA_MAP_COHERENT,
	ALTDMA_MAP_PAGES,
};

/**
 * enum altdma_rec_state - life of a mapping record
 * @ALTDMA_REC_MAPPED: live
 * @ALTDMA_REC_UNMAPPING: an unmap won the record (cmpxchg from MAPPED)
 * @ALTDMA_REC_RELEASED: unmapped; kept as a tombstone so that a second
 *	unmap is told apart from an unknown address
 * @ALTDMA_REC_QUARANTINED: the backend unmapped short; the IOVA is never
 *	reused
 */
enum altdma_rec_state {
	ALTDMA_REC_MAPPED,
	ALTDMA_REC_UNMAPPING,
	ALTDMA_REC_RELEASED,
	ALTDMA_REC_QUARANTINED,
};

/**
 * struct altdma_rec_seg - one caller segment of a mapping
 * @orig: physical address of the caller's buffer
 * @bounce: bounce address of the data, or 0 when not bounced
 * @span_phys: first byte of what is mapped for it (granule-aligned: the
 *	buffer's granules, or the bounce slot's span)
 * @dma: device address of the data
 * @len: length of the data in bytes
 * @span_off: offset of the span from &altdma_rec.iova
 * @span_len: bytes of the span, a multiple of the granule
 * @merged: the segment continues the previous one's DMA segment
 */
struct altdma_rec_seg {
	phys_addr_t orig;
	phys_addr_t bounce;
	phys_addr_t span_phys;
	dma_addr_t dma;
	size_t len;
	size_t span_off;
	size_t span_len;
	bool merged;
};

/**
 * struct altdma_rec - one mapping, indexed by its first IOVA page
 * @rcu: frees the record after readers are done
 * @iova: first byte of the IOVA range (granule-aligned)
 * @npages: IOVA pages asked of the allocator (given back to the free)
 * @dma: the address the driver got (for sg: the first segment's)
 * @size: the size the driver gave (for sg: the number of entries)
 * @dir: direction given to the map
 * @attrs: attributes given to the map
 * @type: &enum altdma_map_type
 * @state: &enum altdma_rec_state; MAPPED -> UNMAPPING is a cmpxchg, so of
 *	two racing unmaps one wins
 * @caller: return address of the mapping call (inside the DMA API)
 * @site: the driver's call site (the first return address outside the
 *	DMA API); 0 when not captured (see altdma_map_site())
 * @cpu_addr: kernel address of a coherent allocation or of the pages of
 *	dma_alloc_pages(); a free must give the same
 * @nsegs: entries in @segs
 * @segs: the caller's segments, as mapped
 *
 * Written before it is published in &altdma_dev.recs; afterwards only
 * @state changes.
 */
struct altdma_rec {
	struct rcu_head rcu;
	dma_addr_t iova;
	unsigned long npages;
	dma_addr_t dma;
	size_t size;
	u32 dir;
	unsigned long attrs;
	u32 type;
	int state;
	unsigned long caller;
	unsigned long site;
	void *cpu_addr;
	unsigned int nsegs;
	struct altdma_rec_seg segs[];
};

/**
 * struct altdma_fq_entry - an unmapped IOVA range waiting for its flush
 * @pfn: first IOVA page
 * @npages: pages given to the allocator
 * @gen: flushes started when it was queued; it may be freed once more
 *	flushes than that have finished
 * @freelist: page-table pages the backend freed with the range (from the
 *	gather); given back to the page allocator after the flush
 */
struct altdma_fq_entry {
	unsigned long pfn;
	unsigned long npages;
	u64 gen;
	struct list_head freelist;
};

/**
 * struct altdma_fq - one CPU's deferred-invalidation queue
 * @lock: protects the ring; taken with interrupts off, may be taken by
 *	another CPU (the timer, teardown). Nothing is taken inside it but
 *	the IOVA domain's locks.
 * @head: next entry to free
 * @count: entries queued
 * @ring: the entries
 */
struct altdma_fq {
	/* guards @head, @count, @ring */
	spinlock_t lock;
	unsigned int head;
	unsigned int count;
	struct altdma_fq_entry ring[ALTDMA_FQ_SIZE];
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
 * @iotlb_syncs: strict invalidations
 * @flush_alls: whole-IOTLB flushes of the deferred queues
 * @deferred: unmapped IOVA ranges that went through a flush queue
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
	u64 iotlb_syncs;
	u64 flush_alls;
	u64 deferred;
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

/**
 * struct altdma_dev - altdma's state for one device
 * @dev: the device
 * @reg_node: in the registry's hash table (RCU)
 * @pt: page-table backend
 * @pt_priv: its private data
 * @iovad: the device's IOVA space
 * @pool: its bounce pool, or NULL when it never bounces
 * @granule: IOVA page size
 * @shift: log2(@granule)
 * @bounce: &enum altdma_bounce_mode in force
 * @untrusted: the device is untrusted
 * @inval: &enum altdma_inval_mode in force
 * @coherent: the device snoops CPU caches
 * @recs: mapping records by the IOVA page of the address the driver got,
 *	in %ALTDMA_REC_SHARDS xarrays (see altdma_recs_of()); read under RCU,
 *	stored and erased with each xarray's own lock (interrupts off)
 * @fq: per-CPU flush queues (deferred mode only, else NULL)
 * @fq_timer: flushes the queues %ALTDMA_FQ_TIMEOUT_MS after an entry
 * @fq_started: flushes started
 * @fq_finished: flushes finished
 * @pcpu: per-CPU maps, unmaps, bytes_bounced, iotlb_syncs, deferred
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
 */
struct altdma_dev {
	struct device *dev;
	struct hlist_node reg_node;
	const struct altdma_pt_ops *pt;
	void *pt_priv;
	struct altdma_iova_domain iovad;
	struct altdma_bounce_pool *pool;
	unsigned long granule;
	unsigned int shift;
	enum altdma_bounce_mode bounce;
	bool untrusted;
	enum altdma_inval_mode inval;
	bool coherent;
	struct xarray recs[ALTDMA_REC_SHARDS];

	struct altdma_fq __percpu *fq;
	struct timer_list fq_timer;
	atomic64_t fq_started;
	atomic64_t fq_finished;

	struct altdma_dev_pcpu __percpu *pcpu;
	atomic64_t failed;
	atomic64_t refused[ALTDMA_REFUSE_KINDS];
	atomic64_t quarantined;
	atomic64_t quarantined_live;
	atomic64_t flush_alls;
	unsigned long reported;
	struct percpu_ref users;
	struct completion users_gone;
};

extern const struct dma_map_ops altdma_dma_ops;

/* altdma_dev.c: contexts, the device registry, records and reports */
struct altdma_dev *altdma_dev_create(const struct altdma_dev_config *cfg);
void altdma_dev_destroy(struct altdma_dev *adev);
int altdma_dev_register(struct altdma_dev *adev);
void altdma_dev_unregister(struct altdma_dev *adev);
struct altdma_dev *altdma_dev_find(struct device *dev);
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

/* flush_queue.c: deferred invalidation */
int altdma_fq_init(struct altdma_dev *adev);
void altdma_fq_destroy(struct altdma_dev *adev);
void altdma_fq_queue(struct altdma_dev *adev, unsigned long pfn,
		     unsigned long npages, struct iommu_iotlb_gather *gather);
void altdma_fq_flush(struct altdma_dev *adev);

/* pt_backend_iommu.c: the backend over an unmanaged IOMMU domain */
extern const struct altdma_pt_ops altdma_pt_iommu_ops;

/**
 * altdma_recs_of() - the record xarray and index of a DMA address
 * @adev: the context
 * @dma: the address a map returned
 * @index: set to the index of @dma's record in the returned xarray
 *
 * Context: any context.
 * Return: the shard of &altdma_dev.recs that holds @dma's record.
 */
static inline struct xarray *altdma_recs_of(struct altdma_dev *adev,
					    dma_addr_t dma,
					    unsigned long *index)
{
	unsigned long page = dma >> adev->shift;

	*index = page / ALTDMA_REC_SHARDS;
	return &adev->recs[page % ALTDMA_REC_SHARDS];
}

#endif /* _ALTDMA_DMA_IOMMU_OPS_H */
