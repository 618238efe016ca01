// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma deferred invalidation: per-CPU flush queues of unmapped IOVA
 * ranges. An unmapped range is queued instead of being synced; when a queue
 * is full (%ALTDMA_FQ_SIZE entries, or more than %ALTDMA_FQ_PAGES pages of
 * IOVA), or %ALTDMA_FQ_TIMEOUT_MS after an entry was queued, the backend
 * flushes the whole IOTLB once and only then are the ranges queued before
 * that flush given back to the allocator. So an IOVA is never reused while
 * the IOTLB may still hold its old translation.
 *
 * Ordering: each entry records how many flushes had started when it was
 * queued (gen). A flush increments fq_started, flushes, then increments
 * fq_finished. An entry may be freed once fq_finished > gen: at least one
 * flush that started after it was queued has finished. A CPU whose queue is
 * full runs a flush itself and then frees every entry whose gen is below
 * that flush's number (all of them), even while an older flush is still
 * running, so a full queue always drains and no entry is ever overwritten.
 */

#include <linux/list.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/timer.h>

#include "altdma_compat.h"
#include "altdma_trace.h"
#include "dma_iommu_ops.h"

/* Entries a drain hands back to the allocator at once. */
#define FQ_BATCH	32

/*
 * Free up to %FQ_BATCH entries of @fq (CPU @cpu's) queued before flush
 * number @done started, oldest first: their ranges go back to @cpu's IOVA
 * cache in one batch. Lock held. Returns how many were freed.
 */
static noinline unsigned int fq_drain_batch(struct altdma_dev *adev,
					    struct altdma_fq *fq, int cpu,
					    u64 done)
{
	struct altdma_iova_range *batch[FQ_BATCH];
	struct altdma_fq_entry *e;
	unsigned int n = 0;

	while (fq->count && n < FQ_BATCH) {
		e = &fq->ring[fq->head];
		if (e->gen >= done)
			break;
		batch[n++] = e->range;
		fq->pages -= altdma_iova_range_pages(e->range);
		altdma_put_pt_pages(&e->freelist);
		fq->head = (fq->head + 1) % ALTDMA_FQ_SIZE;
		fq->count--;
	}
	altdma_iova_put_ranges(&adev->iovad, cpu, batch, n);
	return n;
}

/*
 * Free the entries of @fq queued before flush number @done started (their
 * gen is below it), oldest first. Lock held.
 */
static void fq_drain_locked(struct altdma_dev *adev, struct altdma_fq *fq,
			    int cpu, u64 done)
{
	while (fq->count && fq->ring[fq->head].gen < done &&
	       fq_drain_batch(adev, fq, cpu, done))
		;
}

/*
 * Flush the whole IOTLB. Returns this flush's number: every entry whose gen
 * is below it was queued before the flush started, so it is covered.
 */
static u64 fq_flush_iotlb(struct altdma_dev *adev)
{
	u64 nr = atomic64_inc_return(&adev->fq_started);

	adev->pt->flush_all(adev->pt_priv);
	atomic64_inc(&adev->flush_alls);
	trace_altdma_flush(adev->dev, true, nr);
	atomic64_inc(&adev->fq_finished);
	return nr;
}

/**
 * altdma_fq_flush() - flush the IOTLB and free every queued range
 * @adev: a context in deferred mode (others: nothing happens)
 *
 * Context: any context; takes each CPU's queue lock with interrupts off.
 */
void altdma_fq_flush(struct altdma_dev *adev)
{
	struct altdma_fq *fq;
	unsigned long flags;
	u64 nr;
	int cpu;

	if (!adev->fq)
		return;
	nr = fq_flush_iotlb(adev);
	for_each_possible_cpu(cpu) {
		fq = per_cpu_ptr(adev->fq, cpu);
		spin_lock_irqsave(&fq->lock, flags);
		fq_drain_locked(adev, fq, cpu, nr);
		spin_unlock_irqrestore(&fq->lock, flags);
	}
}

/* Whether any CPU's queue holds an entry (read without the locks). */
static bool fq_waiting(struct altdma_dev *adev)
{
	int cpu;

	for_each_possible_cpu(cpu)
		if (READ_ONCE(per_cpu_ptr(adev->fq, cpu)->count))
			return true;
	return false;
}

