// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma dma_map_ops: every callback a driver can reach on Linux 6.1, over
 * a device's altdma context (dma_iommu_ops.h): its IOVA space, its bounce
 * pool and its page-table backend.
 *
 * Each mapping is one object (struct altdma_map, altdma_map.h) that is
 * also its IOVA range: the allocator's per-CPU caches hand it out with its
 * index entry kept, so a map allocates nothing and inserts nothing when
 * they hit. Each unmap looks the object up once and claims it with one
 * cmpxchg of its state word (a generation defeats ABA against a recycled
 * object), or refuses, reports once per kind and counts an unknown
 * address, a double unmap, a wrong size, a wrong direction or a wrong kind
 * of call, touching nothing; the claimed object goes back to the caches or
 * a flush queue with no second check. A backend that unmaps short gets the
 * IOVA quarantined: it never goes back to the allocator (seed 000).
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
#include <linux/vmalloc.h>

#include "altdma_compat.h"
#include "altdma_trace.h"
#include "dma_iommu_ops.h"

/*
 * The allocation points of the map and alloc paths that are not on the
 * fast path are functions of their own, noinline __noipa (never inlined,
 * cloned or specialised, so a kprobe on the name sees every call) and
 * listed with ALLOW_ERROR_INJECTION, so tests can fail each one by name
 * with fail_function: a new mapping object (range_obj_alloc() in
 * iova_alloc.c, only when the IOVA caches miss), a bounce slot, the
 * segment array of an sg list, the pages of a coherent allocation.
 * attach.c and altdma_dev.c do the same for the attach path. A map that
 * hits the IOVA caches allocates nothing but page-table pages (which
 * fail-nth reaches inside the IOMMU driver).
 */

/* ---- contexts ---- */

/* A DMA call on @dev found no context: reported once, refused. */
static noinline void no_context(struct device *dev)
{
	pr_warn_once("%s: DMA call on a device with no altdma context; refused\n",
		     dev ? dev_name(dev) : "(no device)");
}

/*
 * The context of @dev for an op that does not sleep. The caller holds
 * altdma_op_lock() (altdma_compat.h: preemption off, inline, no call; an
 * RCU read lock on PREEMPT_RT) from before this until it no longer uses
 * the context or any mapping object it found: altdma_dev_unregister()
 * waits for a grace period before the context can be freed, and objects
 * and segment arrays are freed with kfree_rcu(), whose grace periods wait
 * for both kinds of reader. So one such section is all the op pays: an
 * index lookup in the table (iova_index.h) takes nothing more, one in the
 * xarray its own rcu_read_lock() inside xa_load().
 */
static __always_inline struct altdma_dev *adev_rcu(struct device *dev)
{
	struct altdma_dev *adev = altdma_dev_lookup(dev);

	if (unlikely(!adev))
		no_context(dev);
	return adev;
}

/*
 * The context of @dev for an op that may sleep, held until
 * altdma_dev_put(): a detach or hot-unplug that unregisters the context
 * waits for the op instead of freeing it under it.
 */
static struct altdma_dev *adev_held(struct device *dev)
{
	struct altdma_dev *adev = altdma_dev_get(dev);

	if (!adev)
		no_context(dev);
	return adev;
}

/* ---- helpers ---- */

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
	return adev->pool && ((phys | size) & adev->bounce_mask);
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
static bool span_fits(const struct altdma_map_seg *seg, size_t pos,
		      size_t align)
{
	return ((pos - seg->span_phys) & (align - 1)) == 0;
}

/* The first offset at or after @pos where @seg's span fits. */
static size_t span_place(const struct altdma_map_seg *seg, size_t pos,
			 size_t align)
{
	return pos + ((seg->span_phys - pos) & (align - 1));
}

/* IOVA pages a mapping must be given so its base is aligned to the mask. */
static __always_inline unsigned long mask_pages(const struct altdma_dev *adev)
{
	unsigned int mask = dma_get_min_align_mask(adev->dev);

	if (likely(mask < adev->granule))
		return 1;
	return roundup_pow_of_two((unsigned long)mask + 1) >> adev->shift;
}

static __always_inline unsigned long limit_pfn(const struct altdma_dev *adev,
					       u64 mask)
{
	if (adev->dev->bus_dma_limit)
		mask = min(mask, adev->dev->bus_dma_limit);
	return mask >> adev->shift;
}

