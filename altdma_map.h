/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma mapping objects: one object per mapping, which is at the same time
 * the mapping's IOVA range (struct altdma_iova_range at its start), so the
 * allocator's index finds it, its caches recycle it and one state change
 * claims it on unmap.
 */
#ifndef _ALTDMA_MAP_H
#define _ALTDMA_MAP_H

#include <linux/bits.h>
#include <linux/dma-direction.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/types.h>

#include "iova_alloc.h"

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
 * enum altdma_map_state - life of a mapping object (low bits of its state)
 * @ALTDMA_MAP_RELEASED: not mapped: new, or unmapped and parked in a flush
 *	queue or an IOVA cache, where it keeps its last mapping's fields so
 *	that a second unmap is told apart from an unknown address
 * @ALTDMA_MAP_MAPPED: live
 * @ALTDMA_MAP_UNMAPPING: an unmap won it (cmpxchg from MAPPED)
 * @ALTDMA_MAP_QUARANTINED: the backend unmapped short; the IOVA is never
 *	reused and the object stays with the quarantined range
 *
 * A new object is zeroed, so it starts RELEASED: nothing can claim an
 * object that was never published.
 */
enum altdma_map_state {
	ALTDMA_MAP_RELEASED,
	ALTDMA_MAP_MAPPED,
	ALTDMA_MAP_UNMAPPING,
	ALTDMA_MAP_QUARANTINED,
};

/* The state word: a generation above the &enum altdma_map_state bits. */
#define ALTDMA_MAP_STATE_BITS	2
#define ALTDMA_MAP_STATE_MASK	(BIT(ALTDMA_MAP_STATE_BITS) - 1)
#define ALTDMA_MAP_GEN_ONE	BIT(ALTDMA_MAP_STATE_BITS)

/**
 * struct altdma_map_seg - one caller segment of a mapping
 * @orig: physical address of the caller's buffer
 * @bounce: bounce address of the data, or 0 when not bounced
 * @span_phys: first byte of what is mapped for it (granule-aligned: the
 *	buffer's granules, or the bounce slot's span)
 * @dma: device address of the data
 * @len: length of the data in bytes
 * @span_off: offset of the span from the mapping's first IOVA byte
 * @span_len: bytes of the span, a multiple of the granule
 * @merged: the segment continues the previous one's DMA segment
 */
