// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma: alternate DMA mapping ops for chosen devices behind an IOMMU.
 *
 * This file holds the module's entry points. The IOVA allocator is in
 * iova_alloc.c and the bounce-buffer pool in swiotlb_bounce.c (its size
 * parameter, bounce_pool_size, is declared there); the dma_map_ops
 * (dma_iommu_ops.c) are not written yet, so loading the module creates no
 * pool, attaches nothing and changes no device.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/module.h>

static int __init altdma_init(void)
{
	pr_info("loaded (IOVA allocator and bounce pool; no device is attached)\n");
	return 0;
}
module_init(altdma_init);

static void __exit altdma_exit(void)
{
}
module_exit(altdma_exit);

MODULE_DESCRIPTION("altdma: alternate DMA mapping ops over an IOMMU domain");
MODULE_LICENSE("GPL");