/* A bounce slot for @seg (an allocation point of its own). */
static noinline __noipa int seg_bounce(struct altdma_dev *adev,
				       struct altdma_map_seg *seg,
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

/* Bounce @seg: its span is the slot's (out of line, off the fast path). */
static noinline int seg_prepare_bounced(struct altdma_dev *adev,
					struct altdma_map_seg *seg,
					enum dma_data_direction dir,
					unsigned long attrs)
{
	struct altdma_bounce_slot slot;
	int ret;

	ret = seg_bounce(adev, seg, dir, attrs, &slot);
	if (ret)
		return ret;
	seg->bounce = slot.data;
	seg->span_phys = slot.span_start;
	seg->span_len = slot.span_len;
	this_cpu_add(adev->pcpu->bytes_bounced, seg->len);
	trace_altdma_bounce(adev->dev, seg->orig, seg->bounce, seg->len, dir,
			    true);
	if (adev->san)
		altdma_san_to_device(adev->san, seg->bounce, seg->len);
	return 0;
}

/* Decide the span of @seg (orig and len filled in); bounce it if needed. */
static __always_inline int seg_prepare(struct altdma_dev *adev,
				       struct altdma_map_seg *seg,
				       enum dma_data_direction dir,
				       unsigned long attrs, bool may_bounce)
{
	seg->bounce = 0;
	seg->merged = false;
	if (may_bounce && needs_bounce(adev, seg->orig, seg->len))
		return seg_prepare_bounced(adev, seg, dir, attrs);
	seg->span_phys = seg->orig & ~((phys_addr_t)adev->granule - 1);
	seg->span_len = ALIGN(seg->orig + seg->len, adev->granule) -
			seg->span_phys;
	return 0;
}

/* The memory the device really uses for @seg. */
static phys_addr_t seg_data(const struct altdma_map_seg *seg)
{
	return seg->bounce ?: seg->orig;
}

static size_t seg_data_off(const struct altdma_map_seg *seg)
{
	return seg_data(seg) - seg->span_phys;
}

/*
 * Give a bounce slot back without copying (error paths). The mapper owns
 * the slot it just took (nothing was published): the owner's unmap.
 */
static void seg_unbounce(struct altdma_dev *adev, struct altdma_map_seg *seg,
			 enum dma_data_direction dir, unsigned long attrs)
{
	if (!seg->bounce)
		return;
	/* the buffer gets its bytes back, unpoisoned */
	if (adev->san)
		altdma_san_undo(adev->san, seg->bounce, seg->len);
	altdma_bounce_unmap_owned(adev->pool, seg->bounce, seg->len, dir,
				  attrs | DMA_ATTR_SKIP_CPU_SYNC);
	seg->bounce = 0;
}

/* ---- page tables ---- */

/* Unmap the span of @seg of @m; returns whether all of it went. */
static __always_inline bool span_unmap(struct altdma_dev *adev,
				       const struct altdma_map *m,
				       const struct altdma_map_seg *seg,
				       struct iommu_iotlb_gather *gather)
{
	return altdma_pt_unmap(adev->pt, adev->pt_priv,
			       altdma_map_iova(m, adev->shift) + seg->span_off,
			       seg->span_len, gather) == seg->span_len;
}

/* Unmap the spans of the first @n segments; returns whether all went. */
static __always_inline bool spans_unmap(struct altdma_dev *adev,
					struct altdma_map *m, unsigned int n,
					struct iommu_iotlb_gather *gather)
{
	const struct altdma_map_seg *seg;
	struct altdma_seg_iter it;
	unsigned int i, nsegs;
	bool whole = true;

	seg = altdma_map_segs(m, &nsegs, &it);
	for (i = 0; i < n; i++, seg = altdma_segs_next(&it))
		whole &= span_unmap(adev, m, seg, gather);
	return whole;
}

/*
 * The altdma_flush event of a strict sync carries the device's total,
 * summed over the CPUs: only when traced, and out of line, so the sync
 * itself has no counters snapshot on its stack.
 */
static noinline void trace_sync_total(struct altdma_dev *adev)
{
	struct altdma_dev_stats st;

	altdma_dev_get_stats(adev, &st);
	trace_altdma_flush(adev->dev, false, st.iotlb_syncs);
}

static void iotlb_sync(struct altdma_dev *adev,
		       struct iommu_iotlb_gather *gather)
{
	altdma_pt_iotlb_sync(adev->pt, adev->pt_priv, gather);
	this_cpu_inc(adev->pcpu->iotlb_syncs);
	if (trace_altdma_flush_enabled())
		trace_sync_total(adev);
}

/*
 * Drop the segment array of an sg mapping, after its state left MAPPED:
 * a reader that still holds the array keeps it until its RCU section ends
 * (see map_segs_stable()).
 */
static void map_drop_segs(struct altdma_map *m)
{
	struct altdma_map_segs *ext = m->ext, *next;

	if (!ext)
		return;
	smp_wmb();	/* the state before the pointer; pairs with the rmb */
	WRITE_ONCE(m->ext, NULL);
	/* every chunk after the readers that may be walking the chain */
	for (; ext; ext = next) {
		next = ext->next;
		kfree_rcu(ext, rcu);
	}
}

/*
 * The segments of a mapping a reader found MAPPED in state word @s, for a
 * reader that does not own it (a sync): NULL if the mapping has left that
 * state since, else the array, valid until altdma_op_unlock().
 */
static struct altdma_map_seg *map_segs_stable(struct altdma_map *m, u32 s,
					      unsigned int *n,
					      struct altdma_seg_iter *it)
{
	struct altdma_map_seg *segs = altdma_map_segs(m, n, it);

	smp_rmb();	/* the pointer before the state; pairs with the wmb */
	return READ_ONCE(m->state) == s ? segs : NULL;
}

/* The slot of &altdma_dev.recent that remembers a released @dma. */
static dma_addr_t *recent_slot(struct altdma_dev *adev, dma_addr_t dma)
{
	return &adev->recent[(dma >> adev->shift) & (ALTDMA_RECENT - 1)];
}

static void recent_put(struct altdma_dev *adev, dma_addr_t dma)
{
	WRITE_ONCE(*recent_slot(adev, dma), dma);
}

/*
 * Quarantine @m's IOVA: the backend left part of it mapped. @live: the
 * mapping was published (counted in maps), not a map being undone. The
 * object stays with the quarantined range for good.
 */
static void map_quarantine(struct altdma_dev *adev, struct altdma_map *m,
			   bool live, const char *what, unsigned long caller)
{
	u32 s = READ_ONCE(m->state);

	altdma_iova_quarantine_range(&adev->iovad, &m->range);
	/* out of the index now: a second unmap finds it here */
	if (live)
		recent_put(adev, m->dma);
	atomic64_inc(&adev->quarantined);
	if (live)
		atomic64_inc(&adev->quarantined_live);
	/* after the quarantine: pairs with the acquire in map_claim() */
	smp_store_release(&m->state,
			  (s & ~ALTDMA_MAP_STATE_MASK) | ALTDMA_MAP_QUARANTINED);
	trace_altdma_misuse(adev->dev, "short unmap, IOVA quarantined", what,
			    m->dma, (size_t)m->range.npages << adev->shift, m->dir,
			    caller);
	if (!test_and_set_bit(ALTDMA_REFUSE_KINDS, &adev->reported))
		dev_warn(adev->dev, "altdma: %s: backend %s unmapped short at dma %pad (%u pages); IOVA quarantined, never reused; caller %pS (from %pS)\n",
			 what, adev->pt->name, &m->dma, m->range.npages,
			 (void *)caller, (void *)altdma_caller_of(caller));
	map_drop_segs(m);
}

/*
 * Undo a map that was never published: unmap the spans of its first
 * @mapped segments, then give the object back (or quarantine its IOVA if
 * the backend unmapped short). Returns false when quarantined: the bounce
 * slots must then be kept, since the device may still reach them.
 */
static bool map_abort(struct altdma_dev *adev, struct altdma_map *m,
		      unsigned int mapped, unsigned long caller)
{
	struct iommu_iotlb_gather gather;
	bool whole;

	iommu_iotlb_gather_init(&gather);
	whole = spans_unmap(adev, m, mapped, &gather);
	iotlb_sync(adev, &gather);
	if (!whole) {
		map_quarantine(adev, m, false, "map error path", caller);
		return false;
	}
	map_drop_segs(m);
	/* no driver ever got this address: nothing may find it */
	WRITE_ONCE(m->dma, DMA_MAPPING_ERROR);
	altdma_iova_put_range(&adev->iovad, &m->range);
	return true;
}

/*
 * Map the span of @seg, segment @i of @m; if that fails, undo segments 0
 * to @i - 1 (map_abort()) and set *@kept when a short unmap quarantined
 * @m. Returns 0 or -EIO.
 */
static __always_inline int span_map(struct altdma_dev *adev,
				    struct altdma_map *m,
				    const struct altdma_map_seg *seg,
				    unsigned int i, int prot,
				    unsigned long caller, bool *kept)
{
	if (likely(!altdma_pt_map(adev->pt, adev->pt_priv,
				  altdma_map_iova(m, adev->shift) +
				  seg->span_off, seg->span_phys,
				  seg->span_len, prot, GFP_ATOMIC)))
		return 0;
	*kept = !map_abort(adev, m, i, caller);
	return -EIO;
}

/*
 * Map every span of @m at its offset. On failure everything is undone and
 * the object given back; *@kept says whether the IOVA (and so the bounce
 * slots) had to be quarantined instead.
 */
static __always_inline int spans_map(struct altdma_dev *adev,
				     struct altdma_map *m, int prot,
				     unsigned long caller, bool *kept)
{
	const struct altdma_map_seg *seg;
	struct altdma_seg_iter it;
	unsigned int i, n;

	seg = altdma_map_segs(m, &n, &it);
	for (i = 0; i < n; i++, seg = altdma_segs_next(&it))
		if (unlikely(span_map(adev, m, seg, i, prot, caller, kept)))
			return -EIO;
	return 0;
}

/* ---- mapping objects: allocate, publish, find, claim, release ---- */

/*
 * The mapping object, with its IOVA for @bytes of spans aligned to @align
 * pages (the min_align_mask alignment), below @dma_mask. The object comes
 * in state RELEASED, owned by the caller.
 */
static __always_inline struct altdma_map *map_alloc(struct altdma_dev *adev,
						    size_t bytes,
						    unsigned long align,
						    u64 dma_mask)
{
	unsigned long npages = max(bytes >> adev->shift, align);
	unsigned long limit = limit_pfn(adev, dma_mask);
	struct altdma_iova_range *r;

	if (unlikely(align > ALTDMA_IOVA_ALIGN_MAX))
		return NULL;
	r = altdma_iova_alloc_range(&adev->iovad, npages, limit, GFP_ATOMIC);
	/*
	 * Ranges waiting in the flush queues are free space too: when the
	 * space looks full, flush them back and try once more, so freeing
	 * everything always brings a full recovery at once.
	 */
	if (unlikely(!r) && adev->fq) {
		altdma_fq_flush(adev);
		r = altdma_iova_alloc_range(&adev->iovad, npages, limit,
					    GFP_ATOMIC);
	}
	return r ? altdma_map_of(r) : NULL;
}

/* Make @m findable by unmap and sync: a new generation, MAPPED. */
static void map_publish(struct altdma_dev *adev, struct altdma_map *m)
{
	u32 s = READ_ONCE(m->state) & ~ALTDMA_MAP_STATE_MASK;

	/* the fields before the state (pairs with the acquire in map_claim()) */
	smp_store_release(&m->state,
			  s + ALTDMA_MAP_GEN_ONE + ALTDMA_MAP_MAPPED);
	this_cpu_inc(adev->pcpu->maps);
}

/*
 * The object of the mapping the driver names by @dma: the range starting
 * at @dma's IOVA page (one index lookup), or, for an address that is not
 * in a mapping's first page (a min_align_mask wider than the granule), the
 * range holding it. Called under altdma_op_lock(); the object may be in any
 * state.
 */
static __always_inline struct altdma_map *map_find(struct altdma_dev *adev,
						   dma_addr_t dma)
{
	unsigned long pfn = dma >> adev->shift;
	struct altdma_iova_range *r;

	r = altdma_iova_lookup(&adev->iovad, pfn);
	if (likely(r && READ_ONCE(altdma_map_of(r)->dma) == dma))
		return altdma_map_of(r);
	r = altdma_iova_find(&adev->iovad, pfn);
	if (r && READ_ONCE(altdma_map_of(r)->dma) == dma)
		return altdma_map_of(r);
	return NULL;
}

/* Remember the address of a mapping whose object leaves for the tree. */
static __always_inline void map_remember(struct altdma_dev *adev,
					 const struct altdma_map *m)
{
	if (!altdma_iova_range_cached(&adev->iovad, &m->range))
		recent_put(adev, m->dma);
}

/* Whether @dma is the address of a mapping released lately (see above). */
static bool map_recent(struct altdma_dev *adev, dma_addr_t dma)
{
	return READ_ONCE(*recent_slot(adev, dma)) == dma;
}

/*
 * Whether @dma, which altdma does not know, is a mapping the device's
 * previous layer made before the attach and still holds (prev_layer.h):
 * only looked at once altdma's own lookup failed.
 */
static noinline bool prev_holds(struct altdma_dev *adev, dma_addr_t dma)
{
	return adev->prev && altdma_prev_holds(adev->prev, dma);
}

/* The call went back to the previous layer: count it. */
static void prev_count(struct altdma_dev *adev)
{
	atomic64_inc(&adev->prev_calls);
}

/**
 * struct claim_req - the mapping an unmap or a free names
 * @dma: the address given
 * @size: the size given (entries for an sg unmap)
 * @dir: the direction given
 * @type: the kind of mapping the call releases
 * @what: the call, for a report
 * @cpu_addr: a free's memory (the allocation's CPU address, or its pages'),
 *	checked with the rest before the mapping is claimed
 * @cpu_bad: a free's report when @cpu_addr is not the allocation's; NULL
 *	for an unmap (no @cpu_addr check)
 * @caller: return address of the op
 * @prev: set by map_claim() when the address is none of altdma's but a
 *	mapping the device's previous layer made before the attach: the
 *	call goes back there (prev_layer.h)
 */
struct claim_req {
	dma_addr_t dma;
	size_t size;
	enum dma_data_direction dir;
	enum altdma_map_type type;
	const char *what;
	const void *cpu_addr;
	const char *cpu_bad;
	unsigned long caller;
	bool prev;
};

/* Why the live mapping @m (read in state word @s) is not @q's, or KINDS. */
static __always_inline enum altdma_refusal
claim_mismatch(const struct altdma_map *m, const struct claim_req *q,
	       const char **what)
{
	if (unlikely(m->dma != q->dma))
		return ALTDMA_REFUSE_DOUBLE;
	if (unlikely(m->type != q->type))
		return ALTDMA_REFUSE_TYPE;
	if (unlikely(m->size != q->size))
		return ALTDMA_REFUSE_SIZE;
	if (unlikely(m->dir != q->dir))
		return ALTDMA_REFUSE_DIR;
	/*
	 * A free of other memory (or none) than the allocation's: releasing
	 * the mapping would leak its pages or free someone else's.
	 */
	if (unlikely(q->cpu_bad && (!q->cpu_addr ||
				    m->cpu_addr != q->cpu_addr))) {
		*what = q->cpu_bad;
		return ALTDMA_REFUSE_UNKNOWN;
	}
	return ALTDMA_REFUSE_KINDS;
}

/*
 * Find the live mapping the driver names and win it (MAPPED -> UNMAPPING,
 * from the exact state word read, generation included), or refuse. Every
 * check comes before the claim, so a refused call never holds the mapping,
 * even for a moment. Called under altdma_op_lock(). Nothing is
 * changed on refusal.
 */
static __always_inline struct altdma_map *map_claim(struct altdma_dev *adev,
						    struct claim_req *q)
{
	enum altdma_refusal kind = ALTDMA_REFUSE_DOUBLE;
	struct altdma_map *m = map_find(adev, q->dma);
	const char *what = q->what;
	u32 s;

	if (unlikely(!m)) {
		q->prev = prev_holds(adev, q->dma);
		if (q->prev)
			return NULL;
		if (!map_recent(adev, q->dma))
			kind = ALTDMA_REFUSE_UNKNOWN;
		goto refuse;
	}
	/* pairs with the release in map_publish(): the fields are set */
	s = smp_load_acquire(&m->state);
	if (unlikely((s & ALTDMA_MAP_STATE_MASK) != ALTDMA_MAP_MAPPED))
		goto refuse;
	kind = claim_mismatch(m, q, &what);
	if (likely(kind == ALTDMA_REFUSE_KINDS)) {
		if (likely(cmpxchg(&m->state, s, s - ALTDMA_MAP_MAPPED +
				   ALTDMA_MAP_UNMAPPING) == s))
			return m;
		kind = ALTDMA_REFUSE_DOUBLE;
	}
	/* a refusal read from a life the object has left: the unmap lost */
	if (READ_ONCE(m->state) != s)
		kind = ALTDMA_REFUSE_DOUBLE;
refuse:
	altdma_dev_refuse(adev, kind, what, q->dma, q->size, q->dir,
			  q->caller);
	return NULL;
}

/*
 * bounce=sanitize: the CPU takes a bounced segment back; check the hand-off
 * before the pool copies anything (sanitize.c).
 */
static noinline void seg_san_to_cpu(struct altdma_dev *adev,
				    const struct altdma_map *m,
				    const struct altdma_map_seg *seg, bool unmap,
				    const char *what, unsigned long caller)
{
	struct altdma_san_call call = {
		.what = what, .dma = seg->dma, .site = m->site,
		.caller = caller,
	};

	altdma_san_to_cpu(adev->san, seg->bounce, seg->len, unmap, &call);
}

/*
 * CPU side of the unmap of @seg of @m: caches, then bounce copies, once.
 * The caller claimed @m, so a release of its slots is the owner's unmap:
 * no second lookup or claim in the pool.
 */
static __always_inline void seg_sync_unmap(struct altdma_dev *adev,
					   const struct altdma_map *m,
					   struct altdma_map_seg *seg,
					   unsigned long attrs,
					   bool release_slots,
					   const char *what,
					   unsigned long caller)
{
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
	    m->type != ALTDMA_MAP_RESOURCE)
		cache_for_cpu(adev, seg_data(seg), seg->len, m->dir);
	if (!seg->bounce)
		return;
	if (adev->san)
		seg_san_to_cpu(adev, m, seg, release_slots, what, caller);
	if (release_slots) {
		trace_altdma_bounce(adev->dev, seg->orig, seg->bounce,
				    seg->len, m->dir, false);
		altdma_bounce_unmap_owned(adev->pool, seg->bounce, seg->len,
					  m->dir, attrs);
	} else if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC)) {
		altdma_bounce_sync_for_cpu(adev->pool, seg->bounce, seg->len,
					   m->dir);
	}
}

