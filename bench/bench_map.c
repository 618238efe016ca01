// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmarks (a) and (c): map+unmap through a device's DMA ops, and the
 * floor, bare IOMMU page-table work with a bump allocator.
 *
 * Each case runs @threads kthreads, each bound to its own online CPU, that
 * wait for one start signal and then do @iters iterations on their own
 * buffers: @bufs of them, allocated before the start signal and freed after
 * the last thread finished; iteration i maps buffer i % @bufs (with the
 * default @bufs = 1, the same buffer every time). The result is the mean
 * time of one iteration per thread, in ns.
 */

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "../dma_iommu_ops.h"
#include "bench.h"

/* The floor's bump allocator hands out IOVAs in [base, base + window). */
#define FLOOR_BASE	SZ_1G
#define FLOOR_WINDOW	SZ_1G

struct bench_job;

/* One benchmark thread; written by the thread, read after it finished. */
struct bench_thread {
	struct bench_job *job;
	struct task_struct *task;
	struct page **pages;
	struct completion done;
	u64 ns;
	int err;
};

/* One run: what every thread does, and the start signal. */
struct bench_job {
	const struct altdma_bench_args *a;
	int (*one)(struct bench_job *job, struct page *page);
	struct completion start;
	struct iommu_domain *domain;
	atomic_long_t bump;
};

static int map_one(struct bench_job *job, struct page *page)
{
	struct device *dev = job->a->dev;
	size_t size = job->a->size;
	dma_addr_t dma;

	dma = dma_map_page(dev, page, job->a->off, size, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, dma))
		return -ENOMEM;
	dma_unmap_page(dev, dma, size, DMA_BIDIRECTIONAL);
	return 0;
}

static int floor_one(struct bench_job *job, struct page *page)
{
	size_t size = PAGE_ALIGN(job->a->size);
	struct iommu_iotlb_gather gather;
	unsigned long iova;
	int ret;

	iova = FLOOR_BASE + (atomic_long_fetch_add(size, &job->bump) &
			     (FLOOR_WINDOW - 1));
	ret = altdma_pt_iommu_ops.map(job->domain, iova, page_to_phys(page),
				      size, IOMMU_READ | IOMMU_WRITE,
				      GFP_ATOMIC);
	if (ret)
		return ret;
	iommu_iotlb_gather_init(&gather);
	if (altdma_pt_iommu_ops.unmap(job->domain, iova, size, &gather) != size)
		ret = -EIO;
	altdma_pt_iommu_ops.iotlb_sync(job->domain, &gather);
	return ret;
}

static int bench_thread_fn(void *data)
{
	struct bench_thread *th = data;
	struct bench_job *job = th->job;
	unsigned int i, b = 0;
	u64 t0;

	wait_for_completion(&job->start);
	t0 = ktime_get_ns();
	for (i = 0; i < job->a->iters && !th->err; i++) {
		th->err = job->one(job, th->pages[b]);
		if (++b == job->a->bufs)
			b = 0;
		if (!(i & 63))
			cond_resched();
	}
	th->ns = ktime_get_ns() - t0;
	complete(&th->done);
	return 0;
}

/* Free a thread's buffers (those that were allocated) and their array. */
static void free_bufs(struct bench_thread *th, unsigned int nbufs,
		      unsigned int order)
{
	unsigned int b;

	if (!th->pages)
		return;
	for (b = 0; b < nbufs && th->pages[b]; b++)
		__free_pages(th->pages[b], order);
	kfree(th->pages);
	th->pages = NULL;
}

/* Allocate a thread's @nbufs buffers, each on pages of its own. */
static int alloc_bufs(struct bench_thread *th, unsigned int nbufs,
		      unsigned int order)
{
	unsigned int b;

	th->pages = kcalloc(nbufs, sizeof(*th->pages), GFP_KERNEL);
	if (!th->pages)
		return -ENOMEM;
	for (b = 0; b < nbufs; b++) {
		th->pages[b] = alloc_pages(GFP_KERNEL | __GFP_ZERO |
					   __GFP_NOWARN, order);
		if (!th->pages[b])
			return -ENOMEM;
	}
	return 0;
}

