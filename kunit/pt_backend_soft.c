// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma KUnit software page table (see pt_backend_soft.h). Built only with
 * CONFIG_ALTDMA_KUNIT_TEST.
 */

#include <linux/log2.h>
#include <linux/xarray.h>

#include "pt_backend_soft.h"

#define PT_SOFT_PROT_BITS	6

static void *pte_mk(struct pt_soft *pt, phys_addr_t phys, int prot)
{
	return xa_mk_value(((unsigned long)(phys >> pt->shift) <<
			    PT_SOFT_PROT_BITS) | prot);
}

/*
 * The tables are used from the flush-queue timer (softirq) too, so every
 * update takes the xarray lock with interrupts off.
 */
static void *soft_store(struct xarray *xa, unsigned long index, void *e)
{
	unsigned long flags;
	void *old;

	xa_lock_irqsave(xa, flags);
	old = __xa_store(xa, index, e, GFP_ATOMIC);
	xa_unlock_irqrestore(xa, flags);
	return old;
}

static void *soft_erase(struct xarray *xa, unsigned long index)
{
	unsigned long flags;
	void *old;

	xa_lock_irqsave(xa, flags);
	old = __xa_erase(xa, index);
	xa_unlock_irqrestore(xa, flags);
	return old;
}

static void soft_unmap_pages(struct pt_soft *pt, unsigned long pfn,
			     unsigned long n, bool stale)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		soft_erase(&pt->ptes, pfn + i);
		if (stale)
			soft_store(&pt->stale, pfn + i, xa_mk_value(1));
	}
}

static int soft_map(void *priv, unsigned long iova, phys_addr_t phys,
		    size_t size, int prot, gfp_t gfp)
{
	struct pt_soft *pt = priv;
	unsigned long pfn = iova >> pt->shift, n = size >> pt->shift, i;
	int fail = atomic_read(&pt->fail_map_at);

	if (atomic_inc_return(&pt->maps) == fail && fail)
		return -ENOMEM;
	if (((iova | phys | size) & (pt->granule - 1)) || !n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (xa_load(&pt->ptes, pfn + i)) {
			atomic_inc(&pt->overmaps);
			soft_unmap_pages(pt, pfn, i, false);
			return -EEXIST;
		}
		if (soft_erase(&pt->stale, pfn + i))
			atomic_inc(&pt->stale_reuse);
		if (xa_is_err(soft_store(&pt->ptes, pfn + i,
					 pte_mk(pt, phys + (i << pt->shift),
						prot)))) {
			soft_unmap_pages(pt, pfn, i, false);
			return -ENOMEM;
		}
	}
	return 0;
}

static size_t soft_unmap(void *priv, unsigned long iova, size_t size,
			 struct iommu_iotlb_gather *gather)
{
	struct pt_soft *pt = priv;
	unsigned long pfn = iova >> pt->shift, n, i;

	atomic_inc(&pt->unmaps);
	size -= min(size, READ_ONCE(pt->short_by));
	n = size >> pt->shift;
	for (i = 0; i < n; i++)
		if (!xa_load(&pt->ptes, pfn + i))
			break;
	soft_unmap_pages(pt, pfn, i, true);
	/* as the IOMMU drivers: a queued gather waits for a flush of all */
	if (i && !iommu_iotlb_gather_queued(gather))
		iommu_iotlb_gather_add_range(gather, iova, i << pt->shift);
	return i << pt->shift;
}

static phys_addr_t soft_iova_to_phys(void *priv, unsigned long iova)
{
	struct pt_soft *pt = priv;
	void *e = xa_load(&pt->ptes, iova >> pt->shift);

	if (!e)
		return 0;
	return ((phys_addr_t)(xa_to_value(e) >> PT_SOFT_PROT_BITS) << pt->shift) |
	       (iova & (pt->granule - 1));
}

static void soft_iotlb_sync(void *priv, struct iommu_iotlb_gather *gather)
{
	struct pt_soft *pt = priv;
	unsigned long index;
	void *e;

	atomic_inc(&pt->syncs);
	if (gather->start > gather->end)
		return;
	xa_for_each_range(&pt->stale, index, e, gather->start >> pt->shift,
			  gather->end >> pt->shift)
		soft_erase(&pt->stale, index);
}

