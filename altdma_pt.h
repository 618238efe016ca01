/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma page-table backends: the small ops table the DMA layer maps and
 * unmaps through, and the backend over an unmanaged IOMMU domain.
 */
#ifndef _ALTDMA_PT_H
#define _ALTDMA_PT_H

#include <linux/dma-direction.h>
#include <linux/iommu.h>
#include <linux/types.h>

#include "altdma_compat.h"

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

/* pt_backend_iommu.c: the backend over an unmanaged IOMMU domain */
extern const struct altdma_pt_ops altdma_pt_iommu_ops;

/*
 * The hot backend calls: a direct call into the IOMMU API when the backend
 * is the real one (no indirect call on the fast path), the ops table
 * otherwise (the KUnit software page table).
 */

/**
 * altdma_pt_map() - map through a backend
 * @pt: the backend
 * @priv: its private data
 * @iova: first IOVA byte (granule-aligned)
 * @phys: first physical byte (granule-aligned)
 * @size: bytes, a multiple of the granule
 * @prot: IOMMU_* flags
 * @gfp: for page-table pages
 *
 * Context: as &altdma_pt_ops.map.
 * Return: 0 or a negative errno.
 */
static inline int altdma_pt_map(const struct altdma_pt_ops *pt, void *priv,
				unsigned long iova, phys_addr_t phys,
				size_t size, int prot, gfp_t gfp)
{
	if (pt == &altdma_pt_iommu_ops)
		return altdma_iommu_map(priv, iova, phys, size, prot, gfp);
	return pt->map(priv, iova, phys, size, prot, gfp);
}

/**
 * altdma_pt_unmap() - unmap through a backend, into a gather
 * @pt: the backend
 * @priv: its private data
 * @iova: first IOVA byte
 * @size: bytes
 * @gather: collects what to invalidate
 *
 * Context: as &altdma_pt_ops.unmap.
 * Return: the bytes unmapped.
 */
static inline size_t altdma_pt_unmap(const struct altdma_pt_ops *pt,
				     void *priv, unsigned long iova,
				     size_t size,
				     struct iommu_iotlb_gather *gather)
{
	if (pt == &altdma_pt_iommu_ops)
		return iommu_unmap_fast(priv, iova, size, gather);
	return pt->unmap(priv, iova, size, gather);
}

/**
 * altdma_pt_iotlb_sync() - invalidate what a gather collected
 * @pt: the backend
 * @priv: its private data
 * @gather: what an unmap collected
 *
 * Context: as &altdma_pt_ops.iotlb_sync.
 */
static inline void altdma_pt_iotlb_sync(const struct altdma_pt_ops *pt,
					void *priv,
					struct iommu_iotlb_gather *gather)
{
	if (pt == &altdma_pt_iommu_ops)
		iommu_iotlb_sync(priv, gather);
	else
		pt->iotlb_sync(priv, gather);
}

#endif /* _ALTDMA_PT_H */
