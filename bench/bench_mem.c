// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark (e): memory of one DMA domain's caches, magazines, flush
 * queues and bounce pool: altdma's counted from what is allocated, the
 * kernel's computed from Linux 6.1's structures.
 *
 * altdma: the context and IOVA domain (ksize() of the allocation, and of
 * the IOVA domain's depots), the
 * per-CPU cache heads, counters and flush queues (size x possible CPUs),
 * every magazine present in the per-CPU caches and the depots (walked under
 * their locks), the bounce pool if the device has one.
 *
 * The kernel (6.1 drivers/iommu/iova.c and dma-iommu.c, x86-64, no lock
 * debugging): the domain's struct iommu_dma_cookie (its 6.1 layout is
 * mirrored below from public types, so the compiler sizes it for this
 * kernel; kmalloc's bucket of that size), which holds the struct
 * iova_domain; iova_domain_init_rcaches() allocates 6 struct iova_rcache
 * (280 bytes each, one kcalloc of 1680 bytes: a 2 KiB slab object), a
 * 24-byte struct iova_cpu_rcache per class and possible CPU, and two
 * 1024-byte magazines (loaded and prev) per class and possible CPU up
 * front; a lazy domain adds a per-CPU struct iova_fq of 256 entries of 40
 * bytes plus 12. Magazines parked in the kernel's depot (up to 32 per
 * class) cannot be seen from a module and are not counted: the kernel's
 * figure is a lower bound.
 */

#include <linux/cpumask.h>
#include <linux/iova.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/timer.h>
#include <linux/spinlock.h>

#include "../dma_iommu_ops.h"
#include "bench.h"

#define K_CLASSES	6
#define K_RCACHES	2048
#define K_CPU_RCACHE	24
#define K_MAG		1024
#define K_FQ		(256 * 40 + 12)

/* The layout of Linux 6.1's struct iommu_dma_cookie (dma-iommu.c). */
struct k61_dma_cookie {
	int type;
	union {
		struct {
			struct iova_domain iovad;
			void __percpu *fq;
			atomic64_t fq_flush_start_cnt;
			atomic64_t fq_flush_finish_cnt;
			struct timer_list fq_timer;
			atomic_t fq_timer_on;
		};
		dma_addr_t msi_iova;
	};
	struct list_head msi_page_list;
	void *fq_domain;
	/* only sized here, never taken */
	struct mutex mutex;
};

/* Magazines held by the per-CPU caches and the depots of @iovad. */
static unsigned long count_mags(struct altdma_iova_domain *iovad)
{
	struct altdma_iova_cpu_cache *cc;
	unsigned long n = 0, flags;
	unsigned int c;
	int cpu;

	for_each_possible_cpu(cpu) {
		cc = per_cpu_ptr(iovad->cpu_caches, cpu);
		for (c = 0; c < altdma_iova_nr_caches(iovad); c++) {
			spin_lock_irqsave(&cc[c].lock, flags);
			n += !!cc[c].loaded + !!cc[c].prev;
			spin_unlock_irqrestore(&cc[c].lock, flags);
		}
	}
	for (c = 0; c < altdma_iova_nr_caches(iovad); c++) {
		spin_lock_irqsave(&iovad->depots[c].lock, flags);
		n += iovad->depots[c].count;
		spin_unlock_irqrestore(&iovad->depots[c].lock, flags);
	}
	return n;
}

/**
 * altdma_bench_mem() - per-domain memory, altdma's and the kernel's
 * @a: dev, attached to altdma
 * @out: result text: cpus, altdma's bytes by part and in total, the
 *	kernel's lower bound for a lazy and a strict domain
 * @len: size of @out
 *
 * Context: process context; the device's context must stay attached for
 * the call (the caller serialises commands; nothing detaches meanwhile).
 * Return: 0, or -ENODEV if @a->dev is not attached to altdma.
 */
int altdma_bench_mem(const struct altdma_bench_args *a, char *out, size_t len)
{
	struct altdma_dev *adev = altdma_dev_find(a->dev);
	unsigned long ncpu = num_possible_cpus(), ctx, pcpu, fq, mags, pool;
	unsigned long k_ctx, k_strict, k_fq;

	if (!adev)
		return -ENODEV;
	/* the depots are allocated with the caches (ksize(NULL) is 0) */
	ctx = ksize(adev) + ksize(adev->iovad.depots);
	pcpu = ncpu * (sizeof(struct altdma_iova_cpu_cache) *
		       altdma_iova_nr_caches(&adev->iovad) +
		       sizeof(struct altdma_iova_pcpu_stats));
	fq = adev->fq ? ncpu * sizeof(struct altdma_fq) : 0;
	mags = count_mags(&adev->iovad);
	pool = adev->pool ? adev->pool->size : 0;
	k_ctx = kmalloc_size_roundup(sizeof(struct k61_dma_cookie));
	k_strict = k_ctx + K_RCACHES +
		   ncpu * K_CLASSES * (K_CPU_RCACHE + 2 * K_MAG);
	k_fq = ncpu * K_FQ;
	scnprintf(out, len,
		  "cpus=%lu altdma_ctx=%lu altdma_pcpu=%lu altdma_fq=%lu altdma_mags=%lu altdma_mag_bytes=%lu altdma_pool=%lu altdma_total=%lu kernel_ctx=%lu kernel_rcache=%lu kernel_fq=%lu kernel_total=%lu\n",
		  ncpu, ctx, pcpu, fq, mags, mags * sizeof(struct altdma_iova_mag),
		  pool, ctx + pcpu + fq + mags * sizeof(struct altdma_iova_mag) +
		  pool, k_ctx, k_strict - k_ctx, adev->fq ? k_fq : 0,
		  k_strict + (adev->fq ? k_fq : 0));
	return 0;
}