static void soft_flush_all(void *priv)
{
	struct pt_soft *pt = priv;
	unsigned long index;
	void *e;

	atomic_inc(&pt->flush_alls);
	xa_for_each(&pt->stale, index, e)
		soft_erase(&pt->stale, index);
}

static bool soft_coherent(void *priv)
{
	return !((struct pt_soft *)priv)->noncoherent;
}

static void soft_cache_sync(void *priv, phys_addr_t phys, size_t size,
			    enum dma_data_direction dir, bool for_device)
{
	struct pt_soft *pt = priv;
	unsigned long flags;

	spin_lock_irqsave(&pt->cache_lock, flags);
	if (pt->nr_cache_ops < PT_SOFT_CACHE_LOG)
		pt->cache_ops[pt->nr_cache_ops] = (struct pt_soft_cache_op) {
			.phys = phys, .size = size, .dir = dir,
			.for_device = for_device,
		};
	pt->nr_cache_ops++;
	spin_unlock_irqrestore(&pt->cache_lock, flags);
}

/* The software page table's ops; the private data is a struct pt_soft. */
const struct altdma_pt_ops pt_soft_ops = {
	.name = "soft",
	.map = soft_map,
	.unmap = soft_unmap,
	.iova_to_phys = soft_iova_to_phys,
	.iotlb_sync = soft_iotlb_sync,
	.flush_all = soft_flush_all,
	.coherent = soft_coherent,
	.cache_sync = soft_cache_sync,
};

/**
 * pt_soft_init() - set up an empty software page table
 * @pt: the table
 * @granule: its page size
 *
 * Context: any context.
 */
void pt_soft_init(struct pt_soft *pt, unsigned long granule)
{
	memset(pt, 0, sizeof(*pt));
	pt->granule = granule;
	pt->shift = ilog2(granule);
	xa_init_flags(&pt->ptes, XA_FLAGS_LOCK_IRQ);
	xa_init_flags(&pt->stale, XA_FLAGS_LOCK_IRQ);
	spin_lock_init(&pt->cache_lock);
}

/**
 * pt_soft_destroy() - free a software page table's entries
 * @pt: the table
 *
 * Context: process context.
 */
void pt_soft_destroy(struct pt_soft *pt)
{
	xa_destroy(&pt->ptes);
	xa_destroy(&pt->stale);
}

/**
 * pt_soft_count() - IOVA pages mapped
 * @pt: the table
 *
 * Context: any context.
 * Return: the number of mapped pages.
 */
unsigned long pt_soft_count(struct pt_soft *pt)
{
	unsigned long index, n = 0;
	void *e;

	xa_for_each(&pt->ptes, index, e)
		n++;
	return n;
}

/**
 * pt_soft_lookup() - what an IOVA page maps to
 * @pt: the table
 * @iova: any address in the page
 * @phys: set to the physical address @iova translates to
 * @prot: set to the IOMMU_* permissions of the page
 *
 * Context: any context.
 * Return: whether the page is mapped.
 */
bool pt_soft_lookup(struct pt_soft *pt, unsigned long iova, phys_addr_t *phys,
		    int *prot)
{
	void *e = xa_load(&pt->ptes, iova >> pt->shift);

	if (!e)
		return false;
	*phys = soft_iova_to_phys(pt, iova);
	*prot = xa_to_value(e) & (BIT(PT_SOFT_PROT_BITS) - 1);
	return true;
}

/**
 * pt_soft_hash() - a digest of every mapping and its permissions
 * @pt: the table
 *
 * Two equal digests with equal pt_soft_count() mean, for the tests'
 * purposes, an unchanged page table.
 *
 * Context: any context.
 * Return: the digest.
 */
u32 pt_soft_hash(struct pt_soft *pt)
{
	unsigned long index;
	u32 h = 17;
	void *e;

	xa_for_each(&pt->ptes, index, e)
		h = h * 31 + (u32)(index ^ (index >> 32)) * 7 +
		    (u32)xa_to_value(e);
	return h;
}
