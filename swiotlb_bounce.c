// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma bounce-buffer pool.
 *
 * The pool's memory is allocated once, when the pool is created, as
 * physically contiguous buddy blocks of the largest order the page allocator
 * gives (up to ALTDMA_MAX_PAGE_ORDER, 4 MiB on x86), never smaller than the
 * granule. Each block is a segment; a mapping never crosses one. Each segment has its
 * own IOVA allocator (iova_alloc.h) working over granule indices, which
 * hands out slots in O(log n) with per-CPU caches and refuses a bad free.
 *
 * Slot layout. The allocator rounds sizes of up to 32 granules to a power of
 * two and aligns them to it; larger sizes keep their exact granule count
 * and are aligned to 32 granules. So a slot is a power-of-two run of up to
 * 32 granules, or an exact count above. It
 * starts on a granule, so an IOMMU mapping of it never shows the device a
 * neighbouring slot (seed 003, fix 5). The data sits at offset
 * (orig & min_align_mask) in the slot (fix 4); when the mask reaches past a
 * granule the slot is made large enough for the allocator's size alignment
 * to align it to roundup_pow_of_two(mask + 1). The span the DMA layer maps
 * runs from the slot's start to the granule boundary after the data; every
 * byte of it that is not data is zeroed on map (the 6.1 tree zeroes only the
 * tail), and the data itself is zeroed when no copy is made.
 *
 * Each mapping has a record at its first granule, and every granule of its
 * span points back to that granule, so an address anywhere in a mapping
 * finds the record without a lock. Records change state with cmpxchg, and a
 * generation count makes a reused record different from the one a racing
 * caller read, so a double unmap is refused, not carried out twice.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/bitops.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/sort.h>
#include <linux/string.h>

#include "altdma_compat.h"
#include "swiotlb_bounce.h"

static unsigned long bounce_pool_size = ALTDMA_BOUNCE_DEFAULT_SIZE;

/* bounce_pool_size=: bytes, at most ALTDMA_BOUNCE_MAX_SIZE. */
static int bounce_pool_size_set(const char *val, const struct kernel_param *kp)
{
	unsigned long size;
	int ret = kstrtoul(val, 0, &size);

	if (ret)
		return ret;
	if (size > ALTDMA_BOUNCE_MAX_SIZE) {
		pr_err("bounce_pool_size=%lu refused: more than 256 MiB\n",
		       size);
		return -EINVAL;
	}
	*(unsigned long *)kp->arg = size;
	return 0;
}

static const struct kernel_param_ops bounce_pool_size_ops = {
	.set = bounce_pool_size_set,
	.get = param_get_ulong,
};

module_param_cb(bounce_pool_size, &bounce_pool_size_ops, &bounce_pool_size,
		0444);
__MODULE_PARM_TYPE(bounce_pool_size, "ulong");
MODULE_PARM_DESC(bounce_pool_size,
		 "Bytes of bounce memory in a pool created with size 0 (default 4 MiB; at most 256 MiB and a quarter of RAM, a larger value is refused)");

/**
 * altdma_bounce_max_size() - the largest pool altdma_bounce_pool_create()
 *	accepts
 *
 * %ALTDMA_BOUNCE_MAX_SIZE, or a quarter of RAM if that is less: a pool is
 * allocated up front, one per device that bounces.
 *
 * Context: any context.
 * Return: bytes.
 */
size_t altdma_bounce_max_size(void)
{
	return min_t(u64, ALTDMA_BOUNCE_MAX_SIZE,
		     (u64)totalram_pages() << PAGE_SHIFT >> 2);
}

/* &altdma_bounce_rec.state: state in the low bits, generation above. */
#define REC_STATE_MASK		3U
#define REC_GEN_STEP		4U

/* The OK value of a lookup: no refusal. */
#define BOUNCE_OK		ALTDMA_BOUNCE_REFUSE_KINDS

static inline u32 rec_state(u32 state)
{
	return state & REC_STATE_MASK;
}

static inline u32 rec_gen(u32 state)
{
	return state & ~REC_STATE_MASK;
}

static inline size_t seg_bytes(const struct altdma_bounce_seg *seg)
{
	return PAGE_SIZE << seg->order;
}

static inline bool dir_to_device(enum dma_data_direction dir)
{
	return dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL;
}

static inline bool dir_to_cpu(enum dma_data_direction dir)
{
	return dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL;
}

/* ---- copies (the pool and callers' buffers are in the linear map) ---- */

static void copy_to_slot(struct altdma_bounce_pool *pool, phys_addr_t dst,
			 phys_addr_t src, size_t len)
{
	memcpy(phys_to_virt(dst), phys_to_virt(src), len);
	this_cpu_add(pool->stats->bytes_to_device, len);
}

static void copy_to_orig(struct altdma_bounce_pool *pool, phys_addr_t dst,
			 phys_addr_t src, size_t len)
{
	memcpy(phys_to_virt(dst), phys_to_virt(src), len);
	this_cpu_add(pool->stats->bytes_to_cpu, len);
}

/* ---- refusals ---- */

static const char * const refusal_names[ALTDMA_BOUNCE_REFUSE_KINDS] = {
	[ALTDMA_BOUNCE_REFUSE_UNKNOWN] = "unknown address",
	[ALTDMA_BOUNCE_REFUSE_DOUBLE] = "mapping already released",
	[ALTDMA_BOUNCE_REFUSE_MIDDLE] = "not the start of a mapping",
	[ALTDMA_BOUNCE_REFUSE_SIZE] = "wrong size",
	[ALTDMA_BOUNCE_REFUSE_RANGE] = "range outside the mapping",
	[ALTDMA_BOUNCE_REFUSE_MAP] = "impossible request",
};

