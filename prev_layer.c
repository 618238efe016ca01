// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma: the layer a device was on before its attach (see prev_layer.h).
 *
 * While a device is on altdma nothing maps into its group's default domain
 * (the group has this one device, and its DMA ops are altdma's), so the
 * set of addresses the default domain maps only shrinks after the attach:
 * an address it maps is a mapping dma-iommu made before the attach, and a
 * range checked free of them once stays free.
 */
#include <linux/iommu.h>
#include <linux/iova.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/rbtree.h>
#include <linux/slab.h>
#include "prev_layer.h"

/**
 * struct altdma_prev_span - IOVA space dma-iommu's allocator held at attach
 * @lo: first byte address
 * @hi: last byte address (inclusive)
 */
struct altdma_prev_span {
	dma_addr_t lo;
	dma_addr_t hi;
};

/*
 * Whether @iovad, found where dma-iommu keeps the allocator of @domain,
 * looks like one dma-iommu set up for it (granule of the domain, the 32-bit
 * boundary in that granule, the anchor at the top): the layout behind
 * altdma_prev_iovad() is not checked at build time.
 */
static bool iovad_sane(const struct iova_domain *iovad,
		       const struct iommu_domain *domain)
{
	unsigned long g = READ_ONCE(iovad->granule);

	if (!domain->pgsize_bitmap || !is_power_of_2(g) ||
	    g != 1UL << __ffs(domain->pgsize_bitmap) || g > SZ_1G)
		return false;
	return iovad->dma_32bit_pfn == 1UL << (32 - __ffs(g)) &&
	       iovad->anchor.pfn_lo == ~0UL && iovad->anchor.pfn_hi == ~0UL;
}

/*
 * Copy the ranges of @iovad's tree into @spans (room for @cap), merging
 * neighbours; the anchor is not a range. Returns how many, or -1 if there
 * is no room. Called with the tree's lock held.
 */
static int spans_fill(const struct iova_domain *iovad,
		      struct altdma_prev_span *spans, unsigned int cap)
{
	unsigned int shift = __ffs(iovad->granule), n = 0;
	struct rb_node *node;
	struct iova *iova;
	dma_addr_t lo, hi;

	for (node = rb_first(&iovad->rbroot); node; node = rb_next(node)) {
		iova = rb_entry(node, struct iova, node);
		if (iova->pfn_lo == ~0UL)
			continue;
		lo = (dma_addr_t)iova->pfn_lo << shift;
		hi = ((dma_addr_t)(iova->pfn_hi + 1) << shift) - 1;
		if (n && lo <= spans[n - 1].hi + 1) {
			spans[n - 1].hi = max(spans[n - 1].hi, hi);
			continue;
		}
		if (n == cap)
			return -1;
		spans[n].lo = lo;
		spans[n++].hi = hi;
	}
	return n;
}

static unsigned int spans_count(struct iova_domain *iovad)
{
	unsigned int n = 0;
	unsigned long flags;
	struct rb_node *node;

	spin_lock_irqsave(&iovad->iova_rbtree_lock, flags);
	for (node = rb_first(&iovad->rbroot); node; node = rb_next(node))
		n++;
	spin_unlock_irqrestore(&iovad->iova_rbtree_lock, flags);
	return n;
}

/*
 * Read where dma-iommu's allocator holds IOVA space for @p's domain: every
 * mapping it made is in a range of its tree until the range is freed (the
 * ranges in its caches and flush queues stay in the tree too), and nothing
 * allocates there while the device is on altdma. Without it (a cookie that
 * does not look as expected, no memory) every address is checked.
 */
static void prev_snapshot(struct altdma_prev_layer *p)
{
	struct iova_domain *iovad = altdma_prev_iovad(p->domain);
	struct altdma_prev_span *spans;
	unsigned long flags;
	unsigned int cap;
	int n;

	if (!iovad || !iovad_sane(iovad, p->domain))
		return;
	/* the tree only shrinks now (the device has no driver): room enough */
	cap = spans_count(iovad) + 1;
	spans = kvmalloc_array(cap, sizeof(*spans), GFP_KERNEL);
	if (!spans)
		return;
	spin_lock_irqsave(&iovad->iova_rbtree_lock, flags);
	n = spans_fill(iovad, spans, cap);
	spin_unlock_irqrestore(&iovad->iova_rbtree_lock, flags);
	if (n < 0) {
		kvfree(spans);
		return;
	}
	p->spans = spans;
	p->nr_spans = n;
}

/**
 * altdma_prev_create() - remember the layer a device is on before an attach
 * @dev: the device, still on its default domain
 * @ops: its DMA ops (dev->dma_ops) before altdma's
 * @dma_iommu: whether the DMA API called dma-iommu directly for it (6.10+)
 * @granule: the IOMMU's page size, in bytes
 *
 * Context: process context, may sleep; before the device leaves its
 * default domain.
 * Return: the layer, to give altdma_prev_destroy() after the detach; NULL
 * if the device was not on dma-iommu over a DMA domain (there is nothing
 * to send back then); an ERR_PTR() on allocation failure.
 */
struct altdma_prev_layer *altdma_prev_create(struct device *dev,
					     const struct dma_map_ops *ops,
					     bool dma_iommu,
					     unsigned long granule)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);
	struct altdma_prev_layer *p;

	if (!domain || !(domain->type & __IOMMU_DOMAIN_DMA_API))
		return NULL;
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return ERR_PTR(-ENOMEM);
	p->domain = domain;
	p->shift = __ffs(granule);
	if (!altdma_prev_init(p, dev, ops, dma_iommu)) {
		kfree(p);
		return NULL;
	}
	prev_snapshot(p);
	return p;
}

