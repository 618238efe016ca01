// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma dma_map_ops: every callback a driver can reach on Linux 6.1, over
 * a device's altdma context (dma_iommu_ops.h): its IOVA space, its bounce
 * pool and its page-table backend.
 *
 * Each map records what it did (struct altdma_rec, keyed by the first IOVA
 * page). Each unmap looks the record up first and refuses, reports once per
 * kind and counts an unknown address, a double unmap, a wrong size, a wrong
 * direction or a wrong kind of call, touching nothing. A backend that
 * unmaps short gets the IOVA quarantined: it never goes back to the
 * allocator (seed 000).
 *
 * Bounce rules (seed 003): a device that bounces sends a buffer whose start
 * or size is not granule-aligned through the pool; the IOVA maps exactly
 * the slot's span, and the device address keeps the buffer's offset within
 * min_align_mask. Cache maintenance is done on the memory the device uses
 * (the slot when bounced), on map too, and the copies of map and unmap are
 * the only ones: nothing syncs again.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/error-injection.h>
#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "altdma_compat.h"
#include "altdma_trace.h"
#include "dma_iommu_ops.h"

/*
 * Every allocation point of the map and alloc paths is a function of its
 * own, noinline __noipa (never inlined, cloned or specialised, so a kprobe
 * on its name sees every call) and listed with ALLOW_ERROR_INJECTION, so
 * tests can fail each one by name with fail_function. attach.c and
 * altdma_dev.c do the same for the attach path.
 */

/* ---- helpers ---- */

/*
 * The context of @dev, held until altdma_dev_put(): every op that gets one
 * puts it back before returning, so a detach or hot-unplug that
 * unregisters the context waits for the op instead of freeing it under it.
 */
static struct altdma_dev *adev_of(struct device *dev)
{
	struct altdma_dev *adev = altdma_dev_get(dev);

	if (!adev)
		pr_warn_once("%s: DMA call on a device with no altdma context; refused\n",
			     dev ? dev_name(dev) : "(no device)");
	return adev;
}

static int dir_prot(const struct altdma_dev *adev, enum dma_data_direction dir,
		    unsigned long attrs, bool mmio)
{
	int prot = 0;

	switch (dir) {
	case DMA_TO_DEVICE:
		prot = IOMMU_READ;
		break;
	case DMA_FROM_DEVICE:
		prot = IOMMU_WRITE;
		break;
	case DMA_BIDIRECTIONAL:
		prot = IOMMU_READ | IOMMU_WRITE;
		break;
	default:
		return 0;
	}
	if (attrs & DMA_ATTR_PRIVILEGED)
		prot |= IOMMU_PRIV;
	if (mmio)
		prot |= IOMMU_MMIO;
	else if (adev->coherent)
		prot |= IOMMU_CACHE;
	return prot;
}

static bool needs_bounce(const struct altdma_dev *adev, phys_addr_t phys,
			 size_t size)
{
	return adev->pool && ((phys | size) & (adev->granule - 1));
}

static void cache_for_device(struct altdma_dev *adev, phys_addr_t phys,
			     size_t size, enum dma_data_direction dir)
{
	if (adev->coherent)
		return;
	altdma_arch_sync_for_device(phys, size, dir);
	if (adev->pt->cache_sync)
		adev->pt->cache_sync(adev->pt_priv, phys, size, dir, true);
}

static void cache_for_cpu(struct altdma_dev *adev, phys_addr_t phys,
			  size_t size, enum dma_data_direction dir)
{
	if (adev->coherent)
		return;
	altdma_arch_sync_for_cpu(phys, size, dir);
	if (adev->pt->cache_sync)
		adev->pt->cache_sync(adev->pt_priv, phys, size, dir, false);
}

/*
 * Where a span may sit in IOVA, relative to a base aligned to @align (the
 * min_align_mask alignment): at an offset congruent to its physical address
 * modulo @align, so (dma & mask) == (phys & mask).
 */
static bool span_fits(const struct altdma_rec_seg *seg, size_t pos,
		      size_t align)
{
	return ((pos - seg->span_phys) & (align - 1)) == 0;
}

/* The first offset at or after @pos where @seg's span fits. */
static size_t span_place(const struct altdma_rec_seg *seg, size_t pos,
			 size_t align)
{
	return pos + ((seg->span_phys - pos) & (align - 1));
}

/* IOVA pages a mapping must be given so its base is aligned to the mask. */
static unsigned long mask_pages(const struct altdma_dev *adev)
{
	unsigned int mask = dma_get_min_align_mask(adev->dev);

	if (mask < adev->granule)
		return 1;
	return roundup_pow_of_two((unsigned long)mask + 1) >> adev->shift;
}

static unsigned long limit_pfn(const struct altdma_dev *adev, u64 mask)
{
	if (adev->dev->bus_dma_limit)
		mask = min(mask, adev->dev->bus_dma_limit);
	return mask >> adev->shift;
}

static noinline __noipa struct altdma_rec *rec_alloc(unsigned int nsegs,
						     gfp_t gfp)
{
	struct altdma_rec *rec;

	rec = kzalloc(struct_size(rec, segs, nsegs), gfp | __GFP_NOWARN);
	if (rec)
		rec->nsegs = nsegs;
	return rec;
}

ALLOW_ERROR_INJECTION(rec_alloc, NULL);

/* A bounce slot for @seg (an allocation point of its own). */
static noinline __noipa int seg_bounce(struct altdma_dev *adev,
				       struct altdma_rec_seg *seg,
				       enum dma_data_direction dir,
				       unsigned long attrs,
				       struct altdma_bounce_slot *slot)
{
	return altdma_bounce_map(adev->pool, seg->orig, seg->len,
				 dma_get_min_align_mask(adev->dev), dir, attrs,
				 slot);
}

