/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma DMA mapping layer: the struct dma_map_ops built on a device's
 * context (altdma_dev.h), its IOVA space (iova_alloc.h), its mapping
 * objects (altdma_map.h), its bounce pool (swiotlb_bounce.h), its flush
 * queues (altdma_fq.h) and its page-table backend (altdma_pt.h).
 */
#ifndef _ALTDMA_DMA_IOMMU_OPS_H
#define _ALTDMA_DMA_IOMMU_OPS_H

#include <linux/dma-map-ops.h>

#include "altdma_dev.h"

extern const struct dma_map_ops altdma_dma_ops;

#endif /* _ALTDMA_DMA_IOMMU_OPS_H */
