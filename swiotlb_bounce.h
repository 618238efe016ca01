/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma bounce-buffer pool: physically contiguous segments allocated when
 * the pool is created, cut into granule-aligned slots by one IOVA allocator
 * (iova_alloc.h) per segment, which then works over granule indices.
 *
 * A mapping's slot starts on a granule and is a whole number of granules,
 * its data keeps the original buffer's offset within the device's
 * min_align_mask, and every byte of its span around the data is zeroed, so
 * an IOMMU mapping of the span shows the device nothing but the data.
 */
#ifndef _ALTDMA_SWIOTLB_BOUNCE_H
#define _ALTDMA_SWIOTLB_BOUNCE_H

#include <linux/atomic.h>
#include <linux/dma-direction.h>
#include <linux/percpu.h>
#include <linux/sizes.h>
#include <linux/types.h>

#include "iova_alloc.h"

/* Default pool size in bytes (module parameter bounce_pool_size). */
#define ALTDMA_BOUNCE_DEFAULT_SIZE	SZ_4M
/*
 * The largest pool, in bytes: each device that bounces has one, allocated
 * up front. A pool is also at most a quarter of RAM
 * (altdma_bounce_max_size()).
 */
#define ALTDMA_BOUNCE_MAX_SIZE		SZ_256M
/* &altdma_bounce_seg.head value of a granule no mapping ever covered. */
#define ALTDMA_BOUNCE_HEAD_NONE		U32_MAX
/* Set in &altdma_bounce_seg.head once the covering mapping is released. */
#define ALTDMA_BOUNCE_HEAD_FREED	BIT(31)

/**
 * enum altdma_bounce_rec_state - life cycle of a mapping record
 * @ALTDMA_BOUNCE_FREE: no mapping is live at this head granule
 * @ALTDMA_BOUNCE_MAPPED: the mapping is live; syncs and one unmap may use it
 * @ALTDMA_BOUNCE_UNMAPPING: an unmap won the record and is releasing it
 *
 * The state sits in the low two bits of &altdma_bounce_rec.state; the bits
 * above count the maps of the record (a generation), so a record that was
 * released and mapped again never looks like the one a caller read before.
 */
enum altdma_bounce_rec_state {
	ALTDMA_BOUNCE_FREE,
	ALTDMA_BOUNCE_MAPPED,
	ALTDMA_BOUNCE_UNMAPPING,
};

/**
 * struct altdma_bounce_rec - one mapping, kept at its slot's first granule
 * @orig: physical address of the caller's buffer
 * @size: size of the mapping in bytes, as given to the map
 * @attrs: DMA attributes given to the map
 * @offset: offset of the data from the start of the slot
 * @npages: granules asked of the slot allocator; the free gives the same
 * @span_pages: granules of the span the DMA layer maps
 * @dir: direction given to the map
 * @range: the slot allocator's range object of the slot, kept so that a
 *	release hands it back with altdma_iova_put_range() and never looks
 *	it up again
 * @state: &enum altdma_bounce_rec_state in bits 0-1, generation above.
 *	The fields above are written only while the state is FREE and belong
 *	to the mapper that holds the slot; MAPPED is published with a release
 *	store after them. A reader takes the state with an acquire load,
 *	reads the fields, and reads the state again: the fields are a true
 *	snapshot only if both reads agree. MAPPED -> UNMAPPING is a cmpxchg,
 *	so of two racing checked unmaps exactly one wins. An owner's unmap
 *	(altdma_bounce_unmap_owned()) takes no claim: its caller's own claim
 *	of the mapping is the one check, so it goes MAPPED -> FREE with a
 *	release store, and no checked unmap of the same mapping may race
 *	with it.
 *
 * Context: @range is written with the other fields (state FREE, by the
 * mapper) and read only by the one release that owns the mapping.
 */
struct altdma_bounce_rec {
	phys_addr_t orig;
	size_t size;
	unsigned long attrs;
	u32 offset;
	u32 npages;
	u32 span_pages;
	u32 dir;
	u32 state;
	struct altdma_iova_range *range;
};