ALLOW_ERROR_INJECTION(seg_bounce, ERRNO);

/* ---- one segment: bounce or not, and what is mapped for it ---- */

/* Decide the span of @seg (orig and len filled in); bounce it if needed. */
static int seg_prepare(struct altdma_dev *adev, struct altdma_rec_seg *seg,
		       enum dma_data_direction dir, unsigned long attrs,
		       bool may_bounce)
{
	struct altdma_bounce_slot slot;
	int ret;

	if (may_bounce && needs_bounce(adev, seg->orig, seg->len)) {
		ret = seg_bounce(adev, seg, dir, attrs, &slot);
		if (ret)
			return ret;
		seg->bounce = slot.data;
		seg->span_phys = slot.span_start;
		seg->span_len = slot.span_len;
		this_cpu_add(adev->pcpu->bytes_bounced, seg->len);
		trace_altdma_bounce(adev->dev, seg->orig, seg->bounce, seg->len,
				    dir, true);
		return 0;
	}
	seg->span_phys = seg->orig & ~((phys_addr_t)adev->granule - 1);
	seg->span_len = ALIGN(seg->orig + seg->len, adev->granule) -
			seg->span_phys;
	return 0;
}

/* The memory the device really uses for @seg. */
static phys_addr_t seg_data(const struct altdma_rec_seg *seg)
{
	return seg->bounce ?: seg->orig;
}

static size_t seg_data_off(const struct altdma_rec_seg *seg)
{
	return seg_data(seg) - seg->span_phys;
}

/* Give a bounce slot back without copying (error paths). */
static void seg_unbounce(struct altdma_dev *adev, struct altdma_rec_seg *seg,
			 enum dma_data_direction dir, unsigned long attrs)
{
	if (!seg->bounce)
		return;
	altdma_bounce_unmap(adev->pool, seg->bounce, seg->len, dir,
			    attrs | DMA_ATTR_SKIP_CPU_SYNC);
	seg->bounce = 0;
}

/* ---- page tables ---- */

/* Unmap the spans of the first @n segments; returns whether all went. */
static bool spans_unmap(struct altdma_dev *adev, struct altdma_rec *rec,
			unsigned int n, struct iommu_iotlb_gather *gather)
{
	const struct altdma_rec_seg *seg;
	bool whole = true;
	unsigned int i;
	size_t done;

	for (i = 0; i < n; i++) {
		seg = &rec->segs[i];
		done = adev->pt->unmap(adev->pt_priv, rec->iova + seg->span_off,
				       seg->span_len, gather);
		whole &= done == seg->span_len;
	}
	return whole;
}

static void iotlb_sync(struct altdma_dev *adev,
		       struct iommu_iotlb_gather *gather)
{
	struct altdma_dev_stats st;

	adev->pt->iotlb_sync(adev->pt_priv, gather);
	this_cpu_inc(adev->pcpu->iotlb_syncs);
	/* the device's total, summed over the CPUs only when traced */
	if (trace_altdma_flush_enabled()) {
		altdma_dev_get_stats(adev, &st);
		trace_altdma_flush(adev->dev, false, st.iotlb_syncs);
	}
}

/*
 * Quarantine @rec's IOVA: the backend left part of it mapped. @live: the
 * mapping was published (counted in maps), not a map being undone.
 */
static void rec_quarantine(struct altdma_dev *adev, struct altdma_rec *rec,
			   bool live, const char *what, unsigned long caller)
{
	altdma_iova_quarantine(&adev->iovad, rec->iova >> adev->shift,
			       rec->npages);
	atomic64_inc(&adev->quarantined);
	if (live)
		atomic64_inc(&adev->quarantined_live);
	/* pairs with the acquire in rec_claim(): the IOVA is quarantined */
	smp_store_release(&rec->state, ALTDMA_REC_QUARANTINED);
	trace_altdma_misuse(adev->dev, "short unmap, IOVA quarantined", what,
			    rec->dma, rec->npages << adev->shift, rec->dir,
			    caller);
	if (test_and_set_bit(ALTDMA_REFUSE_KINDS, &adev->reported))
		return;
	dev_warn(adev->dev, "altdma: %s: backend %s unmapped short at dma %pad (IOVA %pad, %lu pages); IOVA quarantined, never reused; caller %pS (from %pS)\n",
		 what, adev->pt->name, &rec->dma, &rec->iova, rec->npages,
		 (void *)caller, (void *)altdma_caller_of(caller));
}

/* One span into the page tables (they may need new table pages). */
static noinline __noipa int pt_map(struct altdma_dev *adev,
				   unsigned long iova, phys_addr_t phys,
				   size_t size, int prot, gfp_t gfp)
{
	return adev->pt->map(adev->pt_priv, iova, phys, size, prot, gfp);
}

ALLOW_ERROR_INJECTION(pt_map, ERRNO);

/* Map every span of @rec at its offset; undo all of it on failure. */
static int spans_map(struct altdma_dev *adev, struct altdma_rec *rec, int prot,
		     gfp_t gfp, unsigned long caller)
{
	struct iommu_iotlb_gather gather;
	struct altdma_rec_seg *seg;
	unsigned int i;
	int ret;

	for (i = 0; i < rec->nsegs; i++) {
		seg = &rec->segs[i];
		ret = pt_map(adev, rec->iova + seg->span_off, seg->span_phys,
			     seg->span_len, prot, gfp);
		if (ret)
			goto undo;
	}
	return 0;
undo:
	iommu_iotlb_gather_init(&gather);
	if (!spans_unmap(adev, rec, i, &gather)) {
		iotlb_sync(adev, &gather);
		rec_quarantine(adev, rec, false, "map error path", caller);
		return -EIO;
	}
	iotlb_sync(adev, &gather);
	altdma_iova_free(&adev->iovad, rec->iova >> adev->shift, rec->npages);
	return -EIO;
}