/*
 * The timer: flush if anything waits. When a full queue's unmap has
 * drained them all since the timer was armed, there is nothing to flush
 * for. An entry queued after the check finds the timer not pending (it is
 * running) and arms it again.
 */
static void fq_timeout(struct timer_list *t)
{
	struct altdma_dev *adev = from_timer(adev, t, fq_timer);

	if (!fq_waiting(adev))
		return;
	altdma_fq_flush(adev);
	/* entries queued while the flush ran wait for the next one */
	if (fq_waiting(adev))
		mod_timer(&adev->fq_timer,
			  jiffies + msecs_to_jiffies(ALTDMA_FQ_TIMEOUT_MS));
}

/**
 * altdma_fq_queue() - queue an unmapped IOVA range until the next flush
 * @adev: a context in deferred mode
 * @r: the range of a mapping that was claimed and torn down, of at most
 *	%ALTDMA_FQ_PAGES pages (a larger one is synced, not queued); the
 *	queue owns it from now on and gives it back, after the flush, to this
 *	CPU's IOVA cache (altdma_iova_put_ranges()), whichever CPU drains it
 * @gather: what the backend's unmap collected; page-table pages on its
 *	freelist are kept until the flush
 *
 * The range's page-table entries must already be gone. When this CPU's
 * queue is full with it (%ALTDMA_FQ_SIZE entries, or more than
 * %ALTDMA_FQ_PAGES pages), the IOTLB is flushed and the whole queue
 * drained, @r with it.
 *
 * Context: any context; takes this CPU's queue lock with interrupts off.
 */
void altdma_fq_queue(struct altdma_dev *adev, struct altdma_iova_range *r,
		     struct iommu_iotlb_gather *gather)
{
	struct altdma_fq_entry *e;
	struct altdma_fq *fq;
	unsigned long flags;
	bool waiting;
	int cpu;

	/*
	 * The range's page-table entries are cleared; a flush that starts
	 * after we read fq_started below must see that (pairs with the
	 * atomic increment in fq_flush_iotlb()).
	 */
	smp_mb();
	local_irq_save(flags);
	cpu = smp_processor_id();
	fq = per_cpu_ptr(adev->fq, cpu);
	spin_lock(&fq->lock);
	fq_drain_locked(adev, fq, cpu, atomic64_read(&adev->fq_finished));
	/* never full here: a queue that fills below is drained at once */
	e = &fq->ring[(fq->head + fq->count) % ALTDMA_FQ_SIZE];
	e->range = r;
	e->gen = atomic64_read(&adev->fq_started);
	INIT_LIST_HEAD(&e->freelist);
	list_splice_init(&gather->freelist, &e->freelist);
	fq->count++;
	fq->pages += altdma_iova_range_pages(r);
	if (fq->count == ALTDMA_FQ_SIZE || fq->pages > ALTDMA_FQ_PAGES) {
		/* our own flush covers every entry here, whatever else runs */
		fq_drain_locked(adev, fq, cpu, fq_flush_iotlb(adev));
	}
	waiting = fq->count;
	spin_unlock(&fq->lock);
	local_irq_restore(flags);
	this_cpu_inc(adev->pcpu->deferred);
	if (waiting && !timer_pending(&adev->fq_timer))
		mod_timer(&adev->fq_timer,
			  jiffies + msecs_to_jiffies(ALTDMA_FQ_TIMEOUT_MS));
}

/**
 * altdma_fq_init() - set up the flush queues of a context
 * @adev: the context
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int altdma_fq_init(struct altdma_dev *adev)
{
	int cpu;

	adev->fq = alloc_percpu(struct altdma_fq);
	if (!adev->fq)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		spin_lock_init(&per_cpu_ptr(adev->fq, cpu)->lock);
	timer_setup(&adev->fq_timer, fq_timeout, 0);
	return 0;
}

/**
 * altdma_fq_destroy() - drain and free the flush queues
 * @adev: the context; nothing may queue any more
 *
 * Context: process context, may sleep (waits for the timer).
 */
void altdma_fq_destroy(struct altdma_dev *adev)
{
	del_timer_sync(&adev->fq_timer);
	altdma_fq_flush(adev);
	free_percpu(adev->fq);
	adev->fq = NULL;
}