/* seg_sync_unmap() for every segment of @m. */
static __always_inline void map_sync_unmap(struct altdma_dev *adev,
					   struct altdma_map *m,
					   unsigned long attrs,
					   bool release_slots,
					   const char *what,
					   unsigned long caller)
{
	struct altdma_map_seg *seg;
	struct altdma_seg_iter it;
	unsigned int n;

	for (seg = altdma_map_segs(m, &n, &it); seg;
	     seg = altdma_segs_next(&it))
		seg_sync_unmap(adev, m, seg, attrs, release_slots, what,
			       caller);
}

static __always_inline bool map_bounced(struct altdma_map *m)
{
	struct altdma_map_seg *seg;
	struct altdma_seg_iter it;
	unsigned int n;

	for (seg = altdma_map_segs(m, &n, &it); seg;
	     seg = altdma_segs_next(&it))
		if (seg->bounce)
			return true;
	return false;
}

/*
 * Invalidate what a short unmap of @m took out, now: the quarantined range
 * never reaches a flush queue, and the page-table pages on the gather's
 * freelist go back when it is synced. A queued (deferred) gather holds no
 * range (the IOMMU drivers leave it to a later flush of all), so it gets
 * the whole IOVA range of @m and is synced as a strict one.
 */
static void quarantine_sync(struct altdma_dev *adev, struct altdma_map *m,
			    struct iommu_iotlb_gather *gather)
{
	if (gather->queued) {
		gather->queued = false;
		iommu_iotlb_gather_add_range(gather,
					     altdma_map_iova(m, adev->shift),
					     (size_t)m->range.npages <<
					     adev->shift);
	}
	iotlb_sync(adev, gather);
}

/*
 * Tear down a claimed mapping: page tables, invalidation, CPU sync and
 * bounce slots, then the object goes back, with no second check, to the
 * IOVA caches (strict) or to this CPU's flush queue (deferred). Bounced
 * mappings are always strict: their slots may be reused as soon as they
 * are released. So is a range larger than a flush queue may hold: one
 * sync of its own range costs less than the flush of everything that
 * queueing it would start. Returns true when the mapping is gone, false
 * when its IOVA (and slots) were quarantined.
 *
 * @m is not touched once it is given back: a new mapping may take it.
 */
static __always_inline bool map_release(struct altdma_dev *adev,
					struct altdma_map *m,
					unsigned long attrs, const char *what,
					unsigned long caller)
{
	/* the owner's view: its one segment inline, or NULL for an array */
	struct altdma_map_seg *one = m->ext ? NULL : &m->seg0;
	bool strict = adev->inval == ALTDMA_INVAL_STRICT ||
		      (one ? one->bounce : map_bounced(m)) ||
		      altdma_iova_range_pages(&m->range) > ALTDMA_FQ_PAGES;
	struct iommu_iotlb_gather gather altdma_uninit;
	struct altdma_seg_iter it;
	unsigned int n;
	bool whole;
	u32 s;

	trace_altdma_unmap(adev->dev, m->type, m->dma, m->size, m->dir,
			   strict);
	iommu_iotlb_gather_init(&gather);
	gather.queued = !strict;
	if (one) {
		whole = span_unmap(adev, m, one, &gather);
	} else {
		altdma_map_segs(m, &n, &it);
		whole = spans_unmap(adev, m, n, &gather);
	}
	if (unlikely(!whole)) {
		quarantine_sync(adev, m, &gather);
		/* the device may still reach the slots: keep them, copy back */
		map_sync_unmap(adev, m, attrs, false, what, caller);
		map_quarantine(adev, m, true, what, caller);
		return false;
	}
	if (strict)
		iotlb_sync(adev, &gather);
	if (one)
		seg_sync_unmap(adev, m, one, attrs, true, what, caller);
	else
		map_sync_unmap(adev, m, attrs, true, what, caller);
	this_cpu_inc(adev->pcpu->unmaps);
	s = READ_ONCE(m->state);
	/* a second unmap from now on is refused as one */
	smp_store_release(&m->state,
			  s - ALTDMA_MAP_UNMAPPING + ALTDMA_MAP_RELEASED);
	/* after the state: see map_segs_stable() */
	map_drop_segs(m);
	map_remember(adev, m);
	if (strict)
		altdma_iova_put_range(&adev->iovad, &m->range);
	else
		altdma_fq_queue(adev, &m->range, &gather);
	return true;
}

/* ---- single mappings ---- */

/* Whether [@phys, @phys + @size) runs past the end of the address space. */
static bool wraps(phys_addr_t phys, size_t size)
{
	return phys + size - 1 < phys;
}

static const char *const map_call_names[] = {
	[ALTDMA_MAP_PAGE] = "map_page",
	[ALTDMA_MAP_SG] = "map_sg",
	[ALTDMA_MAP_RESOURCE] = "map_resource",
	[ALTDMA_MAP_COHERENT] = "alloc",
	[ALTDMA_MAP_PAGES] = "alloc_pages",
};

/*
 * A buffer that wraps past the end of the address space (dma-iommu maps
 * its first pages and records the size): refused, one rate-limited line
 * without the physical address, counted as a failed map.
 */
