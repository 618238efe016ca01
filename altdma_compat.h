/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma: what differs between kernel versions and architectures, in one
 * place.
 *
 * Cache maintenance for non-coherent devices: arch_sync_dma_for_device()
 * and arch_sync_dma_for_cpu() exist only where the architecture selects
 * ARCH_HAS_SYNC_DMA_FOR_DEVICE/CPU; elsewhere (x86) dma-map-ops.h gives
 * empty inline versions, so calling them is always correct and costs
 * nothing where DMA is coherent by construction.
 */
#ifndef _ALTDMA_COMPAT_H
#define _ALTDMA_COMPAT_H

#include <linux/dma-map-ops.h>

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

#endif /* _ALTDMA_COMPAT_H */
