// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma page-table backend over an IOMMU_DOMAIN_UNMANAGED domain: the
 * private data is the struct iommu_domain the device is attached to.
 *
 * iommu_map() differs between kernel lines (altdma_compat.h);
 * iommu_unmap_fast() collects what to invalidate in a gather and
 * iommu_iotlb_sync() invalidates it.
 *
 * attach.c creates the domain and passes it here as the private data.
 */

#include <linux/gfp.h>
#include <linux/iommu.h>

#include "altdma_compat.h"
#include "dma_iommu_ops.h"

static int pt_iommu_map(void *priv, unsigned long iova, phys_addr_t phys,
			size_t size, int prot, gfp_t gfp)
{
	return altdma_iommu_map(priv, iova, phys, size, prot, gfp);
}

static size_t pt_iommu_unmap(void *priv, unsigned long iova, size_t size,
			     struct iommu_iotlb_gather *gather)
{
	return iommu_unmap_fast(priv, iova, size, gather);
}

static phys_addr_t pt_iommu_iova_to_phys(void *priv, unsigned long iova)
{
	return iommu_iova_to_phys(priv, iova);
}

static void pt_iommu_iotlb_sync(void *priv, struct iommu_iotlb_gather *gather)
{
	iommu_iotlb_sync(priv, gather);
}

/*
 * Invalidate everything the domain may cache. virtio-iommu in 6.1 has no
 * flush_iotlb_all (iommu_flush_iotlb_all() would do nothing) and only sends
 * its queued unmap requests on iotlb_sync, so a driver without the hook
 * gets a sync whose gather covers the whole space instead.
 */
static void pt_iommu_flush_all(void *priv)
{
	struct iommu_domain *domain = priv;
	struct iommu_iotlb_gather gather;

	if (domain->ops->flush_iotlb_all) {
		iommu_flush_iotlb_all(domain);
		return;
	}
	iommu_iotlb_gather_init(&gather);
	gather.start = 0;
	gather.end = ULONG_MAX;
	iommu_iotlb_sync(domain, &gather);
}

/*
 * The backend over an unmanaged IOMMU domain; pass the domain as the
 * private data. Coherency is left to dev_is_dma_coherent() (no hook).
 */
const struct altdma_pt_ops altdma_pt_iommu_ops = {
	.name = "iommu",
	.map = pt_iommu_map,
	.unmap = pt_iommu_unmap,
	.iova_to_phys = pt_iommu_iova_to_phys,
	.iotlb_sync = pt_iommu_iotlb_sync,
	.flush_all = pt_iommu_flush_all,
};
