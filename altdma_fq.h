/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma deferred invalidation: per-CPU flush queues of unmapped mappings
 * whose IOVA waits for a flush of the whole IOTLB (flush_queue.c).
 */
#ifndef _ALTDMA_FQ_H
#define _ALTDMA_FQ_H

#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "iova_alloc.h"

struct altdma_dev;

/* Entries in one CPU's deferred-invalidation queue. */
#define ALTDMA_FQ_SIZE		256
/*
 * IOVA pages (granules) one CPU's queue may hold: past that, the unmap that
 * queued them flushes the IOTLB and gives them back (4 MiB of 4 KiB pages).
 * Large mappings are then reused after a few unmaps instead of waiting in
 * the queue by the hundred, each new map taking fresh space from the tree.
 * A range larger than this is never queued: its unmap syncs it at once.
 */
#define ALTDMA_FQ_PAGES		1024
/* Longest an unmapped IOVA waits for its flush in deferred mode, in ms. */
#define ALTDMA_FQ_TIMEOUT_MS	10

/**
 * struct altdma_fq_entry - an unmapped IOVA range waiting for its flush
 * @range: the range, owned by the queue (its mapping was claimed and torn
 *	down); given back to the allocator with no second check
 * @gen: flushes started when it was queued; it may be freed once more
 *	flushes than that have finished
 * @freelist: page-table pages the backend freed with the range (from the
 *	gather); given back to the page allocator after the flush
 */
struct altdma_fq_entry {
	struct altdma_iova_range *range;
	u64 gen;
	struct list_head freelist;
};

/**
 * struct altdma_fq - one CPU's deferred-invalidation queue
 * @lock: protects the ring; taken with interrupts off, may be taken by
 *	another CPU (the timer, teardown). Nothing is taken inside it but
 *	the IOVA domain's locks.
 * @head: next entry to free
 * @count: entries queued
 * @pages: IOVA pages the queued ranges occupy, at most %ALTDMA_FQ_PAGES
 *	whenever @lock is free
 * @ring: the entries
 */
struct altdma_fq {
	/* guards @head, @count, @pages, @ring */
	spinlock_t lock;
	unsigned int head;
	unsigned int count;
	unsigned long pages;
	struct altdma_fq_entry ring[ALTDMA_FQ_SIZE];
};

int altdma_fq_init(struct altdma_dev *adev);
void altdma_fq_destroy(struct altdma_dev *adev);
void altdma_fq_queue(struct altdma_dev *adev, struct altdma_iova_range *r,
		     struct iommu_iotlb_gather *gather);
void altdma_fq_flush(struct altdma_dev *adev);

#endif /* _ALTDMA_FQ_H */