/* Allocate the IOVA for @bytes of spans, aligned for min_align_mask. */
static noinline __noipa int rec_iova_alloc(struct altdma_dev *adev,
					   struct altdma_rec *rec,
					   size_t bytes, u64 dma_mask)
{
	unsigned long pfn, npages;

	npages = max(bytes >> adev->shift, mask_pages(adev));
	if (mask_pages(adev) > ALTDMA_IOVA_ALIGN_MAX)
		return -EINVAL;
	pfn = altdma_iova_alloc(&adev->iovad, npages, limit_pfn(adev, dma_mask),
				GFP_ATOMIC);
	/*
	 * Ranges waiting in the flush queues are free space too: when the
	 * space looks full, flush them back and try once more, so freeing
	 * everything always brings a full recovery at once.
	 */
	if (!pfn && adev->fq) {
		altdma_fq_flush(adev);
		pfn = altdma_iova_alloc(&adev->iovad, npages,
					limit_pfn(adev, dma_mask), GFP_ATOMIC);
	}
	if (!pfn)
		return -ENOMEM;
	rec->iova = (dma_addr_t)pfn << adev->shift;
	rec->npages = npages;
	return 0;
}

ALLOW_ERROR_INJECTION(rec_iova_alloc, ERRNO);

/* Make @rec findable by unmap and sync. */
static noinline __noipa int rec_publish(struct altdma_dev *adev,
					struct altdma_rec *rec)
{
	struct altdma_rec *old;
	unsigned long flags, index;
	struct xarray *xa;

	rec->state = ALTDMA_REC_MAPPED;
	/* keyed by the address the driver gets back and will unmap */
	xa = altdma_recs_of(adev, rec->dma, &index);
	xa_lock_irqsave(xa, flags);
	old = __xa_store(xa, index, rec, GFP_ATOMIC);
	xa_unlock_irqrestore(xa, flags);
	if (xa_is_err(old))
		return xa_err(old);
	/* a tombstone of an earlier mapping at this IOVA page */
	if (old)
		kfree_rcu(old, rcu);
	this_cpu_inc(adev->pcpu->maps);
	return 0;
}

ALLOW_ERROR_INJECTION(rec_publish, ERRNO);

/* Undo a map whose spans are all mapped but that cannot be published. */
static void rec_unmap_unpublished(struct altdma_dev *adev,
				  struct altdma_rec *rec, unsigned long caller)
{
	struct iommu_iotlb_gather gather;
	bool whole;

	iommu_iotlb_gather_init(&gather);
	whole = spans_unmap(adev, rec, rec->nsegs, &gather);
	iotlb_sync(adev, &gather);
	if (whole)
		altdma_iova_free(&adev->iovad, rec->iova >> adev->shift,
				 rec->npages);
	else
		rec_quarantine(adev, rec, false, "map error path", caller);
}

/* ---- looking a mapping up and releasing it ---- */

/*
 * Find the live mapping the driver names and win it (MAPPED -> UNMAPPING),
 * or refuse. Nothing is changed on refusal.
 */
static struct altdma_rec *rec_claim(struct altdma_dev *adev, dma_addr_t dma,
				    size_t size, enum dma_data_direction dir,
				    enum altdma_map_type type, const char *what,
				    unsigned long caller)
{
	enum altdma_refusal kind = ALTDMA_REFUSE_KINDS;
	struct altdma_rec *rec;
	unsigned long index;
	struct xarray *xa;

	xa = altdma_recs_of(adev, dma, &index);
	rcu_read_lock();
	rec = xa_load(xa, index);
	if (!rec || rec->dma != dma)
		kind = ALTDMA_REFUSE_UNKNOWN;
	/* pairs with the release stores of the state: the fields are set */
	else if (smp_load_acquire(&rec->state) != ALTDMA_REC_MAPPED)
		kind = ALTDMA_REFUSE_DOUBLE;
	else if (rec->type != type)
		kind = ALTDMA_REFUSE_TYPE;
	else if (rec->size != size)
		kind = ALTDMA_REFUSE_SIZE;
	else if (rec->dir != dir)
		kind = ALTDMA_REFUSE_DIR;
	else if (cmpxchg(&rec->state, ALTDMA_REC_MAPPED,
			 ALTDMA_REC_UNMAPPING) != ALTDMA_REC_MAPPED)
		kind = ALTDMA_REFUSE_DOUBLE;
	rcu_read_unlock();
	if (kind == ALTDMA_REFUSE_KINDS)
		return rec;
	altdma_dev_refuse(adev, kind, what, dma, size, dir, caller);
	return NULL;
}

/* CPU side of an unmap: caches, then bounce copies, once. */
static void rec_sync_unmap(struct altdma_dev *adev, struct altdma_rec *rec,
			   unsigned long attrs, bool release_slots)
{
	struct altdma_rec_seg *seg;
	unsigned int i;

	for (i = 0; i < rec->nsegs; i++) {
		seg = &rec->segs[i];
		if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
		    rec->type != ALTDMA_MAP_RESOURCE)
			cache_for_cpu(adev, seg_data(seg), seg->len, rec->dir);
		if (!seg->bounce)
			continue;
		if (release_slots) {
			trace_altdma_bounce(adev->dev, seg->orig, seg->bounce,
					    seg->len, rec->dir, false);
			altdma_bounce_unmap(adev->pool, seg->bounce, seg->len,
					    rec->dir, attrs);
		} else if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC)) {
			altdma_bounce_sync_for_cpu(adev->pool, seg->bounce,
						   seg->len, rec->dir);
		}
	}
}