/**
 * struct altdma_bounce_seg - one physically contiguous piece of the pool
 * @base: physical address of the first byte; aligned to the segment size,
 *	as every buddy block is
 * @vaddr: its kernel (linear map) address
 * @page: first page, for freeing
 * @order: page order of the block
 * @nr_granules: granules in the segment, a power of two
 * @iovad: the slot allocator over granule indices: index i is pfn
 *	@nr_granules + i, so that a pfn aligned to any power of two up to the
 *	segment is a granule index aligned to the same power of two
 * @recs: @nr_granules records, one per granule that may head a slot
 * @head: @nr_granules entries: for each granule of a live mapping's span,
 *	the index of the mapping's first granule; after the unmap the same
 *	index with %ALTDMA_BOUNCE_HEAD_FREED set; %ALTDMA_BOUNCE_HEAD_NONE if
 *	no mapping ever covered it. Written with WRITE_ONCE by the holder of
 *	the slot, read with READ_ONCE by lookups, which take no lock.
 */
struct altdma_bounce_seg {
	phys_addr_t base;
	void *vaddr;
	struct page *page;
	unsigned int order;
	unsigned long nr_granules;
	struct altdma_iova_domain iovad;
	struct altdma_bounce_rec *recs;
	u32 *head;
};

/**
 * enum altdma_bounce_refusal - why a call was refused
 * @ALTDMA_BOUNCE_REFUSE_UNKNOWN: the address is in no live mapping (outside
 *	the pool, or in a granule no live mapping covers)
 * @ALTDMA_BOUNCE_REFUSE_DOUBLE: the mapping there was already released, or
 *	is being released by another caller
 * @ALTDMA_BOUNCE_REFUSE_MIDDLE: an unmap address inside a live mapping but
 *	not the start of its data
 * @ALTDMA_BOUNCE_REFUSE_SIZE: an unmap size that is not the mapped size
 * @ALTDMA_BOUNCE_REFUSE_RANGE: a sync range not wholly inside the data of
 *	the mapping its address is in
 * @ALTDMA_BOUNCE_REFUSE_MAP: a map the pool can never satisfy (size 0,
 *	larger than a segment, alignment beyond the largest slot alignment,
 *	no valid direction)
 * @ALTDMA_BOUNCE_REFUSE_KINDS: number of kinds
 */
enum altdma_bounce_refusal {
	ALTDMA_BOUNCE_REFUSE_UNKNOWN,
	ALTDMA_BOUNCE_REFUSE_DOUBLE,
	ALTDMA_BOUNCE_REFUSE_MIDDLE,
	ALTDMA_BOUNCE_REFUSE_SIZE,
	ALTDMA_BOUNCE_REFUSE_RANGE,
	ALTDMA_BOUNCE_REFUSE_MAP,
	ALTDMA_BOUNCE_REFUSE_KINDS,
};

/*
 * Granules a CPU's share of &altdma_bounce_pool.in_use may reach before it
 * is folded into the shared count: each CPU's &altdma_bounce_pcpu_stats.in_use
 * stays in (-ALTDMA_BOUNCE_IN_USE_BATCH, ALTDMA_BOUNCE_IN_USE_BATCH).
 */
#define ALTDMA_BOUNCE_IN_USE_BATCH	32

/**
 * struct altdma_bounce_pcpu_stats - per-CPU event counters of a pool
 * @maps: successful maps
 * @unmaps: accepted unmaps
 * @syncs: accepted syncs, both ways
 * @bytes_to_device: bytes copied from original buffers into slots
 * @bytes_to_cpu: bytes copied from slots back to original buffers
 * @in_use: this CPU's granules mapped less granules released not yet
 *	folded into &altdma_bounce_pool.in_use; always strictly between
 *	-%ALTDMA_BOUNCE_IN_USE_BATCH and %ALTDMA_BOUNCE_IN_USE_BATCH
 *
 * Context: each field is changed only with this_cpu operations, which are
 * safe against interrupts; @in_use only with this_cpu_cmpxchg(), whose
 * success proves the value it replaces was the CPU's own, so a task that
 * migrates between its read and its cmpxchg still moves the count right.
 */
