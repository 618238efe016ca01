// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma: alternate DMA mapping ops for chosen devices behind an IOMMU.
 *
 * This file holds the module's entry points. The IOVA allocator is in
 * iova_alloc.c, the bounce-buffer pool in swiotlb_bounce.c (its size
 * parameter, bounce_pool_size, is declared there) and the DMA mapping layer
 * in dma_iommu_ops.c (with altdma_dev.c, flush_queue.c and the backends).
 * Nothing attaches a device yet, so loading the module creates no pool and
 * changes no device.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/module.h>

static int __init altdma_init(void)
{
	pr_info("loaded (DMA mapping layer ready; no device is attached)\n");
	return 0;
}
module_init(altdma_init);

static void __exit altdma_exit(void)
{
}
module_exit(altdma_exit);

MODULE_DESCRIPTION("altdma: alternate DMA mapping ops over an IOMMU domain");
MODULE_LICENSE("GPL");