static int start_threads(struct bench_job *job, struct bench_thread *th,
			 unsigned int n)
{
	unsigned int order = get_order(job->a->off + job->a->size);
	unsigned int i = 0;
	int cpu, ret;

	for_each_online_cpu(cpu) {
		if (i == n)
			break;
		th[i].job = job;
		init_completion(&th[i].done);
		ret = alloc_bufs(&th[i], job->a->bufs, order);
		if (ret)
			return ret;
		th[i].task = kthread_create_on_cpu(bench_thread_fn, &th[i], cpu,
						   "altdma_bench/%u");
		if (IS_ERR(th[i].task)) {
			th[i].task = NULL;
			return -ENOMEM;
		}
		i++;
	}
	for (i = 0; i < n; i++)
		wake_up_process(th[i].task);
	return 0;
}

/* Run job->one on every thread; the mean ns per iteration goes to @ns. */
static int run_job(struct bench_job *job, u64 *ns)
{
	unsigned int i, n = job->a->threads;
	unsigned int order = get_order(job->a->off + job->a->size);
	struct bench_thread *th;
	u64 sum = 0;
	int ret;

	/* all buffers together: a quarter of the RAM at most */
	if (((u64)job->a->bufs * n << order) > totalram_pages() / 4)
		return -E2BIG;
	th = kcalloc(n, sizeof(*th), GFP_KERNEL);
	if (!th)
		return -ENOMEM;
	init_completion(&job->start);
	ret = start_threads(job, th, n);
	/* threads that were created run (and finish at once on error) */
	for (i = 0; i < n; i++)
		if (th[i].task && ret)
			th[i].err = ret;
	complete_all(&job->start);
	for (i = 0; i < n; i++) {
		if (th[i].task) {
			wait_for_completion(&th[i].done);
			sum += th[i].ns;
			if (th[i].err && !ret)
				ret = th[i].err;
		}
		free_bufs(&th[i], job->a->bufs, order);
	}
	kfree(th);
	*ns = div_u64(sum, n * job->a->iters);
	return ret;
}

/**
 * altdma_bench_map() - map+unmap through the device's current DMA ops
 * @a: dev, size, off, threads, iters, bufs, untrusted
 * @out: result text ("ns=N")
 * @len: size of @out
 *
 * With @a->untrusted the device is marked untrusted for the run only, so
 * the kernel's dma-iommu bounces unaligned buffers through swiotlb.
 *
 * Context: process context, may sleep; the caller serialises commands.
 * Return: 0 or a negative errno (a mapping failed, or no memory).
 */
int altdma_bench_map(const struct altdma_bench_args *a, char *out, size_t len)
{
	struct pci_dev *pdev = to_pci_dev(a->dev);
	struct bench_job job = { .a = a, .one = map_one };
	bool was = pdev->untrusted;
	u64 ns = 0;
	int ret;

	if (a->untrusted)
		pdev->untrusted = 1;
	ret = run_job(&job, &ns);
	pdev->untrusted = was;
	scnprintf(out, len, "ns=%llu\n", ns);
	return ret;
}

/**
 * altdma_bench_floor() - bare page-table work on an unmanaged domain
 * @a: dev (unbound, on its default domain), size, threads, iters, bufs
 * @out: result text ("ns=N")
 * @len: size of @out
 *
 * Each iteration takes the next IOVA of a bump allocator, maps the buffer
 * with iommu_map_atomic(), unmaps it with iommu_unmap_fast() and syncs the
 * IOTLB: what any strict DMA layer has to do, and nothing else.
 *
 * Context: process context, may sleep; the caller serialises commands.
 * Return: 0 or a negative errno.
 */
int altdma_bench_floor(const struct altdma_bench_args *a, char *out,
		       size_t len)
{
	struct bench_job job = { .a = a, .one = floor_one };
	u64 ns = 0;
	int ret;

	if (a->dev->driver || a->size > FLOOR_WINDOW / 2)
		return -EBUSY;
	job.domain = iommu_domain_alloc(a->dev->bus);
	if (!job.domain)
		return -ENODEV;
	ret = iommu_attach_device(job.domain, a->dev);
	if (!ret) {
		ret = run_job(&job, &ns);
		iommu_detach_device(job.domain, a->dev);
	}
	iommu_domain_free(job.domain);
	scnprintf(out, len, "ns=%llu\n", ns);
	return ret;
}