/**
 * altdma_prev_destroy() - forget a device's previous layer
 * @p: from altdma_prev_create(), or NULL
 *
 * Context: any context; once no DMA op can use @p (the device's context is
 * unregistered).
 */
void altdma_prev_destroy(struct altdma_prev_layer *p)
{
	if (p)
		kvfree(p->spans);
	kfree(p);
}

/**
 * altdma_prev_holds() - whether an address is a mapping of the previous layer
 * @p: the layer
 * @dma: a DMA address the driver gave
 *
 * Context: any context (a page-table walk of the default domain).
 * Return: true if the default domain still maps @dma.
 */
bool altdma_prev_holds(struct altdma_prev_layer *p, dma_addr_t dma)
{
	return dma != DMA_MAPPING_ERROR && iommu_iova_to_phys(p->domain, dma);
}

/**
 * altdma_prev_spans() - how many ranges dma-iommu's allocator held at attach
 * @p: the layer
 *
 * Context: any context.
 * Return: the number of merged ranges read at the attach (where the
 * previous layer's leftover mappings can be), or -1 if they could not be
 * read and every address is checked.
 */
int altdma_prev_spans(const struct altdma_prev_layer *p)
{
	return p->spans ? (int)p->nr_spans : -1;
}

/* Whether a granule of [@lo, @hi] is mapped in the default domain. */
static bool walk_mapped(const struct altdma_prev_layer *p, dma_addr_t lo,
			dma_addr_t hi)
{
	dma_addr_t a;

	for (a = lo; a <= hi && a >= lo; a += 1ULL << p->shift)
		if (iommu_iova_to_phys(p->domain, a))
			return true;
	return false;
}

/* The first span of @p that ends at or after @lo: a binary search. */
static unsigned int span_first(const struct altdma_prev_layer *p,
			       dma_addr_t lo)
{
	unsigned int l = 0, h = p->nr_spans, mid;

	while (l < h) {
		mid = l + (h - l) / 2;
		if (p->spans[mid].hi < lo)
			l = mid + 1;
		else
			h = mid;
	}
	return l;
}

/**
 * altdma_prev_maps_range() - whether the previous layer maps part of a range
 * @p: the layer (a struct altdma_prev_layer)
 * @pfn_lo: first IOVA page of the range
 * @pfn_hi: last IOVA page (inclusive)
 *
 * The IOVA allocator's avoid hook: a range placed by its tree is checked
 * before altdma hands it out (cached ranges were checked when the tree
 * first placed them). Only the parts of it that dma-iommu's allocator held
 * at the attach are walked, granule by granule; without those ranges, the
 * whole range is.
 *
 * Context: any context, under the IOVA domain's lock.
 * Return: true if any granule of the range is mapped in the default domain.
 */
bool altdma_prev_maps_range(void *p, unsigned long pfn_lo,
			    unsigned long pfn_hi)
{
	struct altdma_prev_layer *prev = p;
	dma_addr_t lo = (dma_addr_t)pfn_lo << prev->shift;
	dma_addr_t hi = ((dma_addr_t)(pfn_hi + 1) << prev->shift) - 1;
	const struct altdma_prev_span *s;
	unsigned int i;

	if (!prev->spans)
		return walk_mapped(prev, lo, hi);
	for (i = span_first(prev, lo); i < prev->nr_spans; i++) {
		s = &prev->spans[i];
		if (s->lo > hi)
			break;
		if (walk_mapped(prev, max(s->lo, lo), min(s->hi, hi)))
			return true;
	}
	return false;
}
