// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark (b): altdma's IOVA allocator against the kernel's
 * (init_iova_domain, alloc_iova_fast, free_iova_fast), alone.
 *
 * Both are driven the way a DMA layer drives them: an allocation first
 * tries below 4 GiB, then anywhere in a 48-bit space (dma-iommu's order,
 * and its flush_rcache arguments for the kernel).
 */

#include <linux/dma-mapping.h>
#include <linux/iova.h>
#include <linux/preempt.h>
#include <linux/prandom.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <linux/timex.h>
#include <linux/vmalloc.h>

#include "../iova_alloc.h"
#include "bench.h"

#define LIMIT32	(DMA_BIT_MASK(32) >> PAGE_SHIFT)
#define LIMIT48	(DMA_BIT_MASK(48) >> PAGE_SHIFT)

/* One allocator under test: the kernel's or altdma's, cached or not. */
struct bench_iova {
	bool kernel;
	bool nocache;
	struct iova_domain k;
	struct altdma_iova_domain a;
};

static int biova_init(struct bench_iova *b, bool kernel, bool nocache,
		      unsigned long start_pfn)
{
	struct altdma_iova_config cfg = {
		.name = "bench",
		.granule = PAGE_SIZE,
		.start = (dma_addr_t)start_pfn << PAGE_SHIFT,
		.end = DMA_BIT_MASK(48),
		.nocache = nocache,
	};
	int ret;

	b->kernel = kernel;
	b->nocache = nocache;
	if (!kernel)
		return altdma_iova_domain_init(&b->a, &cfg);
	ret = iova_cache_get();
	if (ret)
		return ret;
	init_iova_domain(&b->k, PAGE_SIZE, start_pfn);
	ret = iova_domain_init_rcaches(&b->k);
	if (ret) {
		put_iova_domain(&b->k);
		iova_cache_put();
	}
	return ret;
}

static void biova_destroy(struct bench_iova *b)
{
	if (!b->kernel) {
		altdma_iova_domain_destroy(&b->a);
		return;
	}
	put_iova_domain(&b->k);
	iova_cache_put();
}

/* The kernel's tree alone: alloc_iova() and free_iova(), no rcache. */
static unsigned long kernel_alloc_nocache(struct iova_domain *k,
					  unsigned long npages)
{
	struct iova *iova = alloc_iova(k, npages, LIMIT32, true);

	if (!iova)
		iova = alloc_iova(k, npages, LIMIT48, true);
	return iova ? iova->pfn_lo : 0;
}

static unsigned long biova_alloc(struct bench_iova *b, unsigned long npages)
{
	unsigned long pfn;

	if (!b->kernel) {
		pfn = altdma_iova_alloc(&b->a, npages, LIMIT32, GFP_ATOMIC);
		return pfn ?: altdma_iova_alloc(&b->a, npages, LIMIT48,
						GFP_ATOMIC);
	}
	if (b->nocache)
		return kernel_alloc_nocache(&b->k, npages);
	pfn = alloc_iova_fast(&b->k, npages, LIMIT32, false);
	return pfn ?: alloc_iova_fast(&b->k, npages, LIMIT48, true);
}

static void biova_free(struct bench_iova *b, unsigned long pfn,
		       unsigned long npages)
{
	if (b->kernel && b->nocache)
		free_iova(&b->k, pfn);
	else if (b->kernel)
		free_iova_fast(&b->k, pfn, npages);
	else
		altdma_iova_free(&b->a, pfn, npages);
}

/**
 * altdma_bench_iova_fast() - the allocators' cached fast path, or their trees
 * @a: kernel, npages, iters; nocache and nfill for the trees alone
 * @out: result text ("ns=N" per allocation+free pair)
 * @len: size of @out
 *
 * Each iteration allocates 16 ranges of @a->npages, then frees them; one
 * unmeasured round first fills the per-CPU caches. With @a->nocache every
 * allocation and free goes through the tree (the kernel's alloc_iova() and
 * free_iova()), with @a->nfill single pages kept allocated below the
 * 32-bit line all along so that the tree has that many ranges. The thread
 * stays on one CPU throughout (both allocators' caches are per CPU: a
 * migration would leave the next allocations an empty cache on one side
 * or the other, by chance).
 *
 * Context: process context, may sleep; the caller serialises commands.
 * Return: 0, or a negative errno if an allocation failed.
 */
