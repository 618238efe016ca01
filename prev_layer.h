/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma: the layer a device was on before its attach. The mappings it made
 * and its driver did not unmap before the unbind (buffers that outlive
 * their driver, such as page_pool pages in flight) stay in the group's
 * default domain; their unmaps, frees and syncs go back there, and altdma
 * never hands out an IOVA the default domain still maps, so an address
 * names one layer's mapping only. The version-dependent calls are in
 * altdma_compat.h (struct altdma_prev_layer).
 */
#ifndef _ALTDMA_PREV_LAYER_H
#define _ALTDMA_PREV_LAYER_H

#include <linux/types.h>
#include "altdma_compat.h"

struct altdma_prev_layer *altdma_prev_create(struct device *dev,
					     const struct dma_map_ops *ops,
					     bool dma_iommu,
					     unsigned long granule);
void altdma_prev_destroy(struct altdma_prev_layer *p);
bool altdma_prev_holds(struct altdma_prev_layer *p, dma_addr_t dma);
int altdma_prev_spans(const struct altdma_prev_layer *p);
bool altdma_prev_maps_range(void *p, unsigned long pfn_lo,
			    unsigned long pfn_hi);

#endif /* _ALTDMA_PREV_LAYER_H */