static const char * const state_names[REC_STATE_MASK + 1] = {
	[ALTDMA_BOUNCE_FREE] = "released",
	[ALTDMA_BOUNCE_MAPPED] = "live",
	[ALTDMA_BOUNCE_UNMAPPING] = "being released",
};

/*
 * What a lookup found: the segment, a snapshot of the record and where its
 * slot and data are. @seg is NULL when there is no mapping to name.
 */
struct bounce_view {
	struct altdma_bounce_seg *seg;
	struct altdma_bounce_rec rec;
	struct altdma_bounce_rec *live;
	u32 head;
	phys_addr_t span;
	phys_addr_t data;
};

/* Count a refusal; true if it is the first of its kind in @pool. */
static bool refusal_first(struct altdma_bounce_pool *pool,
			  enum altdma_bounce_refusal kind)
{
	atomic64_inc(&pool->refused[kind]);
	return !test_and_set_bit(kind, &pool->reported);
}

static struct altdma_bounce_seg *find_seg(struct altdma_bounce_pool *pool,
					  phys_addr_t addr);

/* Room for pool_pos()'s text: "seg 4294967295+0xffffffffffffffff". */
#define POOL_POS_LEN	40

/*
 * Where @addr lies in @pool, for the kernel log, which gets no physical
 * address (dmesg may be readable by anyone): "seg N+0xOFF", or "outside
 * the pool". Root finds each segment's base in debugfs "bounce".
 */
static const char *pool_pos(struct altdma_bounce_pool *pool, phys_addr_t addr,
			    char *buf)
{
	struct altdma_bounce_seg *seg = find_seg(pool, addr);

	if (!seg)
		return "outside the pool";
	snprintf(buf, POOL_POS_LEN, "seg %u+%#llx",
		 (unsigned int)(seg - pool->segs), (u64)(addr - seg->base));
	return buf;
}

/*
 * Refuse a call on a bounce address: counted, and the first of each kind in
 * the pool reported in one line with what the pool holds there. The line
 * gives positions in the pool and sizes, never a physical address.
 */
static noinline int refuse(struct altdma_bounce_pool *pool,
			   enum altdma_bounce_refusal kind, const char *op,
			   phys_addr_t addr, size_t size,
			   const struct bounce_view *v, unsigned long caller)
{
	char at[POOL_POS_LEN], data[POOL_POS_LEN], span[POOL_POS_LEN];

	if (!refusal_first(pool, kind))
		return -EINVAL;
	if (v->seg)
		pr_warn("%s: refused bounce %s (%s): at %s size %zu; %s mapping of %zu bytes at %s in a span of %#lx bytes at %s; caller %pS\n",
			pool->name, op, refusal_names[kind],
			pool_pos(pool, addr, at), size,
			state_names[rec_state(v->rec.state)], v->rec.size,
			pool_pos(pool, v->data, data),
			(unsigned long)v->rec.span_pages << pool->shift,
			pool_pos(pool, v->span, span), (void *)caller);
	else
		pr_warn("%s: refused bounce %s (%s): at %s size %zu; no mapping there; caller %pS\n",
			pool->name, op, refusal_names[kind],
			pool_pos(pool, addr, at), size, (void *)caller);
	return -EINVAL;
}

static int refuse_map(struct altdma_bounce_pool *pool, phys_addr_t orig,
		      size_t size, unsigned int mask,
		      enum dma_data_direction dir, unsigned long caller)
{
	if (refusal_first(pool, ALTDMA_BOUNCE_REFUSE_MAP))
		pr_warn("%s: refused bounce map (%s): size %zu, offset %#llx under min_align_mask %#x, dir %d; largest segment %zu bytes, largest slot alignment %lu granules; caller %pS\n",
			pool->name, refusal_names[ALTDMA_BOUNCE_REFUSE_MAP],
			size, (u64)(orig & mask), mask, dir, pool->seg_max,
			pool->align_max, (void *)caller);
	return -EINVAL;
}

/* ---- lookup ---- */

/* The segment holding @addr, or NULL: a binary search by address. */
static struct altdma_bounce_seg *find_seg(struct altdma_bounce_pool *pool,
					  phys_addr_t addr)
{
	unsigned int lo = 0, hi = pool->nr_segs, mid;
	struct altdma_bounce_seg *seg;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		seg = &pool->segs[mid];
		if (addr < seg->base)
			hi = mid;
		else if (addr - seg->base >= seg_bytes(seg))
			lo = mid + 1;
		else
			return seg;
	}
	return NULL;
}

/*
 * Snapshot @rec into @snap. Returns false if the record changed while it
 * was read (only a misuse racing with a map or unmap of it can do that).
 */
static bool rec_read(const struct altdma_bounce_rec *rec,
		     struct altdma_bounce_rec *snap)
{
	/* Pairs with the release in rec_publish(): fields after the state. */
	snap->state = smp_load_acquire(&rec->state);
	snap->orig = READ_ONCE(rec->orig);
	snap->size = READ_ONCE(rec->size);
	snap->attrs = READ_ONCE(rec->attrs);
	snap->offset = READ_ONCE(rec->offset);
	snap->npages = READ_ONCE(rec->npages);
	snap->span_pages = READ_ONCE(rec->span_pages);
	snap->dir = READ_ONCE(rec->dir);
	/* Orders the field reads before the second look at the state. */
	smp_rmb();
	return READ_ONCE(rec->state) == snap->state;
}

/*
 * Find the mapping whose span holds @addr. Returns BOUNCE_OK with @v filled
 * for a live mapping, else the refusal kind (with @v naming the mapping
 * that was there, if any).
 */
static enum altdma_bounce_refusal lookup(struct altdma_bounce_pool *pool,
					 phys_addr_t addr,
					 struct bounce_view *v)
{
	struct altdma_bounce_seg *seg = find_seg(pool, addr);
	u32 head, state;