int altdma_bench_iova_fast(const struct altdma_bench_args *a, char *out,
			   size_t len)
{
	struct bench_iova *b;
	unsigned long pfn[16];
	unsigned int i, j;
	u64 t0 = 0, ns;
	int ret;

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	ret = biova_init(b, a->kernel, a->nocache, 1);
	if (ret)
		goto out_free;
	migrate_disable();
	for (i = 0; a->nocache && i < a->nfill && !ret; i++)
		if (!biova_alloc(b, 1))
			ret = -ENOSPC;
	for (i = 0; i <= a->iters && !ret; i++) {
		if (i == 1)
			t0 = ktime_get_ns();
		for (j = 0; j < ARRAY_SIZE(pfn); j++) {
			pfn[j] = biova_alloc(b, a->npages);
			if (!pfn[j])
				ret = -ENOSPC;
		}
		for (j = 0; j < ARRAY_SIZE(pfn); j++)
			if (pfn[j])
				biova_free(b, pfn[j], a->npages);
		cond_resched();
	}
	ns = ktime_get_ns() - t0;
	migrate_enable();
	scnprintf(out, len, "ns=%llu\n",
		  div_u64(ns, a->iters * ARRAY_SIZE(pfn)));
	biova_destroy(b);
out_free:
	kfree(b);
	return ret;
}

static int cmp_u32(const void *x, const void *y)
{
	u32 p = *(const u32 *)x, q = *(const u32 *)y;

	return p < q ? -1 : p > q;
}

/*
 * The fragmented case's state: live ranges, and the cycles of each alloc
 * with the loop's own length in cycles and in ns, which converts them.
 */
struct frag_state {
	struct bench_iova b;
	unsigned long *live;
	unsigned long nlive;
	u32 *cyc;
	unsigned long nns;
	u64 loop_cyc;
	u64 loop_ns;
	struct rnd_state rnd;
};

/*
 * One timed allocation of a single page, kept live. It is timed with the
 * cycle counter: the guest's clocksource under TCG is the emulated HPET,
 * and its two reads added 200-260 ns to each side's average (about a
 * fifth of it; `bench.sh --perf frag`, 2026-12-06), pulling every ratio
 * towards 1. Both reads are on one CPU: the caller keeps the thread on
 * it (migrate_disable()).
 */
static int frag_alloc(struct frag_state *s)
{
	unsigned long pfn;
	cycles_t c0;

	c0 = get_cycles();
	pfn = biova_alloc(&s->b, 1);
	s->cyc[s->nns++] = min_t(u64, get_cycles() - c0, U32_MAX);
	if (!pfn)
		return -ENOSPC;
	s->live[s->nlive++] = pfn;
	return 0;
}

static void frag_free_random(struct frag_state *s)
{
	unsigned long i = prandom_u32_state(&s->rnd) % s->nlive;

	biova_free(&s->b, s->live[i], 1);
	s->live[i] = s->live[--s->nlive];
}

/* Fill the 32-bit space, then "free one at random, allocate two". */
static int frag_run(struct frag_state *s, const struct altdma_bench_args *a,
		    unsigned long *filled, unsigned int *done)
{
	u64 end, t0, c0;
	int ret = 0;

	while (s->nlive < a->nfill) {
		s->nns = 0;
		if (frag_alloc(s))
			return -ENOSPC;
		if (s->live[s->nlive - 1] > LIMIT32) {
			/* the 32-bit space is full: keep the range, stop */
			break;
		}
		if (!(s->nlive & 1023))
			cond_resched();
	}
	*filled = s->nlive;
	s->nns = 0;
	t0 = ktime_get_ns();
	c0 = get_cycles();
	end = t0 + (u64)a->budget_ms * NSEC_PER_MSEC;
	for (*done = 0; *done < a->iters && !ret; (*done)++) {
		if (ktime_get_ns() > end)
			break;
		frag_free_random(s);
		ret = frag_alloc(s) ?: frag_alloc(s);
		if (!(*done & 63))
			cond_resched();
	}
	s->loop_cyc = get_cycles() - c0;
	s->loop_ns = ktime_get_ns() - t0;
	return ret;
}

