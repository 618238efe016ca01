/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma KUnit software page table: a page-table backend that records every
 * mapped IOVA page with its physical address and permissions, tracks which
 * unmapped pages the (imaginary) IOTLB may still hold, and can be told to
 * fail a map, to unmap short or to report a non-coherent device.
 */
#ifndef _ALTDMA_PT_BACKEND_SOFT_H
#define _ALTDMA_PT_BACKEND_SOFT_H

#include <linux/atomic.h>
#include <linux/dma-direction.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "../dma_iommu_ops.h"

/* Cache maintenance calls the soft backend keeps, in order. */
#define PT_SOFT_CACHE_LOG	16

/**
 * struct pt_soft_cache_op - one cache maintenance call
 * @phys: first byte
 * @size: bytes
 * @dir: direction
 * @for_device: clean for the device (true) or invalidate for the CPU
 */
struct pt_soft_cache_op {
	phys_addr_t phys;
	size_t size;
	enum dma_data_direction dir;
	bool for_device;
};

/**
 * struct pt_soft - the software page table
 * @granule: page size
 * @shift: log2(@granule)
 * @ptes: IOVA page -> xa_mk_value(phys page << 6 | prot); a stale entry
 *	(unmapped, IOTLB not yet invalidated) is kept in @stale instead
 * @stale: IOVA pages unmapped but not yet invalidated
 * @fail_map_at: when non-zero, the map call with this number (1-based,
 *	counted from the last reset) fails with -ENOMEM
 * @short_by: when non-zero, every unmap leaves its last @short_by bytes
 *	mapped and returns that many bytes fewer
 * @noncoherent: report the device as not cache-coherent
 * @maps: map calls
 * @unmaps: unmap calls
 * @syncs: iotlb_sync calls
 * @flush_alls: flush_all calls
 * @stale_reuse: maps of a page the IOTLB may still hold (must stay 0)
 * @overmaps: maps of a page already mapped (must stay 0)
 * @cache_lock: protects @cache_ops and @nr_cache_ops
 * @nr_cache_ops: cache maintenance calls seen
 * @cache_ops: the first %PT_SOFT_CACHE_LOG of them
 *
 * Context: every op works in any context (GFP_ATOMIC, xarray lock).
 */
struct pt_soft {
	unsigned long granule;
	unsigned int shift;
	struct xarray ptes;
	struct xarray stale;
	atomic_t fail_map_at;
	size_t short_by;
	bool noncoherent;
	atomic_t maps;
	atomic_t unmaps;
	atomic_t syncs;
	atomic_t flush_alls;
	atomic_t stale_reuse;
	atomic_t overmaps;
	/* guards @nr_cache_ops and @cache_ops */
	spinlock_t cache_lock;
	unsigned int nr_cache_ops;
	struct pt_soft_cache_op cache_ops[PT_SOFT_CACHE_LOG];
};

extern const struct altdma_pt_ops pt_soft_ops;

void pt_soft_init(struct pt_soft *pt, unsigned long granule);
void pt_soft_destroy(struct pt_soft *pt);
unsigned long pt_soft_count(struct pt_soft *pt);
bool pt_soft_lookup(struct pt_soft *pt, unsigned long iova, phys_addr_t *phys,
		    int *prot);
u32 pt_soft_hash(struct pt_soft *pt);

#endif /* _ALTDMA_PT_BACKEND_SOFT_H */