	v->seg = NULL;
	if (!seg)
		return ALTDMA_BOUNCE_REFUSE_UNKNOWN;
	head = READ_ONCE(seg->head[(addr - seg->base) >> pool->shift]);
	if (head == ALTDMA_BOUNCE_HEAD_NONE)
		return ALTDMA_BOUNCE_REFUSE_UNKNOWN;
	v->head = head & ~ALTDMA_BOUNCE_HEAD_FREED;
	v->live = &seg->recs[v->head];
	if (!rec_read(v->live, &v->rec))
		return ALTDMA_BOUNCE_REFUSE_UNKNOWN;
	v->span = seg->base + ((phys_addr_t)v->head << pool->shift);
	v->data = v->span + v->rec.offset;
	/* A stale entry may point at a record since reused elsewhere. */
	if (addr - v->span >= (phys_addr_t)v->rec.span_pages << pool->shift)
		return ALTDMA_BOUNCE_REFUSE_UNKNOWN;
	v->seg = seg;
	state = rec_state(v->rec.state);
	if (state == ALTDMA_BOUNCE_MAPPED &&
	    !(head & ALTDMA_BOUNCE_HEAD_FREED))
		return BOUNCE_OK;
	if (state == ALTDMA_BOUNCE_UNMAPPING ||
	    (state == ALTDMA_BOUNCE_FREE && (head & ALTDMA_BOUNCE_HEAD_FREED)))
		return ALTDMA_BOUNCE_REFUSE_DOUBLE;
	v->seg = NULL;
	return ALTDMA_BOUNCE_REFUSE_UNKNOWN;
}

/* ---- map ---- */

/* A map request worked out: where the data goes and what slot it needs. */
struct bounce_req {
	u32 offset;
	u32 span_pages;
	u32 npages;
};

/*
 * Work out the slot a map needs; false if no segment can ever hold it. When
 * @mask reaches past a granule the slot must be aligned to
 * roundup_pow_of_two(@mask + 1): asking for at least that many granules
 * makes the allocator's size alignment give it, up to its largest class.
 */
static bool bounce_plan(struct altdma_bounce_pool *pool, phys_addr_t orig,
			size_t size, unsigned int mask,
			enum dma_data_direction dir, struct bounce_req *req)
{
	unsigned long align = 1;

	if (!size || size > pool->seg_max || !valid_dma_direction(dir))
		return false;
	if (mask >= pool->granule)
		align = roundup_pow_of_two((unsigned long)mask + 1) >>
			pool->shift;
	req->offset = orig & mask;
	if (align > pool->align_max || req->offset >= pool->seg_max ||
	    size > pool->seg_max - req->offset)
		return false;
	req->span_pages = DIV_ROUND_UP(req->offset + size, pool->granule);
	req->npages = max_t(unsigned long, req->span_pages, align);
	return true;
}

/*
 * Take a slot of @npages granules, trying this CPU's segment first, then
 * the others. Returns the segment and sets *@r to the slot allocator's
 * range (granule index: its pfn_lo less the segment's nr_granules), or
 * NULL when all are full.
 */
static struct altdma_bounce_seg *slot_alloc(struct altdma_bounce_pool *pool,
					    u32 npages,
					    struct altdma_iova_range **r)
{
	unsigned int i, first = raw_smp_processor_id() % pool->nr_segs;
	struct altdma_bounce_seg *seg;

	for (i = 0; i < pool->nr_segs; i++) {
		seg = &pool->segs[(first + i) % pool->nr_segs];
		if (npages > seg->nr_granules)
			continue;
		*r = altdma_iova_alloc_range(&seg->iovad, npages, ULONG_MAX,
					     GFP_ATOMIC);
		if (*r)
			return seg;
	}
	return NULL;
}

/* Raise @pool's high water to @now if it is above. */
static void high_water_raise(struct altdma_bounce_pool *pool, long now)
{
	long high = atomic_long_read(&pool->high_water);

	while (now > high &&
	       !atomic_long_try_cmpxchg(&pool->high_water, &high, now))
		;
}

/*
 * count_in_use() when this CPU's share leaves the batch: with interrupts
 * off nothing else on this CPU changes the share, so it is added to the
 * shared count first and set to 0 after. A read in between (which sums
 * the shares first, then the shared count) counts the share twice, less
 * than a batch too many; a read never misses a fold.
 */
static noinline void in_use_fold(struct altdma_bounce_pool *pool, long delta)
{
	unsigned long flags;
	long share, now;

	local_irq_save(flags);
	share = this_cpu_read(pool->stats->in_use) + delta;
	if (share < ALTDMA_BOUNCE_IN_USE_BATCH &&
	    share > -ALTDMA_BOUNCE_IN_USE_BATCH) {
		this_cpu_write(pool->stats->in_use, share);
	} else {
		/* fully ordered: the share's reset below comes after it */
		now = atomic_long_add_return(share, &pool->in_use);
		this_cpu_write(pool->stats->in_use, 0);
		if (share > 0)
			high_water_raise(pool, now);
	}
	local_irq_restore(flags);
}

/*
 * Count @delta granules taken (> 0) or given back (< 0) in this CPU's
 * share. The cmpxchg is on this CPU's own word (no lock prefix on x86) and
 * succeeds only on the value read, so an interrupt in between, or a
 * migration to another CPU, sends the count to in_use_fold(), which also
 * folds a share that would reach +-ALTDMA_BOUNCE_IN_USE_BATCH.
 */
static void count_in_use(struct altdma_bounce_pool *pool, long delta)
{
	long old = this_cpu_read(pool->stats->in_use), now = old + delta;

	if (likely(now < ALTDMA_BOUNCE_IN_USE_BATCH &&
		   now > -ALTDMA_BOUNCE_IN_USE_BATCH) &&
	    this_cpu_cmpxchg(pool->stats->in_use, old, now) == old)
		return;
	in_use_fold(pool, delta);
}