static bool rec_bounced(const struct altdma_rec *rec)
{
	unsigned int i;

	for (i = 0; i < rec->nsegs; i++)
		if (rec->segs[i].bounce)
			return true;
	return false;
}

/*
 * Tear down a claimed mapping: page tables, invalidation, CPU sync and
 * bounce slots, IOVA. Bounced mappings are always strict: their slots may
 * be reused as soon as they are released. Returns true when the mapping is
 * gone, false when its IOVA (and slots) were quarantined.
 *
 * @rec is not touched once its IOVA is given back: a new mapping may then
 * start at the same IOVA page and free the record (after RCU readers).
 */
static bool rec_release(struct altdma_dev *adev, struct altdma_rec *rec,
			unsigned long attrs, const char *what,
			unsigned long caller)
{
	bool strict = adev->inval == ALTDMA_INVAL_STRICT || rec_bounced(rec);
	unsigned long pfn = rec->iova >> adev->shift, npages = rec->npages;
	struct iommu_iotlb_gather gather;

	trace_altdma_unmap(adev->dev, rec->type, rec->dma, rec->size, rec->dir,
			   strict);
	iommu_iotlb_gather_init(&gather);
	gather.queued = !strict;
	if (!spans_unmap(adev, rec, rec->nsegs, &gather)) {
		iotlb_sync(adev, &gather);
		/* the device may still reach the slots: keep them, copy back */
		rec_sync_unmap(adev, rec, attrs, false);
		rec_quarantine(adev, rec, true, what, caller);
		return false;
	}
	if (strict)
		iotlb_sync(adev, &gather);
	rec_sync_unmap(adev, rec, attrs, true);
	this_cpu_inc(adev->pcpu->unmaps);
	/* pairs with the acquire in rec_claim(): the teardown is complete */
	smp_store_release(&rec->state, ALTDMA_REC_RELEASED);
	if (strict)
		altdma_iova_free(&adev->iovad, pfn, npages);
	else
		altdma_fq_queue(adev, pfn, npages, &gather);
	return true;
}

/* ---- single mappings ---- */

/**
 * struct map_req - one contiguous buffer to map
 * @phys: its physical address
 * @size: bytes to map
 * @rec_size: size an unmap or free must give
 * @dir: direction
 * @attrs: DMA attributes
 * @type: the calling op
 * @mask: DMA mask the address must fit in
 * @cpu_addr: kernel address of a coherent allocation or of the pages of
 *	dma_alloc_pages(), else NULL
 */
struct map_req {
	phys_addr_t phys;
	size_t size;
	size_t rec_size;
	enum dma_data_direction dir;
	unsigned long attrs;
	enum altdma_map_type type;
	u64 mask;
	void *cpu_addr;
};

static dma_addr_t map_single(struct altdma_dev *adev, const struct map_req *q,
			     unsigned long caller)
{
	bool mmio = q->type == ALTDMA_MAP_RESOURCE;
	int prot = dir_prot(adev, q->dir, q->attrs, mmio);
	struct altdma_rec_seg *seg;
	struct altdma_rec *rec;

	if (!prot || !q->size)
		goto fail;
	rec = rec_alloc(1, GFP_ATOMIC);
	if (!rec)
		goto fail;
	seg = &rec->segs[0];
	seg->orig = q->phys;
	seg->len = q->size;
	if (seg_prepare(adev, seg, q->dir, q->attrs, !mmio))
		goto free_rec;
	if (!mmio && !(q->attrs & DMA_ATTR_SKIP_CPU_SYNC))
		cache_for_device(adev, seg_data(seg), seg->len, q->dir);
	seg->span_off = span_place(seg, 0, mask_pages(adev) << adev->shift);
	if (rec_iova_alloc(adev, rec, seg->span_off + seg->span_len, q->mask))
		goto unbounce;
	rec->dma = rec->iova + seg->span_off + seg_data_off(seg);
	seg->dma = rec->dma;
	rec->size = q->rec_size;
	rec->dir = q->dir;
	rec->attrs = q->attrs;
	rec->type = q->type;
	rec->caller = caller;
	rec->site = altdma_map_site(caller);
	rec->cpu_addr = q->cpu_addr;
	if (spans_map(adev, rec, prot, GFP_ATOMIC, caller))
		goto unbounce;
	/* before the publish: afterwards an unmap may race with us */
	trace_altdma_map(adev->dev, rec->type, rec->dma, rec->size, rec->dir,
			 rec->iova, rec->npages, rec->site);
	if (rec_publish(adev, rec)) {
		rec_unmap_unpublished(adev, rec, caller);
		goto unbounce;
	}
	return rec->dma;

unbounce:
	/* after a short unmap the device may still reach the slot: keep it */
	if (rec->state != ALTDMA_REC_QUARANTINED)
		seg_unbounce(adev, seg, q->dir, q->attrs);
free_rec:
	kfree(rec);
fail:
	atomic64_inc(&adev->failed);
	return DMA_MAPPING_ERROR;
}

static void unmap_single(struct altdma_dev *adev, dma_addr_t dma, size_t size,
			 enum dma_data_direction dir, unsigned long attrs,
			 enum altdma_map_type type, const char *what,
			 unsigned long caller)
{
	struct altdma_rec *rec;

	rec = rec_claim(adev, dma, size, dir, type, what, caller);
	if (rec)
		rec_release(adev, rec, attrs, what, caller);
}