struct altdma_bounce_pcpu_stats {
	u64 maps;
	u64 unmaps;
	u64 syncs;
	u64 bytes_to_device;
	u64 bytes_to_cpu;
	long in_use;
};

/**
 * struct altdma_bounce_stats - a snapshot of a pool's counters
 * @pool_bytes: bytes of bounce memory
 * @granule: slot granule in bytes
 * @nr_segs: physically contiguous segments
 * @nr_granules: granules in all segments
 * @granules_in_use: granules held by live mappings' slots (the slot
 *	allocator's rounded sizes): the shared count plus every CPU's
 *	unfolded share, exact when no map or unmap is in flight
 * @high_water: largest @granules_in_use seen: see
 *	&altdma_bounce_pool.high_water for its bound
 * @live_mappings: maps not yet unmapped
 * @maps: successful maps
 * @unmaps: accepted unmaps
 * @syncs: accepted syncs
 * @failed: maps that found no room (-ENOMEM)
 * @bytes_to_device: bytes copied into slots (map, sync_for_device)
 * @bytes_to_cpu: bytes copied out of slots (unmap, sync_for_cpu)
 * @refused: refused calls, by &enum altdma_bounce_refusal
 * @refused_total: sum of @refused
 *
 * The per-CPU counters are summed without stopping the pool: exact when it
 * is quiescent, approximate while calls are in flight.
 *
 * Context: a snapshot filled by altdma_bounce_get_stats().
 */
struct altdma_bounce_stats {
	u64 pool_bytes;
	u64 granule;
	u64 nr_segs;
	u64 nr_granules;
	u64 granules_in_use;
	u64 high_water;
	u64 live_mappings;
	u64 maps;
	u64 unmaps;
	u64 syncs;
	u64 failed;
	u64 bytes_to_device;
	u64 bytes_to_cpu;
	u64 refused[ALTDMA_BOUNCE_REFUSE_KINDS];
	u64 refused_total;
};

/**
 * struct altdma_bounce_pool - a bounce-buffer pool
 * @name: used in every report (a copy owned by the pool)
 * @granule: slot granule in bytes (the IOVA granule), a power of two
 *	>= PAGE_SIZE
 * @shift: log2(@granule)
 * @size: bytes of bounce memory, a multiple of @granule
 * @nr_segs: entries in @segs
 * @segs: the segments, sorted by physical address
 * @seg_max: bytes in the largest segment
 * @align_max: largest slot alignment in granules the slot allocator gives
 *	(its largest size class)
 * @in_use: the shared part of the granules in use: each CPU counts its
 *	maps and unmaps in &altdma_bounce_pcpu_stats.in_use and folds that
 *	share in here (setting its own to 0) when it reaches
 *	+-%ALTDMA_BOUNCE_IN_USE_BATCH granules; the true count is this plus
 *	every CPU's share
 * @high_water: largest count seen. A fold that adds granules raises it to
 *	the shared count it leaves, and altdma_bounce_get_stats() raises it
 *	to the sum it reads, so it is at least every granules_in_use a read
 *	returned and never falls (a read during traffic sums shares of
 *	different moments, see &altdma_bounce_stats). Between reads, it may
 *	miss a peak by at most (%ALTDMA_BOUNCE_IN_USE_BATCH - 1) x
 *	nr_cpu_ids granules (the CPUs' unfolded shares at the peak), and a
 *	fold may raise it above the true peak by
 *	at most (%ALTDMA_BOUNCE_IN_USE_BATCH - 1) x (nr_cpu_ids - 1) granules
 *	(other CPUs' unfolded releases at a fold: mappings released on
 *	another CPU than the one that mapped them); a read during folds
 *	counts each folding CPU's share twice, less than a batch each (a
 *	fold adds its share before it resets it, with interrupts off)
 * @failed: see &altdma_bounce_stats
 * @refused: refused calls by kind
 * @reported: kinds of refusal already reported (each is reported once)
 * @stats: per-CPU event counters
 *
 * The pool has no lock of its own. Slots are handed out and taken back by
 * the segments' slot allocators (per-CPU caches, then a spinlock taken with
 * interrupts off); records and head entries are owned by whoever holds the
 * slot and are read locklessly (see &altdma_bounce_rec); counters are
 * atomic or per-CPU, and no map or unmap writes a shared counter except
 * when its CPU folds its share of @in_use.
 *
 * Context: created and destroyed in process context; every other call in
 * any context.
 */