/*
 * Zero the span around the data and copy the buffer in, whatever the
 * direction and attributes: with %DMA_ATTR_SKIP_CPU_SYNC too, so that a
 * device writing less than the buffer leaves the buffer's own bytes for a
 * later unmap or sync to copy back, not zeros (swiotlb does the same).
 */
static void slot_fill(struct altdma_bounce_pool *pool, phys_addr_t span,
		      const struct bounce_req *req, phys_addr_t orig,
		      size_t size)
{
	size_t span_len = (size_t)req->span_pages << pool->shift;
	u8 *va = phys_to_virt(span);

	memset(va, 0, req->offset);
	copy_to_slot(pool, span + req->offset, orig, size);
	memset(va + req->offset + size, 0, span_len - req->offset - size);
}

/* Fill in the record at @idx, point the span at it, and publish it. */
static void rec_publish(struct altdma_bounce_pool *pool,
			struct altdma_bounce_seg *seg, u32 idx,
			struct altdma_iova_range *range,
			const struct bounce_req *req, phys_addr_t orig,
			size_t size, enum dma_data_direction dir,
			unsigned long attrs)
{
	struct altdma_bounce_rec *rec = &seg->recs[idx];
	u32 gen = rec_gen(READ_ONCE(rec->state)), i;

	WRITE_ONCE(rec->orig, orig);
	WRITE_ONCE(rec->size, size);
	WRITE_ONCE(rec->attrs, attrs);
	WRITE_ONCE(rec->offset, req->offset);
	WRITE_ONCE(rec->npages, req->npages);
	WRITE_ONCE(rec->span_pages, req->span_pages);
	WRITE_ONCE(rec->dir, dir);
	WRITE_ONCE(rec->range, range);
	for (i = 0; i < req->span_pages; i++)
		WRITE_ONCE(seg->head[idx + i], idx);
	/* Pairs with the acquire in rec_read(): fields before MAPPED. */
	smp_store_release(&rec->state,
			  gen + REC_GEN_STEP + ALTDMA_BOUNCE_MAPPED);
}

/**
 * altdma_bounce_map() - bounce a buffer into a slot of the pool
 * @pool: the pool
 * @orig: physical address of the buffer (in the kernel's linear map)
 * @size: bytes to map, at least 1
 * @min_align_mask: the device's dma_get_min_align_mask(); the data keeps
 *	@orig's offset within it
 * @dir: DMA direction
 * @attrs: DMA attributes, kept for the unmap (%DMA_ATTR_SKIP_CPU_SYNC
 *	does not stop the copy into the slot, see below)
 * @out: filled with the data's bounce address and the span to map
 *
 * Takes a granule-aligned slot, zeroes every byte of the span that is not
 * data and copies the buffer into the slot for every direction and even
 * with %DMA_ATTR_SKIP_CPU_SYNC (as swiotlb does): a device that writes
 * less than @size must leave the buffer's own bytes behind for the copy
 * back, neither stale pool data nor zeros. A request no segment
 * could ever hold (size 0 or larger than a segment less the offset, an
 * alignment above the largest slot class, an invalid direction) is
 * refused, counted and reported once per pool.
 *
 * Context: any context, including hard interrupts; never sleeps.
 * Return: 0; -EINVAL if the request is impossible; -ENOMEM if no slot is
 * free now (counted in &altdma_bounce_stats.failed).
 */
int altdma_bounce_map(struct altdma_bounce_pool *pool, phys_addr_t orig,
		      size_t size, unsigned int min_align_mask,
		      enum dma_data_direction dir, unsigned long attrs,
		      struct altdma_bounce_slot *out)
{
	struct altdma_iova_range *range;
	struct altdma_bounce_seg *seg;
	struct bounce_req req;
	phys_addr_t span;
	u32 idx;

	if (!bounce_plan(pool, orig, size, min_align_mask, dir, &req))
		return refuse_map(pool, orig, size, min_align_mask, dir,
				  _RET_IP_);
	seg = slot_alloc(pool, req.npages, &range);
	if (!seg) {
		atomic64_inc(&pool->failed);
		return -ENOMEM;
	}
	idx = range->pfn_lo - seg->nr_granules;
	span = seg->base + ((phys_addr_t)idx << pool->shift);
	slot_fill(pool, span, &req, orig, size);
	rec_publish(pool, seg, idx, range, &req, orig, size, dir, attrs);
	count_in_use(pool, altdma_iova_alloc_size(&seg->iovad, req.npages));
	this_cpu_inc(pool->stats->maps);
	out->data = span + req.offset;
	out->span_start = span;
	out->span_len = (size_t)req.span_pages << pool->shift;
	return 0;
}

/* ---- unmap and sync ---- */

/*
 * Tombstone the span of the record at granule @head of @seg, whose
 * release the caller owns (by its claim of the record, or of the mapping
 * it belongs to), and publish it FREE with generation @gen; count the
 * slot's @npages granules as given back. The slot itself is still the
 * caller's: it gives it back next.
 */
static void rec_release(struct altdma_bounce_pool *pool,
			struct altdma_bounce_seg *seg, u32 head,
			u32 span_pages, u32 npages, u32 gen)
{
	u32 i;

	for (i = 0; i < span_pages; i++)
		WRITE_ONCE(seg->head[head + i], head | ALTDMA_BOUNCE_HEAD_FREED);
	/* Pairs with the acquire in rec_read(): tombstones before FREE. */
	smp_store_release(&seg->recs[head].state, gen + ALTDMA_BOUNCE_FREE);
	count_in_use(pool, -(long)altdma_iova_alloc_size(&seg->iovad, npages));
	this_cpu_inc(pool->stats->unmaps);
}

