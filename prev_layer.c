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
#include <linux/slab.h>
#include "prev_layer.h"

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
 * altdma_prev_maps_range() - whether the previous layer maps part of a range
 * @p: the layer (a struct altdma_prev_layer)
 * @pfn_lo: first IOVA page of the range
 * @pfn_hi: last IOVA page (inclusive)
 *
 * The IOVA allocator's avoid hook: a range placed by its tree is checked
 * granule by granule before altdma hands it out (cached ranges were checked
 * when the tree first placed them).
 *
 * Context: any context, under the IOVA domain's lock.
 * Return: true if any granule of the range is mapped in the default domain.
 */
bool altdma_prev_maps_range(void *p, unsigned long pfn_lo,
			    unsigned long pfn_hi)
{
	struct altdma_prev_layer *prev = p;
	unsigned long pfn;

	for (pfn = pfn_lo; pfn <= pfn_hi; pfn++)
		if (iommu_iova_to_phys(prev->domain,
				       (dma_addr_t)pfn << prev->shift))
			return true;
	return false;
}