/* @cyc cycles in ns, at the rate the loop measured */
static u64 frag_ns(const struct frag_state *s, u64 cyc)
{
	if (!s->loop_cyc)
		return 0;
	return mul_u64_u64_div_u64(cyc, s->loop_ns, s->loop_cyc);
}

/**
 * altdma_bench_iova_frag() - allocation cost with the 32-bit space full
 * @a: kernel, nocache, nfill, iters, budget_ms, seed
 * @out: result text: ranges filled, iterations done, allocations timed,
 *	and their average, median, p90, p99, p99.9 and largest ns
 * @len: size of @out
 *
 * The space below 4 GiB is made exactly @a->nfill pages (the domain starts
 * there) and filled with single-page ranges; then each iteration frees one
 * live range at random and allocates two. Every allocation is timed, in
 * cycles converted to ns at the rate of the whole loop (frag_alloc()). The
 * loop stops after @a->iters iterations or @a->budget_ms, whichever first.
 * The thread stays on one CPU throughout, as in altdma_bench_iova_fast().
 * With @a->nocache the trees work alone: the kernel's alloc_iova() and
 * free_iova(), altdma's domain without its per-CPU caches.
 *
 * Context: process context, may sleep; the caller serialises commands.
 * Return: 0 or a negative errno.
 */
int altdma_bench_iova_frag(const struct altdma_bench_args *a, char *out,
			   size_t len)
{
	unsigned long filled = 0, cap = a->nfill + 2 * a->iters + 2;
	unsigned int done = 0;
	struct frag_state *s;
	u64 sum = 0, i;
	int ret = -ENOMEM;

	if (a->nfill >= LIMIT32)
		return -EINVAL;
	s = vzalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->live = vmalloc(array_size(cap, sizeof(*s->live)));
	s->cyc = vmalloc(array_size(2 * a->iters + 2, sizeof(*s->cyc)));
	if (!s->live || !s->cyc)
		goto out;
	prandom_seed_state(&s->rnd, a->seed);
	ret = biova_init(&s->b, a->kernel, a->nocache,
			 LIMIT32 + 1 - a->nfill);
	if (ret)
		goto out;
	migrate_disable();
	ret = frag_run(s, a, &filled, &done);
	migrate_enable();
	biova_destroy(&s->b);
	for (i = 0; i < s->nns; i++)
		sum += s->cyc[i];
	sort(s->cyc, s->nns, sizeof(*s->cyc), cmp_u32, NULL);
	if (s->nns)
		scnprintf(out, len,
			  "filled=%lu iters=%u allocs=%lu avg_ns=%llu p50_ns=%llu p90_ns=%llu p99_ns=%llu p999_ns=%llu max_ns=%llu\n",
			  filled, done, s->nns,
			  frag_ns(s, div_u64(sum, s->nns)),
			  frag_ns(s, s->cyc[s->nns / 2]),
			  frag_ns(s, s->cyc[s->nns * 9 / 10]),
			  frag_ns(s, s->cyc[s->nns * 99 / 100]),
			  frag_ns(s, s->cyc[s->nns * 999 / 1000]),
			  frag_ns(s, s->cyc[s->nns - 1]));
	else
		scnprintf(out, len, "filled=%lu iters=0 allocs=0\n", filled);
out:
	vfree(s->cyc);
	vfree(s->live);
	vfree(s);
	return ret;
}