/*
 * Checked release: the caller's claim (its cmpxchg of the record) is the
 * check, and the slot's range, kept in the record by the map, goes to the
 * allocator's caches with no lookup and no second check
 * (altdma_iova_put_range()). The test of the range only catches a
 * corrupted record (a broken pool), which the strict free then refuses
 * and reports; it is no guard against an owner's unmap of the same
 * mapping racing with this one, which altdma_bounce_unmap_owned()'s
 * contract rules out. It reads the range in an RCU read-side section all
 * the same, as a range that went back to the tree is freed after a grace
 * period.
 */
static int slot_release(struct altdma_bounce_pool *pool,
			const struct bounce_view *v)
{
	struct altdma_bounce_seg *seg = v->seg;
	unsigned long pfn = v->head + seg->nr_granules;
	struct altdma_iova_range *r;
	bool ours;

	rec_release(pool, seg, v->head, v->rec.span_pages, v->rec.npages,
		    rec_gen(v->rec.state));
	rcu_read_lock_sched();
	/* after the claim: the record is ours, @range is the map's */
	r = READ_ONCE(v->live->range);
	ours = r && r->pfn_lo == pfn && r->npages == v->rec.npages &&
	       READ_ONCE(r->state) == ALTDMA_IOVA_ALLOCATED;
	rcu_read_unlock_sched();
	if (likely(ours)) {
		altdma_iova_put_range(&seg->iovad, r);
		return 0;
	}
	return altdma_iova_free(&seg->iovad, pfn, v->rec.npages);
}

/**
 * altdma_bounce_unmap() - release a bounce mapping
 * @pool: the pool
 * @data: the data address altdma_bounce_map() returned
 * @size: the size given to the map
 * @dir: DMA direction; %DMA_FROM_DEVICE and %DMA_BIDIRECTIONAL copy the
 *	data back to the original buffer
 * @attrs: DMA attributes; %DMA_ATTR_SKIP_CPU_SYNC copies nothing
 *
 * The mapping is looked up first. An address in no live mapping, a mapping
 * already released, an address that is not the start of the data or a size
 * that is not the mapped size is refused: counted, reported once per kind
 * and pool, and nothing changes (no byte copied, no slot freed).
 *
 * Context: any context, including hard interrupts; never sleeps.
 * Return: 0, or -EINVAL if the unmap was refused.
 */
int altdma_bounce_unmap(struct altdma_bounce_pool *pool, phys_addr_t data,
			size_t size, enum dma_data_direction dir,
			unsigned long attrs)
{
	enum altdma_bounce_refusal kind;
	struct bounce_view v;
	u32 busy;

	kind = lookup(pool, data, &v);
	if (kind == BOUNCE_OK) {
		busy = rec_gen(v.rec.state) + ALTDMA_BOUNCE_UNMAPPING;
		if (data != v.data)
			kind = ALTDMA_BOUNCE_REFUSE_MIDDLE;
		else if (size != v.rec.size)
			kind = ALTDMA_BOUNCE_REFUSE_SIZE;
		else if (cmpxchg(&v.live->state, v.rec.state, busy) !=
			 v.rec.state)
			kind = ALTDMA_BOUNCE_REFUSE_DOUBLE;
	}
	if (kind != BOUNCE_OK)
		return refuse(pool, kind, "unmap", data, size, &v, _RET_IP_);
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && dir_to_cpu(dir))
		copy_to_orig(pool, v.rec.orig, data, size);
	return slot_release(pool, &v);
}

/**
 * altdma_bounce_unmap_owned() - release a bounce mapping its owner checked
 * @pool: the pool
 * @data: the data address altdma_bounce_map() returned
 * @size: the size given to the map
 * @dir: DMA direction; %DMA_FROM_DEVICE and %DMA_BIDIRECTIONAL copy the
 *	data back to the original buffer
 * @attrs: DMA attributes; %DMA_ATTR_SKIP_CPU_SYNC copies nothing
 *
 * The unmap with no lookup and no second check: the record is found from
 * @data by arithmetic (the segment by a binary search over the pool's few
 * segments, the record by the head entry of @data's granule), the data is
 * copied back as altdma_bounce_unmap() would, the span is tombstoned, the
 * record published FREE and the slot's range, kept in the record, given
 * to the slot allocator with altdma_iova_put_range(). Only an owner that
 * has validated the unmap may call this (seed 000: nothing unchecked
 * reaches a cache): the DMA layer after its claim of the mapping object
 * that holds @data, or the mapper giving back the slot it just took; no
 * other unmap of the same mapping may race with it. Everyone else calls
 * altdma_bounce_unmap().
 *
 * An address outside the pool or in no live mapping's span, which no
 * owner can hold, is not released here: it goes to altdma_bounce_unmap(),
 * which refuses it and changes nothing.
 *
 * Context: any context, including hard interrupts; never sleeps.
 * Return: 0, or -EINVAL if the caller did not hold a live mapping.
 */
int altdma_bounce_unmap_owned(struct altdma_bounce_pool *pool,
			      phys_addr_t data, size_t size,
			      enum dma_data_direction dir, unsigned long attrs)
{
	struct altdma_bounce_seg *seg = find_seg(pool, data);
	struct altdma_iova_range *range;
	struct altdma_bounce_rec *rec;
	u32 head = ALTDMA_BOUNCE_HEAD_NONE, state = 0;

	if (likely(seg)) {
		head = READ_ONCE(seg->head[(data - seg->base) >> pool->shift]);
		/* NONE and FREED entries are above every granule index */
		if (likely(head < seg->nr_granules))
			state = READ_ONCE(seg->recs[head].state);
	}
	/* a tripwire for a caller that owns nothing, not a claim */
	if (unlikely(rec_state(state) != ALTDMA_BOUNCE_MAPPED))
		return altdma_bounce_unmap(pool, data, size, dir, attrs);
	rec = &seg->recs[head];
	range = rec->range;
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && dir_to_cpu(dir))
		copy_to_orig(pool, rec->orig, data, size);
	rec_release(pool, seg, head, rec->span_pages, rec->npages,
		    rec_gen(state));
	altdma_iova_put_range(&seg->iovad, range);
	return 0;
}