static dma_addr_t altdma_map_page(struct device *dev, struct page *page,
				  unsigned long offset, size_t size,
				  enum dma_data_direction dir,
				  unsigned long attrs)
{
	struct altdma_dev *adev = adev_of(dev);
	struct map_req q = {
		.size = size, .rec_size = size, .dir = dir, .attrs = attrs,
		.type = ALTDMA_MAP_PAGE,
	};

	dma_addr_t dma = DMA_MAPPING_ERROR;

	if (adev && page) {
		q.phys = page_to_phys(page) + offset;
		q.mask = dma_get_mask(dev);
		dma = map_single(adev, &q, _RET_IP_);
	}
	altdma_dev_put(adev);
	return dma;
}

static void altdma_unmap_page(struct device *dev, dma_addr_t dma, size_t size,
			      enum dma_data_direction dir, unsigned long attrs)
{
	struct altdma_dev *adev = adev_of(dev);

	if (adev)
		unmap_single(adev, dma, size, dir, attrs, ALTDMA_MAP_PAGE,
			     "unmap_page", _RET_IP_);
	altdma_dev_put(adev);
}

static dma_addr_t altdma_map_resource(struct device *dev, phys_addr_t phys,
				      size_t size, enum dma_data_direction dir,
				      unsigned long attrs)
{
	struct altdma_dev *adev = adev_of(dev);
	struct map_req q = {
		.phys = phys, .size = size, .rec_size = size, .dir = dir,
		.attrs = attrs, .type = ALTDMA_MAP_RESOURCE,
	};

	dma_addr_t dma = DMA_MAPPING_ERROR;

	if (adev) {
		q.mask = dma_get_mask(dev);
		dma = map_single(adev, &q, _RET_IP_);
	}
	altdma_dev_put(adev);
	return dma;
}

static void altdma_unmap_resource(struct device *dev, dma_addr_t dma,
				  size_t size, enum dma_data_direction dir,
				  unsigned long attrs)
{
	struct altdma_dev *adev = adev_of(dev);

	if (adev)
		unmap_single(adev, dma, size, dir, attrs, ALTDMA_MAP_RESOURCE,
			     "unmap_resource", _RET_IP_);
	altdma_dev_put(adev);
}

/* ---- syncs ---- */

/* Sync [@dma, @dma + @size) through whatever memory the device uses there. */
static void sync_one(struct altdma_dev *adev, dma_addr_t dma, size_t size,
		     enum dma_data_direction dir, bool for_device,
		     const char *what, unsigned long caller)
{
	phys_addr_t phys = adev->pt->iova_to_phys(adev->pt_priv, dma);
	bool bounced;

	if (!phys) {
		altdma_dev_refuse(adev, ALTDMA_REFUSE_UNKNOWN, what, dma, size,
				  dir, caller);
		return;
	}
	bounced = adev->pool && altdma_bounce_owns(adev->pool, phys);
	if (for_device) {
		/* a range the pool refused gets no cache maintenance either */
		if (bounced && altdma_bounce_sync_for_device(adev->pool, phys,
							     size, dir))
			return;
		cache_for_device(adev, phys, size, dir);
	} else {
		cache_for_cpu(adev, phys, size, dir);
		if (bounced)
			altdma_bounce_sync_for_cpu(adev->pool, phys, size, dir);
	}
}

static void altdma_sync_single_for_cpu(struct device *dev, dma_addr_t dma,
				       size_t size, enum dma_data_direction dir)
{
	struct altdma_dev *adev = adev_of(dev);

	if (adev)
		sync_one(adev, dma, size, dir, false, "sync_single_for_cpu",
			 _RET_IP_);
	altdma_dev_put(adev);
}

static void altdma_sync_single_for_device(struct device *dev, dma_addr_t dma,
					  size_t size,
					  enum dma_data_direction dir)
{
	struct altdma_dev *adev = adev_of(dev);

	if (adev)
		sync_one(adev, dma, size, dir, true, "sync_single_for_device",
			 _RET_IP_);
	altdma_dev_put(adev);
}

/*
 * Sync a mapped list segment by segment, each through the memory its DMA
 * address translates to (the bounce slot when bounced), never sg_phys()
 * (seed 003, fix 1).
 */
static void sync_sg(struct device *dev, struct scatterlist *sgl, int nents,
		    enum dma_data_direction dir, bool for_device,
		    const char *what, unsigned long caller)
{
	struct altdma_dev *adev = adev_of(dev);
	dma_addr_t dma = sgl ? sg_dma_address(sgl) : DMA_MAPPING_ERROR;
	enum altdma_refusal kind = ALTDMA_REFUSE_KINDS;
	struct altdma_rec *rec;
	unsigned long index;
	struct xarray *xa;
	unsigned int i;

	if (!adev)
		return;
	xa = altdma_recs_of(adev, dma, &index);
	rcu_read_lock();
	rec = xa_load(xa, index);
	if (!rec || rec->dma != dma || rec->type != ALTDMA_MAP_SG)
		kind = ALTDMA_REFUSE_UNKNOWN;
	else if (READ_ONCE(rec->state) != ALTDMA_REC_MAPPED)
		kind = ALTDMA_REFUSE_DOUBLE;
	else if (nents < 0 || rec->size != nents)
		kind = ALTDMA_REFUSE_SIZE;
	else
		for (i = 0; i < rec->nsegs; i++)
			sync_one(adev, rec->segs[i].dma, rec->segs[i].len, dir,
				 for_device, what, caller);
	rcu_read_unlock();
	if (kind != ALTDMA_REFUSE_KINDS)
		altdma_dev_refuse(adev, kind, what, dma, nents, dir, caller);
	altdma_dev_put(adev);
}

static void altdma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sgl,
				   int nents, enum dma_data_direction dir)
{
	sync_sg(dev, sgl, nents, dir, false, "sync_sg_for_cpu", _RET_IP_);
}

