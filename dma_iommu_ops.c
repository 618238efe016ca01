// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma dma_map_ops over an IOMMU domain.
 *
 * Not written yet: altdma installs no dma_map_ops on any device today. The
 * ops, the page-table backends and device attach are the subjects of later
 * issues.
 */