static int bounce_sync(struct altdma_bounce_pool *pool, phys_addr_t addr,
		       size_t size, enum dma_data_direction dir, bool for_cpu,
		       unsigned long caller)
{
	enum altdma_bounce_refusal kind;
	struct bounce_view v;
	phys_addr_t orig;

	kind = lookup(pool, addr, &v);
	if (kind == BOUNCE_OK &&
	    (addr < v.data || addr - v.data > v.rec.size ||
	     size > v.rec.size - (addr - v.data)))
		kind = ALTDMA_BOUNCE_REFUSE_RANGE;
	if (kind != BOUNCE_OK)
		return refuse(pool, kind,
			      for_cpu ? "sync_for_cpu" : "sync_for_device",
			      addr, size, &v, caller);
	orig = v.rec.orig + (addr - v.data);
	if (for_cpu && dir_to_cpu(dir))
		copy_to_orig(pool, orig, addr, size);
	else if (!for_cpu && dir_to_device(dir))
		copy_to_slot(pool, addr, orig, size);
	this_cpu_inc(pool->stats->syncs);
	return 0;
}

/**
 * altdma_bounce_sync_for_cpu() - copy device writes back to the buffer
 * @pool: the pool
 * @addr: bounce address anywhere in one mapping's data
 * @size: bytes from @addr, all inside that mapping's data
 * @dir: DMA direction; only %DMA_FROM_DEVICE and %DMA_BIDIRECTIONAL copy
 *
 * Copies exactly [@addr, @addr + @size) of the slot to the same offsets of
 * the original buffer. A range not wholly inside one live mapping's data is
 * refused, counted, reported once per kind and pool, and copies nothing.
 *
 * Context: any context, including hard interrupts; never sleeps.
 * Return: 0, or -EINVAL if the sync was refused.
 */
int altdma_bounce_sync_for_cpu(struct altdma_bounce_pool *pool,
			       phys_addr_t addr, size_t size,
			       enum dma_data_direction dir)
{
	return bounce_sync(pool, addr, size, dir, true, _RET_IP_);
}

/**
 * altdma_bounce_sync_for_device() - copy CPU writes into the slot
 * @pool: the pool
 * @addr: bounce address anywhere in one mapping's data
 * @size: bytes from @addr, all inside that mapping's data
 * @dir: DMA direction; only %DMA_TO_DEVICE and %DMA_BIDIRECTIONAL copy
 *
 * Copies exactly the same offsets of the original buffer into
 * [@addr, @addr + @size) of the slot. Refusals as for
 * altdma_bounce_sync_for_cpu().
 *
 * Context: any context, including hard interrupts; never sleeps.
 * Return: 0, or -EINVAL if the sync was refused.
 */
int altdma_bounce_sync_for_device(struct altdma_bounce_pool *pool,
				  phys_addr_t addr, size_t size,
				  enum dma_data_direction dir)
{
	return bounce_sync(pool, addr, size, dir, false, _RET_IP_);
}

/**
 * altdma_bounce_owns() - whether an address is bounce memory of the pool
 * @pool: the pool
 * @addr: a physical address
 *
 * Context: any context.
 * Return: true if @addr lies in one of the pool's segments, mapped or not.
 */
bool altdma_bounce_owns(struct altdma_bounce_pool *pool, phys_addr_t addr)
{
	return find_seg(pool, addr);
}

/**
 * altdma_bounce_locate() - the live mapping whose data holds a range
 * @pool: the pool
 * @addr: bounce address
 * @size: bytes from @addr
 * @w: filled with the mapping's buffer, slot and pool index
 *
 * For the sanitizer (sanitize.c), which keeps a shadow byte and an owner
 * bit per pool byte. Nothing is counted or reported: the map, unmap or
 * sync that follows does that.
 *
 * Context: any context; the caller holds the mapping (a live map, unmap
 * or sync of it), so the snapshot stays true until the mapping is
 * released.
 * Return: 0 if [@addr, @addr + @size) lies in one live mapping's data,
 * else -EINVAL.
 */
int altdma_bounce_locate(struct altdma_bounce_pool *pool, phys_addr_t addr,
			 size_t size, struct altdma_bounce_where *w)
{
	struct bounce_view v;
	size_t index = 0;
	unsigned int i;

	if (lookup(pool, addr, &v) != BOUNCE_OK || addr < v.data ||
	    addr - v.data > v.rec.size || size > v.rec.size - (addr - v.data))
		return -EINVAL;
	for (i = 0; &pool->segs[i] != v.seg; i++)
		index += seg_bytes(&pool->segs[i]);
	w->orig = v.rec.orig;
	w->data = v.data;
	w->size = v.rec.size;
	w->span = v.span;
	w->span_len = (size_t)v.rec.span_pages << pool->shift;
	w->index = index + (v.data - v.seg->base);
	w->dir = v.rec.dir;
	return 0;
}

/**
 * altdma_bounce_max_mapping_size() - largest mapping an idle pool takes
 * @pool: the pool
 * @min_align_mask: the device's min_align_mask
 *
 * A mapping lives in one segment and its data may start up to
 * @min_align_mask bytes into its slot, so this is the largest segment less
 * the mask, or 0 if the mask asks for an alignment no slot can have. It is
 * what the pool could take when empty; a busy pool may fail smaller maps
 * with -ENOMEM.
 *
 * Context: any context.
 * Return: the size in bytes.
 */
size_t altdma_bounce_max_mapping_size(struct altdma_bounce_pool *pool,
				      unsigned int min_align_mask)
{
	unsigned long align = 1;

	if (min_align_mask >= pool->granule)
		align = roundup_pow_of_two((unsigned long)min_align_mask + 1) >>
			pool->shift;
	if (align > pool->align_max || min_align_mask >= pool->seg_max)
		return 0;
	return pool->seg_max - min_align_mask;
}