static void altdma_sync_sg_for_device(struct device *dev,
				      struct scatterlist *sgl, int nents,
				      enum dma_data_direction dir)
{
	sync_sg(dev, sgl, nents, dir, true, "sync_sg_for_device", _RET_IP_);
}

/* ---- scatterlists ---- */

static bool crosses(dma_addr_t start, size_t len, unsigned long bmask)
{
	return (start & ~(dma_addr_t)bmask) !=
	       ((start + len - 1) & ~(dma_addr_t)bmask);
}

/*
 * Lay the segments' spans out in one IOVA range, relative to its start.
 * A segment joins the previous DMA segment when it starts on a granule,
 * the previous one ends on one, and the result stays within @max_seg and
 * does not cross @bmask. A new DMA segment that would cross @bmask starts
 * at the next boundary instead; its span keeps the min_align_mask
 * alignment. Returns the number of DMA segments; *@bytes gets the size.
 */
static int sg_layout(struct altdma_dev *adev, struct altdma_rec *rec,
		     unsigned long bmask, size_t max_seg, size_t *bytes)
{
	size_t align = mask_pages(adev) << adev->shift;
	struct altdma_rec_seg *seg, *prev = NULL;
	dma_addr_t cur_start = 0;
	size_t pos = 0, cur_len = 0;
	unsigned int i;
	int count = 0;

	for (i = 0; i < rec->nsegs; i++, prev = seg) {
		seg = &rec->segs[i];
		seg->merged = prev && seg_data_off(seg) == 0 &&
			      seg_data_off(prev) + prev->len == prev->span_len &&
			      span_fits(seg, pos, align) &&
			      cur_len + seg->len <= max_seg &&
			      !crosses(cur_start, cur_len + seg->len, bmask);
		if (seg->merged) {
			cur_len += seg->len;
		} else {
			pos = span_place(seg, pos, align);
			if (crosses(pos + seg_data_off(seg), seg->len, bmask))
				pos = span_place(seg, ALIGN(pos + 1,
							    (size_t)bmask + 1),
						 align);
			cur_start = pos + seg_data_off(seg);
			cur_len = seg->len;
			count++;
		}
		seg->span_off = pos;
		seg->dma = pos + seg_data_off(seg);
		pos += seg->span_len;
	}
	*bytes = pos;
	return count;
}

/* Write the DMA segments into the list: merged segments share an entry. */
static void sg_finish(struct altdma_rec *rec, struct scatterlist *sgl,
		      int nents)
{
	struct scatterlist *s, *out = NULL;
	struct altdma_rec_seg *seg;
	int i;

	for_each_sg(sgl, s, nents, i) {
		sg_dma_address(s) = DMA_MAPPING_ERROR;
		sg_dma_len(s) = 0;
	}
	for (i = 0; i < rec->nsegs; i++) {
		seg = &rec->segs[i];
		seg->dma += rec->iova;
		if (out && seg->merged) {
			sg_dma_len(out) += seg->len;
			continue;
		}
		out = out ? sg_next(out) : sgl;
		sg_dma_address(out) = seg->dma;
		sg_dma_len(out) = seg->len;
	}
}

static int sg_prepare_all(struct altdma_dev *adev, struct altdma_rec *rec,
			  struct scatterlist *sgl, enum dma_data_direction dir,
			  unsigned long attrs)
{
	struct altdma_rec_seg *seg;
	struct scatterlist *s;
	unsigned int i;
	int ret;

	for_each_sg(sgl, s, rec->nsegs, i) {
		seg = &rec->segs[i];
		seg->orig = sg_phys(s);
		seg->len = s->length;
		ret = s->length ? seg_prepare(adev, seg, dir, attrs, true) :
				  -EINVAL;
		if (ret) {
			while (i--)
				seg_unbounce(adev, &rec->segs[i], dir, attrs);
			return ret;
		}
		if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
			cache_for_device(adev, seg_data(seg), seg->len, dir);
	}
	return 0;
}

static void sg_unbounce_all(struct altdma_dev *adev, struct altdma_rec *rec,
			    enum dma_data_direction dir, unsigned long attrs)
{
	unsigned int i;

	for (i = 0; i < rec->nsegs; i++)
		seg_unbounce(adev, &rec->segs[i], dir, attrs);
}

static int sg_place(struct altdma_dev *adev, struct altdma_rec *rec)
{
	unsigned long bmask = dma_get_seg_boundary(adev->dev);
	size_t max_seg = dma_get_max_seg_size(adev->dev);
	size_t bytes, big = (size_t)ALTDMA_IOVA_ALIGN_MAX << adev->shift;
	int count;

	bmask = max(bmask, adev->granule - 1);
	count = sg_layout(adev, rec, bmask, max_seg, &bytes);
	/* above the largest aligned size the IOVA is only aligned to @big */
	if (bytes > big && bmask >= big) {
		bmask = big - 1;
		count = sg_layout(adev, rec, bmask, max_seg, &bytes);
	}
	if (rec_iova_alloc(adev, rec, bytes, dma_get_mask(adev->dev)))
		return -ENOMEM;
	return count;
}