struct altdma_map_seg {
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
 * struct altdma_map_segs - a chunk of the segments of an sg mapping of more
 *	than one
 * @rcu: frees the whole chain after readers (a sync racing with the unmap);
 *	used in the first chunk only
 * @next: the next chunk, or NULL
 * @n: segments in the whole chain (in the first chunk; the count travels
 *	with the chain, so a reader that loaded the pointer once always has a
 *	count that matches it)
 * @here: segments in this chunk, at least one
 * @seg: this chunk's segments
 *
 * A chunk is at most a page, so a list of any length is held without a
 * high-order allocation (map_sg() allocates in atomic context).
 */
struct altdma_map_segs {
	struct rcu_head rcu;
	struct altdma_map_segs *next;
	unsigned int n;
	unsigned int here;
	struct altdma_map_seg seg[];
};

/* Segments one chunk holds: the chunk is then at most one page. */
#define ALTDMA_MAP_SEGS_PER_CHUNK					\
	((PAGE_SIZE - sizeof(struct altdma_map_segs)) /			\
	 sizeof(struct altdma_map_seg))

/**
 * struct altdma_seg_iter - a walk over the segments of a mapping
 * @chunk: the chunk of the current segment; NULL for a mapping of one
 * @k: index of the current segment in @chunk
 */
struct altdma_seg_iter {
	struct altdma_map_segs *chunk;
	unsigned int k;
};

/**
 * altdma_segs_first() - start a walk over segments
 * @ext: the chain of a list of more than one, or NULL
 * @one: the segment of a mapping of one (used when @ext is NULL)
 * @it: the walk
 *
 * Context: any context; see altdma_map_segs() for readers.
 * Return: the first segment.
 */
static inline struct altdma_map_seg *
altdma_segs_first(struct altdma_map_segs *ext, struct altdma_map_seg *one,
		  struct altdma_seg_iter *it)
{
	it->chunk = ext;
	it->k = 0;
	return ext ? &ext->seg[0] : one;
}

/**
 * altdma_segs_next() - the next segment of a walk
 * @it: the walk
 *
 * Context: any context; see altdma_map_segs() for readers.
 * Return: the next segment, or NULL after the last.
 */
static inline struct altdma_map_seg *
altdma_segs_next(struct altdma_seg_iter *it)
{
	if (!it->chunk)
		return NULL;
	if (++it->k < it->chunk->here)
		return &it->chunk->seg[it->k];
	it->chunk = it->chunk->next;
	it->k = 0;
	return it->chunk ? &it->chunk->seg[0] : NULL;
}

/**
 * struct altdma_map - one mapping, and its IOVA range
 * @range: the IOVA range (first: the allocator allocates, indexes, caches
 *	and frees the whole object with it; see &struct altdma_iova_range)
 * @dma: the address the driver got (for sg: the first segment's)
 * @size: the size the driver gave (for sg: the number of entries)
 * @attrs: attributes given to the map
 * @caller: return address of the mapping call (inside the DMA API)
 * @site: the driver's call site (the first return address outside the
 *	DMA API); 0 when not captured (see altdma_map_site())
 * @cpu_addr: kernel address of a coherent allocation or of the pages of
 *	dma_alloc_pages() (for a noncontiguous allocation, its sg_table
 *	handle; without a kernel mapping, @pages); a free must give the same
 * @pages: the pages of an allocation built of separate pages (mapped
 *	contiguously in IOVA), else NULL
 * @state: generation and &enum altdma_map_state. Publishing a mapping
 *	stores a new generation with MAPPED (release); an unmap claims it
 *	with a cmpxchg from the exact word it read, so an unmap that read
 *	an earlier life of a recycled object can never claim the new one.
 * @dir: direction given to the map
 * @type: &enum altdma_map_type
 * @ext: the segments of an sg mapping of more than one (a chain of
 *	chunks), else NULL and @seg0 holds the one segment; read with
 *	altdma_map_segs()
 * @seg0: the segment of a mapping of one
 *
 * The fields are written by the owner of the object (the mapper, after
 * the allocator handed the range out) before the state is published; an
 * unmap reads them after reading the state (acquire) and claims the
 * object only if the state is still the one it read.
 */
struct altdma_map {
	struct altdma_iova_range range;
	dma_addr_t dma;
	size_t size;
	unsigned long attrs;
	unsigned long caller;
	unsigned long site;
	void *cpu_addr;
	struct page **pages;
	u32 state;
	u8 dir;
	u8 type;
	struct altdma_map_segs *ext;
	struct altdma_map_seg seg0;
};

/**
 * altdma_map_of() - the mapping object of a range of a DMA layer's domain
 * @r: the range
 *
 * Context: any context.
 * Return: the object @r starts.
 */
static inline struct altdma_map *altdma_map_of(struct altdma_iova_range *r)
{
	return container_of(r, struct altdma_map, range);
}

/**
 * altdma_map_segs() - the segments of a mapping
 * @m: the mapping
 * @n: set to the number of segments
 * @it: set up for altdma_segs_next()
 *
 * Context: any context; a reader that is not the mapping's owner must be
 * in an RCU read-side section (rcu_read_lock() or rcu_read_lock_sched())
 * while it walks the segments.
 * Return: the first of *@n segments.
 */
static inline struct altdma_map_seg *altdma_map_segs(struct altdma_map *m,
						     unsigned int *n,
						     struct altdma_seg_iter *it)
{
	struct altdma_map_segs *ext = READ_ONCE(m->ext);

	*n = ext ? ext->n : 1;
	return altdma_segs_first(ext, &m->seg0, it);
}

/**
 * altdma_map_segs_free() - free a chain of segment chunks now
 * @ext: the first chunk, or NULL
 *
 * Context: any context; no reader may hold the chain (see map_drop_segs()
 * in dma_iommu_ops.c for the RCU way).
 */
static inline void altdma_map_segs_free(struct altdma_map_segs *ext)
{
	struct altdma_map_segs *next;

	for (; ext; ext = next) {
		next = ext->next;
		kfree(ext);
	}
}

/**
 * altdma_map_iova() - the first IOVA byte of a mapping
 * @m: the mapping
 * @shift: log2 of the domain's granule
 *
 * Context: any context.
 * Return: the IOVA of the mapping's range.
 */
static inline dma_addr_t altdma_map_iova(const struct altdma_map *m,
					 unsigned int shift)
{
	return (dma_addr_t)m->range.pfn_lo << shift;
}

/**
 * altdma_map_live() - whether a mapping object holds a live mapping
 * @m: the object
 *
 * Context: any context; a snapshot.
 * Return: true when its state is MAPPED.
 */
static inline bool altdma_map_live(const struct altdma_map *m)
{
	return (READ_ONCE(m->state) & ALTDMA_MAP_STATE_MASK) ==
	       ALTDMA_MAP_MAPPED;
}

#endif /* _ALTDMA_MAP_H */