/* ---- counters ---- */

/*
 * The granules in use: every CPU's share, read first, plus the shared
 * count, read after. A fold adds the share to the shared count before it
 * resets the share, so a read that sees a share reset also sees its fold:
 * a fold is never missed, and one in flight (at most one per CPU, with
 * interrupts off) is counted twice, less than a batch too many. The sum is
 * exact when no map or unmap is in flight, and approximate (shares of
 * different moments) while they run. It raises the high water.
 */
static u64 in_use_sum(struct altdma_bounce_pool *pool)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu_ptr(pool->stats, cpu)->in_use);
	/*
	 * The shares before the shared count. Pairs with the full barrier of
	 * atomic_long_add_return() in in_use_fold(): a share seen reset has
	 * its fold seen here.
	 */
	smp_rmb();
	sum += atomic_long_read(&pool->in_use);
	sum = max(sum, 0L);
	high_water_raise(pool, sum);
	return sum;
}

/**
 * altdma_bounce_get_stats() - snapshot a pool's counters
 * @pool: the pool
 * @st: filled in
 *
 * Context: any context.
 */
void altdma_bounce_get_stats(struct altdma_bounce_pool *pool,
			     struct altdma_bounce_stats *st)
{
	struct altdma_bounce_pcpu_stats *p;
	unsigned int i;
	int cpu;

	memset(st, 0, sizeof(*st));
	st->pool_bytes = pool->size;
	st->granule = pool->granule;
	st->nr_segs = pool->nr_segs;
	st->nr_granules = pool->size >> pool->shift;
	for_each_possible_cpu(cpu) {
		p = per_cpu_ptr(pool->stats, cpu);
		st->maps += READ_ONCE(p->maps);
		st->unmaps += READ_ONCE(p->unmaps);
		st->syncs += READ_ONCE(p->syncs);
		st->bytes_to_device += READ_ONCE(p->bytes_to_device);
		st->bytes_to_cpu += READ_ONCE(p->bytes_to_cpu);
	}
	st->live_mappings = st->maps - st->unmaps;
	st->granules_in_use = in_use_sum(pool);
	st->high_water = atomic_long_read(&pool->high_water);
	st->failed = atomic64_read(&pool->failed);
	for (i = 0; i < ALTDMA_BOUNCE_REFUSE_KINDS; i++) {
		st->refused[i] = atomic64_read(&pool->refused[i]);
		st->refused_total += st->refused[i];
	}
}

/* ---- set-up and tear-down ---- */

/* A block of pages before it becomes a segment. */
struct bounce_block {
	struct page *page;
	unsigned int order;
};

static int block_cmp(const void *a, const void *b)
{
	phys_addr_t pa = page_to_phys(((const struct bounce_block *)a)->page);
	phys_addr_t pb = page_to_phys(((const struct bounce_block *)b)->page);

	return pa < pb ? -1 : pa > pb;
}

static void blocks_free(struct bounce_block *blocks, unsigned int n)
{
	while (n--)
		__free_pages(blocks[n].page, blocks[n].order);
}

/*
 * One block of order *@order, or of the largest smaller order down to
 * @min_order that the page allocator gives without retrying hard.
 */
static struct page *block_alloc(unsigned int *order, unsigned int min_order)
{
	struct page *page;

	for (;;) {
		page = alloc_pages(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN |
				   __GFP_NORETRY, *order);
		if (page || *order == min_order)
			return page;
		(*order)--;
	}
}

/*
 * Allocate @size bytes (a multiple of 2^@min_order pages) as naturally
 * aligned blocks of at most ALTDMA_MAX_PAGE_ORDER. Returns how many, or -ENOMEM.
 */
static int blocks_alloc(size_t size, unsigned int min_order,
			struct bounce_block **out)
{
	struct bounce_block *blocks = NULL, *grown;
	unsigned int n = 0, cap = 0, order;
	struct page *page;

	while (size) {
		order = min_t(unsigned int, ALTDMA_MAX_PAGE_ORDER,
			      ilog2(size >> PAGE_SHIFT));
		page = block_alloc(&order, min_order);
		if (!page)
			goto fail;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = krealloc_array(blocks, cap, sizeof(*blocks),
					       GFP_KERNEL);
			if (!grown) {
				__free_pages(page, order);
				goto fail;
			}
			blocks = grown;
		}
		blocks[n].page = page;
		blocks[n++].order = order;
		size -= PAGE_SIZE << order;
	}
	*out = blocks;
	return n;
fail:
	blocks_free(blocks, n);
	kfree(blocks);
	return -ENOMEM;
}

/* Records, head entries and slot allocator of one segment. */
static int seg_init(struct altdma_bounce_pool *pool,
		    struct altdma_bounce_seg *seg)
{
	struct altdma_iova_config cfg = {
		.name = pool->name,
		.granule = pool->granule,
	};
	unsigned long n = seg_bytes(seg) >> pool->shift;

	seg->nr_granules = n;
	seg->recs = kvcalloc(n, sizeof(*seg->recs), GFP_KERNEL);
	seg->head = kvmalloc_array(n, sizeof(*seg->head), GFP_KERNEL);
	if (!seg->recs || !seg->head)
		return -ENOMEM;
	memset32(seg->head, ALTDMA_BOUNCE_HEAD_NONE, n);
	/* Granule index i is pfn n + i: see &altdma_bounce_seg.iovad. */
	cfg.start = (dma_addr_t)n << pool->shift;
	cfg.end = ((dma_addr_t)2 * n << pool->shift) - 1;
	return altdma_iova_domain_init(&seg->iovad, &cfg);
}