static int map_sg(struct altdma_dev *adev, struct scatterlist *sgl,
		  int nents, enum dma_data_direction dir, unsigned long attrs,
		  unsigned long caller)
{
	int prot, count, ret = -EINVAL;
	struct altdma_rec *rec;

	prot = dir_prot(adev, dir, attrs, false);
	if (!sgl || nents <= 0 || !prot)
		goto fail;
	rec = rec_alloc(nents, GFP_ATOMIC);
	ret = -ENOMEM;
	if (!rec)
		goto fail;
	ret = sg_prepare_all(adev, rec, sgl, dir, attrs);
	if (ret)
		goto free_rec;
	count = sg_place(adev, rec);
	ret = count;
	if (count < 0)
		goto unbounce;
	sg_finish(rec, sgl, nents);
	rec->dma = rec->segs[0].dma;
	rec->size = nents;
	rec->dir = dir;
	rec->attrs = attrs;
	rec->type = ALTDMA_MAP_SG;
	rec->caller = caller;
	rec->site = altdma_map_site(caller);
	ret = spans_map(adev, rec, prot, GFP_ATOMIC, caller);
	if (ret)
		goto unbounce;
	/* before the publish: afterwards an unmap may race with us */
	trace_altdma_map(adev->dev, rec->type, rec->dma, rec->size, rec->dir,
			 rec->iova, rec->npages, rec->site);
	ret = rec_publish(adev, rec);
	if (ret) {
		rec_unmap_unpublished(adev, rec, caller);
		ret = -ENOMEM;
		goto unbounce;
	}
	return count;

unbounce:
	if (rec->state != ALTDMA_REC_QUARANTINED)
		sg_unbounce_all(adev, rec, dir, attrs);
free_rec:
	kfree(rec);
fail:
	atomic64_inc(&adev->failed);
	return ret;
}

static int altdma_map_sg(struct device *dev, struct scatterlist *sgl,
			 int nents, enum dma_data_direction dir,
			 unsigned long attrs)
{
	struct altdma_dev *adev = adev_of(dev);
	int ret = -EINVAL;

	if (adev)
		ret = map_sg(adev, sgl, nents, dir, attrs, _RET_IP_);
	altdma_dev_put(adev);
	return ret;
}

static void altdma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	struct altdma_dev *adev = adev_of(dev);
	dma_addr_t dma = sgl ? sg_dma_address(sgl) : DMA_MAPPING_ERROR;
	struct altdma_rec *rec;

	if (!adev)
		return;
	rec = rec_claim(adev, dma, nents, dir, ALTDMA_MAP_SG, "unmap_sg",
			_RET_IP_);
	if (rec)
		rec_release(adev, rec, attrs, "unmap_sg", _RET_IP_);
	altdma_dev_put(adev);
}

/* ---- allocations ---- */

/* Bytes actually allocated and mapped for a request of @size. */
static size_t alloc_bytes(const struct altdma_dev *adev, size_t size)
{
	return ALIGN(PAGE_ALIGN(size), adev->granule);
}

/* Zeroed pages of a coherent allocation. */
static noinline __noipa struct page *coherent_pages(gfp_t gfp,
						    size_t bytes)
{
	return alloc_pages(gfp | __GFP_ZERO, get_order(bytes));
}

ALLOW_ERROR_INJECTION(coherent_pages, NULL);

static void *alloc_coherent(struct altdma_dev *adev, size_t size,
			    dma_addr_t *handle, gfp_t gfp, unsigned long attrs,
			    unsigned long caller)
{
	struct device *dev = adev->dev;
	struct map_req q = {
		.rec_size = size, .dir = DMA_BIDIRECTIONAL,
		.attrs = attrs & DMA_ATTR_PRIVILEGED,
		.type = ALTDMA_MAP_COHERENT,
	};
	struct page *page;
	void *cpu_addr;

	if (!handle || !size)
		return NULL;
	q.size = alloc_bytes(adev, size);
	page = coherent_pages(gfp, q.size);
	if (!page)
		return NULL;
	cpu_addr = page_address(page);
	q.phys = page_to_phys(page);
	q.mask = dev->coherent_dma_mask;
	q.cpu_addr = cpu_addr;
	*handle = map_single(adev, &q, caller);
	if (*handle == DMA_MAPPING_ERROR) {
		__free_pages(page, get_order(q.size));
		return NULL;
	}
	return cpu_addr;
}

static void *altdma_alloc(struct device *dev, size_t size,
			  dma_addr_t *handle, gfp_t gfp, unsigned long attrs)
{
	struct altdma_dev *adev = adev_of(dev);
	void *cpu_addr = NULL;

	if (adev)
		cpu_addr = alloc_coherent(adev, size, handle, gfp, attrs,
					  _RET_IP_);
	altdma_dev_put(adev);
	return cpu_addr;
}

static void free_coherent(struct altdma_dev *adev, size_t size,
			  void *cpu_addr, dma_addr_t handle,
			  unsigned long caller)
{
	struct altdma_rec *rec;

	rec = rec_claim(adev, handle, size, DMA_BIDIRECTIONAL,
			ALTDMA_MAP_COHERENT, "free", caller);
	if (!rec)
		return;
	if (rec->cpu_addr != cpu_addr) {
		/* give the record back untouched (pairs with rec_claim()) */
		smp_store_release(&rec->state, ALTDMA_REC_MAPPED);
		altdma_dev_refuse(adev, ALTDMA_REFUSE_UNKNOWN,
				  "free (cpu address does not match)", handle,
				  size, DMA_BIDIRECTIONAL, caller);
		return;
	}
	if (rec_release(adev, rec, DMA_ATTR_SKIP_CPU_SYNC, "free", caller))
		__free_pages(virt_to_page(cpu_addr),
			     get_order(alloc_bytes(adev, size)));
}

static void altdma_free(struct device *dev, size_t size, void *cpu_addr,
			dma_addr_t handle, unsigned long attrs)
{
	struct altdma_dev *adev = adev_of(dev);

	if (adev)
		free_coherent(adev, size, cpu_addr, handle, _RET_IP_);
	altdma_dev_put(adev);
}

static struct page *altdma_alloc_pages(struct device *dev, size_t size,
				       dma_addr_t *handle,
				       enum dma_data_direction dir, gfp_t gfp)
{
	struct altdma_dev *adev = adev_of(dev);
	struct map_req q = {
		.rec_size = size, .dir = dir, .type = ALTDMA_MAP_PAGES,
	};
	struct page *page = NULL;