struct altdma_bounce_pool {
	const char *name;
	unsigned long granule;
	unsigned int shift;
	size_t size;
	unsigned int nr_segs;
	struct altdma_bounce_seg *segs;
	size_t seg_max;
	unsigned long align_max;
	atomic_long_t in_use;
	atomic_long_t high_water;
	atomic64_t failed;
	atomic64_t refused[ALTDMA_BOUNCE_REFUSE_KINDS];
	unsigned long reported;
	struct altdma_bounce_pcpu_stats __percpu *stats;
};

/**
 * struct altdma_bounce_slot - where a map put the data
 * @data: bounce physical address of the data; (@data & min_align_mask) ==
 *	(orig & min_align_mask)
 * @span_start: first byte of the slot, granule-aligned (and aligned to
 *	min_align_mask + 1 when that is larger than a granule)
 * @span_len: bytes from @span_start to the granule boundary after the data;
 *	a multiple of the granule. The DMA layer maps exactly
 *	[@span_start, @span_start + @span_len) in the IOMMU; every byte of it
 *	outside the data is zero.
 */
struct altdma_bounce_slot {
	phys_addr_t data;
	phys_addr_t span_start;
	size_t span_len;
};

/**
 * struct altdma_bounce_where - the live mapping holding some bounce memory
 * @orig: physical address of the caller's buffer (its data start)
 * @data: bounce address of the data
 * @size: size of the mapping's data in bytes
 * @span: first byte of the mapping's slot span
 * @span_len: bytes of the span
 * @index: byte index of @data in the pool: the segments laid end to end
 *	in address order, so [0, &altdma_bounce_pool.size)
 * @dir: direction given to the map
 *
 * Context: a snapshot filled by altdma_bounce_locate().
 */
struct altdma_bounce_where {
	phys_addr_t orig;
	phys_addr_t data;
	size_t size;
	phys_addr_t span;
	size_t span_len;
	size_t index;
	u32 dir;
};

size_t altdma_bounce_max_size(void);
struct altdma_bounce_pool *altdma_bounce_pool_create(const char *name,
						     size_t size,
						     unsigned long granule);
void altdma_bounce_pool_destroy(struct altdma_bounce_pool *pool);
int altdma_bounce_map(struct altdma_bounce_pool *pool, phys_addr_t orig,
		      size_t size, unsigned int min_align_mask,
		      enum dma_data_direction dir, unsigned long attrs,
		      struct altdma_bounce_slot *out);
int altdma_bounce_unmap(struct altdma_bounce_pool *pool, phys_addr_t data,
			size_t size, enum dma_data_direction dir,
			unsigned long attrs);
int altdma_bounce_unmap_owned(struct altdma_bounce_pool *pool,
			      phys_addr_t data, size_t size,
			      enum dma_data_direction dir, unsigned long attrs);
int altdma_bounce_sync_for_cpu(struct altdma_bounce_pool *pool,
			       phys_addr_t addr, size_t size,
			       enum dma_data_direction dir);
int altdma_bounce_sync_for_device(struct altdma_bounce_pool *pool,
				  phys_addr_t addr, size_t size,
				  enum dma_data_direction dir);
bool altdma_bounce_owns(struct altdma_bounce_pool *pool, phys_addr_t addr);
int altdma_bounce_locate(struct altdma_bounce_pool *pool, phys_addr_t addr,
			 size_t size, struct altdma_bounce_where *w);
size_t altdma_bounce_max_mapping_size(struct altdma_bounce_pool *pool,
				      unsigned int min_align_mask);
void altdma_bounce_get_stats(struct altdma_bounce_pool *pool,
			     struct altdma_bounce_stats *st);

#endif /* _ALTDMA_SWIOTLB_BOUNCE_H */