static noinline void map_wrap_report(struct altdma_dev *adev,
				     enum altdma_map_type type, size_t size,
				     unsigned long caller)
{
	dev_warn_ratelimited(adev->dev, "altdma: refused %s: size %zu runs past the end of the address space; caller %pS (from %pS); nothing mapped\n",
			     map_call_names[type], size, (void *)caller,
			     (void *)altdma_caller_of(caller));
}

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

/* Fill in a mapping object the caller owns, before it is published. */
static __always_inline void map_fill(struct altdma_map *m,
				     const struct map_req *q, dma_addr_t dma,
				     unsigned long caller)
{
	m->dma = dma;
	m->size = q->rec_size;
	m->dir = q->dir;
	m->attrs = q->attrs;
	m->type = q->type;
	m->caller = caller;
	m->site = altdma_map_site(caller);
	m->cpu_addr = q->cpu_addr;
	m->pages = NULL;
	m->ext = NULL;
}

/*
 * Map one physically contiguous buffer. Inline into each op: the request
 * stays in registers and what the op fixes (type, no CPU address) folds.
 */
static __always_inline dma_addr_t map_single(struct altdma_dev *adev,
					     const struct map_req *q,
					     unsigned long caller)
{
	bool mmio = q->type == ALTDMA_MAP_RESOURCE, kept = false;
	int prot = dir_prot(adev, q->dir, q->attrs, mmio);
	struct altdma_map_seg seg altdma_uninit;
	unsigned long align;
	struct altdma_map *m;
	dma_addr_t dma;

	if (unlikely(!prot || !q->size))
		goto fail;
	/* every field is set below, before the copy into the object */
	seg.orig = q->phys;
	seg.len = q->size;
	if (unlikely(wraps(q->phys, q->size))) {
		map_wrap_report(adev, q->type, q->size, caller);
		goto fail;
	}
	/* allocations are granule-aligned blocks: only pages ever bounce */
	if (unlikely(seg_prepare(adev, &seg, q->dir, q->attrs,
				 q->type == ALTDMA_MAP_PAGE)))
		goto fail;
	if (!mmio && !(q->attrs & DMA_ATTR_SKIP_CPU_SYNC))
		cache_for_device(adev, seg_data(&seg), seg.len, q->dir);
	align = mask_pages(adev);
	seg.span_off = span_place(&seg, 0, align << adev->shift);
	m = map_alloc(adev, seg.span_off + seg.span_len, align, q->mask);
	if (unlikely(!m))
		goto unbounce;
	dma = altdma_map_iova(m, adev->shift) + seg.span_off +
	      seg_data_off(&seg);
	seg.dma = dma;
	m->seg0 = seg;
	map_fill(m, q, dma, caller);
	if (unlikely(span_map(adev, m, &m->seg0, 0, prot, caller, &kept)))
		goto unbounce;
	/* before the publish: afterwards an unmap may race with us */
	trace_altdma_map(adev->dev, q->type, dma, q->rec_size, q->dir,
			 altdma_map_iova(m, adev->shift), m->range.npages,
			 m->site);
	map_publish(adev, m);
	return dma;

unbounce:
	/* after a short unmap the device may still reach the slot: keep it */
	if (!kept)
		seg_unbounce(adev, &seg, q->dir, q->attrs);
fail:
	atomic64_inc(&adev->failed);
	return DMA_MAPPING_ERROR;
}

/* A streaming unmap of a mapping the previous layer made goes there. */
static noinline void prev_unmap(struct altdma_dev *adev,
				const struct claim_req *q,
				struct scatterlist *sgl, unsigned long attrs)
{
	if (q->type == ALTDMA_MAP_SG)
		altdma_prev_unmap_sg(adev->prev, sgl, q->size, q->dir, attrs);
	else if (q->type == ALTDMA_MAP_RESOURCE)
		altdma_prev_unmap_resource(adev->prev, q->dma, q->size, q->dir,
					   attrs);
	else
		altdma_prev_unmap_page(adev->prev, q->dma, q->size, q->dir,
				       attrs);
	prev_count(adev);
}

/*
 * Every streaming unmap: one RCU section, one claim, one release (@sgl:
 * the list of an unmap_sg, else NULL). Inline into each op, where the
 * request's constant fields fold.
 */
static __always_inline void unmap_on(struct device *dev, dma_addr_t dma,
				     size_t size, enum dma_data_direction dir,
				     unsigned long attrs,
				     enum altdma_map_type type,
				     struct scatterlist *sgl, const char *what,
				     unsigned long caller)
{
	struct claim_req q altdma_uninit;
	struct altdma_dev *adev;
	struct altdma_map *m;

	q.dma = dma;
	q.size = size;
	q.dir = dir;
	q.type = type;
	q.what = what;
	q.cpu_addr = NULL;
	q.cpu_bad = NULL;
	q.caller = caller;
	q.prev = false;

	altdma_op_lock();
	adev = adev_rcu(dev);
	if (likely(adev)) {
		m = map_claim(adev, &q);
		if (m)
			map_release(adev, m, attrs, what, caller);
		else if (unlikely(q.prev))
			prev_unmap(adev, &q, sgl, attrs);
	}
	altdma_op_unlock();
}

static dma_addr_t altdma_map_page(struct device *dev, struct page *page,
				  unsigned long offset, size_t size,
				  enum dma_data_direction dir,
				  unsigned long attrs)
{
	dma_addr_t dma = DMA_MAPPING_ERROR;
	struct map_req q altdma_uninit;
	struct altdma_dev *adev;

	altdma_op_lock();
	adev = adev_rcu(dev);
	if (likely(adev && page)) {
		q.phys = page_to_phys(page) + offset;
		q.size = size;
		q.rec_size = size;
		q.dir = dir;
		q.attrs = attrs;
		q.type = ALTDMA_MAP_PAGE;
		q.mask = dma_get_mask(dev);
		q.cpu_addr = NULL;
		dma = map_single(adev, &q, _RET_IP_);
	}
	altdma_op_unlock();
	return dma;
}

static void altdma_unmap_page(struct device *dev, dma_addr_t dma, size_t size,
			      enum dma_data_direction dir, unsigned long attrs)
{
	unmap_on(dev, dma, size, dir, attrs, ALTDMA_MAP_PAGE, NULL,
		 "unmap_page", _RET_IP_);
}

static dma_addr_t altdma_map_resource(struct device *dev, phys_addr_t phys,
				      size_t size, enum dma_data_direction dir,
				      unsigned long attrs)
{
	struct map_req q = {
		.phys = phys, .size = size, .rec_size = size, .dir = dir,
		.attrs = attrs, .type = ALTDMA_MAP_RESOURCE,
	};
	dma_addr_t dma = DMA_MAPPING_ERROR;
	struct altdma_dev *adev;

	altdma_op_lock();
	adev = adev_rcu(dev);
	if (adev) {
		q.mask = dma_get_mask(dev);
		dma = map_single(adev, &q, _RET_IP_);
	}
	altdma_op_unlock();
	return dma;
}

static void altdma_unmap_resource(struct device *dev, dma_addr_t dma,
				  size_t size, enum dma_data_direction dir,
				  unsigned long attrs)
{
	unmap_on(dev, dma, size, dir, attrs, ALTDMA_MAP_RESOURCE, NULL,
		 "unmap_resource", _RET_IP_);
}

/* ---- syncs ---- */

/*
 * bounce=sanitize: a sync of bounced memory, each hand-off watched
 * (sanitize.c): to the device, the buffer's poisoned bytes get their
 * contents back before the pool copies it in, then it is handed over
 * (shadowed, poisoned) again; to the CPU, it is checked before the pool
 * copies the slot back.
 */
static noinline void sync_sanitized(struct altdma_dev *adev, phys_addr_t phys,
				    size_t size, enum dma_data_direction dir,
				    bool for_device,
				    const struct altdma_san_call *call)
{
	if (for_device) {
		altdma_san_undo(adev->san, phys, size);
		if (altdma_bounce_sync_for_device(adev->pool, phys, size, dir))
			return;
		altdma_san_to_device(adev->san, phys, size);
		cache_for_device(adev, phys, size, dir);
	} else {
		cache_for_cpu(adev, phys, size, dir);
		altdma_san_to_cpu(adev->san, phys, size, false, call);
		altdma_bounce_sync_for_cpu(adev->pool, phys, size, dir);
	}
}

/*
 * Sync @size bytes at @phys, the memory the device uses there; @call
 * names the sync for the sanitizer.
 */