/* Free everything; the first @ready segments have a slot allocator. */
static void pool_free(struct altdma_bounce_pool *pool, unsigned int ready)
{
	struct altdma_bounce_seg *seg;
	unsigned int i;

	for (i = 0; i < pool->nr_segs; i++) {
		seg = &pool->segs[i];
		if (i < ready)
			altdma_iova_domain_destroy(&seg->iovad);
		kvfree(seg->recs);
		kvfree(seg->head);
		__free_pages(seg->page, seg->order);
	}
	kvfree(pool->segs);
	free_percpu(pool->stats);
	kfree(pool->name);
	kfree(pool);
}

/*
 * Turn the blocks, sorted by address, into segments; once @pool->segs is
 * set the segments own the pages. Sets *@ready to the segments whose slot
 * allocator is set up.
 */
static int pool_segs_init(struct altdma_bounce_pool *pool,
			  struct bounce_block *blocks, unsigned int n,
			  unsigned int *ready)
{
	struct altdma_bounce_seg *seg;
	unsigned int i;
	int ret;

	*ready = 0;
	sort(blocks, n, sizeof(*blocks), block_cmp, NULL);
	pool->segs = kvcalloc(n, sizeof(*pool->segs), GFP_KERNEL);
	if (!pool->segs)
		return -ENOMEM;
	pool->nr_segs = n;
	for (i = 0; i < n; i++) {
		seg = &pool->segs[i];
		seg->page = blocks[i].page;
		seg->order = blocks[i].order;
		seg->base = page_to_phys(seg->page);
		seg->vaddr = page_address(seg->page);
		pool->seg_max = max(pool->seg_max, seg_bytes(seg));
	}
	for (i = 0; i < n; i++) {
		ret = seg_init(pool, &pool->segs[i]);
		if (ret)
			return ret;
		(*ready)++;
	}
	return 0;
}

/**
 * altdma_bounce_pool_create() - allocate a bounce pool
 * @name: used in reports; copied
 * @size: bytes of bounce memory, rounded up to the granule; 0 means the
 *	module parameter bounce_pool_size (default 4 MiB)
 * @granule: slot granule in bytes: the IOVA granule of the domain the
 *	slots will be mapped into, a power of two from PAGE_SIZE up to the
 *	largest block the page allocator gives (4 MiB on x86)
 *
 * The memory is allocated here, all of it, as physically contiguous blocks
 * of the largest order available (up to ALTDMA_MAX_PAGE_ORDER), falling back to
 * smaller orders but never below @granule; it is zeroed.
 *
 * Context: process context, may sleep.
 * Return: the pool, ERR_PTR(-EINVAL) for a bad granule or a size above
 * altdma_bounce_max_size() (one error line), or ERR_PTR(-ENOMEM).
 */
struct altdma_bounce_pool *altdma_bounce_pool_create(const char *name,
						     size_t size,
						     unsigned long granule)
{
	struct altdma_bounce_pool *pool;
	struct bounce_block *blocks;
	unsigned int ready = 0;
	int n, ret = -ENOMEM;

	if (!is_power_of_2(granule) || granule < PAGE_SIZE ||
	    granule > PAGE_SIZE << ALTDMA_MAX_PAGE_ORDER)
		return ERR_PTR(-EINVAL);
	size = size ?: READ_ONCE(bounce_pool_size) ?: ALTDMA_BOUNCE_DEFAULT_SIZE;
	if (size > altdma_bounce_max_size()) {
		pr_err("%s: bounce pool of %zu bytes refused: more than %zu bytes (at most 256 MiB and a quarter of RAM)\n",
		       name ?: "altdma-bounce", size, altdma_bounce_max_size());
		return ERR_PTR(-EINVAL);
	}
	pool = kzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return ERR_PTR(-ENOMEM);
	pool->name = kstrdup(name ?: "altdma-bounce", GFP_KERNEL);
	pool->granule = granule;
	pool->shift = ilog2(granule);
	pool->size = ALIGN(size, granule);
	pool->stats = alloc_percpu(struct altdma_bounce_pcpu_stats);
	n = blocks_alloc(pool->size, ilog2(granule >> PAGE_SHIFT), &blocks);
	if (n >= 0) {
		if (pool->name && pool->stats)
			ret = pool_segs_init(pool, blocks, n, &ready);
		if (!pool->segs)
			blocks_free(blocks, n);
		kfree(blocks);
	}
	if (ret) {
		pool_free(pool, ready);
		return ERR_PTR(ret);
	}
	pool->align_max = ALTDMA_IOVA_ALIGN_MAX;
	return pool;
}

/* Give back the slots of mappings still live; returns how many. */
static unsigned long release_live(struct altdma_bounce_pool *pool)
{
	struct altdma_bounce_seg *seg;
	struct altdma_bounce_rec *rec;
	unsigned long i, live = 0;
	unsigned int s;

	for (s = 0; s < pool->nr_segs; s++) {
		seg = &pool->segs[s];
		for (i = 0; i < seg->nr_granules; i++) {
			rec = &seg->recs[i];
			if (rec_state(rec->state) == ALTDMA_BOUNCE_FREE)
				continue;
			live++;
			altdma_iova_free(&seg->iovad, i + seg->nr_granules,
					 rec->npages);
		}
	}
	return live;
}

/**
 * altdma_bounce_pool_destroy() - free a pool and its memory
 * @pool: the pool (NULL or an error pointer is ignored); no call may be in
 *	flight or come later
 *
 * Mappings still live are counted in one warning; their slots are freed
 * with the rest, so a device must no longer reach them.
 *
 * Context: process context, may sleep.
 */
void altdma_bounce_pool_destroy(struct altdma_bounce_pool *pool)
{
	unsigned long live;

	if (IS_ERR_OR_NULL(pool))
		return;
	live = release_live(pool);
	if (live)
		pr_warn("%s: %lu bounce mappings still live at pool teardown\n",
			pool->name, live);
	pool_free(pool, pool->nr_segs);
}
