/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma: what differs between architectures and IOMMU drivers, beside
 * altdma_compat.h (which holds the kernel-version differences). Tested:
 * x86_64 behind intel-iommu, virtio-iommu and AMD-Vi, arm64 behind an
 * SMMUv3, with 4 KiB and 64 KiB CPU pages.
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
 *  - Cache maintenance for non-coherent devices: arch_sync_dma_for_device()
 *    and arch_sync_dma_for_cpu() exist only where the architecture selects
 *    ARCH_HAS_SYNC_DMA_FOR_DEVICE/CPU; elsewhere (x86) dma-map-ops.h gives
 *    empty inline versions, so calling them is always correct and costs
 *    nothing where DMA is coherent by construction. arm64 has them but
 *    does not export them: altdma.ko reaches them through dma-direct (see
 *    altdma_arch_sync_for_device()); built into the kernel it calls them.
 */
#ifndef _ALTDMA_ARCH_H
#define _ALTDMA_ARCH_H

#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>

#if defined(MODULE) && (IS_ENABLED(CONFIG_ARCH_HAS_SYNC_DMA_FOR_DEVICE) || \
			IS_ENABLED(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU))
/*
 * A device on dma-direct with no bus offset, no IOMMU, no bounce buffer
 * and no coherency: its sync calls arch_sync_dma_for_device/cpu() on the
 * physical address it is given, which is all this does with it.
 */
static inline struct device *altdma_sync_dev(void)
{
	static u64 mask = DMA_BIT_MASK(64);
	static struct device dev = {
		.dma_mask = &mask,
		.coherent_dma_mask = DMA_BIT_MASK(64),
	};

	return &dev;
}

static inline void altdma_arch_sync_for_device(phys_addr_t phys, size_t size,
					       enum dma_data_direction dir)
{
	dma_sync_single_for_device(altdma_sync_dev(), (dma_addr_t)phys, size,
				   dir);
}

static inline void altdma_arch_sync_for_cpu(phys_addr_t phys, size_t size,
					    enum dma_data_direction dir)
{
	dma_sync_single_for_cpu(altdma_sync_dev(), (dma_addr_t)phys, size, dir);
}
#else
static inline void altdma_arch_sync_for_device(phys_addr_t phys, size_t size,
					       enum dma_data_direction dir)
{
	arch_sync_dma_for_device(phys, size, dir);
}

static inline void altdma_arch_sync_for_cpu(phys_addr_t phys, size_t size,
					    enum dma_data_direction dir)
{
	arch_sync_dma_for_cpu(phys, size, dir);
}
#endif

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