static void sync_phys(struct altdma_dev *adev, phys_addr_t phys, size_t size,
		      enum dma_data_direction dir, bool for_device,
		      const struct altdma_san_call *call)
{
	bool bounced = adev->pool && altdma_bounce_owns(adev->pool, phys);

	if (unlikely(bounced && adev->san)) {
		sync_sanitized(adev, phys, size, dir, for_device, call);
		return;
	}
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

/* The live mapping object whose IOVA range holds @dma, or NULL. */
static struct altdma_map *map_holding(struct altdma_dev *adev, dma_addr_t dma,
				      u32 *state)
{
	unsigned long pfn = dma >> adev->shift;
	struct altdma_iova_range *r = altdma_iova_lookup(&adev->iovad, pfn);
	struct altdma_map *m;

	if (!r)
		r = altdma_iova_find(&adev->iovad, pfn);
	if (!r)
		return NULL;
	m = altdma_map_of(r);
	/* pairs with the release in map_publish(): the fields are set */
	*state = smp_load_acquire(&m->state);
	if ((*state & ALTDMA_MAP_STATE_MASK) != ALTDMA_MAP_MAPPED)
		return NULL;
	return m;
}

/*
 * Why a sync of [@dma, @dma + @size) in @dir may not go to the live
 * mapping @m, or KINDS: it must stay inside the buffer mapped (for an sg
 * mapping, inside its IOVA range: drivers sync single entries of a list)
 * and, unless the mapping is bidirectional, use its direction
 * (DMA_API_DEBUG's "syncs DMA memory with different direction").
 */
static enum altdma_refusal sync_mismatch(struct altdma_dev *adev,
					 const struct altdma_map *m,
					 dma_addr_t dma, size_t size,
					 enum dma_data_direction dir)
{
	dma_addr_t first = m->dma, last = m->dma + m->size - 1;

	if (m->type == ALTDMA_MAP_SG) {
		first = altdma_map_iova(m, adev->shift);
		last = ((dma_addr_t)(m->range.pfn_hi + 1) << adev->shift) - 1;
	}
	if (!size || dma < first || dma > last || size - 1 > last - dma)
		return ALTDMA_REFUSE_SIZE;
	if (m->dir != DMA_BIDIRECTIONAL && m->dir != dir)
		return ALTDMA_REFUSE_DIR;
	return ALTDMA_REFUSE_KINDS;
}

/*
 * Sync [@dma, @dma + @size) of a live mapping through whatever memory the
 * device uses there, or refuse: no live mapping there, a range outside it
 * or another direction.
 */
static void sync_one(struct altdma_dev *adev, dma_addr_t dma, size_t size,
		     enum dma_data_direction dir, bool for_device,
		     const char *what, unsigned long caller)
{
	struct altdma_san_call call = {
		.what = what, .dma = dma, .caller = caller,
	};
	enum altdma_refusal kind = ALTDMA_REFUSE_UNKNOWN;
	phys_addr_t phys = 0;
	struct altdma_map *m;
	u32 s;

	m = map_holding(adev, dma, &s);
	if (!m && prev_holds(adev, dma)) {
		altdma_prev_sync_single(adev->prev, dma, size, dir, for_device);
		prev_count(adev);
		return;
	}
	if (m) {
		call.site = READ_ONCE(m->site);
		kind = sync_mismatch(adev, m, dma, size, dir);
		if (kind == ALTDMA_REFUSE_KINDS)
			phys = adev->pt->iova_to_phys(adev->pt_priv, dma);
		if (READ_ONCE(m->state) != s)
			kind = ALTDMA_REFUSE_UNKNOWN;
	}
	if (kind != ALTDMA_REFUSE_KINDS || !phys) {
		if (kind == ALTDMA_REFUSE_KINDS)
			kind = ALTDMA_REFUSE_UNKNOWN;
		altdma_dev_refuse(adev, kind, what, dma, size, dir, caller);
		return;
	}
	sync_phys(adev, phys, size, dir, for_device, &call);
}

static void sync_single(struct device *dev, dma_addr_t dma, size_t size,
			enum dma_data_direction dir, bool for_device,
			const char *what, unsigned long caller)
{
	struct altdma_dev *adev;

	altdma_op_lock();
	adev = adev_rcu(dev);
	if (adev)
		sync_one(adev, dma, size, dir, for_device, what, caller);
	altdma_op_unlock();
}

static void altdma_sync_single_for_cpu(struct device *dev, dma_addr_t dma,
				       size_t size, enum dma_data_direction dir)
{
	sync_single(dev, dma, size, dir, false, "sync_single_for_cpu",
		    _RET_IP_);
}

static void altdma_sync_single_for_device(struct device *dev, dma_addr_t dma,
					  size_t size,
					  enum dma_data_direction dir)
{
	sync_single(dev, dma, size, dir, true, "sync_single_for_device",
		    _RET_IP_);
}

/*
 * The segments of the live sg mapping at @dma with @nents entries, or NULL
 * after a refusal. Called under altdma_op_lock().
 */
static struct altdma_map_seg *sg_live_segs(struct altdma_dev *adev,
					   dma_addr_t dma, int nents,
					   enum dma_data_direction dir,
					   const char *what,
					   unsigned long caller,
					   struct altdma_seg_iter *it,
					   unsigned long *site, bool *prev)
{
	unsigned int n;
	enum altdma_refusal kind = ALTDMA_REFUSE_UNKNOWN;
	struct altdma_map_seg *segs = NULL;
	struct altdma_map *m = map_find(adev, dma);
	u32 s;

	if (m && READ_ONCE(m->type) == ALTDMA_MAP_SG) {
		/* pairs with the release in map_publish(): the fields are set */
		s = smp_load_acquire(&m->state);
		kind = ALTDMA_REFUSE_DOUBLE;
		if ((s & ALTDMA_MAP_STATE_MASK) != ALTDMA_MAP_MAPPED ||
		    m->dma != dma || m->type != ALTDMA_MAP_SG)
			goto refuse;
		kind = ALTDMA_REFUSE_SIZE;
		if (nents < 0 || m->size != nents)
			goto refuse;
		kind = ALTDMA_REFUSE_DIR;
		if (m->dir != DMA_BIDIRECTIONAL && m->dir != dir)
			goto refuse;
		kind = ALTDMA_REFUSE_DOUBLE;
		*site = m->site;
		segs = map_segs_stable(m, s, &n, it);
	}
	if (segs)
		return segs;
	*prev = !m && prev_holds(adev, dma);
	if (*prev)
		return NULL;
refuse:
	altdma_dev_refuse(adev, kind, what, dma, nents, dir, caller);
	return NULL;
}

/*
 * Sync a mapped list segment by segment, each through the memory the
 * device uses for it (the bounce slot when bounced), never sg_phys()
 * (seed 003, fix 1). The direction must be the mapping's (or the mapping
 * bidirectional).
 */
static void sync_sg(struct device *dev, struct scatterlist *sgl, int nents,
		    enum dma_data_direction dir, bool for_device,
		    const char *what, unsigned long caller)
{
	dma_addr_t dma = sgl ? sg_dma_address(sgl) : DMA_MAPPING_ERROR;
	struct altdma_san_call call = { .what = what, .caller = caller };
	struct altdma_map_seg *seg;
	struct altdma_seg_iter it;
	struct altdma_dev *adev;
	bool prev = false;

	altdma_op_lock();
	adev = adev_rcu(dev);
	seg = adev ? sg_live_segs(adev, dma, nents, dir, what, caller, &it,
				  &call.site, &prev) : NULL;
	if (unlikely(prev)) {
		altdma_prev_sync_sg(adev->prev, sgl, nents, dir, for_device);
		prev_count(adev);
	}
	for (; seg; seg = altdma_segs_next(&it)) {
		call.dma = seg->dma;
		sync_phys(adev, seg_data(seg), seg->len, dir, for_device,
			  &call);
	}
	altdma_op_unlock();
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

/**
 * struct seg_list - the segments of a list being mapped
 * @ext: the chunks of a list of more than one, or NULL
 * @one: the segment of a list of one
 */
struct seg_list {
	struct altdma_map_segs *ext;
	struct altdma_map_seg one;
};

/* The first segment of @sl; altdma_segs_next(@it) gives the others. */
static struct altdma_map_seg *list_seg_first(struct seg_list *sl,
					     struct altdma_seg_iter *it)
{
	return altdma_segs_first(sl->ext, &sl->one, it);
}

static bool crosses(dma_addr_t start, size_t len, unsigned long bmask)
{
	return (start & ~(dma_addr_t)bmask) !=
	       ((start + len - 1) & ~(dma_addr_t)bmask);
}

/**
 * struct sg_limits - where the DMA segments of a list may go
 * @base: IOVA of the range the list is laid out in (0 while its size is
 *	found: then @bmask is below the range's alignment, or the layout is
 *	done again at the real base)
 * @align: the min_align_mask alignment of spans, bytes
 * @bmask: the device's segment boundary mask (at least a granule)
 * @max_seg: the device's max segment size
 * @longest: set to the longest DMA segment laid out, bytes
 */
struct sg_limits {
	dma_addr_t base;
	size_t align;
	unsigned long bmask;
	size_t max_seg;
	size_t longest;
};

/*
 * Lay the segments' spans out in one IOVA range at @l->base, relative to
 * it. A segment joins the previous DMA segment when it starts on a
 * granule, the previous one ends on one, and the result stays within the
 * max segment size and does not cross the boundary (at its real address).
 * A new DMA segment that would cross the boundary starts at the next one
 * instead; its span keeps the min_align_mask alignment. Returns the number
 * of DMA segments; *@bytes gets the size.
 */
static int sg_layout(struct seg_list *sl, struct sg_limits *l, size_t *bytes)
{
	struct altdma_map_seg *seg, *prev = NULL;
	dma_addr_t cur_start = 0, b = l->base;
	size_t pos = 0, cur_len = 0;
	struct altdma_seg_iter it;
	int count = 0;

	l->longest = 0;
	for (seg = list_seg_first(sl, &it); seg; seg = altdma_segs_next(&it)) {
		seg->merged = prev && seg_data_off(seg) == 0 &&
			      seg_data_off(prev) + prev->len == prev->span_len &&
			      span_fits(seg, pos, l->align) &&
			      cur_len + seg->len <= l->max_seg &&
			      !crosses(b + cur_start, cur_len + seg->len,
				       l->bmask);
		if (seg->merged) {
			cur_len += seg->len;
		} else {
			pos = span_place(seg, pos, l->align);
			if (crosses(b + pos + seg_data_off(seg), seg->len,
				    l->bmask))
				pos = span_place(seg, ALIGN(b + pos + 1,
							    (dma_addr_t)l->bmask + 1) - b,
						 l->align);
			cur_start = pos + seg_data_off(seg);
			cur_len = seg->len;
			count++;
		}
		l->longest = max(l->longest, cur_len);
		seg->span_off = pos;
		seg->dma = pos + seg_data_off(seg);
		pos += seg->span_len;
		prev = seg;
	}
	*bytes = pos;
	return count;
}

/* Write the DMA segments into the list: merged segments share an entry. */
static void sg_finish(struct seg_list *sl, dma_addr_t iova,
		      struct scatterlist *sgl, int nents)
{
	struct scatterlist *s, *out = NULL;
	struct altdma_map_seg *seg;
	struct altdma_seg_iter it;
	int j;

	for_each_sg(sgl, s, nents, j) {
		sg_dma_address(s) = DMA_MAPPING_ERROR;
		sg_dma_len(s) = 0;
	}
	for (seg = list_seg_first(sl, &it); seg; seg = altdma_segs_next(&it)) {
		seg->dma += iova;
		if (out && seg->merged) {
			sg_dma_len(out) += seg->len;
			continue;
		}
		out = out ? sg_next(out) : sgl;
		sg_dma_address(out) = seg->dma;
		sg_dma_len(out) = seg->len;
	}
}

static void sg_unbounce_all(struct altdma_dev *adev, struct seg_list *sl,
			    int n, enum dma_data_direction dir,
			    unsigned long attrs)
{
	struct altdma_map_seg *seg;
	struct altdma_seg_iter it;

	for (seg = list_seg_first(sl, &it); seg; seg = altdma_segs_next(&it)) {
		if (n-- <= 0)
			break;
		seg_unbounce(adev, seg, dir, attrs);
	}
}

static int sg_prepare_all(struct altdma_dev *adev, struct seg_list *sl,
			  struct scatterlist *sgl, int nents,
			  enum dma_data_direction dir, unsigned long attrs,
			  unsigned long caller)
{
	struct altdma_map_seg *seg;
	struct altdma_seg_iter it;
	struct scatterlist *s;
	int i, ret;

	seg = altdma_segs_first(sl->ext, &sl->one, &it);
	for_each_sg(sgl, s, nents, i) {
		seg->orig = sg_phys(s);
		seg->len = s->length;
		ret = -EINVAL;
		if (unlikely(s->length && wraps(seg->orig, seg->len)))
			map_wrap_report(adev, ALTDMA_MAP_SG, seg->len, caller);
		else if (s->length)
			ret = seg_prepare(adev, seg, dir, attrs, true);
		if (ret) {
			sg_unbounce_all(adev, sl, i, dir, attrs);
			return ret;
		}
		if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
			cache_for_device(adev, seg_data(seg), seg->len, dir);
		seg = altdma_segs_next(&it);
	}
	return 0;
}

/*
 * Lay the list out for the device's segment limits, relative to a base
 * aligned to the boundary; returns the number of DMA segments, *@bytes
 * the IOVA it needs and *@align its alignment in pages.
 */
static int sg_place(struct altdma_dev *adev, struct seg_list *sl,
		    struct sg_limits *l, size_t *bytes, unsigned long *align)
{
	*align = mask_pages(adev);
	l->base = 0;
	l->align = *align << adev->shift;
	l->bmask = max_t(unsigned long, dma_get_seg_boundary(adev->dev),
			 adev->granule - 1);
	l->max_seg = dma_get_max_seg_size(adev->dev);
	return sg_layout(sl, l, bytes);
}

/*
 * Whether a range of @bytes may sit anywhere its alignment allows without
 * moving a boundary: the allocator aligns ranges up to
 * %ALTDMA_IOVA_ALIGN_MAX pages to their power-of-two size, so such a range
 * lies inside one boundary window whenever the window is at least that
 * large, and a window no larger than the alignment is a divisor of it.
 */
static bool sg_base_free(const struct altdma_dev *adev,
			 const struct sg_limits *l, size_t bytes)
{
	size_t big = (size_t)ALTDMA_IOVA_ALIGN_MAX << adev->shift;

	return bytes <= big || l->bmask < big;
}

/* Give back an object that never held a mapping. */
static void map_unused(struct altdma_dev *adev, struct altdma_map *m)
{
	WRITE_ONCE(m->dma, DMA_MAPPING_ERROR);
	altdma_iova_put_range(&adev->iovad, &m->range);
}

/*
 * The object and IOVA of a list laid out by sg_place(). A range larger
 * than the allocator's alignment may start anywhere inside a boundary
 * window: the list is laid out again at the range's real address. Almost
 * always no boundary falls inside and the layout fits the range it was
 * sized for (a size the caches keep); when a boundary gap makes it longer,
 * the range goes back and a larger one (with room for one more gap, the
 * longest DMA segment) is tried, twice at most. No DMA segment ever
 * crosses the boundary (issue 14, item 3).
 */
static struct altdma_map *sg_alloc_iova(struct altdma_dev *adev,
					struct seg_list *sl,
					struct sg_limits *l, size_t bytes,
					unsigned long align, int *count)
{
	size_t room = bytes, need;
	struct altdma_map *m;
	int tries;

	if (sg_base_free(adev, l, bytes))
		return map_alloc(adev, bytes, align, dma_get_mask(adev->dev));
	for (tries = 0; tries < 3; tries++) {
		m = map_alloc(adev, room, align, dma_get_mask(adev->dev));
		if (!m)
			return NULL;
		l->base = altdma_map_iova(m, adev->shift);
		*count = sg_layout(sl, l, &need);
		if (need <= room)
			return m;
		map_unused(adev, m);
		room = ALIGN(need + l->longest, adev->granule);
	}
	return NULL;
}

/*
 * The segment chunks of a list of more than one (an allocation point):
 * order-0 allocations only, whatever the list's length.
 */
static noinline __noipa struct altdma_map_segs *sg_segs_alloc(int nents)
{
	struct altdma_map_segs *first = NULL, **link = &first, *ext;
	unsigned int left = nents, here;

	while (left) {
		here = min_t(unsigned int, left, ALTDMA_MAP_SEGS_PER_CHUNK);
		ext = kmalloc(struct_size(ext, seg, here),
			      GFP_ATOMIC | __GFP_NOWARN);
		if (!ext) {
			altdma_map_segs_free(first);
			return NULL;
		}
		ext->here = here;
		ext->next = NULL;
		*link = ext;
		link = &ext->next;
		left -= here;
	}
	first->n = nents;
	return first;
}

ALLOW_ERROR_INJECTION(sg_segs_alloc, NULL);

/*
 * Called under altdma_op_lock() (see altdma_map_sg()): on a failed map of
 * the spans, map_abort() has given the object back and dropped the
 * segment chunks with kfree_rcu(), so they are still readable here for the
 * bounce slots to be given back.
 */
static int map_sg(struct altdma_dev *adev, struct scatterlist *sgl,
		  int nents, enum dma_data_direction dir, unsigned long attrs,
		  unsigned long caller)
{
	struct map_req q = {
		.rec_size = nents, .dir = dir, .attrs = attrs,
		.type = ALTDMA_MAP_SG,
	};
	struct seg_list sl = { .ext = NULL };
	int prot, count, ret = -EINVAL;
	struct sg_limits lim;
	unsigned long align;
	struct altdma_map *m;
	bool kept = false;
	size_t bytes;

	prot = dir_prot(adev, dir, attrs, false);
	if (!sgl || nents <= 0 || !prot)
		goto fail;
	ret = -ENOMEM;
	if (nents > 1) {
		sl.ext = sg_segs_alloc(nents);
		if (!sl.ext)
			goto fail;
	}
	ret = sg_prepare_all(adev, &sl, sgl, nents, dir, attrs, caller);
	if (ret)
		goto free_ext;
	count = sg_place(adev, &sl, &lim, &bytes, &align);
	m = sg_alloc_iova(adev, &sl, &lim, bytes, align, &count);
	ret = -ENOMEM;
	if (!m)
		goto unbounce;
	sg_finish(&sl, altdma_map_iova(m, adev->shift), sgl, nents);
	map_fill(m, &q, sg_dma_address(sgl), caller);
	if (sl.ext)
		m->ext = sl.ext;
	else
		m->seg0 = sl.one;
	ret = spans_map(adev, m, prot, caller, &kept);
	if (ret) {
		/* the chunks were the object's: dropped with it, after RCU */
		if (!kept)
			sg_unbounce_all(adev, &sl, nents, dir, attrs);
		goto fail;
	}
	/* before the publish: afterwards an unmap may race with us */
	trace_altdma_map(adev->dev, ALTDMA_MAP_SG, m->dma, nents, dir,
			 altdma_map_iova(m, adev->shift), m->range.npages,
			 m->site);
	map_publish(adev, m);
	return count;

unbounce:
	if (!kept)
		sg_unbounce_all(adev, &sl, nents, dir, attrs);
free_ext:
	altdma_map_segs_free(sl.ext);
fail:
	atomic64_inc(&adev->failed);
	return ret;
}

static int altdma_map_sg(struct device *dev, struct scatterlist *sgl,
			 int nents, enum dma_data_direction dir,
			 unsigned long attrs)
{
	struct altdma_dev *adev;
	int ret = -EINVAL;

	altdma_op_lock();
	adev = adev_rcu(dev);
	if (adev)
		ret = map_sg(adev, sgl, nents, dir, attrs, _RET_IP_);
	altdma_op_unlock();
	return ret;
}

static void altdma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	dma_addr_t dma = sgl ? sg_dma_address(sgl) : DMA_MAPPING_ERROR;

	unmap_on(dev, dma, nents, dir, attrs, ALTDMA_MAP_SG, sgl, "unmap_sg",
		 _RET_IP_);
}

/* ---- allocations ---- */

/* Bytes actually allocated and mapped for a request of @size. */
static size_t alloc_bytes(const struct altdma_dev *adev, size_t size)
{
	return ALIGN(PAGE_ALIGN(size), adev->granule);
}

/* Zeroed pages of a coherent or dma_alloc_pages() allocation. */
static noinline __noipa struct page *coherent_pages(gfp_t gfp,
						    size_t bytes)
{
	return alloc_pages(gfp | __GFP_ZERO, get_order(bytes));
}

ALLOW_ERROR_INJECTION(coherent_pages, NULL);

/*
 * Whether a coherent allocation is built of separate pages, mapped
 * contiguously in IOVA and remapped for the CPU, as dma-iommu builds
 * them: when the caller may sleep, did not ask for one block, and the size
 * needs more than a cheap order (or the caller asked for single pages).
 * Sizes of any length then work, under fragmentation too, and take only
 * the pages they need.
 */
static bool alloc_split(gfp_t gfp, unsigned long attrs, size_t bytes)
{
	if (!gfpflags_allow_blocking(gfp) ||
	    (attrs & DMA_ATTR_FORCE_CONTIGUOUS))
		return false;
	return get_order(bytes) > PAGE_ALLOC_COSTLY_ORDER ||
	       (attrs & DMA_ATTR_ALLOC_SINGLE_PAGES);
}

static void split_pages_free(struct page **pages, unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		__free_page(pages[i]);
	kvfree(pages);
}

/*
 * @count zeroed pages (a multiple of the granule's), in blocks as large as
 * the page allocator gives cheaply and never smaller than a granule, so
 * that every granule is physically contiguous; split into single pages.
 */
static noinline __noipa struct page **split_pages_alloc(struct altdma_dev *adev,
							unsigned int count,
							gfp_t gfp,
							unsigned long attrs)
{
	unsigned int min_order = get_order(adev->granule), order, i = 0, j;
	struct page **pages = kvcalloc(count, sizeof(*pages), GFP_KERNEL);
	gfp_t big = __GFP_NORETRY | __GFP_NOWARN;
	struct page *p;

	if (!pages)
		return NULL;
	gfp = (gfp & ~__GFP_COMP) | __GFP_ZERO;
	if (attrs & DMA_ATTR_NO_WARN)
		gfp |= __GFP_NOWARN;
	order = (attrs & DMA_ATTR_ALLOC_SINGLE_PAGES) ? min_order :
		ALTDMA_MAX_PAGE_ORDER;
	while (i < count) {
		while (order > min_order && (1U << order) > count - i)
			order--;
		p = alloc_pages(order > min_order ? gfp | big : gfp, order);
		if (!p && order > min_order) {
			order--;
			continue;
		}
		if (!p)
			goto fail;
		split_page(p, order);
		for (j = 0; j < (1U << order); j++)
			pages[i++] = p + j;
	}
	return pages;
fail:
	split_pages_free(pages, i);
	return NULL;
}

ALLOW_ERROR_INJECTION(split_pages_alloc, NULL);

/*
 * Map @count pages at the start of @m's range, run by physically
 * contiguous run; on failure undo (map_abort(): the range back, or
 * quarantined with the pages kept for good). Sleeps.
 */
static int split_pages_map(struct altdma_dev *adev, struct altdma_map *m,
			   struct page **pages, unsigned int count, int prot,
			   unsigned long caller, bool *kept)
{
	dma_addr_t iova = altdma_map_iova(m, adev->shift);
	unsigned int i = 0, run;
	int ret;

	while (i < count) {
		for (run = 1; i + run < count &&
		     page_to_pfn(pages[i + run]) == page_to_pfn(pages[i]) + run;
		     run++)
			;
		ret = altdma_pt_map(adev->pt, adev->pt_priv,
				    iova + ((dma_addr_t)i << PAGE_SHIFT),
				    page_to_phys(pages[i]),
				    (size_t)run << PAGE_SHIFT, prot, GFP_KERNEL);
		if (ret) {
			m->seg0.span_len = (size_t)i << PAGE_SHIFT;
			*kept = !map_abort(adev, m, i ? 1 : 0, caller);
			return ret;
		}
		i += run;
	}
	return 0;
}

/*
 * Map the pages of an allocation built of separate pages (@q->size bytes,
 * @q->cpu_addr already set) contiguously in IOVA and publish it; returns
 * the DMA address or DMA_MAPPING_ERROR (*@kept: the pages must never be
 * freed, the device may still reach them). Sleeps.
 */
static dma_addr_t split_map(struct altdma_dev *adev, const struct map_req *q,
			    struct page **pages, unsigned long caller,
			    bool *kept)
{
	int prot = dir_prot(adev, q->dir, q->attrs, false);
	struct altdma_map *m;
	dma_addr_t dma;

	m = map_alloc(adev, q->size, 1, q->mask);
	if (!m)
		goto fail;
	dma = altdma_map_iova(m, adev->shift);
	map_fill(m, q, dma, caller);
	m->seg0 = (struct altdma_map_seg){
		.orig = page_to_phys(pages[0]),
		.span_phys = page_to_phys(pages[0]),
		.dma = dma, .len = q->size, .span_len = q->size,
	};
	m->pages = pages;
	if (split_pages_map(adev, m, pages, q->size >> PAGE_SHIFT, prot,
			    caller, kept))
		goto fail;
	trace_altdma_map(adev->dev, q->type, dma, q->rec_size, q->dir, dma,
			 m->range.npages, m->site);
	map_publish(adev, m);
	return dma;
fail:
	atomic64_inc(&adev->failed);
	return DMA_MAPPING_ERROR;
}

/*
 * A coherent allocation of separate pages, remapped for the CPU (with
 * DMA_ATTR_NO_KERNEL_MAPPING, no mapping: the pages array is the cookie
 * the driver gives back, as with dma-iommu). Sleeps.
 */
static void *alloc_coherent_split(struct altdma_dev *adev, struct map_req *q,
				  dma_addr_t *handle, gfp_t gfp,
				  unsigned long caller)
{
	unsigned int count = q->size >> PAGE_SHIFT;
	bool kept = false, mapped = !(q->attrs & DMA_ATTR_NO_KERNEL_MAPPING);
	struct page **pages;
	void *cpu_addr;

	pages = split_pages_alloc(adev, count, gfp, q->attrs);
	if (!pages)
		return NULL;
	cpu_addr = mapped ? vmap(pages, count, VM_MAP, PAGE_KERNEL) : pages;
	if (!cpu_addr)
		goto free;
	q->cpu_addr = cpu_addr;
	*handle = split_map(adev, q, pages, caller, &kept);
	if (*handle != DMA_MAPPING_ERROR)
		return cpu_addr;
	if (mapped)
		vunmap(cpu_addr);
	if (kept)
		return NULL;
free:
	split_pages_free(pages, count);
	return NULL;
}

static void *alloc_coherent(struct altdma_dev *adev, size_t size,
			    dma_addr_t *handle, gfp_t gfp, unsigned long attrs,
			    unsigned long caller)
{
	struct device *dev = adev->dev;
	struct map_req q = {
		.rec_size = size, .dir = DMA_BIDIRECTIONAL,
		.attrs = attrs & (DMA_ATTR_PRIVILEGED |
				  DMA_ATTR_NO_KERNEL_MAPPING),
		.type = ALTDMA_MAP_COHERENT,
		.mask = dev->coherent_dma_mask,
	};
	struct page *page;
	void *cpu_addr;

	if (!handle || !size)
		return NULL;
	q.size = alloc_bytes(adev, size);
	if (alloc_split(gfp, attrs, q.size))
		return alloc_coherent_split(adev, &q, handle, gfp, caller);
	if (attrs & DMA_ATTR_NO_WARN)
		gfp |= __GFP_NOWARN;
	if (get_order(q.size) > ALTDMA_MAX_PAGE_ORDER)
		return NULL;
	page = coherent_pages(gfp, q.size);
	if (!page)
		return NULL;
	cpu_addr = page_address(page);
	q.phys = page_to_phys(page);
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
	struct altdma_dev *adev = adev_held(dev);
	void *cpu_addr = NULL;

	if (adev)
		cpu_addr = alloc_coherent(adev, size, handle, gfp, attrs,
					  _RET_IP_);
	altdma_dev_put(adev);
	return cpu_addr;
}

/**
 * struct freed - what a free gives back once its mapping is released
 * @done: the mapping was released (else refused or quarantined: nothing
 *	may be given back)
 * @pages: the pages of an allocation built of separate pages, or NULL
 * @bytes: what was allocated (alloc_bytes() of the size given)
 */
struct freed {
	bool done;
	struct page **pages;
	size_t bytes;
};

/*
 * A free (@q names the allocation's memory in cpu_addr): release the
 * mapping, or refuse it (map_claim() checks the memory with the rest) and
 * leave the mapping as it was. The memory itself goes back afterwards,
 * outside the read-side section (see give_back()).
 */
static void free_on(struct device *dev, struct claim_req *q,
		    struct freed *f)
{
	struct altdma_dev *adev;
	struct altdma_map *m;

	f->done = false;
	altdma_op_lock();
	adev = adev_rcu(dev);
	m = adev ? map_claim(adev, q) : NULL;
	if (m) {
		f->pages = m->pages;
		f->bytes = alloc_bytes(adev, q->size);
		/* no CPU sync: the memory goes back to the page allocator */
		f->done = map_release(adev, m, DMA_ATTR_SKIP_CPU_SYNC, q->what,
				      q->caller);
	}
	altdma_op_unlock();
}

/*
 * A free of an allocation the previous layer made before the attach goes
 * back there, outside the read-side section (it may sleep), with the
 * context held so that the layer stays (@page: for free_pages, else NULL).
 */
static noinline void prev_free(struct device *dev, const struct claim_req *q,
			       void *cpu_addr, struct page *page,
			       unsigned long attrs)
{
	struct altdma_dev *adev = adev_held(dev);

	if (!adev)
		return;
	if (adev->prev && page)
		altdma_prev_free_pages(adev->prev, q->size, page, q->dma,
				       q->dir);
	else if (adev->prev)
		altdma_prev_free(adev->prev, q->size, cpu_addr, q->dma, attrs);
	prev_count(adev);
	altdma_dev_put(adev);
}

/* Give a released allocation's memory back; @cpu_addr as it was given. */
static void give_back(const struct freed *f, const void *cpu_addr)
{
	if (!f->done)
		return;
	if (!f->pages) {
		__free_pages(virt_to_page(cpu_addr), get_order(f->bytes));
		return;
	}
	if (cpu_addr != f->pages && is_vmalloc_addr(cpu_addr))
		vunmap(cpu_addr);
	split_pages_free(f->pages, f->bytes >> PAGE_SHIFT);
}

static void altdma_free(struct device *dev, size_t size, void *cpu_addr,
			dma_addr_t handle, unsigned long attrs)
{
	struct claim_req q = {
		.dma = handle, .size = size, .dir = DMA_BIDIRECTIONAL,
		.type = ALTDMA_MAP_COHERENT, .what = "free",
		.cpu_addr = cpu_addr,
		.cpu_bad = "free (cpu address does not match)",
		.caller = _RET_IP_,
	};
	struct freed f;

	free_on(dev, &q, &f);
	if (unlikely(q.prev))
		prev_free(dev, &q, cpu_addr, NULL, attrs);
	give_back(&f, cpu_addr);
}

static struct page *altdma_alloc_pages(struct device *dev, size_t size,
				       dma_addr_t *handle,
				       enum dma_data_direction dir, gfp_t gfp)
{
	struct altdma_dev *adev = adev_held(dev);
	struct map_req q = {
		.rec_size = size, .dir = dir, .type = ALTDMA_MAP_PAGES,
	};
	struct page *page = NULL;

	if (!adev || !handle || !size)
		goto out;
	q.size = alloc_bytes(adev, size);
	if (get_order(q.size) > ALTDMA_MAX_PAGE_ORDER)
		goto out;
	/* zeroed, as dma-direct and dma-iommu give them (issue 14, item 1) */
	page = coherent_pages(gfp, q.size);
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
	struct claim_req q = {
		.dma = handle, .size = size, .dir = dir,
		.type = ALTDMA_MAP_PAGES, .what = "free_pages",
		.cpu_addr = page ? page_address(page) : NULL,
		.cpu_bad = "free_pages (page does not match)",
		.caller = _RET_IP_,
	};
	struct freed f;

	free_on(dev, &q, &f);
	if (unlikely(q.prev))
		prev_free(dev, &q, NULL, page, 0);
	give_back(&f, q.cpu_addr);
}

/*
 * dma_alloc_noncontiguous() (up to 6.9, see altdma_compat.h): separate
 * pages mapped as one DMA segment, in the handle the DMA API expects
 * (dma_vmap_noncontiguous() and dma_mmap_noncontiguous() use its pages).
 * The handle is the allocation's identity for the free.
 */
static __maybe_unused struct sg_table *
altdma_alloc_noncontiguous(struct device *dev, size_t size,
			   enum dma_data_direction dir, gfp_t gfp,
			   unsigned long attrs)
{
	struct altdma_dev *adev = adev_held(dev);
	struct map_req q = {
		.rec_size = size, .dir = dir, .type = ALTDMA_MAP_PAGES,
		.attrs = attrs & DMA_ATTR_PRIVILEGED,
	};
	struct altdma_sgt_handle *sh = NULL;
	struct page **pages = NULL;
	bool kept = false;
	dma_addr_t dma;

	if (!adev || !size || !gfpflags_allow_blocking(gfp))
		goto out;
	q.size = alloc_bytes(adev, size);
	q.mask = dev->coherent_dma_mask;
	sh = kzalloc(sizeof(*sh), GFP_KERNEL);
	pages = sh ? split_pages_alloc(adev, q.size >> PAGE_SHIFT, gfp,
				       attrs) : NULL;
	if (!pages ||
	    sg_alloc_table_from_pages(&sh->sgt, pages, q.size >> PAGE_SHIFT,
				      0, q.size, GFP_KERNEL))
		goto fail;
	sh->pages = pages;
	q.cpu_addr = sh;
	dma = split_map(adev, &q, pages, _RET_IP_, &kept);
	if (dma == DMA_MAPPING_ERROR)
		goto fail_table;
	sh->sgt.sgl->dma_address = dma;
	sg_dma_len(sh->sgt.sgl) = size;
	sh->sgt.nents = 1;
	goto out;

fail_table:
	sg_free_table(&sh->sgt);
fail:
	if (pages && !kept)
		split_pages_free(pages, q.size >> PAGE_SHIFT);
	kfree(sh);
	sh = NULL;
out:
	altdma_dev_put(adev);
	return sh ? &sh->sgt : NULL;
}

static __maybe_unused void altdma_free_noncontiguous(struct device *dev,
						     size_t size,
						     struct sg_table *sgt,
						     enum dma_data_direction dir)
{
	struct altdma_sgt_handle *sh =
		container_of(sgt, struct altdma_sgt_handle, sgt);
	struct claim_req q = {
		.dma = sg_dma_address(sgt->sgl), .size = size, .dir = dir,
		.type = ALTDMA_MAP_PAGES, .what = "free_noncontiguous",
		.cpu_addr = sh,
		.cpu_bad = "free_noncontiguous (table does not match)",
		.caller = _RET_IP_,
	};
	struct freed f;

	free_on(dev, &q, &f);
	if (!f.done)
		return;
	split_pages_free(sh->pages, f.bytes >> PAGE_SHIFT);
	sg_free_table(&sh->sgt);
	kfree(sh);
}

/*
 * The pages of the coherent allocation at @cpu_addr: one block in the
 * linear map, or the separate pages of its mapping object (found by
 * @dma); *@count pages. NULL when @cpu_addr is neither.
 */
static struct page **alloc_pages_of(struct device *dev, void *cpu_addr,
				    dma_addr_t dma, struct page **one,
				    size_t size, unsigned int *count)
{
	struct page **pages = NULL;
	struct altdma_dev *adev;
	struct altdma_map *m;

	*count = PAGE_ALIGN(size) >> PAGE_SHIFT;
	altdma_op_lock();
	adev = adev_rcu(dev);
	m = adev ? map_find(adev, dma) : NULL;
	if (m && altdma_map_live(m) && m->cpu_addr == cpu_addr &&
	    m->type == ALTDMA_MAP_COHERENT &&
	    *count <= m->seg0.len >> PAGE_SHIFT)
		pages = m->pages;
	altdma_op_unlock();
	if (!pages && cpu_addr && virt_addr_valid(cpu_addr)) {
		*one = virt_to_page(cpu_addr);
		return one;
	}
	return pages;
}

static int altdma_get_sgtable(struct device *dev, struct sg_table *sgt,
			      void *cpu_addr, dma_addr_t dma, size_t size,
			      unsigned long attrs)
{
	struct page *one, **pages;
	unsigned int count;
	int ret;

	pages = alloc_pages_of(dev, cpu_addr, dma, &one, size, &count);
	if (!pages)
		return -ENXIO;
	if (pages != &one)
		return sg_alloc_table_from_pages(sgt, pages, count, 0,
						 PAGE_ALIGN(size), GFP_KERNEL);
	ret = sg_alloc_table(sgt, 1, GFP_KERNEL);
	if (!ret)
		sg_set_page(sgt->sgl, one, PAGE_ALIGN(size), 0);
	return ret;
}

static int altdma_mmap(struct device *dev, struct vm_area_struct *vma,
		       void *cpu_addr, dma_addr_t dma, size_t size,
		       unsigned long attrs)
{
	unsigned long off = vma->vm_pgoff, nr = vma_pages(vma);
	struct page *one, **pages;
	unsigned int count;

	pages = alloc_pages_of(dev, cpu_addr, dma, &one, size, &count);
	if (!pages || off >= count || nr > count - off)
		return -ENXIO;
	if (pages != &one)
		return vm_map_pages(vma, pages, count);
	return remap_pfn_range(vma, vma->vm_start, page_to_pfn(one) + off,
			       nr << PAGE_SHIFT, vma->vm_page_prot);
}

/* ---- limits ---- */

static u64 altdma_get_required_mask(struct device *dev)
{
	struct altdma_dev *adev = adev_held(dev);
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
	return ALTDMA_DEV_CACHE_LIMIT;
}

static unsigned long altdma_get_merge_boundary(struct device *dev)
{
	struct altdma_dev *adev = altdma_dev_get(dev);
	unsigned long boundary = adev ? adev->granule - 1 : 0;

	altdma_dev_put(adev);
	return boundary;
}

/* The ops for devices with an altdma context. */
const struct dma_map_ops altdma_dma_ops = {
	.alloc = altdma_alloc,
	.free = altdma_free,
	ALTDMA_OP_ALLOC_PAGES(altdma_alloc_pages),
	.free_pages = altdma_free_pages,
	ALTDMA_OP_NONCONTIG(altdma_alloc_noncontiguous,
			    altdma_free_noncontiguous)
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
