/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma: what differs between architectures and IOMMU drivers, beside
 * altdma_compat.h (which holds the kernel-version differences). Tested:
 * x86_64 behind intel-iommu and virtio-iommu, arm64 behind an SMMUv3, with
 * 4 KiB and 64 KiB CPU pages.
 *
 *  - MSIs: on x86 a device's MSI write (0xfeexxxxx) never goes through DMA
 *    translation (the IOMMU reports it as an IOMMU_RESV_MSI window, or
 *    remaps interrupts on its own path). On arm64 the SMMU translates it
 *    like any other DMA write: its driver reports a software-managed MSI
 *    window (IOMMU_RESV_SW_MSI), and the doorbell of the interrupt
 *    controller (GICv2m, GICv3 ITS) must be mapped there in the device's
 *    domain, or every interrupt of the device faults once it is on
 *    altdma's domain. dma-iommu does it for its own domains and, given an
 *    MSI cookie, for an unmanaged one (as VFIO does): the doorbell is then
 *    mapped when the driver bound after the attach allocates its vectors.
 *  - The IOVA granule: the smallest page size of the domain, at least the
 *    CPU page (a 4 KiB-granule SMMU under 64 KiB pages is used with 64 KiB
 *    granules, as dma-iommu does); see make_adev() in attach.c.
 *  - Call sites: without the ORC unwinder (arm64) altdma unwinds on every
 *    map (altdma_ret_slots() in altdma_compat.h).
 */
#ifndef _ALTDMA_ARCH_H
#define _ALTDMA_ARCH_H

#include <linux/iommu.h>

/*
 * Give @domain (unmanaged, no cookie yet) an MSI cookie with its window at
 * @base, so that the interrupt controller maps its doorbells there. The
 * cookie is freed with the domain (iommu_domain_free()). Same on 6.1 and
 * 6.12; 0 where the kernel has no dma-iommu (then no IOMMU reports a
 * software-managed MSI window either).
 */
static inline int altdma_msi_cookie(struct iommu_domain *domain,
				    dma_addr_t base)
{
	if (!IS_ENABLED(CONFIG_IOMMU_DMA))
		return 0;
	return iommu_get_msi_cookie(domain, base);
}

#endif /* _ALTDMA_ARCH_H */