	if (!adev || !handle || !size)
		goto out;
	q.size = alloc_bytes(adev, size);
	page = alloc_pages(gfp, get_order(q.size));
	if (!page)
		goto out;
	q.phys = page_to_phys(page);
	q.mask = dev->coherent_dma_mask;
	/* the free must give these pages back: free_pages checks them */
	q.cpu_addr = page_address(page);
	*handle = map_single(adev, &q, _RET_IP_);
	if (*handle == DMA_MAPPING_ERROR) {
		__free_pages(page, get_order(q.size));
		page = NULL;
	}
out:
	altdma_dev_put(adev);
	return page;
}

static void altdma_free_pages(struct device *dev, size_t size,
			      struct page *page, dma_addr_t handle,
			      enum dma_data_direction dir)
{
	struct altdma_dev *adev = adev_of(dev);
	struct altdma_rec *rec;

	if (!adev)
		return;
	rec = rec_claim(adev, handle, size, dir, ALTDMA_MAP_PAGES,
			"free_pages", _RET_IP_);
	if (!rec)
		goto out;
	/*
	 * Other pages (or none) than the allocation's: releasing the mapping
	 * would leak its pages or free someone else's. Refused like a free
	 * with the wrong CPU address.
	 */
	if (!page || page_address(page) != rec->cpu_addr) {
		/* give the record back untouched (pairs with rec_claim()) */
		smp_store_release(&rec->state, ALTDMA_REC_MAPPED);
		altdma_dev_refuse(adev, ALTDMA_REFUSE_UNKNOWN,
				  "free_pages (page does not match)", handle,
				  size, dir, _RET_IP_);
		goto out;
	}
	if (rec_release(adev, rec, 0, "free_pages", _RET_IP_))
		__free_pages(page, get_order(alloc_bytes(adev, size)));
out:
	altdma_dev_put(adev);
}

static int altdma_get_sgtable(struct device *dev, struct sg_table *sgt,
			      void *cpu_addr, dma_addr_t dma, size_t size,
			      unsigned long attrs)
{
	int ret;

	if (!cpu_addr || !virt_addr_valid(cpu_addr))
		return -ENXIO;
	ret = sg_alloc_table(sgt, 1, GFP_KERNEL);
	if (!ret)
		sg_set_page(sgt->sgl, virt_to_page(cpu_addr), PAGE_ALIGN(size),
			    0);
	return ret;
}

static int altdma_mmap(struct device *dev, struct vm_area_struct *vma,
		       void *cpu_addr, dma_addr_t dma, size_t size,
		       unsigned long attrs)
{
	unsigned long count = PAGE_ALIGN(size) >> PAGE_SHIFT;
	unsigned long off = vma->vm_pgoff, nr = vma_pages(vma);

	if (!cpu_addr || !virt_addr_valid(cpu_addr))
		return -ENXIO;
	if (off >= count || nr > count - off)
		return -ENXIO;
	return remap_pfn_range(vma, vma->vm_start,
			       page_to_pfn(virt_to_page(cpu_addr)) + off,
			       nr << PAGE_SHIFT, vma->vm_page_prot);
}

/* ---- limits ---- */

static u64 altdma_get_required_mask(struct device *dev)
{
	struct altdma_dev *adev = adev_of(dev);
	u64 last;

	if (!adev)
		return DMA_BIT_MASK(32);
	last = ((u64)adev->iovad.end_pfn << adev->shift) | (adev->granule - 1);
	altdma_dev_put(adev);
	return DMA_BIT_MASK(fls64(last));
}

static size_t altdma_max_mapping_size(struct device *dev)
{
	struct altdma_dev *adev = altdma_dev_get(dev);
	size_t max = SIZE_MAX;

	if (adev && adev->pool)
		max = altdma_bounce_max_mapping_size(adev->pool,
						     dma_get_min_align_mask(dev));
	altdma_dev_put(adev);
	return max;
}

static size_t altdma_opt_mapping_size(void)
{
	return ALTDMA_IOVA_DEFAULT_CACHE_LIMIT;
}

static unsigned long altdma_get_merge_boundary(struct device *dev)
{
	struct altdma_dev *adev = altdma_dev_get(dev);
	unsigned long boundary = adev ? adev->granule - 1 : 0;

	altdma_dev_put(adev);
	return boundary;
}

/*
 * The ops for devices with an altdma context. alloc_noncontiguous is left
 * out: the DMA API then falls back to alloc_pages.
 */
const struct dma_map_ops altdma_dma_ops = {
	.alloc = altdma_alloc,
	.free = altdma_free,
	ALTDMA_OP_ALLOC_PAGES(altdma_alloc_pages),
	.free_pages = altdma_free_pages,
	.mmap = altdma_mmap,
	.get_sgtable = altdma_get_sgtable,
	.map_page = altdma_map_page,
	.unmap_page = altdma_unmap_page,
	.map_sg = altdma_map_sg,
	.unmap_sg = altdma_unmap_sg,
	.map_resource = altdma_map_resource,
	.unmap_resource = altdma_unmap_resource,
	.sync_single_for_cpu = altdma_sync_single_for_cpu,
	.sync_single_for_device = altdma_sync_single_for_device,
	.sync_sg_for_cpu = altdma_sync_sg_for_cpu,
	.sync_sg_for_device = altdma_sync_sg_for_device,
	.get_required_mask = altdma_get_required_mask,
	.max_mapping_size = altdma_max_mapping_size,
	.opt_mapping_size = altdma_opt_mapping_size,
	.get_merge_boundary = altdma_get_merge_boundary,
};
EXPORT_SYMBOL_GPL(altdma_dma_ops);
